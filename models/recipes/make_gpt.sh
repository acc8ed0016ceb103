#!/usr/bin/env bash
# Rebuild the bundled GPT (models/gpt2-code) offline, on CPU:
#   corpus -> tokenizer -> train (left to right) -> train with fill-in-the-middle -> export (+reference, metrics)
#   -> inline measurement -> model card -> checks.
# Usage (from anywhere):
#   TRAIN_MINUTES=25 CONTINUE_MINUTES=14 models/recipes/make_gpt.sh                       # the left-to-right model
#   START_FROM=DIR FIM_MINUTES=40 FIM2_MINUTES=55 models/recipes/make_gpt.sh               # the committed model
#   TRAIN_MINUTES: phase 1 (lr 3e-3 -> 2e-4); CONTINUE_MINUTES: phase 2 from phase 1's checkpoint with a fresh
#   optimizer (lr 1e-3 -> 1e-4), 0 to skip; FIM_MINUTES (default 0): phase 3 from the previous checkpoint, fresh
#   optimizer (lr 1e-3 -> 5e-5), half the rows fill-in-the-middle examples in PSM (FIM_RATE, fim_transform.py);
#   FIM2_MINUTES (default 0): phase 4, fresh optimizer (lr 6e-4 -> 3e-5), 85% line cuts and 80% of the FIM examples
#   in SPM, after which the export writes "fim_order": "spm" (the extension then sends SPM). Either sets FIM=1 for
#   every step, so the tokenizer and model get the StarCoder markers as ids 4096-4099.
#   START_FROM: a gpt2-code folder (the left-to-right model of git history,
#   `git show 8a74c54:models/gpt2-code/...`) whose BPE is kept and whose weights are read back from its ONNX
#   (gpt_from_onnx.py, the FIM markers' rows = the mean embedding) instead of phases 1 and 2.
#   PSM alone (phase 3) did not teach this 2.7M model to fill; SPM did: models/recipes/README.md has the numbers.
# The llama test fixture (make_llama_fixture.py) keeps the tokenizer it copied from the left-to-right gpt2-code:
# it is not rebuilt here.
# Needs Debian's python3-torch python3-onnx python3-numpy python3-regex libopenblas0-pthread
# (use /usr/bin/python3, not a pyenv python) and `npm ci` done (for the Node checks).
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PYTHON:-/usr/bin/python3}
export TRAIN_MINUTES=${TRAIN_MINUTES:-25}
CONTINUE_MINUTES=${CONTINUE_MINUTES:-14}
FIM_MINUTES=${FIM_MINUTES:-0}
FIM2_MINUTES=${FIM2_MINUTES:-0}
if [ "$FIM_MINUTES" != 0 ] || [ "$FIM2_MINUTES" != 0 ]; then export FIM=1; fi
# Phase 4 (FIM2_MINUTES) trains 80% of its FIM examples in SPM; the export then writes "fim_order": "spm".
SPM_SHARE=$([ "$FIM2_MINUTES" != 0 ] && echo 0.8 || echo 0)
START_FROM=${START_FROM:-}
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}   # 1 when another job shares the 2 cores; 2 otherwise
mkdir -p models/.work
$PY models/recipes/train_gpt.py corpus
if [ -n "$START_FROM" ]; then
  TOKENIZER_FROM=$START_FROM $PY models/recipes/train_gpt.py tokenizer
  $PY models/recipes/gpt_from_onnx.py "$START_FROM" models/.work/ckpt_start.pt $([ "${FIM:-0}" = 1 ] && echo 4100 || echo 4096)
  CKPT=models/.work/ckpt_start.pt
else
  $PY models/recipes/train_gpt.py tokenizer
  $PY models/recipes/train_gpt.py train 2>&1 | tee models/.work/train.log
  CKPT=models/.work/ckpt.pt
  if [ "$CONTINUE_MINUTES" != 0 ]; then
    cp models/.work/ckpt.pt models/.work/ckpt_phase1.pt
    TRAIN_MINUTES=$CONTINUE_MINUTES LR=1e-3 LR_MIN=1e-4 WARMUP=30 INIT_CKPT=models/.work/ckpt_phase1.pt \
      CKPT_OUT=models/.work/ckpt_phase2.pt $PY models/recipes/train_gpt.py train 2>&1 | tee models/.work/train_phase2.log
    CKPT=models/.work/ckpt_phase2.pt
  fi
fi
BEFORE=$CKPT
if [ "$FIM_MINUTES" != 0 ]; then
  TRAIN_MINUTES=$FIM_MINUTES FIM_RATE=${FIM_RATE:-0.5} FIM_SPM_SHARE=0 LR=1e-3 LR_MIN=5e-5 WARMUP=50 INIT_CKPT=$CKPT \
    CKPT_OUT=models/.work/ckpt_fim.pt $PY models/recipes/train_gpt.py train 2>&1 | tee models/.work/train_fim.log
  CKPT=models/.work/ckpt_fim.pt
fi
if [ "$FIM2_MINUTES" != 0 ]; then
  cp "$CKPT" models/.work/ckpt_fim1.pt
  TRAIN_MINUTES=$FIM2_MINUTES FIM_RATE=${FIM_RATE:-0.5} FIM_SPM_SHARE=$SPM_SHARE FIM_LINE_SHARE=0.85 LR=6e-4 LR_MIN=3e-5 WARMUP=50 \
    INIT_CKPT=models/.work/ckpt_fim1.pt CKPT_OUT=models/.work/ckpt_fim2.pt $PY models/recipes/train_gpt.py train 2>&1 \
    | tee models/.work/train_fim2.log
  CKPT=models/.work/ckpt_fim2.pt
fi
# The previous model's folder, for the inline measurement next to this one (the export overwrites gpt2-code).
rm -rf models/.work/before && mkdir -p models/.work/before
if [ -n "$START_FROM" ]; then cp -r "$START_FROM" models/.work/before/gpt2-code; fi
CKPT=$CKPT BEFORE_CKPT=$BEFORE FIM_SPM_SHARE=$SPM_SHARE $PY models/recipes/train_gpt.py export
if [ "${SKIP_NODE_CHECKS:-0}" != 1 ]; then
  node models/recipes/verify_decoder.mjs models/gpt2-code models/.work/gpt2-code.logits.json
  npm run build
  node models/recipes/eval_inline.mjs models/recipes/data/inline_cases.json models/.work/inline_eval.json > models/.work/inline_eval.md
  if [ -d models/.work/before/gpt2-code ]; then
    node models/recipes/eval_inline.mjs --model "$PWD/models/.work/before/gpt2-code" models/recipes/data/inline_cases.json \
      models/.work/inline_before.json > models/.work/inline_before.md
  fi
  FIM_SPM_SHARE=$SPM_SHARE $PY models/recipes/lens_reference_gpt2_code.py
fi
FIM_SPM_SHARE=$SPM_SHARE $PY models/recipes/train_gpt.py card
du -sh models/gpt2-code
