#!/usr/bin/python3
"""The BART recipe's data: the byte-level BPE tokenizer (shared with the GRU) and the training mix of each stage.

The pairs themselves come from data_seq2seq.py (DATA_DIR/{train,valid,test}.jsonl, desktop_*.jsonl with DESKTOP=1).
A training run reads DATA_DIR/train.jsonl (+ desktop_train.jsonl with DESKTOP=1), keeps at most SUM_CAP
summarization pairs per description opening (SUM_CAP > 0), resamples the rows by the MIX table, and encodes them
with sources cut to MAX_SRC tokens (summarization 64, translation 96) and targets to MAX_TGT.
"""
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import data_seq2seq as D  # noqa: E402
from seq2seq_common import encode_pairs, env_config  # noqa: E402

# -----------------------------------------------------------------------------------------------------------------
# config: defaults, overridden by environment variables of the same name
config = env_config(dict(
    VOCAB_SIZE=6000,  # BPE vocabulary (`tokenizer`)
    MIX="all",  # training mix: a key of MIXES, or all (every row once)
    DESKTOP=0,  # 1: add the desktop-application catalogs (data_seq2seq.py run with DESKTOP=1)
    SUM_CAP=0,  # > 0: at most this many summarization pairs per description opening (package families)
))
MAX_SRC = {"de": 96, "fr": 96, "es": 96, "sum": 64}  # source tokens per task, for training and `evaluate`
MAX_TGT = 96  # target tokens (with </s>)
MAX_VALID = 600  # validation pairs
# -----------------------------------------------------------------------------------------------------------------

POST_PROCESSOR = {"type": "RobertaProcessing", "sep": ["</s>", 2], "cls": ["<s>", 0], "trim_offsets": True,
                  "add_prefix_space": False}


def tokenizer_config(max_len):
    return {"tokenizer_class": "BartTokenizer", "model_max_length": max_len, "bos_token": "<s>", "eos_token": "</s>",
            "sep_token": "</s>", "cls_token": "<s>", "unk_token": "<unk>", "pad_token": "<pad>",
            "add_prefix_space": False, "clean_up_tokenization_spaces": False, "errors": "replace"}


def cmd_tokenizer(data_dir, out_dir, vocab_size=config["VOCAB_SIZE"]):
    """Trains the BPE on both sides of every training pair (all four tasks); writes OUT_DIR/tokenizer*.json."""
    from bpe_tokenizer import train_bpe
    from bart_model import DEFAULT_CFG
    rows = D.load_jsonl(os.path.join(data_dir, "train.jsonl"))
    texts = []
    for r in rows:
        texts.append(r["src"])
        texts.append(r["tgt"])
    t0 = time.time()
    tok = train_bpe(texts, vocab_size, special_tokens=D.SPECIALS)
    print(f"tokenizer trained in {time.time() - t0:.0f}s, vocab {len(tok)}")
    tok.save(out_dir, tokenizer_config=tokenizer_config(DEFAULT_CFG["max_position_embeddings"]),
             post_processor=POST_PROCESSOR, unk_token="<unk>")


# Training mixes (env MIX), as (keep 1 in N summarization pairs, copies of each translation pair of at most
# 4 words, keep 1 in N of the other translation pairs[, copies of each kept summarization pair]); row j of the
# training rows is kept when j % N == 0.
MIXES = {
    "ui": (3, 2, 1),   # stage 2: short UI strings twice, other translations once, 1/3 of summarization
    "ui2": (6, 1, 4),  # stages 3-4: short strings once, 1/4 of the other translations, 1/6 of summarization
    "ui3": (5, 2, 3),  # stage 5: short strings twice, 1/3 of the other translations, 1/5 of summarization
    "tr": (4, 2, 1),   # stage 6 (continuing the shipped model): every translation, short ones twice, 1/4 of summarization
    "sum": (1, 1, 2, 2),  # stage 7: every summarization pair twice, short strings once, 1/2 of the other translations
}


def mix_rows(rows, sum_every, short_copies, other_every, sum_copies=1):
    mixed = []
    for j, r in enumerate(rows):
        if r["task"] == "sum":
            if j % sum_every == 0:
                mixed += [r] * sum_copies
        elif len(D.strip_prefix(r["src"]).split()) <= 4:
            mixed += [r] * short_copies
        elif j % other_every == 0:
            mixed.append(r)
    return mixed


def description_key(src):
    """The first 60 letters of a long description, lower-cased: equal for the packages of one family (the Qt
    modules, LibreOffice, cross compilers, ...) whose descriptions open with the same paragraph."""
    return re.sub(r"[^a-z ]", "", D.strip_prefix(src).lower())[:60]


def cap_summaries(rows, cap):
    """Keeps at most `cap` summarization pairs per description key: a family's shared opening maps to as many
    different one-line synopses as it has packages, which teaches the model to guess rather than to read."""
    seen = {}
    out = []
    for r in rows:
        if r["task"] == "sum":
            k = description_key(r["src"])
            seen[k] = seen.get(k, 0) + 1
            if seen[k] > cap:
                continue
        out.append(r)
    return out


def training_rows(data_dir):
    """The training rows of one run, selected by DESKTOP, SUM_CAP and MIX."""
    rows = D.load_jsonl(os.path.join(data_dir, "train.jsonl"))
    if config["DESKTOP"] == 1:  # desktop-application catalogs (data_seq2seq.py with DESKTOP=1)
        rows += D.load_jsonl(os.path.join(data_dir, "desktop_train.jsonl"))
    if config["SUM_CAP"] > 0:  # at most N summarization pairs per description opening (package families)
        rows = cap_summaries(rows, config["SUM_CAP"])
    if config["MIX"] != "all":
        rows = mix_rows(rows, *MIXES[config["MIX"]])
    return rows


def load_pairs(tok, data_dir):
    """Encoded (train, valid) pairs [(source ids, target ids, task)] of one training run."""
    t0 = time.time()
    train = encode_pairs(tok, training_rows(data_dir), MAX_SRC, MAX_TGT)
    valid = encode_pairs(tok, D.load_jsonl(os.path.join(data_dir, "valid.jsonl")), MAX_SRC, MAX_TGT)[:MAX_VALID]
    print(f"encoded {len(train)} train / {len(valid)} valid in {time.time() - t0:.0f}s, mix {config['MIX']}", flush=True)
    return train, valid
