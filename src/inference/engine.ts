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
import { logitLens } from './decoding/logitLens';
import { setUpTask } from './tasks';
import { blankSuffix, declaredFimOrder, fimPrefixStart, fimPromptIds, fimTokens, vocabularyOf, type FimTokens } from './fillInTheMiddle';
import { contextIds, type ContextIds } from './promptContext';
import { continuesPrompt } from './protocol';
import { servedGenerate, servedModelInfo, servedScore, servingAdapter } from './remote/servedModel';
import type {
  AttentionMap,
  EndpointSpec,
  GenerateRequest,
  GenerateResult,
  HubOptions,
  LoadProgress,
  ModelInfo,
  ModelSpec,
  ScoreRequest,
  ScoreResult,
  Strategy,
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

  /** The names of the models a serving engine offers. */
  async servedModels(endpoint: EndpointSpec, hooks: RequestHooks = NEVER_CANCELLED): Promise<string[]> {
    const adapter = servingAdapter(endpoint);
    return (await adapter.models({ apiKey: endpoint.apiKey, isCancelled: hooks.isCancelled })).map((m) => m.name);
  }

  async info(spec: ModelSpec, hooks: RequestHooks = NEVER_CANCELLED): Promise<ModelInfo> {
    if (spec?.endpoint) return servedModelInfo(spec, hooks);
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
    if (request.model?.endpoint) return servedGenerate(request, hooks);
    const model = await this.load(request.model, hooks);
    const { info, tokenizer } = model;
    if (typeof request.prompt !== 'string') throw new InferenceError('bad-request', 'The prompt must be a string.');
    const task = setUpTask(model, request.task, request.prompt);
    const { config, report } = resolveGenerationSettings(request.options, model.generationDefaults, task.params);
    const wantAttentions = config.attentions && info.attentionUnavailable === null;
    const lensProblem = config.logitLens ? lensProblemOf(info, config.strategy) : null;
    const fim = request.suffix === undefined ? undefined : fillInTheMiddle(model, request);
    const encoded = fim?.tokens ? [] : (tokenizer.encode(task.input) as number[]);
    const fitted = fim?.tokens
      ? fimFitted(model, request, config.maxNewTokens, fim.tokens)
      : model.input.fitPrompt(encoded, {
          name: request.model.source,
          maxContext: info.maxContext,
          maxNewTokens: config.maxNewTokens,
          truncate: request.truncatePrompt ?? false,
          bosIds: model.bosIds,
        });
    const localLength = fitted.inputIds.length;
    const withContext = request.context ? promptWithContext(model, request, fitted.inputIds, config.maxNewTokens, fim?.tokens) : undefined;
    const inputIds = withContext?.inputIds ?? fitted.inputIds;
    // The context shares the decoder's window with the prompt (a Seq2Seq source, which takes none, keeps its own count).
    const maxNewTokens = withContext ? Math.min(fitted.maxNewTokens, info.maxContext - inputIds.length) : fitted.maxNewTokens;
    const inputLength = fim?.tokens ? localLength : encoded.length;
    // The middle ends at the format's own end markers too.
    const decoding = fim?.tokens ? { ...model, eosTokenIds: [...new Set([...model.eosTokenIds, ...fim.tokens.stopIds])] } : model;

    const started = performance.now();
    const out = await decode(decoding, inputIds, { ...config, maxNewTokens, attentions: wantAttentions, logitLens: config.logitLens && lensProblem === null }, request.forcedPrefixIds ?? [], {
      isCancelled: hooks.isCancelled,
      onToken: request.stream ? hooks.onToken : undefined,
      promptLine: fim?.tokens ? request.prompt.slice(request.prompt.lastIndexOf('\n') + 1) : task.input.slice(task.input.lastIndexOf('\n') + 1),
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
      lensUnavailable: lensProblem ?? undefined,
      ...(fim?.tokens ? { fim: { format: fim.tokens.format.name, promptTokens: inputIds.length } } : {}),
      ...(fim && !fim.tokens ? { fimUnavailable: fim.unavailable } : {}),
      ...(withContext ? { context: { tokens: withContext.added.ids.length, style: withContext.added.style, snippets: withContext.added.snippets, offered: request.context!.snippets.length } } : {}),
      inputTokens: inputIds.map((id) => tokenText(tokenizer, id)),
      inputIds,
      inputTruncated: localLength < inputLength ? { tokens: inputLength, kept: localLength } : undefined,
      generationSettings: report,
    };
  }

  /** GLTR-style inspection of existing text: every token's probability, rank and alternatives in one pass. */
  async score(request: ScoreRequest, hooks: RequestHooks = NEVER_CANCELLED): Promise<ScoreResult> {
    if (request.model?.endpoint) return servedScore(request, hooks);
    const model = await this.load(request.model, hooks);
    const { info, tokenizer } = model;
    if (typeof request.text !== 'string' || request.text.length === 0) throw new InferenceError('bad-request', 'There is no text to score.');
    const topN = request.topAlternatives ?? 10;
    const wantAttentions = (request.attentions ?? false) && info.attentionUnavailable === null;
    const lensProblem = request.logitLens ? lensProblemOf(info, 'greedy') : null;
    const wantLens = (request.logitLens ?? false) && lensProblem === null;
    const plan = model.input.planScore({ tokenizer, name: request.model.source, maxContext: info.maxContext, text: request.text, source: request.source, truncate: request.truncate ?? false });
    const { sourceIds, targetIds, truncated } = plan;
    if (hooks.isCancelled()) throw new InferenceError('cancelled', 'Scoring was cancelled.');
    const session = await model.start(plan.startIds, wantAttentions, wantLens);
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
    if (wantLens && step.residuals && model.lens) {
      const picks = targetIds.map((chosen, i) => ({ row: 0, position: offset + i, chosen }));
      const lens = await logitLens(model.lens, step.residuals, picks, tokenizer);
      tokens.forEach((t, i) => (tokens[i] = { ...t, lens: lens[i] }));
    }
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
      lensUnavailable: lensProblem ?? undefined,
      sourceTokens: sourceIds.length ? sourceIds.map((id) => tokenText(tokenizer, id)) : undefined,
    };
  }
}

