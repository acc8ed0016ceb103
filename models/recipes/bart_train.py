#!/usr/bin/python3
"""Trains the BART-style model (bart_model.py) on one stage's mix (bart_data.py) with the shared loop
(seq2seq_train.py): `train_bart.py train DATA_DIR WORK_DIR MINUTES`.

WORK_DIR/tokenizer must hold the tokenizer (`train_bart.py tokenizer`); the run appends to WORK_DIR/bart_train.log
and leaves WORK_DIR/bart_last.pt and bart_final.pt. make_seq2seq.sh runs seven stages, each continuing from the
previous one's checkpoint (INIT_CKPT) with its own knobs.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bart_data  # noqa: E402
import seq2seq_train  # noqa: E402
from bart_model import DECODER_START, DEFAULT_CFG, BartForConditionalGeneration, n_params  # noqa: E402
from seq2seq_common import env_config, load_tok, seed_all  # noqa: E402

# -----------------------------------------------------------------------------------------------------------------
# config: defaults, overridden by environment variables of the same name (the data knobs MIX, DESKTOP, SUM_CAP
# are in bart_data.py)
config = env_config(dict(
    seq2seq_train.DEFAULTS,  # INIT_CKPT, PEAK_LR 2e-3, LS_OFF_FRAC, MAX_STEPS, ... (see there)
    SEED=1234,
    BATCH_SEED=1,
    WARMUP=150,  # warm-up steps
    BETAS=(0.9, 0.98),  # Adam
    MAX_TOKENS=3500,  # padded tokens per batch
    LABEL_SMOOTHING=0.1,
))
VALID_GROUPS = [("summarization", lambda task: task == "sum"), ("translation", lambda task: task != "sum")]
# -----------------------------------------------------------------------------------------------------------------


def cmd_train(data_dir, work_dir, minutes):
    seed_all(config["SEED"])
    os.makedirs(work_dir, exist_ok=True)
    tok = load_tok(os.path.join(work_dir, "tokenizer"))
    cfg = dict(DEFAULT_CFG, vocab_size=len(tok))
    train, valid = bart_data.load_pairs(tok, data_dir)
    model, cfg, history = seq2seq_train.start_model(BartForConditionalGeneration, cfg, config["INIT_CKPT"])
    print(f"params {n_params(model)}", flush=True)
    seq2seq_train.train(model, cfg, train, valid, work_dir, "bart", minutes, config, DECODER_START,
                        groups=VALID_GROUPS, history=history)
