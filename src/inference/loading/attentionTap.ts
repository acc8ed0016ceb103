import { readFileSync } from 'node:fs';
import { onnx } from 'onnx-proto';
import { InferenceError } from '../errors';

import type { AttentionOutput, TappedKind } from '../models/modelFiles';

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

/** The float type the graph computes in: float16 for an fp16 export, else float32. */
function floatType(graph: onnx.IGraphProto): number {
  const F = onnx.TensorProto.DataType;
  for (const o of graph.output ?? []) {
    const t = o.type?.tensorType?.elemType;
    if (t === F.FLOAT16 || t === F.FLOAT) return t;
  }
  return F.FLOAT;
}

const FUSED_ATTENTION_OPS = new Set(['Attention', 'MultiHeadAttention', 'GroupQueryAttention', 'PackedAttention', 'SparseAttention', 'PagedAttention']);

/** Reads the layer index from an exported node name such as `/transformer/h.3/attn/Softmax`. */
export function layerOf(name: string): number | undefined {
  for (const pattern of [/block[._/](\d+)/, /layers[._/](\d+)/, /\/h[._](\d+)\//, /layer[._/](\d+)/]) {
    const m = pattern.exec(name);
    if (m) return Number(m[1]);
  }
  return undefined;
}

/** Which attention a softmax belongs to, from the module path in its name. */
export function kindOf(name: string, role: 'causal' | 'encoder' | 'decoder'): TappedKind {
  if (role === 'causal') return 'self';
  if (role === 'encoder') return 'encoder';
  return /encoder_attn|EncDecAttention|cross_attn|crossattention/i.test(name) ? 'cross' : 'decoder';
}

/**
 * Rewrites an ONNX model so that every attention Softmax output is also a graph output. Models over
 * 2 GB keep their weights in external data files; only the graph file is decoded and re-encoded, and
 * the caller must create the session with the original folder as its working directory.
 */
export function tapAttention(modelPath: string, role: 'causal' | 'encoder' | 'decoder'): TappedGraph {
  let model: onnx.ModelProto;
  try {
    model = onnx.ModelProto.decode(readFileSync(modelPath));
  } catch (err) {
    throw new InferenceError('model-corrupt', `Could not decode ${modelPath}: the file is corrupt or truncated (${(err as Error).message}).`);
  }
  const graph = model.graph;
  if (!graph?.node || !graph.output) throw new InferenceError('model-corrupt', `${modelPath} has no graph.`);
  const nodes = graph.node;
  const graphOutputs = graph.output;
  const externalData = externalLocations(graph);
  const elemType = floatType(graph);

  const softmaxes = nodes.filter((n) => n.opType === 'Softmax' && (n.output?.length ?? 0) > 0);
  if (softmaxes.length === 0) {
    const fused = nodes.find((n) => FUSED_ATTENTION_OPS.has(n.opType ?? ''));
    const nested = nodes.some((n) => n.opType === 'If' || n.opType === 'Loop');
    const reason = fused
      ? `attention is fused into ${fused.domain ? fused.domain + '.' : ''}${fused.opType} nodes, which do not expose their weights`
      : nested
        ? 'attention is inside If/Loop subgraphs (a merged decoder), which cannot be tapped'
        : 'the graph has no attention Softmax nodes';
    return { bytes: null, outputs: [], unavailable: `Attention cannot be shown for this model: ${reason}.`, externalData };
  }

  const existing = new Set(graphOutputs.map((o) => o.name));
  const perKindCount = new Map<TappedKind, number>();
  const perLayerCount = new Map<number, number>();
  const outputs: AttentionOutput[] = [];
  for (const node of softmaxes) {
    const name = node.output![0];
    const label = `${node.name ?? ''} ${name}`;
    const layerFromName = layerOf(label);
    let kind = kindOf(label, role);
    if (role === 'decoder' && layerFromName !== undefined && !/self_attn|SelfAttention|encoder_attn|EncDecAttention|cross/i.test(label)) {
      // Exports without module names: each decoder layer runs self-attention first, then cross-attention.
      const seen = perLayerCount.get(layerFromName) ?? 0;
      perLayerCount.set(layerFromName, seen + 1);
      kind = seen === 0 ? 'decoder' : 'cross';
    }
    const ordinal = perKindCount.get(kind) ?? 0;
    perKindCount.set(kind, ordinal + 1);
    outputs.push({ name, kind, layer: layerFromName ?? ordinal });
    if (!existing.has(name)) {
      graphOutputs.push(onnx.ValueInfoProto.create({ name, type: { tensorType: { elemType } } }));
    }
  }
  const bytes = onnx.ModelProto.encode(model).finish();
  return { bytes, outputs, unavailable: null, externalData };
}
