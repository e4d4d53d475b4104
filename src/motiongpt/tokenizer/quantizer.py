"""The codebook: vector-quantize-pytorch's ``VectorQuantize`` with EMA updates and dead-code reset.

Why the library: it has exactly the T2M-GPT "ema_reset" behaviour as options (``decay``,
``threshold_ema_dead_code`` replaces codes whose EMA usage count falls below the threshold with random
encoder outputs of the current batch, ``kmeans_init``), keeps its state in buffers (so it saves to
safetensors and moves with the module), and syncs across DDP ranks. The commitment loss is computed here,
not by the library, so that it is the same in training and evaluation mode.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn
from vector_quantize_pytorch import VectorQuantize

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


class Quantizer(nn.Module):
    """``(B, N, D) -> QuantizerOutput``; ``lookup(indices (B, N)) -> (B, N, D)``."""

    def __init__(self, cfg: VQConfig) -> None:
        super().__init__()
        self.codebook_size = cfg.codebook_size
        self.vq = VectorQuantize(
            dim=cfg.code_dim,
            codebook_size=cfg.codebook_size,
            decay=cfg.ema_decay,
            threshold_ema_dead_code=cfg.dead_code_threshold,
            kmeans_init=cfg.kmeans_init,
            commitment_weight=0.0,  # computed in forward, in train and eval mode alike
            rotation_trick=False,  # plain straight-through estimator, as T2M-GPT / MotionGPT
            channel_last=True,
        )

    @property
    def codebook(self) -> torch.Tensor:
        """The code vectors, ``(K, D)``."""
        return self.vq.codebook

    @property
    def usage_counts(self) -> torch.Tensor:
        """EMA usage count per code, ``(K,)`` (what the dead-code reset thresholds)."""
        return self.vq._codebook.cluster_size.reshape(-1)

    def forward(self, z: torch.Tensor) -> QuantizerOutput:
        quantized, indices, _ = self.vq(z)  # (B, N, D), (B, N)
        commit = F.mse_loss(z.float(), quantized.detach().float())
        return QuantizerOutput(quantized, indices, commit, perplexity(indices, self.codebook_size))

    def lookup(self, indices: torch.Tensor) -> torch.Tensor:
        return self.vq.get_output_from_indices(indices)  # (B, N) -> (B, N, D)


__all__ = ["Quantizer", "QuantizerOutput", "perplexity"]
