"""hub-bart-cnn: a tiny random-weight BART summarizer in the layout of Xenova/distilbart-cnn-6-6.

    /usr/bin/python3 models/recipes/hub_replicas/make_bartcnn.py build    [OUT]   # ONNX (fp32 + q8) + configs + tokenizer
    /usr/bin/python3 models/recipes/hub_replicas/make_bartcnn.py torchref [OUT]   # PyTorch check of reference.json

Architecture = transformers' BartForConditionalGeneration as sshleifer/distilbart-cnn-6-6 configures it:
learned positions with offset 2 (BartLearnedPositionalEmbedding: table [max_pos + 2, d], positions
arange(past, past + T) + 2), scale_embedding false (embed_scale 1), layernorm_embedding after token + position
embeddings (normalize_embedding), post-LN layers (x = LN(x + SubLayer(x)), eps 1e-5, no final layer norm:
add_final_layer_norm false), q/k/v/out Linear with bias, q scaled by head_dim ** -0.5, exact (erf) GELU FFN,
shared embedding (pad row zero) tied to lm_head + final_logits_bias. Decoder self-attention mask as
transformers' `_prepare_decoder_attention_mask` of that time: a causal finfo.min mask only when T > 1.
Files as Optimum exports them (opset 14, constant folding) + transformers.js's quantize:
  onnx/encoder_model.onnx           input_ids, attention_mask -> last_hidden_state
  onnx/decoder_model_merged.onnx    If-merged (use_cache_branch) decoder_model + decoder_with_past_model (traced
                                    with ONE new token, as Optimum does: no self-attention mask in that branch,
                                    so several new tokens per with-past pass are NOT causal, as in the real file)
  onnx/encoder_model_quantized.onnx, onnx/decoder_model_merged_quantized.onnx   hub_quant.quantize_q8
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
from hub_common import NEG, PROBE, added, file_sizes, finish_torchref, reference_steps, seq2seq_attention, merge_decoders, read_json, torch_export, write_json  # noqa: E402
import hub_quant  # noqa: E402

import onnx  # noqa: E402

SEED = 6168
D, H, FFN, ENC_L, DEC_L, MAXPOS = 32, 4, 64, 2, 2, 1024
HD = D // H
BOS, PAD, EOS, UNK = 0, 1, 2, 3
SPECIALS = ["<s>", "<pad>", "</s>", "<unk>"]
N_MERGES = 252
V = 4 + 256 + N_MERGES          # model vocab_size (logits width); <mask> = V, one past it (as 50264 in the real repo)
EOS_BIAS = 2.0                   # extra final_logits_bias on </s>: EOS is the raw argmax early, so min_length shows
MIN_LENGTH = 6                   # scaled from 56 so the boundary shows within 12 generated tokens
PROMPTS = ["The city council approved a new plan on Monday to build three parks downtown.",
           "Scientists say the ancient river once flowed across the desert for thousands of years."]
CORPUS = PROMPTS + [
    "The city council met on Monday and voted to approve the new budget for the coming year.",
    "Police said the man was arrested after a long chase through the streets of the city.",
    "The president told reporters on Tuesday that the talks would continue next week.",
    "Scientists have found evidence that the river flowed across the region thousands of years ago.",
    "The company said its profits rose by ten percent in the first three months of the year.",
    "Officials say the new parks will open to the public next summer, the mayor said.",
    "The team won the final game of the season after a late goal in the second half.",
    "Heavy rain caused floods across the region, forcing thousands of people from their homes.",
    "The ancient city was built near the river more than two thousand years ago, experts say.",
    "A new study says that people who walk every day live longer than those who do not.",
] * 3


def make_tokenizer():
    """Byte-level BPE in BART/RoBERTa's layout: <s> 0, <pad> 1, </s> 2, <unk> 3, the 256 byte symbols (GPT-2's
    bytes_to_unicode order), merges, then <mask> (added, lstrip) as the last id."""
    from bpe_tokenizer import BYTE_ENCODER, train_bpe
    tok = train_bpe(CORPUS, vocab_size=V, special_tokens=SPECIALS, min_frequency=2, verbose=False)
    assert len(tok.vocab) == V, len(tok.vocab)
    order = list(SPECIALS) + list(BYTE_ENCODER.values())
    rest = [t for t, _ in sorted(tok.vocab.items(), key=lambda kv: kv[1]) if t not in set(order)]
    vocab = {t: i for i, t in enumerate(order + rest)}
    assert len(vocab) == V
    mask = V
    vocab["<mask>"] = mask
    mask_tok = added(mask, "<mask>")
    mask_tok["lstrip"] = True
    j = {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [added(i, s) for i, s in enumerate(SPECIALS)] + [mask_tok],
        "normalizer": None,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
        "post_processor": {"type": "RobertaProcessing", "sep": ["</s>", EOS], "cls": ["<s>", BOS],
                           "trim_offsets": True, "add_prefix_space": False},
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": "",
                  "end_of_word_suffix": "", "fuse_unk": False, "byte_fallback": False,
                  "vocab": vocab, "merges": [f"{a} {b}" for a, b in tok.merges]},
    }
    cfg = {"add_prefix_space": False, "bos_token": "<s>", "clean_up_tokenization_spaces": True, "cls_token": "<s>",
           "eos_token": "</s>", "errors": "replace", "mask_token": "<mask>", "model_max_length": 1024,
           "pad_token": "<pad>", "sep_token": "</s>", "tokenizer_class": "BartTokenizer", "trim_offsets": True,
           "unk_token": "<unk>"}
    return j, cfg


# ------------------------------------------------------------------ model

class Attn(nn.Module):
    def __init__(self):
        super().__init__()
        self.k_proj, self.v_proj, self.q_proj, self.out_proj = (nn.Linear(D, D) for _ in range(4))

    @staticmethod
    def shape(x):
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
        return self.final_layer_norm(x + self.fc2(F.gelu(self.fc1(x))))


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
        x = self.final_layer_norm(x + self.fc2(F.gelu(self.fc1(x))))
        return x, (k, v), enc_kv


class Stack(nn.Module):
    def __init__(self, n, layer, shared):
        super().__init__()
        self.embed_tokens = shared
        self.embed_positions = nn.Embedding(MAXPOS + 2, D)  # BartLearnedPositionalEmbedding, offset 2
        self.layernorm_embedding = nn.LayerNorm(D)
        self.layers = nn.ModuleList([layer() for _ in range(n)])

    def embed(self, ids, past_len=0):
        T = ids.shape[1]
        pos = torch.arange(past_len, past_len + T, dtype=torch.long) + 2
        return self.layernorm_embedding(self.embed_tokens(ids) + self.embed_positions(pos))


class Bart(nn.Module):
    def __init__(self):
        super().__init__()
        self.model = nn.Module()
        self.model.shared = nn.Embedding(V, D, padding_idx=PAD)
        self.model.encoder = Stack(ENC_L, EncLayer, self.model.shared)
        self.model.decoder = Stack(DEC_L, DecLayer, self.model.shared)
        self.lm_head = nn.Linear(D, V, bias=False)
        self.lm_head.weight = self.model.shared.weight
        self.register_buffer("final_logits_bias", torch.zeros(1, V))

    def encode(self, ids, am):
        x = self.model.encoder.embed(ids)
        mask = (1.0 - am[:, None, None, :].float()) * NEG
        for l in self.model.encoder.layers:
            x = l(x, mask)
        return x

    def decode(self, ids, enc, enc_am, past=None):
        d = self.model.decoder
        T = ids.shape[1]
        past_len = 0 if past is None else past[0][0].shape[2]
        x = d.embed(ids, past_len)
        if T > 1:  # _make_causal_mask (zeros over the past); traced no-past graph has it, the 1-token with-past not
            i = torch.arange(T)
            self_mask = ((i[None, :] > i[:, None]).float() * NEG)[None, None]
            if past_len > 0:
                self_mask = torch.cat([torch.zeros(1, 1, T, past_len), self_mask], -1)
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


def make_model():
    torch.manual_seed(SEED)
    model = Bart().eval()
    with torch.no_grad():
        for n, p in model.named_parameters():
            if "layer_norm" in n or "layernorm" in n:
                p.copy_((1.0 + 0.2 * torch.randn_like(p)) if n.endswith("weight") else 0.05 * torch.randn_like(p))
            elif n.endswith(".bias"):
                p.copy_(0.02 * torch.randn_like(p))
            elif "shared" in n or "embed_positions" in n:
                nn.init.normal_(p, std=1.0)
            else:
                nn.init.normal_(p, std=math.sqrt(1.0 / p.shape[1]))
        model.model.shared.weight[PAD].zero_()
        model.final_logits_bias.copy_(0.05 * torch.randn_like(model.final_logits_bias))
        model.final_logits_bias[0, EOS] += EOS_BIAS
    return model


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


def export(model, onx, out):
    B, S, T = 2, 7, 5
    ids = torch.randint(4, V, (B, S))
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
    m1 = torch_export(DecNoPastW(model), (am, torch.randint(4, V, (B, T)), enc), tmp1,
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
                flat.append(torch.randn(B, H, L, HD))
        for kv in ("key", "value"):
            n = f"present.{i}.decoder.{kv}"
            names_out2.append(n)
            ax2[n] = {0: "batch_size", 2: "past_decoder_sequence_length + 1"}
    m2 = torch_export(DecPastW(model), (am, torch.randint(4, V, (B, 1)), *flat), tmp2, names_in2, names_out2, ax2)
    merged = merge_decoders(m1, m2)
    os.remove(tmp1)
    os.remove(tmp2)
    return enc_m, merged


def gen_config():
    return {"bos_token_id": BOS, "decoder_start_token_id": EOS, "early_stopping": True, "eos_token_id": EOS,
            "forced_bos_token_id": BOS, "forced_eos_token_id": EOS, "length_penalty": 2.0, "max_length": 142,
            "min_length": MIN_LENGTH, "no_repeat_ngram_size": 3, "num_beams": 4, "pad_token_id": PAD,
            "transformers_version": "4.33.0.dev0"}


def build(out):
    model = make_model()
    tj, tcfg = make_tokenizer()
    onx = os.path.join(out, "onnx")
    os.makedirs(onx, exist_ok=True)
    enc_m, merged = export(model, onx, out)
    onnx.save(merged, os.path.join(onx, "decoder_model_merged.onnx"))
    for m, name in ((enc_m, "encoder_model_quantized.onnx"), (merged, "decoder_model_merged_quantized.onnx")):
        q = hub_quant.quantize_q8(m)
        onnx.checker.check_model(q)
        onnx.save(q, os.path.join(onx, name))
    write_json(os.path.join(out, "tokenizer.json"), tj, indent=None)
    write_json(os.path.join(out, "tokenizer_config.json"), tcfg)
    summ = {"early_stopping": True, "length_penalty": 2.0, "max_length": 142, "min_length": MIN_LENGTH,
            "no_repeat_ngram_size": 3, "num_beams": 4}
    write_json(os.path.join(out, "config.json"), {
        "_name_or_path": "sshleifer/distilbart-cnn-6-6 (tiny random replica)", "_num_labels": 3,
        "activation_dropout": 0.0, "activation_function": "gelu", "add_bias_logits": False,
        "add_final_layer_norm": False, "architectures": ["BartForConditionalGeneration"], "attention_dropout": 0.0,
        "bos_token_id": BOS, "classif_dropout": 0.0, "classifier_dropout": 0.0, "d_model": D,
        "decoder_attention_heads": H, "decoder_ffn_dim": FFN, "decoder_layerdrop": 0.0, "decoder_layers": DEC_L,
        "decoder_start_token_id": EOS, "dropout": 0.1, "early_stopping": True, "encoder_attention_heads": H,
        "encoder_ffn_dim": FFN, "encoder_layerdrop": 0.0, "encoder_layers": ENC_L, "eos_token_id": EOS,
        "extra_pos_embeddings": 2, "force_bos_token_to_be_generated": True, "forced_bos_token_id": BOS,
        "forced_eos_token_id": EOS, "id2label": {"0": "LABEL_0", "1": "LABEL_1", "2": "LABEL_2"}, "init_std": 0.02,
        "is_encoder_decoder": True, "label2id": {"LABEL_0": 0, "LABEL_1": 1, "LABEL_2": 2}, "length_penalty": 2.0,
        "max_length": 142, "max_position_embeddings": MAXPOS, "min_length": MIN_LENGTH, "model_type": "bart",
        "no_repeat_ngram_size": 3, "normalize_before": False, "normalize_embedding": True, "num_beams": 4,
        "num_hidden_layers": ENC_L, "output_past": True, "pad_token_id": PAD, "prefix": " ", "replacing_rate": 0,
        "scale_embedding": False, "static_position_embeddings": False, "student_decoder_layers": None,
        "student_encoder_layers": None, "task_specific_params": {"summarization": summ},
        "transformers_version": "4.33.0.dev0", "use_cache": True, "vocab_size": V})
    write_json(os.path.join(out, "generation_config.json"), gen_config())
    with open(os.path.join(out, "README.md"), "w") as f:
        f.write(f"""# hub-bart-cnn (test fixture, random weights, seed {SEED})

