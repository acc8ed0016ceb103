import { onnx } from 'onnx-proto';
import { indexGraph, layerOf, mergedDecoderIf, type GraphIndex, type TapPoints } from './graphSurgery';

/**
 * The logit lens's view of a decoder graph: the residual stream after every block (the tensor the
 * next block, or the output head, reads), and the output head itself (final norm and unembedding)
 * as a graph of its own, so that any block's output can be read through it.
 */

/** Key of block `i`'s output among the tapped tensors. */
export const residualKey = (layer: number): string => `residual:${layer}`;

const NESTED = new Set(['If', 'Loop', 'Scan']);

function logitsName(index: GraphIndex): string | undefined {
  const outputs = index.graph.output ?? [];
  return (outputs.find((o) => o.name === 'logits') ?? outputs[0])?.name ?? undefined;
}

/**
 * Ops a quantizer inserts and names after the tensor they read (`/layers.1/…/Add_1_output_0_QuantizeLinear`):
 * they belong to whoever reads them, not to the block the name mentions.
 */
const QUANTIZER_OPS = new Set(['DynamicQuantizeLinear', 'QuantizeLinear', 'DequantizeLinear', 'Cast']);

function nodeLayer(node: onnx.INodeProto): number | undefined {
  return node.name && !QUANTIZER_OPS.has(node.opType ?? '') ? layerOf(node.name) : undefined;
}

/** The inputs of a node that carry activations (not weights or constants). */
function dynamicInputs(index: GraphIndex, node: onnx.INodeProto): string[] {
  return (node.input ?? []).filter((i) => i && !index.constants.has(i));
}

/** Walks back from the logits along activations until `stop` says a tensor is the last block's output. */
function walkBack(index: GraphIndex, from: string, stop: (tensor: string, node: onnx.INodeProto) => boolean): string | undefined {
  let tensor = from;
  for (let hops = 0; hops < 64; hops++) {
    const p = index.producer.get(tensor);
    if (p === undefined) return undefined;
    const node = index.nodes[p];
    if (stop(tensor, node)) return tensor;
    const next = dynamicInputs(index, node)[0];
    if (next === undefined) return undefined;
    tensor = next;
  }
  return undefined;
}

/** A residual Add: two activations summed (not a bias or an epsilon). */
function isResidualAdd(index: GraphIndex, node: onnx.INodeProto): boolean {
  return node.opType === 'Add' && dynamicInputs(index, node).length === 2;
}

/**
 * onnxruntime's fused residual-and-norm ops (what its optimizer and onnxruntime-genai's model builder
 * emit): `input + skip (+ bias)` is the residual stream, returned as the optional fourth output.
 */
const SKIP_NORMS = new Set(['SkipLayerNormalization', 'SkipSimplifiedLayerNormalization']);

function isSkipNorm(node: onnx.INodeProto): boolean {
  return SKIP_NORMS.has(node.opType ?? '') && node.domain === 'com.microsoft';
}

/** The residual sum a skip norm computes, named (and added as its fourth output) where the export left it out. */
function skipNormSum(node: onnx.INodeProto): string {
  const outputs = [...(node.output ?? [])];
  if (outputs[3]) return outputs[3];
  while (outputs.length < 3) outputs.push('');
  outputs[3] = `${node.name || 'SkipNorm'}/lmlens_residual_sum`;
  node.output = outputs;
  return outputs[3];
}

/** The norm a skip norm applies to its sum, as a node of its own reading `sum` (same weights, same epsilon). */
function plainNormOf(node: onnx.INodeProto, sum: string): onnx.INodeProto {
  const simplified = node.opType === 'SkipSimplifiedLayerNormalization';
  const [, , gamma, beta] = node.input ?? [];
  const epsilon = node.attribute?.find((a) => a.name === 'epsilon');
  return onnx.NodeProto.create({
    name: `${node.name ?? 'SkipNorm'}/lmlens_norm`,
    opType: simplified ? 'SimplifiedLayerNormalization' : 'LayerNormalization',
    domain: '',
    input: simplified ? [sum, gamma] : [sum, gamma, ...(beta ? [beta] : [])],
    output: [node.output![0]],
    attribute: [
      ...(epsilon ? [epsilon] : []),
      onnx.AttributeProto.create({ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: -1 }),
      onnx.AttributeProto.create({ name: 'stash_type', type: onnx.AttributeProto.AttributeType.INT, i: 1 }),
    ],
  });
}

