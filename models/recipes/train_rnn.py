#!/usr/bin/python3
"""Classic attention Seq2Seq (Bahdanau et al. 2015) for en->de/fr/es UI-string translation, PyTorch -> ONNX.

Embedding -> bidirectional GRU encoder -> [final forward state; final backward state] -> Linear+tanh -> initial
decoder state. GRU decoder with additive attention:
    score_tj = v . tanh(W_s s_{t-1} + W_h h_j)      alpha_t = masked softmax_j(score_tj)      c_t = sum_j alpha_tj h_j
    s_t = GRU([emb(y_{t-1}); c_t], s_{t-1})        logits_t = E . (W_o [s_t; c_t; emb(y_{t-1})]) + b
(the output projection is factorised through the tied embedding matrix E to keep the files small).

The bidirectional encoder is two unidirectional GRUs (ONNX GRU ops, dynamic length); the backward one reads each
sequence reversed within its own length (gather), so right-padding never leaks into valid positions, in training
and in the exported graph alike. The decoder GRU cell is written out (same gate layout as torch.nn.GRUCell).

Subcommands (repo root, /usr/bin/python3):
  train   DATA_DIR WORK_DIR MINUTES      (WORK_DIR/tokenizer must hold model 1's tokenizer files)
  export  CKPT OUT_DIR WORK_DIR          ONNX + config + generation_config + tokenizer + reference.json
  evaluate CKPT DATA_DIR OUT_JSON
"""
import json
import math
import os
import random
import shutil
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import data_seq2seq as D  # noqa: E402

torch.set_num_threads(1)
NEG = -1e9
START = D.BOS  # decoder_start_token_id = 0 (<s>)
DEFAULT_CFG = dict(vocab_size=6000, embedding_dim=128, hidden_size=256, attention_dim=256, max_source_length=96,
                   dropout=0.1, teacher_forcing_ratio=0.9)
TASKS = ["de", "fr", "es"]


def seed_all(s):
    random.seed(s)
    torch.manual_seed(s)


def reverse_within_length(x, lengths):
    """x: [B, S, ...]; reverse each row's first lengths[b] positions, keep the padding where it is."""
    S = x.shape[1]
    t = torch.arange(S, device=x.device)[None, :]  # [1,S]
    L = lengths[:, None]
    idx = torch.where(t < L, L - 1 - t, t)  # [B,S]
    idx = idx.view(idx.shape[0], S, *([1] * (x.dim() - 2))).expand_as(x)
    return torch.gather(x, 1, idx)


