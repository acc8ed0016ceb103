/** Continue text at the cursor: the completion model's output streams into the editor as one undo step. */
import * as vscode from 'vscode';
import type { Ctx } from '../context';
import { isCancelled } from '../inference/errors';
import type { GenerateRequest, GenerateResult, ModelInfo } from '../inference/protocol';
import { decoding, requireEditor, withCancellableProgress } from './common';
import { EditorStream } from './editorStream';

export interface ContinueArgs {
  readonly maxNewTokens?: number;
  /** A model source instead of `lmLens.models.completion`. */
  readonly model?: string;
}

/** Returns the inserted text (partial when stopped), or undefined when nothing was generated. */
export async function continueAtCursor(ctx: Ctx, args: ContinueArgs = {}): Promise<string | undefined> {
  const editor = requireEditor('continue text');
  if (!editor) return undefined;
  const doc = editor.document;
  const offset = doc.offsetAt(editor.selection.active);
  const all = doc.getText();
  const window = ctx.config.inline.contextChars * 4;
  const spec = ctx.spec('completion', { source: args.model });
  const request: GenerateRequest = {
    model: spec,
    prompt: all.slice(Math.max(0, offset - window), offset),
    suffix: all.slice(offset, offset + window),
    truncatePrompt: true,
    task: { kind: 'generate' },
    options: decoding(ctx, args.maxNewTokens ? { maxNewTokens: args.maxNewTokens } : {}),
  };
  const stream = new EditorStream(editor, offset);
  let streamed = '';
  try {
    const info = await ctx.load(spec);
    const result = await ctx.exclusive('command', 'Continuing at the cursor', (lease) =>
      withCancellableProgress(ctx, 'Local LM Lens: continuing…', () =>
        ctx.generate(request, {
          signal: lease.signal,
          onToken: (_token, text) => {
            streamed = text;
            stream.update(text);
          },
        }),
      ),
    );
    if (!result) return undefined;
    await stream.finish(result.text);
    remember(ctx, 'Continuation', request, result, info);
    if (!stream.ok) void vscode.window.showWarningMessage('Local LM Lens: the editor changed while text was streaming; the continuation stopped.');
    return result.text;
  } catch (err) {
    await stream.finish();
    ctx.reportError(err, 'Continue');
    return isCancelled(err) ? streamed : undefined;
  }
}

export function remember(ctx: Ctx, title: string, request: GenerateRequest, result: GenerateResult, info: ModelInfo): void {
  ctx.lastGeneration = { title, request, result, info };
  ctx.log.info(
    `${title}: ${result.tokens.length} tokens on ${result.device}, ${result.timings.tokens_per_s.toFixed(1)} tok/s, first token ${result.timings.first_token_ms.toFixed(0)} ms, ${result.finishReason}.`,
  );
}
