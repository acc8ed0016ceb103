#!/usr/bin/python3
"""Held-out metrics of a GRU checkpoint in PyTorch (greedy decoding, batches of 64): chrF/BLEU against the
copy-source baseline per language, and the fixed samples the card shows:
`train_rnn.py evaluate CKPT DATA_DIR OUT_JSON` (EVAL_N test pairs per language, default 300).
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import data_seq2seq as D  # noqa: E402
from rnn_model import TASKS, greedy, load_ckpt  # noqa: E402
from seq2seq_common import FIXED_SOURCES, load_tok, score_tasks, translate_texts  # noqa: E402

BATCH = 64


def cmd_evaluate(ckpt, data_dir, out_json, n_per_task=300):
    model, ck = load_ckpt(ckpt)
    tok = load_tok(os.path.join(os.path.dirname(ckpt), "tokenizer"))

    def translate(srcs, task, max_src=model.cfg["max_source_length"], max_new=64):
        return translate_texts(model, greedy, tok, srcs, max_src, max_new, BATCH)

    rows = D.load_jsonl(os.path.join(data_dir, "test.jsonl"))
    res = {"checkpoint_step": ck["step"], "train_minutes": ck["minutes"], "n_per_task": n_per_task}
    res["tasks"], res["samples"] = score_tasks(translate, rows, TASKS, n_per_task)
    outs = translate(FIXED_SOURCES, None, 96, 30)
    res["fixed_samples"] = [{"source": s, "output": o} for s, o in zip(FIXED_SOURCES, outs)]
    for x in res["fixed_samples"]:
        print(x)
    with open(out_json, "w") as f:
        json.dump(res, f, indent=1, ensure_ascii=False)
