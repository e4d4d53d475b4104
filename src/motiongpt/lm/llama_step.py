"""A lean cached decoding step for Llama-family backbones (SmolLM2, the default) on CPU.

:func:`decode <motiongpt.lm.generation.decode>` runs the prompt pass (:meth:`LlamaStep.prefill`) and
each further token (:meth:`LlamaStep.step`) through this module instead of the transformers forward. It
computes the same blocks (RMSNorm, rotary attention with grouped key/value heads, SwiGLU MLP) with:

- the query/key/value and the gate/up projections each fused into one matrix, every block matrix packed
  once as float16 for FBGEMM's fp16 matrix product (activations and accumulation stay float32; about 3x
  faster than a float16 ``F.linear`` for one or two rows, and faster than float32 at 32 rows);
- a key/value cache preallocated for the whole answer (written in place; no concatenation per step),
  rotary tables computed once per call, and identical prompts run once and shared;
- none of the per-step mask building, cache objects and output dataclasses of the generic forward.

It returns the final hidden state; the caller applies the output layer (all rows or the motion rows).
Logits agree with the transformers forward within float16 rounding of the weights (a test checks it).
Used only for a model prepared by ``MotionLanguageModel.optimize_for_inference`` (its block linears
are ``_HalfGemvLinear``: inference only), a ``LlamaForCausalLM`` whose blocks this code knows, and a
torch with the FBGEMM fp16 ops (x86); anything else keeps the generic path.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

_PROJ = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
_STEPS: weakref.WeakKeyDictionary[Any, tuple[tuple[int, ...], LlamaStep]] = weakref.WeakKeyDictionary()


def _fp16_ops() -> bool:
    ops = getattr(torch.ops, "quantized", None)
    try:
        return ops is not None and hasattr(ops, "linear_prepack_fp16") and hasattr(ops, "linear_dynamic_fp16")
    except RuntimeError:
        return False


def _pack(weight: torch.Tensor) -> Any:
    """``(out, in)`` float weight -> FBGEMM's packed float16 matrix."""
    return torch.ops.quantized.linear_prepack_fp16(weight.detach().float().contiguous(), None)


def _linear(x: torch.Tensor, packed: Any) -> torch.Tensor:
    return torch.ops.quantized.linear_dynamic_fp16(x, packed)


def _rms(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    return weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))


def _rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """``x (B, H, hd)``, ``cos / sin (B, 1, hd)`` -> x rotated as transformers' ``apply_rotary_pos_emb``."""
    half = x.shape[-1] // 2
    return x * cos + torch.cat((-x[..., half:], x[..., :half]), -1) * sin


def _weights(backbone: Any) -> list[torch.Tensor]:
    inner = backbone.model
    out = [inner.embed_tokens.weight, inner.norm.weight]
    for layer in inner.layers:
        out += [layer.input_layernorm.weight, layer.post_attention_layernorm.weight]
        out += [m.weight for m in _linears(layer)]
    return out


def _linears(layer: Any) -> list[Any]:
    """A block's seven projections, in :data:`_PROJ` order (None where one is missing)."""
    attn, mlp = layer.self_attn, layer.mlp
    return [getattr(attn, p, None) for p in _PROJ[:4]] + [getattr(mlp, p, None) for p in _PROJ[4:]]


def supported(backbone: Any) -> bool:
    """Whether :class:`LlamaStep` can run this backbone (see the module docstring)."""
    from motiongpt.lm.model import _HalfGemvLinear

    if type(backbone).__name__ != "LlamaForCausalLM" or backbone.training or not _fp16_ops():
        return False
    if not _HalfGemvLinear.enabled:
        return False
    cfg, inner = backbone.config, backbone.model
    if getattr(cfg, "hidden_act", "silu") != "silu" or getattr(cfg, "attention_bias", False):
        return False
    if getattr(cfg, "mlp_bias", False) or getattr(cfg, "pretraining_tp", 1) != 1:
        return False
    if getattr(inner.rotary_emb, "rope_type", "default") in ("dynamic", "longrope"):
        return False
    for layer in inner.layers[: cfg.num_hidden_layers]:
        if not all(type(m) is _HalfGemvLinear and m.bias is None for m in _linears(layer)):
            return False
    return True


