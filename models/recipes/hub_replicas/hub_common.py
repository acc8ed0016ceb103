"""Shared helpers for the Hub-layout replica fixtures (models/recipes/hub_replicas/).

Everything here is written for this project; it re-implements, from their documented behaviour, the
pieces of Optimum's ONNX export (decoder merging with an `If` on `use_cache_branch`) that real
Xenova/* and onnx-community/* repositories were produced with.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
from decimal import Decimal
from typing import Dict, List, Optional, Sequence

import numpy as np
import onnx
from onnx import helper, numpy_helper

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from common import _strip_prefix  # noqa: E402  (models/recipes/common.py: the GPT recipe's export uses it too)

NEG = -3.4028234663852886e38  # torch.finfo(torch.float32).min


def write_json(path: str, obj, indent: Optional[int] = 2) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False, indent=indent)
        f.write("\n")


def _js_number(x) -> str:
    """A number as JavaScript's JSON.stringify writes it (shortest round-trip digits, decimal notation for
    1e-7 <= |x| < 1e21, else `1.8e-7` / `1e+21` style), so a file reference.mjs wrote keeps its bytes."""
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        raise TypeError(x)
    if isinstance(x, int):
        return str(x)
    if x == 0:
        return "0"
    sign, digits, exp = Decimal(repr(x)).as_tuple()
    d = "".join(map(str, digits)).rstrip("0")
    exp += len(digits) - len(d)
    k, n = len(d), len(d) + exp
    if k <= n <= 21:
        body = d + "0" * (n - k)
    elif 0 < n <= 21:
        body = d[:n] + "." + d[n:]
    elif -6 < n <= 0:
        body = "0." + "0" * (-n) + d
    else:
        e = n - 1
        body = (d if k == 1 else d[0] + "." + d[1:]) + "e" + ("+" if e > 0 else "-") + str(abs(e))
    return ("-" if sign else "") + body


def js_json(obj) -> str:
    """JSON.stringify(obj) (compact, no spaces) for the JSON types Python's json module reads."""
    if isinstance(obj, dict):
        return "{" + ",".join(json.dumps(str(k), ensure_ascii=False) + ":" + js_json(v) for k, v in obj.items()) + "}"
    if isinstance(obj, list):
        return "[" + ",".join(js_json(v) for v in obj) + "]"
    if obj is None or isinstance(obj, (bool, str)):
        return json.dumps(obj, ensure_ascii=False)
    return _js_number(obj)


def read_json(path: str):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def strip_prefix(graph, prefix: str) -> None:
    """Drop a wrapper module prefix ('/wrap/...', 'wrap.') from node, value and initializer names."""
    _strip_prefix(graph, prefix)


def reference_steps(rows, ref_steps):
    """PyTorch's logits rows against reference.json's steps (transformers.js): the steps as reference.mjs
    writes them (raw logits, top-5 log-probs), the largest |dlogit| and |dlogprob| against transformers.js."""
    import torch  # only the torchref steps need torch
    steps, worst, worst_lp = [], 0.0, 0.0
    for row, st in zip(rows, ref_steps):
        worst = max(worst, float((row - torch.tensor(st["logits"])).abs().max()))
        lp = torch.log_softmax(row.double(), -1)
        worst_lp = max(worst_lp, max(abs(float(lp[e["id"]]) - e["logprob"]) for e in st["top5"]))
        v, ix = torch.topk(lp, 5)
        steps.append({"logits": [round(float(x), 6) for x in row],
                      "top5": [{"id": int(i), "logprob": round(float(x), 7)} for x, i in zip(v, ix)]})
    return steps, worst, worst_lp


class Probe:
    """Collects intermediate tensors (attention probabilities, the residual stream after each block) while
    `capture()` is active, keyed by what the model passes (a module or a name), in call order. Inactive it is
    the identity, so the builds, the exported graphs and the greedy loops never see it."""

    def __init__(self):
        self.data = None

    def __call__(self, key, t):
        if self.data is not None:
            self.data.setdefault(key, []).append(t.detach().clone())
        return t

    @contextlib.contextmanager
    def capture(self):
        self.data = {}
        try:
            yield self.data
        finally:
            self.data = None


PROBE = Probe()


def attention_maps(p) -> list:
    """[1, heads, q, k] softmax probabilities -> [head][query][key], rounded to 7 decimals (as tiny-llama-gqa's)."""
    return [[[round(float(x), 7) for x in row] for row in head] for head in p[0]]


def lens_layers(layer_logits, logits) -> list:
    """Logit lens: layer_logits[i] = the model's own head (final norm, rescale, lm_head) applied to the residual
    stream after block i, [T, V]; returns [layer][position] = {"top": top-5 {id, prob}} (softmax in float64, probs
    rounded to 7 decimals). The last block's lens must be the model's output distribution within 1e-6."""
    import torch
    final = torch.softmax(logits.double(), -1)
    last = torch.softmax(layer_logits[-1].double(), -1)
    d = float((last - final).abs().max())
    assert d <= 1e-6, f"last layer's lens differs from softmax(logits) by {d}"
    out = []
    for lg in layer_logits:
        v, ix = torch.topk(torch.softmax(lg.double(), -1), 5, -1)
        out.append([{"top": [{"id": int(j), "prob": round(float(x), 7)} for x, j in zip(vr, ir)]}
                    for vr, ir in zip(v, ix)])
    return out


