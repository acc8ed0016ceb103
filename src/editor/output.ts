/** The editor text commands act on and where their output goes. */
import * as vscode from 'vscode';
import type { OutputMode } from '../settings';

/** The active editor, or a warning when there is none. */
export function requireEditor(what: string): vscode.TextEditor | undefined {
  const editor = vscode.window.activeTextEditor;
  if (!editor) void vscode.window.showWarningMessage(`Local LM Lens: open a file to ${what}.`);
  return editor;
}

/** The selection, or the whole document when nothing is selected. */
export function selectedOrAll(editor: vscode.TextEditor): { text: string; range: vscode.Range } {
  const doc = editor.document;
  const range = editor.selection.isEmpty ? new vscode.Range(doc.positionAt(0), doc.positionAt(doc.getText().length)) : editor.selection;
  return { text: doc.getText(range), range };
}

/** The active editor's selection, when there is a non-empty one. */
export function activeSelection(): { editor: vscode.TextEditor | undefined; selection: string | undefined } {
  const editor = vscode.window.activeTextEditor;
  return { editor, selection: editor && !editor.selection.isEmpty ? editor.document.getText(editor.selection) : undefined };
}

/** A panel title for a text: its first line, shortened. */
export function titleOf(text: string): string {
  const line = text.trim().split('\n')[0] ?? '';
  return line.length > 40 ? `${line.slice(0, 40)}…` : line;
}

/**
 * Replaces `range` with `text`, or inserts it after the range, separated by a blank line. Returns
 * the range written. The caret ends after the output with nothing selected: a selection left on the
 * output would make the next command (Show Attention, Inspect Token Probabilities) act on the
 * model's own text instead of the user's.
 */
export async function placeOutput(editor: vscode.TextEditor, range: vscode.Range, text: string, mode: OutputMode): Promise<vscode.Range | undefined> {
  const doc = editor.document;
  let start: vscode.Position;
  let ok: boolean;
  if (mode === 'replace') {
    start = range.start;
    ok = await editor.edit((e) => e.replace(range, text));
  } else {
    const end = doc.lineAt(range.end.line).range.end;
    // Exactly one blank line before the output at least: a selection that ends with its line break (or blank lines)
    // already brings some.
    let blank = 0;
    while (blank < 2 && end.line - blank >= 0 && doc.lineAt(end.line - blank).isEmptyOrWhitespace) blank++;
    const breaks = blank >= 2 ? '' : blank === 1 ? '\n' : '\n\n';
    ok = await editor.edit((e) => e.insert(end, `${breaks}${text}`));
    start = breaks ? new vscode.Position(end.line + breaks.length, 0) : end;
  }
  if (!ok) return undefined;
  const endPos = doc.positionAt(doc.offsetAt(start) + text.length);
  editor.selection = new vscode.Selection(endPos, endPos);
  editor.revealRange(new vscode.Range(start, endPos));
  return new vscode.Range(start, endPos);
}

/** Warns that the model read only the beginning of the text (`GenerateResult.inputTruncated`). */
export function warnTruncated(model: string, truncated: { readonly tokens: number; readonly kept: number }, outcome: string): void {
  void vscode.window.showWarningMessage(`Local LM Lens: the text is ${truncated.tokens} tokens long and "${model}" reads at most ${truncated.kept}: ${outcome}`);
}
