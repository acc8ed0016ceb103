"""Graph-level dtype conversions that reproduce what the real dtype files on the Hub contain.

fp16   : every float tensor (initializers, Constant values, Cast targets, ConstantOfShape values) and every
         float graph input/output becomes float16, as in Optimum fp16 exports (past_key_values, present.*,
         logits in float16). Trace the source graph with the float16 mask constant (-65504) first.
q8     : onnxruntime quantize_dynamic / transformers.js `quantize.py --modes q8` (IntegerOps, QInt8 weights,
         per-tensor, symmetric, MatMulConstBOnly): MatMul(A, W) -> DynamicQuantizeLinear(A) +
         MatMulInteger(A_q, W_q int8, A_zp, W_zp) -> Cast(float) -> Mul(A_scale * W_scale);
         Gather(W, ids) -> Gather(W_q int8) -> DequantizeLinear(., W_scale, W_zp).
q4     : onnxruntime MatMul4BitsQuantizer defaults (block 32, symmetric, 4 bits): MatMul(A, W[K,N]) ->
         com.microsoft MatMulNBits(A, B uint8 [N, K/32, 16], scales [N*K/32]; no zero_points: implicit 8),
         attributes K, N, bits=4, block_size=32. Packing: low nibble = even row, high nibble = odd row.
int8   : = q8 (quantize.py --modes int8 forces QInt8; q8 picks QInt8 too unless the graph has Conv/GQA/MHA).
uint8  : quantize_dynamic with QUInt8 weights: asymmetric per-tensor (zero point round(-min/scale), uint8),
         same MatMulInteger / Gather + DequantizeLinear pattern.
bnb4   : onnxruntime MatMulBnb4Quantizer as quantize.py calls it (quant_type NF4 = 1, block_size 64):
         MatMul(A, W) -> com.microsoft MatMulBnb4(A, B uint8 [(N*K+1)/2], absmax [N*K/64]; K, N, block_size,
         quant_type), blocks over the flattened transposed weight, first value in the high nibble.
"""
from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

F32, F16 = TensorProto.FLOAT, TensorProto.FLOAT16


def _walk(graph):
    yield graph
    for n in graph.node:
        for a in n.attribute:
            if a.type == onnx.AttributeProto.GRAPH:
                yield from _walk(a.g)


def to_fp16(model: onnx.ModelProto) -> onnx.ModelProto:
    m = onnx.ModelProto.FromString(model.SerializeToString())
    for g in _walk(m.graph):
        for i, t in enumerate(g.initializer):
            if t.data_type == F32:
                a = numpy_helper.to_array(t).astype(np.float16)
                g.initializer[i].CopyFrom(numpy_helper.from_array(a, t.name))
        for n in g.node:
            for a in n.attribute:
                if a.type == onnx.AttributeProto.TENSOR and a.t.data_type == F32:
                    arr = numpy_helper.to_array(a.t).astype(np.float16)
                    a.t.CopyFrom(numpy_helper.from_array(arr, a.t.name))
                if n.op_type == "Cast" and a.name == "to" and a.i == F32:
                    a.i = F16
        for vi in list(g.input) + list(g.output):
            if vi.type.tensor_type.elem_type == F32:
                vi.type.tensor_type.elem_type = F16
        del g.value_info[:]
    return m


def _consumers(graph):
    c = {}
    for n in graph.node:
        for x in n.input:
            c.setdefault(x, []).append(n)
    return c


def _q8_weight(w: np.ndarray, weight_type: str):
    """onnxruntime quantize_dynamic per-tensor weight quantization (reduce_range off).
    int8 : symmetric, scale = max|w| / 127, zero point 0, q in [-127, 127];
    uint8: asymmetric over [min(w, 0), max(w, 0)], scale = (rmax - rmin) / 255, zero point round(-rmin / scale),
           q = clip(round(w / scale) + zp, 0, 255)."""
    w = w.astype(np.float32)
    if weight_type == "int8":
        amax = max(abs(float(w.min())), abs(float(w.max())), 0.0)
        scale = np.float32(amax / 127.0) if amax > 0 else np.float32(1.0)
        return np.clip(np.rint(w / scale), -127, 127).astype(np.int8), scale, np.array(0, np.int8)
    assert weight_type == "uint8", weight_type
    rmin, rmax = np.float32(min(float(w.min()), 0.0)), np.float32(max(float(w.max()), 0.0))
    scale = np.float32((rmax - rmin) / np.float64(255))
    if scale < np.finfo(np.float32).tiny:
        scale, zp = np.float32(1.0), np.float32(0.0)
    else:
        zp = np.float32(np.round(np.float32(0) - rmin / scale))
    q = np.clip(np.rint(w / scale) + zp, 0, 255).astype(np.uint8)
    return q, scale, np.array(int(zp), np.uint8)


