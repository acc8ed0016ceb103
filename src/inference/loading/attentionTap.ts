import { readFileSync } from 'node:fs';
import { onnx } from 'onnx-proto';
import { InferenceError } from '../errors';

import type { AttentionOutput, TappedKind } from '../models/modelFiles';
import { exposeTensors, layerOf, type GraphIndex, type TapPoints } from './graphSurgery';

export { layerOf };
import { lensHeadGraph, residualKey, residualPoints, type LensHeadGraph } from './residualStream';

export type { AttentionOutput, TappedKind };

export interface TappedGraph {
  /** The re-encoded model with the tapped outputs, or null when nothing could be tapped. */
  readonly bytes: Uint8Array | null;
  readonly outputs: readonly AttentionOutput[];
  /** Why attention cannot be shown for this graph (null when it can). */
  readonly unavailable: string | null;
  /**
   * The external data files the graph's weights live in (locations relative to the graph file):
   * a session made from `bytes` must be given them, since it has no folder to look in.
   */
  readonly externalData: readonly string[];
  /** The residual stream after each block, as graph outputs in layer order (empty without a lens). */
  readonly residualOutputs: readonly string[];
  /** The output head cut out of the graph, to read any block's output through (null without a lens). */
  readonly lensHead: LensHeadGraph | null;
  /** Why the logit lens cannot be computed for this graph (null when it can, or was not asked for). */
  readonly lensUnavailable: string | null;
}

export interface TapOptions {
  /** GPT-BigCode's multi-query attention comes out `[batch, query, heads, key]`. */
  readonly queryMajor?: boolean;
  /** Tap the residual stream of this many blocks for the logit lens (decoders only). */
  readonly lensLayers?: number;
}

/** The files named by initializers stored as external data. */
function externalLocations(graph: onnx.IGraphProto): string[] {
  const out = new Set<string>();
  for (const init of graph.initializer ?? []) {
    if (init.dataLocation !== onnx.TensorProto.DataLocation.EXTERNAL) continue;
    const location = init.externalData?.find((e) => e.key === 'location')?.value;
    if (location) out.add(location);
  }
  return [...out];
}

const FUSED_ATTENTION_OPS = new Set(['Attention', 'MultiHeadAttention', 'GroupQueryAttention', 'PackedAttention', 'SparseAttention', 'PagedAttention']);

/** Which attention a softmax belongs to, from the module path in its name. */
export function kindOf(name: string, role: 'causal' | 'encoder' | 'decoder'): TappedKind {
  if (role === 'causal') return 'self';
  if (role === 'encoder') return 'encoder';
  return /encoder_attn|EncDecAttention|cross_attn|crossattention/i.test(name) ? 'cross' : 'decoder';
}

