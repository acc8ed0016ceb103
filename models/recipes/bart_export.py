#!/usr/bin/python3
"""Exports a BART checkpoint to the Hugging Face Optimum ONNX layout that transformers.js and the extension load,
with config.json / generation_config.json / tokenizer files and a PyTorch reference.json, and builds the tiny
random-weight test fixture (merged + older split layout).

  train_bart.py export  CKPT OUT_DIR WORK_DIR      OUT_DIR/onnx/{encoder_model,decoder_model_merged}.onnx, configs,
                                                  tokenizer, reference.json; WORK_DIR/bart_step_logits.json (raw
                                                  per-step logits for the Node checks), bart_export_report.json
  train_bart.py fixture TOKENIZER_DIR OUT_DIR WORK_DIR   the same for random weights (seed 7, tiny dims), plus
                                                  onnx/decoder_model.onnx and decoder_with_past_model.onnx

reference.json (PyTorch greedy ids, top-5 log-probs, attention maps) is computed in PyTorch, never via ONNX.
"""
import json
import os
import sys

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import data_seq2seq as D  # noqa: E402
from bart_model import (DECODER_START, DEFAULT_CFG, BartForConditionalGeneration, greedy, load_ckpt,  # noqa: E402
                        n_params)
from seq2seq_common import (copy_tokenizer, encode_src, graph_summary, load_tok, seed_all,  # noqa: E402
                            set_static_dims, strip_initializer_prefix)

# -----------------------------------------------------------------------------------------------------------------
# config
OPSET = 14
REF_SOURCES = ["translate English to German: Open file", "translate English to French: Save changes?",
               "translate English to Spanish: Open file", "translate English to German: Save changes?",
               "summarize: GNU Wget is a free utility for non-interactive download of files from the Web. It "
               "supports HTTP, HTTPS and FTP protocols, as well as retrieval through HTTP proxies."]
FIXTURE_CFG = dict(d_model=32, encoder_layers=2, decoder_layers=2, encoder_attention_heads=4, decoder_attention_heads=4,
                   encoder_ffn_dim=64, decoder_ffn_dim=64, max_position_embeddings=64, dropout=0.0, init_std=0.5)
# -----------------------------------------------------------------------------------------------------------------


class EncoderWrap(nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, input_ids, attention_mask):
        return self.m.model.encoder(input_ids, attention_mask)


class DecoderMergedWrap(nn.Module):
    """decoder_model_merged without an If node. The past encoder K/V inputs are always used:
    cross = concat([past_enc, fresh_enc_from_encoder_hidden_states], seq)[:, :, :S] with S = encoder length, i.e.
    the past encoder K/V when given (length S), else the fresh projection (first step, past length 0)."""

    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, input_ids, encoder_attention_mask, encoder_hidden_states, *pkv):
        dec = self.m.model.decoder
        L = len(dec.layers)
        S = encoder_hidden_states.shape[1]
        fresh = dec.cross_kv(encoder_hidden_states)
        past, cross = [], []
        for i in range(L):
            dk, dv, ek, ev = pkv[4 * i:4 * i + 4]
            past.append((dk, dv))
            cross.append((torch.cat([ek, fresh[i][0]], dim=2)[:, :, :S], torch.cat([ev, fresh[i][1]], dim=2)[:, :, :S]))
        h, presents = dec(input_ids, encoder_attention_mask, past, cross)
        out = [self.m.lm_logits(h)]
        for i in range(L):
            out += [presents[i][0], presents[i][1], cross[i][0], cross[i][1]]
        return tuple(out)


class DecoderNoPastWrap(nn.Module):
    """Older split layout: onnx/decoder_model.onnx (first step, no past inputs)."""

    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, input_ids, encoder_attention_mask, encoder_hidden_states):
        dec = self.m.model.decoder
        cross = dec.cross_kv(encoder_hidden_states)
        h, presents = dec(input_ids, encoder_attention_mask, None, cross)
        out = [self.m.lm_logits(h)]
        for i in range(len(dec.layers)):
            out += [presents[i][0], presents[i][1], cross[i][0], cross[i][1]]
        return tuple(out)


