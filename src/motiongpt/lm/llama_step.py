"""A lean cached decoding step for Llama-family backbones (SmolLM2, the default) on CPU.

:func:`decode <motiongpt.lm.generation.decode>` runs the prompt pass (:meth:`LlamaStep.prefill`) and
each further token (:meth:`LlamaStep.step`) through this module instead of the transformers forward. It
computes the same blocks (RMSNorm, rotary attention with grouped key/value heads, SwiGLU MLP) with:

- the query/key/value and the gate/up projections each fused into one matrix, every block matrix packed
  once as float16 for FBGEMM's fp16 matrix product (activations and accumulation stay float32; about 3x
  faster than a float16 ``F.linear`` for one or two rows, and faster than float32 at 32 rows);
- a key/value cache preallocated for the whole answer (written in place; no concatenation per step),
  rotary tables computed once per call, and identical prompts run once and shared;
- one block function (:meth:`LlamaStep._block`) for the prompt pass and the steps, and none of the
  per-step mask building, cache objects and output dataclasses of the generic forward.

It returns the final hidden state; the caller applies the output layer (all rows or the motion rows).
Logits agree with the transformers forward within float16 rounding of the weights (a test checks it).

A step is built from plain tensors (:class:`LlamaShape`, the embeddings, the final norm and each
block's weights in transformers' names) and a rotary function, so it serves two kinds of model:

- a transformers ``LlamaForCausalLM`` prepared by ``MotionLanguageModel.optimize_for_inference`` (its
  block linears are ``_HalfGemvLinear``: inference only), on a torch with the FBGEMM fp16 ops (x86):
  :func:`for_backbone`; anything else keeps the generic path;
- the inference-only model of ``lm/lean.py``, read from safetensors without transformers, whose
  decoding only ever runs here (``backbone.llama_step``).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

_PROJ = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
_STEPS: weakref.WeakKeyDictionary[Any, tuple[tuple[int, ...], LlamaStep]] = weakref.WeakKeyDictionary()
Rotary = Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]  # positions (1, P) -> (1, P, hd) x2


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
    """``x (B, H, T, hd)``, ``cos / sin (B, 1, T, hd)`` -> x rotated as transformers' rotary embedding."""
    half = x.shape[-1] // 2
    return x * cos + torch.cat((-x[..., half:], x[..., :half]), -1) * sin


