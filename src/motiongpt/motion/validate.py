"""Input checks for motion arrays at public boundaries; each raises ``InvalidMotionError``."""

from __future__ import annotations

import numpy as np
import torch

from motiongpt.errors import InvalidMotionError
from motiongpt.motion.skeleton import FEATURE_DIM, N_JOINTS


def _all_finite(x: torch.Tensor | np.ndarray) -> bool:
    """Whether every element of ``x`` is finite.

    For tensors a finite sum proves it (one NaN or inf makes the sum NaN or inf) and costs a few percent of
    ``isfinite(x).all()`` on CPU; only a non-finite sum (which overflow also gives) falls back to the
    element-wise test.
    """
    if isinstance(x, np.ndarray):
        return bool(np.isfinite(x).all())
    return bool(torch.isfinite(x.sum())) or bool(torch.isfinite(x).all())


def _check_motion(x: object, name: str, tail: tuple[int, ...], min_frames: int, expected: str) -> None:
    """Shared check: array type, real dtype, trailing shape ``tail``, frame count, finiteness."""
    if isinstance(x, torch.Tensor):
        if not x.is_floating_point():
            raise InvalidMotionError(f"{name} must be a floating-point tensor, got dtype {x.dtype}")
    elif isinstance(x, np.ndarray):
        if not (np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer)):
            raise InvalidMotionError(f"{name} must hold real numbers, got dtype {x.dtype}")
    else:
        raise InvalidMotionError(f"{name} must be a numpy array or torch tensor, got {type(x).__name__}")
    shape = tuple(x.shape)
    if len(shape) < len(tail) + 1 or shape[-len(tail) :] != tail:
        raise InvalidMotionError(f"{name} must have shape {expected}, got {shape}")
    n_frames = shape[-len(tail) - 1]
    if n_frames < min_frames:
        raise InvalidMotionError(
            f"{name} must have at least {min_frames} frames (axis -{len(tail) + 1}), got shape {shape}"
        )
    if not _all_finite(x):
        raise InvalidMotionError(f"{name} contains NaN or inf (shape {shape})")
    check_magnitude(x, name)


MAX_ABS = 1e6  # no human motion has a coordinate (metres) or feature beyond this; squares would overflow


def check_magnitude(x: torch.Tensor | np.ndarray, name: str) -> None:
    """InvalidMotionError when a value of ``x`` is beyond ``±MAX_ABS`` (e.g. 1e30: not metres)."""
    if x.size == 0 if isinstance(x, np.ndarray) else x.numel() == 0:
        return
    peak = float(np.abs(x).max()) if isinstance(x, np.ndarray) else float(x.abs().max())
    if peak > MAX_ABS:
        raise InvalidMotionError(
            f"{name} holds values up to {peak:.3g}; a motion is in metres, within ±{MAX_ABS:g}"
        )


def check_joints(x: object, name: str = "joints", min_frames: int = 2) -> None:
    """Check joint positions: shape (..., T, 22, 3) with T >= min_frames, all finite."""
    _check_motion(x, name, (N_JOINTS, 3), min_frames, f"(..., T, {N_JOINTS}, 3)")


def check_features(x: object, name: str = "features", min_frames: int = 1) -> None:
    """Check HumanML3D features: shape (..., T, 263) with T >= min_frames, all finite."""
    _check_motion(x, name, (FEATURE_DIM,), min_frames, f"(..., T, {FEATURE_DIM})")
