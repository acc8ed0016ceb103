#!/usr/bin/env bash
# Rebuild every bundled model and test fixture from offline data, on CPU (about five hours on 2 cores):
# the GPT (models/gpt2-code), then the two Seq2Seq models and the BART fixture, then the weight-only int8 variant
# of the llama fixture. The llama fixture itself (make_llama_fixture.py) is not rebuilt: it keeps the tokenizer it
# copied from the left-to-right gpt2-code, before the FIM markers were added.
# Needs: apt-get install -y python3-torch python3-onnx python3-numpy python3-regex libopenblas0-pthread; npm ci.
set -euo pipefail
cd "$(dirname "$0")/../.."
bash models/recipes/make_gpt.sh
sh models/recipes/make_seq2seq.sh
/usr/bin/python3 models/recipes/quantize_weights.py test/fixtures/tiny-llama-gqa/onnx/model.onnx test/fixtures/tiny-llama-gqa/onnx/model_quantized.onnx
