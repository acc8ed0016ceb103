#!/usr/bin/python3
"""The training loop of both Seq2Seq recipes (bart_train.py and rnn_train.py call `train`).

Teacher forcing on batches of about MAX_TOKENS padded tokens (source + target) cut from length-sorted buckets of
4096 pairs, all batches of an epoch shuffled together (so tasks mix within an epoch); Adam (eps 1e-8, BETAS), global
gradient clipping 1.0; learning rate PEAK_LR with linear warm-up over WARMUP steps, then cosine decay to a floor of 5%
of the peak over the budget; cross-entropy with LABEL_SMOOTHING, switched off after LS_OFF_FRAC of the budget.
Validation NLL (nats per target token) at the start, every 4 minutes and at the end; checkpoints
{cfg, state, step, minutes} in WORK_DIR/<name>_last.pt (every 4 minutes and at the end) and <name>_final.pt;
log lines in WORK_DIR/<name>_train.log (appended, so the stages of a run share one log).

The budget is wall-clock minutes (the bundled models were trained that way, so their step counts are machine-
dependent), or with MAX_STEPS > 0 a number of steps: the schedule then runs over steps and a run is repeatable bit
for bit (check_refactor.sh relies on it).

Knobs: DEFAULTS below; the callers' config blocks (bart_train.py, rnn_train.py) set their values.
"""
import math
import os
import random
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import data_seq2seq as D  # noqa: E402

# the loop's knobs and their defaults; bart_train.py and rnn_train.py set their own values in their config blocks
DEFAULTS = dict(
    SEED=1234,  # random/torch seed (initial weights, dropout, ...)
    BATCH_SEED=1,  # batch order
    INIT_CKPT="",  # continue from this checkpoint (a later stage)
    PEAK_LR=2e-3,
    WARMUP=100,  # warm-up steps
    BETAS=(0.9, 0.999),  # Adam
    MAX_TOKENS=3500,  # padded tokens per batch
    LABEL_SMOOTHING=0.0,
    LS_OFF_FRAC=1.0,  # no label smoothing after this fraction of the budget
    MAX_STEPS=0,  # > 0: a budget of steps instead of MINUTES (repeatable runs)
)
VALID_MAX_TOKENS = 6000  # padded tokens per validation batch
CHECKPOINT_SECONDS = 240  # validation + <name>_last.pt this often
LOG_EVERY = 50  # steps between loss lines


def make_batches(data, max_tokens, rng):
    """Lists of indices into data [(src ids, tgt ids, task)] with at most max_tokens padded tokens each."""
    idx = list(range(len(data)))
    rng.shuffle(idx)
    batches = []
    chunk = 4096
    for c0 in range(0, len(idx), chunk):
        part = sorted(idx[c0:c0 + chunk], key=lambda i: (len(data[i][0]), len(data[i][1])))
        cur, ms, mt = [], 0, 0
        for i in part:
            s, t, _ = data[i]
            ns, nt = max(ms, len(s)), max(mt, len(t) + 1)
            if cur and (len(cur) + 1) * (ns + nt) > max_tokens:
                batches.append(cur)
                cur, ns, nt = [], len(s), len(t) + 1
            cur.append(i)
            ms, mt = ns, nt
        if cur:
            batches.append(cur)
    rng.shuffle(batches)
    return batches


def collate(data, b, start_id):
    """Padded source ids, attention mask, decoder inputs (start_id + target[:-1]) and labels (-100 at padding)."""
    S = max(len(data[i][0]) for i in b)
    T = max(len(data[i][1]) for i in b)
    src = torch.full((len(b), S), D.PAD, dtype=torch.long)
    am = torch.zeros((len(b), S), dtype=torch.long)
    dec_in = torch.full((len(b), T), D.PAD, dtype=torch.long)
    lab = torch.full((len(b), T), -100, dtype=torch.long)
    for j, i in enumerate(b):
        s, t, _ = data[i]
        src[j, :len(s)] = torch.tensor(s)
        am[j, :len(s)] = 1
        tin = [start_id] + t[:-1]
        dec_in[j, :len(t)] = torch.tensor(tin)
        lab[j, :len(t)] = torch.tensor(t)
    return src, am, dec_in, lab


def start_model(make_model, cfg, init_ckpt):
    """make_model(cfg), or with init_ckpt that checkpoint's weights (and cfg, where it differs) to continue from.
    Returns model, cfg, (steps, minutes) trained before."""
    model = make_model(cfg)
    if not init_ckpt:
        return model, cfg, (0, 0.0)
    ck = torch.load(init_ckpt, map_location="cpu")
    if ck["cfg"] != cfg:
        cfg = ck["cfg"]
        model = make_model(cfg)
    model.load_state_dict(ck["state"])
    print(f"continuing from {init_ckpt}: step {ck['step']}, {ck['minutes']:.1f} min", flush=True)
    return model, cfg, (ck["step"], ck["minutes"])