class Seq2SeqAttention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.cfg = dict(c)
        V, E, H, A = c["vocab_size"], c["embedding_dim"], c["hidden_size"], c["attention_dim"]
        self.embedding = nn.Embedding(V, E, padding_idx=D.PAD)
        self.encoder_fwd = nn.GRU(E, H, batch_first=True)
        self.encoder_bwd = nn.GRU(E, H, batch_first=True)
        self.bridge = nn.Linear(2 * H, H)
        self.attn_W_s = nn.Linear(H, A, bias=False)
        self.attn_W_h = nn.Linear(2 * H, A)
        self.attn_v = nn.Linear(A, 1, bias=False)
        self.cell_ih = nn.Linear(E + 2 * H, 3 * H)
        self.cell_hh = nn.Linear(H, 3 * H)
        self.out_proj = nn.Linear(H + 2 * H + E, E)
        self.out_bias = nn.Parameter(torch.zeros(V))
        self.drop = nn.Dropout(c["dropout"])
        nn.init.normal_(self.embedding.weight, 0, E ** -0.5)
        with torch.no_grad():
            self.embedding.weight[D.PAD].zero_()

    # ---- encoder
    def encode(self, input_ids, attention_mask):
        lengths = attention_mask.sum(1)
        x = self.drop(self.embedding(input_ids))
        hf, _ = self.encoder_fwd(x)
        hb_rev, _ = self.encoder_bwd(reverse_within_length(x, lengths))
        hb = reverse_within_length(hb_rev, lengths)
        m = attention_mask[:, :, None].to(hf.dtype)
        enc = torch.cat([hf, hb], dim=2) * m  # [B,S,2H], zeros at padding
        last = (lengths - 1).clamp(min=0)
        H = hf.shape[2]
        f_last = torch.gather(hf, 1, last[:, None, None].expand(-1, 1, H))[:, 0]  # forward state after last token
        b_last = hb[:, 0]  # backward state after reading back to the first token
        s0 = torch.tanh(self.bridge(torch.cat([f_last, b_last], dim=1)))
        return enc, s0

    # ---- one decoder step
    def attention(self, s_prev, keys, enc, mask_add):
        score = self.attn_v(torch.tanh(self.attn_W_s(s_prev)[:, None, :] + keys))[:, :, 0]  # [B,S]
        alpha = torch.softmax(score + mask_add, dim=-1)
        ctx = torch.bmm(alpha[:, None, :], enc)[:, 0]  # [B,2H]
        return alpha, ctx

    def cell(self, x, h):
        gi = self.cell_ih(x)
        gh = self.cell_hh(h)
        i_r, i_z, i_n = gi.chunk(3, 1)
        h_r, h_z, h_n = gh.chunk(3, 1)
        r = torch.sigmoid(i_r + h_r)
        z = torch.sigmoid(i_z + h_z)
        n = torch.tanh(i_n + r * h_n)
        return (1 - z) * n + z * h

    def step(self, prev_ids, s_prev, enc, keys, mask_add):
        e = self.drop(self.embedding(prev_ids))  # [B,E]
        alpha, ctx = self.attention(s_prev, keys, enc, mask_add)
        s = self.cell(torch.cat([e, ctx], dim=1), s_prev)
        pre = self.out_proj(self.drop(torch.cat([s, ctx, e], dim=1)))
        return pre, s, alpha

    def logits(self, pre):
        return F.linear(pre, self.embedding.weight) + self.out_bias

    def forward(self, src, am, dec_in, tf_ratio=1.0):
        enc, s = self.encode(src, am)
        keys = self.attn_W_h(enc)
        mask_add = (1.0 - am.to(enc.dtype)) * NEG
        T = dec_in.shape[1]
        pres = []
        prev = dec_in[:, 0]
        for t in range(T):
            pre, s, _ = self.step(prev, s, enc, keys, mask_add)
            pres.append(pre)
            if t + 1 < T:
                if tf_ratio >= 1.0 or random.random() < tf_ratio:
                    prev = dec_in[:, t + 1]
                else:
                    prev = self.logits(pre).argmax(-1).detach()
        return self.logits(torch.stack(pres, 1))


def n_params(m):
    return sum(p.numel() for p in m.parameters())


def load_tok(tok_dir):
    from bpe_tokenizer import Tokenizer
    return Tokenizer.load(os.path.join(tok_dir, "tokenizer.json"))


def encode_src(tok, text, max_len):
    return [D.BOS] + tok.encode(text)[: max_len - 2] + [D.EOS]


def encode_rows(tok, rows, max_src):
    out = []
    for r in rows:
        if r["task"] not in TASKS:
            continue
        out.append((encode_src(tok, r["src"], max_src), tok.encode(r["tgt"])[:79] + [D.EOS], r["task"]))
    return out


