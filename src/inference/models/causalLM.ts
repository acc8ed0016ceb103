import { InferenceError } from '../errors';
import * as ort from 'onnxruntime-node';
import { configNumber } from './modelFiles';
import type { AttentionOutput } from './modelFiles';
import type { DecoderSession, StepAttention, StepResult } from './modelAdapter';
import { cacheLayout, declaredDim, emptyCache, filledInt64, gatherRows, int64Tensor, keepPositions, stepResult, type CacheLayout } from './tensors';

/** What the decoder-only graph declares and needs, read once at load time. */
export interface CausalGraph {
  readonly session: ort.InferenceSession;
  readonly attentionOutputs: readonly AttentionOutput[];
  /** The residual stream after each block, in layer order (empty unless tapped for the logit lens). */
  readonly residualOutputs: readonly string[];
  readonly numLayers: number;
  readonly kvHeads: number;
  readonly headDim: number;
  readonly pastNames: readonly string[];
  /** Each cache input's layout (element type, position axis), from the graph. */
  readonly pastLayouts: ReadonlyMap<string, CacheLayout>;
  readonly hasPositionIds: boolean;
  readonly hasAttentionMask: boolean;
  readonly hasCacheBranch: boolean;
  readonly hasLogitsToKeep: boolean;
}

export function describeCausalGraph(session: ort.InferenceSession, config: Record<string, unknown>, attentionOutputs: readonly AttentionOutput[], residualOutputs: readonly string[] = []): CausalGraph {
  const inputs = new Set(session.inputNames);
  // A graph of another kind (an encoder, a classifier) in the decoder's place: say so before a run fails obscurely.
  const missing = [...(['input_ids'].filter((n) => !inputs.has(n))), ...(session.outputNames.includes('logits') ? [] : ['the output logits'])];
  if (missing.length > 0) {
    throw new InferenceError('unsupported-model', `The ONNX graph is not a language-model decoder: it lacks ${missing.join(' and ')} (inputs: ${session.inputNames.join(', ')}; outputs: ${session.outputNames.join(', ')}).`);
  }
  const pastNames = session.inputNames.filter((n) => n.startsWith('past_key_values.'));
  const numLayers = configNumber(config, ['num_hidden_layers', 'n_layer', 'num_layers'], pastNames.length / 2);
  const heads = configNumber(config, ['num_attention_heads', 'n_head', 'num_heads']);
  const hidden = configNumber(config, ['hidden_size', 'n_embd', 'd_model']);
  const firstPast = pastNames[0];
  const kvHeads = ((firstPast && declaredDim(session, firstPast, 1)) || undefined) ?? configNumber(config, ['num_key_value_heads', 'multi_query_group_num'], heads);
  const headDim = ((firstPast && declaredDim(session, firstPast, 3)) || undefined) ?? configNumber(config, ['head_dim'], hidden / heads);
  return {
    session,
    attentionOutputs,
    residualOutputs,
    numLayers,
    kvHeads,
    headDim,
    pastNames,
    pastLayouts: new Map(pastNames.map((n) => [n, cacheLayout(session, n, [1, kvHeads, 0, headDim])])),
    hasPositionIds: inputs.has('position_ids'),
    hasAttentionMask: inputs.has('attention_mask'),
    hasCacheBranch: inputs.has('use_cache_branch'),
    hasLogitsToKeep: inputs.has('num_logits_to_keep') || inputs.has('logits_to_keep'),
  };
}

/** A decoding run of a decoder-only model with a KV cache. */
export class CausalDecoderSession implements DecoderSession {
  readonly encoderAttentions: readonly StepAttention[] = [];
  private past = new Map<string, ort.Tensor>();
  private pastLength = 0;
  private rows = 1;

  constructor(
    private readonly graph: CausalGraph,
    readonly startTokens: readonly number[],
    private readonly withAttentions: boolean,
    private readonly withLens = false,
  ) {}

  async step(tokens: readonly (readonly number[])[], allPositions = false): Promise<StepResult> {
    const g = this.graph;
    const q = tokens[0].length;
    const feeds: Record<string, ort.Tensor> = { input_ids: int64Tensor(tokens) };
    if (g.hasAttentionMask) feeds.attention_mask = filledInt64([tokens.length, this.pastLength + q], 1);
    if (g.hasPositionIds) feeds.position_ids = int64Tensor(tokens.map(() => Array.from({ length: q }, (_, i) => this.pastLength + i)));
    if (g.hasCacheBranch) feeds.use_cache_branch = new ort.Tensor('bool', [this.pastLength > 0], [1]);
    if (g.hasLogitsToKeep) {
      const name = g.session.inputNames.includes('num_logits_to_keep') ? 'num_logits_to_keep' : 'logits_to_keep';
      feeds[name] = new ort.Tensor('int64', BigInt64Array.of(BigInt(allPositions ? q : 1)), []);
    }
    for (const name of g.pastNames) feeds[name] = this.past.get(name) ?? emptyCache(g.pastLayouts.get(name)!, tokens.length, [tokens.length, g.kvHeads, 0, g.headDim]);

    const residuals = this.withLens ? g.residualOutputs : [];
    const fetches = ['logits', ...g.pastNames.map((n) => n.replace('past_key_values', 'present')), ...(this.withAttentions ? g.attentionOutputs.map((a) => a.name) : []), ...residuals];
    const out = await g.session.run(feeds, fetches);
    for (const name of g.pastNames) this.past.set(name, out[name.replace('past_key_values', 'present')]);
    this.pastLength += q;
    this.rows = tokens.length;

    return stepResult(out, this.withAttentions ? g.attentionOutputs : [], allPositions, residuals);
  }

  reorder(rows: readonly number[]): void {
    if (rows.length === this.rows && rows.every((r, i) => r === i)) return;
    for (const [name, t] of this.past) this.past.set(name, gatherRows(t, rows));
    this.rows = rows.length;
  }

  dropLast(count: number): void {
    if (count <= 0) return;
    this.pastLength -= count;
    for (const [name, t] of this.past) this.past.set(name, keepPositions(t, this.pastLength, this.graph.pastLayouts.get(name)!.positionAxis));
  }
}
