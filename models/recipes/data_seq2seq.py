#!/usr/bin/python3
"""Offline Seq2Seq data for models/bart-translate-summarize and models/rnn-attention-seq2seq.

Translation: gettext catalogs that Debian packages install under
/usr/share/locale/{de,fr,es}/LC_MESSAGES/*.mo (English msgid -> translated msgstr).
Summarization: Debian package descriptions (apt `Translation-en` index files,
configured with `Acquire::Languages "en";`): long description -> one-line summary.

Writes JSONL files {"src": "<task prefix><text>", "tgt": "...", "task": "de|fr|es|sum",
"origin": "<package or catalog>"} to OUT_DIR/{train,valid,test}.jsonl.
Split is by a hash of the English source text, so the same English string never appears
in two splits (also across languages). ~1% valid, ~1% test.

Usage: /usr/bin/python3 models/recipes/data_seq2seq.py [OUT_DIR]
"""
import glob
import hashlib
import json
import os
import random
import re
import struct
import subprocess
import sys

PREFIX = {
    "de": "translate English to German: ",
    "fr": "translate English to French: ",
    "es": "translate English to Spanish: ",
    "sum": "summarize: ",
}

MAX_SRC_CHARS = 300
MAX_TGT_CHARS = 360
MAX_DESC_CHARS = 900
ISO_KEEP_PERCENT = 15


