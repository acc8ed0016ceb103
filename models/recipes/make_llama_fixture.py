"""Test fixture: a tiny llama-style decoder with random weights -> test/fixtures/tiny-llama-gqa/.

    /usr/bin/python3 models/recipes/make_llama_fixture.py [OUT_DIR]

RMSNorm, RoPE (rope_theta), SwiGLU MLP, grouped-query attention (4 query heads, 2 key/value heads)
with an explicit head_dim (24) that differs from hidden_size / num_heads (16 / 4 = 4), 2 layers,
vocabulary = the gpt2-code tokenizer (copied), tied embeddings (keeps the folder < 1 MiB: the
same graph is written twice, as onnx/model.onnx and onnx/decoder_model_merged.onnx).
HF module names (model.embed_tokens, model.layers.{i}.self_attn.{q,k,v,o}_proj, .mlp.{gate,up,down}_proj,
.input_layernorm, .post_attention_layernorm, model.norm, lm_head); one Softmax node per layer
([batch, heads, q, k]); Hub llama ONNX I/O with past_key_values.{i}.key/value
[batch_size, num_key_value_heads, past_sequence_length, head_dim].
Needs models/gpt2-code/tokenizer.json (or models/.work/tokenizer/).
"""
from __future__ import annotations

import math
import os
import shutil
import sys

import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
from bpe_tokenizer import Tokenizer  # noqa: E402
from common import additive_mask, count_params, export_decoder_onnx, make_reference, write_json  # noqa: E402

SEED = 7
CFG = dict(vocab_size=4096, hidden_size=16, intermediate_size=48, num_hidden_layers=2, num_attention_heads=4,
           num_key_value_heads=2, head_dim=24, max_position_embeddings=512, rms_norm_eps=1e-6, rope_theta=10000.0)
PROMPTS = [
    "def __init__(self",
    "import os\nimport sys\n",
    "export function f(x: number): string {",
    "The quick brown fox",
]
ATTN_TEXT = "def add(a, b):\n    return a + b\n"


class RMSNorm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat([-x[..., h:], x[..., :h]], dim=-1)


class LlamaAttention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.h, self.kvh, self.hd = c["num_attention_heads"], c["num_key_value_heads"], c["head_dim"]
        d = c["hidden_size"]
        self.q_proj = nn.Linear(d, self.h * self.hd, bias=False)
        self.k_proj = nn.Linear(d, self.kvh * self.hd, bias=False)
        self.v_proj = nn.Linear(d, self.kvh * self.hd, bias=False)
        self.o_proj = nn.Linear(self.h * self.hd, d, bias=False)

    def forward(self, x, cos, sin, mask, past):
        B, T, _ = x.shape
        q = self.q_proj(x).view(B, T, self.h, self.hd).transpose(1, 2)
        k = self.k_proj(x).view(B, T, self.kvh, self.hd).transpose(1, 2)
        v = self.v_proj(x).view(B, T, self.kvh, self.hd).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        if past is not None:
            k = torch.cat([past[0], k], dim=2)
            v = torch.cat([past[1], v], dim=2)
        rep = self.h // self.kvh
        kk = k[:, :, None].expand(B, self.kvh, rep, k.shape[2], self.hd).reshape(B, self.h, k.shape[2], self.hd)
        vv = v[:, :, None].expand(B, self.kvh, rep, v.shape[2], self.hd).reshape(B, self.h, v.shape[2], self.hd)
        scores = torch.matmul(q, kk.transpose(-1, -2)) * (1.0 / math.sqrt(self.hd))
        probs = torch.softmax(scores + mask, dim=-1)
        y = torch.matmul(probs, vv).transpose(1, 2).reshape(B, T, self.h * self.hd)
        return self.o_proj(y), (k, v), probs


class LlamaMLP(nn.Module):
    def __init__(self, c):
        super().__init__()
        d, i = c["hidden_size"], c["intermediate_size"]
        self.gate_proj = nn.Linear(d, i, bias=False)
        self.up_proj = nn.Linear(d, i, bias=False)
        self.down_proj = nn.Linear(i, d, bias=False)

    def forward(self, x):
        return self.down_proj(nn.functional.silu(self.gate_proj(x)) * self.up_proj(x))


class LlamaDecoderLayer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.input_layernorm = RMSNorm(c["hidden_size"], c["rms_norm_eps"])
        self.self_attn = LlamaAttention(c)
        self.post_attention_layernorm = RMSNorm(c["hidden_size"], c["rms_norm_eps"])
        self.mlp = LlamaMLP(c)

    def forward(self, x, cos, sin, mask, past):
        a, present, probs = self.self_attn(self.input_layernorm(x), cos, sin, mask, past)
        x = x + a
        return x + self.mlp(self.post_attention_layernorm(x)), present, probs