Replica of the file layout of `Xenova/distilbart-cnn-6-6` (BART summarization): `onnx/encoder_model.onnx`, the
Optimum If-merged `onnx/decoder_model_merged.onnx` (`use_cache_branch`; the with-past branch was traced with one
new token and has no self-attention mask, so several new tokens per with-past pass are not causal, as in the real
file) and their q8 files `onnx/encoder_model_quantized.onnx`, `onnx/decoder_model_merged_quantized.onnx`,
`config.json` / `generation_config.json` as sshleifer/distilbart-cnn-6-6 declares them (`no_repeat_ngram_size` 3,
`max_length` 142, `length_penalty` 2.0, `num_beams` 4, `early_stopping` true, `forced_bos_token_id` 0,
`forced_eos_token_id` 2, `decoder_start_token_id` 2, `task_specific_params.summarization`) EXCEPT
**`min_length` {MIN_LENGTH}, scaled down from 56** (everywhere it occurs) so that the boundary is visible within
12 generated tokens. A byte-level BPE `tokenizer.json` in BART/RoBERTa's layout (`<s>` 0, `<pad>` 1, `</s>` 2,
`<unk>` 3, ByteLevel pre-tokenizer with add_prefix_space false, RobertaProcessing `<s> $A </s>`, `<mask>` = {V} =
config vocab_size, one past the logits, as 50264 in the real repo) + `tokenizer_config.json` (BartTokenizer).
BART maths: learned positions (offset 2, max_position_embeddings {MAXPOS}), scale_embedding false,
layernorm_embedding, post-LN, GELU, tied lm_head + final_logits_bias. d_model {D}, {H} heads, ffn {FFN},
{ENC_L}+{DEC_L} layers, vocab {V}. final_logits_bias[</s>] carries +{EOS_BIAS} so that </s> is the raw argmax early
and min_length has something to suppress.

