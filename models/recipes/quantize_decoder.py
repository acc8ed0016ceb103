"""q8 and q4 files of a decoder exported by this project (models/recipes/common.py), in the Hub's formats.

    /usr/bin/python3 models/recipes/quantize_decoder.py SRC_FOLDER OUT_FOLDER [--accuracy-level N]

SRC_FOLDER holds onnx/model.onnx (fp32) with config.json and the tokenizer (models/gpt2-code,
.cache/gpt2-small-random). OUT_FOLDER gets the same folder with onnx/model.onnx linked to the source and:
  onnx/model_quantized.onnx  q8 (dtype q8): onnxruntime quantize_dynamic's format (hub_quant.quantize_q8, then
                             one scale per output column, as its per_channel option): DynamicQuantizeLinear +
                             MatMulInteger with QInt8 symmetric weights for every weight MatMul, the tied LM head
                             included; int8 Gather + DequantizeLinear for the token and position embeddings.
  onnx/model_int8.onnx       the same file (dtype int8: transformers.js's name for QInt8 weights).
  onnx/model_q4.onnx         q4 (dtype q4): hub_quant.quantize_q4 — com.microsoft MatMulNBits, bits 4, block 32,
                             symmetric (implicit zero point 8), with the `accuracy_level` attribute (default 4:
                             int8 activations, int32 accumulation, onnxruntime's fastest CPU kernel) for the
                             blocks; the LM head 8-bit as in q8; the embedding Gathers as in q8.
  bytes_read_per_pass.json   {dtype: bytes of weights one single-token pass reads} (for roofline figures).
A separate folder, because `dtype: auto` prefers q4 on a CPU: the fp32 folder keeps loading fp32.

Our exporter writes each Linear as MatMul(x, Transpose(W)) with W [out, in] (and the LM head as the transposed
token embedding); onnxruntime folds such transposes when it loads the graph, the quantizers need the folded
[in, out] matrix as an initializer, so the transposes of initializers are folded here first.
"""
from __future__ import annotations

import json
import os
import shutil
import sys

import numpy as np
import onnx
from onnx import helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "hub_replicas"))
import hub_quant  # noqa: E402

FOLDER_FILES = ["config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json"]


def fold_weight_transposes(model: onnx.ModelProto) -> onnx.ModelProto:
    """Transpose(W) of a 2-D initializer (perm [1, 0] or none) becomes an initializer W^T named as its output."""
    m = onnx.ModelProto.FromString(model.SerializeToString())
    g = m.graph
    inits = {t.name: t for t in g.initializer}
    kept, folded = [], []
    for n in g.node:
        perm = [list(a.ints) for a in n.attribute if a.name == "perm"]
        if n.op_type == "Transpose" and n.input[0] in inits and len(inits[n.input[0]].dims) == 2 \
                and perm in ([], [[1, 0]]):
            w = numpy_helper.to_array(inits[n.input[0]])
            folded.append(numpy_helper.from_array(np.ascontiguousarray(w.T), n.output[0]))
        else:
            kept.append(n)
    del g.node[:]
    g.node.extend(kept)
    still = {x for n in g.node for x in n.input}
    keep = [t for t in g.initializer if t.name in still]
    del g.initializer[:]
    g.initializer.extend(keep + folded)
    del g.value_info[:]
    return m


def per_channel_weights(q8: onnx.ModelProto, fp32: onnx.ModelProto) -> onnx.ModelProto:
    """Re-quantizes every MatMulInteger weight of hub_quant's per-tensor q8 with one scale per output column
    (symmetric int8, zero points 0), as quantize_dynamic(per_channel=True) does: a column's scale follows its
    own largest weight instead of the matrix's. onnxruntime's DynamicQuantizeMatMul takes per-column scales."""
    weights = {t.name: t for t in fp32.graph.initializer}
    inits = {t.name: t for t in q8.graph.initializer}
    for n in q8.graph.node:
        if n.op_type != "MatMulInteger":
            continue
        name = n.input[1][: -len("_quantized")]
        w = numpy_helper.to_array(weights[name]).astype(np.float32)
        scale = (np.abs(w).max(axis=0) / 127.0).astype(np.float32)
        scale[scale == 0] = 1.0
        inits[n.input[1]].CopyFrom(numpy_helper.from_array(np.clip(np.rint(w / scale), -127, 127).astype(np.int8), n.input[1]))
        inits[n.input[3]].CopyFrom(numpy_helper.from_array(np.zeros(w.shape[1], np.int8), n.input[3]))
        inits[name + "_scale"].CopyFrom(numpy_helper.from_array(scale, name + "_scale"))
    return q8


def quantize_q8(folded: onnx.ModelProto) -> onnx.ModelProto:
    return per_channel_weights(hub_quant.quantize_q8(folded, "int8"), folded)


