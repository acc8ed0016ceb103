"""Weight-only int8 quantization of an ONNX graph (what Hub exports call `*_quantized.onnx`).

Every float initializer with at least MIN_ELEMENTS values (the weight matrices and embeddings) is
stored as int8 with a per-tensor scale, and a DequantizeLinear node restores it at run time. The graph's
inputs and outputs are unchanged, so the engine loads it exactly like the fp32 file.

Usage: /usr/bin/python3 quantize_weights.py IN.onnx OUT.onnx
"""
import sys

import numpy as np
import onnx
from onnx import helper, numpy_helper

MIN_ELEMENTS = 256


def quantize(src: str, dst: str) -> None:
    model = onnx.load(src)
    graph = model.graph
    kept, added_nodes = [], []
    for init in graph.initializer:
        w = numpy_helper.to_array(init)
        if w.dtype != np.float32 or w.size < MIN_ELEMENTS:
            kept.append(init)
            continue
        scale = float(np.abs(w).max()) / 127.0 or 1.0
        q = np.clip(np.round(w / scale), -127, 127).astype(np.int8)
        kept.append(numpy_helper.from_array(q, init.name + "_quantized"))
        kept.append(numpy_helper.from_array(np.array(scale, dtype=np.float32), init.name + "_scale"))
        kept.append(numpy_helper.from_array(np.array(0, dtype=np.int8), init.name + "_zero_point"))
        added_nodes.append(helper.make_node(
            "DequantizeLinear", [init.name + "_quantized", init.name + "_scale", init.name + "_zero_point"], [init.name],
            name=init.name + "_DequantizeLinear"))
    del graph.initializer[:]
    graph.initializer.extend(kept)
    nodes = added_nodes + list(graph.node)
    del graph.node[:]
    graph.node.extend(nodes)
    onnx.checker.check_model(model)
    onnx.save(model, dst)


if __name__ == "__main__":
    quantize(sys.argv[1], sys.argv[2])
