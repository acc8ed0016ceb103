"""The fill-in-the-middle transformation (Bavarian et al., 2022, "Efficient Training of Language Models to Fill
in the Middle"), in StarCoder's PSM format, for train_gpt.py.

A document is cut at two character positions into prefix, middle and suffix and rearranged as

    <fim_prefix> prefix <fim_suffix> suffix <fim_middle> middle <|endoftext|>

so a left-to-right model learns to write the middle after reading both sides, and to end it. With `spm_share`
> 0, that share of the examples is in the paper's SPM variant (StarCoder's and SantaCoder's training had both),

    <fim_prefix> <fim_suffix> suffix <fim_middle> prefix middle <|endoftext|>

where the middle continues the prefix's text directly, so what the model learned left to right carries over: a
small model learns to fill this way much sooner than in PSM, where the middle starts after the suffix. The pieces are
tokenized separately (as the extension's fillInTheMiddle.ts does with a prompt), and the cuts are at
characters, not tokens: a cursor inside a word is what an editor gives.

Two kinds of cut (`line_share` of them the first):
  line  the rest of one line after a cursor: a random line with at least two non-blank characters, the cursor
        anywhere after its indentation and before its last character; the middle is the line's rest without
        trailing blanks, the suffix starts at the newline. This is the extension's inline completion case.
  span  the FIM paper's cut at two random characters: a middle of 1 to 400 characters (log-uniform) anywhere
        in the document, which may cross lines.
Each side is clipped to a random length (prefix up to PREFIX_CHARS, suffix up to SUFFIX_CHARS characters),
and when the example is longer than the room given, the prefix loses tokens at its start and the suffix at
its end, keeping at least a third of the room for the suffix (fillInTheMiddle.ts truncates so too).

    from fim_transform import FIM_TOKENS, fim_example
    ids, middle_start = fim_example(text, tok, rng, room=512)
"""
from __future__ import annotations

import math

FIM_PREFIX, FIM_MIDDLE, FIM_SUFFIX, FIM_PAD = "<fim_prefix>", "<fim_middle>", "<fim_suffix>", "<fim_pad>"
FIM_TOKENS = [FIM_PREFIX, FIM_MIDDLE, FIM_SUFFIX, FIM_PAD]  # appended after the BPE vocabulary, in this order
PREFIX_CHARS = 1400  # make_inline_cases.mjs gives up to 1400 characters before the cursor
SUFFIX_CHARS = 300   # and up to 300 after the line


def _line_cut(text, rng):
    """(start, end) of the rest of a random line after a random cursor, or None when no line qualifies."""
    for _ in range(8):
        pos = int(rng.integers(0, len(text)))
        start = text.rfind("\n", 0, pos) + 1
        end = text.find("\n", pos)
        end = len(text) if end < 0 else end
        line = text[start:end].rstrip()
        body = line.lstrip()
        if len(body.replace(" ", "").replace("\t", "")) < 2:
            continue
        indent = len(line) - len(body)
        cursor = indent + int(rng.integers(0, len(line) - indent - 1))
        return start + cursor, start + len(line)
    return None


def _span_cut(text, rng):
    length = max(1, int(math.exp(rng.uniform(0, math.log(400)))))
    length = min(length, max(1, len(text) - 1))
    start = int(rng.integers(0, max(1, len(text) - length)))
    return start, start + length


def fim_example(text, tok, rng, room, line_share=0.7, mode=None, spm_share=0.0):
    """Token ids of one FIM example from `text` (at most `room` ids) and the index where the middle starts
    (the first id of the middle), or None when the document gives no cut. `mode` forces 'line' or 'span'."""
    if len(text) < 8:
        return None
    mode = mode or ("line" if rng.random() < line_share else "span")
    cut = _line_cut(text, rng) if mode == "line" else _span_cut(text, rng)
    if cut is None:
        return None
    a, b = cut
    prefix = text[max(0, a - int(rng.integers(0, PREFIX_CHARS + 1))):a]
    middle = text[a:b]
    suffix = text[b:b + int(rng.integers(0, SUFFIX_CHARS + 1))]
    v = tok.vocab
    eot = v["<|endoftext|>"]
    pre, suf, mid = tok.encode(prefix), tok.encode(suffix), tok.encode(middle) + [eot]
    free = room - 3 - len(mid)
    if free < 8:
        return None
    if len(pre) + len(suf) > free:
        keep_suf = min(len(suf), max(free - len(pre), free // 3))
        suf = suf[:keep_suf]
        pre = pre[len(pre) - (free - keep_suf):]
    if spm_share > 0 and rng.random() < spm_share:
        ids = [v[FIM_PREFIX], v[FIM_SUFFIX]] + suf + [v[FIM_MIDDLE]] + pre
    else:
        ids = [v[FIM_PREFIX]] + pre + [v[FIM_SUFFIX]] + suf + [v[FIM_MIDDLE]]
    return ids + mid, len(ids)
