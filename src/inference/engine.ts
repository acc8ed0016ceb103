import { InferenceError } from './errors';
import type { LoadedModel } from './models/modelAdapter';
import { dtypeChoice, loadModelFolder, modelKey, prefersGpu } from './loading/modelLoader';
import { resolveLocalFolder } from './loading/modelFolder';
import { downloadFromHub } from './loading/hub';
import { tokenText } from './loading/tokenizer';
import { decode } from './decoding/decode';
import { resolveGenerationSettings } from './decoding/generationConfig';
import { AttentionRecorder, singleMap } from './decoding/attentionRecorder';
import { traceStep } from './decoding/trace';
import { setUpTask } from './tasks';
import type {
  AttentionMap,
  GenerateRequest,
  GenerateResult,
  HubOptions,
  LoadProgress,
  ModelInfo,
  ModelSpec,
  ScoreRequest,
  ScoreResult,
  TokenTrace,
} from './protocol';

export interface RequestHooks {
  readonly isCancelled: () => boolean;
  /** `delta`: the text this token added to the output (the deltas concatenate to the streamed text). */
  readonly onToken?: (token: TokenTrace, delta: string) => void;
  readonly onProgress?: (progress: LoadProgress) => void;
}

const NEVER_CANCELLED: RequestHooks = { isCancelled: () => false };

/**
 * The engine: loads models once (by folder, device and attention capture), and runs generation and
 * scoring requests on them. It is used by the worker and directly by the CLI and the tests.
 */
export class Engine {
  private readonly models = new Map<string, Promise<LoadedModel>>();

  constructor(
    private bundledModelsDir: string,
    private hub: HubOptions = {},
  ) {}

  configure(bundledModelsDir: string, hub: HubOptions): void {
    this.bundledModelsDir = bundledModelsDir;
    this.hub = hub;
  }

  async load(spec: ModelSpec, hooks: RequestHooks = NEVER_CANCELLED): Promise<LoadedModel> {
    if (typeof spec?.source !== 'string' || spec.source.trim() === '') throw new InferenceError('bad-request', 'No model was given.');
    const folder =
      resolveLocalFolder(spec.source, this.bundledModelsDir) ??
      (await downloadFromHub({ id: spec.source, hub: this.hub, dtype: dtypeChoice(spec), onGpu: prefersGpu(spec), fallback: spec.dtypeFallback, onProgress: hooks.onProgress, isCancelled: hooks.isCancelled }));
    const key = modelKey(spec, folder);
    let pending = this.models.get(key);
    if (!pending) {
      pending = loadModelFolder(folder, spec);
      this.models.set(key, pending);
      pending.catch(() => this.models.delete(key));
    }
    return pending;
  }

  async info(spec: ModelSpec, hooks?: RequestHooks): Promise<ModelInfo> {
    return (await this.load(spec, hooks)).info;
  }

  async unload(spec?: ModelSpec): Promise<void> {
    const entries = [...this.models.entries()];
    for (const [key, pending] of entries) {
      if (spec && !key.startsWith(resolveLocalFolder(spec.source, this.bundledModelsDir) ?? '\0')) continue;
      this.models.delete(key);
      await (await pending.catch(() => undefined))?.dispose();
    }
  }

