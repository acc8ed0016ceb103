/**
 * Show attention: for the selection (scored by the completion model, or translated/summarized by a
 * Seq2Seq model when a role is given) or for the last generation, in the attention inspector.
 */
import * as vscode from 'vscode';
import type { ModelRole } from '../config';
import type { Ctx } from '../context';
import type { GenerateResult, ModelSpec, ScoreResult, Task } from '../inference/protocol';
import type { AttentionInspectorPanels } from '../webviews/attentionInspectorPanel';
import type { AttentionPanelData } from '../webviews/messages';
import { scoreFitting, taskDecoding, translationTargets } from './common';

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

export async function showAttention(ctx: Ctx, panels: AttentionInspectorPanels, args: AttentionArgs = {}): Promise<AttentionPanelData | undefined> {
  const editor = vscode.window.activeTextEditor;
  const selection = editor && !editor.selection.isEmpty ? editor.document.getText(editor.selection) : undefined;
  try {
    let data: AttentionPanelData | undefined;
    if (args.lastGeneration || (args.text === undefined && selection === undefined && ctx.lastGeneration && !args.role)) {
      data = await forLastGeneration(ctx);
    } else {
      const text = args.text ?? selection ?? editor?.document.getText() ?? '';
      if (!text.trim()) {
        void vscode.window.showInformationMessage('Local LM Lens: select some text to see its attention.');
        return undefined;
      }
      data = await forText(ctx, text, args);
    }
    if (data) panels.show(data);
    return data;
  } catch (err) {
    ctx.reportError(err, 'Showing attention');
    return undefined;
  }
}

async function forText(ctx: Ctx, text: string, args: AttentionArgs): Promise<AttentionPanelData | undefined> {
  const role = args.role ?? 'completion';
  const spec = ctx.spec(role, { source: args.model, attentions: true });
  const info = await ctx.load(spec);
  if (role === 'completion' || info.architecture === 'causal-lm') {
    const result = await score(ctx, spec, text);
    return result && fromResult(ctx, spec, titleOf(text), result, 0);
  }
  let task: Task = { kind: 'summarize' };
  if (role === 'translation') {
    const to = args.to ?? translationTargets(info.tasks)[0] ?? (ctx.config.translateTarget || 'de');
    task = { kind: 'translate', to };
  }
  const result = await ctx.exclusive('command', 'Capturing attention', (lease) =>
    ctx.generate({ model: spec, prompt: text, truncatePrompt: true, task, options: taskDecoding(ctx, { attentions: true }) }, { signal: lease.signal }),
  );
  return result && fromResult(ctx, spec, titleOf(text), result, 0);
}

async function forLastGeneration(ctx: Ctx): Promise<AttentionPanelData | undefined> {
  const last = ctx.lastGeneration;
  if (!last) {
    void vscode.window.showInformationMessage('Local LM Lens: nothing has been generated yet. Select text to see its attention instead.');
    return undefined;
  }
  if (last.result.attentions?.length) return fromResult(ctx, last.request.model, last.title, last.result, outputStartOf(last.result));
  const spec: ModelSpec = { ...last.request.model, attentions: true };
  const info = await ctx.load(spec);
  const causal = info.architecture === 'causal-lm';
  // Replaying the generation with its own tokens forced gives exactly its attention (task prefix and
  // tokenization included). A long causal prompt is cut to its end to keep the maps small.
  const ids = last.result.tokens.map((t) => t.id);
  const prompt = causal && last.request.prompt.length > MAX_REPLAY_PROMPT_CHARS ? last.request.prompt.slice(-MAX_REPLAY_PROMPT_CHARS) : last.request.prompt;
  const result = await ctx.exclusive('command', 'Capturing attention', (lease) =>
    ctx.generate(
      {
        ...last.request,
        model: spec,
        prompt,
        forcedPrefixIds: ids,
        truncatePrompt: true,
        options: { strategy: 'greedy', maxNewTokens: Math.max(1, ids.length), attentions: true, topAlternatives: 1 },
      },
      { signal: lease.signal },
    ),
  );
  return result && fromResult(ctx, spec, last.title, result, outputStartOf(result));
}

/** Characters of a causal prompt kept when a generation is replayed for its attention. */
const MAX_REPLAY_PROMPT_CHARS = 1500;

async function score(ctx: Ctx, spec: ModelSpec, text: string): Promise<ScoreResult | undefined> {
  const scored = await ctx.exclusive('command', 'Capturing attention', (lease) =>
    scoreFitting(ctx, { model: spec, text, attentions: true, topAlternatives: 1 }, lease.signal),
  );
  if (scored?.truncated) void vscode.window.showInformationMessage("Local LM Lens: the text is longer than the model's context; its attention is shown for the beginning.");
  return scored?.result;
}

/** Where the generated tokens start on the query axis: after the prompt for a causal LM. */
function outputStartOf(result: GenerateResult): number {
  const self = result.attentions?.find((m) => m.kind === 'self');
  return self ? Math.max(0, self.queryTokens.length - result.tokens.length) : 0;
}

function fromResult(ctx: Ctx, spec: ModelSpec, title: string, result: GenerateResult | ScoreResult, outputStart: number): AttentionPanelData {
  const maps = result.attentions ?? [];
  return {
    title,
    model: ctx.modelLabel(spec.source),
    maps,
    attentionUnavailable: maps.length ? undefined : (result.attentionUnavailable ?? 'The engine returned no attention maps for this model.'),
    outputStart,
  };
}

function titleOf(text: string): string {
  const line = text.trim().split('\n')[0] ?? '';
  return line.length > 40 ? `${line.slice(0, 40)}…` : line;
}
