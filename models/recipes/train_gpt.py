"""Train the bundled GPT (models/gpt2-code) from offline sources. Run with /usr/bin/python3.

Steps (each a subcommand; make_gpt.sh runs them in order):
    corpus     -> models/.work/corpus/{train,val}.txt, sources.json  (documents joined by <|endoftext|>)
    tokenizer  -> models/.work/tokenizer/ (byte-level BPE, vocab 4096) + models/.work/corpus/{train,val}.npy
    train      -> models/.work/ckpt.pt (+ train.log), wall-clock budget TRAIN_MINUTES (default 22)
    export     -> models/gpt2-code/{onnx/model.onnx,config.json,generation_config.json,tokenizer*.json,
                  reference.json,metrics.json}
    card       -> models/gpt2-code/README.md
"""
from __future__ import annotations

import glob
import json
import math
import os
import random
import sys
import time
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
WORK = os.path.join(ROOT, "models", ".work")
OUT = os.environ.get("GPT_OUT", os.path.join(ROOT, "models", "gpt2-code"))
CORPUS = os.path.join(WORK, "corpus")
EOT = "<|endoftext|>"
VOCAB = 4096  # the byte-level BPE's own vocabulary (<|endoftext|>, 256 bytes, merges)
from fim_transform import FIM_TOKENS, fim_example  # noqa: E402
# FIM=1: the model has the fill-in-the-middle markers, appended after the BPE's ids (4096..4099), and trains with
# FIM_RATE > 0. The committed gpt2-code is left to right only (FIM unset): see models/recipes/README.md.
FIM = os.environ.get("FIM", "0") == "1"
ADDED_TOKENS = list(FIM_TOKENS) if FIM else []
MODEL_CFG = dict(vocab_size=VOCAB + len(ADDED_TOKENS), n_positions=512, n_embd=192, n_layer=4, n_head=6)
SEED = 1234

PROMPTS = [  # end on a non-blank token: the BPE splits "\n    x" as "\n   " + " x", so a trailing "\n" is rare
    "def __init__(self",
    "import os\nimport sys\n\n\ndef main():\n    parser =",
    "export function isString(value: unknown): value is string {\n    return",
    "interface Array<T> {\n    /**\n     * Returns",
    "To install the package, run",
] + ([  # fill-in-the-middle, as fillInTheMiddle.ts formats it (StarCoder PSM, then SPM): the middle ends with <|endoftext|>
    "<fim_prefix>def add(a, b):\n    return a<fim_suffix>\n\n\nprint(add(1, 2))\n<fim_middle>",
    "<fim_prefix><fim_suffix>\n\n\nprint(add(1, 2))\n<fim_middle>def add(a, b):\n    return a",
] if FIM else [])
ATTN_TEXT = "def add(a, b):\n    return a + b\n"


def _read(path):
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except (UnicodeDecodeError, OSError):
        return None


def _is_minified(text):
    lines = text.split("\n")
    return max(len(l) for l in lines) > 1000 or len(text) / max(1, len(lines)) > 150


def cmd_corpus():
    random.seed(SEED)
    groups = {}
    py = sorted(p for p in glob.glob("/usr/lib/python3.11/**/*.py", recursive=True)
                if "site-packages" not in p and "dist-packages" not in p)
    groups["python-stdlib"] = py
    groups["typescript-lib"] = sorted(glob.glob(os.path.join(ROOT, "node_modules/typescript/lib/lib.*.d.ts")))
    nm = os.path.join(ROOT, "node_modules")
    md, code = [], []
    for dirpath, dirnames, filenames in os.walk(nm):
        dirnames.sort()
        if os.path.basename(dirpath) in (".bin", ".cache"):
            dirnames[:] = []
            continue
        for fn in sorted(filenames):
            p = os.path.join(dirpath, fn)
            if fn.lower().endswith(".md"):
                md.append(p)
            elif fn.endswith((".js", ".mjs", ".cjs", ".ts", ".mts", ".cts")) and not fn.endswith(".min.js") \
                    and "/typescript/lib/lib." not in p:
                code.append(p)
    groups["node_modules-md"] = md
    groups["node_modules-js-ts"] = code
    caps = {"python-stdlib": 12e6, "typescript-lib": 5e6, "node_modules-md": 4.5e6, "node_modules-js-ts": 8e6}
    train, val, stats = [], [], {}
    seen = set()
    for g, paths in groups.items():
        paths = list(paths)
        random.shuffle(paths)
        total, nfiles = 0, 0
        for p in paths:
            try:
                if os.path.getsize(p) > (2_000_000 if g == "typescript-lib" else 300_000) or os.path.getsize(p) < 200:
                    continue
            except OSError:
                continue
            t = _read(p)
            if not t or (g != "typescript-lib" and _is_minified(t)) or EOT in t:
                continue
            h = zlib.crc32(t.encode("utf-8"))
            if h in seen:  # duplicate file content (packages vendored twice)
                continue
            seen.add(h)
            if total + len(t) > caps[g]:
                continue
            total += len(t)
            nfiles += 1
            (val if h % 100 < 3 else train).append(t)
        stats[g] = {"files": nfiles, "chars": total}
        print(g, stats[g], flush=True)
    random.shuffle(train)
    random.shuffle(val)
    os.makedirs(CORPUS, exist_ok=True)
    for name, docs in (("train", train), ("val", val)):
        with open(os.path.join(CORPUS, f"{name}.txt"), "w", encoding="utf-8") as f:
            f.write(EOT.join(docs) + EOT)
    stats["train_docs"], stats["val_docs"] = len(train), len(val)
    stats["train_chars"], stats["val_chars"] = sum(map(len, train)), sum(map(len, val))
    with open(os.path.join(CORPUS, "sources.json"), "w") as f:
        json.dump(stats, f, indent=2)
    print(stats, flush=True)


