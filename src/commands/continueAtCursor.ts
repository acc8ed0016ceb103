/** Continue text at the cursor: the completion model's output streams into the editor as one undo step. */
import type { Ctx } from '../context';
import type { GenerateRequest } from '../inference/protocol';
import { decoding, requireEditor } from './common';
import { streamGeneration } from './streamGeneration';

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
    truncatePrompt: true,
    task: { kind: 'generate' },
    options: decoding(ctx, args.maxNewTokens ? { maxNewTokens: args.maxNewTokens } : {}),
  };
  return streamGeneration(ctx, editor, offset, request, { activity: 'Continuing at the cursor', progress: 'Local LM Lens: continuing…', title: 'Continuation', command: 'Continue' });
}
