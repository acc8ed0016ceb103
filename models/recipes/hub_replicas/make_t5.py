"""hub-t5: a tiny random-weight T5 in the layout of Xenova/t5-small.

    /usr/bin/python3 models/recipes/hub_replicas/make_t5.py build    [OUT]   # ONNX (fp32 + q8) + config + tokenizer
    /usr/bin/python3 models/recipes/hub_replicas/make_t5.py torchref [OUT]   # PyTorch check of reference.json

Architecture = transformers' T5ForConditionalGeneration as t5-small configures it (the code Optimum traced):
  * T5LayerNorm: RMS only (x * rsqrt(mean(x^2) + 1e-6) * weight; no mean subtraction, no bias), pre-norm
    sub-layers (x = x + SubLayer(LN(x))), a final_layer_norm per stack;
  * attention: q/k/v/o Linear without bias, inner dim num_heads * d_kv, NO 1/sqrt(d_kv) scaling of q;
    scores + position_bias, where position_bias = relative_attention_bias(bucket(memory - context)) [1, H, q, k]
    owned by layer 0 of each stack only (the other layers reuse it): bidirectional buckets in the encoder,
    unidirectional in the decoder self-attention; cross-attention gets a zero bias; masks are added to the bias
    ((1 - mask) * finfo.min);
  * decoder self-attention mask: ModuleUtilsMixin's causal mask computed from the lengths (seq_ids <= seq_ids,
    ones prefix over the past), times the all-ones decoder attention mask (Optimum passes none), so several new
    tokens in one with-past pass ARE causal; position_bias with a past = compute_bias(past+T, past+T)[:, :, -T:];
  * FFN: wo(relu(wi(x))) (feed_forward_proj "relu", no bias), no position embeddings;
  * shared embedding tied to lm_head, decoder output rescaled by d_model ** -0.5 before lm_head;
    decoder_start_token_id = pad = 0, eos = 1.
Files as Optimum exports them (opset 14, constant folding) + transformers.js's quantize (q8):
  onnx/encoder_model.onnx                 input_ids, attention_mask -> last_hidden_state
  onnx/decoder_model_merged.onnx          If-merged (use_cache_branch) decoder_model + decoder_with_past_model
                                          (traced with ONE new token, as Optimum does)
  onnx/encoder_model_quantized.onnx,
  onnx/decoder_model_merged_quantized.onnx  hub_quant.quantize_q8 (QInt8 per-tensor, MatMulConstBOnly, the
                                          shared-embedding and relative_attention_bias Gathers on int8)
"""
from __future__ import annotations

import math
import os
import sys

import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
from hub_common import NEG, PROBE, added, file_sizes, finish_torchref, lens_layers, reference_steps, seq2seq_attention, merge_decoders, read_json, torch_export, write_json  # noqa: E402
import hub_quant  # noqa: E402

import onnx  # noqa: E402

SEED = 5174
D, H, DKV, FF, ENC_L, DEC_L = 32, 4, 8, 64, 2, 2
INNER = H * DKV
NUM_BUCKETS, MAX_DIST = 32, 128
EPS = 1e-6
OUT_GAIN = 6.0
N_EXTRA = 100  # t5: <extra_id_0> .. <extra_id_99>

WORDS = ("translate English to German French Romanian summarize : The the house is wonderful . quick brown fox "
         "jumps over lazy dog a an and of in it that this for on with as was be by at from I you he she we they "
         "Das Haus ist wunderbar der die das und ein eine zu von mit nicht schnelle braune Fuchs springt über "
         "den faulen Hund La maison est merveilleuse le la les et un une de Casa este minunată și "
         "good day time year people man woman child world book city water school work love see go come make "
         "know think want give take say tell read write small big new old").split()
SUBWORDS = ["s", "ed", "ing", "er", "ly", "ful", "ize", "un", "re", "est", "ation", "en", "an", "in", "on"]
CHARS = list("abcdefghijklmnopqrstuvwxyzäöüßăâîșțABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,!?'-:;()\"")


