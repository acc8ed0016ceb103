/** Continue text at the cursor: the completion model's output streams into the editor as one undo step. */
import type { Ctx } from '../context';
import { sureContinuation } from '../completion/confidenceCut';
import { streamIntoEditor, type StreamCut } from '../editor/editorStream';
import { requireEditor } from '../editor/output';
import { decodingFor } from '../settings';

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
  const window = ctx.config.continueContextChars;
  const request = {
    model: ctx.spec('completion', { source: args.model }),
    prompt: doc.getText().slice(Math.max(0, offset - window), offset),
    // The text after the cursor, for a model trained to fill the middle (others continue the prefix).
    suffix: doc.getText().slice(offset, offset + window),
    truncatePrompt: true,
    task: { kind: 'generate' },
    // A continuation that starts to loop stops there (the trace's finish reason says so).
    options: decodingFor(ctx.config, { stopOnRepetition: true, ...(args.maxNewTokens ? { maxNewTokens: args.maxNewTokens } : {}) }),
  } as const;
  // lmLens.continue.minConfidence: stop before the first token the model is unsure of, as inline suggestions are cut.
  const minConfidence = ctx.config.continueMinConfidence;
  const cut: StreamCut | undefined =
    minConfidence > 0
      ? {
          stopAt: (token) => token.prob < minConfidence,
          keep: (text, tokens) => {
            const sure = sureContinuation(text, tokens, minConfidence);
            if (sure.cutAt) ctx.log.info(`Continue stopped before token ${sure.cutAt.index + 1}: probability ${sure.cutAt.prob.toFixed(3)} < lmLens.continue.minConfidence ${minConfidence}.`);
            return sure.text;
          },
        }
      : undefined;
  return streamIntoEditor(ctx, editor, offset, request, { activity: 'Continuing at the cursor', progress: 'Local LM Lens: continuing…', title: 'Continuation', command: 'Continue' }, cut);
}
