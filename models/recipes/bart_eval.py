#!/usr/bin/python3
"""Held-out metrics of a BART checkpoint in PyTorch (greedy decoding, batches of 32):
`train_bart.py evaluate CKPT DATA_DIR OUT_JSON` (EVAL_N test pairs per task, default 300).

chrF/BLEU against the copy-source baseline per language, ROUGE against the first-sentence baseline for
summarization (seq2seq_metrics.py), the desktop-catalog test strings when DATA_DIR has desktop_test.jsonl, and the
fixed samples the card shows. The engine's own decoding is scored by `train_bart.py metrics` / `tuning` instead.
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import data_seq2seq as D  # noqa: E402
from bart_data import MAX_SRC  # noqa: E402
from bart_model import greedy, load_ckpt  # noqa: E402
from seq2seq_common import FIXED_SOURCES, load_tok, score_tasks, translate_texts  # noqa: E402

BATCH = 32


def cmd_evaluate(ckpt, data_dir, out_json, n_per_task=300):
    model, ck = load_ckpt(ckpt)
    tok = load_tok(os.path.join(os.path.dirname(ckpt), "tokenizer"))

    def translate(srcs, task, max_src=None, max_new=None):
        max_src = max_src or MAX_SRC.get(task, 96)
        max_new = max_new or (48 if task == "sum" else 64)
        return translate_texts(model, greedy, tok, srcs, max_src, max_new, BATCH)

    rows = D.load_jsonl(os.path.join(data_dir, "test.jsonl"))
    res = {"checkpoint_step": ck["step"], "train_minutes": ck["minutes"], "n_per_task": n_per_task}
    res["tasks"], res["samples"] = score_tasks(translate, rows, ["de", "fr", "es", "sum"], n_per_task)
    desktop_test = os.path.join(data_dir, "desktop_test.jsonl")
    if os.path.exists(desktop_test):  # held-out strings of the desktop-application catalogs (DESKTOP=1 data)
        res["desktop"], samples = score_tasks(translate, D.load_jsonl(desktop_test), ["de", "fr", "es"], n_per_task,
                                              prefix="desktop_")
        res["samples"].update(samples)
    outs = translate(FIXED_SOURCES, None, 96, 30)
    sm = [r for r in rows if r["task"] == "sum"][:3]
    outs_s = translate([r["src"] for r in sm], "sum", 128, 48)
    res["fixed_samples"] = [{"source": s, "output": o} for s, o in zip(FIXED_SOURCES, outs)] + \
        [{"source": r["src"], "reference": r["tgt"], "output": o} for r, o in zip(sm, outs_s)]
    for x in res["fixed_samples"]:
        print(x)
    with open(out_json, "w") as f:
        json.dump(res, f, indent=1, ensure_ascii=False)
