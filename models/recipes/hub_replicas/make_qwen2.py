"""hub-qwen2 (+ hub-qwen2-external): a tiny random-weight Qwen2 in the onnx-community layout
(e.g. onnx-community/Qwen2.5-0.5B-Instruct: onnx/model.onnx, model_fp16.onnx, model_quantized.onnx,
model_int8.onnx, model_uint8.onnx, model_q4.onnx, model_q4f16.onnx, model_bnb4.onnx; large repos ship model.onnx + model.onnx_data).

    /usr/bin/python3 models/recipes/hub_replicas/make_qwen2.py build    [OUT] [OUT_EXTERNAL]
    /usr/bin/python3 models/recipes/hub_replicas/make_qwen2.py torchref [OUT]

Qwen2: RMSNorm (eps 1e-6), RoPE (theta 1e6, rotate_half), q/k/v projections WITH bias, o_proj without,
grouped-query attention (4 query heads, 2 key/value heads, head_dim 16), SwiGLU MLP, tied embeddings,
config vocab_size (512) larger than the tokenizer (as Qwen's 151936 > 151665), byte-level BPE tokenizer with
Qwen2's pre-tokenizer regex and NFC, <|endoftext|> / <|im_start|> / <|im_end|> appended after the BPE vocab.
I/O as Optimum exports it: input_ids, attention_mask, position_ids, past_key_values.{i}.key/value
[batch_size, 2, past_sequence_length, 16] -> logits, present.{i}.key/value.
"""
from __future__ import annotations

import math
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F
import onnx

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
from hub_common import PROBE, added, attention_maps, check_rows, finish_torchref, lens_layers, reference_steps, read_json, torch_export, write_json  # noqa: E402
import hub_quant  # noqa: E402

SEED = 2024
C = dict(vocab_size=512, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
         num_key_value_heads=2, max_position_embeddings=32768, rms_norm_eps=1e-6, rope_theta=1000000.0)
HD = C["hidden_size"] // C["num_attention_heads"]
F32_MIN, F16_MIN = torch.finfo(torch.float32).min, torch.finfo(torch.float16).min
QWEN_RE = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
CORPUS = [
    "Hello, how are you today? I am fine, thank you very much.",
    "The quick brown fox jumps over the lazy dog. The dog sleeps in the sun.",
    "Once upon a time there was a little girl who lived in a village near the forest.",
    "def add(a, b):\n    return a + b\n",
    "Qwen is a large language model. It can answer questions and write code.",
    "What is the capital of France? The capital of France is Paris.",
    "Please write a short story about a cat and a mouse who become friends.",
] * 3


N_TOK = 256 + 190 + 3  # byte-level BPE (256 bytes + 190 merges) + 3 special tokens


def make_tokenizer():
    from bpe_tokenizer import train_bpe
    tok = train_bpe(CORPUS, vocab_size=256 + 190, special_tokens=[], min_frequency=2, verbose=False)
    vocab = dict(sorted(tok.vocab.items(), key=lambda kv: kv[1]))
    n = len(vocab)
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    ids = {s: n + i for i, s in enumerate(specials)}
    j = {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [added(ids[s], s) for s in specials],
        "normalizer": {"type": "NFC"},
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": QWEN_RE}, "behavior": "Isolated", "invert": False},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False}]},
        "post_processor": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False},
        "decoder": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": "",
                  "end_of_word_suffix": "", "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                  "vocab": vocab, "merges": [[a, b] for a, b in tok.merges]},
    }
    cfg = {
        "add_bos_token": False, "add_prefix_space": False,
        "added_tokens_decoder": {str(ids[s]): {"content": s, "lstrip": False, "normalized": False, "rstrip": False,
                                               "single_word": False, "special": True} for s in specials},
        "additional_special_tokens": ["<|im_start|>", "<|im_end|>"], "bos_token": None,
        "chat_template": "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}",
        "clean_up_tokenization_spaces": False, "eos_token": "<|im_end|>", "errors": "replace",
        "model_max_length": 131072, "pad_token": "<|endoftext|>", "split_special_tokens": False,
        "tokenizer_class": "Qwen2Tokenizer", "unk_token": None,
    }
    assert n + len(specials) == N_TOK, n
    return j, cfg, ids


class RMSNorm(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d))

    def forward(self, x):
        return self.weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + C["rms_norm_eps"]))


def rot(x):
    h = x.shape[-1] // 2
    return torch.cat([-x[..., h:], x[..., :h]], -1)


