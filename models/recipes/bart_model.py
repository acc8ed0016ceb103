#!/usr/bin/python3
"""The BART-style encoder-decoder (plain PyTorch, no HF libraries) and its greedy KV-cache decoding.

Module names follow Hugging Face BartForConditionalGeneration (model.shared, model.encoder.layers.{i}.self_attn,
model.decoder.layers.{i}.self_attn / encoder_attn, lm_head), so the ONNX initializers keep those names
(bart_from_onnx.py reads them back). GELU FFN, learned positions with BART's offset of 2, `layernorm_embedding`,
tied LM head + final_logits_bias; pre-LayerNorm blocks with a final `layer_norm` in encoder and decoder
(normalize_before, as mBART; post-LN when it is false). Every attention's probabilities are exactly one softmax over
the last axis of [batch, heads, q, k] (masks added before it) -> one ONNX Softmax node each.
"""
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import data_seq2seq as D  # noqa: E402
from seq2seq_common import NEG, load_checkpoint, n_params as _n_params  # noqa: E402

# -----------------------------------------------------------------------------------------------------------------
# config: the architecture of the bundled model (vocab_size is set from the tokenizer); bart_export.py's fixture
# shrinks it
DEFAULT_CFG = dict(vocab_size=6000, d_model=144, encoder_layers=3, decoder_layers=3, encoder_attention_heads=4,
                   decoder_attention_heads=4, encoder_ffn_dim=576, decoder_ffn_dim=576, max_position_embeddings=256,
                   dropout=0.0, init_std=0.02, normalize_before=True)
DECODER_START = D.EOS  # decoder_start_token_id: </s>, as BART
# -----------------------------------------------------------------------------------------------------------------


