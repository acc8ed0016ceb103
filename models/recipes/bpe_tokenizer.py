"""Byte-level BPE tokenizer (GPT-2 style), trainer and encoder, no third-party deps except `regex`.

Writes Hugging Face `tokenizers` JSON (`tokenizer.json`) that transformers.js and HF tokenizers load.

API
---
    from bpe_tokenizer import train_bpe, Tokenizer

    tok = train_bpe(texts, vocab_size=8192, special_tokens=["<|endoftext|>"])
        # texts: iterable of str (documents). Special tokens get ids 0..k-1 in the given order,
        # then the 256 byte symbols (ids k..k+255, byte value order), then merges in rank order.
        # Special tokens occurring inside texts are never merged/learned (text is split on them).
    ids = tok.encode("def f():\n    return 1")        # list[int]; special tokens in text -> their id
    s   = tok.decode(ids)                            # str (skip_special_tokens=False by default)
    tok.token_to_id("<|endoftext|>"), tok.id_to_token(5), len(tok) / tok.vocab_size
    tok.save("models/gpt2-code", tokenizer_config={...})
        # writes tokenizer.json and tokenizer_config.json (the dict given, written as is;
        # "model_max_length", "tokenizer_class" etc. are the caller's choice).
        # Optional kwargs: post_processor=<dict> (default ByteLevel trim_offsets, as GPT-2;
        #   pass e.g. {"type": "RobertaProcessing", "sep": ["</s>", 2], "cls": ["<s>", 0],
        #   "trim_offsets": True, "add_prefix_space": False} for BART), unk_token=None.
    tok = Tokenizer.load("models/gpt2-code/tokenizer.json")

Pre-tokenization is GPT-2's regex (`'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+`)
on the raw text (ByteLevel add_prefix_space=false), then each piece is mapped through GPT-2's
bytes_to_unicode table and split into merges by rank (lowest rank first), as HF/transformers.js do.

CLI (quick test): /usr/bin/python3 bpe_tokenizer.py OUT_DIR VOCAB_SIZE FILE...
"""
from __future__ import annotations

import heapq
import json
import os
import sys
from collections import Counter, defaultdict
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import regex

GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
_PRE_RE = regex.compile(GPT2_PATTERN)