def _all_node_inputs(graph, acc=None):
    acc = set() if acc is None else acc
    for n in graph.node:
        acc.update(n.input)
        for a in n.attribute:
            if a.type == onnx.AttributeProto.GRAPH:
                _all_node_inputs(a.g, acc)
    return acc


def _q8_graph(g, outer: dict, weight_type: str, used_w: set) -> None:
    """Rewrites one graph (and, first, the If/Loop bodies it holds: quantize.py's EnableSubgraph) in place.
    Quantized weights are added to the graph of the node that uses them, as ORT's sub-quantizer does; weights
    are looked up in enclosing scopes too (Optimum's merge hoists the branches' weights to the outer graph)."""
    inits = dict(outer)
    inits.update({t.name: t for t in g.initializer})
    for n in g.node:
        for a in n.attribute:
            if a.type == onnx.AttributeProto.GRAPH:
                _q8_graph(a.g, inits, weight_type, used_w)
    new_nodes, new_inits, done_w = [], [], {}

    def qweight(name):
        if name in done_w:
            return done_w[name]
        q, scale, zp = _q8_weight(numpy_helper.to_array(inits[name]), weight_type)
        new_inits.extend([numpy_helper.from_array(q, name + "_quantized"),
                          numpy_helper.from_array(np.array(scale, np.float32), name + "_scale"),
                          numpy_helper.from_array(zp, name + "_zero_point")])
        done_w[name] = (name + "_quantized", name + "_scale", name + "_zero_point")
        return done_w[name]

    for n in g.node:
        if n.op_type == "MatMul" and n.input[1] in inits and len(inits[n.input[1]].dims) == 2:
            a, w = n.input
            wq, ws, wz = qweight(w)
            used_w.add(w)
            base = n.name or n.output[0]
            aq, as_, az = a + "_quantized", a + "_scale", a + "_zero_point"
            new_nodes.append(helper.make_node("DynamicQuantizeLinear", [a], [aq, as_, az], name=a + "_QuantizeLinear"))
            o32 = n.output[0] + "_output_quantized"
            new_nodes.append(helper.make_node("MatMulInteger", [aq, wq, az, wz], [o32], name=base + "_quant"))
            of = o32 + "_cast_output"
            new_nodes.append(helper.make_node("Cast", [o32], [of], name=base + "_quant_output_scale_mul_cast", to=F32))
            sc = base + "_quant_scales_mul:0"
            new_nodes.append(helper.make_node("Mul", [as_, ws], [sc], name=base + "_quant_scales_mul"))
            new_nodes.append(helper.make_node("Mul", [of, sc], [n.output[0]], name=base + "_quant_output_scale_mul"))
        elif n.op_type == "Gather" and n.input[0] in inits and len(inits[n.input[0]].dims) == 2 \
                and inits[n.input[0]].data_type == F32:
            w, ids = n.input
            wq, ws, wz = qweight(w)
            used_w.add(w)
            qo = n.output[0] + "_quantized"
            new_nodes.append(helper.make_node("Gather", [wq, ids], [qo], name=(n.name or qo) + "_quant",
                                              **{a.name: helper.get_attribute_value(a) for a in n.attribute}))
            new_nodes.append(helper.make_node("DequantizeLinear", [qo, ws, wz], [n.output[0]],
                                              name=n.output[0] + "_DequantizeLinear"))
        else:
            new_nodes.append(n)
    # DynamicQuantizeLinear of the same activation feeding several MatMuls: keep the first only
    seen, nodes = set(), []
    for n in new_nodes:
        if n.op_type == "DynamicQuantizeLinear":
            if n.input[0] in seen:
                continue
            seen.add(n.input[0])
        nodes.append(n)
    del g.node[:]
    g.node.extend(nodes)
    g.initializer.extend(new_inits)
    del g.value_info[:]


