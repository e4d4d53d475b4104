"""``MotionTokenizer``: the VQ-VAE that turns normalised HumanML3D features into motion tokens and back.

Shapes: B batch, T frames, F features (263), D code dim, N tokens = T // 4 (``cfg.downsample_factor``),
K codebook size. Public tensors are channel-last ``(B, T, F)``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from einops import rearrange
from safetensors.torch import load_file, save_file
from torch import nn

from motiongpt._io import atomic_path
from motiongpt.errors import CheckpointError, ConfigError, InvalidMotionError
from motiongpt.motion.normalizer import NormalizerBuffers
from motiongpt.tokenizer.config import VQConfig
from motiongpt.tokenizer.decoder import Decoder
from motiongpt.tokenizer.encoder import Encoder
from motiongpt.tokenizer.quantizer import Quantizer

CONFIG_NAME = "config.yaml"
WEIGHTS_NAME = "model.safetensors"


@dataclass
class VQOutput:
    """What ``MotionTokenizer.forward`` returns. Losses are scalars."""

    recon: torch.Tensor  # (B, 4N, F) normalised
    indices: torch.Tensor  # (B, N) int64
    loss: torch.Tensor  # recon_loss + vel_weight * vel_loss + commit_weight * commit_loss
    recon_loss: torch.Tensor  # smooth-L1 over all features
    vel_loss: torch.Tensor  # smooth-L1 on cfg.vel_columns (frame differences, or values; see VQConfig)
    commit_loss: torch.Tensor  # mean ||z - sg(q)||^2
    perplexity: torch.Tensor  # exp(entropy) of this batch's code histogram


class MotionTokenizer(NormalizerBuffers, nn.Module):
    """VQ-VAE over normalised ``(B, T, F)`` features; the dataset mean/std are buffers (``mean``, ``std``).

    ``encode(x (B, T, F)) -> indices (B, T // 4)`` (trailing ``T % 4`` frames are dropped);
    ``decode(indices (B, N)) -> (B, 4N, F)``; ``forward(x) -> VQOutput``.
    """

    def __init__(
        self,
        cfg: VQConfig,
        mean: np.ndarray | torch.Tensor | None = None,
        std: np.ndarray | torch.Tensor | None = None,
    ) -> None:
        super().__init__()
        if not isinstance(cfg, VQConfig):
            raise TypeError(f"cfg must be a VQConfig, got {type(cfg).__name__}")
        self.cfg = cfg
        self.encoder = Encoder(cfg)
        self.quantizer = Quantizer(cfg)
        self.decoder = Decoder(cfg)
        self.init_normalizer(cfg.feature_dim, mean, std)  # buffers mean, std; normalize / denormalize

    # --- model ----------------------------------------------------------------------------------------

    @property
    def downsample_factor(self) -> int:
        return self.cfg.downsample_factor

    def _check_features(self, x: torch.Tensor, name: str = "features") -> torch.Tensor:
        if not torch.is_tensor(x):
            raise TypeError(f"{name} must be a torch.Tensor of shape (B, T, F), got {type(x).__name__}")
        if x.ndim != 3 or x.shape[-1] != self.cfg.feature_dim:
            raise InvalidMotionError(
                f"{name} must have shape (B, T, {self.cfg.feature_dim}), got {tuple(x.shape)}"
            )
        if x.shape[1] < self.downsample_factor:
            raise InvalidMotionError(
                f"{name} has {x.shape[1]} frames; at least {self.downsample_factor} (one token) are needed"
            )
        if not torch.isfinite(x).all():
            raise InvalidMotionError(f"{name} contains NaN or inf")
        n = x.shape[1] // self.downsample_factor
        return x[:, : n * self.downsample_factor]  # (B, 4N, F)

    def _encode_latent(self, x: torch.Tensor) -> torch.Tensor:
        z = self.encoder(rearrange(x, "b t f -> b f t"))  # (B, D, N)
        return rearrange(z, "b d n -> b n d")

    def _decode_latent(self, q: torch.Tensor) -> torch.Tensor:
        recon = self.decoder(rearrange(q, "b n d -> b d n"))  # (B, F, 4N)
        return rearrange(recon, "b f t -> b t f")

    def forward(self, x: torch.Tensor) -> VQOutput:
        """Reconstruct normalised ``x (B, T, F)``; the target is ``x`` cropped to ``4 * (T // 4)`` frames."""
        x = self._check_features(x)  # (B, 4N, F)
        z = self._encode_latent(x)  # (B, N, D)
        q = self.quantizer(z)
        recon = self._decode_latent(q.quantized)  # (B, 4N, F)
        recon_loss = F.smooth_l1_loss(recon, x)
        vel_loss = self._velocity_loss(recon, x)
        loss = recon_loss + self.cfg.vel_weight * vel_loss + self.cfg.commit_weight * q.commit_loss
        return VQOutput(recon, q.indices, loss, recon_loss, vel_loss, q.commit_loss, q.perplexity)

    def _velocity_loss(self, recon: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        start, stop = self.cfg.vel_columns
        r, t = recon[..., start:stop], x[..., start:stop]  # (B, T, C)
        if self.cfg.vel_mode == "diff":
            if x.shape[1] < 2:
                return recon.new_zeros(())
            r, t = r[:, 1:] - r[:, :-1], t[:, 1:] - t[:, :-1]  # (B, T-1, C)
        return F.smooth_l1_loss(r, t)

    @torch.no_grad()
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Normalised ``(B, T, F)`` -> token indices ``(B, T // 4)`` (int64). Never updates the codebook."""
        x = self._check_features(x)
        z = self._encode_latent(x)  # (B, N, D)
        _, indices = self.quantizer.nearest(z)  # (B, N)
        return indices

    @torch.no_grad()
    def decode(self, indices: torch.Tensor) -> torch.Tensor:
        """Token indices ``(B, N)`` -> normalised features ``(B, 4N, F)``."""
        if not torch.is_tensor(indices) or indices.ndim != 2 or indices.shape[1] < 1:
            shape = tuple(indices.shape) if torch.is_tensor(indices) else type(indices).__name__
            raise ValueError(f"indices must be an integer tensor of shape (B, N) with N >= 1, got {shape}")
        if indices.dtype.is_floating_point or indices.dtype == torch.bool:
            raise ValueError(f"indices must be integers, got dtype {indices.dtype}")
        if indices.numel() and (indices.min() < 0 or indices.max() >= self.cfg.codebook_size):
            raise ValueError(
                f"indices must be in [0, {self.cfg.codebook_size}), got range "
                f"[{int(indices.min())}, {int(indices.max())}]"
            )
        return self._decode_latent(self.quantizer.lookup(indices.long()))

    # --- checkpoints ----------------------------------------------------------------------------------

    def save_pretrained(self, directory: str | os.PathLike) -> Path:
        """Write ``config.yaml`` and ``model.safetensors`` (weights, codebook, mean/std) to ``directory``."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().cpu().contiguous() for k, v in self.state_dict().items()}
        with atomic_path(directory / WEIGHTS_NAME) as tmp:
            save_file(state, str(tmp), metadata={"format": "pt", "motiongpt": "MotionTokenizer"})
        self.cfg.to_yaml(directory / CONFIG_NAME)
        return directory

    @classmethod
    def from_pretrained(
        cls, directory: str | os.PathLike, map_location: str | torch.device = "cpu"
    ) -> MotionTokenizer:
        """Load a folder written by ``save_pretrained``; raise ``CheckpointError`` on any mismatch."""
        directory = Path(directory)
        for name in (CONFIG_NAME, WEIGHTS_NAME):
            if not (directory / name).is_file():
                raise CheckpointError(f"{directory}: not a tokenizer folder, {name} is missing")
        try:
            cfg = VQConfig.from_yaml(directory / CONFIG_NAME)
        except ConfigError as e:
            raise CheckpointError(f"{directory / CONFIG_NAME}: {e}") from None
        try:
            state = load_file(str(directory / WEIGHTS_NAME), device=str(map_location))
        except Exception as e:  # safetensors raises its own error types on corrupt files
            raise CheckpointError(f"{directory / WEIGHTS_NAME}: cannot read safetensors file: {e}") from None
        model = cls(cfg)
        expected = model.state_dict()
        for key in sorted(set(expected) | set(state)):
            if key not in state:
                raise CheckpointError(f"{directory}: tensor {key!r} is missing from {WEIGHTS_NAME}")
            if key not in expected:
                raise CheckpointError(f"{directory}: unexpected tensor {key!r} for this config")
            if state[key].shape != expected[key].shape:
                raise CheckpointError(
                    f"{directory}: tensor {key!r} has shape {tuple(state[key].shape)}, the config "
                    f"expects {tuple(expected[key].shape)}"
                )
        model.load_state_dict(state)
        return model.to(map_location).eval()


def count_parameters(model: nn.Module) -> int:
    """Trainable parameters (the EMA codebook is a buffer and is not counted)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


__all__ = ["MotionTokenizer", "VQOutput", "count_parameters"]
