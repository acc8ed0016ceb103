#!/usr/bin/python3
"""What the two Seq2Seq recipes (BART: bart_*.py, the attention GRU: rnn_*.py) share outside the training loop:
the environment-knob helper, seeding, the tokenizer files, source encoding and padding, greedy translation of a list
of texts, checkpoint loading, the ONNX clean-ups and graph summaries, and pieces of the model cards.

Importing it sets torch's intra-op threads to TORCH_THREADS (default 1).
"""
import json
import os
import random
import shutil
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import data_seq2seq as D  # noqa: E402

torch.set_num_threads(int(os.environ.get("TORCH_THREADS", "1")))
NEG = -1e9  # added to the attention scores of masked positions
LANGS = (("de", "German"), ("fr", "French"), ("es", "Spanish"))
# the UI strings the project asked for by name (evaluate's fixed samples)
FIXED_SOURCES = [f"translate English to {lang}: {s}" for _, lang in LANGS for s in ("Open file", "Save changes?")]


def env_config(defaults):
    """nanoGPT-style knobs: `defaults` with every int/float/str entry that is set in the environment replaced by the
    environment's value, cast to the default's type (other entries are constants)."""
    out = dict(defaults)
    for k, v in defaults.items():
        if k in os.environ and isinstance(v, (int, float, str)) and not isinstance(v, bool):
            out[k] = type(v)(os.environ[k])
    return out


def seed_all(s):
    random.seed(s)
    torch.manual_seed(s)


def load_tok(tok_dir):
    from bpe_tokenizer import Tokenizer
    return Tokenizer.load(os.path.join(tok_dir, "tokenizer.json"))


def encode_src(tok, text, max_len):
    """Encoder input: <s> tokens </s>, at most max_len ids (as the tokenizer's RobertaProcessing adds them)."""
    return [D.BOS] + tok.encode(text)[: max_len - 2] + [D.EOS]


def encode_pairs(tok, rows, max_src, max_tgt):
    """(source ids, target ids + </s>, task) per row; max_src: {task: max source ids}, max_tgt: max target ids."""
    out = []
    for r in rows:
        s = encode_src(tok, r["src"], max_src[r["task"]])
        t = tok.encode(r["tgt"])[: max_tgt - 1] + [D.EOS]
        out.append((s, t, r["task"]))
    return out


def pad_batch(seqs):
    S = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), S), D.PAD, dtype=torch.long)
    am = torch.zeros((len(seqs), S), dtype=torch.long)
    for j, s in enumerate(seqs):
        ids[j, :len(s)] = torch.tensor(s)
        am[j, :len(s)] = 1
    return ids, am


def translate_texts(model, greedy, tok, srcs, max_src, max_new, bs):
    """Greedy outputs (text, specials dropped) of `srcs`, batched `bs` at a time in order of length."""
    enc = [encode_src(tok, s, max_src) for s in srcs]
    order = sorted(range(len(enc)), key=lambda i: len(enc[i]))
    res = [None] * len(enc)
    for k in range(0, len(order), bs):
        b = order[k:k + bs]
        ids, am = pad_batch([enc[i] for i in b])
        for i, o in zip(b, greedy(model, ids, am, max_new)):
            res[i] = tok.decode([t for t in o if t > 3]).strip()
    return res


def score_tasks(translate, rows, tasks, n_per_task, prefix=""):
    """Held-out metrics (seq2seq_metrics.task_metrics) of the first n_per_task rows of each task in `tasks`, and
    their first five samples; translate(sources, task) -> outputs. Returns ({task: metrics}, {prefix+task: samples})."""
    from seq2seq_metrics import task_metrics
    metrics, samples = {}, {}
    for task in tasks:
        rs = [r for r in rows if r["task"] == task][:n_per_task]
        hyps = translate([r["src"] for r in rs], task)
        metrics[task] = task_metrics(task, [r["src"] for r in rs], [r["tgt"] for r in rs], hyps)
        samples[prefix + task] = [{"source": r["src"], "reference": r["tgt"], "output": h} for r, h in zip(rs[:5], hyps[:5])]
        print(prefix + task, json.dumps(metrics[task]), flush=True)
    return metrics, samples


def load_checkpoint(path, make_model):
    """(model in eval mode, checkpoint dict) of a checkpoint {cfg, state, step, minutes} that seq2seq_train wrote."""
    ck = torch.load(path, map_location="cpu")
    m = make_model(ck["cfg"])
    m.load_state_dict(ck["state"])
    m.eval()
    return m, ck