/** Where each attention's probabilities are in one graph, keyed `kind:layer`; or why there are none. */
function attentionPoints(index: GraphIndex, role: 'causal' | 'encoder' | 'decoder'): TapPoints | string {
  const softmaxes = index.nodes.filter((n) => n.opType === 'Softmax' && (n.output?.length ?? 0) > 0);
  const fusedGqa = index.nodes.filter((n) => n.opType === 'GroupQueryAttention' && n.domain === 'com.microsoft');
  if (fusedGqa.length > 0) return groupQueryAttentionPoints(fusedGqa, role);
  const fusedMha = index.nodes.filter((n) => n.opType === 'MultiHeadAttention' && n.domain === 'com.microsoft');
  if (fusedMha.length > 0) return multiHeadAttentionPoints(fusedMha, role);
  if (softmaxes.length === 0) {
    const fused = index.nodes.find((n) => FUSED_ATTENTION_OPS.has(n.opType ?? ''));
    const nested = index.nodes.some((n) => n.opType === 'Loop' || n.opType === 'Scan');
    return fused
      ? `attention is fused into ${fused.domain ? fused.domain + '.' : ''}${fused.opType} nodes, which do not expose their weights`
      : nested
        ? 'attention is inside Loop/Scan subgraphs, which cannot be tapped'
        : 'the graph has no attention Softmax nodes';
  }
  const labels = softmaxes.map((n) => `${n.name ?? ''} ${n.output![0]}`);
  const named = labels.some((l) => layerOf(l) !== undefined || /self_attn|SelfAttention|encoder_attn|EncDecAttention|cross/i.test(l));
  const points = new Map<string, string>();
  const perKindCount = new Map<TappedKind, number>();
  const perLayerCount = new Map<number, number>();
  softmaxes.forEach((node, i) => {
    const label = labels[i];
    const layerFromName = layerOf(label);
    let kind = kindOf(label, role);
    let layer = layerFromName;
    if (role === 'decoder' && !named) {
      // An export without module names: each decoder layer runs self-attention, then cross-attention.
      kind = i % 2 === 0 ? 'decoder' : 'cross';
      layer = Math.floor(i / 2);
    } else if (role === 'decoder' && layerFromName !== undefined && !/self_attn|SelfAttention|encoder_attn|EncDecAttention|cross/i.test(label)) {
      // Module paths without the attention's name: self-attention first, then cross-attention.
      const seen = perLayerCount.get(layerFromName) ?? 0;
      perLayerCount.set(layerFromName, seen + 1);
      kind = seen === 0 ? 'decoder' : 'cross';
    }
    const ordinal = perKindCount.get(kind) ?? 0;
    perKindCount.set(kind, ordinal + 1);
    points.set(`${kind}:${layer ?? ordinal}`, node.output![0]);
  });
  return points;
}

/** onnxruntime's `qk_output` value for GroupQueryAttention's probabilities after the softmax (`QKOutputType::AFTER_SOFTMAX`). */
const QK_AFTER_SOFTMAX = 2;

/**
 * onnxruntime's fused `com.microsoft.GroupQueryAttention` (what onnxruntime-genai's model builder
 * emits for Llama, Qwen, Phi, Mistral) computes its probabilities inside the kernel. Its optional
 * fourth output, `output_qk`, returns them (`[batch, heads, query, past + query]`) when the node's
 * `qk_output` attribute asks for them after the softmax; the attention output is computed as before.
 */
function groupQueryAttentionPoints(nodes: readonly onnx.INodeProto[], role: 'causal' | 'encoder' | 'decoder'): TapPoints {
  const points = new Map<string, string>();
  nodes.forEach((node, i) => {
    const kind = kindOf(`${node.name ?? ''}`, role);
    const layer = layerOf(node.name ?? '') ?? i;
    node.attribute = (node.attribute ?? []).filter((a) => a.name !== 'qk_output');
    node.attribute.push(onnx.AttributeProto.create({ name: 'qk_output', type: onnx.AttributeProto.AttributeType.INT, i: QK_AFTER_SOFTMAX }));
    const outputs = [...(node.output ?? [])];
    while (outputs.length < 3) outputs.push('');
    const name = outputs[3] || `${node.name || `GroupQueryAttention_${i}`}/output_qk`;
    outputs[3] = name;
    node.output = outputs;
    points.set(`${kind}:${layer}`, name);
  });
  return points;
}

/**
 * onnxruntime's fused `com.microsoft.MultiHeadAttention` returns, as its optional fourth output
 * `output_qk`, the scaled and masked scores before the softmax (`[batch, heads, query, key]`): the
 * probabilities are their row softmax, taken when the step is read (`AttentionOutput.scores`).
 */
function multiHeadAttentionPoints(nodes: readonly onnx.INodeProto[], role: 'causal' | 'encoder' | 'decoder'): TapPoints {
  const points = new Map<string, string>();
  nodes.forEach((node, i) => {
    const outputs = [...(node.output ?? [])];
    while (outputs.length < 3) outputs.push('');
    const name = outputs[3] || `${node.name || `MultiHeadAttention_${i}`}/output_qk`;
    outputs[3] = name;
    node.output = outputs;
    points.set(`${kindOf(node.name ?? '', role)}:${layerOf(node.name ?? '') ?? i}:${SCORES}`, name);
  });
  return points;
}