def bytes_to_unicode() -> Dict[int, str]:
    """GPT-2's reversible byte -> printable unicode char map."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


BYTE_ENCODER = bytes_to_unicode()
BYTE_DECODER = {v: k for k, v in BYTE_ENCODER.items()}


def pretokenize(text: str) -> List[str]:
    """GPT-2 regex split, each piece byte-mapped to the printable alphabet."""
    return ["".join(BYTE_ENCODER[b] for b in piece.encode("utf-8")) for piece in _PRE_RE.findall(text)]


def _split_specials(text: str, special_re) -> List[Tuple[bool, str]]:
    if special_re is None:
        return [(False, text)]
    out, pos = [], 0
    for m in special_re.finditer(text):
        if m.start() > pos:
            out.append((False, text[pos:m.start()]))
        out.append((True, m.group(0)))
        pos = m.end()
    if pos < len(text):
        out.append((False, text[pos:]))
    return out


class Tokenizer:
    def __init__(self, vocab: Dict[str, int], merges: List[Tuple[str, str]], special_tokens: Sequence[str]):
        self.vocab = dict(vocab)
        self.merges = [tuple(m) for m in merges]
        self.special_tokens = list(special_tokens)
        self.id_to_tok = {i: t for t, i in self.vocab.items()}
        self.ranks = {m: i for i, m in enumerate(self.merges)}
        self._cache: Dict[str, List[int]] = {}
        if self.special_tokens:
            alts = sorted(self.special_tokens, key=len, reverse=True)
            self._special_re = regex.compile("|".join(regex.escape(s) for s in alts))
        else:
            self._special_re = None

    # ---- basic info
    def __len__(self) -> int:
        return len(self.vocab)

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def token_to_id(self, tok: str) -> Optional[int]:
        return self.vocab.get(tok)

    def id_to_token(self, i: int) -> Optional[str]:
        return self.id_to_tok.get(i)

    # ---- encoding
    def _bpe(self, word: str) -> List[int]:
        cached = self._cache.get(word)
        if cached is not None:
            return cached
        syms = list(word)
        ranks = self.ranks
        while len(syms) > 1:
            best, best_i = None, -1
            for i in range(len(syms) - 1):
                r = ranks.get((syms[i], syms[i + 1]))
                if r is not None and (best is None or r < best):
                    best, best_i = r, i
            if best is None:
                break
            a, b = syms[best_i], syms[best_i + 1]
            # merge all occurrences of (a, b), left to right
            out, i = [], 0
            while i < len(syms):
                if i < len(syms) - 1 and syms[i] == a and syms[i + 1] == b:
                    out.append(a + b)
                    i += 2
                else:
                    out.append(syms[i])
                    i += 1
            syms = out
        ids = [self.vocab[s] for s in syms]
        if len(self._cache) < 500_000:
            self._cache[word] = ids
        return ids

    def encode(self, text: str) -> List[int]:
        ids: List[int] = []
        for is_special, chunk in _split_specials(text, self._special_re):
            if is_special:
                ids.append(self.vocab[chunk])
            else:
                for w in pretokenize(chunk):
                    ids.extend(self._bpe(w))
        return ids

    def decode(self, ids: Iterable[int], skip_special_tokens: bool = False) -> str:
        parts: List[str] = []
        buf: List[str] = []

        def flush():
            if buf:
                parts.append(bytes(BYTE_DECODER[c] for c in "".join(buf)).decode("utf-8", errors="replace"))
                buf.clear()

        specials = set(self.special_tokens)
        for i in ids:
            t = self.id_to_tok.get(int(i))
            if t is None:  # id outside the vocabulary (e.g. a model with a larger vocab_size): no text
                continue
            if t in specials:
                flush()
                if not skip_special_tokens:
                    parts.append(t)
            else:
                buf.append(t)
        flush()
        return "".join(parts)

    # ---- serialisation
    def to_hf_json(self, post_processor: Optional[dict] = None, unk_token: Optional[str] = None) -> dict:
        added = [
            {"id": self.vocab[s], "content": s, "single_word": False, "lstrip": False, "rstrip": False,
             "normalized": False, "special": True}
            for s in self.special_tokens
        ]
        if post_processor is None:
            post_processor = {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True}
        return {
            "version": "1.0",
            "truncation": None,
            "padding": None,
            "added_tokens": added,
            "normalizer": None,
            "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
            "post_processor": post_processor,
            "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
            "model": {
                "type": "BPE",
                "dropout": None,
                "unk_token": unk_token,
                "continuing_subword_prefix": "",
                "end_of_word_suffix": "",
                "fuse_unk": False,
                "byte_fallback": False,
                "vocab": dict(sorted(self.vocab.items(), key=lambda kv: kv[1])),
                "merges": [f"{a} {b}" for a, b in self.merges],
            },
        }

    def save(self, folder: str, tokenizer_config: Optional[dict] = None, post_processor: Optional[dict] = None,
             unk_token: Optional[str] = None) -> None:
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, "tokenizer.json"), "w", encoding="utf-8") as f:
            json.dump(self.to_hf_json(post_processor, unk_token), f, ensure_ascii=False, indent=None,
                      separators=(",", ":"))
        if tokenizer_config is not None:
            with open(os.path.join(folder, "tokenizer_config.json"), "w", encoding="utf-8") as f:
                json.dump(tokenizer_config, f, ensure_ascii=False, indent=2)

    @classmethod
    def load(cls, path: str) -> "Tokenizer":
        if os.path.isdir(path):
            path = os.path.join(path, "tokenizer.json")
        with open(path, encoding="utf-8") as f:
            j = json.load(f)
        vocab = j["model"]["vocab"]
        merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in j["model"]["merges"]]
        specials = [t["content"] for t in sorted(j.get("added_tokens", []), key=lambda t: t["id"])]
        return cls(vocab, merges, specials)


def train_bpe(texts: Iterable[str], vocab_size: int, special_tokens: Sequence[str] = ("<|endoftext|>",),
              min_frequency: int = 2, verbose: bool = True) -> Tokenizer:
    """Train byte-level BPE. Returns a Tokenizer with len == vocab_size (or fewer if merges run out)."""
    import time

    t0 = time.time()
    special_tokens = list(special_tokens)
    special_re = None
    if special_tokens:
        special_re = regex.compile("|".join(regex.escape(s) for s in sorted(special_tokens, key=len, reverse=True)))
    counts: Counter = Counter()
    for text in texts:
        for is_special, chunk in _split_specials(text, special_re):
            if not is_special:
                counts.update(pretokenize(chunk))
    if verbose:
        print(f"[bpe] {sum(counts.values())} pre-tokens, {len(counts)} types ({time.time() - t0:.1f}s)", flush=True)

    vocab: Dict[str, int] = {}
    for s in special_tokens:
        vocab[s] = len(vocab)
    for b in range(256):
        vocab[BYTE_ENCODER[b]] = len(vocab)

    words: List[List[str]] = []
    freqs: List[int] = []
    for w, c in counts.items():
        words.append(list(w))
        freqs.append(c)
    del counts

    pair_counts: Dict[Tuple[str, str], int] = defaultdict(int)
    pair_words: Dict[Tuple[str, str], set] = defaultdict(set)
    for wi, (syms, c) in enumerate(zip(words, freqs)):
        for i in range(len(syms) - 1):
            p = (syms[i], syms[i + 1])
            pair_counts[p] += c
            pair_words[p].add(wi)
    heap = [(-c, p) for p, c in pair_counts.items()]
    heapq.heapify(heap)

    merges: List[Tuple[str, str]] = []
    merged = set()
    while len(vocab) < vocab_size and heap:
        negc, pair = heapq.heappop(heap)
        cur = pair_counts.get(pair, 0)
        if cur != -negc:
            if cur > 0:
                heapq.heappush(heap, (-cur, pair))
            continue
        if cur < min_frequency:
            break
        if pair in merged:  # can only reappear through a different route to the same string; ignore
            pair_counts.pop(pair, None)
            continue
        merged.add(pair)
        a, b = pair
        new = a + b
        merges.append(pair)
        if new not in vocab:
            vocab[new] = len(vocab)
        changed = set()
        for wi in pair_words.pop(pair, ()):
            syms = words[wi]
            if len(syms) < 2:
                continue
            # quick check the pair is still present
            found = False
            for i in range(len(syms) - 1):
                if syms[i] == a and syms[i + 1] == b:
                    found = True
                    break
            if not found:
                continue
            c = freqs[wi]
            for i in range(len(syms) - 1):
                p = (syms[i], syms[i + 1])
                pair_counts[p] -= c
                changed.add(p)
            out, i = [], 0
            n = len(syms)
            while i < n:
                if i < n - 1 and syms[i] == a and syms[i + 1] == b:
                    out.append(new)
                    i += 2
                else:
                    out.append(syms[i])
                    i += 1
            words[wi] = out
            for i in range(len(out) - 1):
                p = (out[i], out[i + 1])
                pair_counts[p] += c
                pair_words[p].add(wi)
                changed.add(p)
        pair_counts.pop(pair, None)
        changed.discard(pair)
        for p in changed:
            c = pair_counts.get(p, 0)
            if c <= 0:
                pair_counts.pop(p, None)
            else:
                heapq.heappush(heap, (-c, p))
        if verbose and len(merges) % 1000 == 0:
            print(f"[bpe] {len(merges)} merges, last {pair!r} x{cur} ({time.time() - t0:.1f}s)", flush=True)
    if verbose:
        print(f"[bpe] done: vocab {len(vocab)} ({time.time() - t0:.1f}s)", flush=True)
    return Tokenizer(vocab, merges, special_tokens)


if __name__ == "__main__":
    out, vs, files = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    docs = [open(p, encoding="utf-8", errors="replace").read() for p in files]
    tok = train_bpe(docs, vs)
    tok.save(out, {"tokenizer_class": "GPT2Tokenizer"})
    s = "def __init__(self, x):\n    return 'ä é 中文 🙂'\n"
    ids = tok.encode(s)
    print(ids, tok.decode(ids) == s)
