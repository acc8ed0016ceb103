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

Desktop catalogs (optional, DESKTOP=1): the gettext catalogs of desktop applications that are not
installed on the build machine (text editors, file managers, GTK 4, KDE Frameworks, GIMP, Inkscape,
LibreOffice's UI), fetched as .deb files with `apt-get download` (nothing is installed) and unpacked with
`dpkg-deb -x` into OUT_DIR/../desktop-debs. Pairs whose English string is already in the base data are
left out; the rest go to OUT_DIR/desktop_{train,valid,test}.jsonl with the same hash split, so base and
desktop test strings never occur in any training file.

Usage: [DESKTOP=1] /usr/bin/python3 models/recipes/data_seq2seq.py [OUT_DIR]

As a library (the bart_* and rnn_* recipe modules): the task prefixes and special-token ids, load_jsonl,
task_specific_params (config.json), strip_prefix, first_sentence, licence_section (the model cards' data section).
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

TASK_NAMES = {"de": "translation_en_to_de", "fr": "translation_en_to_fr", "es": "translation_en_to_es",
              "sum": "summarization"}
SPECIALS = ["<s>", "<pad>", "</s>", "<unk>"]  # BART ids 0..3
BOS, PAD, EOS, UNK = 0, 1, 2, 3


def load_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(l) for l in f]


def task_specific_params():
    return {
        # beam search, 8 beams, with a length penalty below 1 (favouring shorter synopses): the best ROUGE-L of the
        # settings tried on the validation split through the engine (see the BART card)
        "summarization": {"prefix": PREFIX["sum"], "max_length": 48, "num_beams": 8, "length_penalty": 0.5},
        "translation_en_to_de": {"prefix": PREFIX["de"], "max_length": 64},
        "translation_en_to_fr": {"prefix": PREFIX["fr"], "max_length": 64},
        "translation_en_to_es": {"prefix": PREFIX["es"], "max_length": 64},
    }


def strip_prefix(src):
    for p in PREFIX.values():
        if src.startswith(p):
            return src[len(p):]
    return src


def first_sentence(text):
    t = text.split("\n")[0]
    m = re.search(r"^(.+?[.!?])(\s|$)", t)
    return m.group(1) if m else t


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


# Debian 12 packages whose catalogs hold desktop-application UI strings (menus, dialogs, buttons)
DESKTOP_PACKAGES = [
    "gedit-common", "mousepad", "geany-common", "pluma-common", "gnome-text-editor", "gnome-builder", "meld",
    "libkf5configwidgets-data", "libkf5xmlgui-data", "libkf5widgetsaddons-data", "ktexteditor-data", "kwrite",
    "dolphin", "thunar-data", "libxfce4ui-common", "xfce4-panel", "nautilus-data", "file-roller", "eog",
    "evince-common", "libgtk-4-common", "gimp", "gimp-data", "inkscape", "gnumeric-common", "abiword-common",
    "libreoffice-l10n-de", "libreoffice-l10n-fr", "libreoffice-l10n-es",
]
DESKTOP_MO_GLOBS = ["usr/share/locale/{lang}/LC_MESSAGES/*.mo",
                    "usr/lib/libreoffice/program/resource/{lang}/LC_MESSAGES/*.mo"]


def fetch_desktop_packages(root):
    """apt-get download + dpkg-deb -x of DESKTOP_PACKAGES into root; returns {package: version}."""
    debs = os.path.join(root, "debs")
    tree = os.path.join(root, "tree")
    os.makedirs(debs, exist_ok=True)
    os.makedirs(tree, exist_ok=True)
    versions = {}
    for pkg in DESKTOP_PACKAGES:
        have = glob.glob(os.path.join(debs, f"{pkg}_*.deb"))
        if not have:
            r = subprocess.run(["apt-get", "download", "-q", pkg], cwd=debs, capture_output=True, text=True)
            if r.returncode != 0:
                print(f"warning: apt-get download {pkg} failed: {r.stderr.strip()[-200:]}", file=sys.stderr)
                continue
            have = glob.glob(os.path.join(debs, f"{pkg}_*.deb"))
        deb = sorted(have)[-1]
        subprocess.run(["dpkg-deb", "-x", deb, tree], check=True)
        versions[pkg] = os.path.basename(deb).split("_")[1].replace("%3a", ":")
    return tree, versions


def copyright_licences(path):
    """The distinct `License:` names of a Debian machine-readable copyright file (at most 6)."""
    lic = []
    try:
        txt = open(path, encoding="utf-8", errors="replace").read()
    except OSError:
        return lic
    for m in re.finditer(r"^License:\s*(\S.*)$", txt, re.M):
        name = m.group(1).strip()
        if name not in lic:
            lic.append(name)
    return lic[:6]


def translation_pairs(lang, root="/", patterns=("usr/share/locale/{lang}/LC_MESSAGES/*.mo",), skip=()):
    seen = set(skip)
    pairs = []
    paths = sorted(p for pat in patterns for p in glob.glob(os.path.join(root, pat.format(lang=lang))))
    for path in paths:
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


def write_rows(out_dir, name, rows):
    rng = random.Random(1234)
    rng.shuffle(rows)
    with open(os.path.join(out_dir, name), "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


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


def desktop_data(out_dir, base_sources):
    tree, versions = fetch_desktop_packages(os.path.join(out_dir, "..", "desktop-debs"))
    rows = {"train": [], "valid": [], "test": []}
    for lang in ["de", "fr", "es"]:
        for s, t, o in translation_pairs(lang, tree, DESKTOP_MO_GLOBS, skip=base_sources[lang]):
            rows[split_of(s)].append({"src": PREFIX[lang] + s, "tgt": t, "task": lang, "origin": o})
    for k, v in rows.items():
        write_rows(out_dir, f"desktop_{k}.jsonl", v)
    from collections import Counter
    # a package's copyright file may sit under the name of the package it depends on (a symlinked doc folder)
    licences = {pkg: copyright_licences(os.path.join(tree, "usr/share/doc", pkg, "copyright")) for pkg in versions}
    return {"packages": versions, "licences": licences,
            "splits": {k: {lang: sum(1 for r in v if r["task"] == lang) for lang in ("de", "fr", "es")}
                       for k, v in rows.items()},
            "catalogs": dict(Counter(r["origin"] for r in rows["train"]).most_common(25))}


def catalog_licences(rows):
    """gettext domain -> (pairs, Debian package, licences named in its copyright file)."""
    from collections import Counter
    cnt = Counter(r["origin"] for r in rows if r["task"] != "sum")
    out = {}
    for dom, n in cnt.most_common():
        pkg, lic = None, []
        for lang in ("de", "fr", "es"):
            path = f"/usr/share/locale/{lang}/LC_MESSAGES/{dom}.mo"
            if os.path.exists(path):
                try:
                    r = subprocess.run(["dpkg", "-S", path], capture_output=True, text=True)
                    pkg = r.stdout.split(":")[0].strip() or None
                except Exception:
                    pkg = None
                break
        if pkg:
            lic = copyright_licences(f"/usr/share/doc/{pkg}/copyright")
        out[dom] = {"pairs": n, "package": pkg, "licenses": lic}
    return out


def split_of(text):
    h = int(hashlib.md5(text.encode("utf-8")).hexdigest()[:8], 16) % 1000
    if h < 10:
        return "valid"
    if h < 20:
        return "test"
    return "train"


def licence_section(stats, translation_only=False):
    """Markdown describing the training data and its licences (for the model cards)."""
    cats = stats.get("catalogs", {})
    lines = []
    sp = stats["splits"]
    lines.append("| task | train | valid | test |")
    lines.append("|---|---:|---:|---:|")
    for t in (["de", "fr", "es"] if translation_only else ["de", "fr", "es", "sum"]):
        lines.append(f"| {TASK_NAMES[t]} (`{PREFIX[t].strip()}`) | {sp['train'][t]} | {sp['valid'][t]} | {sp['test'][t]} |")
    lines.append("")
    lines.append("**Translation pairs** are the English `msgid` -> translated `msgstr` entries of the gettext catalogs "
                 "(`/usr/share/locale/{de,fr,es}/LC_MESSAGES/*.mo`) installed by Debian 12 packages on the build machine "
                 "(cleaning: accelerators `_`/`&` stripped, plural forms reduced to the singular, multi-line strings, "
                 "format-heavy strings and length outliers dropped; ISO code-list names down-sampled to 15%; split by a hash "
                 "of the English text, ~1% valid, ~1% test). The catalogs are part of those packages and are distributed "
                 "under the packages' licences (mostly GPL-2+/GPL-3+/LGPL-2.1+; PostgreSQL licence for postgres; see "
                 "each package's `/usr/share/doc/<package>/copyright`). Largest sources:")
    lines.append("")
    lines.append("| catalog | pairs (train, all languages) | Debian package | licences named in its copyright file |")
    lines.append("|---|---:|---|---|")
    for dom, v in list(cats.items())[:25]:
        lic = "; ".join(v["licenses"][:3]) or "see copyright file"
        lines.append(f"| {dom} | {v['pairs']} | {v['package'] or '?'} | {lic} |")
    if len(cats) > 25:
        rest = sum(v["pairs"] for v in list(cats.values())[25:])
        lines.append(f"| {len(cats) - 25} more catalogs | {rest} | | |")
    desk = stats.get("desktop")
    if desk and not translation_only:
        dsp = desk["splits"]
        lines.append("")
        lines.append("**Desktop-application catalogs** (used from stage 7 on): the same kind of pairs from the gettext "
                     "catalogs of desktop applications that are not installed on the build machine, fetched as Debian 12 "
                     "packages with `apt-get download` and unpacked with `dpkg-deb -x` (nothing installed); pairs whose "
                     "English string is already in the data above are left out, the rest split by the same hash. "
                     f"Train / valid / test: German {dsp['train']['de']} / {dsp['valid']['de']} / {dsp['test']['de']}, "
                     f"French {dsp['train']['fr']} / {dsp['valid']['fr']} / {dsp['test']['fr']}, "
                     f"Spanish {dsp['train']['es']} / {dsp['valid']['es']} / {dsp['test']['es']}. Packages (version, "
                     "licences named in its copyright file):")
        lines.append("")
        lines.append("| Debian package | version | licences |")
        lines.append("|---|---|---|")
        for pkg, ver in desk["packages"].items():
            lic = "; ".join(desk.get("licences", {}).get(pkg, [])[:3]) or "see copyright file"
            lines.append(f"| {pkg} | {ver} | {lic} |")
        lines.append("")
        lines.append("Largest desktop catalogs (train pairs, all languages): " +
                     ", ".join(f"{k} {v}" for k, v in list(desk["catalogs"].items())[:12]) + ".")
    if not translation_only:
        lines.append("")
        lines.append("**Summarization pairs** are Debian 12 (bookworm, bookworm-updates, bookworm-security) package "
                     "descriptions from apt's `Translation-en` indexes: input = the long description (paragraphs joined, "
                     "cut at 900 characters), target = the one-line synopsis. Package descriptions are part of each "
                     "package's metadata and are covered by that package's licence (Debian main: DFSG-free licences).")
    return "\n".join(lines)


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", ".work", "seq2seq", "data")
    os.makedirs(out_dir, exist_ok=True)
    rows = {"train": [], "valid": [], "test": []}
    stats = {}
    base_sources = {}
    for lang in ["de", "fr", "es"]:
        ps = translation_pairs(lang)
        stats[lang] = len(ps)
        base_sources[lang] = {s for s, _, _ in ps}
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
    info = {"pairs": stats, "splits": per_split, "catalogs": catalog_licences(rows["train"])}
    if os.environ.get("DESKTOP", "0") == "1":
        info["desktop"] = desktop_data(out_dir, base_sources)
    with open(os.path.join(out_dir, "stats.json"), "w") as f:
        json.dump(info, f, indent=1)
    print(json.dumps(info))


if __name__ == "__main__":
    main()