def build_pieces():
    """Unigram pieces in T5's order: <pad> 0, </s> 1, <unk> 2, the sentencepiece pieces, then <extra_id_99> ..
    <extra_id_0> (so <extra_id_0> is the last id, as in t5-small: 32099)."""
    pieces = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("\u2581", -2.5)]
    seen = {p for p, _ in pieces}

    def add(p, s):
        if p not in seen:
            seen.add(p)
            pieces.append((p, round(s, 4)))
    words = list(dict.fromkeys(WORDS))
    for i, w in enumerate(words):
        add("\u2581" + w, -6.0 - 0.01 * i)
    for i, w in enumerate(SUBWORDS):
        add(w, -8.0 - 0.01 * i)
    for i, c in enumerate(CHARS):
        add("\u2581" + c, -11.0 - 0.01 * i)
        add(c, -12.0 - 0.01 * i)
    n_sp = len(pieces)
    for k in range(N_EXTRA - 1, -1, -1):
        pieces.append((f"<extra_id_{k}>", 0.0))
    return pieces, n_sp


def tokenizer_json(pieces, n_sp):
    """T5TokenizerFast's tokenizer.json layout (t5-small): Precompiled normalizer, WhitespaceSplit + Metaspace,
    `$A </s>` / `$A </s> $B </s>` template, Metaspace decoder, Unigram with unk_id 2."""
    ms = {"type": "Metaspace", "replacement": "\u2581", "add_prefix_space": True}
    A, B = {"Sequence": {"id": "A", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 0}}
    eos = {"SpecialToken": {"id": "</s>", "type_id": 0}}
    return {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [added(0, "<pad>"), added(1, "</s>"), added(2, "<unk>")]
        + [added(n_sp + j, pieces[n_sp + j][0]) for j in range(N_EXTRA)],
        # t5-small carries the spm charsmap (base64) here; transformers.js ignores it (the replica: null)
        "normalizer": {"type": "Precompiled", "precompiled_charsmap": None},
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [{"type": "WhitespaceSplit"}, ms]},
        "post_processor": {
            "type": "TemplateProcessing", "single": [A, eos], "pair": [A, eos, B, eos],
            "special_tokens": {"</s>": {"id": "</s>", "ids": [1], "tokens": ["</s>"]}}},
        "decoder": ms,
        "model": {"type": "Unigram", "unk_id": 2, "vocab": [[p, s] for p, s in pieces]},
    }


# ------------------------------------------------------------------ model

class T5LayerNorm(nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(D))

    def forward(self, x):
        var = x.pow(2).mean(-1, keepdim=True)
        return self.weight * (x * torch.rsqrt(var + EPS))


def relative_position_bucket(rel, bidirectional):
    buckets = 0
    n = NUM_BUCKETS
    if bidirectional:
        n //= 2
        buckets = buckets + (rel > 0).to(torch.long) * n
        rel = torch.abs(rel)
    else:
        rel = -torch.min(rel, torch.zeros_like(rel))
    max_exact = n // 2
    is_small = rel < max_exact
    large = max_exact + (torch.log(rel.float() / max_exact) / math.log(MAX_DIST / max_exact)
                         * (n - max_exact)).to(torch.long)
    large = torch.min(large, torch.full_like(large, n - 1))
    return buckets + torch.where(is_small, rel, large)


class Attention(nn.Module):
    def __init__(self, has_bias, is_decoder):
        super().__init__()
        self.q, self.k, self.v = (nn.Linear(D, INNER, bias=False) for _ in range(3))
        self.o = nn.Linear(INNER, D, bias=False)
        self.is_decoder = is_decoder
        if has_bias:
            self.relative_attention_bias = nn.Embedding(NUM_BUCKETS, H)

    def compute_bias(self, q_len, k_len):
        ctx = torch.arange(q_len, dtype=torch.long)[:, None]
        mem = torch.arange(k_len, dtype=torch.long)[None, :]
        b = relative_position_bucket(mem - ctx, bidirectional=not self.is_decoder)
        return self.relative_attention_bias(b).permute([2, 0, 1]).unsqueeze(0)

    @staticmethod
    def shape(x):
        B, T, _ = x.shape
        return x.view(B, T, H, DKV).transpose(1, 2)


class T5Block(nn.Module):
    def __init__(self, is_decoder, has_bias):
        super().__init__()
        self.is_decoder = is_decoder
        self.ln_sa = T5LayerNorm()
        self.sa = Attention(has_bias, is_decoder)
        if is_decoder:
            self.ln_ca = T5LayerNorm()
            self.ca = Attention(False, True)
        self.ln_ff = T5LayerNorm()
        self.wi = nn.Linear(D, FF, bias=False)
        self.wo = nn.Linear(FF, D, bias=False)


