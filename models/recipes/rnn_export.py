#!/usr/bin/python3
"""Exports a GRU checkpoint: onnx/encoder.onnx and onnx/decoder_step.onnx (one greedy/beam step with the step's
attention row as an output; layout in config.json under `onnx`), config.json, generation_config.json, the tokenizer
files and a PyTorch reference.json (greedy ids, top-5 log-probs, one alignment matrix):
`train_rnn.py export CKPT OUT_DIR WORK_DIR` (also WORK_DIR/rnn_step_logits.json for the Node checks and
rnn_export_report.json for the card).
"""
import json
import os
import sys

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import data_seq2seq as D  # noqa: E402
from rnn_model import START, greedy, load_ckpt, n_params  # noqa: E402
from seq2seq_common import (NEG, copy_tokenizer, encode_src, graph_summary, load_tok, pad_batch,  # noqa: E402
                            set_static_dims, strip_initializer_prefix)

# -----------------------------------------------------------------------------------------------------------------
# config
OPSET = 14
REF_SOURCES = ["translate English to German: Open file", "translate English to French: Open file",
               "translate English to Spanish: Open file", "translate English to German: Save changes?",
               "translate English to French: Save changes?", "translate English to Spanish: Save changes?"]
ALIGNMENT_SOURCE = "translate English to German: Save changes to the document before closing?"
# -----------------------------------------------------------------------------------------------------------------


class EncWrap(nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, input_ids, attention_mask):
        return self.m.encode(input_ids, attention_mask)


class StepWrap(nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, input_ids, state, encoder_outputs, attention_mask):
        keys = self.m.attn_W_h(encoder_outputs)
        mask_add = (1.0 - attention_mask.to(encoder_outputs.dtype)) * NEG
        pre, s, alpha = self.m.step(input_ids[:, 0], state, encoder_outputs, keys, mask_add)
        return self.m.logits(pre), s, alpha


ONNX_DOC = {
    "encoder": {"file": "onnx/encoder.onnx",
                "inputs": {"input_ids": ["batch_size", "source_length"], "attention_mask": ["batch_size", "source_length"]},
                "outputs": {"encoder_outputs": ["batch_size", "source_length", "2*hidden_size"],
                            "decoder_initial_state": ["batch_size", "hidden_size"]}},
    "decoder_step": {"file": "onnx/decoder_step.onnx",
                     "inputs": {"input_ids": ["batch_size", 1], "state": ["batch_size", "hidden_size"],
                                "encoder_outputs": ["batch_size", "source_length", "2*hidden_size"],
                                "attention_mask": ["batch_size", "source_length"]},
                     "outputs": {"logits": ["batch_size", "vocab_size"], "state_out": ["batch_size", "hidden_size"],
                                 "attention": ["batch_size", "source_length"]},
                     "notes": "one greedy/beam step: feed the previous token (decoder_start_token_id first) and the "
                              "previous state (decoder_initial_state first); `attention` is the step's alpha over "
                              "source positions (sums to 1, zeros at padding)."},
}


