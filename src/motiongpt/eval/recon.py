"""Reconstruction metrics of the motion tokenizer: MPJPE, PA-MPJPE, acceleration error.

The metric functions are pure numpy on joint arrays ``(..., T, J, 3)`` and return values in the input's
units (metres for HumanML3D joints; ``evaluate_recon`` reports millimetres):

- ``mpjpe``: mean per-joint position error after subtracting each frame's root joint (joint 0) from
  both poses, as MotionGPT's reconstruction metric.
- ``pa_mpjpe``: mean per-joint error after a per-frame similarity Procrustes alignment (scale, rotation,
  translation; no reflection) of the prediction onto the ground truth.
- ``accel_error``: mean norm of the difference of second finite differences
  ``x[t+1] - 2 x[t] + x[t-1]`` of root-aligned joints, per frame² (at 20 fps: multiply by 400 for /s²).
  MotionGPT's reconstruction metric uses global joints (``root=None``): ``evaluate_recon`` reports both,
  ``accel_error_mm`` (root-aligned) and ``accel_error_global_mm`` (MotionGPT's definition).

With ``reduce=False`` each returns the per-frame errors ``(..., T)`` (``(..., T-2)`` for acceleration).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from motiongpt.motion.skeleton import MAX_FRAMES

#: How ``evaluate_recon``'s two acceleration errors are defined (in its ``notes``, as the protocol's tables).
ACCEL_NOTE = (
    "accel_error_mm is on root-aligned joints; MotionGPT's reconstruction metric uses global joints: "
    "accel_error_global_mm"
)


def _check_pair(pred: np.ndarray, gt: np.ndarray, min_frames: int = 1) -> tuple[np.ndarray, np.ndarray]:
    pred, gt = np.asarray(pred, dtype=np.float64), np.asarray(gt, dtype=np.float64)
    if pred.shape != gt.shape:
        raise ValueError(f"pred and gt must have the same shape, got {pred.shape} and {gt.shape}")
    if pred.ndim < 3 or pred.shape[-1] != 3:
        raise ValueError(f"joints must have shape (..., T, J, 3), got {pred.shape}")
    if pred.shape[-3] < min_frames:
        raise ValueError(f"need at least {min_frames} frames, got {pred.shape[-3]}")
    if not (np.isfinite(pred).all() and np.isfinite(gt).all()):
        raise ValueError("pred and gt must be finite (no NaN/inf)")
    return pred, gt


def _root_align(x: np.ndarray, root: int | None) -> np.ndarray:
    return x if root is None else x - x[..., root : root + 1, :]


def mpjpe(pred: np.ndarray, gt: np.ndarray, root: int | None = 0, reduce: bool = True) -> Any:
    """Mean per-joint position error of ``(..., T, J, 3)`` joints, root-aligned on joint ``root``
    (``None``: no alignment)."""
    pred, gt = _check_pair(pred, gt)
    err = np.linalg.norm(_root_align(pred, root) - _root_align(gt, root), axis=-1).mean(-1)  # (..., T)
    return float(err.mean()) if reduce else err


def procrustes_align(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Per pose ``(..., J, 3)``: ``s R pred + t`` closest to ``gt`` in least squares (det R = +1)."""
    mu_p, mu_g = pred.mean(-2, keepdims=True), gt.mean(-2, keepdims=True)
    x, y = pred - mu_p, gt - mu_g  # (..., J, 3)
    k = np.swapaxes(x, -1, -2) @ y  # (..., 3, 3) cross-covariance
    u, s, vt = np.linalg.svd(k)
    d = np.sign(np.linalg.det(np.swapaxes(vt, -1, -2) @ np.swapaxes(u, -1, -2)))  # (...,) reflection fix
    d = np.where(d == 0, 1.0, d)
    z = np.ones(s.shape)
    z[..., -1] = d
    # Row-vector form: aligned = s * x @ R^T with R = V Z U^T, i.e. x @ U Z V^T.
    rot_t = (u * z[..., None, :]) @ vt  # (..., 3, 3) = R^T
    var = (x**2).sum((-1, -2))  # (...,)
    scale = (s * z).sum(-1) / np.where(var > 0, var, 1.0)  # trace(Z S) / ||x||^2
    return scale[..., None, None] * (x @ rot_t) + mu_g


def pa_mpjpe(pred: np.ndarray, gt: np.ndarray, reduce: bool = True) -> Any:
    """MPJPE after per-frame similarity Procrustes alignment of ``pred`` onto ``gt``."""
    pred, gt = _check_pair(pred, gt)
    err = np.linalg.norm(procrustes_align(pred, gt) - gt, axis=-1).mean(-1)  # (..., T)
    return float(err.mean()) if reduce else err