def cmd_train(data_dir, work_dir, minutes):
    import train_bart as TB  # batching helpers
    seed_all(4321)
    tok = load_tok(os.path.join(work_dir, "tokenizer"))
    cfg = dict(DEFAULT_CFG, vocab_size=len(tok))
    train = encode_rows(tok, D.load_jsonl(os.path.join(data_dir, "train.jsonl")), cfg["max_source_length"])
    # short UI strings only (source <= 40, target <= 32 tokens): faster steps, the extension's use case
    train = [x for x in train if len(x[0]) <= 40 and len(x[1]) <= 32]
    valid = encode_rows(tok, D.load_jsonl(os.path.join(data_dir, "valid.jsonl")), cfg["max_source_length"])[:600]
    model = Seq2SeqAttention(cfg)
    prev_minutes, prev_steps = 0.0, 0
    init = os.environ.get("INIT_CKPT")  # continue training (second stage)
    if init:
        ck0 = torch.load(init, map_location="cpu")
        model.load_state_dict(ck0["state"])
        prev_minutes, prev_steps = ck0["minutes"], ck0["step"]
        print(f"continuing from {init}: step {prev_steps}, {prev_minutes:.1f} min", flush=True)
    print(f"{len(train)} train pairs, params {n_params(model)}", flush=True)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    peak, warm = float(os.environ.get("PEAK_LR", "2e-3")), int(os.environ.get("WARMUP", "100"))
    budget = minutes * 60.0
    rng = random.Random(2)
    log = open(os.path.join(work_dir, "rnn_train.log"), "a")
    t_start = time.time()
    last_ck = t_start
    step, ep, tokens, ema = 0, 0, 0, None

    def evaluate():
        model.eval()
        tot, n = 0.0, 0
        with torch.no_grad():
            for b in TB.make_batches(valid, 6000, random.Random(0)):
                src, am, di, lab = TB.collate(valid, b, START)
                lg = model(src, am, di)
                tot += F.cross_entropy(lg.reshape(-1, lg.shape[-1]), lab.view(-1), ignore_index=-100, reduction="sum").item()
                n += (lab != -100).sum().item()
        model.train()
        return tot / n

    def save(tag):
        torch.save({"cfg": cfg, "state": model.state_dict(), "step": prev_steps + step,
                    "minutes": prev_minutes + (time.time() - t_start) / 60},
                   os.path.join(work_dir, f"rnn_{tag}.pt"))

    done = False
    model.train()
    while not done:
        ep += 1
        for b in TB.make_batches(train, 2500, rng):
            frac = (time.time() - t_start) / budget
            if frac >= 1.0:
                done = True
                break
            lr = peak * min(1.0, (step + 1) / warm) * max(0.05, 0.5 * (1 + math.cos(math.pi * frac)))
            for g in opt.param_groups:
                g["lr"] = lr
            src, am, di, lab = TB.collate(train, b, START)
            lg = model(src, am, di, cfg["teacher_forcing_ratio"])
            loss = F.cross_entropy(lg.reshape(-1, lg.shape[-1]), lab.view(-1), ignore_index=-100)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            step += 1
            tokens += int(am.sum()) + int((lab != -100).sum())
            ema = loss.item() if ema is None else 0.98 * ema + 0.02 * loss.item()
            if step % 50 == 0:
                el = time.time() - t_start
                msg = f"step {step} ep {ep} loss {ema:.3f} lr {lr:.2e} tok/s {tokens / el:.0f} min {el / 60:.1f}"
                print(msg, flush=True)
                log.write(msg + "\n")
                log.flush()
            if time.time() - last_ck > 240:
                msg = f"step {step} valid_nll {evaluate():.3f}"
                print(msg, flush=True)
                log.write(msg + "\n")
                save("last")
                last_ck = time.time()
    msg = f"final step {step} epochs {ep} valid_nll {evaluate():.3f} minutes {(time.time() - t_start) / 60:.1f}"
    print(msg, flush=True)
    log.write(msg + "\n")
    save("last")
    save("final")


def load_ckpt(path):
    ck = torch.load(path, map_location="cpu")
    m = Seq2SeqAttention(ck["cfg"])
    m.load_state_dict(ck["state"])
    m.eval()
    return m, ck