class DecoderWithPastWrap(nn.Module):
    """Older split layout: onnx/decoder_with_past_model.onnx (past inputs; outputs present.*.decoder only)."""

    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, input_ids, encoder_attention_mask, *pkv):
        dec = self.m.model.decoder
        L = len(dec.layers)
        past = [(pkv[4 * i], pkv[4 * i + 1]) for i in range(L)]
        cross = [(pkv[4 * i + 2], pkv[4 * i + 3]) for i in range(L)]
        h, presents = dec(input_ids, encoder_attention_mask, past, cross)
        out = [self.m.lm_logits(h)]
        for i in range(L):
            out += [presents[i][0], presents[i][1]]
        return tuple(out)


def _pkv_names(L, prefix, kinds=("decoder", "encoder")):
    names = []
    for i in range(L):
        for k in kinds:
            names += [f"{prefix}.{i}.{k}.key", f"{prefix}.{i}.{k}.value"]
    return names


def _ordered_pkv_names(L, prefix):
    # order matches the wrappers: dec.key, dec.value, enc.key, enc.value per layer
    return _pkv_names(L, prefix)


def export_onnx(model, out_dir, split_layout=False):
    os.makedirs(os.path.join(out_dir, "onnx"), exist_ok=True)
    model.eval()
    model.set_capture(False)
    c = model.cfg
    L = c["decoder_layers"]
    H = c["decoder_attention_heads"]
    hd = c["d_model"] // H
    B, S, T, P = 2, 7, 3, 5
    ids = torch.randint(4, c["vocab_size"], (B, S))
    am = torch.ones(B, S, dtype=torch.long)
    am[1, 5:] = 0
    onnx_dir = os.path.join(out_dir, "onnx")
    with torch.no_grad():
        torch.onnx.export(EncoderWrap(model), (ids, am), os.path.join(onnx_dir, "encoder_model.onnx"),
                          input_names=["input_ids", "attention_mask"], output_names=["last_hidden_state"],
                          dynamic_axes={"input_ids": {0: "batch_size", 1: "encoder_sequence_length"},
                                        "attention_mask": {0: "batch_size", 1: "encoder_sequence_length"},
                                        "last_hidden_state": {0: "batch_size", 1: "encoder_sequence_length"}},
                          opset_version=OPSET, do_constant_folding=False)
        enc = model.model.encoder(ids, am)
        dids = torch.randint(4, c["vocab_size"], (B, T))
        pkv = []
        for i in range(L):
            pkv += [torch.randn(B, H, P, hd), torch.randn(B, H, P, hd), torch.randn(B, H, S, hd), torch.randn(B, H, S, hd)]
        in_names = ["input_ids", "encoder_attention_mask", "encoder_hidden_states"] + _ordered_pkv_names(L, "past_key_values")
        out_names = ["logits"] + _ordered_pkv_names(L, "present")
        dyn = {"input_ids": {0: "batch_size", 1: "decoder_sequence_length"},
               "encoder_attention_mask": {0: "batch_size", 1: "encoder_sequence_length"},
               "encoder_hidden_states": {0: "batch_size", 1: "encoder_sequence_length"},
               "logits": {0: "batch_size", 1: "decoder_sequence_length"}}
        for i in range(L):
            for kv in ("key", "value"):
                dyn[f"past_key_values.{i}.decoder.{kv}"] = {0: "batch_size", 2: "past_decoder_sequence_length"}
                dyn[f"past_key_values.{i}.encoder.{kv}"] = {0: "batch_size", 2: "encoder_sequence_length_out"}
                dyn[f"present.{i}.decoder.{kv}"] = {0: "batch_size", 2: "past_decoder_sequence_length + 1"}
                dyn[f"present.{i}.encoder.{kv}"] = {0: "batch_size", 2: "encoder_sequence_length_out"}
        torch.onnx.export(DecoderMergedWrap(model), (dids, am, enc, *pkv),
                          os.path.join(onnx_dir, "decoder_model_merged.onnx"), input_names=in_names,
                          output_names=out_names, dynamic_axes=dyn, opset_version=OPSET, do_constant_folding=False)
        if split_layout:
            dyn1 = {k: v for k, v in dyn.items() if not k.startswith("past_key_values")}
            for i in range(L):
                for kv in ("key", "value"):
                    dyn1[f"present.{i}.decoder.{kv}"] = {0: "batch_size", 2: "decoder_sequence_length"}
                    dyn1[f"present.{i}.encoder.{kv}"] = {0: "batch_size", 2: "encoder_sequence_length"}
            torch.onnx.export(DecoderNoPastWrap(model), (dids, am, enc), os.path.join(onnx_dir, "decoder_model.onnx"),
                              input_names=in_names[:3], output_names=out_names, dynamic_axes=dyn1,
                              opset_version=OPSET, do_constant_folding=False)
            dyn2 = {k: v for k, v in dyn.items() if k != "encoder_hidden_states" and not k.startswith("present")}
            for i in range(L):
                for kv in ("key", "value"):
                    dyn2[f"present.{i}.decoder.{kv}"] = {0: "batch_size", 2: "past_decoder_sequence_length + 1"}
            out2 = ["logits"] + _pkv_names(L, "present", ("decoder",))
            torch.onnx.export(DecoderWithPastWrap(model), (dids, am, *pkv),
                              os.path.join(onnx_dir, "decoder_with_past_model.onnx"),
                              input_names=["input_ids", "encoder_attention_mask"] + _ordered_pkv_names(L, "past_key_values"),
                              output_names=out2, dynamic_axes=dyn2, opset_version=OPSET, do_constant_folding=False)
    model.eval()  # torch.onnx.export restores the (train-mode) wrapper's mode recursively
    fixes = {f"present.{i}.{k}.{kv}": {1: H, 3: hd} for i in range(L) for k in ("decoder", "encoder")
             for kv in ("key", "value")}
    fixes["logits"] = {2: c["vocab_size"]}
    fixes["last_hidden_state"] = {2: c["d_model"]}
    for fn in os.listdir(onnx_dir):
        set_static_dims(os.path.join(onnx_dir, fn), fixes)
        strip_initializer_prefix(os.path.join(onnx_dir, fn))
    return {fn: graph_summary(os.path.join(onnx_dir, fn), ("softmax_axes",)) for fn in sorted(os.listdir(onnx_dir))}


