"""hub-qwen2-gqa: the hub-qwen2 replica's fp32 weights as an onnxruntime-genai *model builder* graph.

Repos such as onnx-community/DeepSeek-R1-Distill-Qwen-1.5B-ONNX or onnx-community/Llama-3.2-1B-Instruct were
exported with onnxruntime-genai's model builder (src/python/py/models/builder.py), not with Optimum: fused
`com.microsoft` operators instead of traced PyTorch maths. This recipe writes the same tiny Qwen2 (make_qwen2.py's
seeded model, so hub-qwen2's numbers) in that layout, following builder.py's CPU / fp32 path:

* inputs `input_ids` [batch_size, sequence_length], `attention_mask` [batch_size, total_sequence_length],
  `past_key_values.{i}.key/value` [batch_size, kv_heads, past_sequence_length, head_dim] (NO `position_ids`:
  "GQA + Rot.Emb. does not require position ids"); outputs `logits`, `present.{i}.key/value`
  [batch_size, kv_heads, total_sequence_length, head_dim];
* `/model/attn_mask_reformat/attn_mask_subgraph`: seqlens_k = Cast<int32>(ReduceSum(attention_mask, [1]) - 1),
  total_sequence_length = Cast<int32>(Gather(Shape(attention_mask), 1));
* `/model/embed_tokens/Gather`; per layer `SimplifiedLayerNormalization` (layer 0's input norm) or
  `com.microsoft.SkipSimplifiedLayerNormalization` (every later norm: the residual Add is fused in, output 3 is
  the running residual), packed `attn/qkv_proj/MatMul` + `Add` (q | k | v bias), one
  `com.microsoft.GroupQueryAttention` (`/model/layers.{i}/attn/GroupQueryAttention`, packed QKV in `query`,
  key/value inputs empty, do_rotary=1 with the `cos_cache` / `sin_cache` initializers [max_len, head_dim/2],
  rotary_interleaved 0, scale 1/sqrt(head_dim)), `attn/o_proj/MatMul`, SwiGLU as `mlp/gate_proj/MatMul`,
  `mlp/act_fn/Sigmoid`, `mlp/act_fn/Mul`, `mlp/up_proj/MatMul`, `mlp/Mul`, `mlp/down_proj/MatMul`;
  `final_norm_layernorm/SkipLayerNorm`; `/lm_head/MatMul` (a transposed copy of the tied embedding) -> `logits`;
* opsets ai.onnx 14 + com.microsoft 1, IR 7, producer "onnxruntime-genai"; `genai_config.json` as builder's
  `make_genai_config` writes it.

    /usr/bin/python3 models/recipes/hub_replicas/make_qwen2_gqa.py build    [HUB_QWEN2] [OUT]
    node models/recipes/hub_replicas/reference.mjs OUT causal fp32 "..." "..."
    node models/recipes/hub_replicas/check_gqa_past.mjs OUT [HUB_QWEN2]
    /usr/bin/python3 models/recipes/hub_replicas/make_qwen2_gqa.py torchref [OUT]
"""
from __future__ import annotations

import os
import shutil
import sys

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
import make_qwen2 as q  # noqa: E402  (the seeded model: same weights as hub-qwen2)
from hub_common import file_sizes, finish_torchref, read_json, reference_steps, write_json  # noqa: E402

C, HD = q.C, q.HD
L, NH, KVH, D = C["num_hidden_layers"], C["num_attention_heads"], C["num_key_value_heads"], C["hidden_size"]
# builder.py sizes the caches to max_position_embeddings (32768 here: 2 MB of cos/sin); the fixture keeps 2048
# positions (GroupQueryAttention rejects longer sequences) so that it stays small.
ROPE_CACHE_LEN = 2048
MAX_ATTN_NEW = 4  # reference.json.pytorch.attention: prompt + this many greedy ids


