/**
 * Ghost text from the completion model. Requests are debounced (VS Code cancels a request when
 * the user types on, which ends the wait), a newer request aborts an older generation in the
 * worker, and a prefix cache answers typing that follows a suggestion without a new generation.
 * A suggestion is cut where the model grows unsure (`lmLens.inline.minConfidence`, confidenceCut.ts);
 * one from a server that returns no log-probabilities is shown whole. A local model also gets the file's path and
 * snippets of other files (`lmLens.inline.extraContextTokens`, snippetCollector.ts) in the tokens the text around
 * the cursor leaves. Why a request showed nothing goes to the status bar's tooltip; each request and its result
 * are logged at debug level.
 */
import * as vscode from 'vscode';
import { inlineEnabled } from '../config';
import type { Ctx } from '../context';
import type { InferenceError } from '../inference/errors';
import type { ModelSpec, PromptContext, TokenTrace } from '../inference/protocol';
import { trimCompletion } from './completionText';
import { DEFAULT_MIN_MEAN_LOGPROB, confidenceCut } from './confidenceCut';
import { PrefixCache } from './prefixCache';
import type { SnippetCollector } from './snippetCollector';
import { delay } from '../generation/scheduler';

/** Where a suggestion stops: a line when text follows the cursor (or multi-line is off), else a blank line. */
function lineSuffixStops(multiline: boolean, lineSuffix: string): string[] {
  return multiline && !lineSuffix.trim() ? ['\n\n'] : ['\n'];
}

export class InlineCompletionProvider implements vscode.InlineCompletionItemProvider {
  private readonly cache = new PrefixCache();
  private lastErrorCode: string | undefined;
  /** The last failure of a request, for the status bar. */
  private lastFailure: string | undefined;

  constructor(
    private readonly ctx: Ctx,
    private readonly snippets: SnippetCollector,
  ) {
    ctx.onDidChangeConfig(() => this.cache.clear());
  }

  async provideInlineCompletionItems(
    document: vscode.TextDocument,
    position: vscode.Position,
    context: vscode.InlineCompletionContext,
    token: vscode.CancellationToken,
  ): Promise<vscode.InlineCompletionItem[] | undefined> {
    if (!inlineEnabled(document)) return undefined;
    const cfg = this.ctx.config.inline;
    const asked = context.triggerKind === vscode.InlineCompletionTriggerKind.Invoke;
    if (cfg.trigger === 'onRequest' && !asked) return undefined;
    if (cfg.excludeFiles.some((pattern) => vscode.languages.match({ pattern }, document) > 0)) return undefined;
    // Only the text around the cursor is read: a large file costs nothing extra per keystroke.
    const offset = document.offsetAt(position);
    const prefix = document.getText(new vscode.Range(document.positionAt(Math.max(0, offset - cfg.contextChars)), position));
    if (!prefix.trim()) return undefined;
    const lineSuffix = document.lineAt(position.line).text.slice(position.character);
    // The text after the cursor: a model trained for fill-in-the-middle writes what goes between
    // (the engine uses the model's own format; a model without one continues the prefix alone).
    const suffix = document.getText(new vscode.Range(position, document.positionAt(offset + Math.floor(cfg.contextChars / 2))));
    const spec = this.ctx.spec('completion');
    const key = `${spec.source}\u0000${document.languageId}\u0000${lineSuffix.trim() ? 'line' : 'block'}\u0000${suffix.slice(0, 256)}`;
    const cached = this.cache.get(key, prefix);
    if (cached && !asked) return [new vscode.InlineCompletionItem(cached, new vscode.Range(position, position))];

    const abort = new AbortController();
    const sub = token.onCancellationRequested(() => abort.abort());
    // Served models get the text around the cursor only (their adapters send no prompt context).
    const promptContext = spec.endpoint ? undefined : this.snippets.contextFor(document);
    try {
      if (context.triggerKind === vscode.InlineCompletionTriggerKind.Automatic && !(await delay(cfg.debounceMs, abort.signal))) return this.hidden('cancelled: typing went on');
      const stopStrings = lineSuffixStops(cfg.multiline, lineSuffix);
      if (cached && asked) {
        // Asked again where a suggestion stands (cycling with Alt+] / Alt+[): two sampled alternatives beside it.
        const texts = [...new Set([cached, ...(await this.alternatives(spec, prefix, suffix, promptContext, stopStrings, lineSuffix, abort.signal))].filter((t) => t))];
        this.ctx.log.debug(`Inline alternatives: ${texts.length} (${texts.map((t) => JSON.stringify(t)).join(', ')}).`);
        return texts.map((t) => new vscode.InlineCompletionItem(t, new vscode.Range(position, position)));
      }
      this.ctx.log.debug(
        `Inline request at line ${position.line + 1}, column ${position.character + 1}: ${prefix.length} characters before the cursor, ${suffix.length} after it ` +
          `(the rest of the line: ${JSON.stringify(lineSuffix)})${promptContext ? `; ${promptContext.snippets.length} snippets of other files offered within ${promptContext.maxTokens} tokens` : ''}.`,
      );
      this.lastFailure = undefined;
      const ran = await this.ctx.run(
        {
          model: spec,
          prompt: prefix,
          suffix,
          ...(promptContext ? { context: promptContext } : {}),
          truncatePrompt: true,
          task: { kind: 'generate' },
          options: { strategy: 'greedy', maxNewTokens: cfg.maxNewTokens, topAlternatives: 0, stopStrings, stopOnRepetition: true },
        },
        { label: 'Inline completion', kind: 'inline', quiet: true, signal: abort.signal, onError: (e) => this.onError(e) },
      );
      const result = ran?.result;
      if (!result) return this.hidden(this.lastFailure ?? 'cancelled: typing went on');
      const used = result.context ? `; context ${result.context.tokens} tokens (${result.context.style}, ${result.context.snippets} of ${result.context.offered} snippets)` : '';
      this.ctx.log.debug(`Inline result: ${JSON.stringify(result.text)} (${result.finishReason}${result.fim ? `, ${result.fim.format} fill-in-the-middle` : ''}${used}).`);
      if (result.finishReason === 'cancelled') return this.hidden('cancelled: typing went on');
      this.lastErrorCode = undefined;
      const trimmed = trimCompletion(result.text, { multiline: cfg.multiline, lineSuffix, stopStrings });
      if (!trimmed.trim()) return this.hidden(result.finishReason === 'repetition' ? 'it began to repeat itself' : 'nothing to add here (no text, or only the text already after the cursor)');
      const sure = this.sure(trimmed, result.tokens);
      if (sure.text === undefined) return this.hidden(sure.hidden);
      this.ctx.showInlineOutcome(undefined);
      this.cache.set(key, prefix, sure.text);
      return [new vscode.InlineCompletionItem(sure.text, new vscode.Range(position, position))];
    } finally {
      sub.dispose();
    }
  }