def write_configs(model, out_dir, tok_dir, extra=None):
    c = model.cfg
    cfg = {
        "_name_or_path": os.path.basename(out_dir.rstrip("/")),
        "model_type": "bart", "architectures": ["BartForConditionalGeneration"],
        "vocab_size": c["vocab_size"], "d_model": c["d_model"], "encoder_layers": c["encoder_layers"],
        "decoder_layers": c["decoder_layers"], "encoder_attention_heads": c["encoder_attention_heads"],
        "decoder_attention_heads": c["decoder_attention_heads"], "encoder_ffn_dim": c["encoder_ffn_dim"],
        "decoder_ffn_dim": c["decoder_ffn_dim"], "max_position_embeddings": c["max_position_embeddings"],
        "activation_function": "gelu", "normalize_before": bool(c.get("normalize_before")),
        "add_final_layer_norm": bool(c.get("normalize_before")),
        "scale_embedding": False, "tie_word_embeddings": True, "is_encoder_decoder": True, "use_cache": True,
        "dropout": c["dropout"], "attention_dropout": c["dropout"], "activation_dropout": 0.0, "init_std": c["init_std"],
        "pad_token_id": D.PAD, "bos_token_id": D.BOS, "eos_token_id": D.EOS, "decoder_start_token_id": DECODER_START,
        "forced_eos_token_id": D.EOS, "unk_token_id": D.UNK, "num_hidden_layers": c["encoder_layers"],
        "task_specific_params": D.task_specific_params(),
        "transformers_version": "4.46.0",
        "_comment": ("decoder_start_token_id is 2 (</s>) as in BART: the decoder input is </s> followed by the target; "
                     "encoder input is <s> tokens </s> (tokenizer post_processor RobertaProcessing). "
                     "onnx/decoder_model_merged.onnx has no use_cache_branch/If node: it always uses its "
                     "past_key_values.*.encoder.* inputs when they have the encoder length and computes cross K/V "
                     "from encoder_hidden_states when they are empty (first step)."),
    }
    if extra:
        cfg.update(extra)
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    gen = {"_from_model_config": True, "bos_token_id": D.BOS, "eos_token_id": D.EOS, "pad_token_id": D.PAD,
           "decoder_start_token_id": DECODER_START, "forced_eos_token_id": D.EOS, "max_length": 64,
           "num_beams": 1, "transformers_version": "4.46.0"}
    with open(os.path.join(out_dir, "generation_config.json"), "w") as f:
        json.dump(gen, f, indent=2)
    copy_tokenizer(tok_dir, out_dir, c["max_position_embeddings"])