class Graph:
    """Collects nodes / initializers with builder.py's naming (`{node}/output_0`, `/model/constants/...`)."""

    def __init__(self):
        self.nodes, self.inits, self.consts = [], [], set()

    def const(self, dtype: str, dims: str, value):
        # builder.make_constant: "/model/constants/{dtype}/{0D|1D}/{num}" made by a Constant node
        name = f"/model/constants/TensorProto.{dtype}/{dims}/{value}"
        if name not in self.consts:
            self.consts.add(name)
            np_dtype = {"INT64": np.int64, "FLOAT": np.float32}[dtype]
            arr = np.array(value, dtype=np_dtype) if dims == "0D" else np.array([value], dtype=np_dtype)
            self.nodes.append(helper.make_node("Constant", [], [name], name=name.replace("constants", "constant_nodes"),
                                               value=numpy_helper.from_array(arr, name.replace("constants", "numpy_helper"))))
        return name

    def init(self, name, arr):
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(arr, dtype=arr.dtype), name))
        return name

    def node(self, op, inputs, name, outputs=None, domain=None, **attrs):
        outputs = outputs or [f"{name}/output_0"]
        self.nodes.append(helper.make_node(op, inputs, outputs, name=name, domain=domain, **attrs))
        return outputs[0]

    def matmul(self, name, x, weight_t, out=None):
        w = self.init(name[1:].replace("/", ".") + ".weight", weight_t)
        return self.node("MatMul", [x, w], name, outputs=[out] if out else None)