class BartAttention(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.h = heads
        self.hd = d // heads
        self.scaling = self.hd ** -0.5
        self.k_proj = nn.Linear(d, d)
        self.v_proj = nn.Linear(d, d)
        self.q_proj = nn.Linear(d, d)
        self.out_proj = nn.Linear(d, d)
        self.last_probs = None  # set when capture is on
        self.capture = False

    def shape(self, x):  # [B, L, d] -> [B, H, L, hd]
        B, L, _ = x.shape
        return x.view(B, L, self.h, self.hd).transpose(1, 2)

    def forward(self, q, k, v, mask_add):
        # q: [B,H,T,hd] (already scaled), k/v: [B,H,S,hd], mask_add broadcastable to [B,H,T,S]
        scores = torch.matmul(q, k.transpose(-1, -2)) + mask_add
        probs = torch.softmax(scores, dim=-1)
        if self.capture:
            self.last_probs = probs.detach()
        if self.training and self.drop_p > 0:
            probs = F.dropout(probs, self.drop_p, True)
        out = torch.matmul(probs, v)  # [B,H,T,hd]
        B, H, T, hd = out.shape
        return self.out_proj(out.transpose(1, 2).reshape(B, T, H * hd))

    drop_p = 0.0


class EncoderLayer(nn.Module):
    def __init__(self, c):
        super().__init__()
        d = c["d_model"]
        self.self_attn = BartAttention(d, c["encoder_attention_heads"])
        self.self_attn_layer_norm = nn.LayerNorm(d)
        self.fc1 = nn.Linear(d, c["encoder_ffn_dim"])
        self.fc2 = nn.Linear(c["encoder_ffn_dim"], d)
        self.final_layer_norm = nn.LayerNorm(d)
        self.p = c["dropout"]
        self.pre = c.get("normalize_before", False)

    def forward(self, x, mask_add):
        a = self.self_attn
        if self.pre:
            y = self.self_attn_layer_norm(x)
            h = a(a.shape(a.q_proj(y) * a.scaling), a.shape(a.k_proj(y)), a.shape(a.v_proj(y)), mask_add)
            x = x + F.dropout(h, self.p, self.training)
            h = self.fc2(F.dropout(F.gelu(self.fc1(self.final_layer_norm(x))), self.p, self.training))
            return x + F.dropout(h, self.p, self.training)
        h = a(a.shape(a.q_proj(x) * a.scaling), a.shape(a.k_proj(x)), a.shape(a.v_proj(x)), mask_add)
        x = self.self_attn_layer_norm(x + F.dropout(h, self.p, self.training))
        h = self.fc2(F.dropout(F.gelu(self.fc1(x)), self.p, self.training))
        return self.final_layer_norm(x + F.dropout(h, self.p, self.training))


class DecoderLayer(nn.Module):
    def __init__(self, c):
        super().__init__()
        d = c["d_model"]
        self.self_attn = BartAttention(d, c["decoder_attention_heads"])
        self.self_attn_layer_norm = nn.LayerNorm(d)
        self.encoder_attn = BartAttention(d, c["decoder_attention_heads"])
        self.encoder_attn_layer_norm = nn.LayerNorm(d)
        self.fc1 = nn.Linear(d, c["decoder_ffn_dim"])
        self.fc2 = nn.Linear(c["decoder_ffn_dim"], d)
        self.final_layer_norm = nn.LayerNorm(d)
        self.p = c["dropout"]
        self.pre = c.get("normalize_before", False)

    def forward(self, x, self_mask, enc_mask_add, past_k, past_v, cross_k, cross_v):
        """past_k/past_v: [B,H,P,hd] or None; cross_k/v: [B,H,S,hd]. Returns x, (new_k, new_v) full self cache."""
        a = self.self_attn
        pre = self.pre
        y = self.self_attn_layer_norm(x) if pre else x
        k = a.shape(a.k_proj(y))
        v = a.shape(a.v_proj(y))
        if past_k is not None:
            k = torch.cat([past_k, k], dim=2)
            v = torch.cat([past_v, v], dim=2)
        h = a(a.shape(a.q_proj(y) * a.scaling), k, v, self_mask)
        x = x + F.dropout(h, self.p, self.training)
        if not pre:
            x = self.self_attn_layer_norm(x)
        c = self.encoder_attn
        y = self.encoder_attn_layer_norm(x) if pre else x
        h = c(c.shape(c.q_proj(y) * c.scaling), cross_k, cross_v, enc_mask_add)
        x = x + F.dropout(h, self.p, self.training)
        if not pre:
            x = self.encoder_attn_layer_norm(x)
        y = self.final_layer_norm(x) if pre else x
        h = self.fc2(F.dropout(F.gelu(self.fc1(y)), self.p, self.training))
        x = x + F.dropout(h, self.p, self.training)
        if not pre:
            x = self.final_layer_norm(x)
        return x, k, v


class LearnedPos(nn.Embedding):
    offset = 2  # BART

    def __init__(self, n, d):
        super().__init__(n + self.offset, d)


class BartEncoder(nn.Module):
    def __init__(self, c, shared):
        super().__init__()
        self.embed_tokens = shared
        self.embed_positions = LearnedPos(c["max_position_embeddings"], c["d_model"])
        self.layernorm_embedding = nn.LayerNorm(c["d_model"])
        self.layers = nn.ModuleList([EncoderLayer(c) for _ in range(c["encoder_layers"])])
        self.layer_norm = nn.LayerNorm(c["d_model"]) if c.get("normalize_before") else None
        self.p = c["dropout"]

    def forward(self, input_ids, attention_mask):
        S = input_ids.shape[1]
        pos = torch.arange(S, device=input_ids.device) + LearnedPos.offset
        x = self.embed_tokens(input_ids) + self.embed_positions(pos)[None]
        x = F.dropout(self.layernorm_embedding(x), self.p, self.training)
        mask_add = (1.0 - attention_mask[:, None, None, :].to(x.dtype)) * NEG
        for l in self.layers:
            x = l(x, mask_add)
        if self.layer_norm is not None:
            x = self.layer_norm(x)
        return x


class BartDecoder(nn.Module):
    def __init__(self, c, shared):
        super().__init__()
        self.embed_tokens = shared
        self.embed_positions = LearnedPos(c["max_position_embeddings"], c["d_model"])
        self.layernorm_embedding = nn.LayerNorm(c["d_model"])
        self.layers = nn.ModuleList([DecoderLayer(c) for _ in range(c["decoder_layers"])])
        self.layer_norm = nn.LayerNorm(c["d_model"]) if c.get("normalize_before") else None
        self.p = c["dropout"]

    def cross_kv(self, enc_hs):
        out = []
        for l in self.layers:
            a = l.encoder_attn
            out.append((a.shape(a.k_proj(enc_hs)), a.shape(a.v_proj(enc_hs))))
        return out

    def forward(self, input_ids, enc_attention_mask, past_self, cross):
        """past_self: list of (k, v) [B,H,P,hd] (P may be 0) or None; cross: list of (k, v) [B,H,S,hd].
        Returns hidden [B,T,d], list of full self (k, v)."""
        T = input_ids.shape[1]
        P = past_self[0][0].shape[2] if past_self is not None else 0
        qpos = torch.arange(T, device=input_ids.device) + P
        x = self.embed_tokens(input_ids) + self.embed_positions(qpos + LearnedPos.offset)[None]
        x = F.dropout(self.layernorm_embedding(x), self.p, self.training)
        kpos = torch.arange(P + T, device=input_ids.device)
        self_mask = (kpos[None, :] > qpos[:, None]).to(x.dtype)[None, None] * NEG  # [1,1,T,P+T]
        enc_mask_add = (1.0 - enc_attention_mask[:, None, None, :].to(x.dtype)) * NEG
        presents = []
        for i, l in enumerate(self.layers):
            pk, pv = (past_self[i] if past_self is not None else (None, None))
            x, k, v = l(x, self_mask, enc_mask_add, pk, pv, cross[i][0], cross[i][1])
            presents.append((k, v))
        if self.layer_norm is not None:
            x = self.layer_norm(x)
        return x, presents


class TiedLMHead(nn.Module):
    """lm_head: linear layer whose weight is model.shared.weight (not a separate parameter)."""

    def __init__(self, shared):
        super().__init__()
        self._shared = [shared]  # not registered as a submodule: no duplicate state_dict entry

    def forward(self, h):
        return F.linear(h, self._shared[0].weight)


class BartModel(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.shared = nn.Embedding(c["vocab_size"], c["d_model"], padding_idx=D.PAD)
        self.encoder = BartEncoder(c, self.shared)
        self.decoder = BartDecoder(c, self.shared)


class BartForConditionalGeneration(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.cfg = dict(c)
        self.model = BartModel(c)
        self.register_buffer("final_logits_bias", torch.zeros(1, c["vocab_size"]))
        self.lm_head_bias_trainable = nn.Parameter(torch.zeros(c["vocab_size"]))
        self.lm_head = TiedLMHead(self.model.shared)
        for m in self.modules():
            if isinstance(m, BartAttention):
                m.drop_p = c["dropout"]
        self.apply(self._init)

    def _init(self, m):
        std = self.cfg["init_std"]
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0, std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Embedding):
            nn.init.normal_(m.weight, 0, std)
            if m.padding_idx is not None:
                with torch.no_grad():
                    m.weight[m.padding_idx].zero_()

    def lm_logits(self, h):
        # tied LM head (lm_head.weight == model.shared.weight) + bias
        return self.lm_head(h) + self.final_logits_bias + self.lm_head_bias_trainable

    def forward(self, input_ids, attention_mask, decoder_input_ids):
        enc = self.model.encoder(input_ids, attention_mask)
        cross = self.model.decoder.cross_kv(enc)
        h, _ = self.model.decoder(decoder_input_ids, attention_mask, None, cross)
        return self.lm_logits(h)

    def set_capture(self, on):
        for m in self.modules():
            if isinstance(m, BartAttention):
                m.capture = on
                m.last_probs = None

    def fold_bias(self):
        """Move the trained LM bias into final_logits_bias (as HF stores it)."""
        with torch.no_grad():
            self.final_logits_bias += self.lm_head_bias_trainable[None]
            self.lm_head_bias_trainable.zero_()


def n_params(model):
    return _n_params(model, skip=("lm_head_bias_trainable",))


def load_ckpt(path):
    """(model with the LM bias folded into final_logits_bias, in eval mode; checkpoint dict)."""
    model, ck = load_checkpoint(path, BartForConditionalGeneration)
    model.fold_bias()
    return model, ck


# -----------------------------------------------------------------------------------------------------------------
# Decoding in PyTorch (KV cache, same computation as the exported graphs)
# -----------------------------------------------------------------------------------------------------------------
@torch.no_grad()
def greedy(model, input_ids, attention_mask, max_new=30, start=DECODER_START, want_scores=False):
    enc = model.model.encoder(input_ids, attention_mask)
    cross = model.model.decoder.cross_kv(enc)
    B = input_ids.shape[0]
    cur = torch.full((B, 1), start, dtype=torch.long)
    past = None
    outs = [[] for _ in range(B)]
    finished = [False] * B
    scores = []
    for _ in range(max_new):
        h, past = model.model.decoder(cur, attention_mask, past, cross)
        lg = model.lm_logits(h[:, -1])
        if want_scores:
            scores.append(torch.log_softmax(lg, -1))
        nxt = lg.argmax(-1)
        for j in range(B):
            if not finished[j]:
                outs[j].append(int(nxt[j]))
                if int(nxt[j]) == D.EOS:
                    finished[j] = True
        if all(finished):
            break
        cur = nxt[:, None]
    return (outs, scores) if want_scores else outs

