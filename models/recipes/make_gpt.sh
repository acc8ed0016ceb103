#!/usr/bin/env bash
# Rebuild the bundled GPT (models/gpt2-code) from scratch, offline, on CPU:
#   corpus -> tokenizer -> train -> export (+reference, metrics) -> model card -> checks.
# Usage (from anywhere):  TRAIN_MINUTES=25 CONTINUE_MINUTES=14 models/recipes/make_gpt.sh
#   TRAIN_MINUTES: phase 1 (lr 3e-3 -> 2e-4); CONTINUE_MINUTES: phase 2 from phase 1's checkpoint with a fresh
#   optimizer (lr 1e-3 -> 1e-4), 0 to skip. The committed model used 25 + 14 minutes.
# Needs Debian's python3-torch python3-onnx python3-numpy python3-regex libopenblas0-pthread
# (use /usr/bin/python3, not a pyenv python) and `npm ci` done (for the Node checks).
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PYTHON:-/usr/bin/python3}
export TRAIN_MINUTES=${TRAIN_MINUTES:-25}
CONTINUE_MINUTES=${CONTINUE_MINUTES:-14}
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}   # 1 when another job shares the 2 cores; 2 otherwise
mkdir -p models/.work
$PY models/recipes/train_gpt.py corpus
$PY models/recipes/train_gpt.py tokenizer
$PY models/recipes/train_gpt.py train 2>&1 | tee models/.work/train.log
CKPT=models/.work/ckpt.pt
if [ "$CONTINUE_MINUTES" != 0 ]; then
  cp models/.work/ckpt.pt models/.work/ckpt_phase1.pt
  TRAIN_MINUTES=$CONTINUE_MINUTES LR=1e-3 LR_MIN=1e-4 WARMUP=30 INIT_CKPT=models/.work/ckpt_phase1.pt \
    CKPT_OUT=models/.work/ckpt_phase2.pt $PY models/recipes/train_gpt.py train 2>&1 | tee models/.work/train_phase2.log
  CKPT=models/.work/ckpt_phase2.pt
fi
CKPT=$CKPT $PY models/recipes/train_gpt.py export
$PY models/recipes/train_gpt.py card
$PY models/recipes/make_llama_fixture.py            # test/fixtures/tiny-llama-gqa (uses gpt2-code's tokenizer)
if [ "${SKIP_NODE_CHECKS:-0}" != 1 ]; then
  node models/recipes/verify_decoder.mjs models/gpt2-code models/.work/gpt2-code.logits.json
  node models/recipes/verify_decoder.mjs test/fixtures/tiny-llama-gqa
fi
du -sh models/gpt2-code test/fixtures/tiny-llama-gqa