def check_rows(logits, start: int, ref_steps, what: str) -> None:
    """The extra forward pass's logits rows start.. must match transformers.js's steps within 1e-4 (ids sanity)."""
    import torch
    for s_i, st in enumerate(ref_steps):
        if start + s_i < logits.shape[0]:
            d = float((logits[start + s_i] - torch.tensor(st["logits"])).abs().max())
            assert d <= 1e-4, f"{what}: step {s_i} |dlogit| {d}"


def seq2seq_attention(p: dict, start_id: int, run, enc_keys, self_keys, cross_keys):
    """One encoder pass over the first prompt's source ids and one decoder pass over [decoder start] + its first 4
    transformers.js-fp32 greedy ids, `run(source_ids, decoder_ids) -> logits [T, V]` under PROBE; the keys name the
    modules whose attention probabilities [1, heads, q, k] are recorded, per layer. Returns the "attention" entry,
    the probe's data and the logits."""
    import torch
    dec = [start_id] + p["greedy_ids"][:4]
    with torch.no_grad(), PROBE.capture() as d:
        lg = run(p["input_ids"], dec)
    check_rows(lg, 0, p["steps"], "attention pass")
    for k in list(enc_keys) + list(self_keys) + list(cross_keys):
        assert len(d[k]) == 1, "one attention call per module"
    return ({"text": p["text"], "source_ids": p["input_ids"], "decoder_ids": dec,
             "encoder": [attention_maps(d[k][0]) for k in enc_keys],
             "decoder": [attention_maps(d[k][0]) for k in self_keys],
             "cross": [attention_maps(d[k][0]) for k in cross_keys]}, d, lg)


def finish_torchref(out: str, ref: dict, prompts: list, same: bool, worst: float, worst_lp: float,
                    extra: Optional[dict] = None) -> None:
    """Record PyTorch's outputs beside transformers.js's in reference.json and exit 0 when they agree within 1e-4.
    `extra` (attention maps, logit lens) is added after the existing keys, so those stay byte-identical."""
    ref.pop("pytorch_stale", None)
    ref["pytorch"] = {"prompts": prompts, "greedy_equal_transformersjs_fp32": same,
                      "max_abs_logit_diff_vs_transformersjs_fp32": worst, "max_abs_logprob_diff": worst_lp}
    ref["pytorch"].update(extra or {})
    path = os.path.join(out, "reference.json")
    with open(path, encoding="utf-8") as f:
        head = f.read(200)  # written by reference.mjs and never by torchref ('{"model":"...'): keep JavaScript's bytes
    compact = head[head.index('":') + 2] != " "
    if compact:
        with open(path, "w", encoding="utf-8") as f:
            f.write(js_json(ref) + "\n")
    else:
        write_json(path, ref, indent=None)
    print(f"PyTorch vs transformers.js fp32 ({os.path.basename(out)}): greedy equal {same}; max |dlogit| {worst:.2e}; max |dlogprob| {worst_lp:.2e}")
    ok = same and worst <= 1e-4 and worst_lp <= 1e-4
    print("TORCHREF OK" if ok else "TORCHREF FAILED")
    sys.exit(0 if ok else 1)


def torch_export(module, args, path: str, input_names, output_names, dynamic_axes, opset: int = 14,
                 prefix: Optional[str] = "wrap") -> onnx.ModelProto:
    """torch.onnx.export (constant folding on, as Optimum does), then strip the wrapper prefix."""
    import torch
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with torch.no_grad():
        torch.onnx.export(module, args, path, input_names=input_names, output_names=output_names,
                          dynamic_axes=dynamic_axes, opset_version=opset, do_constant_folding=True)
    m = onnx.load(path)
    if prefix:
        strip_prefix(m.graph, prefix)
    m.producer_name = "pytorch"
    onnx.checker.check_model(m)
    onnx.save(m, path)
    return m


# ------------------------------------------------------------------ Optimum-style decoder merge

def _dims(vi) -> List:
    out = []
    for d in vi.type.tensor_type.shape.dim:
        out.append(d.dim_param if d.dim_param else d.dim_value)
    return out


def _is_dedup_candidate(t: onnx.TensorProto) -> bool:
    # Optimum keeps scalars and 1-D int32/int64 tensors inside each branch; everything else is
    # hoisted to the outer graph and shared between the two branches when the bytes are equal.
    return len(t.dims) > 1 or (len(t.dims) == 1 and t.data_type not in (6, 7))


