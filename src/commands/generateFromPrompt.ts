/** Generate from a prompt: asks for one, opens a new document with it and streams the continuation there. */
import * as vscode from 'vscode';
import type { Ctx } from '../context';
import { isCancelled } from '../inference/errors';
import type { DecodingOptions, GenerateRequest } from '../inference/protocol';
import { decoding, withCancellableProgress } from './common';
import { remember } from './continueAtCursor';
import { EditorStream } from './editorStream';

export interface GenerateArgs {
  readonly prompt?: string;
  readonly model?: string;
  readonly options?: DecodingOptions;
}

export async function generateFromPrompt(ctx: Ctx, args: GenerateArgs = {}): Promise<string | undefined> {
  const prompt =
    args.prompt ??
    (await vscode.window.showInputBox({ title: 'Generate from a prompt', prompt: 'The completion model continues this text', placeHolder: 'Once upon a time' }));
  if (!prompt) return undefined;
  const spec = ctx.spec('completion', { source: args.model });
  const request: GenerateRequest = { model: spec, prompt, truncatePrompt: true, task: { kind: 'generate' }, options: decoding(ctx, args.options) };
  const doc = await vscode.workspace.openTextDocument({ content: prompt, language: 'plaintext' });
  const editor = await vscode.window.showTextDocument(doc, { preview: false });
  const stream = new EditorStream(editor, prompt.length);
  let streamed = '';
  try {
    const info = await ctx.load(spec);
    const result = await ctx.exclusive('command', 'Generating', (lease) =>
      withCancellableProgress(ctx, 'Local LM Lens: generating…', () =>
        ctx.generate(request, {
          signal: lease.signal,
          onToken: (_t, text) => {
            streamed = text;
            stream.update(text);
          },
        }),
      ),
    );
    if (!result) return undefined;
    await stream.finish(result.text);
    remember(ctx, 'Generation', request, result, info);
    return result.text;
  } catch (err) {
    await stream.finish();
    ctx.reportError(err, 'Generate');
    return isCancelled(err) ? streamed : undefined;
  }
}