def cmd_export(ckpt, out_dir, work_dir):
    model, ck = load_ckpt(ckpt)
    c = model.cfg
    tok_dir = os.path.join(os.path.dirname(ckpt), "tokenizer")
    tok = load_tok(tok_dir)
    os.makedirs(os.path.join(out_dir, "onnx"), exist_ok=True)
    # padding sanity check: batched+padded == single
    a = encode_src(tok, "translate English to German: Open file", 96)
    b = encode_src(tok, "translate English to French: Save all changes before closing?", 96)
    ids, am = pad_batch([a, b])
    with torch.no_grad():
        e2, s2 = model.encode(ids, am)
        e1, s1 = model.encode(torch.tensor([a]), torch.ones(1, len(a), dtype=torch.long))
    assert (e2[0, :len(a)] - e1[0]).abs().max() < 1e-5 and (s2[0] - s1[0]).abs().max() < 1e-5
    with torch.no_grad():
        torch.onnx.export(EncWrap(model), (ids, am), os.path.join(out_dir, "onnx/encoder.onnx"),
                          input_names=["input_ids", "attention_mask"],
                          output_names=["encoder_outputs", "decoder_initial_state"],
                          dynamic_axes={"input_ids": {0: "batch_size", 1: "source_length"},
                                        "attention_mask": {0: "batch_size", 1: "source_length"},
                                        "encoder_outputs": {0: "batch_size", 1: "source_length"},
                                        "decoder_initial_state": {0: "batch_size"}},
                          opset_version=OPSET, do_constant_folding=False)
        prev = torch.tensor([[START], [START]])
        torch.onnx.export(StepWrap(model), (prev, s2, e2, am), os.path.join(out_dir, "onnx/decoder_step.onnx"),
                          input_names=["input_ids", "state", "encoder_outputs", "attention_mask"],
                          output_names=["logits", "state_out", "attention"],
                          dynamic_axes={"input_ids": {0: "batch_size"}, "state": {0: "batch_size"},
                                        "encoder_outputs": {0: "batch_size", 1: "source_length"},
                                        "attention_mask": {0: "batch_size", 1: "source_length"},
                                        "logits": {0: "batch_size"}, "state_out": {0: "batch_size"},
                                        "attention": {0: "batch_size", 1: "source_length"}},
                          opset_version=OPSET, do_constant_folding=False)
    model.eval()  # torch.onnx.export restores the (train-mode) wrapper's mode recursively
    fixes = {"encoder_outputs": {2: 2 * c["hidden_size"]}, "decoder_initial_state": {1: c["hidden_size"]},
             "state": {1: c["hidden_size"]}, "state_out": {1: c["hidden_size"]}, "logits": {1: c["vocab_size"]}}
    for fn in ("encoder.onnx", "decoder_step.onnx"):
        set_static_dims(os.path.join(out_dir, "onnx", fn), fixes)
        strip_initializer_prefix(os.path.join(out_dir, "onnx", fn))
    tsp = {k: v for k, v in D.task_specific_params().items() if k.startswith("translation")}
    cfg = {"model_type": "rnn-attention-seq2seq", "architectures": ["Seq2SeqAttentionGRU"],
           "vocab_size": c["vocab_size"], "embedding_dim": c["embedding_dim"], "hidden_size": c["hidden_size"],
           "encoder_hidden_size": 2 * c["hidden_size"], "attention_dim": c["attention_dim"],
           "encoder": "bidirectional GRU (1 layer)", "decoder": "GRU (1 layer) with additive (Bahdanau) attention",
           "attention_type": "additive", "max_source_length": c["max_source_length"],
           "teacher_forcing_ratio": c["teacher_forcing_ratio"],
           "pad_token_id": D.PAD, "bos_token_id": D.BOS, "eos_token_id": D.EOS, "unk_token_id": D.UNK,
           "decoder_start_token_id": START, "is_encoder_decoder": True,
           "task_specific_params": tsp, "onnx": ONNX_DOC,
           "_comment": "Encoder input is <s> tokens </s> (tokenizer.json post_processor adds them); decoding starts "
                       "from decoder_start_token_id 0 (<s>) and stops at </s> (2)."}
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    with open(os.path.join(out_dir, "generation_config.json"), "w") as f:
        json.dump({"bos_token_id": D.BOS, "eos_token_id": D.EOS, "pad_token_id": D.PAD,
                   "decoder_start_token_id": START, "max_length": 64, "num_beams": 1}, f, indent=2)
    copy_tokenizer(tok_dir, out_dir, c["max_source_length"])
    # reference (PyTorch)
    ex, steps = [], []
    for src in REF_SOURCES:
        ids1 = encode_src(tok, src, c["max_source_length"])
        x = torch.tensor([ids1])
        outs, lps, alphas, raw = greedy(model, x, torch.ones_like(x), 30, want=True)
        top5 = []
        for lp in lps[:5]:
            v, i = lp[0].topk(5)
            top5.append([{"id": int(p), "logprob": float(q)} for p, q in zip(i, v)])
        g = outs[0]
        ex.append({"source": src, "input_ids": ids1, "decoder_start_token_id": START, "greedy_ids": g,
                   "greedy_text": tok.decode([t for t in g if t > 3]).strip(), "top5": top5})
        steps.append({"source": src, "input_ids": ids1, "greedy_ids": g, "logits": [r[0].tolist() for r in raw],
                      "attention": [a[0].tolist() for a in alphas]})
    src = ALIGNMENT_SOURCE
    ids1 = encode_src(tok, src, c["max_source_length"])
    x = torch.tensor([ids1])
    outs, _, alphas, _ = greedy(model, x, torch.ones_like(x), 30, want=True)
    ref = {"model": "rnn-attention-seq2seq", "examples": ex,
           "attention": {"source": src, "input_ids": ids1, "decoder_input_ids": [START] + outs[0],
                         "alignment": [[round(float(v), 6) for v in a[0]] for a in alphas]}}
    with open(os.path.join(out_dir, "reference.json"), "w") as f:
        json.dump(ref, f, ensure_ascii=False)
    with open(os.path.join(work_dir, "rnn_step_logits.json"), "w") as f:
        json.dump(steps, f)
    rep = {"params": n_params(model), "train_step": ck["step"], "train_minutes": ck["minutes"]}
    for fn in ("encoder.onnx", "decoder_step.onnx"):
        rep[fn] = graph_summary(os.path.join(out_dir, "onnx", fn), ("op_types",))
    with open(os.path.join(work_dir, "rnn_export_report.json"), "w") as f:
        json.dump(rep, f, indent=1)
    print(json.dumps(rep, indent=1))
    for e in ex:
        print(e["source"], "->", e["greedy_text"])