def for_backbone(backbone: Any) -> LlamaStep | None:
    """The backbone's :class:`LlamaStep` (packed once, again if a weight changed in place), or None."""
    if not supported(backbone):
        return None
    versions = tuple(w._version for w in _weights(backbone))
    held = _STEPS.get(backbone)
    if held is None or held[0] != versions:
        held = (versions, LlamaStep(backbone))
        _STEPS[backbone] = held
    return held[1]


@dataclass
class _Block:
    ln1: torch.Tensor
    qkv: Any
    o: Any
    ln2: torch.Tensor
    gate_up: Any
    down: Any
    eps1: float
    eps2: float


@dataclass
class StepState:
    """The preallocated cache of one decoding call."""

    keys: list[torch.Tensor]  # per block (B, kvh, Lmax, hd)
    values: list[torch.Tensor]
    mask: torch.Tensor  # (B, Lmax) additive: 0 where attended, -inf elsewhere
    pos: torch.Tensor  # (B,) rotary position of the next token
    t: int  # next cache slot
    cos: torch.Tensor  # (P, hd) rotary table
    sin: torch.Tensor


class LlamaStep:
    """Cached one-token steps of a prepared ``LlamaForCausalLM`` (see the module docstring)."""

    def __init__(self, backbone: Any) -> None:
        cfg, inner = backbone.config, backbone.model
        self.n_heads, self.n_kv = cfg.num_attention_heads, cfg.num_key_value_heads
        self.head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // self.n_heads
        self.scale = self.head_dim**-0.5
        self.embed = inner.embed_tokens.weight
        self.norm, self.norm_eps = inner.norm.weight, inner.norm.variance_epsilon
        self.rotary = inner.rotary_emb
        self.blocks = []
        for layer in inner.layers[: cfg.num_hidden_layers]:
            a, m = layer.self_attn, layer.mlp
            self.blocks.append(_Block(
                ln1=layer.input_layernorm.weight,
                qkv=_pack(torch.cat([a.q_proj.weight, a.k_proj.weight, a.v_proj.weight])),
                o=_pack(a.o_proj.weight),
                ln2=layer.post_attention_layernorm.weight,
                gate_up=_pack(torch.cat([m.gate_proj.weight, m.up_proj.weight])),
                down=_pack(m.down_proj.weight),
                eps1=layer.input_layernorm.variance_epsilon,
                eps2=layer.post_attention_layernorm.variance_epsilon,
            ))  # fmt: skip
        self.inter = layer.mlp.gate_proj.weight.shape[0]

    @torch.no_grad()
    def prefill(
        self, ids: torch.Tensor, attention_mask: torch.Tensor, new_tokens: int, rows: torch.Tensor | None = None
    ) -> tuple[StepState, torch.Tensor]:
        """The prompt pass: left-padded ``ids (U, L)`` and ``attention_mask (U, L)`` -> the state for
        ``new_tokens`` more steps and the last position's final hidden state ``(B, D)``. ``rows (B,)``:
        which prompt row each decoded row starts from (identical prompts run once); None: ``B = U``."""
        U, L = ids.shape
        hd, n_kv, group = self.head_dim, self.n_kv, self.n_heads // self.n_kv
        q_dim, kv_dim = self.n_heads * hd, n_kv * hd
        positions = (attention_mask.cumsum(-1) - 1).clamp(min=0)  # (U, L), as decode passes them
        table = torch.arange(L + new_tokens + 1, device=ids.device)[None]
        cos_t, sin_t = (c[0].float() for c in self.rotary(self.embed[:1].float(), table))  # (P, hd)
        cos, sin = cos_t[positions][:, None], sin_t[positions][:, None]  # (U, 1, L, hd)
        causal = torch.ones(L, L, dtype=torch.bool, device=ids.device).tril()
        allowed = (causal & attention_mask.bool()[:, None, :]) | torch.eye(L, dtype=torch.bool, device=ids.device)
        add = torch.zeros(U, L, L, device=ids.device).masked_fill_(~allowed, float("-inf"))[:, None, None]
        x = self.embed[ids].float()  # (U, L, D)
        keys, values = [], []
        for blk in self.blocks:
            qkv = _linear(_rms(x, blk.ln1, blk.eps1).reshape(U * L, -1), blk.qkv).view(U, L, -1)
            q, k, v = qkv.split([q_dim, kv_dim, kv_dim], -1)
            q = _rope(q.view(U, L, self.n_heads, hd).transpose(1, 2), cos, sin)  # (U, H, L, hd)
            k = _rope(k.view(U, L, n_kv, hd).transpose(1, 2), cos, sin)  # (U, kvh, L, hd)
            v = v.view(U, L, n_kv, hd).transpose(1, 2)
            keys.append(k)
            values.append(v)
            q = q.reshape(U, n_kv, group, L, hd)
            scores = q @ k[:, :, None].transpose(-1, -2) * self.scale + add  # (U, kvh, g, L, L)
            att = (scores.softmax(-1) @ v[:, :, None]).permute(0, 3, 1, 2, 4).reshape(U * L, q_dim)
            x = x + _linear(att, blk.o).view(U, L, -1)
            gate, up = _linear(_rms(x, blk.ln2, blk.eps2).reshape(U * L, -1), blk.gate_up).split(
                [self.inter, self.inter], -1)  # fmt: skip
            x = x + _linear(F.silu(gate) * up, blk.down).view(U, L, -1)
        last = _rms(x[:, -1], self.norm, self.norm_eps)  # (U, D)
        pick = (lambda t: t) if rows is None else (lambda t: t[rows])
        B, total = (U if rows is None else rows.shape[0]), L + new_tokens
        state_k, state_v = [], []
        for k, v in zip(keys, values, strict=True):
            K = k.new_zeros(B, n_kv, total, hd)
            V = torch.zeros_like(K)
            K[:, :, :L], V[:, :, :L] = pick(k), pick(v)
            state_k.append(K)
            state_v.append(V)
        mask = torch.full((B, total), float("-inf"), device=ids.device)
        mask[:, :L].masked_fill_(pick(attention_mask).bool(), 0.0)
        state = StepState(state_k, state_v, mask, pick(attention_mask).sum(1), L, cos_t, sin_t)
        return state, pick(last)

    @torch.no_grad()
    def step(self, state: StepState, ids: torch.Tensor) -> torch.Tensor:
        """One token per row ``ids (B,)`` -> the final hidden state ``(B, D)``; advances ``state``."""
        B, t, hd = ids.shape[0], state.t, self.head_dim
        if t >= state.mask.shape[1]:
            raise RuntimeError("LlamaStep: more steps than the cache was made for")
        cos, sin = state.cos[state.pos][:, None], state.sin[state.pos][:, None]  # (B, 1, hd)
        state.mask[:, t] = 0.0
        mask = state.mask[:, None, None, : t + 1]  # (B, 1, 1, t + 1)
        q_dim, kv_dim, group = self.n_heads * hd, self.n_kv * hd, self.n_heads // self.n_kv
        x = self.embed[ids].float()  # (B, D)
        for blk, K, V in zip(self.blocks, state.keys, state.values, strict=True):
            q, k, v = _linear(_rms(x, blk.ln1, blk.eps1), blk.qkv).split([q_dim, kv_dim, kv_dim], -1)
            K[:, :, t] = _rope(k.view(B, self.n_kv, hd), cos, sin)
            V[:, :, t] = v.view(B, self.n_kv, hd)
            q = _rope(q.view(B, self.n_heads, hd), cos, sin).view(B, self.n_kv, group, hd)
            scores = q @ K[:, :, : t + 1].transpose(-1, -2) * self.scale + mask  # (B, kvh, g, t + 1)
            att = scores.softmax(-1) @ V[:, :, : t + 1]  # (B, kvh, g, hd)
            x = x + _linear(att.reshape(B, q_dim), blk.o)
            gate, up = _linear(_rms(x, blk.ln2, blk.eps2), blk.gate_up).split([self.inter, self.inter], -1)
            x = x + _linear(F.silu(gate) * up, blk.down)
        state.t += 1
        state.pos = state.pos + 1
        return _rms(x, self.norm, self.norm_eps)
