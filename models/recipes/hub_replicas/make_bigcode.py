"""hub-bigcode: a tiny random-weight GPT-BigCode (StarCoder architecture) in the layout of Xenova/tiny_starcoder_py.

    /usr/bin/python3 models/recipes/hub_replicas/make_bigcode.py build    [OUT]
    /usr/bin/python3 models/recipes/hub_replicas/make_bigcode.py torchref [OUT]

Maths as transformers' GPTBigCodeForCausalLM with multi_query=true, eager attention in float32 (the code path a
CPU export traces; attention_softmax_in_fp32 / scale_attention_softmax_in_fp32 only matter for fp16/bf16, where
the softmax is upcast): wte + wpe (learned positions, taken from the position_ids input), pre-LN blocks
(LayerNorm eps 1e-5), nn.Linear layers (MatMul + Add in ONNX, so the q8 pass quantizes every one of them),
fused c_attn = [q (n_head * head_dim) | k (head_dim) | v (head_dim)]: one key/value head shared by all query
heads, and the cache holds key and value CONCATENATED on the last axis (`key_value`, [batch, seq, 2 * head_dim]);
past is concatenated on the sequence axis; scores = baddbmm(0, q [B, T*H, hd], k^T [B, hd, S], alpha=1/sqrt(hd))
viewed [B, T, H, S]; mask = bool lower-triangular `bias` buffer [n_positions, n_positions] sliced
[S - T : S, :S] AND attention_mask, unsqueezed to [B, T, 1, S], applied with torch.where(mask, w, finfo.min)
(no additive mask, unlike GPT-2); softmax; bmm with v [B, S, hd]; c_proj; MLP c_fc -> gelu(approximate='tanh')
(gelu_pytorch_tanh) -> c_proj; ln_f; lm_head tied to wte.
Files as Optimum's (non-legacy) text-generation-with-past export, which for gpt_bigcode
(GPTBigCodeOnnxConfig < TextDecoderWithPositionIdsOnnxConfig) has position_ids:
  onnx/model.onnx            input_ids, attention_mask, position_ids, past_key_values.{i}.key_value
                             [batch_size, past_sequence_length, 2*head_dim] -> logits, present.{i}.key_value
  onnx/model_quantized.onnx  q8 (hub_quant.quantize_q8: QInt8 per-tensor, MatMulConstBOnly, Gathers of wte/wpe)
Tokenizer: byte-level BPE in StarCoder's layout: its 19 special tokens are ids 0..18 of the BPE vocab
(<|endoftext|> = 0 = bos = eos = unk, <fim_prefix> 1, <fim_middle> 2, <fim_suffix> 3, <fim_pad> 4, <filename> 5,
<gh_stars> 6, ...), then the 256 byte symbols in GPT-2's bytes_to_unicode order, then the merges;
pre-tokenizer Sequence[Digits(individual_digits), ByteLevel(use_regex)], tokenizer_config GPT2Tokenizer.
"""
from __future__ import annotations

import math
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
from hub_common import PROBE, added, attention_maps, check_rows, finish_torchref, reference_steps, read_json, torch_export, write_json  # noqa: E402
import hub_quant  # noqa: E402

import onnx  # noqa: E402

SEED = 8192
N_EMBD, N_HEAD, N_LAYER, N_POS, N_INNER = 64, 4, 2, 256, 256
HD = N_EMBD // N_HEAD
SPECIALS = ["<|endoftext|>", "<fim_prefix>", "<fim_middle>", "<fim_suffix>", "<fim_pad>", "<filename>", "<gh_stars>",
            "<issue_start>", "<issue_comment>", "<issue_closed>", "<jupyter_start>", "<jupyter_text>",
            "<jupyter_code>", "<jupyter_output>", "<empty_output>", "<commit_before>", "<commit_msg>",
            "<commit_after>", "<reponame>"]
