"""hub-marian-merged: a tiny random-weight MarianMT in the layout of Xenova/opus-mt-en-de.

    /usr/bin/python3 models/recipes/hub_replicas/make_marian.py build   [OUT]   # ONNX + config + tokenizer
    /usr/bin/python3 models/recipes/hub_replicas/make_marian.py torchref [OUT]  # PyTorch check of reference.json

Architecture = transformers' MarianMTModel (post-LN BART-like encoder-decoder, SiLU ("swish") FFN,
sinusoidal positions [sin | cos halves], embeddings scaled by sqrt(d_model), shared embeddings tied to
lm_head, final_logits_bias, pad row of the embedding zero, no layernorm_embedding, no final layer norm).
Files as Optimum exports them (opset 14):
  onnx/encoder_model.onnx         input_ids, attention_mask -> last_hidden_state
  onnx/decoder_model_merged.onnx  If-merged (use_cache_branch) decoder_model (no past, causal mask) +
                                  decoder_with_past_model (traced with ONE new token: no self-attention
                                  mask at all, so several tokens per pass are NOT causal, as in the real files)
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
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
from hub_common import NEG, PROBE, added, finish_torchref, reference_steps, seq2seq_attention, merge_decoders, metaspace, read_json, torch_export, write_json  # noqa: E402

import onnx  # noqa: E402

SEED = 1234
D, H, FFN, ENC_L, DEC_L, MAXPOS = 32, 4, 64, 2, 2, 512
HD = D // H

EN = ("the a an and of to in is it that this for on with as was be by at from I you he she we they "
      "my your his her our their house car dog cat book world hello good morning day night time year "
      "people man woman child friend city water food school work love like see go come make know think "
      "want give take say tell read write speak small big new old red green blue quick brown fox jumps over "
      "lazy today tomorrow please thank very much where what how why who").split()
DE = ("der die das und ist ein eine zu in den von mit sich des auf für nicht es dem an auch als wie "
      "Haus Auto Hund Katze Buch Welt hallo gut Morgen Tag Nacht Zeit Jahr Leute Mann Frau Kind Freund "
      "Stadt Wasser Essen Schule Arbeit Liebe sehen gehen kommen machen wissen denken geben sagen lesen "
      "schreiben klein groß neu alt rot grün blau schnell braun Fuchs springt über faul heute morgen bitte "
      "danke sehr viel wo was wie warum wer ich du er sie wir ihr Guten").split()
CHARS = list("abcdefghijklmnopqrstuvwxyzäöüßABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,!?'-:;()\"")


def build_vocab():
    """Unigram pieces (sentencepiece style): </s>=0, <unk>=1, word pieces, single chars, <pad> = last id."""
    pieces = [("</s>", 0.0), ("<unk>", 0.0), ("\u2581", -4.0)]
    seen = {p for p, _ in pieces}
    words = []
    for w in EN + DE:
        if w not in words:
            words.append(w)
    for i, w in enumerate(words):
        for p, s in (("\u2581" + w, -6.0 - 0.01 * i), (w, -9.0 - 0.01 * i)):
            if p not in seen and (p.startswith("\u2581") or len(w) > 3):
                seen.add(p)
                pieces.append((p, round(s, 4)))
    for i, c in enumerate(CHARS):
        for p, s in (("\u2581" + c, -11.0 - 0.01 * i), (c, -12.0 - 0.01 * i)):
            if p not in seen:
                seen.add(p)
                pieces.append((p, round(s, 4)))
    pieces.append(("<pad>", 0.0))
    return pieces


def tokenizer_json(pieces):
    eos, unk, pad = 0, 1, len(pieces) - 1
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [added(eos, "</s>"), added(unk, "<unk>"), added(pad, "<pad>")],
        # Real Xenova/opus-mt-* files carry the spm "nmt_nfkc" charsmap here (base64 blob); transformers.js
        # ignores the blob (Precompiled = control-char cleanup + NFKC), so the replica leaves it null.
        "normalizer": {"type": "Precompiled", "precompiled_charsmap": None},
        "pre_tokenizer": metaspace(),
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [{"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "</s>", "type_id": 0}}],
            "pair": [{"Sequence": {"id": "A", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 0}},
                     {"SpecialToken": {"id": "</s>", "type_id": 0}}],
            "special_tokens": {"</s>": {"id": "</s>", "ids": [eos], "tokens": ["</s>"]}},
        },
        "decoder": metaspace(),
        "model": {"type": "Unigram", "unk_id": unk, "vocab": [[p, s] for p, s in pieces], "byte_fallback": False},
    }


def sinusoid(n_pos, dim):
    pe = torch.zeros(n_pos, dim)
    pos = torch.arange(n_pos, dtype=torch.float64)[:, None]
    j = torch.arange(dim // 2, dtype=torch.float64)[None, :]
    ang = pos / torch.pow(10000.0, 2 * j / dim)
    pe[:, : dim // 2] = torch.sin(ang).float()
    pe[:, dim // 2:] = torch.cos(ang).float()
    return pe


class Attn(nn.Module):
    def __init__(self):
        super().__init__()
        self.k_proj, self.v_proj, self.q_proj, self.out_proj = (nn.Linear(D, D) for _ in range(4))

    def shape(self, x):
        B, T, _ = x.shape
        return x.view(B, T, H, HD).transpose(1, 2)

    def attend(self, q, k, v, mask):
        B, _, T, _ = q.shape
        w = torch.matmul(q, k.transpose(-1, -2))
        if mask is not None:
            w = w + mask
        p = PROBE(self, torch.softmax(w, dim=-1))
        return self.out_proj(torch.matmul(p, v).transpose(1, 2).reshape(B, T, D))


class EncLayer(nn.Module):
    def __init__(self):
        super().__init__()
        self.self_attn = Attn()
        self.self_attn_layer_norm = nn.LayerNorm(D)
        self.fc1, self.fc2 = nn.Linear(D, FFN), nn.Linear(FFN, D)
        self.final_layer_norm = nn.LayerNorm(D)

    def forward(self, x, mask):
        a = self.self_attn
        q = a.shape(a.q_proj(x) * HD ** -0.5)
        x = self.self_attn_layer_norm(x + a.attend(q, a.shape(a.k_proj(x)), a.shape(a.v_proj(x)), mask))
        return self.final_layer_norm(x + self.fc2(F.silu(self.fc1(x))))


class DecLayer(nn.Module):
    def __init__(self):
        super().__init__()
        self.self_attn = Attn()
        self.self_attn_layer_norm = nn.LayerNorm(D)
        self.encoder_attn = Attn()
        self.encoder_attn_layer_norm = nn.LayerNorm(D)
        self.fc1, self.fc2 = nn.Linear(D, FFN), nn.Linear(FFN, D)
        self.final_layer_norm = nn.LayerNorm(D)

    def forward(self, x, self_mask, past_self, enc_kv, enc, cross_mask):
        a = self.self_attn
        q = a.shape(a.q_proj(x) * HD ** -0.5)
        k, v = a.shape(a.k_proj(x)), a.shape(a.v_proj(x))
        if past_self is not None:
            k, v = torch.cat([past_self[0], k], 2), torch.cat([past_self[1], v], 2)
        x = self.self_attn_layer_norm(x + a.attend(q, k, v, self_mask))
        c = self.encoder_attn
        if enc_kv is None:
            enc_kv = (c.shape(c.k_proj(enc)), c.shape(c.v_proj(enc)))
        q = c.shape(c.q_proj(x) * HD ** -0.5)
        x = self.encoder_attn_layer_norm(x + c.attend(q, enc_kv[0], enc_kv[1], cross_mask))
        x = self.final_layer_norm(x + self.fc2(F.silu(self.fc1(x))))
        return x, (k, v), enc_kv


class Stack(nn.Module):
    def __init__(self, n, layer, shared):
        super().__init__()
        self.embed_tokens = shared
        self.embed_positions = nn.Embedding(MAXPOS, D)
        self.layers = nn.ModuleList([layer() for _ in range(n)])


class Marian(nn.Module):
    def __init__(self, V, pad):
        super().__init__()
        self.model = nn.Module()
        self.model.shared = nn.Embedding(V, D, padding_idx=pad)
        self.model.encoder = Stack(ENC_L, EncLayer, self.model.shared)
        self.model.decoder = Stack(DEC_L, DecLayer, self.model.shared)
        self.lm_head = nn.Linear(D, V, bias=False)
        self.lm_head.weight = self.model.shared.weight
        self.register_buffer("final_logits_bias", torch.zeros(1, V))
        self.scale = math.sqrt(D)

    def encode(self, ids, am):
        e = self.model.encoder
        T = ids.shape[1]
        x = e.embed_tokens(ids) * self.scale + e.embed_positions(torch.arange(T))
        mask = (1.0 - am[:, None, None, :].float()) * NEG
        for l in e.layers:
            x = l(x, mask)
        return x

    def decode(self, ids, enc, enc_am, past=None):
        """past: None (no-past graph: causal mask) or list of (dec_k, dec_v, enc_k, enc_v) (with-past graph:
        no self-attention mask, positions offset by the past length)."""
        d = self.model.decoder
        T = ids.shape[1]
        past_len = 0 if past is None else past[0][0].shape[2]
        x = d.embed_tokens(ids) * self.scale + d.embed_positions(torch.arange(T) + past_len)
        if past is None:
            i = torch.arange(T)
            self_mask = ((i[None, :] > i[:, None]).float() * NEG)[None, None]
        else:
            self_mask = None
        cross = (1.0 - enc_am[:, None, None, :].float()) * NEG
        presents = []
        for li, l in enumerate(d.layers):
            ps = None if past is None else past[li][:2]
            ek = None if past is None else past[li][2:]
            x, (k, v), (ck, cv) = l(x, self_mask, ps, ek, enc, cross)
            presents.append((k, v, ck, cv))
        return self.lm_head(x) + self.final_logits_bias, presents


def init_weights(model, pad):
    """Random but not degenerate: linear weights N(0, 32/fan_in) (unit gain), small biases, LN weights
    around 1, embeddings N(0, 0.3^2) with the pad row zero, a small final_logits_bias."""
    with torch.no_grad():
        for n, p in model.named_parameters():
            if "embed_positions" in n:
                continue
            if n.endswith("layer_norm.weight"):
                p.copy_(1.0 + 0.2 * torch.randn_like(p))
            elif n.endswith(".bias"):
                p.copy_(0.02 * torch.randn_like(p))
            elif "shared" in n:
                nn.init.normal_(p, std=0.3)
            else:
                nn.init.normal_(p, std=math.sqrt(32.0 / p.shape[1]))
        model.model.shared.weight[pad].zero_()
        model.final_logits_bias.copy_(0.05 * torch.randn_like(model.final_logits_bias))
        for s in (model.model.encoder, model.model.decoder):
            s.embed_positions.weight.copy_(sinusoid(MAXPOS, D))
            s.embed_positions.weight.requires_grad_(False)


def make_model():
    pieces = build_vocab()
    V, pad = len(pieces), len(pieces) - 1
    torch.manual_seed(SEED)
    model = Marian(V, pad).eval()
    init_weights(model, pad)
    return model, pieces, V, pad


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


def build(out):
    model, pieces, V, pad = make_model()
    onx = os.path.join(out, "onnx")
    os.makedirs(onx, exist_ok=True)
    B, S, T = 2, 7, 5
    ids = torch.randint(2, V - 1, (B, S))
    am = torch.ones(B, S, dtype=torch.long)
    torch_export(EncW(model), (ids, am), os.path.join(onx, "encoder_model.onnx"), ["input_ids", "attention_mask"],
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
    m1 = torch_export(DecNoPastW(model), (am, torch.randint(2, V - 1, (B, T)), enc), tmp1,
                      ["encoder_attention_mask", "input_ids", "encoder_hidden_states"], names_out, ax)
    # with past: ONE new token (as Optimum traces it), so no causal mask ends up in the graph
    P = 4
    names_in2, flat, ax2 = ["encoder_attention_mask", "input_ids"], [], {
        "encoder_attention_mask": {0: "batch_size", 1: "encoder_sequence_length"},
        "input_ids": {0: "batch_size", 1: "decoder_sequence_length"},
        "logits": {0: "batch_size", 1: "decoder_sequence_length"}}
    names_out2 = ["logits"]
    for i in range(DEC_L):
        for part, seq, L in (("decoder", "past_decoder_sequence_length", P), ("encoder", "encoder_sequence_length_out", S)):
            for kv in ("key", "value"):
                n = f"past_key_values.{i}.{part}.{kv}"
                names_in2.append(n)
                ax2[n] = {0: "batch_size", 2: seq}
                flat.append(torch.randn(B, H, L, HD))
        for kv in ("key", "value"):
            n = f"present.{i}.decoder.{kv}"
            names_out2.append(n)
            ax2[n] = {0: "batch_size", 2: "past_decoder_sequence_length + 1"}
    m2 = torch_export(DecPastW(model), (am, torch.randint(2, V - 1, (B, 1)), *flat), tmp2, names_in2, names_out2, ax2)
    merged = merge_decoders(m1, m2)
    onnx.save(merged, os.path.join(onx, "decoder_model_merged.onnx"))
    os.remove(tmp1)
    os.remove(tmp2)

    write_json(os.path.join(out, "tokenizer.json"), tokenizer_json(pieces), indent=None)
    write_json(os.path.join(out, "tokenizer_config.json"), {
        "model_max_length": 512, "eos_token": "</s>", "unk_token": "<unk>", "pad_token": "<pad>",
        "separate_vocabs": False, "source_lang": "en", "target_lang": "de", "sp_model_kwargs": {},
        "clean_up_tokenization_spaces": True, "tokenizer_class": "MarianTokenizer"})
    write_json(os.path.join(out, "config.json"), {
        "_name_or_path": "Helsinki-NLP/opus-mt-en-de (tiny random replica)",
        "activation_dropout": 0.0, "activation_function": "swish", "add_bias_logits": False, "add_final_layer_norm": False,
        "architectures": ["MarianMTModel"], "attention_dropout": 0.0, "bad_words_ids": [[pad]], "bos_token_id": 0,
        "classif_dropout": 0.0, "classifier_dropout": 0.0, "d_model": D, "decoder_attention_heads": H,
        "decoder_ffn_dim": FFN, "decoder_layerdrop": 0.0, "decoder_layers": DEC_L, "decoder_start_token_id": pad,
        "decoder_vocab_size": V, "dropout": 0.0, "encoder_attention_heads": H, "encoder_ffn_dim": FFN,
        "encoder_layerdrop": 0.0, "encoder_layers": ENC_L, "eos_token_id": 0, "extra_pos_embeddings": V,
        "forced_eos_token_id": 0, "id2label": {"0": "LABEL_0", "1": "LABEL_1", "2": "LABEL_2"}, "init_std": 0.02,
        "is_encoder_decoder": True, "label2id": {"LABEL_0": 0, "LABEL_1": 1, "LABEL_2": 2}, "max_length": 512,
        "max_position_embeddings": MAXPOS, "model_type": "marian", "normalize_before": False,
        "normalize_embedding": False, "num_beams": 4, "num_hidden_layers": ENC_L, "pad_token_id": pad,
        "scale_embedding": True, "share_encoder_decoder_embeddings": True, "static_position_embeddings": True,
        "transformers_version": "4.34.0.dev0", "use_cache": True, "vocab_size": V})
    write_json(os.path.join(out, "generation_config.json"), {
        "bad_words_ids": [[pad]], "bos_token_id": 0, "decoder_start_token_id": pad, "eos_token_id": 0,
        "forced_eos_token_id": 0, "max_length": 512, "num_beams": 4, "pad_token_id": pad,
        "transformers_version": "4.34.0.dev0"})
    with open(os.path.join(out, "README.md"), "w") as f:
        f.write(f"""# hub-marian-merged (test fixture, random weights, seed {SEED})