/** Marks a tapped point whose values are scores before the softmax. */
const SCORES = 'scores';

/** The prefix of the outputs a merged decoder's `If` node gains. */
const ATTENTION_PREFIX = 'lmlens_attention:';

/**
 * Rewrites an ONNX model (in place) so that every attention Softmax output is also a graph output,
 * in a plain graph or in both branches of a merged decoder.
 */
export function tapAttentionInModel(model: onnx.ModelProto, role: 'causal' | 'encoder' | 'decoder', queryMajor = false): { outputs: AttentionOutput[]; unavailable: string | null } {
  const exposed = exposeTensors(model, (index) => attentionPoints(index, role), ATTENTION_PREFIX);
  if (exposed.unavailable !== null) return { outputs: [], unavailable: `Attention cannot be shown for this model: ${exposed.unavailable}.` };
  const outputs = [...exposed.outputs].map(([key, name]) => {
    const [kind, layer, values] = key.split(':');
    return { name, kind: kind as TappedKind, layer: Number(layer), ...(queryMajor ? { queryMajor } : {}), ...(values === SCORES ? { scores: true } : {}) };
  });
  return { outputs, unavailable: null };
}

/** Decodes an ONNX file, saying plainly when it is not one. */
function readModelProto(modelPath: string): onnx.ModelProto {
  let model: onnx.ModelProto;
  try {
    model = onnx.ModelProto.decode(readFileSync(modelPath));
  } catch (err) {
    throw new InferenceError('model-corrupt', `Could not decode ${modelPath}: the file is corrupt or truncated (${(err as Error).message}).`);
  }
  if (!model.graph?.node || !model.graph.output) throw new InferenceError('model-corrupt', `${modelPath} has no graph.`);
  return model;
}

/**
 * Rewrites an ONNX model so that every attention Softmax output is also a graph output. Models over
 * 2 GB keep their weights in external data files; only the graph file is decoded and re-encoded.
 */
export function tapAttention(modelPath: string, role: 'causal' | 'encoder' | 'decoder', options: TapOptions = {}): TappedGraph {
  const model = readModelProto(modelPath);
  const externalData = externalLocations(model.graph!);
  // The head is cut out before any output is added, from the graph as exported.
  const layers = options.lensLayers ?? 0;
  const head = layers > 0 ? lensHeadGraph(model, layers) : null;
  const { outputs, unavailable } = tapAttentionInModel(model, role, options.queryMajor ?? false);
  let residualOutputs: string[] = [];
  let lensUnavailable: string | null = null;
  if (typeof head === 'string') lensUnavailable = `The logit lens cannot be computed for this model: ${head}.`;
  else if (head) {
    const exposed = exposeTensors(model, (index) => residualPoints(index, layers), RESIDUAL_PREFIX);
    if (exposed.unavailable !== null) lensUnavailable = `The logit lens cannot be computed for this model: ${exposed.unavailable}.`;
    else residualOutputs = Array.from({ length: layers }, (_, i) => exposed.outputs.get(residualKey(i))!);
  }
  const lensHead = residualOutputs.length > 0 && head && typeof head !== 'string' ? head : null;
  const tapped = outputs.length > 0 || residualOutputs.length > 0;
  return {
    bytes: tapped ? onnx.ModelProto.encode(model).finish() : null,
    outputs,
    unavailable,
    externalData,
    residualOutputs,
    lensHead,
    lensUnavailable,
  };
}

/** The prefix of the residual-stream outputs a merged decoder's `If` node gains. */
const RESIDUAL_PREFIX = 'lmlens_';
