import { onnx } from 'onnx-proto';

/**
 * The graph rewriting the inspection taps share: making inner tensors visible as outputs, in a plain
 * graph or inside the two branches of the `If` node that Optimum's merged decoders are made of
 * (`decoder_model_merged.onnx`: one branch without a cache, one with it, switched on `use_cache_branch`).
 */

/** Reads the layer index from an exported node name such as `/transformer/h.3/attn/Softmax`. */
export function layerOf(name: string): number | undefined {
  for (const pattern of [/block[._/](\d+)/, /layers[._/](\d+)/, /\/h[._](\d+)\//, /layer[._/](\d+)/]) {
    const m = pattern.exec(name);
    if (m) return Number(m[1]);
  }
  return undefined;
}

/** Who produces and who consumes each tensor of one graph (not of its subgraphs). */
export interface GraphIndex {
  readonly graph: onnx.IGraphProto;
  readonly nodes: readonly onnx.INodeProto[];
  readonly producer: ReadonlyMap<string, number>;
  readonly consumers: ReadonlyMap<string, readonly number[]>;
  /** Initializers and Constant outputs of this graph and the graphs around it. */
  readonly constants: ReadonlySet<string>;
}

export function indexGraph(graph: onnx.IGraphProto, outer: readonly onnx.IGraphProto[] = []): GraphIndex {
  const nodes = graph.node ?? [];
  const producer = new Map<string, number>();
  const consumers = new Map<string, number[]>();
  const constants = new Set<string>();
  for (const g of [graph, ...outer]) for (const init of g.initializer ?? []) if (init.name) constants.add(init.name);
  nodes.forEach((n, i) => {
    for (const o of n.output ?? []) {
      if (!o) continue;
      producer.set(o, i);
      if (n.opType === 'Constant') constants.add(o);
    }
    for (const input of n.input ?? []) {
      if (!input) continue;
      const list = consumers.get(input) ?? [];
      list.push(i);
      consumers.set(input, list);
    }
  });
  return { graph, nodes, producer, consumers, constants };
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

/** The tensors to expose, by a key that names the same tensor in either branch of a merged decoder. */
export type TapPoints = ReadonlyMap<string, string>;

/** Finds the tensors to expose in one graph, or says why there are none. */
export type TapFinder = (index: GraphIndex) => TapPoints | string;

export interface ExposedTensors {
  /** Graph output name by key (the keys of the points found). */
  readonly outputs: ReadonlyMap<string, string>;
  /** Why nothing was exposed (null when something was). */
  readonly unavailable: string | null;
}

/** The `If` node of an Optimum merged decoder (the only If of the top graph, with both branches). */
export function mergedDecoderIf(graph: onnx.IGraphProto): { node: onnx.INodeProto; then: onnx.IGraphProto; else: onnx.IGraphProto } | undefined {
  const ifs = (graph.node ?? []).filter((n) => n.opType === 'If');
  if (ifs.length !== 1) return undefined;
  const node = ifs[0];
  const branch = (name: string) => node.attribute?.find((a) => a.name === name)?.g ?? undefined;
  const thenGraph = branch('then_branch');
  const elseGraph = branch('else_branch');
  return thenGraph && elseGraph ? { node, then: thenGraph, else: elseGraph } : undefined;
}

/**
 * Makes the tensors `find` picks graph outputs of `model` (in place). In a merged decoder the points
 * are found in both branches, added to each branch's outputs in one order and to the `If` node's
 * outputs, so whichever branch runs returns them. The branches must expose the same keys.
 */
export function exposeTensors(model: onnx.ModelProto, find: TapFinder, prefix: string): ExposedTensors {
  const graph = model.graph!;
  graph.output ??= [];
  const elemType = floatType(graph);
  const top = find(indexGraph(graph));
  if (typeof top !== 'string' && top.size > 0) {
    const existing = new Set(graph.output.map((o) => o.name));
    for (const name of top.values()) {
      if (!existing.has(name)) graph.output.push(onnx.ValueInfoProto.create({ name, type: { tensorType: { elemType } } }));
      existing.add(name);
    }
    return { outputs: top, unavailable: null };
  }
  const merged = mergedDecoderIf(graph);
  if (!merged) return { outputs: new Map(), unavailable: typeof top === 'string' ? top : 'nothing to expose was found' };
  const inThen = find(indexGraph(merged.then, [graph]));
  const inElse = find(indexGraph(merged.else, [graph]));
  if (typeof inThen === 'string') return { outputs: new Map(), unavailable: `${inThen} (in the merged decoder's with-cache branch)` };
  if (typeof inElse === 'string') return { outputs: new Map(), unavailable: `${inElse} (in the merged decoder's first-pass branch)` };
  const keys = [...inElse.keys()];
  const missing = keys.filter((k) => !inThen.has(k)).concat([...inThen.keys()].filter((k) => !inElse.has(k)));
  if (keys.length === 0 || missing.length > 0) {
    return { outputs: new Map(), unavailable: `the merged decoder's two branches differ (${missing.slice(0, 4).join(', ') || 'nothing found'})` };
  }
  const outputs = new Map<string, string>();
  for (const key of keys) {
    const outer = `${prefix}${key}`;
    for (const [branch, points] of [[merged.then, inThen], [merged.else, inElse]] as const) {
      branch.output ??= [];
      branch.output.push(onnx.ValueInfoProto.create({ name: points.get(key)!, type: { tensorType: { elemType: floatType(branch) } } }));
    }
    merged.node.output!.push(outer);
    graph.output.push(onnx.ValueInfoProto.create({ name: outer, type: { tensorType: { elemType } } }));
    outputs.set(key, outer);
  }
  return { outputs, unavailable: null };
}