class Attn(nn.Module):
    def __init__(self):
        super().__init__()
        d, h, kv = C["hidden_size"], C["num_attention_heads"], C["num_key_value_heads"]
        self.q_proj = nn.Linear(d, h * HD, bias=True)
        self.k_proj = nn.Linear(d, kv * HD, bias=True)
        self.v_proj = nn.Linear(d, kv * HD, bias=True)
        self.o_proj = nn.Linear(h * HD, d, bias=False)

    def forward(self, x, cos, sin, mask, past):
        B, T, _ = x.shape
        h, kvh = C["num_attention_heads"], C["num_key_value_heads"]
        q = self.q_proj(x).view(B, T, h, HD).transpose(1, 2)
        k = self.k_proj(x).view(B, T, kvh, HD).transpose(1, 2)
        v = self.v_proj(x).view(B, T, kvh, HD).transpose(1, 2)
        q, k = q * cos + rot(q) * sin, k * cos + rot(k) * sin
        if past is not None:
            k, v = torch.cat([past[0], k], 2), torch.cat([past[1], v], 2)
        rep = h // kvh
        S = k.shape[2]
        kk = k[:, :, None].expand(B, kvh, rep, S, HD).reshape(B, h, S, HD)
        vv = v[:, :, None].expand(B, kvh, rep, S, HD).reshape(B, h, S, HD)
        p = PROBE(self, torch.softmax(torch.matmul(q, kk.transpose(2, 3)) / math.sqrt(HD) + mask, -1))
        return self.o_proj(torch.matmul(p, vv).transpose(1, 2).reshape(B, T, h * HD)), (k, v)


class Layer(nn.Module):
    def __init__(self):
        super().__init__()
        d, i = C["hidden_size"], C["intermediate_size"]
        self.input_layernorm = RMSNorm(d)
        self.self_attn = Attn()
        self.post_attention_layernorm = RMSNorm(d)
        self.mlp = nn.Module()
        self.mlp.gate_proj, self.mlp.up_proj = nn.Linear(d, i, bias=False), nn.Linear(d, i, bias=False)
        self.mlp.down_proj = nn.Linear(i, d, bias=False)

    def forward(self, x, cos, sin, mask, past):
        a, pres = self.self_attn(self.input_layernorm(x), cos, sin, mask, past)
        x = x + a
        y = self.post_attention_layernorm(x)
        return x + self.mlp.down_proj(F.silu(self.mlp.gate_proj(y)) * self.mlp.up_proj(y)), pres


class Qwen2(nn.Module):
    def __init__(self):
        super().__init__()
        self.model = nn.Module()
        self.model.embed_tokens = nn.Embedding(C["vocab_size"], C["hidden_size"])
        self.model.layers = nn.ModuleList([Layer() for _ in range(C["num_hidden_layers"])])
        self.model.norm = RMSNorm(C["hidden_size"])
        self.lm_head = nn.Linear(C["hidden_size"], C["vocab_size"], bias=False)
        self.lm_head.weight = self.model.embed_tokens.weight
        self.register_buffer("inv_freq", 1.0 / (C["rope_theta"] ** (torch.arange(0, HD, 2).float() / HD)), persistent=False)
        self.neg = F32_MIN

    def forward(self, input_ids, attention_mask, position_ids, past=None):
        B, T = input_ids.shape
        past_len = 0 if past is None else past[0][0].shape[2]
        S = attention_mask.shape[1]
        q_idx = torch.arange(T)[:, None] + (S - T)
        allowed = (torch.arange(S)[None, :] <= q_idx)[None, None] & (attention_mask[:, None, None, :] > 0)
        mask = torch.where(allowed, torch.tensor(0.0), torch.tensor(self.neg))
        fr = position_ids[:, :, None].float() * self.inv_freq[None, None, :]
        emb = torch.cat([fr, fr], -1)
        cos, sin = emb.cos()[:, None], emb.sin()[:, None]
        x = self.model.embed_tokens(input_ids)
        pres = []
        for i, l in enumerate(self.model.layers):
            x, p = l(x, cos, sin, mask, None if past is None else past[i])
            PROBE("resid", x)
            pres.append(p)
        return self.lm_head(self.model.norm(x)), pres


def make_model():
    torch.manual_seed(SEED)
    m = Qwen2().eval()
    with torch.no_grad():
        for n, p in m.named_parameters():
            if n.endswith("norm.weight"):
                p.copy_(1.0 + 0.2 * torch.randn_like(p))
            elif n.endswith(".bias"):
                p.copy_(0.1 * torch.randn_like(p))
            elif "embed_tokens" in n:
                nn.init.normal_(p, std=0.1)
            else:
                nn.init.normal_(p, std=2.5 / math.sqrt(p.shape[1]))
        # rows past the tokenizer (config vocab is padded, as Qwen's) stay zero, like untrained rows
        m.model.embed_tokens.weight[N_TOK:].zero_()
    return m