/** A tensor of the residual stream: a residual Add's output, or a skip norm's sum. */
function residualNode(index: GraphIndex, node: onnx.INodeProto): boolean {
  return isResidualAdd(index, node) || isSkipNorm(node);
}

/** Block outputs from the module names the exporter wrote (`/h.3/…`, `/layers.3/…`, `/block.3/…`). */
function namedBlockOutputs(index: GraphIndex, logits: string, layers: number): string[] | undefined {
  const last = walkBack(index, logits, (_, node) => nodeLayer(node) !== undefined);
  if (last === undefined || nodeLayer(index.nodes[index.producer.get(last)!]) !== layers - 1) return undefined;
  const outputs = [last];
  for (let layer = layers - 2; layer >= 0; layer--) {
    // What block `layer + 1` reads from block `layer`: its output, produced last (a relative-position
    // bias that T5's first block computes for all of them is produced before it).
    let best: { tensor: string; at: number } | undefined;
    index.nodes.forEach((node, at) => {
      if (nodeLayer(node) !== layer || node.opType === 'Constant') return;
      for (const o of node.output ?? []) {
        const readByNext = (index.consumers.get(o) ?? []).some((c) => nodeLayer(index.nodes[c]) === layer + 1);
        if (readByNext && (!best || at > best.at)) best = { tensor: o, at };
      }
    });
    if (!best) return undefined;
    outputs.unshift((best as { tensor: string }).tensor);
  }
  return outputs;
}

/**
 * Block outputs of a graph without module names: the chain of residual Adds from the final norm's
 * input back to the embeddings, cut into `layers` equal blocks (two Adds per block in GPT and Llama
 * decoders, three in an encoder-decoder's decoder).
 */
function chainedBlockOutputs(index: GraphIndex, logits: string, layers: number): string[] | undefined {
  const lastTensor = walkBack(index, logits, (_, node) => residualNode(index, node));
  if (lastTensor === undefined) return undefined;
  // Each link: the node that sums the residual stream (an Add, or a fused skip norm's sum output).
  let node = index.nodes[index.producer.get(lastTensor)!];
  const chain = [node];
  for (;;) {
    const skip = isSkipNorm(node) ? dynamicInputs(index, node)[0] : dynamicInputs(index, node).find((i) => (index.consumers.get(i)?.length ?? 0) >= 2 && isResidualLink(index, i));
    const p = skip === undefined ? undefined : index.producer.get(skip);
    if (p === undefined || !isResidualLink(index, skip!)) break;
    node = index.nodes[p];
    chain.unshift(node);
  }
  const sums = chain.map((n) => (isSkipNorm(n) ? skipNormSum(n) : n.output![0]));
  // The embeddings of a model with learned positions are an Add too (token + position): not a block.
  if (sums.length % layers !== 0 && (sums.length - 1) % layers === 0) sums.shift();
  if (sums.length === 0 || sums.length % layers !== 0) return undefined;
  const perBlock = sums.length / layers;
  return Array.from({ length: layers }, (_, i) => sums[(i + 1) * perBlock - 1]);
}

/** Whether a tensor is a link of the residual chain: a residual Add's output or a skip norm's sum. */
function isResidualLink(index: GraphIndex, tensor: string): boolean {
  const p = index.producer.get(tensor);
  if (p === undefined) return false;
  const node = index.nodes[p];
  return isResidualAdd(index, node) || (isSkipNorm(node) && node.output?.[3] === tensor);
}

/** The residual stream after each block, keyed `residual:i`; or why it cannot be found. */
export function residualPoints(index: GraphIndex, layers: number): TapPoints | string {
  const logits = logitsName(index);
  if (!logits) return 'the graph has no logits output';
  const fused = index.nodes.some(isSkipNorm);
  const outputs = (fused ? undefined : namedBlockOutputs(index, logits, layers)) ?? chainedBlockOutputs(index, logits, layers);
  if (!outputs) return `the output of each of its ${layers} blocks could not be found in the graph`;
  return new Map(outputs.map((tensor, i) => [residualKey(i), tensor]));
}