N_MERGES = 512 - len(SPECIALS) - 256
V = len(SPECIALS) + 256 + N_MERGES  # = 512 (config vocab_size = tokenizer size, as StarCoder's 49152)
F32_MIN = torch.finfo(torch.float32).min
CORPUS = [
    "def fibonacci(n):\n    if n < 2:\n        return n\n    return fibonacci(n - 1) + fibonacci(n - 2)\n",
    "def factorial(n):\n    return 1 if n == 0 else n * factorial(n - 1)\n",
    "def add(a, b):\n    c = a + b\n    return c\n",
    "<fim_prefix>def add(a, b):\n    <fim_suffix>\n    return c<fim_middle>c = a + b<|endoftext|>",
    "<filename>utils.py\nimport os\nimport sys\n\n\ndef read_file(path):\n    with open(path) as f:\n        return f.read()\n",
    "<reponame>example/repo<gh_stars>10\nclass Stack:\n    def __init__(self):\n        self.items = []\n\n"
    "    def push(self, item):\n        self.items.append(item)\n\n    def pop(self):\n        return self.items.pop()\n",
    "for i in range(10):\n    print(fibonacci(i))\n",
    "import numpy as np\nx = np.arange(10)\nprint(x.sum())\n",
    "def is_prime(n):\n    if n < 2:\n        return False\n    for i in range(2, n):\n        if n % i == 0:\n"
    "            return False\n    return True\n",
    "<jupyter_start><jupyter_code>print('hello world')<jupyter_output>hello world<|endoftext|>",
    "def binary_search(items, target):\n    low, high = 0, len(items) - 1\n    while low <= high:\n"
    "        middle = (low + high) // 2\n        if items[middle] == target:\n            return middle\n"
    "        elif items[middle] < target:\n            low = middle + 1\n        else:\n            high = middle - 1\n"
    "    return -1\n",
    "class Point:\n    \"\"\"A point in the plane.\"\"\"\n\n    def __init__(self, x, y):\n        self.x = x\n"
    "        self.y = y\n\n    def __repr__(self):\n        return f\"Point({self.x}, {self.y})\"\n",
    "<commit_before>def greet(name):\n    print('Hello ' + name)<commit_msg>Use an f-string<commit_after>"
    "def greet(name):\n    print(f'Hello {name}')<|endoftext|>",
    "if __name__ == \"__main__\":\n    import argparse\n    parser = argparse.ArgumentParser()\n"
    "    parser.add_argument(\"--count\", type=int, default=3)\n    args = parser.parse_args()\n",
] * 3


def make_tokenizer():
    from bpe_tokenizer import BYTE_ENCODER, train_bpe
    tok = train_bpe(CORPUS, vocab_size=V, special_tokens=SPECIALS, min_frequency=2, verbose=False)
    assert len(tok.vocab) == V, len(tok.vocab)
    # StarCoder's order: specials 0..18, the byte symbols in bytes_to_unicode order ('!' first), then merges
    order = list(SPECIALS) + list(BYTE_ENCODER.values())
    rest = [t for t, _ in sorted(tok.vocab.items(), key=lambda kv: kv[1]) if t not in set(order)]
    vocab = {t: i for i, t in enumerate(order + rest)}
    assert len(vocab) == V
    bl = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}
    j = {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [added(i, s) for i, s in enumerate(SPECIALS)],
        "normalizer": None,
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [{"type": "Digits", "individual_digits": True}, bl]},
        "post_processor": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": True},
        "decoder": dict(bl),
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": False, "vocab": vocab,
                  "merges": [f"{a} {b}" for a, b in tok.merges]},
    }
    cfg = {
        "add_prefix_space": False, "additional_special_tokens": list(SPECIALS), "bos_token": "<|endoftext|>",
        "clean_up_tokenization_spaces": True, "eos_token": "<|endoftext|>",
        "model_max_length": 1000000000000000019884624838656, "tokenizer_class": "GPT2Tokenizer",
        "unk_token": "<|endoftext|>", "vocab_size": V,
    }
    return j, cfg


