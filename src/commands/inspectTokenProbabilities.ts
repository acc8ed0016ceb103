/**
 * Inspect token probabilities: scores the selection with the completion model (or shows the last
 * generation's trace) in the token probabilities panel. The model is loaded for inspection so that
 * every token also gets its logit lens where the model can give one; where it cannot, the panel
 * says why.
 */
import * as vscode from 'vscode';
import { unscoredHead } from '../analysis/gltr';
import { LENS_TOP, trimLens } from '../analysis/logitLens';
import type { Ctx, LastGeneration } from '../context';
import { activeSelection, titleOf } from '../editor/output';
import { continuesPrompt, type ModelInfo, type ModelSpec, type TokenTrace } from '../inference/protocol';
import type { TokenPanelData, TokenSequence } from '../webviews/messages';
import type { TokenProbabilitiesPanels } from '../webviews/tokenProbabilitiesPanel';

export interface InspectArgs {
  /** Text to score instead of the selection. */
  readonly text?: string;
  readonly model?: string;
  /** Show the last generation's trace instead of scoring the selection. */
  readonly lastGeneration?: boolean;
}

/** Returns the data shown (so tests can check it), or undefined. */
export async function inspectTokenProbabilities(ctx: Ctx, panels: TokenProbabilitiesPanels, args: InspectArgs = {}): Promise<TokenPanelData | undefined> {
  const { editor, selection } = activeSelection();
  if (args.lastGeneration || (args.text === undefined && selection === undefined && ctx.lastGeneration && !args.model)) {
    if (!ctx.lastGeneration) {
      void vscode.window.showInformationMessage('Local LM Lens: nothing has been generated yet. Select text to inspect instead.');
      return undefined;
    }
    const last = ctx.lastGeneration;
    const lens = await lensForGeneration(ctx, last);
    return panels.show({ ...fromGeneration(last, ctx.modelLabel(last.request.model.source)), ...lens });
  }
  const text = args.text ?? selection ?? editor?.document.getText();
  if (!text?.trim()) {
    void vscode.window.showInformationMessage('Local LM Lens: select some text to inspect its token probabilities.');
    return undefined;
  }
  const model = ctx.spec('completion', { source: args.model, attentions: true });
  const info = await loadForInspection(ctx, model);
  if (!info) return undefined;
  const lensProblem = lensProblemOf(info);
  const ran = await ctx.score(
    { model, text, topAlternatives: ctx.config.decoding.topAlternatives, truncate: true, logitLens: lensProblem === undefined },
    { label: 'Scoring tokens', action: ACTION },
  );
  if (!ran) return undefined;
  const { result } = ran;
  if (result.truncated) void vscode.window.showInformationMessage("Local LM Lens: the text is longer than the model's context; the beginning is shown.");
  // Without a BOS token the first token has no context and is not scored: it is the prompt.
  const head = unscoredHead(result.text, result.tokens.map((t) => t.text));
  return panels.show({
    title: titleOf(text),
    model: ctx.modelLabel(model.source),
    mode: 'score',
    prompt: head,
    sequences: [{ id: 0, tokens: trimLens(result.tokens), prompt: head, forcedIds: [], status: 'done' }],
    branchModel: model.source,
    ...(info.served ? { branchUnavailable: SERVED_BRANCHING } : {}),
    task: { kind: 'generate' },
    device: result.device,
    lensUnavailable: lensProblem ?? result.lensUnavailable ?? missingLens(result.tokens),
  });
}

const ACTION = 'Inspecting token probabilities';
/** Branching forces token ids, which a serving engine's API does not take. */
const SERVED_BRANCHING = 'Branching from an alternative forces token ids, which a serving engine does not take.';

async function loadForInspection(ctx: Ctx, model: ModelSpec): Promise<ModelInfo | undefined> {
  try {
    return await ctx.load(model);
  } catch (err) {
    ctx.reportError(err, ACTION);
    return undefined;
  }
}

/** Why a model loaded for inspection gives no logit lens; undefined when it gives one. */
function lensProblemOf(info: ModelInfo): string | undefined {
  if (info.lensUnavailable === null) return undefined;
  return info.lensUnavailable ?? 'This engine does not compute the logit lens.';
}

/** A reason when the engine was asked for a lens and every token came back without one. */
function missingLens(tokens: readonly TokenTrace[]): string | undefined {
  return tokens.length > 0 && tokens.every((t) => !t.lens?.length) ? 'The engine returned no logit lens for these tokens.' : undefined;
}

/**
 * The logit lens of a generation: its own tokens when they carry one, else a replay of the same
 * request with the generated tokens forced on the model loaded for inspection (the same tokens,
 * now with a lens per layer), attached to the original trace token by token.
 */
async function lensForGeneration(ctx: Ctx, last: LastGeneration): Promise<{ sequences?: TokenSequence[]; lensUnavailable?: string }> {
  const { request, result } = last;
  if (result.tokens.length === 0) return { lensUnavailable: 'Nothing was generated.' };
  if (result.tokens.every((t) => t.lens?.length)) return {};
  const model: ModelSpec = { ...request.model, attentions: true };
  const info = await loadForInspection(ctx, model);
  if (!info) return { lensUnavailable: 'The model could not be loaded for inspection (see the log).' };
  const problem = lensProblemOf(info);
  if (problem) return { lensUnavailable: problem };
  const ids = result.tokens.map((t) => t.id);
  let failure = 'The replay for the logit lens did not finish.';
  const ran = await ctx.run(
    // The trace already holds the request's own forced tokens, so forcing the trace's ids replays it whole.
    { ...request, model, forcedPrefixIds: ids, truncatePrompt: true, options: { strategy: 'greedy', maxNewTokens: ids.length, topAlternatives: LENS_TOP, logitLens: true } },
    { label: 'Computing the logit lens', onError: (e) => (failure = `The replay for the logit lens failed: ${e.message}`) },
  );
  if (!ran) return { lensUnavailable: failure };
  if (ran.result.lensUnavailable) return { lensUnavailable: ran.result.lensUnavailable };
  const replay = ran.result.tokens;
  if (replay.length !== ids.length || replay.some((t, i) => t.id !== ids[i])) return { lensUnavailable: 'The replay for the logit lens did not reproduce the generated tokens.' };
  const tokens = trimLens(result.tokens.map((t, i) => ({ ...t, lens: replay[i]!.lens })));
  return { sequences: [generatedSequence(last, tokens)], lensUnavailable: missingLens(tokens) };
}

/** The generation as the panel's main sequence, with `tokens` as its trace. */
function generatedSequence(last: LastGeneration, tokens: readonly TokenTrace[]): TokenSequence {
  return { id: 0, tokens, prompt: last.request.prompt, forcedIds: last.request.forcedPrefixIds ?? [], status: 'done' };
}

function fromGeneration(last: LastGeneration, model: string): TokenPanelData {
  const { request, result, info } = last;
  return {
    title: last.title,
    model,
    mode: 'generate',
    prompt: request.prompt,
    sequences: [generatedSequence(last, result.tokens)],
    branchUnavailable: result.tokens.length === 0 ? 'Nothing was generated.' : info.served ? SERVED_BRANCHING : undefined,
    branchModel: request.model.source,
    task: request.task ?? { kind: 'generate' },
    device: result.device + (continuesPrompt(info) ? '' : ` · ${info.architecture}`),
  };
}
