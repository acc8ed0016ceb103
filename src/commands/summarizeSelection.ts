/** Summarize the selection (or the document) with the summarization model; replace or insert below. */
import * as vscode from 'vscode';
import type { OutputMode } from '../config';
import type { Ctx } from '../context';
import type { GenerateRequest } from '../inference/protocol';
import { taskDecoding, placeOutput, requireEditor, selectedOrAll, truncationWarning, withCancellableProgress } from './common';
import { remember } from './streamGeneration';

export interface SummarizeArgs {
  readonly mode?: OutputMode;
  readonly model?: string;
  /** Text to summarize instead of the selection (the result is then only returned). */
  readonly text?: string;
}

export async function summarizeSelection(ctx: Ctx, args: SummarizeArgs = {}): Promise<string | undefined> {
  const editor = args.text === undefined ? requireEditor('summarize text') : undefined;
  if (args.text === undefined && !editor) return undefined;
  const target = editor ? selectedOrAll(editor) : undefined;
  const text = args.text ?? target!.text;
  if (!text.trim()) return undefined;
  const spec = ctx.spec('summarization', { source: args.model });
  const request: GenerateRequest = { model: spec, prompt: text, truncatePrompt: true, task: { kind: 'summarize' }, options: taskDecoding(ctx) };
  try {
    const info = await ctx.load(spec);
    const result = await ctx.exclusive('command', 'Summarizing', (lease) =>
      withCancellableProgress(ctx, 'Local LM Lens: summarizing…', () => ctx.generate(request, { signal: lease.signal })),
    );
    if (!result) return undefined;
    remember(ctx, 'Summary', request, result, info);
    const summary = result.text.trim();
    if (result.inputTruncated) {
      void vscode.window.showWarningMessage(truncationWarning(info.source, result.inputTruncated, 'the summary covers its beginning. Select a shorter passage to summarize the rest.'));
    }
    if (editor && target) await placeOutput(editor, target.range, summary, args.mode ?? ctx.config.summarizeOutput);
    return summary;
  } catch (err) {
    ctx.reportError(err, 'Summarize');
    return undefined;
  }
}
