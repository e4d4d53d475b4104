"""Configs of the motion tokenizer: the model (``VQConfig``) and its training run (``TrainConfig``).

Presets are YAML files in ``configs/tokenizer/`` (``base.yaml`` = the MotionGPT/T2M-GPT paper model,
``small.yaml`` = a CPU-sized model); nothing here branches on a preset name.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Literal

from motiongpt.config import YamlConfig, check_choice, check_numbers
from motiongpt.errors import ConfigError
from motiongpt.motion.skeleton import MAX_FRAMES

VelocityMode = Literal["diff", "direct"]


@dataclass(frozen=True)
class VQConfig(YamlConfig):
    """The VQ-VAE: conv encoder → EMA codebook → mirror decoder, over normalised (T, F) features.

    Loss = smooth-L1(recon, x) + ``vel_weight`` · velocity term + ``commit_weight`` · commitment.
    The velocity term compares columns ``vel_columns = (start, stop)`` of recon and target:
    ``vel_mode="diff"`` (default) on their frame differences x[t+1] - x[t], a true velocity loss;
    ``vel_mode="direct"`` on the columns themselves, which is what MotionGPT's "velocity" loss does
    (on columns 4–67, the root-relative joint positions).
    """

    feature_dim: int = 263  # F
    width: int = 512  # conv channels
    code_dim: int = 512  # D, the encoder output / codebook vector size
    codebook_size: int = 512  # K
    n_down: int = 2  # stride-2 downsamples; one token per 2**n_down frames
    depth: int = 3  # residual blocks per resolution
    dilation_growth: int = 3  # block i has dilation dilation_growth**i
    ema_decay: float = 0.99
    dead_code_threshold: float = 1.0  # codes whose EMA usage count falls below this are reset
    kmeans_init: bool = False  # initialise the codebook with k-means on the first batch
    commit_weight: float = 0.02
    vel_weight: float = 0.5
    vel_columns: tuple[int, int] = (4, 67)
    vel_mode: VelocityMode = "diff"

    def __post_init__(self) -> None:
        ints = ("feature_dim", "width", "code_dim", "codebook_size", "n_down", "depth", "dilation_growth")
        floats = ("ema_decay", "dead_code_threshold", "commit_weight", "vel_weight")
        check_numbers(
            self, ints, floats, lenient_ints=True,
            positive=("feature_dim", "width", "code_dim", "depth", "dilation_growth"),
            non_negative=("n_down", "dead_code_threshold", "commit_weight", "vel_weight"),
        )  # fmt: skip
        if self.codebook_size < 2:
            raise ConfigError(f"codebook_size must be >= 2, got {self.codebook_size}")
        if not 0.0 < self.ema_decay < 1.0:
            raise ConfigError(f"ema_decay must be in (0, 1), got {self.ema_decay}")
        check_choice("vel_mode", self.vel_mode, VelocityMode)
        cols = tuple(self.vel_columns)
        if len(cols) != 2 or not all(isinstance(c, int) for c in cols) or not 0 <= cols[0] < cols[1]:
            raise ConfigError(f"vel_columns must be (start, stop) with 0 <= start < stop, got {cols}")
        if cols[1] > self.feature_dim:
            raise ConfigError(f"vel_columns stop must be <= feature_dim={self.feature_dim}, got {cols}")
        object.__setattr__(self, "vel_columns", cols)

    @property
    def downsample_factor(self) -> int:
        """Frames per token: ``2 ** n_down``."""
        return 2**self.n_down


#: Frames per token of the default tokenizer (``2 ** VQConfig.n_down``): only the default of the length
#: helpers called without a tokenizer at hand; the pipeline and training pass their tokenizer's own.
DEFAULT_FRAMES_PER_TOKEN = 2**VQConfig.n_down


@dataclass(frozen=True)
class TrainConfig(YamlConfig):
    """A tokenizer training run: random ``window``-frame crops, AdamW, warm-up then cosine to ``lr_min``."""

    model: VQConfig = field(default_factory=VQConfig)
    batch_size: int = 256
    window: int = 64  # frames per training crop; clips shorter than this are skipped
    max_steps: int = 300_000
    lr: float = 2e-4
    lr_min: float = 1e-6
    warmup_steps: int = 1000
    betas: tuple[float, float] = (0.9, 0.99)
    weight_decay: float = 0.0
    grad_clip: float = 0.0  # 0 = off
    seed: int = 1234
    val_every: int = 1000  # steps between validations (and checkpoints)
    val_clips: int = 512  # validate on the first window of at most this many val-split clips
    log_every: int = 50  # steps between progress-bar refreshes / log lines
    num_workers: int = 0
    num_threads: int = 0  # torch intra-op threads on CPU; 0 = leave torch's default
    precision: str = "32-true"  # Lightning precision string, e.g. "bf16-mixed" on GPU
    min_frames: int = 40  # corpus filter, as in HumanML3D
    max_frames: int = MAX_FRAMES  # corpus filter: HumanML3D's longest clip

    def __post_init__(self) -> None:
        if not isinstance(self.model, VQConfig):
            raise ConfigError(f"model must be a VQConfig mapping, got {type(self.model).__name__}")
        ints = ("batch_size", "window", "max_steps", "warmup_steps", "seed", "val_every", "val_clips")
        ints += ("log_every", "num_workers", "num_threads", "min_frames", "max_frames")
        floats = ("lr", "lr_min", "weight_decay", "grad_clip")
        check_numbers(
            self, ints, floats, lenient_ints=True,
            positive=("batch_size", "window", "max_steps", "lr", "val_every", "val_clips", "log_every"),
            non_negative=("lr_min", "warmup_steps", "weight_decay", "grad_clip", "num_workers",
                          "num_threads"),
        )  # fmt: skip
        if self.window % self.model.downsample_factor:
            raise ConfigError(
                f"window must be a multiple of {self.model.downsample_factor} (frames per token), "
                f"got {self.window}"
            )
        if self.lr_min > self.lr:
            raise ConfigError(f"lr_min must be <= lr={self.lr}, got {self.lr_min}")
        betas = tuple(float(b) for b in self.betas)
        if len(betas) != 2 or not all(0.0 <= b < 1.0 for b in betas):
            raise ConfigError(f"betas must be two numbers in [0, 1), got {self.betas}")
        object.__setattr__(self, "betas", betas)
        if self.min_frames > self.max_frames:
            raise ConfigError(f"min_frames must be <= max_frames, got {self.min_frames} > {self.max_frames}")

    def replace(self, **changes: object) -> TrainConfig:
        return dataclasses.replace(self, **changes)


__all__ = ["TrainConfig", "VQConfig"]
