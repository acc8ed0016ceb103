"""Logit-lens reference for the bundled model models/gpt2-code -> test/fixtures/lens-reference/gpt2-code.json.

    /usr/bin/python3 models/recipes/lens_reference_gpt2_code.py [MODEL_DIR] [OUT_JSON]

The training checkpoint is not versioned, so the PyTorch model (common.GPT, the class train_gpt.py trains and
exports) is rebuilt from the ONNX initializers (the export keeps every parameter under its PyTorch name; lm_head is
tied to transformer.wte). Before anything is written, its logits over the prompt must equal onnxruntime-node's
(run on onnx/model.onnx, empty past) within 1e-4, and its top-5 log-probs / attention maps must match
models/gpt2-code/reference.json within 1e-4. The prompt is tokenized by transformers.js (AutoTokenizer on
MODEL_DIR), i.e. exactly the ids the extension feeds.

lens[i] = softmax(lm_head(ln_f(r_i))), r_i = the residual stream after block i (before ln_f), i = 0..L-1, so the
last layer is the model's output distribution (asserted within 1e-6). Written: {model, text, ids, layers:
[layer][position] = {top: [{id, prob}] (5, most probable first, probs rounded to 7 decimals)}, checks}.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import onnx
import torch
from onnx import numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "hub_replicas"))
from common import GPT, GPTConfig, write_json  # noqa: E402
from hub_common import lens_layers  # noqa: E402

TEXT = "def add(a, b):\n    return a + b\n"

# transformers.js tokenization + onnxruntime-node logits of one no-past pass (empty past_key_values)
NODE = r"""
import * as ort from 'onnxruntime-node';
import { AutoTokenizer, env } from '@huggingface/transformers';
const [dir, text, nLayer, nKv, hd, onnxFile] = JSON.parse(process.argv[1]);
env.allowRemoteModels = false; env.localModelPath = process.cwd() + '/';
const tok = await AutoTokenizer.from_pretrained(dir);
const ids = tok.encode(text);
const s = await ort.InferenceSession.create(onnxFile);
const T = ids.length;
const feeds = {
  input_ids: new ort.Tensor('int64', BigInt64Array.from(ids.map(BigInt)), [1, T]),
  attention_mask: new ort.Tensor('int64', new BigInt64Array(T).fill(1n), [1, T]),
  position_ids: new ort.Tensor('int64', BigInt64Array.from(ids.map((_, i) => BigInt(i))), [1, T]),
};
for (let i = 0; i < nLayer; i++) for (const k of ['key', 'value'])
  feeds[`past_key_values.${i}.${k}`] = new ort.Tensor('float32', new Float32Array(0), [1, nKv, 0, hd]);
const out = await s.run(feeds);
const V = out.logits.dims[2], L = Array.from(out.logits.data);
console.log(JSON.stringify({ ids, logits: Array.from({ length: T }, (_, t) => L.slice(t * V, (t + 1) * V)) }));
"""


def onnx_weights(path: str) -> dict:
    return {t.name: torch.from_numpy(numpy_helper.to_array(t).copy()) for t in onnx.load(path).graph.initializer}


def load_from_onnx(model: torch.nn.Module, path: str, tied=("lm_head.weight",)) -> None:
    """Copy every parameter from the ONNX initializer of the same name; only the tied lm_head may be absent."""
    w = onnx_weights(path)
    sd = model.state_dict()
    missing = [k for k in sd if k not in w and k not in tied]
    assert not missing, f"not in the ONNX initializers: {missing}"
    model.load_state_dict({k: w[k] for k in sd if k in w}, strict=False)


def ort_run(model_dir: str, text: str, n_layer: int, n_kv: int, head_dim: int, onnx_file: str) -> dict:
    rel = os.path.relpath(model_dir, ROOT)
    arg = json.dumps([rel, text, n_layer, n_kv, head_dim, onnx_file])
    r = subprocess.run(["node", "--input-type=module", "-e", NODE, arg], cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(r.stdout)


@torch.no_grad()
def residual_lens(model, blocks, head, ids, forward):
    """forward(x) -> logits [1, T, V]; forward hooks on `blocks` record the residual stream after each block, and
    head(r) = the model's own final norm + lm_head. Returns (lens layers, logits [T, V])."""
    resid = []
    hooks = [b.register_forward_hook(lambda m, i, o: resid.append(o[0].detach().clone())) for b in blocks]
    try:
        logits = forward(torch.tensor([ids]))[0]
    finally:
        for h in hooks:
            h.remove()
    assert len(resid) == len(blocks)
    return lens_layers([head(r)[0] for r in resid], logits), logits