/** The output head as a graph: from the last block's output to the logits. */
export interface LensHeadGraph {
  readonly bytes: Uint8Array;
  /** The input the block outputs are fed as (`[1, N, hidden]`). */
  readonly hiddenInput: string;
  /** Other graph inputs the head reads (only their shapes matter to it): input_ids, attention_mask, position_ids. */
  readonly shapeInputs: readonly string[];
  /**
   * Whether each position's logits depend on that position alone. A dynamically quantized head (q8
   * exports) scales its whole input tensor at once, so only the step's own tensor reproduces the model.
   */
  readonly perPosition: boolean;
}

const SHAPE_INPUTS = new Set(['input_ids', 'attention_mask', 'position_ids', 'decoder_input_ids', 'decoder_attention_mask']);

/**
 * Cuts the output head out of a decoder graph (the first-pass branch of a merged decoder): the nodes
 * between the last block's output and the logits, with the weights they read.
 */
export function lensHeadGraph(model: onnx.IModelProto, layers: number): LensHeadGraph | string {
  const top = model.graph!;
  const merged = mergedDecoderIf(top);
  const index = merged ? indexGraph(merged.else, [top]) : indexGraph(top);
  const points = residualPoints(index, layers);
  if (typeof points === 'string') return points;
  const hidden = points.get(residualKey(layers - 1))!;
  const logits = logitsName(index)!;
  const picked = new Set<number>();
  // A fused skip norm computes the last residual sum and normalizes it in one node: in the head it
  // becomes the plain norm of that sum.
  // (Looked up in the nodes: a skip norm's sum may have been named just now, after the index was made.)
  const hiddenAt = index.nodes.findIndex((n) => n.output?.includes(hidden));
  const normOfSum = hiddenAt >= 0 && isSkipNorm(index.nodes[hiddenAt]) ? plainNormOf(index.nodes[hiddenAt], hidden) : undefined;
  const shapeInputs = new Set<string>();
  const graphInputs = new Map((top.input ?? []).map((i) => [i.name, i] as const));
  const stack = [logits];
  const seen = new Set<string>();
  while (stack.length > 0) {
    const tensor = stack.pop()!;
    if (seen.has(tensor) || tensor === hidden) continue;
    seen.add(tensor);
    const p = index.producer.get(tensor);
    if (p === undefined) {
      if (graphInputs.has(tensor)) {
        if (!SHAPE_INPUTS.has(tensor)) return `its output head reads the input ${tensor}`;
        shapeInputs.add(tensor);
      }
      continue;
    }
    const node = p === hiddenAt && normOfSum ? normOfSum : index.nodes[p];
    if (NESTED.has(node.opType ?? '') || node.opType === 'Softmax' || (node !== normOfSum && nodeLayer(node) !== undefined)) {
      return 'its output head reads more than the last block';
    }
    picked.add(p);
    for (const input of node.input ?? []) if (input) stack.push(input);
  }
  const nodes = [...picked].sort((a, b) => a - b).map((i) => (i === hiddenAt && normOfSum ? normOfSum : index.nodes[i]));
  const used = new Set(nodes.flatMap((n) => n.input ?? []));
  const initializers = [...(index.graph.initializer ?? []), ...(merged ? (top.initializer ?? []) : [])].filter((t) => t.name && used.has(t.name));
  const elemType = (index.graph.output ?? []).find((o) => o.name === logits)?.type?.tensorType?.elemType ?? onnx.TensorProto.DataType.FLOAT;
  const head = onnx.ModelProto.create({
    irVersion: model.irVersion,
    opsetImport: model.opsetImport,
    producerName: 'local-lm-lens logit lens',
    graph: {
      name: 'lens_head',
      node: nodes,
      initializer: initializers,
      input: [
        onnx.ValueInfoProto.create({ name: hidden, type: { tensorType: { elemType } } }),
        ...[...shapeInputs].map((name) => graphInputs.get(name)!),
      ],
      output: [onnx.ValueInfoProto.create({ name: logits, type: { tensorType: { elemType } } })],
    },
  });
  const perPosition = !nodes.some((n) => n.opType === 'DynamicQuantizeLinear' || n.opType === 'DynamicQuantizeMatMul');
  return { bytes: onnx.ModelProto.encode(head).finish(), hiddenInput: hidden, shapeInputs: [...shapeInputs], perPosition };
}