class W(nn.Module):
    def __init__(self, m):
        super().__init__()
        self.wrap = m

    def forward(self, input_ids, attention_mask, position_ids, *flat):
        L = C["num_hidden_layers"]
        logits, pres = self.wrap(input_ids, attention_mask, position_ids, [(flat[2 * i], flat[2 * i + 1]) for i in range(L)])
        return (logits, *[t for p in pres for t in p])


def export(model, path, neg):
    model.neg = neg
    L, kv = C["num_hidden_layers"], C["num_key_value_heads"]
    B, P, T = 2, 3, 4
    names_in, names_out = ["input_ids", "attention_mask", "position_ids"], ["logits"]
    ax = {"input_ids": {0: "batch_size", 1: "sequence_length"},
          "attention_mask": {0: "batch_size", 1: "past_sequence_length + sequence_length"},
          "position_ids": {0: "batch_size", 1: "sequence_length"},
          "logits": {0: "batch_size", 1: "sequence_length"}}
    flat = []
    for i in range(L):
        for s in ("key", "value"):
            names_in.append(f"past_key_values.{i}.{s}")
            ax[names_in[-1]] = {0: "batch_size", 2: "past_sequence_length"}
            flat.append(torch.randn(B, kv, P, HD))
            names_out.append(f"present.{i}.{s}")
            ax[names_out[-1]] = {0: "batch_size", 2: "past_sequence_length + sequence_length"}
    ids = torch.randint(0, 400, (B, T))
    am = torch.ones(B, P + T, dtype=torch.long)
    pos = (torch.arange(T) + P)[None].expand(B, T).contiguous()
    m = torch_export(W(model), (ids, am, pos, *flat), path, names_in, names_out, ax)
    model.neg = F32_MIN
    return m


def build(out, out_ext):
    model = make_model()
    tj, tcfg, sp = make_tokenizer()
    onx = os.path.join(out, "onnx")
    os.makedirs(onx, exist_ok=True)
    fp32 = export(model, os.path.join(onx, "model.onnx"), F32_MIN)
    tmp = os.path.join(out, "_fp16_src.onnx")
    src16 = export(model, tmp, F16_MIN)  # fp16 graphs carry finfo(float16).min as the mask value
    os.remove(tmp)
    fp16 = hub_quant.to_fp16(src16)
    onnx.save(fp16, os.path.join(onx, "model_fp16.onnx"))
    q8 = hub_quant.quantize_q8(fp32)  # q8 picks QInt8 here (no Conv / GQA / MHA op), so int8 is the same graph
    onnx.save(q8, os.path.join(onx, "model_quantized.onnx"))
    onnx.save(q8, os.path.join(onx, "model_int8.onnx"))
    onnx.save(hub_quant.quantize_q8(fp32, "uint8"), os.path.join(onx, "model_uint8.onnx"))
    onnx.save(hub_quant.quantize_bnb4(fp32), os.path.join(onx, "model_bnb4.onnx"))
    onnx.save(hub_quant.quantize_q4(fp32), os.path.join(onx, "model_q4.onnx"))
    onnx.save(hub_quant.quantize_q4(fp16), os.path.join(onx, "model_q4f16.onnx"))
    for f in os.listdir(onx):
        onnx.checker.check_model(os.path.join(onx, f))
    eos, im_end = sp["<|endoftext|>"], sp["<|im_end|>"]
    cfg = {"_name_or_path": "Qwen/Qwen2.5-0.5B-Instruct (tiny random replica)", "architectures": ["Qwen2ForCausalLM"],
           "attention_dropout": 0.0, "bos_token_id": eos, "eos_token_id": im_end, "hidden_act": "silu",
           "initializer_range": 0.02, "max_window_layers": C["num_hidden_layers"], "model_type": "qwen2",
           **C, "sliding_window": None, "tie_word_embeddings": True, "torch_dtype": "bfloat16",
           "transformers_version": "4.43.1", "use_cache": True, "use_sliding_window": False,
           "transformers.js_config": {"kv_cache_dtype": {"q4f16": "float16", "fp16": "float16"}}}
    gen = {"bos_token_id": eos, "do_sample": True, "eos_token_id": [im_end, eos], "pad_token_id": eos,
           "repetition_penalty": 1.1, "temperature": 0.7, "top_k": 20, "top_p": 0.8, "transformers_version": "4.43.1"}
    for d in (out, out_ext):
        write_json(os.path.join(d, "tokenizer.json"), tj, indent=None)
        write_json(os.path.join(d, "tokenizer_config.json"), tcfg)
        write_json(os.path.join(d, "generation_config.json"), gen)
    write_json(os.path.join(out, "config.json"), cfg)
    # external data variant: the same fp32 graph, every initializer in onnx/model.onnx_data
    os.makedirs(os.path.join(out_ext, "onnx"), exist_ok=True)
    for f in ("model.onnx", "model.onnx_data"):
        if os.path.exists(os.path.join(out_ext, "onnx", f)):
            os.remove(os.path.join(out_ext, "onnx", f))
    onnx.save(fp32, os.path.join(out_ext, "onnx", "model.onnx"), save_as_external_data=True,
              all_tensors_to_one_file=True, location="model.onnx_data", size_threshold=1024, convert_attribute=False)
    cfg_ext = dict(cfg)
    cfg_ext["transformers.js_config"] = dict(cfg["transformers.js_config"], use_external_data_format={"model.onnx": True})
    write_json(os.path.join(out_ext, "config.json"), cfg_ext)
    for d, what in ((out, "onnx/model.onnx (fp32), model_fp16.onnx (fp16 weights, float16 past/present/logits), "
                          "model_quantized.onnx (q8: DynamicQuantizeLinear + MatMulInteger, int8 Gather + DequantizeLinear), "
                          "model_int8.onnx (= q8: QInt8 weights), model_uint8.onnx (QUInt8 weights, asymmetric), "
                          "model_q4.onnx (MatMulNBits 4-bit block 32, fp32 scales), model_q4f16.onnx (fp16 graph + MatMulNBits, fp16 scales), "
                          "model_bnb4.onnx (com.microsoft MatMulBnb4, NF4, block 64)"),
                    (out_ext, "onnx/model.onnx + onnx/model.onnx_data (external data; config transformers.js_config.use_external_data_format)")):
        with open(os.path.join(d, "README.md"), "w") as f:
            f.write(f"# {os.path.basename(d)} (test fixture, random weights, seed {SEED})\n\n"
                    f"Tiny Qwen2 (GQA {C['num_attention_heads']}/{C['num_key_value_heads']} heads, head_dim {HD}, qkv bias, RoPE theta "
                    f"{C['rope_theta']:g}, {C['num_hidden_layers']} layers, hidden {C['hidden_size']}, vocab {C['vocab_size']}) in the "
                    f"onnx-community/Qwen2.5-0.5B-Instruct layout: {what}. Outputs are noise. Made by "
                    f"`models/recipes/hub_replicas/make_qwen2.py`; `reference.json` by `reference.mjs` (transformers.js) + `torchref`.\n")
    print("params", sum(p.numel() for p in model.parameters()), "tokenizer", len(tj["model"]["vocab"]) + 3)


