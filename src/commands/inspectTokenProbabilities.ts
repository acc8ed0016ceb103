/**
 * Inspect token probabilities: scores the selection with the completion model (or shows the last
 * generation's trace) in the token probabilities panel.
 */
import * as vscode from 'vscode';
import type { Ctx, LastGeneration } from '../context';
import { unscoredHead } from '../webviews/gltr';
import type { TokenPanelData } from '../webviews/messages';
import { scoreFitting } from './common';
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
  const editor = vscode.window.activeTextEditor;
  const selection = editor && !editor.selection.isEmpty ? editor.document.getText(editor.selection) : undefined;
  if (args.lastGeneration || (args.text === undefined && selection === undefined && ctx.lastGeneration && !args.model)) {
    if (!ctx.lastGeneration) {
      void vscode.window.showInformationMessage('Local LM Lens: nothing has been generated yet. Select text to inspect instead.');
      return undefined;
    }
    const data = fromGeneration(ctx.lastGeneration, ctx.modelLabel(ctx.lastGeneration.request.model.source));
    panels.show(data);
    return data;
  }
  const text = args.text ?? selection ?? editor?.document.getText();
  if (!text?.trim()) {
    void vscode.window.showInformationMessage('Local LM Lens: select some text to inspect its token probabilities.');
    return undefined;
  }
  const spec = ctx.spec('completion', { source: args.model });
  try {
    await ctx.load(spec);
    const scored = await ctx.exclusive('command', 'Scoring tokens', (lease) =>
      scoreFitting(ctx, { model: spec, text, topAlternatives: ctx.config.decoding.topAlternatives }, lease.signal),
    );
    if (!scored) return undefined;
    const { result, truncated } = scored;
    if (truncated) void vscode.window.showInformationMessage('Local LM Lens: the text is longer than the model\'s context; the beginning is shown.');
    // Without a BOS token the first token has no context and is not scored: it is the prompt.
    const head = unscoredHead(result.text, result.tokens.map((t) => t.text));
    const data: TokenPanelData = {
      title: titleOf(text),
      model: ctx.modelLabel(spec.source),
      mode: 'score',
      prompt: head,
      promptTokens: [],
      sequences: [{ id: 0, tokens: result.tokens, prompt: head, forcedIds: [], contextCount: 0, status: 'done' }],
      branchModel: spec.source,
      task: { kind: 'generate' },
      device: result.device,
    };
    panels.show(data);
    return data;
  } catch (err) {
    ctx.reportError(err, 'Inspecting token probabilities');
    return undefined;
  }
}

function fromGeneration(last: LastGeneration, model: string): TokenPanelData {
  const { request, result, info } = last;
  const causal = info.architecture === 'causal-lm';
  return {
    title: last.title,
    model,
    mode: 'generate',
    prompt: request.prompt,
    promptTokens: [], // a generation's trace covers the generated tokens only
    sequences: [{ id: 0, tokens: result.tokens, prompt: request.prompt, forcedIds: request.forcedPrefixIds ?? [], contextCount: 0, status: 'done' }],
    branchUnavailable: result.tokens.length === 0 ? 'Nothing was generated.' : undefined,
    branchModel: request.model.source,
    task: request.task ?? { kind: 'generate' },
    device: result.device + (causal ? '' : ` · ${info.architecture}`),
  };
}

function titleOf(text: string): string {
  const line = text.trim().split('\n')[0] ?? '';
  return line.length > 40 ? `${line.slice(0, 40)}…` : line;
}
