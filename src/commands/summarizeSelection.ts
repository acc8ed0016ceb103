/** Summarize the selection (or the document) with the summarization model; replace or insert below. */
import type { Ctx } from '../context';
import { placeOutput, requireEditor, selectedOrAll, warnTruncated } from '../editor/output';
import { taskDecodingFor, type OutputMode } from '../settings';

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
  const request = { model: ctx.spec('summarization', { source: args.model }), prompt: text, truncatePrompt: true, task: { kind: 'summarize' }, options: taskDecodingFor(ctx.config) } as const;
  const ran = await ctx.run(request, { label: 'Summarizing', action: 'Summarize', progress: 'Local LM Lens: summarizing…', remember: 'Summary' });
  if (!ran) return undefined;
  const { result, info } = ran;
  const summary = result.text.trim();
  if (result.inputTruncated) warnTruncated(info.source, result.inputTruncated, 'the summary covers its beginning. Select a shorter passage to summarize the rest.');
  if (editor && target) await placeOutput(editor, target.range, summary, args.mode ?? ctx.config.summarizeOutput);
  return summary;
}
