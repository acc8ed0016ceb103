#!/usr/bin/python3
"""The GRU recipe's data: the translation pairs of data_seq2seq.py (no summarization), encoded with the BART
recipe's tokenizer (`train_bart.py tokenizer`); for training only short UI strings (source <= MAX_SRC_TRAIN,
target <= MAX_TGT_TRAIN tokens: faster steps, and the extension's use case).
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import data_seq2seq as D  # noqa: E402
from rnn_model import TASKS  # noqa: E402
from seq2seq_common import encode_pairs, env_config  # noqa: E402

# -----------------------------------------------------------------------------------------------------------------
# config: defaults, overridden by environment variables of the same name
config = env_config(dict(
    MAX_SRC_TRAIN=40,  # training pairs: source tokens (with <s> and </s>) at most
    MAX_TGT_TRAIN=32,  # training pairs: target tokens (with </s>) at most
))
MAX_TGT = 80  # targets are cut to this many tokens (with </s>) before the filter
MAX_VALID = 600  # validation pairs
# -----------------------------------------------------------------------------------------------------------------


def encode_rows(tok, rows, max_src):
    """Encoded translation pairs [(source ids, target ids, task)], sources cut to max_src tokens."""
    rows = [r for r in rows if r["task"] in TASKS]
    return encode_pairs(tok, rows, {t: max_src for t in TASKS}, MAX_TGT)


def load_pairs(tok, data_dir, max_src):
    """Encoded (train, valid) pairs of a training run."""
    t0 = time.time()
    train = encode_rows(tok, D.load_jsonl(os.path.join(data_dir, "train.jsonl")), max_src)
    train = [x for x in train if len(x[0]) <= config["MAX_SRC_TRAIN"] and len(x[1]) <= config["MAX_TGT_TRAIN"]]
    valid = encode_rows(tok, D.load_jsonl(os.path.join(data_dir, "valid.jsonl")), max_src)[:MAX_VALID]
    print(f"encoded {len(train)} train / {len(valid)} valid in {time.time() - t0:.0f}s", flush=True)
    return train, valid