@torch.no_grad()
def greedy(model, ids, am, max_new=30, want=False):
    enc, s = model.encode(ids, am)
    keys = model.attn_W_h(enc)
    mask_add = (1.0 - am.to(enc.dtype)) * NEG
    B = ids.shape[0]
    prev = torch.full((B,), START, dtype=torch.long)
    outs = [[] for _ in range(B)]
    fin = [False] * B
    lps, alphas, raw = [], [], []
    for _ in range(max_new):
        pre, s, a = model.step(prev, s, enc, keys, mask_add)
        lg = model.logits(pre)
        if want:
            lps.append(torch.log_softmax(lg, -1))
            alphas.append(a)
            raw.append(lg)
        nxt = lg.argmax(-1)
        for j in range(B):
            if not fin[j]:
                outs[j].append(int(nxt[j]))
                fin[j] = int(nxt[j]) == D.EOS
        if all(fin):
            break
        prev = nxt
    return (outs, lps, alphas, raw) if want else outs


def translate_texts(model, tok, srcs, max_src, max_new, bs=64):
    import train_bart as TB
    enc = [encode_src(tok, s, max_src) for s in srcs]
    order = sorted(range(len(enc)), key=lambda i: len(enc[i]))
    res = [None] * len(enc)
    for k in range(0, len(order), bs):
        b = order[k:k + bs]
        ids, am = TB.pad_batch([enc[i] for i in b])
        for i, o in zip(b, greedy(model, ids, am, max_new)):
            res[i] = tok.decode([t for t in o if t > 3]).strip()
    return res


def cmd_evaluate(ckpt, data_dir, out_json, n_per_task=300):
    model, ck = load_ckpt(ckpt)
    tok = load_tok(os.path.join(os.path.dirname(ckpt), "tokenizer"))
    rows = D.load_jsonl(os.path.join(data_dir, "test.jsonl"))
    res = {"checkpoint_step": ck["step"], "train_minutes": ck["minutes"], "n_per_task": n_per_task, "tasks": {},
           "samples": {}}
    for task in TASKS:
        rs = [r for r in rows if r["task"] == task][:n_per_task]
        hyps = translate_texts(model, tok, [r["src"] for r in rs], model.cfg["max_source_length"], 64)
        refs = [r["tgt"] for r in rs]
        base = [D.strip_prefix(r["src"]) for r in rs]
        res["tasks"][task] = {"n": len(rs), "model": {"chrF": D.chrf(hyps, refs), "BLEU": D.bleu(hyps, refs)},
                              "copy_source_baseline": {"chrF": D.chrf(base, refs), "BLEU": D.bleu(base, refs)}}
        res["samples"][task] = [{"source": r["src"], "reference": r["tgt"], "output": h} for r, h in zip(rs[:5], hyps[:5])]
        print(task, json.dumps(res["tasks"][task]), flush=True)
    fixed = [f"translate English to {l}: {s}" for l in ("German", "French", "Spanish") for s in ("Open file", "Save changes?")]
    res["fixed_samples"] = [{"source": s, "output": o} for s, o in zip(fixed, translate_texts(model, tok, fixed, 96, 30))]
    for x in res["fixed_samples"]:
        print(x)
    with open(out_json, "w") as f:
        json.dump(res, f, indent=1, ensure_ascii=False)


# ---------------------------------------------------------------------------------------------------------
# Export
# ---------------------------------------------------------------------------------------------------------
class EncWrap(nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, input_ids, attention_mask):
        return self.m.encode(input_ids, attention_mask)


class StepWrap(nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, input_ids, state, encoder_outputs, attention_mask):
        keys = self.m.attn_W_h(encoder_outputs)
        mask_add = (1.0 - attention_mask.to(encoder_outputs.dtype)) * NEG
        pre, s, alpha = self.m.step(input_ids[:, 0], state, encoder_outputs, keys, mask_add)
        return self.m.logits(pre), s, alpha


