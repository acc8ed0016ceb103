/** Generate from a prompt: asks for one, opens a new document with it and streams the continuation there. */
import * as vscode from 'vscode';
import type { Ctx } from '../context';
import { streamIntoEditor } from '../editor/editorStream';
import type { DecodingOptions } from '../inference/protocol';
import { decodingFor } from '../settings';
import { promptLanguage } from '../editor/promptLanguage';

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
  const model = ctx.spec('completion', { source: args.model });
  // In the prompt's language (a prompt of code is highlighted as that code).
  const doc = await vscode.workspace.openTextDocument({ content: prompt, language: promptLanguage(prompt) });
  const editor = await vscode.window.showTextDocument(doc, { preview: false });
  const text = await streamIntoEditor(ctx, editor, prompt.length, { model, prompt, truncatePrompt: true, task: { kind: 'generate' }, options: decodingFor(ctx.config, args.options) }, {
    activity: 'Generating',
    progress: 'Local LM Lens: generating…',
    title: 'Generation',
    command: 'Generate',
  });
  // The document is read from its start: the prompt, then what was generated.
  editor.revealRange(new vscode.Range(0, 0, 0, 0), vscode.TextEditorRevealType.AtTop);
  return text;
}
