/** Pick a model for a role from the bundled, configured and recently used ones, a folder, or a Hub id. */
import * as vscode from 'vscode';
import { MODEL_ROLES, setModel, type ModelRole } from '../config';
import type { Ctx } from '../context';

export interface PickModelArgs {
  readonly role?: ModelRole;
  /** Set this source without asking. */
  readonly source?: string;
  /** Load the model right away (default true when picked interactively). */
  readonly load?: boolean;
}

interface SourceItem extends vscode.QuickPickItem {
  readonly source?: string;
  readonly action?: 'folder' | 'hub';
}

export async function pickModel(ctx: Ctx, args: PickModelArgs = {}): Promise<string | undefined> {
  const role = args.role ?? (await pickRole(ctx));
  if (!role) return undefined;
  const source = args.source ?? (await pickSource(ctx, role));
  if (!source) return undefined;
  await setModel(role, source);
  await ctx.rememberModel(source);
  ctx.log.info(`Model for ${role}: ${source}`);
  if (args.load ?? args.source === undefined) {
    try {
      await ctx.load(ctx.spec(role, { source }));
    } catch (err) {
      ctx.reportError(err, `Loading ${source}`);
    }
  }
  return source;
}

async function pickRole(ctx: Ctx): Promise<ModelRole | undefined> {
  const pick = await vscode.window.showQuickPick(
    MODEL_ROLES.map((role) => ({ label: role[0]!.toUpperCase() + role.slice(1), description: ctx.config.models[role], role })),
    { title: 'Pick a model for…' },
  );
  return pick?.role;
}

async function pickSource(ctx: Ctx, role: ModelRole): Promise<string | undefined> {
  const current = ctx.config.models[role];
  const seen = new Set<string>();
  const items: SourceItem[] = [];
  const group = (label: string, sources: readonly string[], detail: string): void => {
    const fresh = [...new Set(sources)].filter((s) => !seen.has(s));
    if (!fresh.length) return;
    items.push({ label, kind: vscode.QuickPickItemKind.Separator });
    for (const s of fresh) {
      seen.add(s);
      items.push({ label: s, description: s === current ? `${detail} · current` : detail, source: s });
    }
  };
  group('Bundled', ctx.bundledModels(), 'bundled, works offline');
  group('Configured', MODEL_ROLES.map((r) => ctx.config.models[r]), 'configured');
  group('Recent', ctx.recentModels(), 'recent');
  items.push({ label: 'Other', kind: vscode.QuickPickItemKind.Separator });
  items.push({ label: '$(folder-opened) Choose a model folder…', action: 'folder' });
  items.push({ label: '$(cloud-download) Enter a Hugging Face Hub id…', action: 'hub' });
  const pick = await vscode.window.showQuickPick(items, { title: `Model for ${role}`, placeHolder: current, matchOnDescription: true });
  if (!pick) return undefined;
  if (pick.source) return pick.source;
  if (pick.action === 'folder') {
    const uri = await vscode.window.showOpenDialog({ canSelectFolders: true, canSelectFiles: false, openLabel: 'Use this model folder' });
    return uri?.[0]?.fsPath;
  }
  return vscode.window.showInputBox({
    title: 'Hugging Face Hub model id',
    placeHolder: 'Xenova/distilgpt2',
    validateInput: (v) => (/^[\w.-]+\/[\w.-]+$/.test(v.trim()) ? undefined : 'An id looks like owner/name'),
  });
}
