#!/usr/bin/python3
"""Held-out metrics of the Seq2Seq recipes (own implementations, no sacrebleu/rouge-score): corpus chrF and BLEU for
translation, mean ROUGE-1/2/L F1 for summarization, each next to its trivial baseline (task_metrics), and the
scoring of the outputs that eval_engine.mjs writes (cmd_metrics, cmd_tuning: `train_bart.py metrics` / `tuning`).
"""
import json
import math
import os
import re
import sys
from collections import Counter

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import data_seq2seq as D  # noqa: E402


def _chr_ngrams(s, n):
    s = s.replace(" ", "")
    return Counter(s[i:i + n] for i in range(len(s) - n + 1))


def chrf(hyps, refs, order=6, beta=2.0):
    """Corpus chrF (character n-grams 1..order, whitespace removed, beta=2), as sacrebleu's chrF:
    n-gram statistics summed over the corpus, per-order F_beta averaged over orders. 0..100."""
    stats = [[0, 0, 0] for _ in range(order)]  # hyp, ref, match
    for h, r in zip(hyps, refs):
        for n in range(1, order + 1):
            hc, rc = _chr_ngrams(h, n), _chr_ngrams(r, n)
            st = stats[n - 1]
            st[0] += sum(hc.values())
            st[1] += sum(rc.values())
            st[2] += sum(min(c, rc[g]) for g, c in hc.items() if g in rc)
    eps = 1e-16
    f2 = beta ** 2
    score, eff = 0.0, 0
    for nh, nr, nm in stats:
        p = nm / nh if nh else eps
        rcl = nm / nr if nr else eps
        d = f2 * p + rcl
        score += (1 + f2) * p * rcl / d if d > 0 else eps
        eff += 1 if nh and nr else 0
    return 100.0 * score / max(eff, 1)


_BLEU_TOK = re.compile(r"\w+|[^\w\s]", re.UNICODE)


def bleu(hyps, refs, max_n=4):
    """Corpus BLEU-4 (uniform weights, brevity penalty), word/punctuation tokenisation. 0..100."""
    match = [0] * max_n
    total = [0] * max_n
    hl = rl = 0
    for h, r in zip(hyps, refs):
        ht, rt = _BLEU_TOK.findall(h), _BLEU_TOK.findall(r)
        hl += len(ht)
        rl += len(rt)
        for n in range(1, max_n + 1):
            hc = Counter(tuple(ht[i:i + n]) for i in range(len(ht) - n + 1))
            rc = Counter(tuple(rt[i:i + n]) for i in range(len(rt) - n + 1))
            total[n - 1] += sum(hc.values())
            match[n - 1] += sum(min(c, rc[g]) for g, c in hc.items())
    if min(match) == 0 or hl == 0:
        return 0.0
    logp = sum(math.log(m / t) for m, t in zip(match, total)) / max_n
    bp = 1.0 if hl > rl else math.exp(1 - rl / hl)
    return 100.0 * bp * math.exp(logp)


def _rouge_tok(s):
    return re.findall(r"\w+", s.lower())


def rouge(hyps, refs):
    """Mean ROUGE-1/2/L F1 over examples (lower-cased word tokens, no stemming). 0..100."""

    def f(p, r):
        return 0.0 if p + r == 0 else 2 * p * r / (p + r)

    def lcs(a, b):
        if not a or not b:
            return 0
        prev = [0] * (len(b) + 1)
        for x in a:
            cur = [0]
            for j, y in enumerate(b):
                cur.append(prev[j] + 1 if x == y else max(prev[j + 1], cur[j]))
            prev = cur
        return prev[-1]

    tot = {"rouge1": 0.0, "rouge2": 0.0, "rougeL": 0.0}
    for h, r in zip(hyps, refs):
        ht, rt = _rouge_tok(h), _rouge_tok(r)
        for n, key in ((1, "rouge1"), (2, "rouge2")):
            hc = Counter(tuple(ht[i:i + n]) for i in range(len(ht) - n + 1))
            rc = Counter(tuple(rt[i:i + n]) for i in range(len(rt) - n + 1))
            m = sum((hc & rc).values())
            p = m / max(sum(hc.values()), 1)
            rr = m / max(sum(rc.values()), 1)
            tot[key] += f(p, rr)
        l = lcs(ht, rt)
        tot["rougeL"] += f(l / max(len(ht), 1), l / max(len(rt), 1))
    n = max(len(hyps), 1)
    return {k: 100.0 * v / n for k, v in tot.items()}

def task_metrics(task, sources, refs, hyps):
    """The card's metrics of one task, next to its trivial baseline (copy the source / first sentence)."""
    texts = [D.strip_prefix(s) for s in sources]
    if task == "sum":
        return {"n": len(refs), "model": rouge(hyps, refs),
                "first_sentence_baseline": rouge([D.first_sentence(t) for t in texts], refs)}
    return {"n": len(refs), "model": {"chrF": chrf(hyps, refs), "BLEU": bleu(hyps, refs)},
            "copy_source_baseline": {"chrF": chrf(texts, refs), "BLEU": bleu(texts, refs)}}


def cmd_metrics(engine_json, out_json):
    """Scores the outputs eval_engine.mjs wrote (the engine's decoding, as the extension runs it)."""
    run = json.load(open(engine_json))
    res = {"model": run["model"], "options": run["options"], "n_per_task": run["n_per_task"], "tasks": {}}
    for task, v in run["tasks"].items():
        if not v["refs"]:
            continue
        res["tasks"][task] = task_metrics(task, v["sources"], v["refs"], v["hyps"])
        print(task, json.dumps(res["tasks"][task]), flush=True)
    with open(out_json, "w") as f:
        json.dump(res, f, indent=1)


def cmd_tuning(out_json, engine_jsons):
    """Summarization ROUGE of several engine runs over the validation split (one per decoding setting)."""
    rows = []
    for path in engine_jsons:
        run = json.load(open(path))
        v = run["tasks"]["sum"]
        rows.append({"options": run["options"], "n": len(v["refs"]), **rouge(v["hyps"], v["refs"])})
        print(json.dumps(rows[-1]), flush=True)
    with open(out_json, "w") as f:
        json.dump(rows, f, indent=1)