def attend(q, k, v, bias, o):
    B, _, T, _ = q.shape
    w = torch.matmul(q, k.transpose(3, 2)) + bias
    p = PROBE(o, torch.softmax(w.float(), dim=-1).type_as(w))  # keyed by the attention's output projection
    return o(torch.matmul(p, v).transpose(1, 2).contiguous().view(B, T, INNER))


class T5(nn.Module):
    def __init__(self, V):
        super().__init__()
        self.shared = nn.Embedding(V, D)
        self.enc = nn.ModuleList([T5Block(False, i == 0) for i in range(ENC_L)])
        self.enc_ln = T5LayerNorm()
        self.dec = nn.ModuleList([T5Block(True, i == 0) for i in range(DEC_L)])
        self.dec_ln = T5LayerNorm()
        self.lm_head = nn.Linear(D, V, bias=False)
        self.lm_head.weight = self.shared.weight

    def encode(self, ids, am):
        x = self.shared(ids)
        T = ids.shape[1]
        mask = (1.0 - am[:, None, None, :].float()) * NEG
        bias = self.enc[0].sa.compute_bias(T, T) + mask
        for blk in self.enc:
            h = blk.ln_sa(x)
            a = blk.sa
            x = x + attend(a.shape(a.q(h)), a.shape(a.k(h)), a.shape(a.v(h)), bias, a.o)
            x = x + blk.wo(torch.relu(blk.wi(blk.ln_ff(x))))
        return self.enc_ln(x)

    def decode(self, ids, enc, enc_am, past=None):
        """past: None (no-past graph) or [(self_k, self_v, cross_k, cross_v)] per layer (with-past graph)."""
        B, T = ids.shape
        past_len = 0 if past is None else past[0][0].shape[2]
        x = self.shared(ids)
        # ModuleUtilsMixin.get_extended_attention_mask for a decoder, attention_mask = ones(B, past + T)
        am = torch.ones(B, past_len + T)
        seq_ids = torch.arange(T)
        causal = (seq_ids[None, None, :].repeat(B, T, 1) <= seq_ids[None, :, None]).to(am.dtype)
        if causal.shape[1] < am.shape[1]:
            causal = torch.cat([torch.ones((B, T, am.shape[1] - causal.shape[1]), dtype=causal.dtype), causal], -1)
        self_mask = (1.0 - causal[:, None, :, :] * am[:, None, None, :]) * NEG
        self_bias = self.dec[0].sa.compute_bias(past_len + T, past_len + T)
        if past is not None:
            self_bias = self_bias[:, :, -T:, :]
        self_bias = self_bias + self_mask
        cross_mask = (1.0 - enc_am[:, None, None, :].float()) * NEG
        presents = []
        cross_bias = None
        for li, blk in enumerate(self.dec):
            h = blk.ln_sa(x)
            a = blk.sa
            k, v = a.shape(a.k(h)), a.shape(a.v(h))
            if past is not None:
                k, v = torch.cat([past[li][0], k], 2), torch.cat([past[li][1], v], 2)
            x = x + attend(a.shape(a.q(h)), k, v, self_bias, a.o)
            h = blk.ln_ca(x)
            c = blk.ca
            if past is None:
                ck, cv = c.shape(c.k(enc)), c.shape(c.v(enc))
            else:
                ck, cv = past[li][2], past[li][3]
            if cross_bias is None:  # layer 0's EncDecAttention: zero position bias + encoder mask, shared after
                cross_bias = torch.zeros((1, H, T, ck.shape[2]), dtype=x.dtype) + cross_mask
            x = x + attend(c.shape(c.q(h)), ck, cv, cross_bias, c.o)
            x = x + blk.wo(torch.relu(blk.wi(blk.ln_ff(x))))
            PROBE("dec_resid", x)
            presents.append((k, v, ck, cv))
        x = self.dec_ln(x) * (D ** -0.5)
        return self.lm_head(x), presents


def make_model():
    pieces, n_sp = build_pieces()
    n_tok = len(pieces)
    V = (n_tok + 127) // 128 * 128  # t5-small: 32100 tokenizer pieces, vocab_size 32128 (rows past it unused)
    torch.manual_seed(SEED)
    model = T5(V).eval()
    with torch.no_grad():
        for n, p in model.named_parameters():
            if n.endswith("weight") and ("ln" in n.split(".")[-2] or n.split(".")[0] in ("enc_ln", "dec_ln")):
                p.copy_(1.0 + 0.2 * torch.randn_like(p))
            elif "shared" in n:
                nn.init.normal_(p, std=1.0)
            elif "relative_attention_bias" in n:
                nn.init.normal_(p, std=1.0)
            elif n.endswith((".o.weight", ".wo.weight")):  # sub-layer outputs: outweigh the embedding in
                nn.init.normal_(p, std=OUT_GAIN * math.sqrt(1.0 / p.shape[1]))  # the residual (no self-loop)
            else:
                nn.init.normal_(p, std=math.sqrt(1.0 / p.shape[1]))
        # sentinel rows smaller and the rows past the tokenizer near zero (as never-trained rows), so that the
        # tied lm_head's greedy picks are mostly real pieces in so small a vocabulary
        model.shared.weight[n_sp:n_tok] *= 0.3
        model.shared.weight[n_tok:] *= 0.05
    return model, pieces, n_sp, V


