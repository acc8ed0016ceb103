/**
 * The one place that reads `workspace.getConfiguration` for the `lmLens.*` settings: the typed
 * snapshot (see settings.ts for defaults, clamping and workspace trust), the per-document inline
 * switch, and the writes the commands make.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { parseConfig, SECTION, type Config, type ModelRole } from './settings';
import type { DtypeChoice } from './inference/protocol';

export { MODEL_ROLES, SECTION, type Config, type ModelRole, type OutputMode } from './settings';

export function readConfig(): Config {
  return parseConfig(vscode.workspace.getConfiguration(SECTION), vscode.workspace.isTrusted);
}

/** Whether ghost text is wanted in this document: the editor's own switch and ours, per language. */
export function inlineEnabled(document: vscode.TextDocument): boolean {
  const scope = { uri: document.uri, languageId: document.languageId };
  if (!vscode.workspace.getConfiguration('editor', scope).get<boolean>('inlineSuggest.enabled', true)) return false;
  return vscode.workspace.getConfiguration(SECTION, scope).get<boolean>('inline.enabled', true);
}

/**
 * Turns a configured model source into what the engine takes: `~` expanded, a relative path
 * (`./x`, `../x`) resolved against the first workspace folder; bundled names and Hub ids unchanged.
 */
export function resolveModelSource(source: string): string {
  if (source === '~' || source.startsWith('~/')) return path.join(os.homedir(), source.slice(1));
  if (source.startsWith('./') || source.startsWith('../')) {
    const folder = vscode.workspace.workspaceFolders?.[0];
    if (folder && vscode.workspace.isTrusted) return path.resolve(folder.uri.fsPath, source);
  }
  return source;
}

/** Writes the model for a role to the user's settings (so it also applies in untrusted workspaces). */
export async function setModel(role: ModelRole, source: string): Promise<void> {
  await vscode.workspace.getConfiguration(SECTION).update(`models.${role}`, source, vscode.ConfigurationTarget.Global);
}

/** Writes the dtype setting (for every model) to the user's settings. */
export async function setDtype(dtype: DtypeChoice): Promise<void> {
  await vscode.workspace.getConfiguration(SECTION).update('dtype', dtype, vscode.ConfigurationTarget.Global);
}

/** The inline switch without a document (what the toggle command flips). */
export function inlineSetting(): boolean {
  return vscode.workspace.getConfiguration(SECTION).get<boolean>('inline.enabled', true);
}

export async function setInlineEnabled(enabled: boolean): Promise<void> {
  await vscode.workspace.getConfiguration(SECTION).update('inline.enabled', enabled, vscode.ConfigurationTarget.Global);
}

export function affects(e: vscode.ConfigurationChangeEvent, key?: string): boolean {
  return e.affectsConfiguration(key ? `${SECTION}.${key}` : SECTION);
}

export function openSettings(query = SECTION): Thenable<unknown> {
  return vscode.commands.executeCommand('workbench.action.openSettings', query);
}