transformers.js (greedy, `max_new_tokens` 12, so generate() sets max_length = 1 + 12 = 13) applies, in order,
NoRepeatNGram(3), MinLength({MIN_LENGTH}: </s> suppressed while the decoder ids, decoder_start included, number fewer
than {MIN_LENGTH}, i.e. for the first {MIN_LENGTH - 1} generated tokens), ForcedBOS(0) at the first step, ForcedEOS(2)
when the decoder ids number 12, i.e. the 12th generated token IS forced to </s> (the 142 of generation_config is
overridden by max_new_tokens). `torchref` replays this in PyTorch, records per step the raw argmax and which
processor changed it (`reference.json.pytorch.prompts[].processor_effects`), and fails unless transformers.js's
fp32 greedy ids start with the forced <s>, have no </s> before token {MIN_LENGTH}, and repeat no 3-gram. Outputs
are noise. Made by `models/recipes/hub_replicas/make_bartcnn.py`; `reference.json` by `reference.mjs` + `torchref`.
""")
    print("vocab", V, "mask", V, "params", sum(p.numel() for p in model.parameters()))
    for n, s in file_sizes(out):
        print(f"  {s:9d}  {n}")


def processed_scores(row, seq, max_len):
    """transformers.js 4.3.1's processors for this generation_config, in _get_logits_processor's order:
    NoRepeatNGram(3), MinLength(min_length, eos), ForcedBOS(0), ForcedEOS(max_length, eos). `seq` = decoder ids so
    far (decoder_start first), as transformers.js counts them; max_len = 1 + max_new_tokens (generate() overrides
    generation_config.max_length with input length + max_new_tokens). Returns the scores and the processors that
    changed the argmax."""
    s = row.clone()
    fired = []
    raw = int(torch.argmax(s))
    n = 3
    if len(seq) + 1 >= n:
        prefix = tuple(seq[len(seq) + 1 - n:])
        for j in range(len(seq) + 1 - n):
            if tuple(seq[j:j + n - 1]) == prefix:
                s[seq[j + n - 1]] = -float("inf")
        if int(torch.argmax(s)) != raw:
            fired.append("no_repeat_ngram")
    if len(seq) < MIN_LENGTH:
        before = int(torch.argmax(s))
        s[EOS] = -float("inf")
        if int(torch.argmax(s)) != before:
            fired.append("min_length")
    if len(seq) == 1:
        s[:] = -float("inf")
        s[BOS] = 0
        if raw != BOS:
            fired.append("forced_bos")
    if len(seq) == max_len - 1:
        s[:] = -float("inf")
        s[EOS] = 0
        fired.append("forced_eos")
    return s, fired


@torch.no_grad()
def torchref(out):
    """Recompute in PyTorch what reference.json says transformers.js produced for the fp32 files: greedy (no cache)
    with transformers.js's logits processors for this generation_config, then the raw logits of one forward pass."""
    model = make_model()
    ref = read_json(os.path.join(out, "reference.json"))
    assert read_json(os.path.join(out, "generation_config.json")) == gen_config()
    fp32 = ref["dtypes"]["fp32"]
    max_len = 1 + ref["generate_options"]["max_new_tokens"]
    worst, worst_lp, same, pts = 0.0, 0.0, True, []
    for p in fp32["prompts"]:
        ids = torch.tensor([p["input_ids"]])
        am = torch.ones_like(ids)
        enc = model.encode(ids, am)
        seq, effects = [EOS], []
        while len(seq) < max_len:
            lg, _ = model.decode(torch.tensor([seq]), enc, am)
            s, fired = processed_scores(lg[0, -1], seq, max_len)
            nxt = int(torch.argmax(s))
            effects.append({"step": len(seq) - 1, "raw_argmax": int(torch.argmax(lg[0, -1])), "chosen": nxt,
                            "changed_by": fired})
            seq.append(nxt)
            if nxt == EOS:
                break
        greedy = seq[1:]
        same &= greedy == p["greedy_ids"]
        lg, _ = model.decode(torch.tensor([[EOS] + p["greedy_ids"]]), enc, am)
        steps, w, wl = reference_steps([lg[0, s_i] for s_i in range(len(p["steps"]))], p["steps"])
        worst, worst_lp = max(worst, w), max(worst_lp, wl)
        # the processors' visible effects on transformers.js's greedy ids
        g = p["greedy_ids"]
        tri = [tuple(([EOS] + g)[j:j + 3]) for j in range(len(g) - 1)]
        checks = {"first_is_forced_bos": g[:1] == [BOS],
                  "no_eos_before_min_length": EOS not in g[:MIN_LENGTH - 1],
                  "no_repeated_3gram": len(tri) == len(set(tri)),
                  "eos_at": g.index(EOS) if EOS in g else None}
        print(p["text"][:40], g, checks, [e for e in effects if e["changed_by"]])
        pts.append({"text": p["text"], "greedy_ids": greedy, "steps": steps, "processor_effects": effects,
                    "checks_on_transformersjs_greedy": checks})
        same &= checks["first_is_forced_bos"] and checks["no_eos_before_min_length"] and checks["no_repeated_3gram"]
    finish_torchref(out, ref, pts, same, worst, worst_lp, attention(model, fp32["prompts"][0], EOS))


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
    out = os.path.abspath(sys.argv[2] if len(sys.argv) > 2 else os.path.join(ROOT, "test", "fixtures", "hub-bart-cnn"))
    build(out) if cmd == "build" else torchref(out)
