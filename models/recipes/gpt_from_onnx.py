"""Rebuild a train_gpt.py checkpoint from the bundled GPT's ONNX graph, optionally growing its vocabulary.

The exported graph keeps every PyTorch parameter as an initializer of the same name (the LM head is the tied
token embedding), so the shipped model can be trained further without its (unversioned) training checkpoint:

    /usr/bin/python3 models/recipes/gpt_from_onnx.py models/gpt2-code OUT.pt [NEW_VOCAB]

NEW_VOCAB (default: the model's own) appends embedding rows for tokens added after the existing ids (the
fill-in-the-middle markers); each new row is the mean of the existing rows, so a new token starts as an
"average" token rather than as noise whose logit could be large by chance. Every existing id keeps its row.
The checkpoint records the shipped model's training history from its card (`metrics` of make_gpt.sh are not
shipped), as one phase labelled with the steps, tokens and seconds given in SHIPPED_HISTORY below.
"""
import json
import os
import sys

import onnx
import torch
from onnx import numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from common import GPT, GPTConfig, count_params  # noqa: E402

# The shipped (left-to-right only) model's training, from models/gpt2-code/README.md before FIM training.
SHIPPED_HISTORY = [
    {"steps": 679, "tokens": 2_781_184, "seconds": 1504, "lr_max": 3e-3, "lr_min": 2e-4},
    {"steps": 442, "tokens": 1_810_432, "seconds": 840, "lr_max": 1e-3, "lr_min": 1e-4},
]


def load_onnx_gpt(model_dir, new_vocab=None):
    with open(os.path.join(model_dir, "config.json")) as f:
        hub = json.load(f)
    cfg = {"vocab_size": hub["vocab_size"], "n_positions": hub["n_positions"], "n_embd": hub["n_embd"],
           "n_layer": hub["n_layer"], "n_head": hub["n_head"]}
    model = GPT(GPTConfig(**cfg))
    want = model.state_dict()
    got = {}
    for init in onnx.load(os.path.join(model_dir, "onnx", "model.onnx")).graph.initializer:
        if init.name in want:
            got[init.name] = torch.from_numpy(numpy_helper.to_array(init).copy())
    got["lm_head.weight"] = got.get("transformer.wte.weight")  # tied: one initializer in the graph
    missing = sorted(k for k in want if got.get(k) is None)
    if missing:
        raise SystemExit(f"{model_dir}: the ONNX graph lacks these parameters: {missing}")
    for k, v in got.items():
        if tuple(v.shape) != tuple(want[k].shape):
            raise SystemExit(f"{k}: ONNX shape {tuple(v.shape)} != model shape {tuple(want[k].shape)}")
    model.load_state_dict(got)
    if new_vocab is not None and new_vocab != cfg["vocab_size"]:
        if new_vocab < cfg["vocab_size"]:
            raise SystemExit(f"NEW_VOCAB {new_vocab} is smaller than the model's vocabulary {cfg['vocab_size']}")
        old = model.transformer.wte.weight.detach()
        rows = old.mean(0, keepdim=True).expand(new_vocab - old.shape[0], -1)
        cfg["vocab_size"] = new_vocab
        grown = GPT(GPTConfig(**cfg))
        state = dict(model.state_dict())
        state["transformer.wte.weight"] = torch.cat([old, rows], 0)
        state["lm_head.weight"] = state["transformer.wte.weight"]
        grown.load_state_dict(state)
        model = grown
    return model.eval(), cfg


def main(model_dir, out_path, new_vocab=None):
    model, cfg = load_onnx_gpt(model_dir, int(new_vocab) if new_vocab else None)
    hist = SHIPPED_HISTORY
    torch.save({"model": model.state_dict(), "cfg": cfg, "step": sum(p["steps"] for p in hist),
                "tokens": sum(p["tokens"] for p in hist), "seconds": float(sum(p["seconds"] for p in hist)),
                "history": [], "phases": list(hist), "batch": 16, "lr_max": hist[-1]["lr_max"]}, out_path)
    print(f"wrote {out_path}: {count_params(model)} parameters, vocabulary {cfg['vocab_size']}")


if __name__ == "__main__":
    a = sys.argv[1:]
    if len(a) < 2:
        raise SystemExit(__doc__)
    main(*a[:3])
