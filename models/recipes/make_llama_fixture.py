"""Test fixture: a tiny llama-style decoder with random weights -> test/fixtures/tiny-llama-gqa/.

    /usr/bin/python3 models/recipes/make_llama_fixture.py [OUT_DIR]
    /usr/bin/python3 models/recipes/make_llama_fixture.py lens [OUT_DIR]   # only add reference.json "lens"

`lens` rebuilds the PyTorch model from onnx/model.onnx's initializers (no rebuild of the ONNX files), checks it
against onnxruntime-node and reference.json, and adds the top-level key "lens" (logit lens, see
lens_reference_gpt2_code.py) over the "attention" text's ids, keeping every other key byte-identical.

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
    ref["lens"] = lens_reference(model, ref["attention"]["input_ids"])
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
`reference.json`: PyTorch-computed greedy ids, top-5 log-probs, prompt log-probs, attention maps, logit lens
(`lens`: top-5 of softmax(lm_head(norm(residual after layer i))) per position of the attention text).
""")
    print("params", count_params(model))


def lens_reference(model, ids):
    """Logit lens over `ids`: softmax(lm_head(norm(residual after layer i))), top-5 per position."""
    from lens_reference_gpt2_code import residual_lens
    fwd = lambda x: model(x, torch.ones_like(x), torch.arange(x.shape[1])[None])[0]  # noqa: E731
    layers, _ = residual_lens(model, model.model.layers, lambda r: model.lm_head(model.model.norm(r)), ids, fwd)
    return {"text": ATTN_TEXT, "ids": list(ids), "layers": layers}


@torch.no_grad()
def lens_only(out):
    """Add "lens" to an existing fixture without rebuilding it: weights from onnx/model.onnx, checked first."""
    import json
    from lens_reference_gpt2_code import check_reference, load_from_onnx, ort_run
    torch.set_num_threads(1)
    with open(os.path.join(out, "config.json")) as f:
        hub = json.load(f)
    c = {k: hub[k] for k in CFG}
    model = LlamaForCausalLM(c).eval()
    onnx_file = os.path.join(out, "onnx", "model.onnx")
    load_from_onnx(model, onnx_file)
    with open(os.path.join(out, "reference.json"), encoding="utf-8") as f:
        old = f.read()
    ref = json.loads(old)
    ids = ref["attention"]["input_ids"]
    ort = ort_run(out, ATTN_TEXT, c["num_hidden_layers"], c["num_key_value_heads"], c["head_dim"], onnx_file)
    assert ort["ids"] == ids, "transformers.js tokenizes the attention text differently"
    fwd = lambda i: model(torch.tensor([i]), None, None)[0][0]  # noqa: E731
    d_ort = float((fwd(ids) - torch.tensor(ort["logits"])).abs().max())
    d_ref = check_reference(fwd, ref)
    _, _, attn = model(torch.tensor([ids]), None, None, None, True)
    d_attn = max(abs(round(float(x), 7) - y) for a, la in zip(attn, ref["attention"]["layers"])
                 for h, lh in zip(a[0], la) for r, lr in zip(h, lh) for x, y in zip(r, lr))
    print(f"tiny-llama-gqa from ONNX initializers: max |dlogit| vs onnxruntime-node {d_ort:.2e}; "
          f"max |dlogprob| vs reference.json {d_ref:.2e}; max |dattention| vs reference.json {d_attn:.2e}")
    assert d_ort <= 1e-4 and d_ref <= 1e-4 and d_attn <= 1e-4
    if ref.pop("lens", None) is None:  # first run: the file must be write_json's format, so its bytes stay as they are
        assert json.dumps(ref, ensure_ascii=False) + "\n" == old, "reference.json is not in write_json's format"
    ref["lens"] = lens_reference(model, ids)
    write_json(os.path.join(out, "reference.json"), ref, indent=None)
    print("added reference.json lens:", len(ref["lens"]["layers"]), "layers x", len(ids), "positions")


if __name__ == "__main__":
    if sys.argv[1:2] == ["lens"]:
        lens_only(os.path.abspath(sys.argv[2] if len(sys.argv) > 2 else os.path.join(ROOT, "test", "fixtures", "tiny-llama-gqa")))
    else:
        main()