class EncW(nn.Module):
    def __init__(self, m):
        super().__init__()
        self.wrap = m

    def forward(self, input_ids, attention_mask):
        return self.wrap.encode(input_ids, attention_mask)


class DecNoPastW(nn.Module):
    def __init__(self, m):
        super().__init__()
        self.wrap = m

    def forward(self, encoder_attention_mask, input_ids, encoder_hidden_states):
        logits, pres = self.wrap.decode(input_ids, encoder_hidden_states, encoder_attention_mask)
        return (logits, *[t for p in pres for t in p])


class DecPastW(nn.Module):
    def __init__(self, m):
        super().__init__()
        self.wrap = m

    def forward(self, encoder_attention_mask, input_ids, *flat):
        past = [tuple(flat[4 * i: 4 * i + 4]) for i in range(DEC_L)]
        logits, pres = self.wrap.decode(input_ids, None, encoder_attention_mask, past)
        return (logits, *[t for p in pres for t in p[:2]])


def export(model, V, onx, out):
    B, S, T = 2, 7, 5
    ids = torch.randint(3, V - 1, (B, S))
    am = torch.ones(B, S, dtype=torch.long)
    enc_m = torch_export(EncW(model), (ids, am), os.path.join(onx, "encoder_model.onnx"), ["input_ids", "attention_mask"],
                         ["last_hidden_state"], {"input_ids": {0: "batch_size", 1: "encoder_sequence_length"},
                                                 "attention_mask": {0: "batch_size", 1: "encoder_sequence_length"},
                                                 "last_hidden_state": {0: "batch_size", 1: "encoder_sequence_length"}})
    enc = torch.randn(B, S, D)
    names_out = ["logits"]
    ax = {"encoder_attention_mask": {0: "batch_size", 1: "encoder_sequence_length"},
          "input_ids": {0: "batch_size", 1: "decoder_sequence_length"},
          "encoder_hidden_states": {0: "batch_size", 1: "encoder_sequence_length"},
          "logits": {0: "batch_size", 1: "decoder_sequence_length"}}
    for i in range(DEC_L):
        for part, seq in (("decoder", "decoder_sequence_length"), ("encoder", "encoder_sequence_length_out")):
            for kv in ("key", "value"):
                n = f"present.{i}.{part}.{kv}"
                names_out.append(n)
                ax[n] = {0: "batch_size", 2: seq}
    tmp1, tmp2 = os.path.join(out, "_decoder_model.onnx"), os.path.join(out, "_decoder_with_past_model.onnx")
    m1 = torch_export(DecNoPastW(model), (am, torch.randint(3, V - 1, (B, T)), enc), tmp1,
                      ["encoder_attention_mask", "input_ids", "encoder_hidden_states"], names_out, ax)
    P = 4
    names_in2, flat = ["encoder_attention_mask", "input_ids"], []
    ax2 = {"encoder_attention_mask": {0: "batch_size", 1: "encoder_sequence_length"},
           "input_ids": {0: "batch_size", 1: "decoder_sequence_length"},
           "logits": {0: "batch_size", 1: "decoder_sequence_length"}}
    names_out2 = ["logits"]
    for i in range(DEC_L):
        for part, seq, L in (("decoder", "past_decoder_sequence_length", P), ("encoder", "encoder_sequence_length_out", S)):
            for kv in ("key", "value"):
                n = f"past_key_values.{i}.{part}.{kv}"
                names_in2.append(n)
                ax2[n] = {0: "batch_size", 2: seq}
                flat.append(torch.randn(B, H, L, DKV))
        for kv in ("key", "value"):
            n = f"present.{i}.decoder.{kv}"
            names_out2.append(n)
            ax2[n] = {0: "batch_size", 2: "past_decoder_sequence_length + 1"}
    # with past: ONE new token, as Optimum traces it
    m2 = torch_export(DecPastW(model), (am, torch.randint(3, V - 1, (B, 1)), *flat), tmp2, names_in2, names_out2, ax2)
    merged = merge_decoders(m1, m2)
    os.remove(tmp1)
    os.remove(tmp2)
    return enc_m, merged