  async generate(request: GenerateRequest, hooks: RequestHooks = NEVER_CANCELLED): Promise<GenerateResult> {
    const model = await this.load(request.model, hooks);
    const { info, tokenizer } = model;
    if (typeof request.prompt !== 'string') throw new InferenceError('bad-request', 'The prompt must be a string.');
    const task = setUpTask(model, request.task, request.prompt);
    const { config, report } = resolveGenerationSettings(request.options, model.generationDefaults, task.params);
    const wantAttentions = config.attentions && info.attentionUnavailable === null;
    const encoded = tokenizer.encode(task.input) as number[];
    const { inputIds, maxNewTokens } = model.input.fitPrompt(encoded, {
      name: request.model.source,
      maxContext: info.maxContext,
      maxNewTokens: config.maxNewTokens,
      truncate: request.truncatePrompt ?? false,
      bosIds: model.bosIds,
    });
    const inputLength = encoded.length;

    const started = performance.now();
    const out = await decode(model, inputIds, { ...config, maxNewTokens, attentions: wantAttentions }, request.forcedPrefixIds ?? [], {
      isCancelled: hooks.isCancelled,
      onToken: request.stream ? hooks.onToken : undefined,
    });
    const totalMs = performance.now() - started;
    const best = out.sequences[0];
    const decodeMs = totalMs - out.firstTokenMs;
    const tokensPerS = best.ids.length > 1 && decodeMs > 0 ? ((best.ids.length - 1) * 1000) / decodeMs : 0;

    let attentions: AttentionMap[] | undefined;
    if (wantAttentions) {
      const label = (ids: readonly number[]): string[] => ids.map((id) => tokenText(tokenizer, id));
      const sourceLabels = label(inputIds);
      const decoderLabels = label([...out.session.startTokens, ...best.ids]);
      attentions = [
        ...singleMap(out.session.encoderAttentions, sourceLabels),
        ...out.recorder.build(best.attentionRow, (kind) =>
          kind === 'alignment' ? { query: label(best.ids), key: sourceLabels } : { query: decoderLabels, key: kind === 'cross' ? sourceLabels : decoderLabels },
        ),
      ];
    }
    return {
      text: best.text,
      tokens: best.tokens,
      finishReason: best.finishReason,
      device: info.device,
      timings: { load_ms: info.loadMs, first_token_ms: out.firstTokenMs, tokens_per_s: tokensPerS, total_ms: totalMs, decoder_passes: out.passes },
      sequences: config.strategy === 'beam' ? out.sequences.map((s) => ({ text: s.text, ids: s.ids, logprob: s.logprob, score: s.score })) : undefined,
      attentions,
      attentionUnavailable: config.attentions ? (info.attentionUnavailable ?? undefined) : undefined,
      inputTokens: inputIds.map((id) => tokenText(tokenizer, id)),
      inputIds,
      inputTruncated: inputIds.length < inputLength ? { tokens: inputLength, kept: inputIds.length } : undefined,
      generationSettings: report,
    };
  }

  /** GLTR-style inspection of existing text: every token's probability, rank and alternatives in one pass. */
  async score(request: ScoreRequest, hooks: RequestHooks = NEVER_CANCELLED): Promise<ScoreResult> {
    const model = await this.load(request.model, hooks);
    const { info, tokenizer } = model;
    if (typeof request.text !== 'string' || request.text.length === 0) throw new InferenceError('bad-request', 'There is no text to score.');
    const topN = request.topAlternatives ?? 10;
    const wantAttentions = (request.attentions ?? false) && info.attentionUnavailable === null;
    const plan = model.input.planScore({ tokenizer, name: request.model.source, maxContext: info.maxContext, text: request.text, source: request.source, truncate: request.truncate ?? false });
    const { sourceIds, targetIds, truncated } = plan;
    if (hooks.isCancelled()) throw new InferenceError('cancelled', 'Scoring was cancelled.');
    const session = await model.start(plan.startIds, wantAttentions);
    const scoring = plan.feed(session.startTokens);
    // Scoring needs no pass over the last token (nothing follows it to predict), but its attention
    // row is part of the text's map: with attentions it is fed too. Causal masking leaves the
    // logits of the earlier positions unchanged.
    const fed = wantAttentions ? [...scoring, targetIds[targetIds.length - 1]!] : scoring;
    const step = await session.step([fed], true);
    const all = step.allLogits!;
    const offset = scoring.length - targetIds.length;
    const tokens: TokenTrace[] = [];
    let text = '';
    let total = 0;
    targetIds.forEach((id, i) => {
      const piece = tokenizer.decode([...targetIds.slice(0, i + 1)], { skip_special_tokens: false }).slice(text.length);
      text += piece;
      const trace = traceStep(all, (offset + i) * step.vocab, step.vocab, id, piece, topN, tokenizer);
      total += trace.logprob;
      tokens.push(trace);
    });
    let attentions: AttentionMap[] | undefined;
    if (wantAttentions) {
      const label = (ids: readonly number[]): string[] => ids.map((id) => tokenText(tokenizer, id));
      const sourceLabels = label(sourceIds);
      const recorder = new AttentionRecorder();
      recorder.record(step.attentions);
      attentions = [
        ...singleMap(session.encoderAttentions, sourceLabels),
        ...recorder.build(0, (kind) => (kind === 'alignment' ? { query: label(targetIds), key: sourceLabels } : { query: label(fed), key: kind === 'cross' ? sourceLabels : label(fed) })),
      ];
    }
    return {
      text: truncated ? tokenizer.decode(plan.scoredIds, { skip_special_tokens: true }) : request.text,
      truncated,
      tokens,
      totalLogprob: total,
      perplexity: tokens.length ? Math.exp(-total / tokens.length) : NaN,
      device: info.device,
      attentions,
      attentionUnavailable: request.attentions ? (info.attentionUnavailable ?? undefined) : undefined,
      sourceTokens: sourceIds.length ? sourceIds.map((id) => tokenText(tokenizer, id)) : undefined,
    };
  }
}
