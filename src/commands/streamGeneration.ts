/** Runs one generation of the completion model and streams it into an editor: shared by continue and generate. */
import * as vscode from 'vscode';
import type { Ctx } from '../context';
import { isCancelled } from '../inference/errors';
import type { GenerateRequest, GenerateResult, ModelInfo } from '../inference/protocol';
import { withCancellableProgress } from './common';
import { EditorStream } from './editorStream';

export interface StreamLabels {
  /** Shown while the command holds the generation slot ("Continuing at the cursor"). */
  readonly activity: string;
  /** Progress notification title. */
  readonly progress: string;
  /** Kept with the last generation and in the log ("Continuation"). */
  readonly title: string;
  /** Names the command in error messages ("Continue"). */
  readonly command: string;
}

/** Returns the inserted text (partial when stopped), or undefined when nothing was generated. */
export async function streamGeneration(ctx: Ctx, editor: vscode.TextEditor, offset: number, request: GenerateRequest, labels: StreamLabels): Promise<string | undefined> {
  const stream = new EditorStream(editor, offset);
  let streamed = '';
  try {
    const info = await ctx.load(request.model);
    const result = await ctx.exclusive('command', labels.activity, (lease) =>
      withCancellableProgress(ctx, labels.progress, () =>
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
    remember(ctx, labels.title, request, result, info);
    if (!stream.ok) void vscode.window.showWarningMessage('Local LM Lens: the editor changed while text was streaming; the generation stopped.');
    return result.text;
  } catch (err) {
    await stream.finish();
    ctx.reportError(err, labels.command);
    return isCancelled(err) ? streamed : undefined;
  }
}

export function remember(ctx: Ctx, title: string, request: GenerateRequest, result: GenerateResult, info: ModelInfo): void {
  ctx.lastGeneration = { title, request, result, info };
  ctx.log.info(
    `${title}: ${result.tokens.length} tokens on ${result.device}, ${result.timings.tokens_per_s.toFixed(1)} tok/s, first token ${result.timings.first_token_ms.toFixed(0)} ms, ${result.finishReason}.`,
  );
}