def tokenizer_config():
    return {
        "tokenizer_class": "GPT2Tokenizer",
        "model_max_length": MODEL_CFG["n_positions"],
        "bos_token": EOT,
        "eos_token": EOT,
        "unk_token": EOT,
        "pad_token": EOT,
        "add_prefix_space": False,
        "add_bos_token": False,
        "clean_up_tokenization_spaces": False,
        "errors": "replace",
        **({"additional_special_tokens": ADDED_TOKENS} if ADDED_TOKENS else {}),
        "added_tokens_decoder": {str(i): {"content": t, "lstrip": False, "normalized": False, "rstrip": False,
                                          "single_word": False, "special": True}
                                 for i, t in [(0, EOT)] + [(VOCAB + k, f) for k, f in enumerate(ADDED_TOKENS)]},
    }


def with_fim_tokens(tok):
    """The BPE with the fill-in-the-middle markers (FIM=1) appended after its ids, as special tokens."""
    from bpe_tokenizer import Tokenizer
    vocab = {t: i for t, i in tok.vocab.items() if i < VOCAB}
    if len(vocab) != VOCAB or tok.vocab.get(EOT) != 0:
        raise SystemExit(f"expected a {VOCAB}-token BPE with {EOT} = 0, got {len(vocab)} tokens")
    vocab.update({t: VOCAB + k for k, t in enumerate(ADDED_TOKENS)})
    return Tokenizer(vocab, tok.merges, [EOT] + ADDED_TOKENS)


def text_tokenizer(tok):
    """The same BPE that treats only <|endoftext|> as special: corpus text that spells a FIM marker stays text."""
    from bpe_tokenizer import Tokenizer
    return Tokenizer(tok.vocab, tok.merges, [EOT])


def cmd_tokenizer():
    import numpy as np
    from bpe_tokenizer import train_bpe

    from bpe_tokenizer import Tokenizer

    t0 = time.time()
    src = os.environ.get("TOKENIZER_FROM")  # a model folder whose BPE to keep (continuing its training)
    if src:
        base = Tokenizer.load(src)
        print(f"BPE from {src}", flush=True)
    else:
        text = open(os.path.join(CORPUS, "train.txt"), encoding="utf-8").read()
        base = train_bpe(text.split(EOT), VOCAB, [EOT])
    tok = with_fim_tokens(base)
    tok.save(os.path.join(WORK, "tokenizer"), tokenizer_config())
    t1 = time.time()
    enc = text_tokenizer(tok)
    for name in ("train", "val"):
        t = open(os.path.join(CORPUS, f"{name}.txt"), encoding="utf-8").read()
        ids = np.array(enc.encode(t), dtype=np.uint16)
        np.save(os.path.join(CORPUS, f"{name}.npy"), ids)
        print(f"{name}: {len(t)} chars -> {len(ids)} tokens ({len(t) / len(ids):.2f} chars/token)", flush=True)
    with open(os.path.join(WORK, "tokenizer_timing.json"), "w") as f:
        json.dump({"train_bpe_s": None if src else round(t1 - t0, 1), "encode_s": round(time.time() - t1, 1)}, f)


def _setup_torch():
    import torch
    torch.set_num_threads(1)
    torch.manual_seed(SEED)
    random.seed(SEED)
    return torch


def _eval_loss(model, data, T, n_windows=None, batch=8):
    import torch
    n = (len(data) - 1) // T
    if n_windows is not None:
        n = min(n, n_windows)
    tot, cnt = 0.0, 0
    model.eval()
    with torch.no_grad():
        for s in range(0, n, batch):
            idx = range(s, min(n, s + batch))
            x = torch.stack([torch.from_numpy(data[i * T:i * T + T].astype("int64")) for i in idx])
            y = torch.stack([torch.from_numpy(data[i * T + 1:i * T + T + 1].astype("int64")) for i in idx])
            logits, _, _ = model(x)
            loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1),
                                                    reduction="sum")
            tot += float(loss)
            cnt += y.numel()
    model.train()
    return tot / cnt, cnt