/** Why the logit lens cannot be given for this model and strategy (null when it can). */
function lensProblemOf(info: ModelInfo, strategy: Strategy): string | null {
  if (info.lensUnavailable !== null && info.lensUnavailable !== undefined) return info.lensUnavailable;
  if (info.lensUnavailable === undefined) return 'The logit lens cannot be computed for this model.';
  return strategy === 'beam' ? 'The logit lens follows one sequence: it is given for greedy decoding and sampling, not for beam search.' : null;
}

/** The model's fill-in-the-middle markers for a request with a suffix, or why it continues the prefix alone. */
function fillInTheMiddle(model: LoadedModel, request: GenerateRequest): { tokens?: FimTokens; unavailable: string } {
  if (!continuesPrompt(model.info)) throw new InferenceError('bad-request', `A suffix is for fill-in-the-middle with a decoder model; "${request.model.source}" is a Seq2Seq model.`);
  if (request.task && request.task.kind !== 'generate') throw new InferenceError('bad-request', `A suffix is for fill-in-the-middle, not for ${request.task.kind}.`);
  const blank = blankSuffix(request.suffix ?? '');
  if (blank) return { unavailable: blank };
  const tokens = fimTokens(vocabularyOf(model.tokenizer), declaredFimOrder(model.folder.config, model.folder.folder));
  return { tokens, unavailable: `"${request.model.source}" has no fill-in-the-middle tokens: it continued the text before the cursor alone.` };
}

/**
 * The fitted prompt with the request's context (file path, other files' snippets) in the tokens left beside it and
 * the new tokens: before the prompt for a model with file separators (before a fill-in-the-middle prompt's first
 * marker, as Qwen2.5-Coder's repository format has it), else as comments at the start of the prefix.
 */
function promptWithContext(model: LoadedModel, request: GenerateRequest, inputIds: number[], maxNewTokens: number, fim: FimTokens | undefined): { inputIds: number[]; added: ContextIds } {
  if (!continuesPrompt(model.info)) throw new InferenceError('bad-request', `A prompt context is for a decoder model; "${request.model.source}" is a Seq2Seq model.`);
  if (request.task && request.task.kind !== 'generate') throw new InferenceError('bad-request', `A prompt context is for generation, not for ${request.task.kind}.`);
  const { maxContext } = model.info;
  const room = maxContext - Math.min(maxNewTokens, Math.max(1, maxContext - 8)) - inputIds.length;
  const added = contextIds(model.tokenizer, vocabularyOf(model.tokenizer), request.context!, room);
  const leading = inputIds.length > 0 && model.bosIds.includes(inputIds[0]!) ? 1 : 0;
  let at = leading;
  if (fim && added.style === 'comments') at = fimPrefixStart(fim, inputIds);
  return { inputIds: [...inputIds.slice(0, at), ...added.ids, ...inputIds.slice(at)], added };
}

/** A fill-in-the-middle prompt fitted to the context with room for the new tokens. */
function fimFitted(model: LoadedModel, request: GenerateRequest, maxNewTokens: number, tokens: FimTokens): { inputIds: number[]; maxNewTokens: number } {
  const { maxContext } = model.info;
  const newTokens = Math.min(maxNewTokens, Math.max(1, maxContext - 8));
  const inputIds = fimPromptIds(model.tokenizer, tokens, request.prompt, request.suffix ?? '', maxContext - newTokens, request.truncatePrompt ?? false, request.model.source);
  return { inputIds, maxNewTokens: Math.min(maxNewTokens, maxContext - inputIds.length) };
}
