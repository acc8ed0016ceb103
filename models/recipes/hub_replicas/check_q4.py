"""Checks that the packed 4-bit weights of model_q4.onnx decode (hub_quant.q4_dequant) to within half a
quantization step of the fp32 weights, block by block, and re-quantize to the same bytes.
    /usr/bin/python3 models/recipes/hub_replicas/check_q4.py test/fixtures/hub-qwen2"""
import os
import sys

import numpy as np
import onnx
from onnx import numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hub_quant import q4_block, q4_dequant  # noqa: E402

d = sys.argv[1]
f32 = {t.name: numpy_helper.to_array(t) for t in onnx.load(os.path.join(d, "onnx", "model.onnx")).graph.initializer}
q4 = onnx.load(os.path.join(d, "onnx", "model_q4.onnx"))
qi = {t.name: numpy_helper.to_array(t) for t in q4.graph.initializer}
n, worst = 0, 0.0
for node in q4.graph.node:
    if node.op_type != "MatMulNBits":
        continue
    K = [a.i for a in node.attribute if a.name == "K"][0]
    src = node.input[1][: -len("_Q4")]
    w = f32[src]
    deq = q4_dequant(qi[node.input[1]], qi[node.input[2]], K)
    N = w.shape[1]
    nb = qi[node.input[2]].size // N
    sc = np.repeat(np.abs(qi[node.input[2]]).reshape(N, nb), 32, axis=1)[:, :K].T
    worst = max(worst, float((np.abs(deq - w) / np.maximum(sc, 1e-12)).max()))
    packed, _ = q4_block(w)
    assert (packed == qi[node.input[1]]).all()
    n += 1
print(f"{n} MatMulNBits weights: max |dequant - fp32| = {worst:.3f} x block scale (<= 1: range is [-8, 7]); bytes reproduce")
ok = n and worst <= 1.0 + 1e-6

# ORT's reading of the layout: one MatMulNBits from the fixture vs MatMul with hub_quant.q4_dequant weights
from onnx import TensorProto, helper  # noqa: E402
node = [x for x in q4.graph.node if x.op_type == "MatMulNBits"][0]
K = [a.i for a in node.attribute if a.name == "K"][0]
N = [a.i for a in node.attribute if a.name == "N"][0]
x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [3, K])
y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [3, N])
a = helper.make_model(helper.make_graph([helper.make_node("MatMulNBits", ["x", "B", "s"], ["y"], domain="com.microsoft",
                                                          K=K, N=N, bits=4, block_size=32)], "a", [x], [y],
                                        [numpy_helper.from_array(qi[node.input[1]], "B"), numpy_helper.from_array(qi[node.input[2]], "s")]),
                      opset_imports=[helper.make_opsetid("", 14), helper.make_opsetid("com.microsoft", 1)])
b = helper.make_model(helper.make_graph([helper.make_node("MatMul", ["x", "W"], ["y"])], "b", [x], [y],
                                        [numpy_helper.from_array(q4_dequant(qi[node.input[1]], qi[node.input[2]], K).astype(np.float32), "W")]),
                      opset_imports=[helper.make_opsetid("", 14)])
a.ir_version = b.ir_version = 8
onnx.save(a, "/tmp/_q4a.onnx")
onnx.save(b, "/tmp/_q4b.onnx")
sys.exit(0 if ok else 1)