def valid_nll(model, valid, start_id, groups=None):
    """Validation NLL per target token, as text: "x.xxx", or with groups [(name, keep(task))] also per group,
    "x.xxx (name1 y.yyy, name2 z.zzz)"."""
    model.eval()
    tot, n = [], []
    with torch.no_grad():
        for _, keep in groups or [("all", lambda task: True)]:
            rows = [v for v in valid if keep(v[2])]
            t, c = 0.0, 0
            for b in make_batches(rows, VALID_MAX_TOKENS, random.Random(0)):
                src, am, di, lab = collate(rows, b, start_id)
                lg = model(src, am, di)
                t += F.cross_entropy(lg.reshape(-1, lg.shape[-1]), lab.view(-1), ignore_index=-100,
                                     reduction="sum").item()
                c += (lab != -100).sum().item()
            tot.append(t)
            n.append(c)
    model.train()
    msg = f"{sum(tot) / sum(n):.3f}"
    if groups:
        msg += " (" + ", ".join(f"{name} {t / c:.3f}" for (name, _), t, c in zip(groups, tot, n)) + ")"
    return msg


def train(model, cfg, train_data, valid, work_dir, name, minutes, knobs, start_id, forward=None, groups=None,
          history=(0, 0.0)):
    """Trains `model` in place (see the module docstring). train_data, valid: [(src ids, tgt ids, task)];
    forward(model, src, attention_mask, decoder_input_ids) -> logits (default: model(...)); groups: see valid_nll;
    history: (steps, minutes) of the checkpoint it continues from."""
    forward = forward or (lambda m, src, am, di: m(src, am, di))
    prev_steps, prev_minutes = history
    opt = torch.optim.Adam(model.parameters(), lr=knobs["PEAK_LR"], betas=knobs["BETAS"], eps=1e-8)
    peak, warm, max_steps = knobs["PEAK_LR"], knobs["WARMUP"], knobs["MAX_STEPS"]
    ls, ls_off = knobs["LABEL_SMOOTHING"], knobs["LS_OFF_FRAC"]
    print(f"threads {torch.get_num_threads()} " + " ".join(f"{k} {v}" for k, v in knobs.items()), flush=True)
    budget = minutes * 60.0
    rng = random.Random(knobs["BATCH_SEED"])
    step, ep, tokens, ema = 0, 0, 0, None
    t_start = time.time()
    last_ck = t_start
    log = open(os.path.join(work_dir, f"{name}_train.log"), "a")

    def say(msg):
        print(msg, flush=True)
        log.write(msg + "\n")
        log.flush()

    def save(tag):
        torch.save({"cfg": cfg, "state": model.state_dict(), "step": prev_steps + step,
                    "minutes": prev_minutes + (time.time() - t_start) / 60.0}, os.path.join(work_dir, f"{name}_{tag}.pt"))

    say(f"start valid_nll {valid_nll(model, valid, start_id, groups)}")
    done = False
    model.train()
    while not done:
        ep += 1
        for b in make_batches(train_data, knobs["MAX_TOKENS"], rng):
            frac = step / max_steps if max_steps else (time.time() - t_start) / budget
            if frac >= 1.0:
                done = True
                break
            lr = peak * min(1.0, (step + 1) / warm) * max(0.05, 0.5 * (1 + math.cos(math.pi * frac)))
            for g in opt.param_groups:
                g["lr"] = lr
            src, am, di, lab = collate(train_data, b, start_id)
            lg = forward(model, src, am, di)
            loss = F.cross_entropy(lg.reshape(-1, lg.shape[-1]), lab.view(-1), ignore_index=-100,
                                   label_smoothing=ls if frac < ls_off else 0.0)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            step += 1
            tokens += int(am.sum()) + int((lab != -100).sum())
            ema = loss.item() if ema is None else 0.98 * ema + 0.02 * loss.item()
            if step % LOG_EVERY == 0:
                el = time.time() - t_start
                say(f"step {step} ep {ep} loss {ema:.3f} lr {lr:.2e} tok/s {tokens / el:.0f} min {el / 60:.1f}")
            if time.time() - last_ck > CHECKPOINT_SECONDS:
                say(f"step {step} valid_nll {valid_nll(model, valid, start_id, groups)}")
                save("last")
                last_ck = time.time()
    say(f"final step {step} epochs {ep} valid_nll {valid_nll(model, valid, start_id, groups)} "
        f"minutes {(time.time() - t_start) / 60:.1f}")
    save("last")
    save("final")
