#!/usr/bin/python3
"""Trains the attention GRU (rnn_model.py) on short translation pairs (rnn_data.py) with the shared loop
(seq2seq_train.py): `train_rnn.py train DATA_DIR WORK_DIR MINUTES`.

WORK_DIR/tokenizer must hold the BART recipe's tokenizer files; the run appends to WORK_DIR/rnn_train.log and leaves
WORK_DIR/rnn_last.pt and rnn_final.pt. make_seq2seq.sh runs three stages (the later two with INIT_CKPT, PEAK_LR 1e-3,
WARMUP 30).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rnn_data  # noqa: E402
import seq2seq_train  # noqa: E402
from rnn_model import DEFAULT_CFG, START, Seq2SeqAttention, n_params  # noqa: E402
from seq2seq_common import env_config, load_tok, seed_all  # noqa: E402

# -----------------------------------------------------------------------------------------------------------------
# config: defaults, overridden by environment variables of the same name
config = env_config(dict(
    seq2seq_train.DEFAULTS,  # INIT_CKPT, PEAK_LR 2e-3, WARMUP 100, Adam betas 0.9/0.999, no label smoothing, MAX_STEPS
    SEED=4321,
    BATCH_SEED=2,
    MAX_TOKENS=2500,  # padded tokens per batch
))
# -----------------------------------------------------------------------------------------------------------------


def cmd_train(data_dir, work_dir, minutes):
    seed_all(config["SEED"])
    os.makedirs(work_dir, exist_ok=True)
    tok = load_tok(os.path.join(work_dir, "tokenizer"))
    cfg = dict(DEFAULT_CFG, vocab_size=len(tok))
    train, valid = rnn_data.load_pairs(tok, data_dir, cfg["max_source_length"])
    model, cfg, history = seq2seq_train.start_model(Seq2SeqAttention, cfg, config["INIT_CKPT"])
    print(f"params {n_params(model)}", flush=True)

    def forward(m, src, am, dec_in):  # teacher forcing with the model's own predictions mixed in
        return m(src, am, dec_in, cfg["teacher_forcing_ratio"])

    seq2seq_train.train(model, cfg, train, valid, work_dir, "rnn", minutes, config, START, forward=forward,
                        history=history)
