"""Shared helpers for the model recipes (stable API; other recipes import it).

    from common import GPT, GPTConfig, export_decoder_onnx, make_reference, write_json, count_params

GPT: GPT-2 architecture (pre-LN, learned positions, tanh-GELU MLP, tied LM head) with Hugging Face
module names (transformer.wte/wpe/h.{i}.ln_1/attn.c_attn/attn.c_proj/ln_2/mlp.c_fc/mlp.c_proj/ln_f,
lm_head), so ONNX node names look like Hub exports. Attention probabilities are exactly one
`torch.softmax(scores + additive_mask, -1)` per layer -> one ONNX Softmax node [batch, heads, q, k].

Any decoder module used with export_decoder_onnx / make_reference must implement
    forward(input_ids, attention_mask, position_ids, past_key_values=None, return_attn=False)
      -> (logits [B,T,V], presents: list of (k, v) [B, kv_heads, past+T, head_dim], attn list or None)
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, asdict
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

NEG = torch.finfo(torch.float32).min


def write_json(path: str, obj, indent: Optional[int] = 2) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False, indent=indent)
        f.write("\n")


def count_params(model: nn.Module) -> int:
    """Unique parameters (tied weights counted once)."""
    seen, n = set(), 0
    for p in model.parameters():
        if id(p) not in seen:
            seen.add(id(p))
            n += p.numel()
    return n


def additive_mask(attention_mask: torch.Tensor, q_len: int, past_len, dtype=torch.float32) -> torch.Tensor:
    """[B, 1, q, past+q] additive mask: 0 where allowed (causal & attention_mask==1), finfo.min elsewhere.

    past_len may be an int or a 0-d tensor (traced)."""
    total = attention_mask.shape[1]
    k_idx = torch.arange(total, device=attention_mask.device)
    q_idx = torch.arange(q_len, device=attention_mask.device) + past_len
    causal = k_idx[None, :] <= q_idx[:, None]  # [q, total]
    allowed = causal[None, None, :, :] & (attention_mask[:, None, None, :] > 0)
    return (1.0 - allowed.to(dtype)) * NEG


@dataclass
class GPTConfig:
    vocab_size: int = 4096
    n_positions: int = 512
    n_embd: int = 192
    n_layer: int = 4
    n_head: int = 6
    layer_norm_epsilon: float = 1e-5

    @property
    def head_dim(self) -> int:
        return self.n_embd // self.n_head


class GPTAttention(nn.Module):
    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.n_head, self.head_dim = cfg.n_head, cfg.head_dim
        self.c_attn = nn.Linear(cfg.n_embd, 3 * cfg.n_embd)
        self.c_proj = nn.Linear(cfg.n_embd, cfg.n_embd)

    def forward(self, x, mask, past: Optional[Tuple[torch.Tensor, torch.Tensor]]):
        B, T, C = x.shape
        q, k, v = self.c_attn(x).split(C, dim=2)
        q = q.view(B, T, self.n_head, self.head_dim).transpose(1, 2)
        k = k.view(B, T, self.n_head, self.head_dim).transpose(1, 2)
        v = v.view(B, T, self.n_head, self.head_dim).transpose(1, 2)
        if past is not None:
            k = torch.cat([past[0], k], dim=2)
            v = torch.cat([past[1], v], dim=2)
        scores = torch.matmul(q, k.transpose(-1, -2)) * (1.0 / math.sqrt(self.head_dim))
        probs = torch.softmax(scores + mask, dim=-1)
        y = torch.matmul(probs, v).transpose(1, 2).reshape(B, T, C)
        return self.c_proj(y), (k, v), probs


class GPTMLP(nn.Module):
    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.c_fc = nn.Linear(cfg.n_embd, 4 * cfg.n_embd)
        self.c_proj = nn.Linear(4 * cfg.n_embd, cfg.n_embd)
        self.act = nn.GELU(approximate="tanh")

    def forward(self, x):
        return self.c_proj(self.act(self.c_fc(x)))


class GPTBlock(nn.Module):
    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.ln_1 = nn.LayerNorm(cfg.n_embd, eps=cfg.layer_norm_epsilon)
        self.attn = GPTAttention(cfg)
        self.ln_2 = nn.LayerNorm(cfg.n_embd, eps=cfg.layer_norm_epsilon)
        self.mlp = GPTMLP(cfg)

    def forward(self, x, mask, past):
        a, present, probs = self.attn(self.ln_1(x), mask, past)
        x = x + a
        x = x + self.mlp(self.ln_2(x))
        return x, present, probs


class GPTTransformer(nn.Module):
    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.wte = nn.Embedding(cfg.vocab_size, cfg.n_embd)
        self.wpe = nn.Embedding(cfg.n_positions, cfg.n_embd)
        self.h = nn.ModuleList([GPTBlock(cfg) for _ in range(cfg.n_layer)])
        self.ln_f = nn.LayerNorm(cfg.n_embd, eps=cfg.layer_norm_epsilon)

    def forward(self, input_ids, position_ids, mask, past_key_values=None, return_attn: bool = False):
        x = self.wte(input_ids) + self.wpe(position_ids)
        presents, attns = [], []
        for i, block in enumerate(self.h):
            x, present, probs = block(x, mask, None if past_key_values is None else past_key_values[i])
            presents.append(present)
            if return_attn:
                attns.append(probs)
        return self.ln_f(x), presents, (attns if return_attn else None)


class GPT(nn.Module):
    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.cfg = cfg
        self.transformer = GPTTransformer(cfg)
        self.lm_head = nn.Linear(cfg.n_embd, cfg.vocab_size, bias=False)
        self.lm_head.weight = self.transformer.wte.weight  # tied
        self.apply(self._init)
        for n, p in self.named_parameters():
            if n.endswith("c_proj.weight"):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * cfg.n_layer))

    @staticmethod
    def _init(m):
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, mean=0.0, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Embedding):
            nn.init.normal_(m.weight, mean=0.0, std=0.02)

    def forward(self, input_ids, attention_mask=None, position_ids=None, past_key_values=None, return_attn=False):
        B, T = input_ids.shape
        past_len = 0 if past_key_values is None else past_key_values[0][0].shape[2]
        if attention_mask is None:
            attention_mask = torch.ones(B, past_len + T, dtype=torch.long, device=input_ids.device)
        if position_ids is None:
            position_ids = (torch.arange(T, device=input_ids.device) + past_len)[None, :].expand(B, T)
        mask = additive_mask(attention_mask, T, past_len)
        h, presents, attns = self.transformer(input_ids, position_ids, mask, past_key_values, return_attn)
        return self.lm_head(h), presents, attns

    def hf_config(self, bos_token_id: int, eos_token_id: int, **extra) -> dict:
        c = self.cfg
        d = {
            "_name_or_path": "gpt2-code",
            "architectures": ["GPT2LMHeadModel"],
            "model_type": "gpt2",
            "activation_function": "gelu_new",
            "attn_pdrop": 0.0, "embd_pdrop": 0.0, "resid_pdrop": 0.0,
            "initializer_range": 0.02,
            "layer_norm_epsilon": c.layer_norm_epsilon,
            "n_ctx": c.n_positions,
            "n_embd": c.n_embd,
            "n_head": c.n_head,
            "n_inner": None,
            "n_layer": c.n_layer,
            "n_positions": c.n_positions,
            "vocab_size": c.vocab_size,
            "bos_token_id": bos_token_id,
            "eos_token_id": eos_token_id,
            "pad_token_id": eos_token_id,
            "tie_word_embeddings": True,
            "scale_attn_weights": True,
            "use_cache": True,
            "torch_dtype": "float32",
        }
        d.update(extra)
        return d


# ---------------------------------------------------------------- ONNX export

class _ExportWrapper(nn.Module):
    def __init__(self, model: nn.Module, n_layer: int):
        super().__init__()
        self.model, self.n_layer = model, n_layer

    def forward(self, input_ids, attention_mask, position_ids, *past_flat):
        past = [(past_flat[2 * i], past_flat[2 * i + 1]) for i in range(self.n_layer)]
        logits, presents, _ = self.model(input_ids, attention_mask, position_ids, past)
        out = [logits]
        for k, v in presents:
            out += [k, v]
        return tuple(out)


def _strip_prefix(graph, prefix: str = "model") -> None:
    """Rename '/model/...' node/value names and 'model.' initializers (added by the export wrapper)."""
    def fix(n: str) -> str:
        if n.startswith("/" + prefix + "/"):
            return n[len(prefix) + 1:]
        if n.startswith(prefix + "."):
            return n[len(prefix) + 1:]
        return n

    for node in graph.node:
        node.name = fix(node.name)
        for i, x in enumerate(node.input):
            node.input[i] = fix(x)
        for i, x in enumerate(node.output):
            node.output[i] = fix(x)
    for t in graph.initializer:
        t.name = fix(t.name)
    for v in graph.value_info:
        v.name = fix(v.name)


def export_decoder_onnx(model: nn.Module, path: str, n_layer: int, n_kv_heads: int, head_dim: int,
                        opset: int = 14) -> List[str]:
    """Export a decoder with Hub-style I/O. Returns the names of the Softmax nodes."""
    import onnx

    model = model.eval()
    names_in = ["input_ids", "attention_mask", "position_ids"]
    names_out = ["logits"]
    axes = {
        "input_ids": {0: "batch_size", 1: "sequence_length"},
        "attention_mask": {0: "batch_size", 1: "past_sequence_length + sequence_length"},
        "position_ids": {0: "batch_size", 1: "sequence_length"},
        "logits": {0: "batch_size", 1: "sequence_length"},
    }
    B, P, T = 2, 3, 4
    past = []
    for i in range(n_layer):
        for kv in ("key", "value"):
            n = f"past_key_values.{i}.{kv}"
            names_in.append(n)
            axes[n] = {0: "batch_size", 2: "past_sequence_length"}
            past.append(torch.randn(B, n_kv_heads, P, head_dim))
            o = f"present.{i}.{kv}"
            names_out.append(o)
            axes[o] = {0: "batch_size", 2: "past_sequence_length + sequence_length"}
    ids = torch.randint(0, 100, (B, T))
    am = torch.ones(B, P + T, dtype=torch.long)
    pos = (torch.arange(T) + P)[None].expand(B, T).contiguous()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with torch.no_grad():
        torch.onnx.export(_ExportWrapper(model, n_layer), (ids, am, pos, *past), path,
                          input_names=names_in, output_names=names_out, dynamic_axes=axes,
                          opset_version=opset, do_constant_folding=False)
    m = onnx.load(path)
    _strip_prefix(m.graph)
    onnx.save(m, path)
    onnx.checker.check_model(m)
    return [n.name for n in m.graph.node if n.op_type == "Softmax"]


# ---------------------------------------------------------------- reference (PyTorch-computed)

@torch.no_grad()
def _full_logits(model, ids: List[int], return_attn=False):
    x = torch.tensor([ids], dtype=torch.long)
    logits, _, attn = model(x, torch.ones_like(x), torch.arange(len(ids))[None], None, return_attn)
    return logits[0], attn


@torch.no_grad()
def prompt_reference(model, tok, text: str, max_new_tokens: int = 20, eos_id: Optional[int] = None) -> dict:
    model.eval()
    ids = tok.encode(text)
    logits, _ = _full_logits(model, ids)
    lp = torch.log_softmax(logits.double(), -1)
    score = [float(lp[t - 1, ids[t]]) for t in range(1, len(ids))]
    seq = list(ids)
    greedy, top5 = [], []
    for step in range(max_new_tokens):
        lg, _ = _full_logits(model, seq)
        last = lg[-1]
        nxt = int(torch.argmax(last))
        if step < 5:
            l = torch.log_softmax(last.double(), -1)
            v, ix = torch.topk(l, 5)
            top5.append([{"id": int(i), "logprob": float(x)} for x, i in zip(v, ix)])
        greedy.append(nxt)
        seq.append(nxt)
        if eos_id is not None and nxt == eos_id:
            break
    return {"text": text, "input_ids": ids, "greedy_ids": greedy, "greedy_text": tok.decode(greedy),
            "top5": top5, "score_logprobs": score}


@torch.no_grad()
def greedy_step_logits(model, ids: List[int], greedy_ids: List[int]) -> List[List[float]]:
    """Raw last-position logits before each greedy step (PyTorch, no cache), for ONNX checks."""
    out, seq = [], list(ids)
    for g in greedy_ids:
        lg, _ = _full_logits(model, seq)
        out.append([round(float(x), 6) for x in lg[-1]])
        seq.append(g)
    return out


@torch.no_grad()
def make_reference(model, tok, name: str, prompts: Sequence[str], attention_text: str,
                   eos_id: Optional[int] = None) -> dict:
    model.eval()
    ref = {"model": name, "prompts": [prompt_reference(model, tok, p, 20, eos_id) for p in prompts]}
    ids = tok.encode(attention_text)
    _, attn = _full_logits(model, ids, return_attn=True)
    ref["attention"] = {"text": attention_text, "input_ids": ids,
                        "layers": [[[[round(float(x), 7) for x in row] for row in head] for head in a[0]] for a in attn]}
    return ref