def quantize_q4(folded: onnx.ModelProto, accuracy_level: int) -> onnx.ModelProto:
    """MatMulNBits for the blocks' MatMuls; the LM head (the MatMul whose output is `logits`) stays 8-bit
    (per-channel MatMulInteger), as llama.cpp's q4 files keep their output matrix at 6 bits or more: with the
    head at 4 bits gpt2-code's greedy ids left fp32's after 89 of 320 tokens, with it at 8 bits after 162."""
    m = onnx.ModelProto.FromString(folded.SerializeToString())
    head = next(n for n in m.graph.node if n.op_type == "MatMul" and "logits" in n.output)
    weight = head.input[1]
    head.input[1] = weight + "_head"  # not an initializer: quantize_q4 passes it by
    m.graph.node.insert(0, helper.make_node("Identity", [weight], [weight + "_head"]))
    q4 = set_accuracy_level(hub_quant.quantize_q4(m), accuracy_level)
    for n in q4.graph.node:
        if list(n.input[1:2]) == [weight + "_head"]:
            n.input[1] = weight
    nodes = [n for n in q4.graph.node if not (n.op_type == "Identity" and n.output[0] == weight + "_head")]
    del q4.graph.node[:]
    q4.graph.node.extend(nodes)
    # The head's MatMul and the embedding Gathers are what q8 finds left to quantize.
    return per_channel_weights(hub_quant.quantize_q8(q4, "int8"), folded)


def set_accuracy_level(model: onnx.ModelProto, level: int) -> onnx.ModelProto:
    for n in model.graph.node:
        if n.op_type == "MatMulNBits":
            n.attribute.append(helper.make_attribute("accuracy_level", level))
    return model


def bytes_read_per_pass(model: onnx.ModelProto) -> int:
    """Bytes of initializers one decoding pass reads: all of them but the tables only Gathers index (a token's
    embedding row), whose rows are too few to count."""
    gathered = {n.input[0] for n in model.graph.node if n.op_type == "Gather"}
    used_otherwise = {x for n in model.graph.node if n.op_type != "Gather" for x in n.input}
    total = 0
    for t in model.graph.initializer:
        if t.name in gathered and t.name not in used_otherwise:
            continue
        total += numpy_helper.to_array(t).nbytes
    return total


def write_quantized(onnx_dir: str, fp32: str, accuracy_level: int = 4) -> dict:
    """Writes model_quantized.onnx, model_int8.onnx and model_q4.onnx of the fp32 graph into onnx_dir and
    returns each dtype's bytes of weights read per single-token pass."""
    """Writes model_quantized.onnx, model_int8.onnx and model_q4.onnx of the fp32 graph into onnx_dir."""
    folded = fold_weight_transposes(onnx.load(fp32))
    read = {"fp32": bytes_read_per_pass(folded)}
    q8 = quantize_q8(folded)
    onnx.checker.check_model(q8)
    onnx.save(q8, os.path.join(onnx_dir, "model_quantized.onnx"))
    shutil.copyfile(os.path.join(onnx_dir, "model_quantized.onnx"), os.path.join(onnx_dir, "model_int8.onnx"))
    q4 = quantize_q4(folded, accuracy_level)
    onnx.save(q4, os.path.join(onnx_dir, "model_q4.onnx"))
    read.update(q8=bytes_read_per_pass(q8), int8=bytes_read_per_pass(q8), q4=bytes_read_per_pass(q4))
    sizes = {f: os.path.getsize(os.path.join(onnx_dir, f)) for f in ("model_quantized.onnx", "model_q4.onnx")}
    print(f"{onnx_dir}: fp32 {os.path.getsize(fp32) / 2**20:.2f} MiB, "
          + ", ".join(f"{f} {s / 2**20:.2f} MiB" for f, s in sizes.items())
          + "; read per pass: " + ", ".join(f"{d} {b / 2**20:.2f} MiB" for d, b in read.items()), flush=True)
    return read


def quantize_folder(src: str, out: str, accuracy_level: int = 4) -> None:
    os.makedirs(os.path.join(out, "onnx"), exist_ok=True)
    for name in FOLDER_FILES:
        if os.path.exists(os.path.join(src, name)):
            shutil.copyfile(os.path.join(src, name), os.path.join(out, name))
    with open(os.path.join(out, "config.json"), encoding="utf-8") as f:
        config = json.load(f)
    config["_name_or_path"] = os.path.basename(os.path.normpath(out))
    with open(os.path.join(out, "config.json"), "w", encoding="utf-8") as f:
        json.dump(config, f, indent=2)
    fp32 = os.path.join(src, "onnx", "model.onnx")
    link = os.path.join(out, "onnx", "model.onnx")
    if os.path.lexists(link):
        os.remove(link)
    os.symlink(os.path.realpath(fp32), link)
    read = write_quantized(os.path.join(out, "onnx"), fp32, accuracy_level)
    with open(os.path.join(out, "bytes_read_per_pass.json"), "w", encoding="utf-8") as f:
        json.dump(read, f, indent=2)


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    level = 4
    if "--accuracy-level" in sys.argv:
        level = int(sys.argv[sys.argv.index("--accuracy-level") + 1])
        args = [a for a in args if a != str(level)]
    if len(args) != 2:
        sys.exit(__doc__)
    quantize_folder(args[0], args[1], level)
