"""Per-dimension feature normalisation with a dataset's mean and std (HumanML3D's Mean.npy / Std.npy).

Written once here: :class:`Normalizer` (numpy or torch, saved as ``Mean.npy`` / ``Std.npy``) and
:class:`NormalizerBuffers`, the same statistics and the same ``normalize`` / ``denormalize`` as buffers of
an ``nn.Module`` (the motion tokenizer and the T2M evaluator), so they move with the module and are saved
in its ``model.safetensors`` under the names ``mean`` and ``std``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from motiongpt._io import atomic_save_npy
from motiongpt.errors import CorpusError, InvalidMotionError
from motiongpt.motion.skeleton import FEATURE_DIM


def _check_stat(x: object, name: str, dim: int = FEATURE_DIM) -> np.ndarray:
    """A finite float32 ``(dim,)`` copy of a statistic, or ``InvalidMotionError``."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    arr = np.asarray(x)
    if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise InvalidMotionError(f"{name} must hold real numbers, got dtype {arr.dtype}")
    if arr.shape != (dim,):
        raise InvalidMotionError(f"{name} must have shape ({dim},), got {arr.shape}")
    if not np.isfinite(arr).all():
        bad = np.flatnonzero(~np.isfinite(arr))[:8]
        raise InvalidMotionError(f"{name} contains NaN or inf at indices {bad}")
    return arr.astype(np.float32)


def check_stats(
    mean: np.ndarray | torch.Tensor, std: np.ndarray | torch.Tensor, dim: int = FEATURE_DIM
) -> tuple[np.ndarray, np.ndarray]:
    """Finite float32 ``(dim,)`` copies of ``mean`` and ``std`` (``std > 0``), or ``InvalidMotionError``."""
    mean, std = _check_stat(mean, "mean", dim), _check_stat(std, "std", dim)
    if (std <= 0).any():
        bad = np.flatnonzero(std <= 0)[:8]
        raise InvalidMotionError(f"std must be > 0 everywhere, got {std[bad]} at indices {bad}")
    return mean, std


class Normalizer:
    """``(x - mean) / std`` over the last axis of features (..., 263), numpy or torch.

    numpy in: float32 numpy out. torch in: torch out, same dtype/device, differentiable.
    """

    def __init__(self, mean: np.ndarray | torch.Tensor, std: np.ndarray | torch.Tensor) -> None:
        self.mean, self.std = check_stats(mean, std)  # (263,) each

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


class NormalizerBuffers:
    """Mixin for an ``nn.Module`` that normalises its input with a dataset's ``(F,)`` ``mean`` and ``std``,
    held as buffers (``init_normalizer`` registers them; identity statistics until set).

    ``normalize`` / ``denormalize`` are :class:`Normalizer`'s ``(x - mean) / std`` and ``x * std + mean``
    with the buffers (their dtype and device).
    """

    mean: torch.Tensor  # (F,)
    std: torch.Tensor  # (F,)

    def init_normalizer(
        self,
        dim: int,
        mean: np.ndarray | torch.Tensor | None = None,
        std: np.ndarray | torch.Tensor | None = None,
    ) -> None:
        """Register the ``mean`` (zeros) and ``std`` (ones) buffers of size ``dim``; set them if given."""
        self.register_buffer("mean", torch.zeros(dim))  # type: ignore[attr-defined]
        self.register_buffer("std", torch.ones(dim))  # type: ignore[attr-defined]
        if mean is not None or std is not None:
            self.set_normalizer(self.mean if mean is None else mean, self.std if std is None else std)

    def set_normalizer(self, mean: np.ndarray | torch.Tensor, std: np.ndarray | torch.Tensor) -> None:
        """Store the dataset statistics (``(F,)`` each); ``InvalidMotionError`` (a ``ValueError``) names a
        wrong shape, a NaN/inf or a ``std <= 0``."""
        checked = check_stats(mean, std, int(self.mean.shape[0]))
        for buf, value in zip((self.mean, self.std), checked, strict=True):
            buf.copy_(torch.from_numpy(value))

    def normalize(self, features: torch.Tensor) -> torch.Tensor:
        """Raw ``(..., F)`` -> normalised."""
        return (features - self.mean) / self.std

    def denormalize(self, features: torch.Tensor) -> torch.Tensor:
        """Normalised ``(..., F)`` -> raw."""
        return features * self.std + self.mean