ONNX_DOC = {
    "encoder": {"file": "onnx/encoder.onnx",
                "inputs": {"input_ids": ["batch_size", "source_length"], "attention_mask": ["batch_size", "source_length"]},
                "outputs": {"encoder_outputs": ["batch_size", "source_length", "2*hidden_size"],
                            "decoder_initial_state": ["batch_size", "hidden_size"]}},
    "decoder_step": {"file": "onnx/decoder_step.onnx",
                     "inputs": {"input_ids": ["batch_size", 1], "state": ["batch_size", "hidden_size"],
                                "encoder_outputs": ["batch_size", "source_length", "2*hidden_size"],
                                "attention_mask": ["batch_size", "source_length"]},
                     "outputs": {"logits": ["batch_size", "vocab_size"], "state_out": ["batch_size", "hidden_size"],
                                 "attention": ["batch_size", "source_length"]},
                     "notes": "one greedy/beam step: feed the previous token (decoder_start_token_id first) and the "
                              "previous state (decoder_initial_state first); `attention` is the step's alpha over "
                              "source positions (sums to 1, zeros at padding)."},
}


def cmd_export(ckpt, out_dir, work_dir):
    model, ck = load_ckpt(ckpt)
    c = model.cfg
    tok_dir = os.path.join(os.path.dirname(ckpt), "tokenizer")
    tok = load_tok(tok_dir)
    os.makedirs(os.path.join(out_dir, "onnx"), exist_ok=True)
    # padding sanity check: batched+padded == single
    a = encode_src(tok, "translate English to German: Open file", 96)
    b = encode_src(tok, "translate English to French: Save all changes before closing?", 96)
    import train_bart as TB
    ids, am = TB.pad_batch([a, b])
    with torch.no_grad():
        e2, s2 = model.encode(ids, am)
        e1, s1 = model.encode(torch.tensor([a]), torch.ones(1, len(a), dtype=torch.long))
    assert (e2[0, :len(a)] - e1[0]).abs().max() < 1e-5 and (s2[0] - s1[0]).abs().max() < 1e-5
    with torch.no_grad():
        torch.onnx.export(EncWrap(model), (ids, am), os.path.join(out_dir, "onnx/encoder.onnx"),
                          input_names=["input_ids", "attention_mask"],
                          output_names=["encoder_outputs", "decoder_initial_state"],
                          dynamic_axes={"input_ids": {0: "batch_size", 1: "source_length"},
                                        "attention_mask": {0: "batch_size", 1: "source_length"},
                                        "encoder_outputs": {0: "batch_size", 1: "source_length"},
                                        "decoder_initial_state": {0: "batch_size"}},
                          opset_version=14, do_constant_folding=False)
        prev = torch.tensor([[START], [START]])
        torch.onnx.export(StepWrap(model), (prev, s2, e2, am), os.path.join(out_dir, "onnx/decoder_step.onnx"),
                          input_names=["input_ids", "state", "encoder_outputs", "attention_mask"],
                          output_names=["logits", "state_out", "attention"],
                          dynamic_axes={"input_ids": {0: "batch_size"}, "state": {0: "batch_size"},
                                        "encoder_outputs": {0: "batch_size", 1: "source_length"},
                                        "attention_mask": {0: "batch_size", 1: "source_length"},
                                        "logits": {0: "batch_size"}, "state_out": {0: "batch_size"},
                                        "attention": {0: "batch_size", 1: "source_length"}},
                          opset_version=14, do_constant_folding=False)
    model.eval()  # torch.onnx.export restores the (train-mode) wrapper's mode recursively
    fixes = {"encoder_outputs": {2: 2 * c["hidden_size"]}, "decoder_initial_state": {1: c["hidden_size"]},
             "state": {1: c["hidden_size"]}, "state_out": {1: c["hidden_size"]}, "logits": {1: c["vocab_size"]}}
    for fn in ("encoder.onnx", "decoder_step.onnx"):
        D.set_static_dims(os.path.join(out_dir, "onnx", fn), fixes)
        D.strip_initializer_prefix(os.path.join(out_dir, "onnx", fn))
    tsp = {k: v for k, v in D.task_specific_params().items() if k.startswith("translation")}
    cfg = {"model_type": "rnn-attention-seq2seq", "architectures": ["Seq2SeqAttentionGRU"],
           "vocab_size": c["vocab_size"], "embedding_dim": c["embedding_dim"], "hidden_size": c["hidden_size"],
           "encoder_hidden_size": 2 * c["hidden_size"], "attention_dim": c["attention_dim"],
           "encoder": "bidirectional GRU (1 layer)", "decoder": "GRU (1 layer) with additive (Bahdanau) attention",
           "attention_type": "additive", "max_source_length": c["max_source_length"],
           "teacher_forcing_ratio": c["teacher_forcing_ratio"],
           "pad_token_id": D.PAD, "bos_token_id": D.BOS, "eos_token_id": D.EOS, "unk_token_id": D.UNK,
           "decoder_start_token_id": START, "is_encoder_decoder": True,
           "task_specific_params": tsp, "onnx": ONNX_DOC,
           "_comment": "Encoder input is <s> tokens </s> (tokenizer.json post_processor adds them); decoding starts "
                       "from decoder_start_token_id 0 (<s>) and stops at </s> (2)."}
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    with open(os.path.join(out_dir, "generation_config.json"), "w") as f:
        json.dump({"bos_token_id": D.BOS, "eos_token_id": D.EOS, "pad_token_id": D.PAD,
                   "decoder_start_token_id": START, "max_length": 64, "num_beams": 1}, f, indent=2)
    for fn in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(os.path.join(tok_dir, fn), os.path.join(out_dir, fn))
    tc = json.load(open(os.path.join(out_dir, "tokenizer_config.json")))
    tc["model_max_length"] = c["max_source_length"]
    json.dump(tc, open(os.path.join(out_dir, "tokenizer_config.json"), "w"), indent=2)
    # reference (PyTorch)
    srcs = ["translate English to German: Open file", "translate English to French: Open file",
            "translate English to Spanish: Open file", "translate English to German: Save changes?",
            "translate English to French: Save changes?", "translate English to Spanish: Save changes?"]
    ex, steps = [], []
    for src in srcs:
        ids1 = encode_src(tok, src, c["max_source_length"])
        x = torch.tensor([ids1])
        outs, lps, alphas, raw = greedy(model, x, torch.ones_like(x), 30, want=True)
        top5 = []
        for lp in lps[:5]:
            v, i = lp[0].topk(5)
            top5.append([{"id": int(p), "logprob": float(q)} for p, q in zip(i, v)])
        g = outs[0]
        ex.append({"source": src, "input_ids": ids1, "decoder_start_token_id": START, "greedy_ids": g,
                   "greedy_text": tok.decode([t for t in g if t > 3]).strip(), "top5": top5})
        steps.append({"source": src, "input_ids": ids1, "greedy_ids": g, "logits": [r[0].tolist() for r in raw],
                      "attention": [a[0].tolist() for a in alphas]})
    src = "translate English to German: Save changes to the document before closing?"
    ids1 = encode_src(tok, src, c["max_source_length"])
    x = torch.tensor([ids1])
    outs, _, alphas, _ = greedy(model, x, torch.ones_like(x), 30, want=True)
    ref = {"model": "rnn-attention-seq2seq", "examples": ex,
           "attention": {"source": src, "input_ids": ids1, "decoder_input_ids": [START] + outs[0],
                         "alignment": [[round(float(v), 6) for v in a[0]] for a in alphas]}}
    with open(os.path.join(out_dir, "reference.json"), "w") as f:
        json.dump(ref, f, ensure_ascii=False)
    with open(os.path.join(work_dir, "rnn_step_logits.json"), "w") as f:
        json.dump(steps, f)
    import onnx
    rep = {"params": n_params(model), "train_step": ck["step"], "train_minutes": ck["minutes"]}
    for fn in ("encoder.onnx", "decoder_step.onnx"):
        g = onnx.load(os.path.join(out_dir, "onnx", fn)).graph
        rep[fn] = {"inputs": [(i.name, [d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim]) for i in g.input],
                   "outputs": [(o.name, [d.dim_param or d.dim_value for d in o.type.tensor_type.shape.dim]) for o in g.output],
                   "softmax_nodes": [n.name for n in g.node if n.op_type == "Softmax"],
                   "op_types": sorted(set(n.op_type for n in g.node)),
                   "bytes": os.path.getsize(os.path.join(out_dir, "onnx", fn))}
    with open(os.path.join(work_dir, "rnn_export_report.json"), "w") as f:
        json.dump(rep, f, indent=1)
    print(json.dumps(rep, indent=1))
    for e in ex:
        print(e["source"], "->", e["greedy_text"])