Replica of the file layout of `Xenova/opus-mt-en-de` (MarianMT): `onnx/encoder_model.onnx` and the
Optimum If-merged `onnx/decoder_model_merged.onnx` (`use_cache_branch`; the with-past branch was traced with
one new token and has no self-attention mask), `config.json`, `generation_config.json` (bad_words_ids
[[pad]], forced_eos_token_id 0, num_beams 4, max_length 512), a Unigram `tokenizer.json` (Metaspace,
`</s>` appended) + `tokenizer_config.json` (MarianTokenizer). d_model {D}, {H} heads, {ENC_L}+{DEC_L} layers,
vocab {V} (pad = decoder_start = {pad}). Outputs are noise. Made by
`models/recipes/hub_replicas/make_marian.py`; `reference.json` by `reference.mjs` (transformers.js) + `torchref`.
""")
    print("vocab", V, "pad", pad, "params", sum(p.numel() for p in model.parameters()))


@torch.no_grad()
def torchref(out):
    """Recompute, in PyTorch, what reference.json says transformers.js produced for the fp32 files."""
    model, pieces, V, pad = make_model()
    ref = read_json(os.path.join(out, "reference.json"))
    fp32 = ref["dtypes"]["fp32"]
    opts = ref["generate_options"]
    worst, worst_lp, same = 0.0, 0.0, True
    pt_prompts = []
    for p in fp32["prompts"]:
        ids = torch.tensor([p["input_ids"]])
        am = torch.ones_like(ids)
        enc = model.encode(ids, am)
        # greedy, no cache (no-past graph semantics), with transformers.js' processors for this config:
        # NoBadWords([[pad]]) and ForcedEOS(max_length = 1 + max_new_tokens)
        seq = [pad]
        max_len = 1 + opts["max_new_tokens"]
        while len(seq) < max_len:
            lg, _ = model.decode(torch.tensor([seq]), enc, am)
            s = lg[0, -1].clone()
            s[pad] = -float("inf")
            if len(seq) == max_len - 1:
                s[:] = -float("inf")
                s[0] = 0
            nxt = int(torch.argmax(s))
            seq.append(nxt)
            if nxt == 0:
                break
        greedy = seq[1:]
        same &= greedy == p["greedy_ids"]
        # raw logits of the full forward over [start] + greedy ids, as reference.mjs computed them
        lg, _ = model.decode(torch.tensor([[pad] + p["greedy_ids"]]), enc, am)
        steps, w, wl = reference_steps([lg[0, s_i] for s_i in range(len(p["steps"]))], p["steps"])
        worst, worst_lp = max(worst, w), max(worst_lp, wl)
        pt_prompts.append({"text": p["text"], "greedy_ids": greedy, "steps": steps})
    finish_torchref(out, ref, pt_prompts, same, worst, worst_lp, attention(model, fp32["prompts"][0], pad))


def attention(model, p, start_id):
    """Encoder self-attention over the first prompt's source ids, decoder self-attention (causal, no-past pass) and
    cross-attention over [decoder_start] + its first 4 transformers.js-fp32 greedy ids, per layer and head."""
    def run(src, dec):
        ids = torch.tensor([src])
        am = torch.ones_like(ids)
        return model.decode(torch.tensor([dec]), model.encode(ids, am), am)[0][0]
    enc_l, dec_l = model.model.encoder.layers, model.model.decoder.layers
    a, _, _ = seq2seq_attention(p, start_id, run, [l.self_attn for l in enc_l], [l.self_attn for l in dec_l],
                                [l.encoder_attn for l in dec_l])
    return {"attention": a}


if __name__ == "__main__":
    torch.set_num_threads(1)
    cmd = sys.argv[1]
    out = os.path.abspath(sys.argv[2] if len(sys.argv) > 2 else os.path.join(ROOT, "test", "fixtures", "hub-marian-merged"))
    {"build": build, "torchref": torchref}[cmd](out)
