#!/usr/bin/python3
"""The BART-style translation (en->de/fr/es) + summarization model: the command line of its recipe.

Subcommands (run with /usr/bin/python3 from the repo root; make_seq2seq.sh runs them in order):
  tokenizer DATA_DIR OUT_DIR             byte-level BPE on the training pairs (bart_data.py; the GRU shares it)
  train     DATA_DIR WORK_DIR MINUTES    one training stage (bart_train.py), checkpoints in WORK_DIR
  export    CKPT OUT_DIR WORK_DIR        ONNX (Optimum layout), configs, tokenizer, reference.json (bart_export.py)
  fixture   TOKENIZER_DIR OUT_DIR WORK_DIR   tiny random-weight test fixture, merged + split layouts (bart_export.py)
  evaluate  CKPT DATA_DIR OUT_JSON       held-out chrF/BLEU and ROUGE + baselines, PyTorch greedy (bart_eval.py)
  metrics   ENGINE_JSON OUT_JSON         score the outputs eval_engine.mjs wrote (seq2seq_metrics.py)
  tuning    OUT_JSON ENGINE_JSON...      summarization ROUGE of several eval_engine.mjs runs (seq2seq_metrics.py)
  card      WORK_DIR OUT_DIR             the model card README.md (bart_card.py)

The model is in bart_model.py; the training loop, shared with train_rnn.py, in seq2seq_train.py. Knobs are
environment variables, listed in the config blocks at the top of bart_data.py and bart_train.py.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def main(cmd, args):
    if cmd == "tokenizer":
        from bart_data import cmd_tokenizer
        cmd_tokenizer(args[0], args[1])
    elif cmd == "train":
        from bart_train import cmd_train
        cmd_train(args[0], args[1], float(args[2]))
    elif cmd == "export":
        from bart_export import cmd_export
        cmd_export(args[0], args[1], args[2])
    elif cmd == "fixture":
        from bart_export import cmd_fixture
        cmd_fixture(args[0], args[1], args[2])
    elif cmd == "evaluate":
        from bart_eval import cmd_evaluate
        cmd_evaluate(args[0], args[1], args[2], int(os.environ.get("EVAL_N", "300")))
    elif cmd == "metrics":
        from seq2seq_metrics import cmd_metrics
        cmd_metrics(args[0], args[1])
    elif cmd == "tuning":
        from seq2seq_metrics import cmd_tuning
        cmd_tuning(args[0], args[1:])
    elif cmd == "card":
        from bart_card import cmd_card
        cmd_card(args[0], args[1])
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "", sys.argv[2:])