# The order of the held-out FIM examples: SPM when most training examples are (FIM_SPM_SHARE), as the extension
# then sends them (the model's config.json says "fim_order": "spm").
FIM_VAL_SPM = float(os.environ.get("FIM_SPM_SHARE", "0")) >= 0.5


def fim_validation_examples(n=96, room=512):
    """Fixed 'line' FIM examples from the held-out documents: (ids, middle_start) pairs."""
    import numpy as np
    from bpe_tokenizer import Tokenizer
    enc = text_tokenizer(Tokenizer.load(os.path.join(WORK, "tokenizer")))
    docs = [d for d in open(os.path.join(CORPUS, "val.txt"), encoding="utf-8").read().split(EOT) if len(d) >= 8]
    rng = np.random.default_rng(SEED + 7)
    out = []
    while len(out) < n:
        ex = fim_example(docs[int(rng.integers(0, len(docs)))], enc, rng, room, mode="line",
                         spm_share=1.0 if FIM_VAL_SPM else 0.0)
        if ex is not None:
            out.append(ex)
    return out


def _eval_fim(model, examples):
    """Mean loss (nats/token) of the middles and their closing <|endoftext|>, given prefix and suffix."""
    import torch
    tot, cnt = 0.0, 0
    model.eval()
    with torch.no_grad():
        for ids, m in examples:
            x = torch.tensor([ids[:-1]])
            logits, _, _ = model(x)
            y = torch.tensor(ids[m:])
            tot += float(torch.nn.functional.cross_entropy(logits[0, m - 1:], y, reduction="sum"))
            cnt += len(y)
    model.train()
    return tot / cnt


