"""The codebook: vector-quantize-pytorch's ``VectorQuantize`` with EMA updates and dead-code reset.

Why the library: it has exactly the T2M-GPT "ema_reset" behaviour as options (``decay``,
``threshold_ema_dead_code`` replaces codes whose EMA usage count falls below the threshold with random
encoder outputs of the current batch, ``kmeans_init``), keeps its state in buffers (so it saves to
safetensors and moves with the module), and syncs across DDP ranks. The commitment loss is computed here,
not by the library, so that it is the same in training and evaluation mode.

Outside training the codebook is only looked up: the nearest code of each vector (the library's own
distance, see :func:`nearest_codes`) and the code vector of an index. That path is this module's, in
evaluation and inference alike, and needs no import of the library (it pulls in ``torch._dynamo`` and
sympy through einx: seconds at start-up). Until the codebook first trains, :class:`Quantizer` holds its
buffers in :class:`_CodebookState`, laid out and initialised as the library's (same state-dict keys,
same random draws), and builds the library's module from them when training starts
(:meth:`Quantizer.ema_quantizer`).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from motiongpt.tokenizer.config import VQConfig


class QuantizerOutput(NamedTuple):
    quantized: torch.Tensor  # (B, N, D), straight-through in training
    indices: torch.Tensor  # (B, N) int64
    commit_loss: torch.Tensor  # scalar: mean ||z - sg(q)||^2
    perplexity: torch.Tensor  # scalar: exp(entropy) of the code histogram of this batch


def perplexity(indices: torch.Tensor, codebook_size: int) -> torch.Tensor:
    """``exp(H(p))`` of the code frequencies in ``indices`` (any shape); K when all K codes are used
    equally, 1 when one code is used."""
    counts = torch.bincount(indices.reshape(-1), minlength=codebook_size).float()
    p = counts / counts.sum().clamp(min=1)
    return torch.exp(-(p * torch.log(p.clamp(min=1e-12))).sum())


def nearest_codes(z: torch.Tensor, codebook: torch.Tensor) -> torch.Tensor:
    """Index of the nearest code (Euclidean) of each vector: ``z (B, N, D)``, ``codebook (K, D)`` ->
    ``(B, N)`` int64. The distance is computed as vector-quantize-pytorch computes it (float32,
    ``sqrt(max(|x|^2 + |c|^2 - 2 x.c, 1e-8))``, first index on ties), so the codes are the library's."""
    x = z.float().reshape(1, -1, z.shape[-1])  # (1, B*N, D)
    c = codebook.float().unsqueeze(0)  # (1, K, D)
    x2 = (x**2).sum(dim=-1)  # (1, B*N)
    c2 = (c**2).sum(dim=-1)  # (1, K)
    xy = torch.einsum("b i d, b j d -> b i j", x, c) * -2  # (1, B*N, K)
    dist = (x2.unsqueeze(-1) + c2.unsqueeze(1) + xy).clamp(min=1e-8).sqrt()
    return (-dist).argmax(dim=-1).reshape(z.shape[:-1])  # (B, N)


class _CodebookState(nn.Module):
    """The buffers of the library's ``VectorQuantize`` for this config, under its names
    (``_codebook.embed`` ``(1, K, D)``, ``embed_avg``, ``cluster_size`` ``(1, K)``, ``initted``) and
    initialised as it does (the same random draws), without importing it."""

    def __init__(self, cfg: VQConfig) -> None:
        super().__init__()
        shape = (1, cfg.codebook_size, cfg.code_dim)
        if cfg.kmeans_init:
            embed = torch.zeros(shape)
        else:
            embed = torch.empty(shape)
            nn.init.kaiming_uniform_(embed)
        self._codebook = nn.Module()
        self._codebook.register_buffer("initted", torch.tensor(not cfg.kmeans_init))
        self._codebook.register_buffer("cluster_size", torch.ones(shape[:2]))
        self._codebook.register_buffer("embed_avg", embed.clone())
        self._codebook.register_buffer("embed", embed)


def _vector_quantize(cfg: VQConfig) -> nn.Module:
    from motiongpt._lazy import require

    vqp = require("vector_quantize_pytorch", "training the motion tokenizer")
    return vqp.VectorQuantize(
        dim=cfg.code_dim,
        codebook_size=cfg.codebook_size,
        decay=cfg.ema_decay,
        threshold_ema_dead_code=cfg.dead_code_threshold,
        kmeans_init=cfg.kmeans_init,
        commitment_weight=0.0,  # computed in forward, in train and eval mode alike
        rotation_trick=False,  # plain straight-through estimator, as T2M-GPT / MotionGPT
        channel_last=True,
        sync_codebook=False,  # DDP sums the EMA statistics through lit.py (all_reduce_fn)
    )


class Quantizer(nn.Module):
    """``(B, N, D) -> QuantizerOutput``; ``lookup(indices (B, N)) -> (B, N, D)``.

    Training-mode calls go through the library's ``VectorQuantize`` (EMA updates, dead-code reset),
    built on first use; evaluation-mode calls and :meth:`nearest` through :func:`nearest_codes`.
    """

    def __init__(self, cfg: VQConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.codebook_size = cfg.codebook_size
        self.vq: nn.Module = _CodebookState(cfg)  # becomes the library's VectorQuantize when training

    @property
    def codebook(self) -> torch.Tensor:
        """The code vectors, ``(K, D)``."""
        return self.vq._codebook.embed[0]

    @property
    def usage_counts(self) -> torch.Tensor:
        """EMA usage count per code, ``(K,)`` (what the dead-code reset thresholds)."""
        return self.vq._codebook.cluster_size.reshape(-1)

    @property
    def _initted(self) -> bool:
        return bool(self.vq._codebook.initted)

    def ema_quantizer(self) -> Any:
        """The library's ``VectorQuantize`` holding this codebook, built (with the current buffers, on
        their device, drawing no random numbers) on first call. Training calls it; so does ``lit.py``
        before DDP wraps the model, so that the buffers DDP keeps in sync are the library's."""
        if isinstance(self.vq, _CodebookState):
            state = self.vq.state_dict()
            with torch.random.fork_rng(devices=[]):  # its own random init is overwritten at once
                vq = _vector_quantize(self.cfg)
            vq.load_state_dict(state)  # strict: the same buffers, no parameters
            self.vq = vq.to(state["_codebook.embed"].device).train(self.training)
        return self.vq

    def nearest(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``z (B, N, D)`` -> the nearest codes ``(B, N, D)`` and their indices ``(B, N)``. No EMA
        update; only a k-means codebook that never trained is first initialised from ``z``, as the
        library does in any mode."""
        if not self._initted:  # k-means init on this batch first, as the library does in any mode
            self.ema_quantizer()._codebook.init_embed_(z.detach().float().reshape(1, -1, z.shape[-1]))
        indices = nearest_codes(z, self.codebook)
        return self.lookup(indices).to(z.dtype), indices

    def forward(self, z: torch.Tensor) -> QuantizerOutput:
        if self.training:
            quantized, indices, _ = self.ema_quantizer()(z)  # (B, N, D), (B, N)
        else:
            quantized, indices = self.nearest(z)
        commit = F.mse_loss(z.float(), quantized.detach().float())
        return QuantizerOutput(quantized, indices, commit, perplexity(indices, self.codebook_size))

    def lookup(self, indices: torch.Tensor) -> torch.Tensor:
        return self.codebook[indices]  # (B, N) -> (B, N, D)


__all__ = ["Quantizer", "QuantizerOutput", "nearest_codes", "perplexity"]
