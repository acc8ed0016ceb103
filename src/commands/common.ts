/** Small pieces several commands share: the editor text they act on, decoding options, output placement. */
import * as vscode from 'vscode';
import type { OutputMode } from '../config';
import type { Ctx } from '../context';
import type { DecodingOptions, ScoreRequest, ScoreResult } from '../inference/protocol';

export { languageName, translationTargets } from './languages';

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

/** Decoding options for a causal LM: the configured defaults, then `overrides`. */
export function decoding(ctx: Ctx, overrides: DecodingOptions = {}): DecodingOptions {
  return { ...ctx.config.decoding, ...overrides };
}

/** Decoding options for a Seq2Seq task: the model's task defaults stay unless the user changed a setting. */
export function taskDecoding(ctx: Ctx, overrides: DecodingOptions = {}): DecodingOptions {
  return { topAlternatives: ctx.config.decoding.topAlternatives, ...ctx.config.decodingOverrides, ...overrides };
}

/** Replaces `range` with `text`, or inserts it on new lines after the range. Returns the range written. */
export async function placeOutput(editor: vscode.TextEditor, range: vscode.Range, text: string, mode: OutputMode): Promise<vscode.Range | undefined> {
  const doc = editor.document;
  let start: vscode.Position;
  let ok: boolean;
  if (mode === 'replace') {
    start = range.start;
    ok = await editor.edit((e) => e.replace(range, text));
  } else {
    const end = doc.lineAt(range.end.line).range.end;
    const insert = `\n\n${text}`;
    ok = await editor.edit((e) => e.insert(end, insert));
    start = new vscode.Position(end.line + 2, 0);
  }
  if (!ok) return undefined;
  const endPos = doc.positionAt(doc.offsetAt(start) + text.length);
  editor.selection = new vscode.Selection(start, endPos);
  editor.revealRange(new vscode.Range(start, endPos));
  return new vscode.Range(start, endPos);
}

/** The warning for an input of which the model read only the beginning (`GenerateResult.inputTruncated`). */
export function truncationWarning(model: string, truncated: { readonly tokens: number; readonly kept: number }, outcome: string): string {
  return `Local LM Lens: the text is ${truncated.tokens} tokens long and "${model}" reads at most ${truncated.kept}: ${outcome}`;
}

/** Runs `task` under a cancellable notification; cancelling it stops the generation. */
export async function withCancellableProgress<T>(ctx: Ctx, title: string, task: () => Promise<T>): Promise<T> {
  return await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title, cancellable: true }, (_progress, token) => {
    const sub = token.onCancellationRequested(() => ctx.gate.stop());
    return task().finally(() => sub.dispose());
  });
}

/**
 * Scores a request, shortening the text (or a Seq2Seq source) while it is longer than the model's
 * context, keeping its start (or its end: a generation is at the end of prompt + output). Returns the result and whether anything was cut.
 */
/** Scores a text, keeping only its start when it is longer than the model's context. */
export async function scoreFitting(ctx: Ctx, request: ScoreRequest, signal: AbortSignal): Promise<{ result: ScoreResult; truncated: boolean }> {
  const result = await ctx.score({ ...request, truncate: true }, { signal });
  return { result, truncated: result.truncated };
}
