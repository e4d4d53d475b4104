"""The VQ-VAE decoder: the encoder's mirror, with nearest-neighbour upsampling followed by a conv."""

from __future__ import annotations

from torch import nn

from motiongpt.tokenizer.config import VQConfig
from motiongpt.tokenizer.encoder import ResStack


class Decoder(nn.Sequential):
    """``(B, D, N) -> (B, F, N * 2**n_down)``: conv in, [residual stack, 2× nearest upsample, conv] × n_down,
    then conv, ReLU, conv out."""

    def __init__(self, cfg: VQConfig) -> None:
        layers: list[nn.Module] = [nn.Conv1d(cfg.code_dim, cfg.width, 3, padding=1), nn.ReLU()]
        for _ in range(cfg.n_down):
            layers += [
                ResStack(cfg.width, cfg.depth, cfg.dilation_growth),
                nn.Upsample(scale_factor=2, mode="nearest"),  # N -> 2N
                nn.Conv1d(cfg.width, cfg.width, 3, padding=1),
            ]
        layers += [
            nn.Conv1d(cfg.width, cfg.width, 3, padding=1),
            nn.ReLU(),
            nn.Conv1d(cfg.width, cfg.feature_dim, 3, padding=1),
        ]
        super().__init__(*layers)


__all__ = ["Decoder"]
