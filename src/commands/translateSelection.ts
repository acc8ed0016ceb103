/** Translate the selection: pick the target language (from the model's declared tasks) and where the result goes. */
import * as vscode from 'vscode';
import type { OutputMode } from '../config';
import type { Ctx } from '../context';
import type { GenerateRequest } from '../inference/protocol';
import { taskDecoding, languageName, placeOutput, requireEditor, selectedOrAll, translationTargets, truncationWarning, withCancellableProgress } from './common';
import { remember } from './streamGeneration';

export interface TranslateArgs {
  /** Target language code (`de`, `fr`, …); asked for when absent and the model offers several. */
  readonly to?: string;
  /** Asked for when absent and `to` is absent too; otherwise `lmLens.translate.output`. */
  readonly mode?: OutputMode;
  readonly model?: string;
  /** Text to translate instead of the selection (the result is then only returned). */
  readonly text?: string;
}

export async function translateSelection(ctx: Ctx, args: TranslateArgs = {}): Promise<string | undefined> {
  const editor = args.text === undefined ? requireEditor('translate text') : undefined;
  if (args.text === undefined && !editor) return undefined;
  const target = editor ? selectedOrAll(editor) : undefined;
  const text = args.text ?? target!.text;
  if (!text.trim()) return undefined;
  const spec = ctx.spec('translation', { source: args.model });
  try {
    const info = await ctx.load(spec);
    const declared = translationTargets(info.tasks);
    let to = args.to;
    if (!to) to = declared.length === 1 ? declared[0] : await pickLanguage(declared.length ? declared : ['de', 'fr', 'es'], ctx.config.translateTarget);
    if (!to) return undefined;
    let mode = args.mode;
    if (!mode && editor) mode = args.to ? ctx.config.translateOutput : await pickMode(ctx.config.translateOutput);
    if (!mode && editor) return undefined;
    const request: GenerateRequest = { model: spec, prompt: text, truncatePrompt: true, task: { kind: 'translate', to }, options: taskDecoding(ctx) };
    const result = await ctx.exclusive('command', `Translating to ${languageName(to)}`, (lease) =>
      withCancellableProgress(ctx, `Local LM Lens: translating to ${languageName(to)}…`, () => ctx.generate(request, { signal: lease.signal })),
    );
    if (!result) return undefined;
    remember(ctx, `Translation to ${languageName(to)}`, request, result, info);
    const translation = result.text.trim();
    if (result.inputTruncated) {
      // Replacing the text with the translation of its beginning would drop the rest: insert below instead.
      const moved = mode === 'replace';
      if (moved) mode = 'insertBelow';
      const placement = moved ? 'so the translation was inserted below the text instead of replacing it. ' : '';
      void vscode.window.showWarningMessage(truncationWarning(info.source, result.inputTruncated, `only its beginning was translated, ${placement}Select shorter passages to translate the rest.`));
    }
    if (editor && target && mode) await placeOutput(editor, target.range, translation, mode);
    return translation;
  } catch (err) {
    ctx.reportError(err, 'Translate');
    return undefined;
  }
}

async function pickLanguage(codes: readonly string[], preferred: string): Promise<string | undefined> {
  const ordered = [...codes].sort((a, b) => Number(b === preferred) - Number(a === preferred));
  const pick = await vscode.window.showQuickPick(
    ordered.map((code) => ({ label: languageName(code), description: code, code })),
    { title: 'Translate to', placeHolder: 'Target language' },
  );
  return pick?.code;
}

async function pickMode(preferred: OutputMode): Promise<OutputMode | undefined> {
  const items: { label: string; mode: OutputMode }[] = [
    { label: '$(replace) Replace the selection', mode: 'replace' },
    { label: '$(insert) Insert below the selection', mode: 'insertBelow' },
  ];
  items.sort((a, b) => Number(b.mode === preferred) - Number(a.mode === preferred));
  return (await vscode.window.showQuickPick(items, { title: 'Put the translation' }))?.mode;
}