def accel_error(pred: np.ndarray, gt: np.ndarray, root: int | None = 0, reduce: bool = True) -> Any:
    """Mean acceleration error (per frame², input units) of root-aligned joints; needs >= 3 frames."""
    pred, gt = _check_pair(pred, gt, min_frames=3)
    pred, gt = _root_align(pred, root), _root_align(gt, root)

    def accel(x: np.ndarray) -> np.ndarray:
        return x[..., 2:, :, :] - 2 * x[..., 1:-1, :, :] + x[..., :-2, :, :]  # (..., T-2, J, 3)

    err = np.linalg.norm(accel(pred) - accel(gt), axis=-1).mean(-1)  # (..., T-2)
    return float(err.mean()) if reduce else err


def evaluate_recon(
    tokenizer_dir: str | os.PathLike,
    data: str | os.PathLike,
    split: str = "test",
    batch_size: int = 256,
    device: str = "cpu",
    min_frames: int = 40,
    max_frames: int = MAX_FRAMES,
) -> dict[str, Any]:
    """Encode→decode every clip of ``split`` (HumanML3D length filter ``min_frames..max_frames``) and
    compare joints recovered from the denormalised features.

    Returns a JSON-able dict: ``mpjpe_mm``, ``pa_mpjpe_mm``, ``accel_error_mm`` (mm/frame², root-aligned
    joints), ``accel_error_global_mm`` (global joints, MotionGPT's definition),
    ``codebook_usage`` (percent of the K codes used on the split), ``perplexity`` (of the split's code
    histogram), counts and ``notes`` (:data:`ACCEL_NOTE`: the two acceleration errors' definitions).
    """
    import torch

    from motiongpt.data.humanml3d import HumanML3D
    from motiongpt.motion.features import features_to_joints
    from motiongpt.tokenizer.model import MotionTokenizer
    from motiongpt.tokenizer.quantizer import perplexity
    from motiongpt.tokenizer.tokenize import clip_lengths, length_buckets

    model = MotionTokenizer.from_pretrained(tokenizer_dir, map_location=device)
    clips = HumanML3D(data, split, min_frames=min_frames, max_frames=max_frames)
    unit = model.downsample_factor
    sums = {"mpjpe": 0.0, "pa": 0.0, "accel": 0.0, "accel_global": 0.0}
    n_frames = n_accel = n_clips = 0
    counts = torch.zeros(model.cfg.codebook_size, dtype=torch.int64)
    with torch.no_grad():
        for batch in length_buckets(clip_lengths(clips), unit, batch_size):
            feats = [clips[i].features for i in batch]
            n = len(feats[0]) // unit * unit
            x = torch.from_numpy(np.stack([f[:n] for f in feats])).to(device)  # (b, 4N, F) raw
            idx = model.encode(model.normalize(x))  # (b, N)
            recon = model.denormalize(model.decode(idx))  # (b, 4N, F)
            counts += torch.bincount(idx.reshape(-1).cpu(), minlength=model.cfg.codebook_size)
            pred = features_to_joints(recon.float()).cpu().numpy()  # (b, 4N, 22, 3)
            gt = features_to_joints(x.float()).cpu().numpy()
            sums["mpjpe"] += float(mpjpe(pred, gt, reduce=False).sum())
            sums["pa"] += float(pa_mpjpe(pred, gt, reduce=False).sum())
            if n >= 3:
                acc = accel_error(pred, gt, reduce=False)
                sums["accel"] += float(acc.sum())
                sums["accel_global"] += float(accel_error(pred, gt, root=None, reduce=False).sum())
                n_accel += acc.size
            n_frames += pred.shape[0] * pred.shape[1]
            n_clips += len(batch)
    if n_clips == 0:
        from motiongpt.errors import CorpusError

        raise CorpusError(f"{data}: split {split!r} has no clip of {min_frames}..{max_frames} frames")
    indices = torch.repeat_interleave(torch.arange(len(counts)), counts)
    return {
        "task": "recon",
        "tokenizer": str(Path(tokenizer_dir)),
        "split": split,
        "clips": n_clips,
        "frames": n_frames,
        "mpjpe_mm": 1000.0 * sums["mpjpe"] / n_frames,
        "pa_mpjpe_mm": 1000.0 * sums["pa"] / n_frames,
        "accel_error_mm": 1000.0 * sums["accel"] / max(1, n_accel),
        "accel_error_global_mm": 1000.0 * sums["accel_global"] / max(1, n_accel),
        "codebook_usage": 100.0 * float((counts > 0).float().mean()),
        "perplexity": float(perplexity(indices, len(counts))),
        "notes": [ACCEL_NOTE],
    }


__all__ = ["accel_error", "evaluate_recon", "mpjpe", "pa_mpjpe", "procrustes_align"]
