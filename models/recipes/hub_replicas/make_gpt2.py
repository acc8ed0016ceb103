"""hub-gpt2-merged: a tiny random-weight GPT-2 in the layout of Xenova/distilgpt2.

    /usr/bin/python3 models/recipes/hub_replicas/make_gpt2.py build    [OUT]
    /usr/bin/python3 models/recipes/hub_replicas/make_gpt2.py torchref [OUT]

GPT-2 maths as transformers' GPT2LMHeadModel (eager attention, the code Optimum traced for these exports):
learned token + position embeddings (positions = arange(past_length, past_length + T)), pre-LN blocks
(ln_1 -> attention -> residual, ln_2 -> MLP -> residual, ln_f at the end, eps 1e-5), Conv1D layers
(weight [in, out], y = addmm(b, x, W) -> ONNX Gemm), fused c_attn (q|k|v), scores / sqrt(head_dim),
causal mask = slice of the lower-triangular `bias` buffer [key_len - query_len : key_len, :key_len]
(torch.where(.., finfo.min)) plus (1 - attention_mask) * finfo.min, gelu_new (tanh), lm_head tied to wte.
Files as Optimum's legacy text-generation-with-past export (the one that writes decoder_model_merged.onnx,
without position_ids) + transformers.js's quantize (opset 14, constant folding):
  onnx/decoder_model_merged.onnx            If-merge (use_cache_branch) of decoder_model (input_ids,
                                            attention_mask) and decoder_with_past_model (input_ids,
                                            past_key_values.{i}.key/value, attention_mask; traced with ONE new
                                            token, as Optimum does, but the causal mask is computed from the
                                            lengths, so several new tokens per with-past pass stay causal)
  onnx/decoder_model_merged_quantized.onnx  q8 of the merged file (quantize_dynamic QInt8, EnableSubgraph:
                                            the Gathers (wte, wpe) and the lm_head MatMul inside each branch;
                                            the Conv1D Gemms stay float: Gemm is not an IntegerOps op)
"""
from __future__ import annotations

import math
import os
import sys

import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
from hub_common import PROBE, attention_maps, check_rows, finish_torchref, lens_layers, reference_steps, merge_decoders, read_json, torch_export, write_json  # noqa: E402
import hub_quant  # noqa: E402

import onnx  # noqa: E402

SEED = 4242
N_EMBD, N_HEAD, N_LAYER, N_POS = 64, 4, 2, 128
HD = N_EMBD // N_HEAD
N_MERGES = 190
V = 256 + N_MERGES + 1  # bytes + merges + <|endoftext|> (last id, as GPT-2's 50256)
F32_MIN = torch.finfo(torch.float32).min
CORPUS = [
    "def fibonacci(n):\n    if n < 2:\n        return n\n    return fibonacci(n - 1) + fibonacci(n - 2)\n",
    "def factorial(n):\n    return 1 if n == 0 else n * factorial(n - 1)\n",
    "for i in range(10):\n    print(fibonacci(i))\n",
    "Hello, my name is Alice and I live in a small town near the sea.",
    "Hello, my name is Bob. My friends call me Bobby and I like to write code.",
    "The quick brown fox jumps over the lazy dog. The dog is not amused.",
    "Once upon a time there was a little robot who wanted to learn how to paint.",
    "import numpy as np\nx = np.arange(10)\nprint(x.sum())\n",
] * 3


def make_tokenizer():
    from bpe_tokenizer import train_bpe
    tok = train_bpe(CORPUS, vocab_size=256 + N_MERGES, special_tokens=[], min_frequency=2, verbose=False)
    vocab = dict(sorted(tok.vocab.items(), key=lambda kv: kv[1]))
    assert len(vocab) == 256 + N_MERGES, len(vocab)
    eot = len(vocab)
    vocab["<|endoftext|>"] = eot
    j = {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [{"id": eot, "content": "<|endoftext|>", "single_word": False, "lstrip": False, "rstrip": False,
                          "normalized": True, "special": True}],
        "normalizer": None,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
        "post_processor": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True},
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": "",
                  "end_of_word_suffix": "", "fuse_unk": False, "byte_fallback": False,
                  "vocab": vocab, "merges": [f"{a} {b}" for a, b in tok.merges]},
    }
    cfg = {
        "add_prefix_space": False,
        "added_tokens_decoder": {str(eot): {"content": "<|endoftext|>", "lstrip": False, "normalized": True,
                                            "rstrip": False, "single_word": False, "special": True}},
        "bos_token": "<|endoftext|>", "clean_up_tokenization_spaces": True, "eos_token": "<|endoftext|>",
        "errors": "replace", "model_max_length": N_POS, "pad_token": None, "tokenizer_class": "GPT2Tokenizer",
        "unk_token": "<|endoftext|>",
    }
    assert eot == V - 1
    return j, cfg, eot


