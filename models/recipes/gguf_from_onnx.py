"""A GPT-2 model folder (config.json, tokenizer.json, onnx/model.onnx) as llama.cpp GGUF files.

    /usr/bin/python3 models/recipes/gguf_from_onnx.py MODEL_DIR OUT_DIR [--types=f32,q8_0,q4_0]

Writes OUT_DIR/<folder name>-<type>.gguf for each type (default all three) and prints one line per
file. The weights come from the ONNX graph (the file this project's engine runs), named as
llama.cpp's `gpt2` architecture names them (src/llama-arch.cpp, gguf-py's tensor_mapping.py):

  transformer.wte          token_embd       transformer.h.N.ln_1       blk.N.attn_norm
  transformer.wpe          position_embd    transformer.h.N.attn.c_attn blk.N.attn_qkv
  transformer.ln_f         output_norm      transformer.h.N.attn.c_proj blk.N.attn_output
                                            transformer.h.N.ln_2       blk.N.ffn_norm
                                            transformer.h.N.mlp.c_fc   blk.N.ffn_up
                                            transformer.h.N.mlp.c_proj blk.N.ffn_down

The ONNX weights are torch Linear [out, in], which is ggml's row order for a matrix of ne = {in, out},
so they are written as they are. The LM head is tied to token_embd (no `output` tensor; llama.cpp
then reads token_embd). q8_0 and q4_0 quantize every matrix (token_embd, attn_qkv, attn_output,
ffn_up, ffn_down: all weights through the same block format, as `llama-quantize --pure` would);
position_embd, norms and biases stay f32, as convert_hf_to_gguf.py keeps them.

The tokenizer goes in as llama.cpp's byte-level BPE (`tokenizer.ggml.model` "gpt2", pre-tokenizer
"gpt-2"): tokens by id, merges, special tokens as control tokens. A model whose vocab_size exceeds
the tokenizer's (the 124M benchmark model: 50257 rows, gpt2-code's 4096 tokens) gets "[PAD<id>]"
placeholders marked unused, as convert_hf_to_gguf.py pads.
"""
from __future__ import annotations

import json
import os
import re
import sys

import numpy as np
import onnx
from onnx import numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gguf_format as g  # noqa: E402

TOKEN_NORMAL, TOKEN_CONTROL, TOKEN_UNUSED = 1, 3, 5

BLOCK_NAMES = {
    "ln_1.weight": "attn_norm.weight", "ln_1.bias": "attn_norm.bias",
    "attn.c_attn.weight": "attn_qkv.weight", "attn.c_attn.bias": "attn_qkv.bias",
    "attn.c_proj.weight": "attn_output.weight", "attn.c_proj.bias": "attn_output.bias",
    "ln_2.weight": "ffn_norm.weight", "ln_2.bias": "ffn_norm.bias",
    "mlp.c_fc.weight": "ffn_up.weight", "mlp.c_fc.bias": "ffn_up.bias",
    "mlp.c_proj.weight": "ffn_down.weight", "mlp.c_proj.bias": "ffn_down.bias",
}
TOP_NAMES = {
    "transformer.wte.weight": "token_embd.weight",
    "transformer.wpe.weight": "position_embd.weight",
    "transformer.ln_f.weight": "output_norm.weight",
    "transformer.ln_f.bias": "output_norm.bias",
}
QUANTIZED = re.compile(r"^(token_embd|blk\.\d+\.(attn_qkv|attn_output|ffn_up|ffn_down))\.weight$")


def gguf_name(onnx_name: str) -> str:
    if onnx_name in TOP_NAMES:
        return TOP_NAMES[onnx_name]
    m = re.fullmatch(r"transformer\.h\.(\d+)\.(.+)", onnx_name)
    if m and m.group(2) in BLOCK_NAMES:
        return f"blk.{m.group(1)}.{BLOCK_NAMES[m.group(2)]}"
    raise ValueError(f"ONNX initializer {onnx_name!r} is not a GPT-2 weight this converter knows "
                     "(expected Hugging Face GPT-2 names: transformer.wte.weight, transformer.h.0.ln_1.weight, …)")


def read_config(model_dir: str) -> dict:
    with open(os.path.join(model_dir, "config.json"), encoding="utf-8") as f:
        cfg = json.load(f)
    if cfg.get("model_type") != "gpt2":
        raise ValueError(f"{model_dir}: model_type {cfg.get('model_type')!r}, this converter writes GPT-2 only")
    if cfg.get("activation_function", "gelu_new") not in ("gelu_new", "gelu_pytorch_tanh"):
        raise ValueError(f"activation {cfg['activation_function']!r}: llama.cpp's gpt2 uses the tanh GELU")
    if not os.path.exists(os.path.join(model_dir, "onnx", "model.onnx")):
        raise ValueError(f"{model_dir} has no onnx/model.onnx (the fp32 decoder-only export this converter reads)")
    return cfg


def read_weights(model_dir: str) -> dict[str, np.ndarray]:
    path = os.path.join(model_dir, "onnx", "model.onnx")
    model = onnx.load(path, load_external_data=True)
    arrays = {init.name: init for init in model.graph.initializer}
    # The exporter stores equal tensors once (the random 124M model's zero biases and unit norms) and
    # gives the other names as Identity nodes of the one it kept.
    names = {name: name for name in arrays}
    for node in model.graph.node:
        if node.op_type == "Identity" and node.input[0] in arrays:
            names[node.output[0]] = node.input[0]
    weights = {}
    for name, source in names.items():
        if name.startswith("transformer."):
            weights[gguf_name(name)] = numpy_helper.to_array(arrays[source]).astype(np.float32)
    if "token_embd.weight" not in weights:
        raise ValueError(f"{path} has no transformer.wte.weight initializer: not a GPT-2 export this converter reads")
    return weights