@torch.no_grad()
def make_reference(model, tok, name, out_path, sources=REF_SOURCES, attn_source=None, max_len=256):
    model.eval()
    ex = []
    for src in sources:
        ids = encode_src(tok, src, max_len)
        x = torch.tensor([ids])
        outs, scores = greedy(model, x, torch.ones_like(x), 30, want_scores=True)
        g = outs[0]
        top5 = []
        for s in scores[:5]:
            v, i = s[0].topk(5)
            top5.append([{"id": int(a), "logprob": float(b)} for a, b in zip(i, v)])
        ex.append({"source": src, "input_ids": ids, "decoder_start_token_id": DECODER_START, "greedy_ids": g,
                   "greedy_text": tok.decode([t for t in g if t > 3]).strip(), "top5": top5})
    attn_source = attn_source or sources[0]
    ids = encode_src(tok, attn_source, max_len)
    x = torch.tensor([ids])
    g = greedy(model, x, torch.ones_like(x), 30)[0]
    dec_in = [DECODER_START] + g
    model.set_capture(True)
    model(x, torch.ones_like(x), torch.tensor([dec_in]))
    enc = [l.self_attn.last_probs[0].tolist() for l in model.model.encoder.layers]
    dec = [l.self_attn.last_probs[0].tolist() for l in model.model.decoder.layers]
    crs = [l.encoder_attn.last_probs[0].tolist() for l in model.model.decoder.layers]
    model.set_capture(False)
    r4 = lambda a: json.loads(json.dumps(a), parse_float=lambda s: round(float(s), 6))  # noqa: E731
    ref = {"model": name, "examples": ex,
           "attention": {"source": attn_source, "input_ids": ids, "decoder_input_ids": dec_in,
                         "encoder": r4(enc), "decoder": r4(dec), "cross": r4(crs)}}
    with open(out_path, "w") as f:
        json.dump(ref, f, ensure_ascii=False)
    return ref


@torch.no_grad()
def dump_step_logits(model, tok, sources, out_path, steps=30, max_len=256):
    """Per-step logits of the greedy KV-cache run (PyTorch), for the ONNX/Node parity checks (scratch file)."""
    res = []
    for src in sources:
        ids = encode_src(tok, src, max_len)
        x = torch.tensor([ids])
        outs, scores = greedy(model, x, torch.ones_like(x), steps, want_scores=True)
        # recompute raw logits per step (not log-softmax)
        enc = model.model.encoder(x, torch.ones_like(x))
        cross = model.model.decoder.cross_kv(enc)
        cur = torch.tensor([[DECODER_START]])
        past = None
        lgs = []
        for t in outs[0]:
            h, past = model.model.decoder(cur, torch.ones_like(x), past, cross)
            lgs.append(model.lm_logits(h[:, -1])[0].tolist())
            cur = torch.tensor([[t]])
        res.append({"source": src, "input_ids": ids, "greedy_ids": outs[0], "logits": lgs})
    with open(out_path, "w") as f:
        json.dump(res, f)