class Attention(nn.Module):
    def __init__(self):
        super().__init__()
        self.c_attn = nn.Linear(N_EMBD, N_EMBD + 2 * HD)  # q | k | v, one shared key/value head (multi_query)
        self.c_proj = nn.Linear(N_EMBD, N_EMBD)
        self.scale = 1.0 / HD ** 0.5  # scale_attn_weights; the layer-index unscale applies only when upcasting

    def forward(self, x, layer_past, mask):
        query, key_value = self.c_attn(x).split((N_EMBD, 2 * HD), dim=2)
        if layer_past is not None:
            key_value = torch.cat((layer_past, key_value), dim=-2)
        present = key_value
        key, value = key_value.split((HD, HD), dim=-1)
        key = key.transpose(-1, -2)  # [B, hd, S]
        B, T, S = query.size(0), query.size(1), key.size(-1)
        q = query.reshape(B, T * N_HEAD, HD)
        w = torch.zeros_like(torch.empty((B, T * N_HEAD, S), dtype=q.dtype))  # CPU path: beta=1 on zeros
        w = torch.baddbmm(w, q, key, beta=1, alpha=self.scale).view(B, T, N_HEAD, S)
        w = torch.where(mask, w, torch.full([], F32_MIN, dtype=w.dtype))
        w = PROBE(self, F.softmax(w, dim=-1))  # [B, T, H, S]
        o = torch.bmm(w.view(B, T * N_HEAD, S), value).view(B, T, N_EMBD)
        return self.c_proj(o), present


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln_1 = nn.LayerNorm(N_EMBD, eps=1e-5)
        self.attn = Attention()
        self.ln_2 = nn.LayerNorm(N_EMBD, eps=1e-5)
        self.mlp = nn.Module()
        self.mlp.c_fc, self.mlp.c_proj = nn.Linear(N_EMBD, N_INNER), nn.Linear(N_INNER, N_EMBD)

    def forward(self, x, past, mask):
        a, present = self.attn(self.ln_1(x), past, mask)
        x = x + a
        return x + self.mlp.c_proj(F.gelu(self.mlp.c_fc(self.ln_2(x)), approximate="tanh")), present


class BigCode(nn.Module):
    def __init__(self):
        super().__init__()
        self.transformer = nn.Module()
        self.transformer.wte = nn.Embedding(V, N_EMBD)
        self.transformer.wpe = nn.Embedding(N_POS, N_EMBD)
        self.transformer.h = nn.ModuleList([Block() for _ in range(N_LAYER)])
        self.transformer.ln_f = nn.LayerNorm(N_EMBD, eps=1e-5)
        self.transformer.register_buffer("bias", torch.tril(torch.ones((N_POS, N_POS), dtype=torch.bool)), persistent=False)
        self.lm_head = nn.Linear(N_EMBD, V, bias=False)
        self.lm_head.weight = self.transformer.wte.weight

    def forward(self, input_ids, attention_mask, position_ids, past=None):
        B, T = input_ids.shape
        past_length = 0 if past is None else past[0].size(-2)
        S = past_length + T
        mask = self.transformer.bias[None, S - T: S, :S]
        mask = mask * attention_mask.view(B, 1, -1).to(torch.bool)
        mask = mask.unsqueeze(2)  # MQA: [B, T, 1, S]
        x = self.transformer.wte(input_ids) + self.transformer.wpe(position_ids)
        presents = []
        for i, blk in enumerate(self.transformer.h):
            x, p = blk(x, None if past is None else past[i], mask)
            presents.append(p)
        return self.lm_head(self.transformer.ln_f(x)), presents


def make_model():
    torch.manual_seed(SEED)
    m = BigCode().eval()
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
            else:  # nn.Linear weight [out, in]
                nn.init.normal_(p, std=2.0 / math.sqrt(p.shape[1]))
    return m


class W(nn.Module):
    def __init__(self, m):
        super().__init__()
        self.wrap = m

    def forward(self, input_ids, attention_mask, position_ids, *past):
        logits, pres = self.wrap(input_ids, attention_mask, position_ids, list(past))
        return (logits, *pres)