def rope_caches():
    # builder.make_rotary_embedding_caches_from_scratch, with make_qwen2's inv_freq (identical formula)
    inv_freq = 1.0 / (C["rope_theta"] ** (torch.arange(0, HD, 2, dtype=torch.int64).float() / HD))
    t = torch.arange(ROPE_CACHE_LEN, dtype=torch.int64).type_as(inv_freq)
    freqs = torch.outer(t, inv_freq)
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos()[:, : HD // 2].numpy().astype(np.float32), emb.sin()[:, : HD // 2].numpy().astype(np.float32)


def to_np(p):
    return p.detach().numpy().astype(np.float32)


def build_graph(model) -> onnx.ModelProto:
    g = Graph()
    eps = C["rms_norm_eps"]  # builder.py of 2024 hard-codes 1e-5; later versions read rms_norm_eps (1e-6 here)
    fp = TensorProto.FLOAT
    inputs = [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch_size", "sequence_length"]),
              helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch_size", "total_sequence_length"])]
    outputs = [helper.make_tensor_value_info("logits", fp, ["batch_size", "sequence_length", C["vocab_size"]])]
    for i in range(L):
        for s in ("key", "value"):
            inputs.append(helper.make_tensor_value_info(f"past_key_values.{i}.{s}", fp, ["batch_size", KVH, "past_sequence_length", HD]))
            outputs.append(helper.make_tensor_value_info(f"present.{i}.{s}", fp, ["batch_size", KVH, "total_sequence_length", HD]))

    # attention mask -> seqlens_k (int32 [batch, 1]) and total_sequence_length (int32 scalar)
    base = "/model/attn_mask_reformat/attn_mask_subgraph"
    rs = g.node("ReduceSum", ["attention_mask", g.const("INT64", "1D", 1)], f"{base}/ReduceSum")
    sub = g.node("Sub", [rs, g.const("INT64", "1D", 1)], f"{base}/Sub")
    seqlens_k = g.node("Cast", [sub], f"{base}/Sub/Cast", to=TensorProto.INT32)
    shp = g.node("Shape", ["attention_mask"], f"{base}/Shape")
    gat = g.node("Gather", [shp, g.const("INT64", "0D", 1)], f"{base}/Gather", axis=0)
    total_len = g.node("Cast", [gat], f"{base}/Gather/Cast", to=TensorProto.INT32)

    emb = g.init("model.embed_tokens.weight", to_np(model.model.embed_tokens.weight))
    x = g.node("Gather", [emb, "input_ids"], "/model/embed_tokens/Gather")
    cos, sin = rope_caches()
    g.init("cos_cache", cos)
    g.init("sin_cache", sin)

    root, skip = x, x  # builder's layernorm_attrs root_input / skip_input

    def norm(layer_id, weight, location, first=False, last=False):
        nonlocal root
        w = g.init(f"model.layers.{layer_id}.{location}_layernorm.weight", to_np(weight))
        out0 = f"/model/layers.{layer_id}/{location}_layernorm/output_0"
        if first:
            g.node("SimplifiedLayerNormalization", [root, w], f"/model/layers.{layer_id}/{location}_layernorm/LayerNorm",
                   outputs=[out0], epsilon=eps, axis=-1, stash_type=1)
            return out0
        out3 = f"/model/layers.{layer_id}/{location}_layernorm/output_3"
        g.node("SkipSimplifiedLayerNormalization", [root, skip, w], f"/model/layers.{layer_id}/{location}_layernorm/SkipLayerNorm",
               outputs=[out0] if last else [out0, "", "", out3], domain="com.microsoft", epsilon=eps)
        if not last:
            root = out3
        return out0

    for i, layer in enumerate(model.model.layers):
        a = layer.self_attn
        h = norm(i, layer.input_layernorm.weight, "input", first=(i == 0))
        wqkv = np.concatenate([to_np(a.q_proj.weight), to_np(a.k_proj.weight), to_np(a.v_proj.weight)], 0).T
        qkv = g.matmul(f"/model/layers.{i}/attn/qkv_proj/MatMul", h, wqkv)
        bqkv = g.init(f"model.layers.{i}.attn.qkv_proj.Add.bias",
                      np.concatenate([to_np(a.q_proj.bias), to_np(a.k_proj.bias), to_np(a.v_proj.bias)]))
        qkv = g.node("Add", [qkv, bqkv], f"/model/layers.{i}/attn/qkv_proj/Add")
        attn = g.node("GroupQueryAttention",
                      [qkv, "", "", f"past_key_values.{i}.key", f"past_key_values.{i}.value", seqlens_k, total_len,
                       "cos_cache", "sin_cache"],
                      f"/model/layers.{i}/attn/GroupQueryAttention",
                      outputs=[f"/model/layers.{i}/attn/GroupQueryAttention/output_0", f"present.{i}.key", f"present.{i}.value"],
                      domain="com.microsoft", num_heads=NH, kv_num_heads=KVH, scale=float(1 / np.sqrt(HD)),
                      local_window_size=-1, softcap=0.0, do_rotary=1, rotary_interleaved=0)
        skip = g.matmul(f"/model/layers.{i}/attn/o_proj/MatMul", attn, to_np(a.o_proj.weight).T)
        h = norm(i, layer.post_attention_layernorm.weight, "post_attention")
        m = layer.mlp
        gate = g.matmul(f"/model/layers.{i}/mlp/gate_proj/MatMul", h, to_np(m.gate_proj.weight).T)
        up = g.matmul(f"/model/layers.{i}/mlp/up_proj/MatMul", h, to_np(m.up_proj.weight).T)
        sig = g.node("Sigmoid", [gate], f"/model/layers.{i}/mlp/act_fn/Sigmoid")
        act = g.node("Mul", [gate, sig], f"/model/layers.{i}/mlp/act_fn/Mul")
        prod = g.node("Mul", [act, up], f"/model/layers.{i}/mlp/Mul")
        skip = g.matmul(f"/model/layers.{i}/mlp/down_proj/MatMul", prod, to_np(m.down_proj.weight).T)
    h = norm(L, model.model.norm.weight, "final_norm", last=True)
    g.matmul("/lm_head/MatMul", h, to_np(model.lm_head.weight).T, out="logits")

    graph = helper.make_graph(g.nodes, "main_graph", inputs, outputs, g.inits)
    mp = helper.make_model(graph, opset_imports=[helper.make_operatorsetid("", 14), helper.make_operatorsetid("com.microsoft", 1)],
                           producer_name="onnxruntime-genai", producer_version="0.0.0")
    mp.ir_version = 7
    return mp


def same_weights(mp: onnx.ModelProto, ref_path: str) -> int:
    """Every weight of the GQA graph (split back into q/k/v) is an initializer of hub-qwen2's model.onnx, bit for bit."""
    ref = [numpy_helper.to_array(t) for t in onnx.load(ref_path).graph.initializer]
    keys = {(a.shape, a.tobytes()) for a in ref} | {(a.T.shape, np.ascontiguousarray(a.T).tobytes()) for a in ref if a.ndim == 2}
    missing, n = [], 0
    for t in mp.graph.initializer:
        if t.name in ("cos_cache", "sin_cache"):
            continue
        a = numpy_helper.to_array(t)
        parts = [a]
        if "qkv_proj" in t.name:
            cuts = [NH * HD, NH * HD + KVH * HD]
            parts = np.split(a, cuts, axis=-1)
        for p in parts:
            n += 1
            if (p.shape, np.ascontiguousarray(p).tobytes()) not in keys:
                missing.append(t.name)
    if missing:
        raise SystemExit(f"weights not found in {ref_path}: {missing}")
    return n


def build(src: str, out: str) -> None:
    model = q.make_model()
    mp = build_graph(model)
    os.makedirs(os.path.join(out, "onnx"), exist_ok=True)
    # onnx 1.12's checker does not know ORT's SimplifiedLayerNormalization (registered by onnxruntime in the
    # ai.onnx domain), so check everything else: the graph structure with that op's schema check skipped
    try:
        onnx.checker.check_model(mp)
    except onnx.checker.ValidationError as e:
        if "SimplifiedLayerNormalization" not in str(e):
            raise
    onnx.save(mp, os.path.join(out, "onnx", "model.onnx"))
    n = same_weights(mp, os.path.join(src, "onnx", "model.onnx"))
    print(f"weights: all {n} weight tensors equal hub-qwen2's model.onnx initializers (bit for bit)")
    for name in ("config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json"):
        shutil.copyfile(os.path.join(src, name), os.path.join(out, name))
    gen = read_json(os.path.join(src, "generation_config.json"))
    eos = gen["eos_token_id"]
    # builder.make_genai_config (its model-builder output folder holds model.onnx beside this file; here the
    # graph sits in onnx/ as transformers.js wants it, so "filename" points there)
    genai = {"model": {
        "bos_token_id": gen["bos_token_id"], "context_length": ROPE_CACHE_LEN,
        "decoder": {"session_options": {"log_id": "onnxruntime-genai", "provider_options": []},
                    "filename": "onnx/model.onnx", "head_size": HD, "hidden_size": D,
                    "inputs": {"input_ids": "input_ids", "attention_mask": "attention_mask",
                               "past_key_names": "past_key_values.%d.key", "past_value_names": "past_key_values.%d.value"},
                    "outputs": {"logits": "logits", "present_key_names": "present.%d.key", "present_value_names": "present.%d.value"},
                    "num_attention_heads": NH, "num_hidden_layers": L, "num_key_value_heads": KVH},
        "eos_token_id": eos, "pad_token_id": gen.get("pad_token_id", eos[0] if isinstance(eos, list) else eos),
        "type": "qwen2", "vocab_size": C["vocab_size"]},
        "search": {"diversity_penalty": 0.0, "do_sample": gen.get("do_sample", False), "early_stopping": True,
                   "length_penalty": 1.0, "max_length": ROPE_CACHE_LEN, "min_length": 0, "no_repeat_ngram_size": 0,
                   "num_beams": 1, "num_return_sequences": 1, "past_present_share_buffer": True,
                   "repetition_penalty": gen.get("repetition_penalty", 1.0), "temperature": gen.get("temperature", 1.0),
                   "top_k": gen.get("top_k", 1), "top_p": gen.get("top_p", 1.0)}}
    write_json(os.path.join(out, "genai_config.json"), genai, indent=4)
    ops = sorted({(nd.domain or "ai.onnx") + "." + nd.op_type for nd in mp.graph.node})
    with open(os.path.join(out, "README.md"), "w") as f:
        f.write(f"# hub-qwen2-gqa (test fixture, random weights, seed {q.SEED})\n\n"
                f"The hub-qwen2 replica's fp32 weights (same numbers) as an onnxruntime-genai model-builder graph, the layout of "
                f"onnx-community/DeepSeek-R1-Distill-Qwen-1.5B-ONNX and onnx-community/Llama-3.2-1B-Instruct: `onnx/model.onnx` "
                f"with one `com.microsoft.GroupQueryAttention` per layer (packed QKV, do_rotary=1 with `cos_cache`/`sin_cache` "
                f"initializers for {ROPE_CACHE_LEN} positions, so RoPE happens inside the op), `SimplifiedLayerNormalization` / "
                f"`com.microsoft.SkipSimplifiedLayerNormalization`, inputs `input_ids`, `attention_mask`, "
                f"`past_key_values.{{i}}.key/value` [batch_size, {KVH}, past_sequence_length, {HD}] (no `position_ids`), outputs "
                f"`logits`, `present.{{i}}.key/value`; `genai_config.json` as the builder writes it. Operators: {', '.join(ops)}. "
                f"Outputs are noise. Made by `models/recipes/hub_replicas/make_qwen2_gqa.py`; `reference.json` by `reference.mjs` "
                f"(transformers.js) + `torchref` (PyTorch, with `pytorch.attention`: per-layer, per-query-head softmax rows for "
                f"the first prompt + {MAX_ATTN_NEW} greedy ids).\n")
    print("files:", ", ".join(f"{p} {s}" for p, s in file_sizes(out)), "| total", sum(s for _, s in file_sizes(out)), "bytes")


class _SoftmaxTap:
    """Records every 4-D softmax over the last axis that make_qwen2's Attn computes (one per layer, [B, heads, q, k])."""

    def __enter__(self):
        self.rows, self._orig = [], torch.softmax

        def tap(x, dim=None, *a, **k):
            y = self._orig(x, dim, *a, **k)
            if y.dim() == 4 and dim in (-1, 3):
                self.rows.append(y)
            return y
        torch.softmax = tap
        return self

    def __exit__(self, *exc):
        torch.softmax = self._orig


@torch.no_grad()
def torchref(out: str) -> None:
    model = q.make_model()
    ref = read_json(os.path.join(out, "reference.json"))
    gen = read_json(os.path.join(out, "generation_config.json"))
    eos_ids, pen = gen["eos_token_id"], gen.get("repetition_penalty", 1.0)
    worst, worst_lp, same, pts = 0.0, 0.0, True, []
    for p in ref["dtypes"]["fp32"]["prompts"]:
        seq = list(p["input_ids"])
        n0 = len(seq)
        while len(seq) < n0 + ref["generate_options"]["max_new_tokens"]:
            x = torch.tensor([seq])
            lg, _ = model(x, torch.ones_like(x), torch.arange(len(seq))[None])
            s = lg[0, -1].clone()
            for t in set(seq):  # RepetitionPenaltyLogitsProcessor (generation_config.repetition_penalty)
                s[t] = s[t] * pen if s[t] < 0 else s[t] / pen
            nxt = int(torch.argmax(s))
            seq.append(nxt)
            if nxt in eos_ids:
                break
        greedy = seq[n0:]
        same &= greedy == p["greedy_ids"]
        full = p["input_ids"] + p["greedy_ids"]
        x = torch.tensor([full])
        lg, _ = model(x, torch.ones_like(x), torch.arange(len(full))[None])
        steps, w, wl = reference_steps([lg[0, n0 - 1 + s_i] for s_i in range(len(p["steps"]))], p["steps"])
        worst, worst_lp = max(worst, w), max(worst_lp, wl)
        pts.append({"text": p["text"], "greedy_ids": greedy, "steps": steps})
    # attention weights of ONE causal forward over the first prompt + its first greedy ids (PyTorch's own greedy)
    p0 = ref["dtypes"]["fp32"]["prompts"][0]
    ids = p0["input_ids"] + pts[0]["greedy_ids"][:MAX_ATTN_NEW]
    x = torch.tensor([ids])
    with _SoftmaxTap() as tap:
        model(x, torch.ones_like(x), torch.arange(len(ids))[None])
    assert len(tap.rows) == L and all(r.shape == (1, NH, len(ids), len(ids)) for r in tap.rows), [r.shape for r in tap.rows]
    layers = [[[[round(float(v), 7) for v in row] for row in head] for head in r[0]] for r in tap.rows]
    rowsum = max(abs(sum(row) - 1.0) for lay in layers for head in lay for row in head)
    upper = max(v for lay in layers for head in lay for qi, row in enumerate(head) for v in row[qi + 1:]) if len(ids) > 1 else 0.0
    print(f"attention: {L} layers x {NH} query heads x {len(ids)} x {len(ids)} (kv head = h // {NH // KVH}); "
          f"max |row sum - 1| {rowsum:.1e}; max weight above the diagonal {upper}")
    attention = {"text": p0["text"], "ids": ids, "layers": layers,
                 "note": f"softmax rows of one causal forward over ids (prompt + first {MAX_ATTN_NEW} greedy ids), "
                         f"[layer][query head][query][key], rounded to 7 decimals; query head h reads kv head h // {NH // KVH}"}
    finish_torchref(out, ref, pts, same, worst, worst_lp, extra={"attention": attention})


if __name__ == "__main__":
    torch.set_num_threads(1)
    cmd = sys.argv[1]
    if cmd == "build":
        src = os.path.abspath(sys.argv[2] if len(sys.argv) > 2 else os.path.join(ROOT, "test", "fixtures", "hub-qwen2"))
        out = os.path.abspath(sys.argv[3] if len(sys.argv) > 3 else os.path.join(ROOT, "test", "fixtures", "hub-qwen2-gqa"))
        build(src, out)
    else:
        torchref(os.path.abspath(sys.argv[2] if len(sys.argv) > 2 else os.path.join(ROOT, "test", "fixtures", "hub-qwen2-gqa")))
