/**
 * Inspect token probabilities: scores the selection with the completion model (or shows the last
 * generation's trace) in the token probabilities panel.
 */
import * as vscode from 'vscode';
import { unscoredHead } from '../analysis/gltr';
import type { Ctx, LastGeneration } from '../context';
import { activeSelection, titleOf } from '../editor/output';
import { continuesPrompt } from '../inference/protocol';
import type { TokenPanelData } from '../webviews/messages';
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
    return panels.show(fromGeneration(ctx.lastGeneration, ctx.modelLabel(ctx.lastGeneration.request.model.source)));
  }
  const text = args.text ?? selection ?? editor?.document.getText();
  if (!text?.trim()) {
    void vscode.window.showInformationMessage('Local LM Lens: select some text to inspect its token probabilities.');
    return undefined;
  }
  const model = ctx.spec('completion', { source: args.model });
  const ran = await ctx.score(
    { model, text, topAlternatives: ctx.config.decoding.topAlternatives, truncate: true },
    { label: 'Scoring tokens', action: 'Inspecting token probabilities' },
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
    sequences: [{ id: 0, tokens: result.tokens, prompt: head, forcedIds: [], status: 'done' }],
    branchModel: model.source,
    task: { kind: 'generate' },
    device: result.device,
  });
}

function fromGeneration(last: LastGeneration, model: string): TokenPanelData {
  const { request, result, info } = last;
  return {
    title: last.title,
    model,
    mode: 'generate',
    prompt: request.prompt,
    sequences: [{ id: 0, tokens: result.tokens, prompt: request.prompt, forcedIds: request.forcedPrefixIds ?? [], status: 'done' }],
    branchUnavailable: result.tokens.length === 0 ? 'Nothing was generated.' : undefined,
    branchModel: request.model.source,
    task: request.task ?? { kind: 'generate' },
    device: result.device + (continuesPrompt(info) ? '' : ` · ${info.architecture}`),
  };
}