  /** Nothing is shown: the status bar says why. */
  private hidden(why: string): undefined {
    this.ctx.showInlineOutcome(why);
    return undefined;
  }

  /** Seeded samples of the same request (temperature 0.8), trimmed and cut as the suggestion is. */
  private async alternatives(spec: ModelSpec, prefix: string, suffix: string, context: PromptContext | undefined, stopStrings: string[], lineSuffix: string, signal: AbortSignal): Promise<string[]> {
    const cfg = this.ctx.config.inline;
    const out: string[] = [];
    for (const seed of [1, 2]) {
      const ran = await this.ctx.run(
        {
          model: spec,
          prompt: prefix,
          suffix,
          ...(context ? { context } : {}),
          truncatePrompt: true,
          task: { kind: 'generate' },
          options: { strategy: 'sample', temperature: 0.8, topP: 0.95, seed, maxNewTokens: cfg.maxNewTokens, topAlternatives: 0, stopStrings, stopOnRepetition: true },
        },
        { label: 'Inline alternatives', kind: 'inline', quiet: true, signal, onError: (e) => this.onError(e) },
      );
      if (!ran || ran.result.finishReason === 'cancelled') break;
      out.push(this.sure(trimCompletion(ran.result.text, { multiline: cfg.multiline, lineSuffix, stopStrings }), ran.result.tokens).text ?? '');
    }
    return out;
  }

  /**
   * Only what the model is sure of: the text cut before its first unlikely token (each token's probability is in
   * the trace), or why nothing is shown, logged, when too little or too unlikely a text is left. 0 turns it off.
   */
  private sure(text: string, tokens: readonly TokenTrace[]): { text: string; hidden?: undefined } | { text: undefined; hidden: string } {
    const minConfidence = this.ctx.config.inline.minConfidence;
    if (!text || minConfidence <= 0) return { text };
    const cut = confidenceCut(text, tokens, { minConfidence, minMeanLogprob: DEFAULT_MIN_MEAN_LOGPROB });
    if (cut.text !== undefined) return { text: cut.text };
    this.ctx.log.info(`Inline completion not shown (lmLens.inline.minConfidence ${minConfidence}): ${cut.message}.`);
    return { text: undefined, hidden: `the model is unsure (lmLens.inline.minConfidence ${minConfidence}): ${cut.message}` };
  }

  private onError(e: InferenceError): void {
    if (e.code === 'cancelled') return;
    this.lastFailure = `${e.code === 'model-not-found' || e.code === 'model-corrupt' || e.code === 'unsupported-model' ? 'no model' : 'failed'}: ${e.message}`;
    // Typing must not raise the same error on every keystroke.
    if (e.code !== this.lastErrorCode) {
      this.lastErrorCode = e.code;
      this.ctx.reportError(e, 'Inline completion');
    } else {
      this.ctx.log.warn(`Inline completion failed again [${e.code}]: ${e.message}`);
    }
  }
}
