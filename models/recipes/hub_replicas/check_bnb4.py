"""Checks model_bnb4.onnx: every MatMulBnb4 weight re-quantizes (hub_quant.bnb4_block) to the same bytes, its NF4
dequantization is within half a code step (x absmax) of the fp32 weight, and writes two one-node graphs for
check_q4.mjs (ORT MatMulBnb4 vs MatMul with our dequantized weight):
    /usr/bin/python3 models/recipes/hub_replicas/check_bnb4.py test/fixtures/hub-qwen2 && node models/recipes/hub_replicas/check_q4.mjs /tmp/_bnb4a.onnx /tmp/_bnb4b.onnx"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hub_quant import NF4, bnb4_block, bnb4_dequant  # noqa: E402

d = sys.argv[1]
f32 = {t.name: numpy_helper.to_array(t) for t in onnx.load(os.path.join(d, "onnx", "model.onnx")).graph.initializer}
qm = onnx.load(os.path.join(d, "onnx", "model_bnb4.onnx"))
qi = {t.name: numpy_helper.to_array(t) for t in qm.graph.initializer}
half_step = float(np.diff(NF4).max()) / 2
n, worst = 0, 0.0
for node in qm.graph.node:
    if node.op_type != "MatMulBnb4":
        continue
    at = {a.name: a.i for a in node.attribute}
    assert at["block_size"] == 64 and at["quant_type"] == 1, at
    w = f32[node.input[1][: -len("_Bnb4")]]
    K, N = at["K"], at["N"]
    deq = bnb4_dequant(qi[node.input[1]], qi[node.input[2]], K, N)
    am = np.repeat(qi[node.input[2]], 64)[: K * N].reshape(N, K).T
    worst = max(worst, float((np.abs(deq - w) / np.maximum(am, 1e-12)).max()))
    packed, absmax = bnb4_block(w)
    assert (packed == qi[node.input[1]]).all() and (absmax == qi[node.input[2]]).all()
    n += 1
print(f"{n} MatMulBnb4 weights (NF4, block 64): max |dequant - fp32| = {worst:.3f} x absmax (<= {half_step:.3f}, half the widest NF4 gap); bytes reproduce")
ok = n and worst <= half_step + 1e-6

node = max((x for x in qm.graph.node if x.op_type == "MatMulBnb4"), key=lambda x: [a.i for a in x.attribute if a.name == "K"][0])
at = {a.name: a.i for a in node.attribute}
K, N = at["K"], at["N"]
x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [3, K])
y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [3, N])
a = helper.make_model(helper.make_graph([helper.make_node("MatMulBnb4", ["x", "B", "s"], ["y"], domain="com.microsoft",
                                                          K=K, N=N, block_size=64, quant_type=1)], "a", [x], [y],
                                        [numpy_helper.from_array(qi[node.input[1]], "B"), numpy_helper.from_array(qi[node.input[2]], "s")]),
                      opset_imports=[helper.make_opsetid("", 14), helper.make_opsetid("com.microsoft", 1)])
b = helper.make_model(helper.make_graph([helper.make_node("MatMul", ["x", "W"], ["y"])], "b", [x], [y],
                                        [numpy_helper.from_array(bnb4_dequant(qi[node.input[1]], qi[node.input[2]], K, N).astype(np.float32), "W")]),
                      opset_imports=[helper.make_opsetid("", 14)])
a.ir_version = b.ir_version = 8
onnx.save(a, "/tmp/_bnb4a.onnx")
onnx.save(b, "/tmp/_bnb4b.onnx")
sys.exit(0 if ok else 1)