def cmd_train():
    import numpy as np
    torch = _setup_torch()
    from common import GPT, GPTConfig, count_params

    minutes = float(os.environ.get("TRAIN_MINUTES", "22"))
    budget = minutes * 60
    train = np.load(os.path.join(CORPUS, "train.npy"))
    val = np.load(os.path.join(CORPUS, "val.npy"))
    cfg = GPTConfig(**MODEL_CFG)
    model = GPT(cfg)
    init = os.environ.get("INIT_CKPT")  # continue from a checkpoint (fresh optimizer and lr schedule)
    prev = None
    if init:
        prev = torch.load(init, map_location="cpu")
        model.load_state_dict(prev["model"])
        print(f"continuing from {init} (step {prev['step']}, {prev['tokens']} tokens)", flush=True)
    print(f"params {count_params(model)} train tokens {len(train)} val tokens {len(val)} budget {budget}s", flush=True)
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    lr_max = float(os.environ.get("LR", "3e-3"))
    lr_min = float(os.environ.get("LR_MIN", "2e-4"))
    warm = int(os.environ.get("WARMUP", "150"))
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=lr_max, betas=(0.9, 0.95), eps=1e-8)
    B = int(os.environ.get("BATCH", "16"))
    rng = np.random.default_rng(SEED)
    ckpt_path = os.environ.get("CKPT_OUT", os.path.join(WORK, "ckpt.pt"))
    # FIM_RATE: the share of training rows made of fill-in-the-middle examples (packed, see fim_transform.py)
    fim_rate = float(os.environ.get("FIM_RATE", "0"))
    # FIM_LINE_SHARE: the share of FIM examples cut as the rest of one line (the inline case), the others spans
    fim_line_share = float(os.environ.get("FIM_LINE_SHARE", "0.7"))
    # FIM_SPM_SHARE: the share of FIM examples in the SPM variant (fim_transform.py), the others PSM
    fim_spm_share = float(os.environ.get("FIM_SPM_SHARE", "0"))
    if fim_rate > 0 and not FIM:
        raise SystemExit("FIM_RATE needs FIM=1 (the model and tokenizer with the fill-in-the-middle markers)")
    fim_rng = np.random.default_rng(SEED + 1)
    fim_val = None
    if fim_rate > 0:
        from bpe_tokenizer import Tokenizer
        enc = text_tokenizer(Tokenizer.load(os.path.join(WORK, "tokenizer")))
        docs = [d for d in open(os.path.join(CORPUS, "train.txt"), encoding="utf-8").read().split(EOT) if len(d) >= 8]
        doc_end = np.cumsum([len(d) for d in docs])  # a document drawn by its length, as windows draw text
        fim_val = fim_validation_examples()
        print(f"FIM on {fim_rate:.0%} of rows ({fim_line_share:.0%} line cuts, {fim_spm_share:.0%} SPM) from {len(docs)} documents; {len(fim_val)} held-out FIM examples", flush=True)

    def fim_row(T):
        ids = []
        while len(ids) < T + 1:
            d = docs[int(np.searchsorted(doc_end, fim_rng.integers(0, doc_end[-1]), side="right"))]
            ex = fim_example(d, enc, fim_rng, T + 1, line_share=fim_line_share, spm_share=fim_spm_share)
            if ex is not None:
                ids += ex[0]
        return np.array(ids[:T + 1], dtype=np.int64)

    t0 = time.time()
    last_ckpt = t0
    step, tokens = 0, 0
    ema = None
    history = []
    phases = []
    step0, tokens0, secs0 = 0, 0, 0.0
    if prev is not None:
        step0, tokens0, secs0 = prev["step"], prev["tokens"], prev["seconds"]
        history = list(prev.get("history", []))
        phases = list(prev.get("phases", [{"steps": prev["step"], "tokens": prev["tokens"], "seconds": round(prev["seconds"]),
                                            "lr_max": prev.get("lr_max", 3e-3), "lr_min": 2e-4}]))
    while True:
        el = time.time() - t0
        if el >= budget:
            break
        frac = el / budget
        T = 256 if frac < 0.6 else 512
        bsz = B if T == 256 else B // 2
        lr = lr_max * min(1.0, (step + 1) / warm)
        lr = lr_min + (lr - lr_min) * 0.5 * (1 + math.cos(math.pi * frac)) if step >= warm else lr
        for g in opt.param_groups:
            g["lr"] = lr
        offs = rng.integers(0, len(train) - T - 1, size=bsz)
        rows = [fim_row(T) if fim_rate > 0 and fim_rng.random() < fim_rate else train[o:o + T + 1].astype("int64")
                for o in offs]
        x = torch.from_numpy(np.stack([r[:-1] for r in rows]))
        y = torch.from_numpy(np.stack([r[1:] for r in rows]))
        logits, _, _ = model(x)
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        tokens += x.numel()
        ema = float(loss) if ema is None else 0.98 * ema + 0.02 * float(loss)
        if step % 25 == 0:
            el = time.time() - t0
            print(f"step {step} T {T} lr {lr:.2e} loss {float(loss):.3f} ema {ema:.3f} tok {tokens} "
                  f"{tokens / el:.0f} tok/s {el:.0f}s", flush=True)
        if time.time() - last_ckpt > 150:
            vl, _ = _eval_loss(model, val, 512, n_windows=24)
            fl = _eval_fim(model, fim_val) if fim_val else None
            history.append({"step": step0 + step, "tokens": tokens0 + tokens, "seconds": round(secs0 + time.time() - t0),
                            "val_loss": vl, **({"fim_middle_loss": fl} if fl is not None else {})})
            print(f"[eval] step {step} val_loss {vl:.3f} ppl {math.exp(vl):.1f}"
                  + (f" fim_middle_loss {fl:.3f}" if fl is not None else ""), flush=True)
            torch.save({"model": model.state_dict(), "cfg": MODEL_CFG, "step": step0 + step, "tokens": tokens0 + tokens,
                        "seconds": secs0 + time.time() - t0, "history": history, "phases": phases,
                        "batch": B, "lr_max": lr_max}, ckpt_path + ".tmp")
            os.replace(ckpt_path + ".tmp", ckpt_path)
            last_ckpt = time.time()
    secs = time.time() - t0
    vl, _ = _eval_loss(model, val, 512, n_windows=24)
    fl = _eval_fim(model, fim_val) if fim_val else None
    history.append({"step": step0 + step, "tokens": tokens0 + tokens, "seconds": round(secs0 + secs), "val_loss": vl,
                    **({"fim_middle_loss": fl} if fl is not None else {})})
    phases.append({"steps": step, "tokens": tokens, "seconds": round(secs), "lr_max": lr_max, "lr_min": lr_min,
                   "fim_rate": fim_rate, **({"fim_line_share": fim_line_share, "fim_spm_share": fim_spm_share} if fim_rate > 0 else {})})
    print(f"[final] step {step0 + step} tokens {tokens0 + tokens} {secs0 + secs:.0f}s val_loss(24x512) {vl:.3f}"
          + (f" fim_middle_loss {fl:.3f}" if fl is not None else ""), flush=True)
    torch.save({"model": model.state_dict(), "cfg": MODEL_CFG, "step": step0 + step, "tokens": tokens0 + tokens,
                "seconds": secs0 + secs, "history": history, "phases": phases, "batch": B, "lr_max": lr_max},
               ckpt_path + ".tmp")
    os.replace(ckpt_path + ".tmp", ckpt_path)
    print("done", flush=True)


def load_model(ckpt=None):
    torch = _setup_torch()
    from common import GPT, GPTConfig
    ck = torch.load(ckpt or os.path.join(WORK, "ckpt.pt"), map_location="cpu")
    model = GPT(GPTConfig(**ck["cfg"]))
    model.load_state_dict(ck["model"])
    return model.eval(), ck