class LlamaModel(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.embed_tokens = nn.Embedding(c["vocab_size"], c["hidden_size"])
        self.layers = nn.ModuleList([LlamaDecoderLayer(c) for _ in range(c["num_hidden_layers"])])
        self.norm = RMSNorm(c["hidden_size"], c["rms_norm_eps"])
        hd = c["head_dim"]
        self.register_buffer("inv_freq", 1.0 / (c["rope_theta"] ** (torch.arange(0, hd, 2).float() / hd)),
                             persistent=False)

    def forward(self, input_ids, position_ids, mask, past_key_values=None, return_attn=False):
        x = self.embed_tokens(input_ids)
        freqs = position_ids[:, :, None].float() * self.inv_freq[None, None, :]
        emb = torch.cat([freqs, freqs], dim=-1)
        cos, sin = emb.cos()[:, None], emb.sin()[:, None]  # [B, 1, T, hd]
        presents, attns = [], []
        for i, layer in enumerate(self.layers):
            x, present, probs = layer(x, cos, sin, mask, None if past_key_values is None else past_key_values[i])
            presents.append(present)
            if return_attn:
                attns.append(probs)
        return self.norm(x), presents, (attns if return_attn else None)


class LlamaForCausalLM(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.model = LlamaModel(c)
        self.lm_head = nn.Linear(c["hidden_size"], c["vocab_size"], bias=False)
        self.lm_head.weight = self.model.embed_tokens.weight  # tied

    def forward(self, input_ids, attention_mask=None, position_ids=None, past_key_values=None, return_attn=False):
        B, T = input_ids.shape
        past_len = 0 if past_key_values is None else past_key_values[0][0].shape[2]
        if attention_mask is None:
            attention_mask = torch.ones(B, past_len + T, dtype=torch.long)
        if position_ids is None:
            position_ids = (torch.arange(T) + past_len)[None, :].expand(B, T)
        mask = additive_mask(attention_mask, T, past_len)
        h, presents, attns = self.model(input_ids, position_ids, mask, past_key_values, return_attn)
        return self.lm_head(h), presents, attns


def main():
    out = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "test", "fixtures", "tiny-llama-gqa"))
    torch.manual_seed(SEED)
    torch.set_num_threads(1)
    tok_dir = os.path.join(ROOT, "models", "gpt2-code")
    if not os.path.exists(os.path.join(tok_dir, "tokenizer.json")):
        tok_dir = os.path.join(ROOT, "models", ".work", "tokenizer")
    tok = Tokenizer.load(tok_dir)
    c = dict(CFG, vocab_size=len(tok))
    eot = tok.token_to_id("<|endoftext|>")
    model = LlamaForCausalLM(c).eval()
    with torch.no_grad():
        for n, p in model.named_parameters():
            if "embed_tokens" in n:
                nn.init.normal_(p, std=0.5)
            elif n.endswith("layernorm.weight") or n.endswith("norm.weight"):
                p.copy_(1.0 + 0.2 * torch.randn_like(p))
            else:
                nn.init.normal_(p, std=0.3)
    os.makedirs(os.path.join(out, "onnx"), exist_ok=True)
    softmax = export_decoder_onnx(model, os.path.join(out, "onnx", "model.onnx"), c["num_hidden_layers"],
                                  c["num_key_value_heads"], c["head_dim"])
    shutil.copyfile(os.path.join(out, "onnx", "model.onnx"), os.path.join(out, "onnx", "decoder_model_merged.onnx"))
    print("Softmax nodes:", softmax)
    write_json(os.path.join(out, "config.json"), {
        "_name_or_path": "tiny-llama-gqa",
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        **c,
        "hidden_act": "silu",
        "attention_bias": False,
        "mlp_bias": False,
        "attention_dropout": 0.0,
        "initializer_range": 0.02,
        "pretraining_tp": 1,
        "rope_scaling": None,
        "bos_token_id": eot,
        "eos_token_id": eot,
        "pad_token_id": eot,
        "tie_word_embeddings": True,
        "use_cache": True,
        "torch_dtype": "float32",
    })
    write_json(os.path.join(out, "generation_config.json"),
               {"bos_token_id": eot, "eos_token_id": eot, "pad_token_id": eot, "max_length": c["max_position_embeddings"]})
    for f in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copyfile(os.path.join(tok_dir, f), os.path.join(out, f))
    ref = make_reference(model, tok, "tiny-llama-gqa", PROMPTS, ATTN_TEXT, eos_id=eot)
    write_json(os.path.join(out, "reference.json"), ref, indent=None)
    for p in ref["prompts"]:
        print(repr(p["text"]), p["greedy_ids"])
    with open(os.path.join(out, "README.md"), "w") as f:
        f.write(f"""# tiny-llama-gqa (test fixture, random weights)

Made by `models/recipes/make_llama_fixture.py` (seed {SEED}); not a trained model, outputs are noise.
Llama architecture: RMSNorm, RoPE (theta {c['rope_theta']:g}), SwiGLU MLP, grouped-query attention
({c['num_attention_heads']} query heads, {c['num_key_value_heads']} key/value heads), explicit head_dim {c['head_dim']}
(hidden_size {c['hidden_size']}, so head_dim != hidden_size / heads), {c['num_hidden_layers']} layers,
tied embeddings, vocabulary and tokenizer of `models/gpt2-code`; {count_params(model):,} parameters.
`onnx/model.onnx` and `onnx/decoder_model_merged.onnx` are the same graph (fp32, opset 14):
inputs `input_ids`, `attention_mask`, `position_ids`, `past_key_values.{{i}}.key/value`
`[batch_size, {c['num_key_value_heads']}, past_sequence_length, {c['head_dim']}]`; outputs `logits`, `present.{{i}}.key/value`.
One `Softmax` per layer (`{softmax[0]}`, ...), `[batch, {c['num_attention_heads']}, q, k]`.
`reference.json`: PyTorch-computed greedy ids, top-5 log-probs, prompt log-probs, attention maps.
""")
    print("params", count_params(model))


if __name__ == "__main__":
    main()
