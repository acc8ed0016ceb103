/**
 * Show attention: for the selection (scored by the completion model, or translated/summarized by a
 * Seq2Seq model when a role is given) or for the last generation, in the attention inspector.
 */
import * as vscode from 'vscode';
import type { Ctx, Ran } from '../context';
import { activeSelection, titleOf } from '../editor/output';
import { continuesPrompt, translationTargets, type GenerateResult, type ModelSpec, type ScoreResult, type Task } from '../inference/protocol';
import { taskDecodingFor, type ModelRole } from '../settings';
import type { AttentionInspectorPanels } from '../webviews/attentionInspectorPanel';
import type { AttentionPanelData } from '../webviews/messages';

export interface AttentionArgs {
  /** Text instead of the selection. */
  readonly text?: string;
  /** `completion` (default): self-attention over the text; `translation` / `summarization`: run that task and show encoder, decoder and cross-attention. */
  readonly role?: ModelRole;
  readonly model?: string;
  /** Target language for `role: 'translation'`. */
  readonly to?: string;
  /** Show the last generation instead of the selection. */
  readonly lastGeneration?: boolean;
}

const ACTION = 'Showing attention';
const LABEL = 'Capturing attention';
/** Characters of a causal prompt kept when a generation is replayed for its attention. */
const MAX_REPLAY_PROMPT_CHARS = 1500;

export async function showAttention(ctx: Ctx, panels: AttentionInspectorPanels, args: AttentionArgs = {}): Promise<AttentionPanelData | undefined> {
  const { editor, selection } = activeSelection();
  if (args.lastGeneration || (args.text === undefined && selection === undefined && ctx.lastGeneration && !args.role)) {
    const data = await forLastGeneration(ctx);
    return data && panels.show(data);
  }
  const text = args.text ?? selection ?? editor?.document.getText() ?? '';
  if (!text.trim()) {
    void vscode.window.showInformationMessage('Local LM Lens: select some text to see its attention.');
    return undefined;
  }
  const data = await forText(ctx, text, args);
  return data && panels.show(data);
}

async function forText(ctx: Ctx, text: string, args: AttentionArgs): Promise<AttentionPanelData | undefined> {
  const role = args.role ?? 'completion';
  const model = ctx.spec(role, { source: args.model, attentions: true });
  let info;
  try {
    info = await ctx.load(model);
  } catch (err) {
    ctx.reportError(err, ACTION);
    return undefined;
  }
  if (role === 'completion' || continuesPrompt(info)) {
    const ran = await ctx.score({ model, text, attentions: true, topAlternatives: 1, truncate: true }, { label: LABEL, action: ACTION });
    if (ran?.result.truncated) void vscode.window.showInformationMessage("Local LM Lens: the text is longer than the model's context; its attention is shown for the beginning.");
    return ran && fromResult(ctx, model, titleOf(text), ran, 0, { targetText: ran.result.text });
  }
  const task: Task = role === 'translation' ? { kind: 'translate', to: args.to ?? translationTargets(info.tasks)[0] ?? (ctx.config.translateTarget || 'de') } : { kind: 'summarize' };
  const ran = await ctx.run({ model, prompt: text, truncatePrompt: true, task, options: taskDecodingFor(ctx.config, { attentions: true }) }, { label: LABEL, action: ACTION });
  return ran && fromResult(ctx, model, titleOf(text), ran, 0, { sourceText: text, targetText: ran.result.text });
}

async function forLastGeneration(ctx: Ctx): Promise<AttentionPanelData | undefined> {
  const last = ctx.lastGeneration;
  if (!last) {
    void vscode.window.showInformationMessage('Local LM Lens: nothing has been generated yet. Select text to see its attention instead.');
    return undefined;
  }
  const model: ModelSpec = { ...last.request.model, attentions: true };
  const causal = continuesPrompt(last.info);
  const prompt = causal && last.request.prompt.length > MAX_REPLAY_PROMPT_CHARS ? last.request.prompt.slice(-MAX_REPLAY_PROMPT_CHARS) : last.request.prompt;
  // A causal LM's tokens spell the prompt and its continuation; a Seq2Seq's the source and the output.
  const texts = causal ? { targetText: prompt + last.result.text } : { sourceText: last.request.prompt, targetText: last.result.text };
  if (last.result.attentions?.length) return fromResult(ctx, last.request.model, last.title, last, outputStartOf(last.result), texts);
  // Replaying the generation with its own tokens forced gives exactly its attention (task prefix and
  // tokenization included). A long causal prompt is cut to its end to keep the maps small.
  const ids = last.result.tokens.map((t) => t.id);
  const ran = await ctx.run(
    {
      ...last.request,
      model,
      prompt,
      forcedPrefixIds: ids,
      truncatePrompt: true,
      options: { strategy: 'greedy', maxNewTokens: Math.max(1, ids.length), attentions: true, topAlternatives: 1 },
    },
    { label: LABEL, action: ACTION },
  );
  return ran && fromResult(ctx, model, last.title, ran, outputStartOf(ran.result), texts);
}

/** Where the generated tokens start on the query axis: after the prompt for a causal LM. */
function outputStartOf(result: GenerateResult): number {
  const self = result.attentions?.find((m) => m.kind === 'self');
  return self ? Math.max(0, self.queryTokens.length - result.tokens.length) : 0;
}

function fromResult(
  ctx: Ctx,
  model: ModelSpec,
  title: string,
  { result }: Pick<Ran<GenerateResult | ScoreResult>, 'result'>,
  outputStart: number,
  texts: Pick<AttentionPanelData, 'sourceText' | 'targetText'>,
): AttentionPanelData {
  const maps = result.attentions ?? [];
  return {
    title,
    model: ctx.modelLabel(model.source),
    maps,
    attentionUnavailable: maps.length ? undefined : (result.attentionUnavailable ?? 'The engine returned no attention maps for this model.'),
    outputStart,
    ...texts,
  };
}
