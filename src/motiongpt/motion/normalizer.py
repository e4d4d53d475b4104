"""Per-dimension feature normalisation with a dataset's mean and std (HumanML3D's Mean.npy / Std.npy)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from motiongpt._io import atomic_save_npy
from motiongpt.errors import CorpusError, InvalidMotionError
from motiongpt.motion.skeleton import FEATURE_DIM


def _check_stat(x: object, name: str) -> np.ndarray:
    """A finite float32 (263,) copy of a statistic, or ``InvalidMotionError``."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    arr = np.asarray(x)
    if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise InvalidMotionError(f"{name} must hold real numbers, got dtype {arr.dtype}")
    if arr.shape != (FEATURE_DIM,):
        raise InvalidMotionError(f"{name} must have shape ({FEATURE_DIM},), got {arr.shape}")
    if not np.isfinite(arr).all():
        bad = np.flatnonzero(~np.isfinite(arr))[:8]
        raise InvalidMotionError(f"{name} contains NaN or inf at indices {bad}")
    return arr.astype(np.float32)


class Normalizer:
    """``(x - mean) / std`` over the last axis of features (..., 263), numpy or torch.

    numpy in: float32 numpy out. torch in: torch out, same dtype/device, differentiable.
    """

    def __init__(self, mean: np.ndarray | torch.Tensor, std: np.ndarray | torch.Tensor) -> None:
        self.mean = _check_stat(mean, "mean")  # (263,)
        self.std = _check_stat(std, "std")  # (263,)
        if (self.std <= 0).any():
            bad = np.flatnonzero(self.std <= 0)
            bad = bad[:8]
            raise InvalidMotionError(f"std must be > 0 everywhere, got {self.std[bad]} at indices {bad}")

    def _stats_like(self, x: np.ndarray | torch.Tensor, name: str) -> tuple:
        """Check ``x`` (..., 263); return (mean, std) as numpy, or as tensors matching ``x``."""
        if not isinstance(x, (np.ndarray, torch.Tensor)):
            raise InvalidMotionError(f"{name} must be a numpy array or torch tensor, got {type(x).__name__}")
        if x.ndim < 1 or x.shape[-1] != FEATURE_DIM:
            raise InvalidMotionError(f"{name} must have shape (..., {FEATURE_DIM}), got {tuple(x.shape)}")
        if isinstance(x, torch.Tensor):
            return torch.as_tensor(self.mean, dtype=x.dtype, device=x.device), torch.as_tensor(
                self.std, dtype=x.dtype, device=x.device
            )
        return self.mean, self.std

    def normalize(self, x: np.ndarray | torch.Tensor) -> np.ndarray | torch.Tensor:
        """Features (..., 263) -> normalised features (..., 263)."""
        mean, std = self._stats_like(x, "x")
        out = (x - mean) / std
        return out if isinstance(x, torch.Tensor) else out.astype(np.float32)

    def denormalize(self, x: np.ndarray | torch.Tensor) -> np.ndarray | torch.Tensor:
        """Normalised features (..., 263) -> features (..., 263)."""
        mean, std = self._stats_like(x, "x")
        out = x * std + mean
        return out if isinstance(x, torch.Tensor) else out.astype(np.float32)

    def save(self, directory: str | os.PathLike) -> None:
        """Write ``Mean.npy`` and ``Std.npy`` (float32) into ``directory`` atomically."""
        directory = Path(directory)
        atomic_save_npy(directory / "Mean.npy", self.mean)
        atomic_save_npy(directory / "Std.npy", self.std)

    @classmethod
    def load(cls, directory: str | os.PathLike) -> Normalizer:
        """Read ``Mean.npy`` and ``Std.npy`` from ``directory``; ``CorpusError`` names a bad file."""
        directory = Path(directory)
        stats = {}
        for key in ("Mean", "Std"):
            path = directory / f"{key}.npy"
            if not path.is_file():
                raise CorpusError(f"normalisation statistics not found: {path} is missing")
            try:
                stats[key] = np.load(path, allow_pickle=False)
            except (OSError, ValueError) as err:
                raise CorpusError(f"cannot read {path}: {err}") from err
        try:
            return cls(stats["Mean"], stats["Std"])
        except InvalidMotionError as err:
            raise CorpusError(f"invalid statistics in {directory}: {err}") from err

    def __repr__(self) -> str:
        return f"Normalizer(dim={self.mean.shape[0]})"