def quantize_q8(model: onnx.ModelProto, weight_type: str = "int8") -> onnx.ModelProto:
    """q8 / int8 (weight_type "int8", QInt8) and uint8 (weight_type "uint8", QUInt8): IntegerOps, per-tensor,
    MatMulConstBOnly, EnableSubgraph. Gemm is not an IntegerOps op (onnxruntime's IntegerOpsRegistry: Conv,
    MatMul, Attention, LSTM, Gather, EmbedLayerNormalization), so Gemm weights stay float, as in the real files."""
    m = onnx.ModelProto.FromString(model.SerializeToString())
    used_w: set = set()
    _q8_graph(m.graph, {}, weight_type, used_w)
    still = _all_node_inputs(m.graph)
    for g in _walk(m.graph):  # drop the float weights nothing reads any more (ORT: clean_initializers)
        keep = [t for t in g.initializer if t.name not in used_w or t.name in still]
        del g.initializer[:]
        g.initializer.extend(keep)
    return m


def q4_block(w: np.ndarray, block: int = 32):
    """w [K, N] float -> (B uint8 [N, nb, block/2], scales [N*nb] (w's dtype)), symmetric, zero point 8."""
    K, N = w.shape
    nb = (K + block - 1) // block
    wt = np.zeros((N, nb * block), np.float32)
    wt[:, :K] = w.T.astype(np.float32)
    blk = wt.reshape(N, nb, block)
    idx = np.argmax(np.abs(blk), axis=2)
    vmax = np.take_along_axis(blk, idx[..., None], 2)[..., 0]  # signed value of largest magnitude
    scale = vmax / -8.0
    recip = np.where(scale != 0, 1.0 / np.where(scale != 0, scale, 1), 0.0)
    q = np.clip(np.round(blk * recip[..., None]) + 8, 0, 15).astype(np.uint8)
    packed = (q[..., 0::2] | (q[..., 1::2] << 4)).astype(np.uint8)
    return packed, scale.reshape(-1).astype(w.dtype)


def q4_dequant(packed: np.ndarray, scales: np.ndarray, K: int) -> np.ndarray:
    N, nb, half = packed.shape
    q = np.zeros((N, nb, half * 2), np.float32)
    q[..., 0::2] = packed & 0x0F
    q[..., 1::2] = packed >> 4
    w = (q - 8) * scales.reshape(N, nb, 1).astype(np.float32)
    return w.reshape(N, -1)[:, :K].T


def quantize_q4(model: onnx.ModelProto, block: int = 32) -> onnx.ModelProto:
    m = onnx.ModelProto.FromString(model.SerializeToString())
    g = m.graph
    inits = {t.name: t for t in g.initializer}
    nodes, new_inits, used = [], [], set()
    for n in g.node:
        if n.op_type == "MatMul" and n.input[1] in inits and len(inits[n.input[1]].dims) == 2:
            w = numpy_helper.to_array(inits[n.input[1]])
            K, N = w.shape
            packed, scales = q4_block(w, block)
            bname, sname = n.input[1] + "_Q4", n.input[1] + "_scales"
            if bname not in {t.name for t in new_inits}:
                new_inits += [numpy_helper.from_array(packed, bname), numpy_helper.from_array(scales, sname)]
            used.add(n.input[1])
            nodes.append(helper.make_node("MatMulNBits", [n.input[0], bname, sname], list(n.output),
                                          name=(n.name or n.output[0]) + "_Q4", domain="com.microsoft",
                                          K=K, N=N, bits=4, block_size=block))
        else:
            nodes.append(n)
    del g.node[:]
    g.node.extend(nodes)
    still = {x for n in g.node for x in n.input}
    keep = [t for t in g.initializer if t.name not in used or t.name in still]
    del g.initializer[:]
    g.initializer.extend(keep + new_inits)
    if not any(o.domain == "com.microsoft" for o in m.opset_import):
        m.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    del g.value_info[:]
    return m


# ------------------------------------------------------------------ bnb4 (MatMulBnb4Quantizer)

# NF4 code values (bitsandbytes' NormalFloat4; onnxruntime contrib_ops/cpu/quantization/blockwise_quant_block_bnb4.h)
NF4 = np.array([-1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635,
                -0.18477343022823334, -0.09105003625154495, 0.0, 0.07958029955625534, 0.16093020141124725,
                0.24611230194568634, 0.33791524171829224, 0.44070982933044434, 0.5626170039176941,
                0.7229568362236023, 1.0], np.float32)
