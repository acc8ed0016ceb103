"""Builds test/fixtures/hub-qwen2-merged: the Qwen2 replica's fp32 decoder in Optimum's If-merged layout.

Decoder-only repos exported with Optimum's `--task text-generation-with-past` before the single-graph
exports (Xenova/distilgpt2, Xenova/TinyLlama-…, older Xenova/Qwen1.5-…) ship
`onnx/decoder_model_merged.onnx`: one `optimum::if` node on a `use_cache_branch` input whose branches
are the no-past and with-past decoders. Here both branches are the replica's `model.onnx` (a decoder
that takes an empty past), merged by `hub_common.merge_decoders`, so the graph has exactly the
merged file's I/O and If structure and the same numbers as hub-qwen2's model.onnx.

    python3 make_qwen2_merged.py <hub-qwen2 dir> <out dir>
"""
import os
import shutil
import sys

import onnx

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hub_common  # noqa: E402


def build(src: str, out: str) -> None:
    os.makedirs(os.path.join(out, "onnx"), exist_ok=True)
    for name in ("config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json"):
        shutil.copyfile(os.path.join(src, name), os.path.join(out, name))
    decoder = onnx.load(os.path.join(src, "onnx", "model.onnx"))
    merged = hub_common.merge_decoders(decoder, decoder)
    onnx.checker.check_model(merged)
    onnx.save(merged, os.path.join(out, "onnx", "decoder_model_merged.onnx"))
    with open(os.path.join(out, "README.md"), "w") as f:
        f.write(
            "# hub-qwen2-merged (test fixture, random weights, seed 2024)\n\n"
            "The hub-qwen2 replica's fp32 decoder in Optimum's If-merged layout: `onnx/decoder_model_merged.onnx` "
            "only, with a `use_cache_branch` input and one `optimum::if` node whose branches are the no-past and "
            "with-past decoders (here both the replica's `model.onnx`), as older decoder-only exports ship it "
            "(Xenova/distilgpt2, Xenova/TinyLlama-1.1B-Chat-v1.0). transformers.js loads it with "
            "`model_file_name: 'decoder_model_merged'`; this engine finds it without being told. Made by "
            "`models/recipes/hub_replicas/make_qwen2_merged.py`; `reference.json` by `reference.mjs` (transformers.js).\n"
        )


if __name__ == "__main__":
    build(sys.argv[1], sys.argv[2])
