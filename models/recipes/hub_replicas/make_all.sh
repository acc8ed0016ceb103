#!/usr/bin/env bash
# Rebuilds every Hub-layout replica fixture under test/fixtures/hub-*/ and its reference.json.
# Run from the repository root: bash models/recipes/hub_replicas/make_all.sh [marian|qwen2|qwen2merged|qwen2gqa|gpt2|bigcode|t5|bartcnn]
# Needs Debian's /usr/bin/python3 (python3-torch 1.13, python3-onnx 1.12, numpy) and node_modules.
set -euo pipefail
PY=/usr/bin/python3
R=models/recipes/hub_replicas
F=test/fixtures
only="${1:-all}"
want() { [ "$only" = all ] || [ "$only" = "$1" ]; }

if want marian; then
  $PY $R/make_marian.py build $F/hub-marian-merged
  node $R/reference.mjs $F/hub-marian-merged seq2seq fp32 \
    "Hello world, how are you?" "The quick brown fox jumps over the lazy dog."
  $PY $R/make_marian.py torchref $F/hub-marian-merged
fi

if want qwen2; then
  $PY $R/make_qwen2.py build $F/hub-qwen2 $F/hub-qwen2-external
  P1="Hello, how are you today?"; P2="Once upon a time there was"
  node $R/reference.mjs $F/hub-qwen2 causal fp32,fp16,q8,int8,uint8,q4,q4f16,bnb4 "$P1" "$P2"
  $PY $R/make_qwen2.py torchref $F/hub-qwen2
  node $R/reference.mjs $F/hub-qwen2-external causal fp32 "$P1" "$P2"
  $PY $R/make_qwen2.py torchref $F/hub-qwen2-external
  $PY $R/check_q4.py $F/hub-qwen2 && node $R/check_q4.mjs
  $PY $R/check_bnb4.py $F/hub-qwen2 && node $R/check_q4.mjs /tmp/_bnb4a.onnx /tmp/_bnb4b.onnx
fi

if want qwen2merged; then
  $PY $R/make_qwen2_merged.py $F/hub-qwen2 $F/hub-qwen2-merged
  node $R/reference.mjs $F/hub-qwen2-merged causal fp32=decoder_model_merged "Hello, how are you today?" "Once upon a time there was"
  $PY $R/make_qwen2.py torchref $F/hub-qwen2-merged
fi

if want qwen2gqa; then
  # the hub-qwen2 weights as an onnxruntime-genai model-builder graph (GroupQueryAttention with rotary inside,
  # SkipSimplifiedLayerNormalization, no position_ids), as onnx-community/DeepSeek-R1-Distill-Qwen-1.5B-ONNX;
  # compared with hub-qwen2's model.onnx and reference.json, so build qwen2 first
  P1="Hello, how are you today?"; P2="Once upon a time there was"
  $PY $R/make_qwen2_gqa.py build $F/hub-qwen2 $F/hub-qwen2-gqa
  node $R/reference.mjs $F/hub-qwen2-gqa causal fp32 "$P1" "$P2"
  node $R/check_gqa_past.mjs $F/hub-qwen2-gqa $F/hub-qwen2
  $PY $R/make_qwen2_gqa.py torchref $F/hub-qwen2-gqa
  node $R/check_gqa_attention.mjs $F/hub-qwen2-gqa
fi

if want gpt2; then
  # transformers.js loads a repo that only has onnx/decoder_model_merged(_quantized).onnx with model_file_name
  $PY $R/make_gpt2.py build $F/hub-gpt2-merged
  node $R/check_gpt2_causal.mjs $F/hub-gpt2-merged
  node $R/reference.mjs $F/hub-gpt2-merged causal fp32=decoder_model_merged,q8=decoder_model_merged \
    "def fibonacci(n):" "Hello, my name is"
  $PY $R/make_gpt2.py torchref $F/hub-gpt2-merged
fi

if want bigcode; then
  # GPT-BigCode (StarCoder, multi-query attention: past_key_values.{i}.key_value) as Xenova/tiny_starcoder_py
  $PY $R/make_bigcode.py build $F/hub-bigcode
  node $R/check_bigcode_past.mjs $F/hub-bigcode
  node $R/reference.mjs $F/hub-bigcode causal fp32,q8 \
    "def fibonacci(n):" $'<fim_prefix>def add(a, b):\n    <fim_suffix>\n    return c<fim_middle>'
  $PY $R/make_bigcode.py torchref $F/hub-bigcode
fi

if want t5; then
  # T5 (relative position bias, RMS T5LayerNorm, tied lm_head * d_model**-0.5) as Xenova/t5-small, fp32 + q8
  $PY $R/make_t5.py build $F/hub-t5
  node $R/check_seq2seq_past.mjs $F/hub-t5 causal
  node $R/reference.mjs $F/hub-t5 seq2seq fp32,q8 \
    "translate English to German: The house is wonderful." "summarize: The quick brown fox jumps over the lazy dog."
  $PY $R/make_t5.py torchref $F/hub-t5
fi

if want bartcnn; then
  # BART summarizer as Xenova/distilbart-cnn-6-6 (no_repeat_ngram 3, min_length scaled to 6, forced BOS/EOS), fp32 + q8
  $PY $R/make_bartcnn.py build $F/hub-bart-cnn
  node $R/check_seq2seq_past.mjs $F/hub-bart-cnn noncausal
  node $R/reference.mjs $F/hub-bart-cnn seq2seq fp32,q8 \
    "The city council approved a new plan on Monday to build three parks downtown." \
    "Scientists say the ancient river once flowed across the desert for thousands of years."
  $PY $R/make_bartcnn.py torchref $F/hub-bart-cnn
fi
