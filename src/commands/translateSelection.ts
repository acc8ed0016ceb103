/** Translate the selection: pick the target language (from the model's declared tasks); the result goes where `lmLens.translate.output` says. */
import * as vscode from 'vscode';
import type { Ctx } from '../context';
import { placeOutput, requireEditor, selectedOrAll, warnTruncated } from '../editor/output';
import { languageName, translationTargets } from '../inference/protocol';
import { taskDecodingFor, type OutputMode } from '../settings';

export interface TranslateArgs {
  /** Target language code (`de`, `fr`, …); asked for when absent and the model offers several. */
  readonly to?: string;
  /** Where the translation goes; default `lmLens.translate.output`. */
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
  const model = ctx.spec('translation', { source: args.model });
  let info;
  try {
    info = await ctx.load(model);
  } catch (err) {
    ctx.reportError(err, 'Translate');
    return undefined;
  }
  const declared = translationTargets(info.tasks);
  const to = args.to ?? (declared.length === 1 ? declared[0] : await pickLanguage(declared.length ? declared : ['de', 'fr', 'es'], ctx.config.translateTarget));
  if (!to) return undefined;
  // Where the translation goes is a setting (lmLens.translate.output), as for summaries: not a question each time.
  let mode: OutputMode = args.mode ?? ctx.config.translateOutput;
  const language = languageName(to);
  const ran = await ctx.run(
    { model, prompt: text, truncatePrompt: true, task: { kind: 'translate', to }, options: taskDecodingFor(ctx.config) },
    { label: `Translating to ${language}`, action: 'Translate', progress: `Local LM Lens: translating to ${language}…`, remember: `Translation to ${language}` },
  );
  if (!ran) return undefined;
  const { result } = ran;
  const translation = result.text.trim();
  if (result.inputTruncated) {
    // Replacing the text with the translation of its beginning would drop the rest: insert below instead.
    const moved = mode === 'replace';
    if (moved) mode = 'insertBelow';
    const placement = moved ? 'so the translation was inserted below the text instead of replacing it. ' : '';
    warnTruncated(ran.info.source, result.inputTruncated, `only its beginning was translated, ${placement}Select shorter passages to translate the rest.`);
  }
  if (editor && target) await placeOutput(editor, target.range, translation, mode);
  return translation;
}

async function pickLanguage(codes: readonly string[], preferred: string): Promise<string | undefined> {
  const ordered = [...codes].sort((a, b) => Number(b === preferred) - Number(a === preferred));
  const pick = await vscode.window.showQuickPick(
    ordered.map((code) => ({ label: languageName(code), description: code, code })),
    { title: 'Translate to', placeHolder: 'Target language' },
  );
  return pick?.code;
}

