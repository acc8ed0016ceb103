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


def quantize_q8(model: onnx.ModelProto) -> onnx.ModelProto:
    m = onnx.ModelProto.FromString(model.SerializeToString())
    g = m.graph
    inits = {t.name: t for t in g.initializer}
    new_nodes, new_inits, done_w = [], [], {}
    used_w = set()

    def qweight(name):
        if name in done_w:
            return done_w[name]
        w = numpy_helper.to_array(inits[name]).astype(np.float32)
        amax = max(abs(float(w.min())), abs(float(w.max())), 0.0)
        scale = np.float32(amax / 127.0) if amax > 0 else np.float32(1.0)
        q = np.clip(np.rint(w / scale), -127, 127).astype(np.int8)
        new_inits.extend([numpy_helper.from_array(q, name + "_quantized"),
                          numpy_helper.from_array(np.array(scale, np.float32), name + "_scale"),
                          numpy_helper.from_array(np.array(0, np.int8), name + "_zero_point")])
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
    still = {x for n in g.node for x in n.input}
    keep = [t for t in g.initializer if t.name not in used_w or t.name in still]
    del g.initializer[:]
    g.initializer.extend(keep + new_inits)
    del g.value_info[:]
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