def tokenizer_entries(model_dir: str, n_vocab: int):
    with open(os.path.join(model_dir, "tokenizer.json"), encoding="utf-8") as f:
        tok = json.load(f)
    model = tok["model"]
    if model.get("type") != "BPE":
        raise ValueError(f"tokenizer.json model type {model.get('type')!r}: only byte-level BPE converts to llama.cpp's gpt2 tokenizer")
    by_id = {i: t for t, i in model["vocab"].items()}
    special = {a["id"] for a in tok.get("added_tokens", []) if a.get("special")}
    for a in tok.get("added_tokens", []):
        by_id[a["id"]] = a["content"]
    if max(by_id) >= n_vocab:
        raise ValueError(f"tokenizer has id {max(by_id)} but the model has {n_vocab} rows")
    tokens, types = [], []
    for i in range(n_vocab):
        if i in by_id:
            tokens.append(by_id[i])
            types.append(TOKEN_CONTROL if i in special else TOKEN_NORMAL)
        else:
            tokens.append(f"[PAD{i}]")
            types.append(TOKEN_UNUSED)
    merges = [m if isinstance(m, str) else " ".join(m) for m in model["merges"]]
    return tokens, types, merges


def convert(model_dir: str, out_path: str, type_name: str, weights: dict[str, np.ndarray] | None = None) -> None:
    """Writes one GGUF file; `weights` (from read_weights) saves reading the ONNX graph again."""
    cfg = read_config(model_dir)
    weights = weights if weights is not None else read_weights(model_dir)
    n_vocab, n_embd = weights["token_embd.weight"].shape
    n_ff = cfg.get("n_inner") or 4 * cfg["n_embd"]
    quant = g.TYPE_NAMES[type_name]
    name = os.path.basename(os.path.normpath(model_dir))
    tokens, types, merges = tokenizer_entries(model_dir, n_vocab)
    gen = {}
    if os.path.exists(os.path.join(model_dir, "generation_config.json")):
        with open(os.path.join(model_dir, "generation_config.json"), encoding="utf-8") as f:
            gen = json.load(f)
    bos = gen.get("bos_token_id", cfg.get("bos_token_id", 0))
    eos = gen.get("eos_token_id", cfg.get("eos_token_id", 0))

    w = g.GGUFWriter()
    w.add("general.architecture", g.STRING, "gpt2")
    w.add("general.name", g.STRING, name)
    w.add("general.file_type", g.UINT32, g.FILE_TYPES[quant])
    w.add("general.quantization_version", g.UINT32, 2)
    w.add("general.alignment", g.UINT32, g.ALIGNMENT)
    w.add("gpt2.context_length", g.UINT32, cfg["n_positions"])
    w.add("gpt2.embedding_length", g.UINT32, n_embd)
    w.add("gpt2.feed_forward_length", g.UINT32, n_ff)
    w.add("gpt2.block_count", g.UINT32, cfg["n_layer"])
    w.add("gpt2.attention.head_count", g.UINT32, cfg["n_head"])
    w.add("gpt2.attention.layer_norm_epsilon", g.FLOAT32, cfg.get("layer_norm_epsilon", 1e-5))
    w.add("tokenizer.ggml.model", g.STRING, "gpt2")
    w.add("tokenizer.ggml.pre", g.STRING, "gpt-2")
    w.add_array("tokenizer.ggml.tokens", g.STRING, tokens)
    w.add_array("tokenizer.ggml.token_type", g.INT32, types)
    w.add_array("tokenizer.ggml.merges", g.STRING, merges)
    w.add("tokenizer.ggml.bos_token_id", g.UINT32, bos if isinstance(bos, int) else bos[0])
    w.add("tokenizer.ggml.eos_token_id", g.UINT32, eos if isinstance(eos, int) else eos[0])
    w.add("tokenizer.ggml.add_bos_token", g.BOOL, False)

    order = ["token_embd.weight", "position_embd.weight"]
    for i in range(cfg["n_layer"]):
        order += [f"blk.{i}.{n}" for n in BLOCK_NAMES.values()]
    order += ["output_norm.weight", "output_norm.bias"]
    missing = [n for n in order if n not in weights]
    if missing:
        raise ValueError(f"{model_dir}: the ONNX graph lacks {', '.join(missing[:4])}")
    for n in order:
        w.add_tensor(n, weights[n], quant if QUANTIZED.match(n) else g.GGML_F32)
    os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
    tmp = out_path + ".partial"
    with open(tmp, "wb") as f:
        w.write(f)
    os.replace(tmp, out_path)


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    if len(args) != 2:
        sys.exit(__doc__.split("\n\n")[1])
    types = ["f32", "q8_0", "q4_0"]
    for a in sys.argv[1:]:
        if a.startswith("--types="):
            types = a.split("=", 1)[1].split(",")
    unknown = [t for t in types if t not in g.TYPE_NAMES]
    if unknown:
        sys.exit(f"unknown GGUF type {', '.join(unknown)}; choose from {', '.join(g.TYPE_NAMES)}")
    model_dir, out_dir = args
    name = os.path.basename(os.path.normpath(model_dir))
    try:
        read_config(model_dir)
        weights = read_weights(model_dir)
        for t in types:
            out = os.path.join(out_dir, f"{name}-{t}.gguf")
            convert(model_dir, out, t, weights)
            print(f"{out} {os.path.getsize(out) / 2**20:.1f} MiB", flush=True)
    except (ValueError, OSError) as err:
        sys.exit(f"gguf_from_onnx.py: {err}")


if __name__ == "__main__":
    main()