# the decision points of onnxruntime's QuantizeOneNF4 (midpoints between neighbouring codes), ascending:
# code = number of points strictly below x (x = w / absmax of its block, float32)
NF4_SPLITS = np.array([-0.8480964004993439, -0.6106329262256622, -0.4599952697753906, -0.33967943489551544,
                       -0.23460740596055984, -0.13791173323988914, -0.045525018125772476, 0.03979014977812767,
                       0.1202552504837513, 0.2035212516784668, 0.2920137718319893, 0.3893125355243683,
                       0.5016634166240692, 0.6427869200706482, 0.8614784181118011], np.float32)
BNB4_NF4 = 1


def bnb4_block(w: np.ndarray, block: int = 64):
    """w [K, N] -> (packed uint8 [(N*K+1)//2], absmax [ceil(N*K/block)] (w's dtype)), NF4.
    As MatMulBnb4Quantizer.bnb4_block_quant: the TRANSPOSED weight [N, K] is flattened and cut into blocks of
    `block` consecutive values; x = v * (1/absmax) in float32; two codes per byte, the FIRST in the HIGH nibble."""
    K, N = w.shape
    flat = np.ascontiguousarray(w.T).astype(np.float32).reshape(-1)
    numel = flat.size
    nb = (numel + block - 1) // block
    blk = np.zeros(nb * block, np.float32)
    blk[:numel] = flat
    blk = blk.reshape(nb, block)
    absmax = np.abs(blk).max(axis=1).astype(np.float32)
    recip = np.where(absmax != 0, np.float32(1.0) / np.where(absmax != 0, absmax, np.float32(1)), np.float32(0)).astype(np.float32)
    x = (blk * recip[:, None]).astype(np.float32)
    q = (x[..., None] > NF4_SPLITS).sum(-1).astype(np.uint8).reshape(-1)
    if q.size % 2:
        q = np.concatenate([q, np.full(1, 7, np.uint8)])
    packed = ((q[0::2] << 4) | q[1::2]).astype(np.uint8)[: (numel + 1) // 2]
    return packed, absmax.astype(w.dtype)


def bnb4_dequant(packed: np.ndarray, absmax: np.ndarray, K: int, N: int, block: int = 64) -> np.ndarray:
    q = np.zeros(packed.size * 2, np.uint8)
    q[0::2], q[1::2] = packed >> 4, packed & 0x0F
    v = NF4[q[: K * N]] * np.repeat(absmax.astype(np.float32), block)[: K * N]
    return v.reshape(N, K).T


def quantize_bnb4(model: onnx.ModelProto, block: int = 64) -> onnx.ModelProto:
    """MatMul(A, W[K,N] initializer) -> com.microsoft MatMulBnb4(A, W_Bnb4, W_absmax; K, N, block_size, quant_type=1)."""
    m = onnx.ModelProto.FromString(model.SerializeToString())
    g = m.graph
    inits = {t.name: t for t in g.initializer}
    nodes, new_inits, used = [], [], set()
    for n in g.node:
        if n.op_type == "MatMul" and n.input[1] in inits and len(inits[n.input[1]].dims) == 2:
            w = numpy_helper.to_array(inits[n.input[1]])
            K, N = w.shape
            packed, absmax = bnb4_block(w, block)
            bname, aname = n.input[1] + "_Bnb4", n.input[1] + "_absmax"
            if bname not in {t.name for t in new_inits}:
                new_inits += [numpy_helper.from_array(packed, bname), numpy_helper.from_array(absmax, aname)]
            used.add(n.input[1])
            nodes.append(helper.make_node("MatMulBnb4", [n.input[0], bname, aname], list(n.output),
                                          name=(n.name + "_Bnb4") if n.name else "", domain="com.microsoft",
                                          K=K, N=N, block_size=block, quant_type=BNB4_NF4))
        else:
            nodes.append(n)
    del g.node[:]
    g.node.extend(nodes)
    still = {x for n in g.node for x in n.input}
    keep = [t for t in g.initializer if t.name not in used or t.name in still]
    del g.initializer[:]
    g.initializer.extend(keep + new_inits)
    if not any(o.domain == "com.microsoft" for o in m.opset_import):
        m.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    del g.value_info[:]
    return m
