"""Rebuild a BART training checkpoint (bart_train.py) from a bundled BART folder's ONNX graphs.

The exported graphs keep every PyTorch parameter as an initializer of the same name, so the shipped
model can be trained further without its (unversioned) training checkpoint:

    /usr/bin/python3 models/recipes/bart_from_onnx.py models/bart-translate-summarize OUT.pt [STEPS MINUTES]

STEPS and MINUTES are the training history recorded in the model card (they only label the new run).
"""
import json
import os
import sys

import onnx
import torch
from onnx import numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import bart_model as B  # noqa: E402

CFG_KEYS = ("vocab_size", "d_model", "encoder_layers", "decoder_layers", "encoder_attention_heads",
            "decoder_attention_heads", "encoder_ffn_dim", "decoder_ffn_dim", "max_position_embeddings")


def main(model_dir, out_path, steps=0, minutes=0.0):
    with open(os.path.join(model_dir, "config.json")) as f:
        hub = json.load(f)
    cfg = dict(B.DEFAULT_CFG)
    cfg.update({k: hub[k] for k in CFG_KEYS})
    cfg["normalize_before"] = bool(hub.get("normalize_before", True))
    model = B.BartForConditionalGeneration(cfg)
    want = model.state_dict()
    got = {}
    for name in ("encoder_model.onnx", "decoder_model_merged.onnx"):
        for init in onnx.load(os.path.join(model_dir, "onnx", name)).graph.initializer:
            if init.name in want:
                got[init.name] = torch.from_numpy(numpy_helper.to_array(init).copy())
    for alias in ("model.encoder.embed_tokens.weight", "model.decoder.embed_tokens.weight"):
        if alias in want and "model.shared.weight" in got:  # the tied embedding appears once in ONNX
            got[alias] = got["model.shared.weight"]
    missing = sorted(set(want) - set(got))
    if missing:
        raise SystemExit(f"{model_dir}: the ONNX graphs lack these parameters: {missing}")
    for k, v in got.items():
        if tuple(v.shape) != tuple(want[k].shape):
            raise SystemExit(f"{k}: ONNX shape {tuple(v.shape)} != model shape {tuple(want[k].shape)}")
    model.load_state_dict(got)
    torch.save({"cfg": cfg, "state": model.state_dict(), "step": int(steps), "minutes": float(minutes)}, out_path)
    print(f"wrote {out_path}: {B.n_params(model)} parameters, history {steps} steps / {minutes} min")


if __name__ == "__main__":
    a = sys.argv[1:]
    if len(a) < 2:
        raise SystemExit(__doc__)
    main(a[0], a[1], *(a[2:4]))
