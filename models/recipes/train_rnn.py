#!/usr/bin/python3
"""The classic attention GRU (Bahdanau et al. 2015) for en->de/fr/es UI-string translation: the command line of
its recipe.

Subcommands (run with /usr/bin/python3 from the repo root; make_seq2seq.sh runs them in order):
  train    DATA_DIR WORK_DIR MINUTES    one training stage (rnn_train.py); WORK_DIR/tokenizer must hold the
                                        BART recipe's tokenizer files (`train_bart.py tokenizer`)
  export   CKPT OUT_DIR WORK_DIR        ONNX + config + generation_config + tokenizer + reference.json (rnn_export.py)
  evaluate CKPT DATA_DIR OUT_JSON       held-out chrF/BLEU + copy-source baseline, PyTorch greedy (rnn_eval.py)
  card     WORK_DIR OUT_DIR             the model card README.md (rnn_card.py)

The model is in rnn_model.py; the training loop, shared with train_bart.py, in seq2seq_train.py. Knobs are
environment variables, listed in the config blocks at the top of rnn_data.py and rnn_train.py.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def main(cmd, args):
    if cmd == "train":
        from rnn_train import cmd_train
        cmd_train(args[0], args[1], float(args[2]))
    elif cmd == "export":
        from rnn_export import cmd_export
        cmd_export(args[0], args[1], args[2])
    elif cmd == "evaluate":
        from rnn_eval import cmd_evaluate
        cmd_evaluate(args[0], args[1], args[2], int(os.environ.get("EVAL_N", "300")))
    elif cmd == "card":
        from rnn_card import cmd_card
        cmd_card(args[0], args[1])
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "", sys.argv[2:])