def build(out):
    model, pieces, n_sp, V = make_model()
    onx = os.path.join(out, "onnx")
    os.makedirs(onx, exist_ok=True)
    enc_m, merged = export(model, V, onx, out)
    onnx.save(merged, os.path.join(onx, "decoder_model_merged.onnx"))
    for m, name in ((enc_m, "encoder_model_quantized.onnx"), (merged, "decoder_model_merged_quantized.onnx")):
        q = hub_quant.quantize_q8(m)
        onnx.checker.check_model(q)
        onnx.save(q, os.path.join(onx, name))

    write_json(os.path.join(out, "tokenizer.json"), tokenizer_json(pieces, n_sp), indent=None)
    extra = [f"<extra_id_{k}>" for k in range(N_EXTRA)]
    write_json(os.path.join(out, "tokenizer_config.json"), {
        "additional_special_tokens": extra, "clean_up_tokenization_spaces": True, "eos_token": "</s>",
        "extra_ids": N_EXTRA, "model_max_length": 512, "pad_token": "<pad>", "tokenizer_class": "T5Tokenizer",
        "unk_token": "<unk>"})
    write_json(os.path.join(out, "config.json"), {
        "_name_or_path": "t5-small (tiny random replica)", "architectures": ["T5ForConditionalGeneration"],
        "d_ff": FF, "d_kv": DKV, "d_model": D, "decoder_start_token_id": 0, "dense_act_fn": "relu",
        "dropout_rate": 0.1, "eos_token_id": 1, "feed_forward_proj": "relu", "initializer_factor": 1.0,
        "is_encoder_decoder": True, "is_gated_act": False, "layer_norm_epsilon": EPS, "model_type": "t5",
        "n_positions": 512, "num_decoder_layers": DEC_L, "num_heads": H, "num_layers": ENC_L, "output_past": True,
        "pad_token_id": 0, "relative_attention_max_distance": MAX_DIST,
        "relative_attention_num_buckets": NUM_BUCKETS,
        "task_specific_params": {
            "summarization": {"early_stopping": True, "length_penalty": 2.0, "max_length": 200, "min_length": 30,
                              "no_repeat_ngram_size": 3, "num_beams": 4, "prefix": "summarize: "},
            "translation_en_to_de": {"early_stopping": True, "max_length": 300, "num_beams": 4,
                                     "prefix": "translate English to German: "},
            "translation_en_to_fr": {"early_stopping": True, "max_length": 300, "num_beams": 4,
                                     "prefix": "translate English to French: "},
            "translation_en_to_ro": {"early_stopping": True, "max_length": 300, "num_beams": 4,
                                     "prefix": "translate English to Romanian: "}},
        "transformers_version": "4.29.2", "use_cache": True, "vocab_size": V})
    write_json(os.path.join(out, "generation_config.json"), {
        "_from_model_config": True, "decoder_start_token_id": 0, "eos_token_id": 1, "pad_token_id": 0,
        "transformers_version": "4.29.2"})
    with open(os.path.join(out, "README.md"), "w") as f:
        f.write(f"""# hub-t5 (test fixture, random weights, seed {SEED})

Replica of the file layout of `Xenova/t5-small` (T5): `onnx/encoder_model.onnx`, the Optimum If-merged
`onnx/decoder_model_merged.onnx` (`use_cache_branch`; inputs `encoder_attention_mask, input_ids,
encoder_hidden_states, past_key_values.{{i}}.{{decoder,encoder}}.{{key,value}}`; outputs `logits,
present.{{i}}.{{decoder,encoder}}.{{key,value}}`) and their q8 files `onnx/encoder_model_quantized.onnx`,
`onnx/decoder_model_merged_quantized.onnx` (QInt8 per-tensor: MatMulInteger for every Linear, int8 Gathers for
the shared embedding and the relative_attention_bias tables), `config.json` (model_type t5, feed_forward_proj
relu, t5-small's `task_specific_params`: `summarization` prefix "summarize: ", `translation_en_to_de/fr/ro`),
`generation_config.json` (decoder_start 0 = pad, eos 1), a Unigram `tokenizer.json` in T5TokenizerFast's layout
(`<pad>` 0, `</s>` 1, `<unk>` 2, WhitespaceSplit + Metaspace, `$A </s>`, `<extra_id_99>` .. `<extra_id_0>` =
ids {n_sp} .. {n_sp + N_EXTRA - 1}) + `tokenizer_config.json` (T5Tokenizer, extra_ids {N_EXTRA}).
T5 maths: RMS T5LayerNorm (no bias/mean), relative position bias (32 buckets, max distance 128; bidirectional
in the encoder, unidirectional in the decoder, layer 0 only), no 1/sqrt(d_kv) scaling, ReLU FFN, tied
embeddings with the d_model**-0.5 rescale. d_model {D}, {H} heads, d_kv {DKV}, d_ff {FF}, {ENC_L}+{DEC_L} layers,
{len(pieces)} tokenizer pieces, config vocab_size {V} (rows past the tokenizer unused, as t5-small's 32100/32128).
The decoder's causal mask is computed from the lengths, so the with-past branch is causal over several new
tokens too. Outputs are noise. Made by `models/recipes/hub_replicas/make_t5.py`; `reference.json` by
`reference.mjs` (transformers.js, fp32 + q8) + `torchref` (PyTorch, fp32).
""")
    print("pieces", len(pieces), "vocab", V, "params", sum(p.numel() for p in model.parameters()))
    for n, s in file_sizes(out):
        print(f"  {s:9d}  {n}")


