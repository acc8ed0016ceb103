import * as ort from 'onnxruntime-node';
import { configNumber } from './modelFiles';
import type { AttentionOutput } from './modelFiles';
import type { DecoderSession, StepAttention, StepResult } from './modelAdapter';
import { cacheLayout, declaredDim, emptyCache, filledInt64, attentionBlock, gatherRows, int64Tensor, keepPositions, stepResult, type CacheLayout } from './tensors';

export interface TappedSession {
  readonly session: ort.InferenceSession;
  readonly attentionOutputs: readonly AttentionOutput[];
  /** The residual stream after each block, in layer order (empty unless tapped for the logit lens). */
  readonly residualOutputs: readonly string[];
}

/** The graphs of a transformer encoder-decoder: merged decoder, or the older split pair. */
export interface EncoderDecoderGraphs {
  readonly encoder: TappedSession;
  /** Runs the first step (no past), and every step for a merged decoder. */
  readonly decoder: TappedSession;
  /** Runs the steps with a past, in the split layout. */
  readonly decoderWithPast?: TappedSession;
  readonly heads: number;
  readonly headDim: number;
  /** Each cache input's layout (element type, position axis), from the graph that takes a past. */
  readonly pastLayouts: ReadonlyMap<string, CacheLayout>;
}

export function describeEncoderDecoder(
  config: Record<string, unknown>,
  encoder: TappedSession,
  decoder: TappedSession,
  decoderWithPast?: TappedSession,
): EncoderDecoderGraphs {
  const pastSession = (decoderWithPast ?? decoder).session;
  const firstPast = pastSession.inputNames.find((n) => n.startsWith('past_key_values.'));
  const dModel = configNumber(config, ['d_model', 'hidden_size']);
  const heads = ((firstPast && declaredDim(pastSession, firstPast, 1)) || undefined) ?? configNumber(config, ['decoder_attention_heads', 'num_heads', 'num_attention_heads']);
  const headDim = ((firstPast && declaredDim(pastSession, firstPast, 3)) || undefined) ?? configNumber(config, ['d_kv', 'head_dim'], dModel / heads);
  const pastLayouts = new Map(pastSession.inputNames.filter((n) => n.startsWith('past_key_values.')).map((n) => [n, cacheLayout(pastSession, n, [1, heads, 0, headDim])]));
  return { encoder, decoder, decoderWithPast, heads, headDim, pastLayouts };
}

/** A decoding run of an encoder-decoder: the encoder runs once, the decoder step by step with its caches. */
export class EncoderDecoderSession implements DecoderSession {
  private encoderHidden!: ort.Tensor;
  private encoderMask!: ort.Tensor;
  private past = new Map<string, ort.Tensor>();
  private pastLength = 0;
  private rows = 1;
  encoderAttentions: readonly StepAttention[] = [];

  private constructor(
    private readonly graphs: EncoderDecoderGraphs,
    readonly startTokens: readonly number[],
    private readonly withAttentions: boolean,
    private readonly withLens: boolean,
  ) {}

  static async start(graphs: EncoderDecoderGraphs, inputIds: readonly number[], decoderStart: readonly number[], withAttentions: boolean, withLens = false): Promise<EncoderDecoderSession> {
    const s = new EncoderDecoderSession(graphs, decoderStart, withAttentions, withLens);
    const enc = graphs.encoder;
    const feeds: Record<string, ort.Tensor> = { input_ids: int64Tensor([inputIds]) };
    s.encoderMask = filledInt64([1, inputIds.length], 1);
    if (enc.session.inputNames.includes('attention_mask')) feeds.attention_mask = s.encoderMask;
    const fetches = ['last_hidden_state', ...(withAttentions ? enc.attentionOutputs.map((a) => a.name) : [])];
    const out = await enc.session.run(feeds, fetches);
    s.encoderHidden = out.last_hidden_state;
    if (withAttentions) {
      s.encoderAttentions = enc.attentionOutputs.map((output) => attentionBlock(output, out[output.name]));
    }
    return s;
  }

  async step(tokens: readonly (readonly number[])[], allPositions = false): Promise<StepResult> {
    const { graphs } = this;
    const usePast = this.pastLength > 0 && graphs.decoderWithPast !== undefined;
    const run = usePast ? graphs.decoderWithPast! : graphs.decoder;
    const inputs = new Set(run.session.inputNames);
    const rows = tokens.length;
    const feeds: Record<string, ort.Tensor> = { input_ids: int64Tensor(tokens) };
    if (inputs.has('encoder_attention_mask')) feeds.encoder_attention_mask = this.encoderMask;
    if (inputs.has('encoder_hidden_states')) feeds.encoder_hidden_states = this.encoderHidden;
    if (inputs.has('use_cache_branch')) feeds.use_cache_branch = new ort.Tensor('bool', [this.pastLength > 0], [1]);
    for (const name of run.session.inputNames) {
      if (name.startsWith('past_key_values.')) feeds[name] = this.past.get(name) ?? emptyCache(graphs.pastLayouts.get(name) ?? cacheLayout(run.session, name, [rows, graphs.heads, 0, graphs.headDim]), rows, [rows, graphs.heads, 0, graphs.headDim]);
    }
    const presents = run.session.outputNames.filter((n) => n.startsWith('present.'));
    const residuals = this.withLens ? run.residualOutputs : [];
    const fetches = ['logits', ...presents, ...(this.withAttentions ? run.attentionOutputs.map((a) => a.name) : []), ...residuals];
    const out = await run.session.run(feeds, fetches);
    for (const p of presents) {
      const pastName = p.replace('present', 'past_key_values');
      // The cross-attention cache is computed on the first step and reused after (as transformers.js does).
      if (p.includes('.encoder.') && this.past.has(pastName)) continue;
      this.past.set(pastName, out[p]);
    }
    this.pastLength += tokens[0].length;
    this.rows = rows;

    return stepResult(out, this.withAttentions ? run.attentionOutputs : [], allPositions, residuals);
  }

  reorder(rows: readonly number[]): void {
    if (rows.length === this.rows && rows.every((r, i) => r === i)) return;
    // Every row encodes the same source: the encoder's tensors (and the cross-attention cache made from
    // them) need new rows only when the row count changes, and any row serves as each of them.
    const sameCount = rows.length === this.rows;
    const anyRow = rows.map(() => 0);
    for (const [name, t] of this.past) {
      if (!name.includes('.encoder.')) this.past.set(name, gatherRows(t, rows));
      else if (!sameCount) this.past.set(name, gatherRows(t, anyRow));
    }
    if (!sameCount) {
      this.encoderHidden = gatherRows(this.encoderHidden, anyRow);
      this.encoderMask = gatherRows(this.encoderMask, anyRow);
    }
    this.rows = rows.length;
  }

  dropLast(count: number): void {
    if (count <= 0) return;
    this.pastLength -= count;
    // Only the decoder's self-attention cache grows with the fed tokens; the cross-attention cache is the encoder's.
    for (const [name, t] of this.past) if (name.includes('.decoder.')) this.past.set(name, keepPositions(t, this.pastLength, this.graphs.pastLayouts.get(name)?.positionAxis ?? 2));
  }
}