def read_mo(path):
    """Minimal .mo parser honouring the header charset. Returns list of (msgid, msgstr)."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 28:
        return []
    magic = struct.unpack("<I", data[:4])[0]
    if magic == 0x950412DE:
        e = "<"
    elif magic == 0xDE120495:
        e = ">"
    else:
        return []
    _, n, o_orig, o_trans = struct.unpack(e + "4I", data[4:20])
    raw = []
    for i in range(n):
        ol, oo = struct.unpack(e + "2I", data[o_orig + 8 * i:o_orig + 8 * i + 8])
        tl, to = struct.unpack(e + "2I", data[o_trans + 8 * i:o_trans + 8 * i + 8])
        raw.append((data[oo:oo + ol], data[to:to + tl]))
    charset = "utf-8"
    for k, v in raw:
        if k == b"":
            m = re.search(rb"charset=([A-Za-z0-9_-]+)", v)
            if m:
                charset = m.group(1).decode("ascii")
    out = []
    for k, v in raw:
        if k == b"":
            continue
        try:
            ks = k.decode("utf-8")
            vs = v.decode(charset)
        except (UnicodeDecodeError, LookupError):
            try:
                ks = k.decode("latin-1")
                vs = v.decode("latin-1")
            except Exception:
                continue
        if "\x04" in ks:  # msgctxt
            ks = ks.split("\x04", 1)[1]
        ks = ks.split("\x00")[0]  # plural: singular form
        vs = vs.split("\x00")[0]
        out.append((ks, vs))
    return out


ACCEL_RE = re.compile(r"(?<![&\w])&(?=\w)|(?<=^)_(?=\w)|(?<=\s)_(?=\w)|(?<=\w)_(?=\w)")
FMT_RE = re.compile(r"%(\d+\$)?[-#0 +']*\d*(\.\d+)?(hh|h|ll|l|L|z|j|t)?[diouxXeEfFgGcspn%]|\{[^}]*\}|\$\{?\w+\}?|<[^>]+>")


def strip_accel(s):
    # GTK mnemonics "_Open", Qt/KDE "&Open"; keep "&&" as "&"; keep snake_case identifiers.
    s = s.replace("&&", "\x01")
    s = re.sub(r"&(?=\w)", "", s)
    s = re.sub(r"(?:(?<=^)|(?<=[\s(\[\"']))_(?=\w)", "", s)
    # mnemonic inside a word, e.g. "Op_en" (only if a single underscore and no other underscore use)
    if s.count("_") == 1 and re.search(r"[a-zà-ÿ]_[a-zà-ÿ]", s, re.I) and " " in s:
        s = s.replace("_", "")
    s = s.replace("\x01", "&")
    # "(_O)" style CJK mnemonics
    s = re.sub(r"\s*\(_?\w\)$", "", s)
    return s


def clean_pair(src, tgt):
    src = strip_accel(src).strip()
    tgt = strip_accel(tgt).strip()
    if not src or not tgt:
        return None
    if len(src) > MAX_SRC_CHARS or len(tgt) > MAX_TGT_CHARS:
        return None
    if "\n" in src or "\n" in tgt or "\t" in src or "\t" in tgt:
        return None
    if not re.search(r"[A-Za-z]{2}", src):
        return None
    if src.startswith(("Project-Id-Version", "Plural-Forms")):
        return None
    nf = len(FMT_RE.findall(src))
    words = len(re.findall(r"[A-Za-z]{2,}", src))
    if nf > 3 or (nf > 0 and nf >= words):
        return None
    if len(FMT_RE.findall(tgt)) != nf:
        return None
    # translation much longer/shorter than source: likely noise
    if len(tgt) > 3 * len(src) + 10 or len(src) > 3 * len(tgt) + 10:
        return None
    # untranslated placeholders, translator credits
    if src.lower() in ("translator-credits", "translator_credits", "translated by"):
        return None
    return src, tgt


def translation_pairs(lang):
    seen = set()
    pairs = []
    for path in sorted(glob.glob(f"/usr/share/locale/{lang}/LC_MESSAGES/*.mo")):
        origin = os.path.basename(path)[:-3]
        try:
            entries = read_mo(path)
        except Exception:
            continue
        for k, v in entries:
            c = clean_pair(k, v)
            if c is None:
                continue
            if c[0] in seen:
                continue
            # ISO code lists (language/region names) are ~25% of all strings; keep a sample
            if origin.startswith("iso_") and int(hashlib.md5(c[0].encode()).hexdigest()[:4], 16) % 100 >= ISO_KEEP_PERCENT:
                continue
            seen.add(c[0])
            pairs.append((c[0], c[1], origin))
    return pairs


def read_translation_index(path):
    try:
        out = subprocess.run(["/usr/lib/apt/apt-helper", "cat-file", path], capture_output=True, check=True)
        return out.stdout.decode("utf-8", "replace")
    except Exception:
        return open(path, encoding="utf-8", errors="replace").read()


def summarization_pairs():
    files = sorted(glob.glob("/var/lib/apt/lists/*_i18n_Translation-en*"))
    seen = set()
    pairs = []
    for path in files:
        text = read_translation_index(path)
        for block in text.split("\n\n"):
            pkg = None
            summary = None
            long_lines = []
            in_desc = False
            for line in block.split("\n"):
                if line.startswith("Package: "):
                    pkg = line[9:].strip()
                    in_desc = False
                elif line.startswith("Description-en: "):
                    summary = line[len("Description-en: "):].strip()
                    in_desc = True
                elif in_desc and line.startswith(" "):
                    long_lines.append(line[1:])
                else:
                    in_desc = False
            if not pkg or not summary or not long_lines:
                continue
            paras, cur = [], []
            for l in long_lines:
                if l.strip() == ".":
                    if cur:
                        paras.append(" ".join(cur))
                    cur = []
                else:
                    cur.append(l.strip())
            if cur:
                paras.append(" ".join(cur))
            body = "\n".join(re.sub(r"\s+", " ", p).strip() for p in paras if p.strip())
            if len(body) < 40:
                continue
            if len(body) > MAX_DESC_CHARS:
                cut = body[:MAX_DESC_CHARS]
                body = cut[: cut.rfind(" ")] if " " in cut else cut
            summary = re.sub(r"\s+", " ", summary)
            if len(summary) > 120:
                continue
            key = (body, summary)
            if key in seen:
                continue
            seen.add(key)
            pairs.append((body, summary, pkg))
    return pairs


def split_of(text):
    h = int(hashlib.md5(text.encode("utf-8")).hexdigest()[:8], 16) % 1000
    if h < 10:
        return "valid"
    if h < 20:
        return "test"
    return "train"


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", ".work", "seq2seq", "data")
    os.makedirs(out_dir, exist_ok=True)
    rows = {"train": [], "valid": [], "test": []}
    stats = {}
    for lang in ["de", "fr", "es"]:
        ps = translation_pairs(lang)
        stats[lang] = len(ps)
        for s, t, o in ps:
            rows[split_of(s)].append({"src": PREFIX[lang] + s, "tgt": t, "task": lang, "origin": o})
    sp = summarization_pairs()
    stats["sum"] = len(sp)
    for s, t, o in sp:
        rows[split_of(s)].append({"src": PREFIX["sum"] + s, "tgt": t, "task": "sum", "origin": o})
    rng = random.Random(1234)
    for k in rows:
        rng.shuffle(rows[k])
        with open(os.path.join(out_dir, f"{k}.jsonl"), "w", encoding="utf-8") as f:
            for r in rows[k]:
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
    per_split = {k: {t: sum(1 for r in v if r["task"] == t) for t in PREFIX} for k, v in rows.items()}
    info = {"pairs": stats, "splits": per_split}
    with open(os.path.join(out_dir, "stats.json"), "w") as f:
        json.dump(info, f, indent=1)
    print(json.dumps(info))


if __name__ == "__main__":
    main()