def default_rotary(theta: float, head_dim: int) -> Rotary:
    """Llama's original rotary embedding (``rope_type: default``), computed as transformers does."""
    inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.float) / head_dim))  # (hd / 2,)

    def rotary(positions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        freqs = positions[..., None].float() * inv_freq.to(positions.device)  # (1, P, hd / 2)
        emb = torch.cat((freqs, freqs), -1)
        return emb.cos(), emb.sin()

    return rotary


@dataclass(frozen=True)
class LlamaShape:
    """What the step needs of a Llama config."""

    n_layers: int
    n_heads: int
    n_kv: int  # key/value heads
    head_dim: int
    eps: float  # of every RMSNorm


# --- transformers backbones ---------------------------------------------------------------------------
def _linears(layer: Any) -> list[Any]:
    """A block's seven projections, in :data:`_PROJ` order (None where one is missing)."""
    attn, mlp = layer.self_attn, layer.mlp
    return [getattr(attn, p, None) for p in _PROJ[:4]] + [getattr(mlp, p, None) for p in _PROJ[4:]]


def _weights(backbone: Any) -> list[torch.Tensor]:
    inner = backbone.model
    out = [inner.embed_tokens.weight, inner.norm.weight]
    for layer in inner.layers:
        out += [layer.input_layernorm.weight, layer.post_attention_layernorm.weight]
        out += [m.weight for m in _linears(layer)]
    return out


def supported(backbone: Any) -> bool:
    """Whether :class:`LlamaStep` can run this transformers backbone (see the module docstring)."""
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
    eps = {inner.norm.variance_epsilon}
    for layer in inner.layers[: cfg.num_hidden_layers]:
        if not all(type(m) is _HalfGemvLinear and m.bias is None for m in _linears(layer)):
            return False
        eps |= {layer.input_layernorm.variance_epsilon, layer.post_attention_layernorm.variance_epsilon}
    return len(eps) == 1


def _from_backbone(backbone: Any) -> LlamaStep:
    cfg, inner = backbone.config, backbone.model
    n_heads = cfg.num_attention_heads
    shape = LlamaShape(
        n_layers=cfg.num_hidden_layers,
        n_heads=n_heads,
        n_kv=cfg.num_key_value_heads,
        head_dim=getattr(cfg, "head_dim", None) or cfg.hidden_size // n_heads,
        eps=inner.norm.variance_epsilon,
    )
    rotary_emb = inner.rotary_emb

    def rotary(positions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        cos, sin = rotary_emb(inner.embed_tokens.weight[:1].float(), positions)
        return cos.float(), sin.float()

    state = {n: p for n, p in inner.named_parameters() if n.startswith("layers.")}
    return LlamaStep(shape, inner.embed_tokens.weight, inner.norm.weight, state, rotary)


def for_backbone(backbone: Any) -> LlamaStep | None:
    """The backbone's :class:`LlamaStep`: an inference-only model's own, or for a transformers backbone
    one packed once (again if a weight changed in place); None where it does not apply."""
    own = getattr(backbone, "llama_step", None)
    if own is not None:
        return own
    if not supported(backbone):
        return None
    versions = tuple(w._version for w in _weights(backbone))
    held = _STEPS.get(backbone)
    if held is None or held[0] != versions:
        held = (versions, _from_backbone(backbone))
        _STEPS[backbone] = held
    return held[1]


# --- the step -----------------------------------------------------------------------------------------
@dataclass
class _Block:
    ln1: torch.Tensor
    qkv: Any
    o: Any
    ln2: torch.Tensor
    gate_up: Any
    down: Any


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
    """Cached prompt pass and one-token steps of a Llama decoder (see the module docstring).

    Args:
        shape: heads, layers and the norms' epsilon.
        embed: ``(V, D)`` token embeddings (float32; only the rows read are touched).
        norm: ``(D,)`` the final RMSNorm's weight.
        layers: each block's weights under transformers' names (``layers.{i}.self_attn.q_proj.weight``,
            ``layers.{i}.input_layernorm.weight``, ...); the projections are packed here, the norms kept.
        rotary: positions ``(1, P)`` -> ``cos, sin (1, P, hd)``.
    """

    def __init__(
        self,
        shape: LlamaShape,
        embed: torch.Tensor,
        norm: torch.Tensor,
        layers: Mapping[str, torch.Tensor],
        rotary: Rotary,
    ) -> None:
        self.shape = shape
        self.n_heads, self.n_kv, self.head_dim = shape.n_heads, shape.n_kv, shape.head_dim
        self.scale = self.head_dim**-0.5
        self.embed, self.norm, self.eps, self.rotary = embed, norm, shape.eps, rotary
        self.blocks = []
        with torch.no_grad():
            for i in range(shape.n_layers):
                w = {p: layers[f"layers.{i}.{'self_attn' if j < 4 else 'mlp'}.{p}.weight"]
                     for j, p in enumerate(_PROJ)}  # fmt: skip
                self.blocks.append(_Block(
                    ln1=layers[f"layers.{i}.input_layernorm.weight"].detach(),
                    qkv=_pack(torch.cat([w["q_proj"], w["k_proj"], w["v_proj"]])),
                    o=_pack(w["o_proj"]),
                    ln2=layers[f"layers.{i}.post_attention_layernorm.weight"].detach(),
                    gate_up=_pack(torch.cat([w["gate_proj"], w["up_proj"]])),
                    down=_pack(w["down_proj"]),
                ))  # fmt: skip
        self.inter = w["gate_proj"].shape[0]

    def _block(
        self, blk: _Block, x: torch.Tensor, K: torch.Tensor, V: torch.Tensor, t: int,
        cos: torch.Tensor, sin: torch.Tensor, mask: torch.Tensor,
    ) -> torch.Tensor:  # fmt: skip
        """One block over ``x (B, T, D)``, the tokens at cache slots ``t .. t + T - 1``: writes their
        keys and values into ``K, V (B, kvh, Lmax, hd)`` and attends over slots ``0 .. t + T - 1`` with
        the additive ``mask (B, 1, 1, T, t + T)``; ``cos / sin (B, 1, T, hd)``. Returns ``(B, T, D)``."""
        B, T, _ = x.shape
        hd, n_kv, S = self.head_dim, self.n_kv, t + T
        q_dim, kv_dim, group = self.n_heads * hd, n_kv * hd, self.n_heads // n_kv
        qkv = _linear(_rms(x, blk.ln1, self.eps).reshape(B * T, -1), blk.qkv).view(B, T, -1)
        q, k, v = qkv.split([q_dim, kv_dim, kv_dim], -1)
        K[:, :, t:S] = _rope(k.view(B, T, n_kv, hd).transpose(1, 2), cos, sin)  # (B, kvh, T, hd)
        V[:, :, t:S] = v.view(B, T, n_kv, hd).transpose(1, 2)
        q = _rope(q.view(B, T, self.n_heads, hd).transpose(1, 2), cos, sin).reshape(B, n_kv, group, T, hd)
        scores = q @ K[:, :, None, :S].transpose(-1, -2) * self.scale + mask  # (B, kvh, g, T, S)
        att = (scores.softmax(-1) @ V[:, :, None, :S]).permute(0, 3, 1, 2, 4).reshape(B * T, q_dim)
        x = x + _linear(att, blk.o).view(B, T, -1)
        gate, up = _linear(_rms(x, blk.ln2, self.eps).reshape(B * T, -1), blk.gate_up).split(
            [self.inter, self.inter], -1)  # fmt: skip
        return x + _linear(F.silu(gate) * up, blk.down).view(B, T, -1)

    def _cache(self, B: int, total: int, device: torch.device) -> list[torch.Tensor]:
        return [torch.zeros(B, self.n_kv, total, self.head_dim, device=device) for _ in self.blocks]

    @torch.no_grad()
    def prefill(
        self,
        ids: torch.Tensor,
        attention_mask: torch.Tensor,
        new_tokens: int,
        rows: torch.Tensor | None = None,
    ) -> tuple[StepState, torch.Tensor]:
        """The prompt pass: left-padded ``ids (U, L)`` and ``attention_mask (U, L)`` -> the state for
        ``new_tokens`` more steps and the last position's final hidden state ``(B, D)``. ``rows (B,)``:
        which prompt row each decoded row starts from (identical prompts run once); None: ``B = U``."""
        L, device = ids.shape[1], ids.device
        total = L + new_tokens
        cos_t, sin_t = (c[0] for c in self.rotary(torch.arange(total + 1, device=device)[None]))  # (P, hd)
        x, keys, values = self._pass(ids, attention_mask, total, cos_t, sin_t)
        last = _rms(x[:, -1], self.norm, self.eps)  # (U, D)
        if rows is not None:  # (B, ...) from (U, ...)
            keys, values = [k[rows] for k in keys], [v[rows] for v in values]
            attention_mask, last = attention_mask[rows], last[rows]
        mask = torch.full((last.shape[0], total), float("-inf"), device=device)
        mask[:, :L].masked_fill_(attention_mask.bool(), 0.0)
        return StepState(keys, values, mask, attention_mask.sum(1), L, cos_t, sin_t), last

    @torch.no_grad()
    def hidden_states(self, ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Left-padded ``ids (B, L)`` and ``attention_mask (B, L)`` -> the final hidden state at every
        position ``(B, L, D)`` (to score whole sequences; no cache is kept)."""
        L = ids.shape[1]
        cos_t, sin_t = (c[0] for c in self.rotary(torch.arange(L + 1, device=ids.device)[None]))
        return _rms(self._pass(ids, attention_mask, L, cos_t, sin_t)[0], self.norm, self.eps)

    def _pass(
        self, ids: torch.Tensor, attention_mask: torch.Tensor, total: int, cos_t: torch.Tensor,
        sin_t: torch.Tensor,
    ) -> tuple[torch.Tensor, list[torch.Tensor], list[torch.Tensor]]:  # fmt: skip
        """Every block over a left-padded prompt ``ids (U, L)``: the last block's output ``(U, L, D)``
        (before the final norm) and the key/value caches, made for ``total`` slots."""
        U, L = ids.shape
        device = ids.device
        positions = (attention_mask.cumsum(-1) - 1).clamp(min=0)  # (U, L), as decode passes them
        cos, sin = cos_t[positions][:, None], sin_t[positions][:, None]  # (U, 1, L, hd)
        causal = torch.ones(L, L, dtype=torch.bool, device=device).tril()
        allowed = (causal & attention_mask.bool()[:, None, :]) | torch.eye(L, dtype=torch.bool, device=device)
        add = torch.zeros(U, L, L, device=device).masked_fill_(~allowed, float("-inf"))[:, None, None]
        keys, values = self._cache(U, total, device), self._cache(U, total, device)
        x = self.embed[ids].float()  # (U, L, D)
        for blk, K, V in zip(self.blocks, keys, values, strict=True):
            x = self._block(blk, x, K, V, 0, cos, sin, add)
        return x, keys, values

    @torch.no_grad()
    def step(self, state: StepState, ids: torch.Tensor) -> torch.Tensor:
        """One token per row ``ids (B,)`` -> the final hidden state ``(B, D)``; advances ``state``."""
        t = state.t
        if t >= state.mask.shape[1]:
            raise RuntimeError("LlamaStep: more steps than the cache was made for")
        cos, sin = (c[state.pos][:, None, None] for c in (state.cos, state.sin))  # (B, 1, 1, hd)
        state.mask[:, t] = 0.0
        mask = state.mask[:, None, None, None, : t + 1]  # (B, 1, 1, 1, t + 1)
        x = self.embed[ids].float()[:, None]  # (B, 1, D)
        for blk, K, V in zip(self.blocks, state.keys, state.values, strict=True):
            x = self._block(blk, x, K, V, t, cos, sin, mask)
        state.t += 1
        state.pos = state.pos + 1
        return _rms(x[:, 0], self.norm, self.eps)