def n_params(model, skip=()):
    return sum(p.numel() for n, p in model.named_parameters() if n not in skip)


def copy_tokenizer(tok_dir, out_dir, max_len):
    """tokenizer.json and tokenizer_config.json into a model folder, model_max_length set to max_len."""
    for fn in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(os.path.join(tok_dir, fn), os.path.join(out_dir, fn))
    tc = json.load(open(os.path.join(out_dir, "tokenizer_config.json")))
    tc["model_max_length"] = max_len
    json.dump(tc, open(os.path.join(out_dir, "tokenizer_config.json"), "w"), indent=2)


def strip_initializer_prefix(path, prefix="m."):
    """Rename initializers 'm.model.shared.weight' -> 'model.shared.weight' (the export wrapper's attribute)."""
    import onnx
    m = onnx.load(path)
    ren = {i.name: i.name[len(prefix):] for i in m.graph.initializer if i.name.startswith(prefix)}
    if not ren:
        return
    for i in m.graph.initializer:
        i.name = ren.get(i.name, i.name)
    for n in m.graph.node:
        for k, x in enumerate(n.input):
            if x in ren:
                n.input[k] = ren[x]
    onnx.save(m, path)


def set_static_dims(path, fixes):
    """Replace exporter-invented symbolic dims (e.g. 'Slicepresent.0.encoder.key_dim_1') by their static values.
    fixes: {output_or_input_name: {axis: value}}."""
    import onnx
    m = onnx.load(path)
    for vi in list(m.graph.output) + list(m.graph.input):
        for axis, val in fixes.get(vi.name, {}).items():
            d = vi.type.tensor_type.shape.dim[axis]
            d.ClearField("dim_param")
            d.dim_value = val
    onnx.save(m, path)


def graph_summary(path, extra=()):
    """Inputs and outputs with their dims, the Softmax node names (+ `softmax_axes`, `op_types` when asked in
    `extra`) and the size of an ONNX file, for the export report and the model card."""
    import onnx
    g = onnx.load(path).graph
    r = {"inputs": [(i.name, [d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim]) for i in g.input],
         "outputs": [(o.name, [d.dim_param or d.dim_value for d in o.type.tensor_type.shape.dim]) for o in g.output],
         "softmax_nodes": [n.name for n in g.node if n.op_type == "Softmax"]}
    if "softmax_axes" in extra:
        r["softmax_axes"] = [[a.i for a in n.attribute if a.name == "axis"] for n in g.node if n.op_type == "Softmax"]
    if "op_types" in extra:
        r["op_types"] = sorted(set(n.op_type for n in g.node))
    r["bytes"] = os.path.getsize(path)
    return r


def mib(path):
    """Size of a folder in MiB."""
    tot = 0
    for dp, _, fns in os.walk(path):
        for fn in fns:
            tot += os.path.getsize(os.path.join(dp, fn))
    return tot / 2 ** 20


def card_inputs(work_dir, out_dir, name):
    """What a model card is written from: WORK_DIR/<name>_eval.json, <name>_export_report.json, data/stats.json,
    OUT_DIR/config.json, and the final validation lines of WORK_DIR/<name>/<name>_train.log (one per stage)."""
    def load(*path):
        with open(os.path.join(*path)) as f:
            return json.load(f)
    finals = [l.strip() for l in open(os.path.join(work_dir, name, f"{name}_train.log")) if l.startswith("final")]
    return (load(work_dir, f"{name}_eval.json"), load(work_dir, f"{name}_export_report.json"),
            load(work_dir, "data", "stats.json"), load(out_dir, "config.json"), finals)


def card_io_lines(r):
    """A graph's inputs and outputs as two model-card bullet lines (r: a graph_summary)."""
    return ["- inputs: " + ", ".join(f"`{n}` {d}" for n, d in r["inputs"]),
            "- outputs: " + ", ".join(f"`{n}` {d}" for n, d in r["outputs"])]


def card_translation_table(tasks):
    """Model-card table of chrF/BLEU against the copy-source baseline, per language (tasks: {lang: task_metrics})."""
    lines = ["| language | model chrF | model BLEU | copy-source chrF | copy-source BLEU |\n|---|---:|---:|---:|---:|"]
    for k, name in LANGS:
        m, b = tasks[k]["model"], tasks[k]["copy_source_baseline"]
        lines.append(f"| {name} | {m['chrF']:.1f} | {m['BLEU']:.1f} | {b['chrF']:.1f} | {b['BLEU']:.1f} |")
    return lines