def export(model, path):
    B, P, T = 2, 3, 4  # traced with a non-empty past and several new tokens, as Optimum's dummy inputs
    names_in = ["input_ids", "attention_mask", "position_ids"] + [f"past_key_values.{i}.key_value" for i in range(N_LAYER)]
    names_out = ["logits"] + [f"present.{i}.key_value" for i in range(N_LAYER)]
    ax = {"input_ids": {0: "batch_size", 1: "sequence_length"},
          "attention_mask": {0: "batch_size", 1: "past_sequence_length + sequence_length"},
          "position_ids": {0: "batch_size", 1: "sequence_length"},
          "logits": {0: "batch_size", 1: "sequence_length"}}
    for i in range(N_LAYER):  # no head axis: multi-query attention has one key/value head
        ax[f"past_key_values.{i}.key_value"] = {0: "batch_size", 1: "past_sequence_length"}
        ax[f"present.{i}.key_value"] = {0: "batch_size", 1: "past_sequence_length + sequence_length"}
    past = [torch.randn(B, P, 2 * HD) for _ in range(N_LAYER)]
    ids = torch.randint(0, V, (B, T))
    am = torch.ones(B, P + T, dtype=torch.long)
    pos = (torch.arange(T) + P)[None].expand(B, T).contiguous()
    return torch_export(W(model), (ids, am, pos, *past), path, names_in, names_out, ax)


def build(out):
    model = make_model()
    tj, tcfg = make_tokenizer()
    onx = os.path.join(out, "onnx")
    os.makedirs(onx, exist_ok=True)
    fp32 = export(model, os.path.join(onx, "model.onnx"))
    q8 = hub_quant.quantize_q8(fp32)
    onnx.checker.check_model(q8)
    onnx.save(q8, os.path.join(onx, "model_quantized.onnx"))
    write_json(os.path.join(out, "tokenizer.json"), tj, indent=None)
    write_json(os.path.join(out, "tokenizer_config.json"), tcfg)
    write_json(os.path.join(out, "config.json"), {
        "_name_or_path": "bigcode/tiny_starcoder_py (tiny random replica)", "activation_function": "gelu_pytorch_tanh",
        "architectures": ["GPTBigCodeForCausalLM"], "attention_softmax_in_fp32": True, "attn_pdrop": 0.1,
        "bos_token_id": 0, "embd_pdrop": 0.1, "eos_token_id": 0, "inference_runner": 0, "initializer_range": 0.02,
        "layer_norm_epsilon": 1e-05, "max_batch_size": None, "max_sequence_length": None, "model_type": "gpt_bigcode",
        "multi_query": True, "n_embd": N_EMBD, "n_head": N_HEAD, "n_inner": N_INNER, "n_layer": N_LAYER,
        "n_positions": N_POS, "pad_key_length": True, "pre_allocate_kv_cache": False, "resid_pdrop": 0.1,
        "scale_attention_softmax_in_fp32": True, "scale_attn_weights": True, "summary_activation": None,
        "summary_first_dropout": 0.1, "summary_proj_to_labels": True, "summary_type": "cls_index",
        "summary_use_proj": True, "torch_dtype": "float32", "transformers_version": "4.30.0.dev0", "use_cache": True,
        "validate_runner_input": True, "vocab_size": V})
    write_json(os.path.join(out, "generation_config.json"), {
        "_from_model_config": True, "bos_token_id": 0, "eos_token_id": 0, "transformers_version": "4.30.0.dev0"})
    with open(os.path.join(out, "README.md"), "w") as f:
        f.write(f"""# hub-bigcode (test fixture, random weights, seed {SEED})

Replica of the file layout of `Xenova/tiny_starcoder_py` (GPT-BigCode, the StarCoder architecture: multi-query
attention, learned positions, fill-in-the-middle tokenizer): `onnx/model.onnx` (fp32) and
`onnx/model_quantized.onnx` (q8: QInt8 per-tensor `MatMulInteger` for every Linear and the lm_head, int8 `Gather`
+ `DequantizeLinear` for wte / wpe) with Optimum's gpt_bigcode I/O: inputs `input_ids, attention_mask,
position_ids, past_key_values.{{i}}.key_value` `[batch_size, past_sequence_length, {2 * HD}]` (one key/value head
shared by all {N_HEAD} query heads; key = `[..., :{HD}]`, value = `[..., {HD}:]`), outputs `logits,
present.{{i}}.key_value`. `config.json` (model_type gpt_bigcode, `multi_query: true`, n_embd {N_EMBD}, n_head
{N_HEAD}, n_inner {N_INNER}, n_layer {N_LAYER}, n_positions {N_POS}, vocab_size {V}, bos = eos = 0),
`generation_config.json` (`bos_token_id` / `eos_token_id` 0 only), byte-level BPE `tokenizer.json` with StarCoder's
19 special tokens as ids 0..18 (`<|endoftext|>` 0, `<fim_prefix>` 1, `<fim_middle>` 2, `<fim_suffix>` 3,
`<fim_pad>` 4, `<filename>` 5, `<gh_stars>` 6, ..., `<reponame>` 18; digits split one by one) +
`tokenizer_config.json` (GPT2Tokenizer). Several new tokens in one pass with a past are causal
(`check_bigcode_past.mjs`). Outputs are noise. Made by `models/recipes/hub_replicas/make_bigcode.py`;
`reference.json` by `reference.mjs` (transformers.js) + `torchref`.
""")
    print("vocab", V, "merges", len(tj["model"]["merges"]), "params", sum(p.numel() for p in model.parameters()))


