"""Benchmark model: GPT-2-small-shaped decoder with random weights, same layout/I/O as models/gpt2-code.

    /usr/bin/python3 models/recipes/make_gpt2_small.py [OUT_DIR] [--reference]

OUT_DIR defaults to .cache/gpt2-small-random/ (git-ignored; ~475 MiB, do not commit).
12 layers, n_embd 768, 12 heads, n_positions 1024, vocab_size 50257 (GPT-2's), ~124M parameters,
GPT-2 init (std 0.02). The tokenizer is gpt2-code's (4096 ids): prompts encode to ids < 4096, which
is fine for timing; generated ids >= 4096 have no token text. --reference also writes reference.json
(PyTorch-computed, same format as gpt2-code's; takes a minute more).
"""
from __future__ import annotations

import os
import shutil
import sys
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
from common import GPT, GPTConfig, count_params, export_decoder_onnx, write_json  # noqa: E402


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    out = os.path.abspath(args[0] if args else os.path.join(ROOT, ".cache", "gpt2-small-random"))
    torch.manual_seed(0)
    torch.set_num_threads(1)
    cfg = GPTConfig(vocab_size=50257, n_positions=1024, n_embd=768, n_layer=12, n_head=12)
    model = GPT(cfg).eval()
    n = count_params(model)
    print("params", n, flush=True)
    t0 = time.time()
    softmax = export_decoder_onnx(model, os.path.join(out, "onnx", "model.onnx"), cfg.n_layer, cfg.n_head, cfg.head_dim)
    print(f"export {time.time() - t0:.1f}s, Softmax nodes: {softmax}", flush=True)
    tok_dir = os.path.join(ROOT, "models", "gpt2-code")
    if not os.path.exists(os.path.join(tok_dir, "tokenizer.json")):
        tok_dir = os.path.join(ROOT, "models", ".work", "tokenizer")
    import json
    with open(os.path.join(tok_dir, "tokenizer.json"), encoding="utf-8") as f:
        eot = json.load(f)["model"]["vocab"]["<|endoftext|>"]
    write_json(os.path.join(out, "config.json"), model.hf_config(eot, eot, _name_or_path="gpt2-small-random"))
    write_json(os.path.join(out, "generation_config.json"),
               {"bos_token_id": eot, "eos_token_id": eot, "pad_token_id": eot, "max_length": cfg.n_positions})
    shutil.copyfile(os.path.join(tok_dir, "tokenizer.json"), os.path.join(out, "tokenizer.json"))
    with open(os.path.join(tok_dir, "tokenizer_config.json"), encoding="utf-8") as f:
        tc = json.load(f)
    tc["model_max_length"] = cfg.n_positions
    write_json(os.path.join(out, "tokenizer_config.json"), tc)
    with open(os.path.join(out, "README.md"), "w") as f:
        f.write(f"# gpt2-small-random\n\nBenchmark only: GPT-2 small shape (12 layers, 768 wide, 12 heads, "
                f"n_positions 1024, vocab_size 50257), random weights, {n:,} parameters, gpt2-code's tokenizer. "
                f"Made by `models/recipes/make_gpt2_small.py`.\n")
    if "--reference" in sys.argv:
        from bpe_tokenizer import Tokenizer
        from common import make_reference
        tok = Tokenizer.load(tok_dir)
        ref = make_reference(model, tok, "gpt2-small-random", ["def __init__(self", "export function f(",
                                                               "import os\n", "The quick brown fox"],
                             "def add(a, b):\n    return a + b\n", eos_id=eot)
        write_json(os.path.join(out, "reference.json"), ref, indent=None)
    print("written", out, flush=True)


if __name__ == "__main__":
    main()