@torch.no_grad()
def torchref(out):
    """Recompute in PyTorch what reference.json says transformers.js produced for the fp32 files. t5-small's
    generation_config has no logits processors (no bad words / forced ids / min length / ngram), and transformers.js
    ignores task_specific_params, so the greedy loop is a plain argmax until eos (1) or max_new_tokens."""
    model, pieces, n_sp, V = make_model()
    ref = read_json(os.path.join(out, "reference.json"))
    fp32 = ref["dtypes"]["fp32"]
    opts = ref["generate_options"]
    worst, worst_lp, same, pts = 0.0, 0.0, True, []
    for p in fp32["prompts"]:
        ids = torch.tensor([p["input_ids"]])
        am = torch.ones_like(ids)
        enc = model.encode(ids, am)
        seq = [0]
        while len(seq) < 1 + opts["max_new_tokens"]:
            lg, _ = model.decode(torch.tensor([seq]), enc, am)
            nxt = int(torch.argmax(lg[0, -1]))
            seq.append(nxt)
            if nxt == 1:
                break
        greedy = seq[1:]
        same &= greedy == p["greedy_ids"]
        lg, _ = model.decode(torch.tensor([[0] + p["greedy_ids"]]), enc, am)
        steps, w, wl = reference_steps([lg[0, s_i] for s_i in range(len(p["steps"]))], p["steps"])
        worst, worst_lp = max(worst, w), max(worst_lp, wl)
        pts.append({"text": p["text"], "greedy_ids": greedy, "steps": steps})
    finish_torchref(out, ref, pts, same, worst, worst_lp, attention_and_lens(model, fp32["prompts"][0]))


def attention_and_lens(model, p):
    """Encoder self-attention over the first prompt's source ids; decoder self-attention (causal), cross-attention
    and the decoder's logit lens (final_layer_norm, d_model ** -0.5 rescale, tied lm_head on the residual after each
    decoder block, given the encoder output) over [decoder_start 0] + its first 4 transformers.js-fp32 greedy ids."""
    def run(src, dec):
        ids = torch.tensor([src])
        am = torch.ones_like(ids)
        return model.decode(torch.tensor([dec]), model.encode(ids, am), am)[0][0]
    a, d, lg = seq2seq_attention(p, 0, run, [b.sa.o for b in model.enc], [b.sa.o for b in model.dec],
                                 [b.ca.o for b in model.dec])
    with torch.no_grad():
        lens = [model.lm_head(model.dec_ln(r) * (D ** -0.5))[0] for r in d["dec_resid"]]
    return {"attention": a, "lens": {"text": p["text"], "source_ids": p["input_ids"], "ids": a["decoder_ids"],
                                     "layers": lens_layers(lens, lg)}}


if __name__ == "__main__":
    torch.set_num_threads(1)
    cmd = sys.argv[1]
    out = os.path.abspath(sys.argv[2] if len(sys.argv) > 2 else os.path.join(ROOT, "test", "fixtures", "hub-t5"))
    build(out) if cmd == "build" else torchref(out)