@torch.no_grad()
def torchref(out):
    model = make_model()
    ref = read_json(os.path.join(out, "reference.json"))
    eos = read_json(os.path.join(out, "generation_config.json"))["eos_token_id"]
    worst, worst_lp, same, pts = 0.0, 0.0, True, []
    for p in ref["dtypes"]["fp32"]["prompts"]:
        seq = list(p["input_ids"])
        n0 = len(seq)
        while len(seq) < n0 + ref["generate_options"]["max_new_tokens"]:
            x = torch.tensor([seq])
            lg, _ = model(x, torch.ones_like(x), torch.arange(len(seq))[None])
            nxt = int(torch.argmax(lg[0, -1]))
            seq.append(nxt)
            if nxt == eos:
                break
        greedy = seq[n0:]
        same &= greedy == p["greedy_ids"]
        full = p["input_ids"] + p["greedy_ids"]
        x = torch.tensor([full])
        lg, _ = model(x, torch.ones_like(x), torch.arange(len(full))[None])
        steps, w, wl = reference_steps([lg[0, n0 - 1 + s_i] for s_i in range(len(p["steps"]))], p["steps"])
        worst, worst_lp = max(worst, w), max(worst_lp, wl)
        pts.append({"text": p["text"], "greedy_ids": greedy, "steps": steps})
    finish_torchref(out, ref, pts, same, worst, worst_lp, attention(model, ref["dtypes"]["fp32"]["prompts"][0]))


@torch.no_grad()
def attention(model, p):
    """One causal forward pass over the first prompt + its first 4 transformers.js-fp32 greedy ids: each layer's
    attention probabilities per query head (multi-query: the 4 heads share the one key/value head)."""
    ids = p["input_ids"] + p["greedy_ids"][:4]
    x = torch.tensor([ids])
    with PROBE.capture() as d:
        lg, _ = model(x, torch.ones_like(x), torch.arange(len(ids))[None])
    check_rows(lg[0], len(p["input_ids"]) - 1, p["steps"], "attention pass")
    return {"attention": {"text": p["text"], "ids": ids,
                          "self": [attention_maps(d[b.attn][0].permute(0, 2, 1, 3)) for b in model.transformer.h]}}


if __name__ == "__main__":
    torch.set_num_threads(1)
    cmd = sys.argv[1]
    out = os.path.abspath(sys.argv[2] if len(sys.argv) > 2 else os.path.join(ROOT, "test", "fixtures", "hub-bigcode"))
    build(out) if cmd == "build" else torchref(out)