def cmd_card(work_dir, out_dir):
    from train_bart import _mib
    ev = json.load(open(os.path.join(work_dir, "rnn_eval.json")))
    rep = json.load(open(os.path.join(work_dir, "rnn_export_report.json")))
    stats = json.load(open(os.path.join(work_dir, "data", "stats.json")))
    cfg = json.load(open(os.path.join(out_dir, "config.json")))
    finals = [l.strip() for l in open(os.path.join(work_dir, "rnn", "rnn_train.log")) if l.startswith("final")]
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
         f"Parameters: {rep['params']:,}. Files: {_mib(out_dir):.1f} MiB (fp32 ONNX: encoder "
         f"{rep['encoder.onnx']['bytes'] / 2 ** 20:.1f} MiB, decoder step {rep['decoder_step.onnx']['bytes'] / 2 ** 20:.1f} MiB).\n",
         "Tokenizer: the byte-level BPE of `bart-translate-summarize` (6000 tokens, `<s>`=0, `<pad>`=1, `</s>`=2, "
         "`<unk>`=3); encoder input `<s> … </s>` (added by the tokenizer's post-processor); decoding starts from "
         f"`decoder_start_token_id` = {cfg['decoder_start_token_id']} (`<s>`) and stops at `</s>`. Task prefixes: "
         + ", ".join(f"`{v['prefix']}`" for v in cfg["task_specific_params"].values()) + ".\n",
         "## ONNX graphs (opset 14)\n"]
    for fn in ("encoder.onnx", "decoder_step.onnx"):
        r = rep[fn]
        L.append(f"`onnx/{fn}`\n")
        L.append("- inputs: " + ", ".join(f"`{n}` {d}" for n, d in r["inputs"]))
        L.append("- outputs: " + ", ".join(f"`{n}` {d}" for n, d in r["outputs"]))
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
    L.append("| language | model chrF | model BLEU | copy-source chrF | copy-source BLEU |\n|---|---:|---:|---:|---:|")
    for k, name in (("de", "German"), ("fr", "French"), ("es", "Spanish")):
        m, b = t[k]["model"], t[k]["copy_source_baseline"]
        L.append(f"| {name} | {m['chrF']:.1f} | {m['BLEU']:.1f} | {b['chrF']:.1f} | {b['BLEU']:.1f} |")
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
    print(f"card written; folder {_mib(out_dir):.2f} MiB")


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "train":
        cmd_train(sys.argv[2], sys.argv[3], float(sys.argv[4]))
    elif cmd == "export":
        cmd_export(sys.argv[2], sys.argv[3], sys.argv[4])
    elif cmd == "evaluate":
        cmd_evaluate(sys.argv[2], sys.argv[3], sys.argv[4], int(os.environ.get("EVAL_N", "300")))
    elif cmd == "card":
        cmd_card(sys.argv[2], sys.argv[3])
    else:
        raise SystemExit("unknown command " + cmd)
