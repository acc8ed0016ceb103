#!/usr/bin/python3
"""Writes the GRU model card (OUT_DIR/README.md) from WORK_DIR/rnn_eval.json (`evaluate`), rnn_export_report.json
(`export`), data/stats.json (data_seq2seq.py) and rnn/rnn_train.log (the stages' final validation lines):
`train_rnn.py card WORK_DIR OUT_DIR`.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import data_seq2seq as D  # noqa: E402
from rnn_model import TASKS  # noqa: E402
from seq2seq_common import card_inputs, card_io_lines, card_translation_table, mib  # noqa: E402


def cmd_card(work_dir, out_dir):
    ev, rep, stats, cfg, finals = card_inputs(work_dir, out_dir, "rnn")
    t = ev["tasks"]
    esc = lambda x: x.replace("|", "\\|").replace("\n", " ")  # noqa: E731
    L = ["---\nlicense: other\nlanguage: [en, de, fr, es]\ntags: [seq2seq, gru, bahdanau-attention, translation, onnx]\n---\n",
         "# rnn-attention-seq2seq\n",
         "The classic attention encoder-decoder of the source documents (Bahdanau et al., 2015), trained from scratch "
         "on this project's build machine (2 CPU cores, no GPU, offline) to translate English UI strings into German, "
         "French and Spanish. It exists to show the documents' alignment picture (target step x source position) in "
         "the attention inspector, next to the Transformer's attention maps. Demonstration quality.\n",
         "## Architecture\n",
         "- token embedding (128) shared by encoder, decoder and the output layer\n"
         "- encoder: bidirectional GRU (256 per direction; two unidirectional GRUs, the backward one reads each "
         "sequence reversed within its own length, so padding never leaks into valid positions)\n"
         "- bridge: `s_0 = tanh(W [h_fwd_last; h_bwd_first] + b)`\n"
         "- additive attention: `score_tj = v · tanh(W_s s_{t-1} + W_h h_j)`, masked softmax over source positions, "
         "`c_t = Σ_j α_tj h_j`\n"
         "- decoder: GRU cell, input `[emb(y_{t-1}); c_t]`, state 256\n"
         "- output: `logits = E · (W_o [s_t; c_t; emb(y_{t-1})]) + b` (linear layer to 128, then the tied embedding "
         "matrix; factorised to keep the files small)\n",
         f"Parameters: {rep['params']:,}. Files: {mib(out_dir):.1f} MiB (fp32 ONNX: encoder "
         f"{rep['encoder.onnx']['bytes'] / 2 ** 20:.1f} MiB, decoder step {rep['decoder_step.onnx']['bytes'] / 2 ** 20:.1f} MiB).\n",
         "Tokenizer: the byte-level BPE of `bart-translate-summarize` (6000 tokens, `<s>`=0, `<pad>`=1, `</s>`=2, "
         "`<unk>`=3); encoder input `<s> … </s>` (added by the tokenizer's post-processor); decoding starts from "
         f"`decoder_start_token_id` = {cfg['decoder_start_token_id']} (`<s>`) and stops at `</s>`. Task prefixes: "
         + ", ".join(f"`{v['prefix']}`" for v in cfg["task_specific_params"].values()) + ".\n",
         "## ONNX graphs (opset 14)\n"]
    for fn in ("encoder.onnx", "decoder_step.onnx"):
        r = rep[fn]
        L.append(f"`onnx/{fn}`\n")
        L += card_io_lines(r)
        L.append("- Softmax nodes: " + (", ".join(f"`{n}`" for n in r["softmax_nodes"]) or "none") + "\n")
    L.append("Greedy decoding: run the encoder once; then feed `input_ids` = [[decoder_start_token_id]], `state` = "
             "`decoder_initial_state`, and the encoder outputs/mask to `decoder_step` repeatedly, each time with the "
             "chosen token and `state_out`. `attention` is that step's α (the alignment row). The same description is "
             "in `config.json` under `onnx`.\n")
    L.append("## Training\n")
    L.append(f"Teacher forcing with ratio {cfg.get('teacher_forcing_ratio', 0.9)} (else the model's own greedy "
             f"prediction is fed), cross-entropy, Adam, gradient clipping 1.0, dropout 0.1, batches of ~2500 padded tokens "
             f"from length-sorted buckets with the three languages shuffled together, seed 4321; three stages with warm-up "
             f"and cosine decay over a fixed wall-clock budget (peak LR 2e-3, then continued twice at 1e-3). Translation pairs "
             f"with source <= 40 and target <= 32 tokens only (132k pairs; the summarization data is not used). One "
             f"PyTorch thread on a 2-core machine shared with other jobs: {ev['train_minutes']:.1f} minutes in total, "
             f"{ev['checkpoint_step']} steps. Validation (600 pairs, nats/token): "
             + "; ".join(f"`{l}`" for l in finals) + ".\n")
    L.append("## Data and licences\n")
    L.append(D.licence_section(stats, translation_only=True))
    L.append("\n## Held-out results\n")
    L.append(f"Greedy decoding, first {ev['n_per_task']} test pairs per language; chrF (character 6-gram F, β=2) and "
             "corpus BLEU-4, own implementations (see `bart-translate-summarize/README.md`); copy-source baseline = "
             "the English source unchanged.\n")
    L += card_translation_table(t)
    L.append("\n## Sample outputs (greedy)\n")
    L.append("| input | output | reference |\n|---|---|---|")
    for x in ev["fixed_samples"]:
        L.append(f"| {esc(x['source'])} | {esc(x['output'])} | |")
    for k in TASKS:
        for x in ev["samples"][k][:2]:
            L.append(f"| {esc(x['source'])} | {esc(x['output'])} | {esc(x['reference'])} |")
    L.append("\n## Files\n")
    L.append("- `onnx/encoder.onnx`, `onnx/decoder_step.onnx`; `config.json` (`model_type` "
             "`rnn-attention-seq2seq`, this project's own), `generation_config.json`, `tokenizer.json`, "
             "`tokenizer_config.json`\n- `reference.json`: PyTorch greedy ids, top-5 log-probs of the first 5 steps, "
             "and the alignment matrix α `[T][S]` of one greedy run\n")
    L.append("Reproduce: `sh models/recipes/make_seq2seq.sh` (recipe `models/recipes/train_rnn.py`). Limitations: "
             "tiny model, UI-string domain, short training; long sentences are often wrong.\n")
    with open(os.path.join(out_dir, "README.md"), "w") as f:
        f.write("\n".join(L))
    print(f"card written; folder {mib(out_dir):.2f} MiB")