@torch.no_grad()
def torchref(out):
    model = make_model()
    ref = read_json(os.path.join(out, "reference.json"))
    gen = read_json(os.path.join(out, "generation_config.json"))
    eos_ids = gen["eos_token_id"]
    pen = gen.get("repetition_penalty", 1.0)
    worst, worst_lp, same, pts = 0.0, 0.0, True, []
    fp32 = [k for k in ref["dtypes"] if k.split(":")[0] == "fp32"][0]  # hub-qwen2-merged: fp32:decoder_model_merged
    for p in ref["dtypes"][fp32]["prompts"]:
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
    finish_torchref(out, ref, pts, same, worst, worst_lp, attention_and_lens(model, ref["dtypes"][fp32]["prompts"][0]))


@torch.no_grad()
def attention_and_lens(model, p):
    """One causal forward pass over the first prompt + its first 4 transformers.js-fp32 greedy ids: each layer's
    attention probabilities per query head (GQA: heads 2j, 2j+1 share key/value head j) and the logit lens
    (final RMSNorm + tied lm_head on the residual after each layer)."""
    ids = p["input_ids"] + p["greedy_ids"][:4]
    x = torch.tensor([ids])
    with PROBE.capture() as d:
        lg, _ = model(x, torch.ones_like(x), torch.arange(len(ids))[None])
    check_rows(lg[0], len(p["input_ids"]) - 1, p["steps"], "attention/lens pass")
    lens = [model.lm_head(model.model.norm(r))[0] for r in d["resid"]]
    return {"attention": {"text": p["text"], "ids": ids, "self": [attention_maps(d[l.self_attn][0]) for l in model.model.layers]},
            "lens": {"text": p["text"], "ids": ids, "layers": lens_layers(lens, lg[0])}}


if __name__ == "__main__":
    torch.set_num_threads(1)
    cmd = sys.argv[1]
    out = os.path.abspath(sys.argv[2] if len(sys.argv) > 2 else os.path.join(ROOT, "test", "fixtures", "hub-qwen2"))
    if cmd == "build":
        ext = os.path.abspath(sys.argv[3] if len(sys.argv) > 3 else os.path.join(ROOT, "test", "fixtures", "hub-qwen2-external"))
        build(out, ext)
    else:
        torchref(out)
