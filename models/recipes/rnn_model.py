#!/usr/bin/python3
"""The classic attention Seq2Seq (Bahdanau et al. 2015) of the GRU recipe, and its greedy decoding.

Embedding -> bidirectional GRU encoder -> [final forward state; final backward state] -> Linear+tanh -> initial
decoder state. GRU decoder with additive attention:
    score_tj = v . tanh(W_s s_{t-1} + W_h h_j)      alpha_t = masked softmax_j(score_tj)      c_t = sum_j alpha_tj h_j
    s_t = GRU([emb(y_{t-1}); c_t], s_{t-1})        logits_t = E . (W_o [s_t; c_t; emb(y_{t-1})]) + b
(the output projection is factorised through the tied embedding matrix E to keep the files small).

The bidirectional encoder is two unidirectional GRUs (ONNX GRU ops, dynamic length); the backward one reads each
sequence reversed within its own length (gather), so right-padding never leaks into valid positions, in training
and in the exported graph alike. The decoder GRU cell is written out (same gate layout as torch.nn.GRUCell).
Training feeds the model's own greedy prediction instead of the target with probability 1 - teacher_forcing_ratio.
"""
import os
import random
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import data_seq2seq as D  # noqa: E402
from seq2seq_common import NEG, load_checkpoint, n_params  # noqa: E402, F401 (n_params: the recipe's API)

# -----------------------------------------------------------------------------------------------------------------
# config: the architecture of the bundled model (vocab_size is set from the tokenizer)
DEFAULT_CFG = dict(vocab_size=6000, embedding_dim=128, hidden_size=256, attention_dim=256, max_source_length=96,
                   dropout=0.1, teacher_forcing_ratio=0.9)
START = D.BOS  # decoder_start_token_id = 0 (<s>)
TASKS = ["de", "fr", "es"]  # translation only
# -----------------------------------------------------------------------------------------------------------------


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


def load_ckpt(path):
    return load_checkpoint(path, Seq2SeqAttention)


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