def merge_decoders(no_past: onnx.ModelProto, with_past: onnx.ModelProto, graph_name: str = "merged",
                   ir_version: int = 8) -> onnx.ModelProto:
    """Port of the behaviour of optimum.onnx.merge_decoders(strict=False).

    * outputs: the with-past graph gets the no-past graph's output list, in its order and with its
      shapes; an output missing from the with-past graph (present.*.encoder.* of seq2seq decoders) becomes
      an empty Constant whose first dynamic axis is 0 and further dynamic axes are 1;
    * inputs: union (no-past graph's inputs first), then `use_cache_branch` (bool [1]);
    * initializers: tensors that are not scalars / 1-D integer tensors are hoisted to the outer graph,
      deduplicated across both graphs by (dtype, bytes, dims) and renamed `{name}_{graph_name}_{k}`;
    * one node `optimum::if` (If) with then_branch = with_past, else_branch = no_past.
    (IR version 8 instead of Optimum's 9 because python-onnx 1.12 checks IR <= 8; ORT reads both.)
    """
    no_past = onnx.ModelProto.FromString(no_past.SerializeToString())
    with_past = onnx.ModelProto.FromString(with_past.SerializeToString())
    out1 = {o.name: o for o in no_past.graph.output}
    names2 = {o.name for o in with_past.graph.output}
    assert names2.issubset(out1), "with-past graph has outputs the no-past graph lacks"
    new_outputs = []
    for o in no_past.graph.output:
        shape = _dims(o)
        if o.name not in names2:
            dummy, seen = [], False
            for d in shape:
                if isinstance(d, str):
                    dummy.append(1 if seen else 0)
                    seen = True
                else:
                    dummy.append(d)
            value = helper.make_tensor("const_tensor", o.type.tensor_type.elem_type, dummy, vals=[])
            with_past.graph.node.append(helper.make_node("Constant", [], [o.name], name=f"Constant_{len(with_past.graph.node) + 1}",
                                                         value=value))
        new_outputs.append(helper.make_tensor_value_info(o.name, o.type.tensor_type.elem_type, shape))
    del with_past.graph.output[:]
    with_past.graph.output.extend(new_outputs)

    inputs, seen_in = [], set()
    for m in (no_past, with_past):
        for i in m.graph.input:
            if i.name not in seen_in:
                seen_in.add(i.name)
                inputs.append(i)

    # deduplicate initializers across the two graphs
    groups: Dict[tuple, List[tuple]] = {}
    order: List[tuple] = []
    for mi, m in enumerate((no_past, with_past)):
        for t in m.graph.initializer:
            if not _is_dedup_candidate(t):
                continue
            arr = numpy_helper.to_array(t)
            key = (t.data_type, hashlib.sha512(arr.tobytes()).hexdigest(), tuple(t.dims))
            if key not in groups:
                groups[key] = []
                order.append(key)
            groups[key].append((t.name, mi))
    rename: Dict[tuple, str] = {}
    used: Dict[str, int] = {}
    for key in order:
        common = groups[key][0][0]
        used[common] = used.get(common, -1) + 1
        for k in groups[key]:
            rename[k] = f"{common}_{graph_name}_{used[common]}"
    hoisted, done = [], set()
    branch_inits = []
    for mi, m in enumerate((no_past, with_past)):
        for node in m.graph.node:
            for j, x in enumerate(node.input):
                if (x, mi) in rename:
                    node.input[j] = rename[(x, mi)]
        keep = []
        for t in m.graph.initializer:
            if (t.name, mi) in rename:
                nn_ = rename[(t.name, mi)]
                if nn_ not in done:
                    done.add(nn_)
                    t2 = onnx.TensorProto()
                    t2.CopyFrom(t)
                    t2.name = nn_
                    hoisted.append(t2)
            else:
                keep.append(t)
        branch_inits.append(keep)

    else_g = helper.make_graph(list(no_past.graph.node), "no_past", [], list(no_past.graph.output), branch_inits[0])
    then_g = helper.make_graph(list(with_past.graph.node), "with_past", [], list(with_past.graph.output), branch_inits[1])
    use_cache = helper.make_tensor_value_info("use_cache_branch", onnx.TensorProto.BOOL, [1])
    if_node = helper.make_node("If", ["use_cache_branch"], [o.name for o in no_past.graph.output], name="optimum::if",
                               then_branch=then_g, else_branch=else_g)
    g = helper.make_graph([if_node], graph_name, inputs + [use_cache], list(no_past.graph.output), hoisted)
    opsets, doms = [], set()
    for op in list(no_past.opset_import) + list(with_past.opset_import):
        if op.domain not in doms:
            doms.add(op.domain)
            opsets.append(op)
    merged = helper.make_model(g, producer_name="optimum-onnx", opset_imports=opsets)
    merged.ir_version = ir_version
    onnx.checker.check_model(merged)
    return merged


# ------------------------------------------------------------------ tokenizers

def metaspace():
    return {"type": "Metaspace", "replacement": "\u2581", "add_prefix_space": True, "prepend_scheme": "always", "split": True}


def added(id_, content, special=True):
    return {"id": id_, "content": content, "single_word": False, "lstrip": False, "rstrip": False,
            "normalized": False, "special": special}


def file_sizes(folder: str) -> List[tuple]:
    out = []
    for root, _, files in os.walk(folder):
        for f in sorted(files):
            p = os.path.join(root, f)
            out.append((os.path.relpath(p, folder), os.path.getsize(p)))
    return sorted(out)