def _metrics_path():
    # kept out of the model folder (not shipped); a test export elsewhere keeps its own
    return os.path.join(WORK, "metrics.json") if OUT.endswith("gpt2-code") else os.path.join(OUT, "metrics.json")


def cmd_export():
    import numpy as np
    torch = _setup_torch()
    from bpe_tokenizer import Tokenizer
    from common import count_params, export_decoder_onnx, greedy_step_logits, make_reference, write_json

    model, ck = load_model(os.environ.get("CKPT"))
    tok = Tokenizer.load(os.path.join(WORK, "tokenizer"))
    eot = tok.token_to_id(EOT)
    os.makedirs(OUT, exist_ok=True)
    t0 = time.time()
    softmax = export_decoder_onnx(model, os.path.join(OUT, "onnx", "model.onnx"), model.cfg.n_layer,
                                  model.cfg.n_head, model.cfg.head_dim)
    t_export = time.time() - t0
    print("export", round(t_export, 2), "s; Softmax nodes:", softmax, flush=True)
    # fim_order: the order the model learned most of its FIM examples in, which the extension then sends
    write_json(os.path.join(OUT, "config.json"), {**model.hf_config(eot, eot), **({"fim_order": "spm"} if FIM and FIM_VAL_SPM else {})})
    write_json(os.path.join(OUT, "generation_config.json"),
               {"bos_token_id": eot, "eos_token_id": eot, "pad_token_id": eot, "max_length": MODEL_CFG["n_positions"]})
    tok.save(OUT, tokenizer_config())
    ref = make_reference(model, tok, "gpt2-code", PROMPTS, ATTN_TEXT, eos_id=eot)
    write_json(os.path.join(OUT, "reference.json"), ref, indent=None)
    for p in ref["prompts"]:
        print(repr(p["text"]), "->", repr(p["greedy_text"]), flush=True)
    write_json(os.path.join(WORK, os.path.basename(OUT) + ".logits.json"),
               [greedy_step_logits(model, p["input_ids"], p["greedy_ids"]) for p in ref["prompts"]], indent=None)
    # held-out metrics
    train = np.load(os.path.join(CORPUS, "train.npy"))
    val = np.load(os.path.join(CORPUS, "val.npy"))
    n_eval = int(os.environ.get("EVAL_WINDOWS", "400"))
    vl, cnt = _eval_loss(model, val, 512, n_windows=n_eval)
    counts = np.bincount(train.astype(np.int64), minlength=VOCAB).astype(np.float64) + 1.0
    logp = np.log(counts / counts.sum())
    ev = val[: cnt // 512 * 512 + 1][1:]  # the same target tokens as the model evaluation
    uni = float(-logp[ev.astype(np.int64)].mean())
    val_text_chars = None
    metrics = {
        "params": count_params(model), "train_steps": ck["step"], "train_tokens": ck["tokens"],
        "train_seconds": round(ck["seconds"]), "history": ck.get("history"),
        "heldout_tokens": cnt, "heldout_loss": vl, "heldout_ppl": math.exp(vl),
        "unigram_loss": uni, "unigram_ppl": math.exp(uni), "softmax_nodes": softmax,
        "val_chars_per_token": None, "lr_max": ck.get("lr_max", 3e-3), "batch": ck.get("batch", 16),
        "train_corpus_tokens": int(len(train)), "export_seconds": round(t_export, 2),
        "phases": ck.get("phases"),
    }
    vt = open(os.path.join(CORPUS, "val.txt"), encoding="utf-8").read()
    metrics["val_chars_per_token"] = len(vt) / len(val)
    fim_val = fim_validation_examples() if FIM else None
    if FIM:
        metrics["fim_middle_loss"] = _eval_fim(model, fim_val)
        metrics["fim_examples"] = len(fim_val)
    before = os.environ.get("BEFORE_CKPT")  # the checkpoint this run continued from: the same evaluations
    if before:
        bm, _ = load_model(before)
        bl, _ = _eval_loss(bm, val, 512, n_windows=n_eval)
        metrics["before"] = {"heldout_loss": bl, "heldout_ppl": math.exp(bl),
                             "heldout_bits_per_char": bl / math.log(2) / metrics["val_chars_per_token"],
                             **({"fim_middle_loss": _eval_fim(bm, fim_val)} if FIM else {})}
        print(f"before: held-out loss {bl:.4f}, FIM middle loss {metrics['before'].get('fim_middle_loss')}", flush=True)
    print(f"after: held-out loss {vl:.4f}, FIM middle loss {metrics.get('fim_middle_loss')}", flush=True)
    # sampled continuations for the card (temperature 0.8, top-k 40, seeded)
    g = torch.Generator().manual_seed(SEED)
    samples = []
    with torch.no_grad():
        for p in ["def __init__(self", "export function isString(value: unknown): value is string {\n    return"]:
            seq = tok.encode(p)
            for _ in range(40):
                lg = model(torch.tensor([seq]))[0][0, -1] / 0.8
                v, ix = torch.topk(lg, 40)
                nxt = int(ix[torch.multinomial(torch.softmax(v, -1), 1, generator=g)])
                if nxt == eot:
                    break
                seq.append(nxt)
            samples.append({"prompt": p, "text": tok.decode(seq[len(tok.encode(p)):])})
    metrics["samples"] = samples
    metrics["heldout_bits_per_char"] = vl / math.log(2) / metrics["val_chars_per_token"]
    write_json(_metrics_path(), metrics)
    print(json.dumps({k: v for k, v in metrics.items() if k != "history"}, indent=1), flush=True)


FIM_CARD = """## Fill in the middle
The model writes what goes between a prefix and a suffix with StarCoder's markers, `<fim_prefix>`, `<fim_suffix>`,
`<fim_middle>`, and ends the middle with `<|endoftext|>`. It learned both orders of the FIM paper: PSM
(`<fim_prefix>` prefix `<fim_suffix>` suffix `<fim_middle>` middle) and, in its last phase mostly, SPM in the
variant StarCoder and SantaCoder trained on (`<fim_prefix><fim_suffix>` suffix `<fim_middle>` prefix middle), where
the middle continues the prefix's text directly. A model this small fills much better that way: after a 40-minute
PSM phase it wrote nothing useful with the suffix (0 of 466 held-out middles exact, against 5 without it; its
first middle token had to continue a prefix that ended a suffix ago). `config.json` says `"fim_order": "spm"`, and
the extension (`src/inference/fillInTheMiddle.ts`) then writes its prompt in SPM:
`node dist/cli.js generate --model gpt2-code --prompt P --suffix S --json` returns the middle, with
`fim: {"format": "starcoder spm", ...}`. The markers are appended after the BPE's ids, so every other id kept its
meaning; they are special tokens (never split, never produced by text that spells them in training).

Training examples (`models/recipes/fim_transform.py`, the transformation of Bavarian et al. 2022, "Efficient
Training of Language Models to Fill in the Middle", as StarCoder and Qwen2.5-Coder use it): a document is cut at two
characters, never at token boundaries, because an editor's cursor stands inside words. Most cuts (70% in the PSM
phase, 85% in the SPM phase) take the rest of one line after a random cursor (the middle the inline completion asks
for: the suffix then starts at the newline, and the model learns to stop at the line's end with `<|endoftext|>`);
the others are the FIM paper's random spans of 1-400 characters (log-uniform) that may cross lines, so a middle of
several lines is also seen. Each side is clipped to a random length up to 1,400 characters before and 300 after,
the sizes the extension's inline cases have, and cut to the context as `fillInTheMiddle.ts` cuts a prompt (the
prefix keeps its end, the suffix its start). Fill-in-the-middle examples are packed into half of the training rows;
the other half are left-to-right windows as before. Loss on every token (prefix and suffix tokens train
left-to-right prediction too). The held-out FIM middle loss is measured in the order the extension sends.

"""


def _inline_card_section():
    """The inline measurement (eval_inline.mjs JSON reports) of this model and of the one it continued from."""
    after = os.environ.get("INLINE_EVAL", os.path.join(WORK, "inline_eval.json"))
    before = os.environ.get("INLINE_EVAL_BEFORE", os.path.join(WORK, "inline_before.json"))
    if not os.path.exists(after):
        return ""
    rows = []
    for label, path in (("gpt2-code", after), ("before FIM training", before)):
        if not os.path.exists(path):
            continue
        rep = json.load(open(path))
        d = rep["defaults"]
        for s in rep["summary"]:
            if s["filter"] != "no cut" and not s["filter"].startswith("defaults"):
                continue
            pct = lambda n, m: f"{100 * n / m:.1f}%" if m else "—"
            flt = "none" if s["filter"] == "no cut" else f"≥ {d['minConfidence']}, mean ≥ {d['minMeanLogprob']}"
            rows.append(f"| {label} | {s['mode']} | {flt} | {s['exact']} ({pct(s['exact'], s['cases'])}) | "
                        f"{s['similarityAllCases']:.3f} | {s['shown']} ({pct(s['shown'], s['cases'])}) | {s['suppressed']} | "
                        f"{pct(s['exact'], s['shown'])} | {pct(s['right'], s['shown'])} | {s['correctHidden']} of {s['correctUncut']} |")
    rep = json.load(open(after))
    return f"""
## Inline completions on held-out code
{rep['cases']} single-line middles cut from files this model's corpus holds out (content hash) and whose lines occur
in no trainable file (`models/recipes/make_inline_cases.mjs`): the rest of the line after a random cursor, up to
1,400 characters before it and the next 300 after the line as the suffix; greedy, at most 24 tokens, stop at the
newline, shaped and cut as the extension does (`models/recipes/eval_inline.mjs`; BENCHMARKS.md has the sweep).
Edit similarity over all cases counts a suggestion not shown as empty; the cut is `lmLens.inline.minConfidence`
with the mean log-probability floor.

| model | prompt | cut | exact (all cases) | edit similarity (all cases) | shown | suppressed | exact among shown | right so far among shown | correct ones hidden |
|---|---|---|---|---|---|---|---|---|---|
{chr(10).join(rows)}
"""


def _fim_mix(phase):
    """How a phase's FIM examples were cut and ordered, for the card."""
    spm = phase.get("fim_spm_share", 0)
    return f"{phase.get('fim_line_share', 0.7):.0%} line cuts, " + (f"{spm:.0%} SPM" if spm else "PSM")


def cmd_card():
    torch = _setup_torch()
    met = json.load(open(_metrics_path()))
    src = json.load(open(os.path.join(CORPUS, "sources.json")))
    ref = json.load(open(os.path.join(OUT, "reference.json")))
    tokt = json.load(open(os.path.join(WORK, "tokenizer_timing.json")))
    size = sum(os.path.getsize(p) for p in glob.glob(os.path.join(OUT, "**"), recursive=True) if os.path.isfile(p))
    onnx_size = os.path.getsize(os.path.join(OUT, "onnx", "model.onnx"))
    c = MODEL_CFG
    samples = "\n".join(
        f"- prompt `{json.dumps(p['text'])}` → greedy `{json.dumps(p['greedy_text'])}`" for p in ref["prompts"])
    sampled = "\n\n".join(f"```\n{x['prompt']}{x['text']}\n```" for x in met.get("samples", []))
    phases = met.get("phases") or [{"steps": met["train_steps"], "tokens": met["train_tokens"],
                                     "seconds": met["train_seconds"], "lr_max": met["lr_max"], "lr_min": 2e-4}]
    phase_text = "\n".join(
        f"- phase {i + 1}{' (continued from the previous phase with a fresh optimizer)' if i else ''}: {p['seconds'] / 60:.1f} min, "
        f"{p['steps']} steps, {p['tokens']:,} tokens, lr {p['lr_max']:g} → {p['lr_min']:g}"
        + (f", {p['fim_rate']:.0%} of the rows fill-in-the-middle examples ({_fim_mix(p)})" if p.get("fim_rate") else ", left to right only")
        for i, p in enumerate(phases))
    hist = "\n".join(f"| {h['step']} | {h['tokens']:,} | {h['seconds']} | {h['val_loss']:.3f} | "
                     f"{h['fim_middle_loss']:.3f} |" if 'fim_middle_loss' in h else
                     f"| {h['step']} | {h['tokens']:,} | {h['seconds']} | {h['val_loss']:.3f} | — |" for h in met["history"])
    bef = met.get("before")
    before_row = ""
    if bef:
        fim_before = f"{bef['fim_middle_loss']:.3f}" if "fim_middle_loss" in bef else "—"
        before_row = (f"| the model the fill-in-the-middle phases continued from (left to right) | {bef['heldout_loss']:.3f} | {bef['heldout_ppl']:.1f} | "
                      f"{bef['heldout_bits_per_char']:.2f} | {fim_before} |\n")
    inline = _inline_card_section()
    card = f"""---
license: other
language: [en, code]
tags: [gpt2, onnx, code, tiny]
---
# gpt2-code (tiny GPT-2 for code, bundled)

A small GPT-2 trained from scratch on this machine, offline, for the extension's built-in model.
It is a toy: good enough to show plausible Python/TypeScript continuations, attention maps and
token log-probabilities, not to write real code.

## Architecture
GPT-2 (`model_type: gpt2`, `GPT2LMHeadModel` layout), implemented in PyTorch in
`models/recipes/common.py`: token + learned position embeddings, {c['n_layer']} pre-LayerNorm blocks,
causal multi-head attention ({c['n_head']} heads × {c['n_embd'] // c['n_head']}), tanh-GELU MLP (4×), final LayerNorm,
LM head tied to the token embeddings.

| | |
|---|---|
| layers / width / heads | {c['n_layer']} / {c['n_embd']} / {c['n_head']} |
| context (n_positions) | {c['n_positions']} |
| vocabulary | {c['vocab_size']}: byte-level BPE (`<|endoftext|>` = id 0 as bos/eos/pad){''.join(f', `{t}` = {VOCAB + k}' for k, t in enumerate(ADDED_TOKENS))} |
| parameters | {met['params']:,} (tied embeddings counted once) |
| ONNX | `onnx/model.onnx`, fp32, opset 14, {onnx_size / 2**20:.1f} MiB; folder {size / 2**20:.1f} MiB |

ONNX I/O (Hub decoder-only layout): inputs `input_ids`, `attention_mask`, `position_ids`
(int64), `past_key_values.{{i}}.key/value` `[batch_size, {c['n_head']}, past_sequence_length, {c['n_embd'] // c['n_head']}]`;
outputs `logits`, `present.{{i}}.key/value`. Each layer's attention probabilities are the single
`Softmax` node of that layer (`{met['softmax_nodes'][0]}` …), shape `[batch, heads, q, k]`.

## Data and licences
Documents joined with `<|endoftext|>`; ~3% of files (by content hash) held out for validation.

| source | files | characters | licence |
|---|---|---|---|
| CPython 3.11 standard library (`/usr/lib/python3.11/**/*.py`) | {src['python-stdlib']['files']} | {src['python-stdlib']['chars']:,} | PSF License v2 |
| TypeScript `lib.*.d.ts` | {src['typescript-lib']['files']} | {src['typescript-lib']['chars']:,} | Apache-2.0 |
| `.md` docs in the project's `node_modules` | {src['node_modules-md']['files']} | {src['node_modules-md']['chars']:,} | each package's licence (mostly MIT, ISC, BSD, Apache-2.0) |
| `.js`/`.ts` sources in `node_modules` (not minified) | {src['node_modules-js-ts']['files']} | {src['node_modules-js-ts']['chars']:,} | each package's licence (mostly MIT, ISC, BSD, Apache-2.0) |

Train: {src['train_docs']} documents, {src['train_chars']:,} characters; held-out: {src['val_docs']} documents,
{src['val_chars']:,} characters ({met['val_chars_per_token']:.2f} characters per token).

{FIM_CARD if FIM else ""}## Training
Byte-level BPE trained with `models/recipes/bpe_tokenizer.py`{f" in {tokt['train_bpe_s']} s" if tokt.get('train_bpe_s') else " (phase 1; later phases keep it)"}.
AdamW (β 0.9/0.95, weight decay 0.1, gradient clipping 1.0, no dropout), random windows of 256 tokens
(batch 16) for the first 60% of each phase's time, then 512 (batch 8); learning rate warm-up then cosine decay
over the wall-clock budget.
{phase_text}
In total {met['train_seconds'] / 60:.1f} minutes of wall clock on this machine (2-core AMD EPYC VM, CPU only,
one PyTorch/OpenBLAS thread, at times beside other jobs): {met['train_steps']} steps,
{met['train_tokens']:,} tokens ({met['train_tokens'] / met['train_corpus_tokens']:.2f} epochs of the {met['train_corpus_tokens']:,}-token training split,
{met['train_tokens'] / met['train_seconds']:.0f} tokens/s). Export to ONNX took {met['export_seconds']} s.

| step | tokens | seconds | held-out loss (24×512 tokens) | held-out FIM middle loss ({met.get('fim_examples', 96)} line cuts) |
|---|---|---|---|---|
{hist}

## Held-out evaluation
Left to right, on {met['heldout_tokens']:,} held-out tokens (non-overlapping 512-token windows); the FIM middle loss
is over the middles (and their closing `<|endoftext|>`) of {met.get('fim_examples', 96)} fixed line cuts of held-out documents:

| model | loss (nats/token) | perplexity | bits/char | FIM middle loss |
|---|---|---|---|---|
| gpt2-code | {met['heldout_loss']:.3f} | {met['heldout_ppl']:.1f} | {met['heldout_bits_per_char']:.2f} | {f"{met['fim_middle_loss']:.3f}" if 'fim_middle_loss' in met else '—'} |
{before_row}| unigram baseline (train token frequencies, add-one) | {met['unigram_loss']:.3f} | {met['unigram_ppl']:.1f} | {met['unigram_loss'] / math.log(2) / met['val_chars_per_token']:.2f} | |
{inline}
## Samples (greedy, 20 new tokens, from `reference.json`)
{samples}

Greedy decoding of a model this small falls into loops; sampling reads better. Sampled
(temperature 0.8, top-k 40, 40 tokens, seed {SEED}):

{sampled}

## Files
`config.json`, `generation_config.json`, `tokenizer.json`, `tokenizer_config.json`, `onnx/model.onnx`,
`reference.json` (PyTorch-computed greedy ids, top-5 log-probs, prompt log-probs and attention maps,
for tests). Reproduce with `models/recipes/make_gpt.sh` (see `models/recipes/README.md`).
"""
    with open(os.path.join(OUT, "README.md"), "w", encoding="utf-8") as f:
        f.write(card)
    print("card written", size, flush=True)


if __name__ == "__main__":
    {"corpus": cmd_corpus, "tokenizer": cmd_tokenizer, "train": cmd_train, "export": cmd_export,
     "card": cmd_card}[sys.argv[1]]()