class Conv1D(nn.Module):
    """transformers.pytorch_utils.Conv1D: weight [nx, nf]; addmm exports as ONNX Gemm."""

    def __init__(self, nf, nx):
        super().__init__()
        self.nf = nf
        self.weight = nn.Parameter(torch.empty(nx, nf))
        self.bias = nn.Parameter(torch.zeros(nf))

    def forward(self, x):
        size_out = x.size()[:-1] + (self.nf,)
        x = torch.addmm(self.bias, x.view(-1, x.size(-1)), self.weight)
        return x.view(size_out)


def gelu_new(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


class Attention(nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("bias", torch.tril(torch.ones((N_POS, N_POS), dtype=torch.bool)).view(1, 1, N_POS, N_POS),
                             persistent=False)
        self.c_attn = Conv1D(3 * N_EMBD, N_EMBD)
        self.c_proj = Conv1D(N_EMBD, N_EMBD)

    @staticmethod
    def split(x):
        return x.view(x.size()[:-1] + (N_HEAD, HD)).permute(0, 2, 1, 3)

    def forward(self, x, past, mask):
        q, k, v = self.c_attn(x).split(N_EMBD, dim=2)
        q, k, v = self.split(q), self.split(k), self.split(v)
        if past is not None:
            k, v = torch.cat((past[0], k), dim=-2), torch.cat((past[1], v), dim=-2)
        w = torch.matmul(q, k.transpose(-1, -2))
        w = w / torch.full([], v.size(-1) ** 0.5, dtype=w.dtype)
        ql, kl = q.size(-2), k.size(-2)
        causal = self.bias[:, :, kl - ql: kl, :kl]
        w = torch.where(causal, w, torch.full([], F32_MIN, dtype=w.dtype))
        w = PROBE(self, torch.softmax(w + mask, dim=-1))
        o = torch.matmul(w, v).permute(0, 2, 1, 3).contiguous()
        o = o.view(o.size()[:-2] + (N_EMBD,))
        return self.c_proj(o), (k, v)


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln_1 = nn.LayerNorm(N_EMBD, eps=1e-5)
        self.attn = Attention()
        self.ln_2 = nn.LayerNorm(N_EMBD, eps=1e-5)
        self.mlp = nn.Module()
        self.mlp.c_fc, self.mlp.c_proj = Conv1D(4 * N_EMBD, N_EMBD), Conv1D(N_EMBD, 4 * N_EMBD)

    def forward(self, x, past, mask):
        a, present = self.attn(self.ln_1(x), past, mask)
        x = x + a
        return x + self.mlp.c_proj(gelu_new(self.mlp.c_fc(self.ln_2(x)))), present


class GPT2(nn.Module):
    def __init__(self):
        super().__init__()
        self.transformer = nn.Module()
        self.transformer.wte = nn.Embedding(V, N_EMBD)
        self.transformer.wpe = nn.Embedding(N_POS, N_EMBD)
        self.transformer.h = nn.ModuleList([Block() for _ in range(N_LAYER)])
        self.transformer.ln_f = nn.LayerNorm(N_EMBD, eps=1e-5)
        self.lm_head = nn.Linear(N_EMBD, V, bias=False)
        self.lm_head.weight = self.transformer.wte.weight

    def forward(self, input_ids, attention_mask, past=None):
        T = input_ids.size(-1)
        past_length = 0 if past is None else past[0][0].size(-2)
        position_ids = torch.arange(past_length, T + past_length, dtype=torch.long).unsqueeze(0)
        mask = attention_mask.view(input_ids.size(0), -1)[:, None, None, :].to(torch.float32)
        mask = (1.0 - mask) * F32_MIN
        x = self.transformer.wte(input_ids) + self.transformer.wpe(position_ids)
        presents = []
        for i, blk in enumerate(self.transformer.h):
            x, p = blk(x, None if past is None else past[i], mask)
            PROBE("resid", x)
            presents.append(p)
        return self.lm_head(self.transformer.ln_f(x)), presents


def make_model():
    torch.manual_seed(SEED)
    m = GPT2().eval()
    with torch.no_grad():
        for n, p in m.named_parameters():
            if ".ln_" in n or n.startswith("transformer.ln_f"):
                p.copy_((1.0 if n.endswith("weight") else 0.0) + 0.2 * torch.randn_like(p))
            elif n.endswith(".bias"):
                p.copy_(0.1 * torch.randn_like(p))
            elif n == "transformer.wte.weight":
                nn.init.normal_(p, std=0.1)
            elif n == "transformer.wpe.weight":
                nn.init.normal_(p, std=0.3)
            else:  # Conv1D weight [in, out]
                nn.init.normal_(p, std=2.0 / math.sqrt(p.shape[0]))
    return m


class NoPastW(nn.Module):
    def __init__(self, m):
        super().__init__()
        self.wrap = m

    def forward(self, input_ids, attention_mask):
        logits, pres = self.wrap(input_ids, attention_mask)
        return (logits, *[t for p in pres for t in p])


class WithPastW(nn.Module):
    """Optimum orders inputs by GPT2LMHeadModel.forward's signature: input_ids, past_key_values, attention_mask."""

    def __init__(self, m):
        super().__init__()
        self.wrap = m

    def forward(self, input_ids, *rest):
        flat, attention_mask = rest[:-1], rest[-1]
        logits, pres = self.wrap(input_ids, attention_mask, [(flat[2 * i], flat[2 * i + 1]) for i in range(N_LAYER)])
        return (logits, *[t for p in pres for t in p])


def export_merged(model, onx):
    B, T, P = 2, 5, 4
    outs = ["logits"] + [f"present.{i}.{s}" for i in range(N_LAYER) for s in ("key", "value")]
    ax1 = {"input_ids": {0: "batch_size", 1: "sequence_length"}, "attention_mask": {0: "batch_size", 1: "sequence_length"},
           "logits": {0: "batch_size", 1: "sequence_length"}}
    ax1.update({o: {0: "batch_size", 2: "sequence_length"} for o in outs[1:]})
    tmp1, tmp2 = os.path.join(onx, "_decoder_model.onnx"), os.path.join(onx, "_decoder_with_past_model.onnx")
    m1 = torch_export(NoPastW(model), (torch.randint(0, V - 1, (B, T)), torch.ones(B, T, dtype=torch.long)), tmp1,
                      ["input_ids", "attention_mask"], outs, ax1)
    pin = [f"past_key_values.{i}.{s}" for i in range(N_LAYER) for s in ("key", "value")]
    ax2 = {"input_ids": {0: "batch_size", 1: "sequence_length"},
           "attention_mask": {0: "batch_size", 1: "past_sequence_length + 1"},
           "logits": {0: "batch_size", 1: "sequence_length"}}
    ax2.update({n: {0: "batch_size", 2: "past_sequence_length"} for n in pin})
    ax2.update({o: {0: "batch_size", 2: "past_sequence_length + 1"} for o in outs[1:]})
    flat = [torch.randn(B, N_HEAD, P, HD) for _ in pin]
    m2 = torch_export(WithPastW(model), (torch.randint(0, V - 1, (B, 1)), *flat, torch.ones(B, P + 1, dtype=torch.long)),
                      tmp2, ["input_ids", *pin, "attention_mask"], outs, ax2)
    os.remove(tmp1)
    os.remove(tmp2)
    return merge_decoders(m1, m2)


def build(out):
    model = make_model()
    tj, tcfg, eot = make_tokenizer()
    onx = os.path.join(out, "onnx")
    os.makedirs(onx, exist_ok=True)
    merged = export_merged(model, onx)
    onnx.save(merged, os.path.join(onx, "decoder_model_merged.onnx"))
    q8 = hub_quant.quantize_q8(merged)
    onnx.checker.check_model(q8)
    onnx.save(q8, os.path.join(onx, "decoder_model_merged_quantized.onnx"))
    write_json(os.path.join(out, "tokenizer.json"), tj, indent=None)
    write_json(os.path.join(out, "tokenizer_config.json"), tcfg)
    write_json(os.path.join(out, "config.json"), {
        "_name_or_path": "distilgpt2 (tiny random replica)", "_num_labels": 1, "activation_function": "gelu_new",
        "architectures": ["GPT2LMHeadModel"], "attn_pdrop": 0.1, "bos_token_id": eot, "embd_pdrop": 0.1,
        "eos_token_id": eot, "id2label": {"0": "LABEL_0"}, "initializer_range": 0.02, "label2id": {"LABEL_0": 0},
        "layer_norm_epsilon": 1e-05, "model_type": "gpt2", "n_ctx": N_POS, "n_embd": N_EMBD, "n_head": N_HEAD,
        "n_inner": None, "n_layer": N_LAYER, "n_positions": N_POS, "reorder_and_upcast_attn": False,
        "resid_pdrop": 0.1, "scale_attn_by_inverse_layer_idx": False, "scale_attn_weights": True,
        "summary_activation": None, "summary_first_dropout": 0.1, "summary_proj_to_labels": True,
        "summary_type": "cls_index", "summary_use_proj": True,
        "task_specific_params": {"text-generation": {"do_sample": True, "max_length": 50}},
        "transformers_version": "4.33.0.dev0", "use_cache": True, "vocab_size": V})
    write_json(os.path.join(out, "generation_config.json"), {
        "_from_model_config": True, "bos_token_id": eot, "eos_token_id": eot, "transformers_version": "4.33.0.dev0"})
    with open(os.path.join(out, "README.md"), "w") as f:
        f.write(f"""# hub-gpt2-merged (test fixture, random weights, seed {SEED})

Replica of the file layout of `Xenova/distilgpt2` (GPT-2): `onnx/decoder_model_merged.onnx` (Optimum's legacy
If-merged decoder: inputs `input_ids, attention_mask, past_key_values.{{i}}.key/value, use_cache_branch`, no
`position_ids`; outputs `logits, present.{{i}}.key/value`) and `onnx/decoder_model_merged_quantized.onnx` (q8:
QInt8 per-tensor, inside both If branches; the Conv1D `Gemm` weights stay float as onnxruntime's IntegerOps
quantizer leaves them), `config.json` (model_type gpt2, `task_specific_params.text-generation`),
`generation_config.json`, a byte-level BPE `tokenizer.json` (`<|endoftext|>` = bos = eos = unk = last id {eot})
+ `tokenizer_config.json` (GPT2Tokenizer). n_embd {N_EMBD}, {N_HEAD} heads, {N_LAYER} layers, n_positions {N_POS},
vocab {V}. The with-past branch is causal over several new tokens (GPT-2's mask comes from the lengths;
`check_gpt2_causal.mjs`). There is no `onnx/model.onnx`: transformers.js loads it with
`model_file_name: 'decoder_model_merged'` (+ `dtype: 'q8'` for the quantized file). Outputs are noise. Made by
`models/recipes/hub_replicas/make_gpt2.py`; `reference.json` by `reference.mjs` (transformers.js) + `torchref`.
""")
    print("vocab", V, "eos", eot, "params", sum(p.numel() for p in model.parameters()))


@torch.no_grad()
def torchref(out):
    model = make_model()
    ref = read_json(os.path.join(out, "reference.json"))
    eos = read_json(os.path.join(out, "generation_config.json"))["eos_token_id"]
    worst, worst_lp, same, pts = 0.0, 0.0, True, []
    fp32 = [k for k in ref["dtypes"] if k.split(":")[0] == "fp32"][0]
    for p in ref["dtypes"][fp32]["prompts"]:
        seq = list(p["input_ids"])
        n0 = len(seq)
        while len(seq) < n0 + ref["generate_options"]["max_new_tokens"]:
            x = torch.tensor([seq])
            lg, _ = model(x, torch.ones_like(x))
            nxt = int(torch.argmax(lg[0, -1]))
            seq.append(nxt)
            if nxt == eos:
                break
        greedy = seq[n0:]
        same &= greedy == p["greedy_ids"]
        full = p["input_ids"] + p["greedy_ids"]
        x = torch.tensor([full])
        lg, _ = model(x, torch.ones_like(x))
        steps, w, wl = reference_steps([lg[0, n0 - 1 + s_i] for s_i in range(len(p["steps"]))], p["steps"])
        worst, worst_lp = max(worst, w), max(worst_lp, wl)
        pts.append({"text": p["text"], "greedy_ids": greedy, "steps": steps})
    finish_torchref(out, ref, pts, same, worst, worst_lp, attention_and_lens(model, ref["dtypes"][fp32]["prompts"][0]))


@torch.no_grad()
def attention_and_lens(model, p):
    """One causal forward pass over the first prompt + its first 4 transformers.js-fp32 greedy ids: each layer's
    attention probabilities and the logit lens (ln_f + tied lm_head on the residual after each block)."""
    ids = p["input_ids"] + p["greedy_ids"][:4]
    x = torch.tensor([ids])
    with PROBE.capture() as d:
        lg, _ = model(x, torch.ones_like(x))
    check_rows(lg[0], len(p["input_ids"]) - 1, p["steps"], "attention/lens pass")
    lens = [model.lm_head(model.transformer.ln_f(r))[0] for r in d["resid"]]
    return {"attention": {"text": p["text"], "ids": ids, "self": [attention_maps(d[b.attn][0]) for b in model.transformer.h]},
            "lens": {"text": p["text"], "ids": ids, "layers": lens_layers(lens, lg[0])}}


if __name__ == "__main__":
    torch.set_num_threads(1)
    cmd = sys.argv[1]
    out = os.path.abspath(sys.argv[2] if len(sys.argv) > 2 else os.path.join(ROOT, "test", "fixtures", "hub-gpt2-merged"))
    build(out) if cmd == "build" else torchref(out)