def cmd_export(ckpt, out_dir, work_dir):
    model, ck = load_ckpt(ckpt)
    tok_dir = os.path.join(os.path.dirname(ckpt), "tokenizer")
    tok = load_tok(tok_dir)
    os.makedirs(out_dir, exist_ok=True)
    rep = export_onnx(model, out_dir)
    write_configs(model, out_dir, tok_dir)
    make_reference(model, tok, "bart-translate-summarize", os.path.join(out_dir, "reference.json"))
    dump_step_logits(model, tok, REF_SOURCES, os.path.join(work_dir, "bart_step_logits.json"))
    rep["params"] = n_params(model)
    rep["train_step"] = ck["step"]
    rep["train_minutes"] = ck["minutes"]
    with open(os.path.join(work_dir, "bart_export_report.json"), "w") as f:
        json.dump(rep, f, indent=1)
    print(json.dumps(rep, indent=1))


def cmd_fixture(tok_dir, out_dir, work_dir):
    seed_all(7)
    tok = load_tok(tok_dir)
    cfg = dict(DEFAULT_CFG, vocab_size=len(tok), **FIXTURE_CFG)
    model = BartForConditionalGeneration(cfg)
    # scaled init so logits/attentions are not flat: larger weights, keep LayerNorms default
    with torch.no_grad():
        model.model.shared.weight.normal_(0, 1.0)
        model.final_logits_bias.normal_(0, 1.0)
    model.eval()
    os.makedirs(out_dir, exist_ok=True)
    rep = export_onnx(model, out_dir, split_layout=True)
    write_configs(model, out_dir, tok_dir, {"_comment": "Random weights (seed 7), test fixture only: "
                                            "same architecture as models/bart-translate-summarize, tiny dims. "
                                            "Exported in the merged layout and the older split layout."})
    make_reference(model, tok, "tiny-bart-random", os.path.join(out_dir, "reference.json"),
                   sources=REF_SOURCES[:3] + [REF_SOURCES[4]], max_len=64)
    dump_step_logits(model, tok, REF_SOURCES[:3] + [REF_SOURCES[4]], os.path.join(work_dir, "tiny_step_logits.json"),
                     max_len=64)
    rep["params"] = n_params(model)
    with open(os.path.join(out_dir, "README.md"), "w") as f:
        f.write("# tiny-bart-random (test fixture)\n\nRandom weights (seed 7, scaled init so logits and attentions are "
                "not flat), same PyTorch BART class as `models/bart-translate-summarize` with tiny dims (d_model 32, "
                "2+2 layers, 4 heads, FFN 64, 64 positions) and that model's tokenizer (6000 tokens). Generates "
                "nonsense. Exported both in the merged layout (`onnx/encoder_model.onnx` + "
                "`onnx/decoder_model_merged.onnx`) and in the older split layout (`onnx/decoder_model.onnx`: no past "
                "inputs, outputs logits + all `present.*`; `onnx/decoder_with_past_model.onnx`: inputs `input_ids`, "
                "`encoder_attention_mask`, all `past_key_values.*`, outputs logits + `present.{i}.decoder.*`). "
                "`reference.json` holds PyTorch greedy ids (30 steps; transformers.js forces `</s>` at the 30th new "
                "token because of `forced_eos_token_id`), top-5 log-probs and attention maps. Made by "
                "`models/recipes/train_bart.py fixture` (see `models/recipes/make_seq2seq.sh`).\n")
    with open(os.path.join(work_dir, "tiny_export_report.json"), "w") as f:
        json.dump(rep, f, indent=1)
    print(json.dumps(rep, indent=1))

