"""The VQ-VAE encoder: 1D temporal convolutions with residual dilated blocks, ``2**n_down``× downsampling.

Internally channel-first ``(B, C, T)`` (what ``nn.Conv1d`` wants); the public model converts from the
channel-last ``(B, T, F)`` boundary format.
"""

from __future__ import annotations

import torch
from torch import nn

from motiongpt.tokenizer.config import VQConfig


class ResBlock(nn.Module):
    """Pre-activation residual block: x + conv1x1(relu(conv3_dilated(relu(x)))). No normalisation."""

    def __init__(self, width: int, dilation: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv1d(width, width, kernel_size=3, padding=dilation, dilation=dilation)
        self.conv2 = nn.Conv1d(width, width, kernel_size=1)
        self.act = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, T) -> (B, C, T)
        return x + self.conv2(self.act(self.conv1(self.act(x))))


class ResStack(nn.Sequential):
    """``depth`` residual blocks with dilations ``growth**i``, largest dilation first (as T2M-GPT)."""

    def __init__(self, width: int, depth: int, growth: int) -> None:
        super().__init__(*[ResBlock(width, growth**i) for i in reversed(range(depth))])


class Encoder(nn.Sequential):
    """``(B, F, T) -> (B, D, T // 2**n_down)``: conv in, [stride-2 conv, residual stack] × n_down,
    conv out."""

    def __init__(self, cfg: VQConfig) -> None:
        layers: list[nn.Module] = [nn.Conv1d(cfg.feature_dim, cfg.width, 3, padding=1), nn.ReLU()]
        for _ in range(cfg.n_down):
            layers += [
                nn.Conv1d(cfg.width, cfg.width, kernel_size=4, stride=2, padding=1),  # T -> T // 2
                ResStack(cfg.width, cfg.depth, cfg.dilation_growth),
            ]
        layers.append(nn.Conv1d(cfg.width, cfg.code_dim, 3, padding=1))
        super().__init__(*layers)


__all__ = ["Encoder", "ResBlock", "ResStack"]
