"""test/fixtures/tiny-gpt-quantized: a tiny random-weight GPT in this project's export layout with its q8 and q4 files.

    /usr/bin/python3 models/recipes/make_quantized_fixture.py [OUT_DIR]

The same maths and ONNX export as models/gpt2-code (models/recipes/common.py: GPT, export_decoder_onnx), shrunk to
2 layers, 32 wide, 2 heads, 64 positions and a 512-token byte-level BPE (gpt2-code's tokenizer cut to its first
255 merges), then quantize_decoder.write_quantized: model_quantized.onnx / model_int8.onnx (MatMulInteger, QInt8)
and model_q4.onnx (MatMulNBits, 4 bits, block 32, accuracy_level 4; LM head 8-bit). The weights are scaled up (WTE_SCALE,
BLOCK_SCALE) so that the greedy steps of a random model differ from each other.
test/inference/quantizedDecoding.test.mjs checks the engine against transformers.js on these files.
"""
from __future__ import annotations

import json
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
from common import GPT, GPTConfig, export_decoder_onnx, write_json  # noqa: E402
from quantize_decoder import write_quantized  # noqa: E402

VOCAB = 512
# GPT-2 init (std 0.02) gives a random model that repeats its last token (the tied head finds the input
# embedding) with near-uniform logits; larger weights make the blocks matter and the steps differ.
WTE_SCALE, BLOCK_SCALE = 8.0, 30.0


def small_tokenizer(src: str) -> dict:
    """gpt2-code's tokenizer (id 0 <|endoftext|>, 1..256 the bytes, 257 + k the k-th merge) cut to VOCAB ids."""
    with open(src, encoding="utf-8") as f:
        tok = json.load(f)
    model = tok["model"]
    model["vocab"] = {s: i for s, i in model["vocab"].items() if i < VOCAB}
    model["merges"] = model["merges"][: VOCAB - 257]
    return tok


def main():
    out = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "test", "fixtures", "tiny-gpt-quantized"))
    torch.manual_seed(0)
    cfg = GPTConfig(vocab_size=VOCAB, n_positions=64, n_embd=32, n_layer=2, n_head=2)
    model = GPT(cfg).eval()
    with torch.no_grad():
        model.transformer.wte.weight.mul_(WTE_SCALE)
        for name, p in model.named_parameters():
            if p.dim() == 2 and not name.startswith(("transformer.wte", "transformer.wpe")):
                p.mul_(BLOCK_SCALE)
    os.makedirs(os.path.join(out, "onnx"), exist_ok=True)
    export_decoder_onnx(model, os.path.join(out, "onnx", "model.onnx"), cfg.n_layer, cfg.n_head, cfg.head_dim)
    write_quantized(os.path.join(out, "onnx"), os.path.join(out, "onnx", "model.onnx"))
    src = os.path.join(ROOT, "models", "gpt2-code")
    write_json(os.path.join(out, "tokenizer.json"), small_tokenizer(os.path.join(src, "tokenizer.json")), indent=None)
    with open(os.path.join(src, "tokenizer_config.json"), encoding="utf-8") as f:
        tc = json.load(f)
    tc["model_max_length"] = cfg.n_positions
    write_json(os.path.join(out, "tokenizer_config.json"), tc)
    write_json(os.path.join(out, "config.json"), model.hf_config(0, 0, _name_or_path="tiny-gpt-quantized"))
    write_json(os.path.join(out, "generation_config.json"), {"bos_token_id": 0, "eos_token_id": 0, "pad_token_id": 0})
    with open(os.path.join(out, "README.md"), "w", encoding="utf-8") as f:
        f.write("# tiny-gpt-quantized\n\nA tiny random-weight GPT (2 layers, 32 wide, 2 heads, 512-token byte-level BPE) in "
                "this project's export layout, with: onnx/model.onnx (fp32), onnx/model_quantized.onnx and "
                "onnx/model_int8.onnx (q8: DynamicQuantizeLinear + MatMulInteger, QInt8 per-column, int8 embedding "
                "Gathers), onnx/model_q4.onnx (com.microsoft MatMulNBits, bits 4, block 32, accuracy_level 4; the LM head as in q8). Made by "
                "`models/recipes/make_quantized_fixture.py`; outputs are noise. "
                "test/inference/quantizedDecoding.test.mjs checks the engine against transformers.js on each file.\n")
    print("written", out)


if __name__ == "__main__":
    main()