def check_reference(logits_fn, ref: dict) -> float:
    """Top-5 log-probs of the first generated step of each reference prompt (PyTorch-computed at export time)."""
    worst = 0.0
    for p in ref["prompts"]:
        lp = torch.log_softmax(logits_fn(p["input_ids"])[-1].double(), -1)
        for e in p["top5"][0]:
            worst = max(worst, abs(float(lp[e["id"]]) - e["logprob"]))
    return worst


@torch.no_grad()
def main():
    torch.set_num_threads(1)
    model_dir = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "models", "gpt2-code"))
    out = os.path.abspath(sys.argv[2] if len(sys.argv) > 2 else os.path.join(ROOT, "test", "fixtures", "lens-reference", "gpt2-code.json"))
    with open(os.path.join(model_dir, "config.json")) as f:
        hub = json.load(f)
    cfg = GPTConfig(vocab_size=hub["vocab_size"], n_positions=hub["n_positions"], n_embd=hub["n_embd"],
                    n_layer=hub["n_layer"], n_head=hub["n_head"], layer_norm_epsilon=hub["layer_norm_epsilon"])
    onnx_file = os.path.join(model_dir, "onnx", "model.onnx")
    model = GPT(cfg).eval()
    load_from_onnx(model, onnx_file)
    assert model.lm_head.weight is model.transformer.wte.weight

    def fwd(x):
        return model(x, torch.ones_like(x), torch.arange(x.shape[1])[None])[0]

    ort = ort_run(model_dir, TEXT, cfg.n_layer, cfg.n_head, cfg.head_dim, onnx_file)
    ids = ort["ids"]
    layers, logits = residual_lens(model, model.transformer.h, lambda r: model.lm_head(model.transformer.ln_f(r)), ids, fwd)
    d_ort = float((logits - torch.tensor(ort["logits"])).abs().max())
    with open(os.path.join(model_dir, "reference.json")) as f:
        ref = json.load(f)
    d_ref = check_reference(lambda i: fwd(torch.tensor([i]))[0], ref)
    assert ref["attention"]["input_ids"] == ids, "transformers.js ids differ from reference.json's attention ids"
    _, _, attn = model(torch.tensor([ids]), None, None, None, True)
    d_attn = max(abs(round(float(x), 7) - y) for a, la in zip(attn, ref["attention"]["layers"])
                 for h, lh in zip(a[0], la) for r, lr in zip(h, lh) for x, y in zip(r, lr))
    print(f"gpt2-code from ONNX initializers: max |dlogit| vs onnxruntime-node {d_ort:.2e}; "
          f"max |dlogprob| vs reference.json {d_ref:.2e}; max |dattention| vs reference.json {d_attn:.2e}")
    assert d_ort <= 1e-4 and d_ref <= 1e-4 and d_attn <= 1e-4, "PyTorch rebuild does not match the ONNX model"
    write_json(out, {"model": "gpt2-code", "text": TEXT, "ids": ids, "layers": layers,
                     "checks": {"max_abs_logit_diff_vs_onnxruntime": d_ort, "max_abs_logprob_diff_vs_reference_json": d_ref,
                                "max_abs_attention_diff_vs_reference_json": d_attn}}, indent=None)
    print("wrote", os.path.relpath(out, ROOT), "layers", len(layers), "positions", len(ids))


if __name__ == "__main__":
    main()
