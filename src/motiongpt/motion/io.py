"""Joint positions from and to files, by suffix: ``.bvh`` (any rig, retargeted) and ``.npy`` (T, 22, 3)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from motiongpt._io import atomic_save_npy
from motiongpt.errors import InvalidMotionError
from motiongpt.motion.bvh import bvh_to_joints, write_bvh_on_rig
from motiongpt.motion.skeleton import FEATURE_DIM, FPS, N_JOINTS
from motiongpt.motion.validate import check_magnitude

SUFFIXES = (".bvh", ".npy")


def _suffix(path: Path, verb: str) -> str:
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise InvalidMotionError(
            f"cannot {verb} joints {'from' if verb == 'load' else 'to'} {path}: unknown suffix "
            f"{path.suffix or '(none)'!r}; use one of {', '.join(SUFFIXES)}"
        )
    return suffix


def _check(joints: object, source: str, min_frames: int = 1) -> np.ndarray:
    shape = getattr(joints, "shape", None)
    if not isinstance(joints, np.ndarray) or joints.ndim != 3 or joints.shape[1:] != (N_JOINTS, 3):
        raise InvalidMotionError(
            f"{source}: joints must be an array of shape (T, {N_JOINTS}, 3), got {shape}"
        )
    if not (np.issubdtype(joints.dtype, np.floating) or np.issubdtype(joints.dtype, np.integer)):
        raise InvalidMotionError(f"{source}: joints must hold real numbers, got dtype {joints.dtype}")
    if joints.shape[0] < min_frames:
        raise InvalidMotionError(
            f"{source}: joints must hold at least {min_frames} frame(s), got {joints.shape[0]}"
        )
    if not np.isfinite(joints).all():
        raise InvalidMotionError(f"{source}: joints contain NaN or infinity")
    check_magnitude(joints, f"{source}: joints")
    return joints


def _load_npy(path: Path) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise
    except IsADirectoryError:
        raise InvalidMotionError(f"{path}: is a directory, not a .npy file") from None
    except (ValueError, OSError, EOFError) as e:
        raise InvalidMotionError(f"{path}: not a readable .npy array ({e})") from None


def load_joints(
    path: str | os.PathLike, rig: str | None = None, up: str | None = None
) -> np.ndarray:  # (T, 22, 3)
    """Joint positions (T, 22, 3) float32 from a ``.bvh`` (retargeted) or ``.npy`` file.

    Args:
        path: the file; its suffix picks the format.
        rig: BVH rig preset (see ``motiongpt.motion.bvh.retarget.RIGS``); detected if None.
        up: BVH up axis ("X", "Y", "Z"); detected if None.

    Raises:
        InvalidMotionError: unknown suffix, or a ``.npy`` that is not a finite (T, 22, 3) array.
        BVHError: a malformed or unmappable BVH file.
        FileNotFoundError: the file does not exist.
    """
    path = Path(path)
    if _suffix(path, "load") == ".bvh":
        return bvh_to_joints(path, rig=rig, up=up)
    if rig is not None or up is not None:
        raise InvalidMotionError(
            f"rig and up apply to .bvh input only, got rig={rig!r}, up={up!r} for {path}"
        )
    return _check(_load_npy(path), str(path)).astype(np.float32)


def save_joints(
    path: str | os.PathLike, joints: np.ndarray, fps: float = FPS, rig: str | os.PathLike = "smpl"
) -> None:
    """Write (T, 22, 3) joint positions (metres, Y up) to ``.bvh`` or ``.npy``, atomically.

    ``rig`` is the skeleton of a ``.bvh``: "smpl" (the motion's own), a preset ("mixamo", "bandai",
    "cc") or a ``.bvh`` file (see ``motiongpt.motion.bvh.export``).

    Raises:
        InvalidMotionError: unknown suffix, ``joints`` is not a finite (T, 22, 3) array, or a rig
            other than "smpl" for a ``.npy``.
        BVHError: the rig cannot be read or matched.
    """
    path = Path(path)
    suffix = _suffix(path, "save")
    joints = _check(np.asarray(joints), "joints")
    if suffix == ".bvh":
        write_bvh_on_rig(path, joints, rig, fps=fps)
    elif str(rig).lower() != "smpl":
        raise InvalidMotionError(f"a rig applies to .bvh output only, got rig={str(rig)!r} for {path}")
    else:
        atomic_save_npy(path, joints.astype(np.float32))


def convert_motion(
    src: str | os.PathLike,
    dst: str | os.PathLike,
    rig: str | None = None,
    up: str | None = None,
    features: bool = False,
    out_rig: str | os.PathLike = "smpl",
) -> tuple[int, ...]:
    """Convert motion between ``.bvh``, ``.npy`` joints (T, 22, 3) and ``.npy`` features (T-1, 263).

    The input format follows the suffix and, for ``.npy``, the array's shape (a trailing 263 means
    features). The output holds features when ``features`` is set or ``dst`` ends in ``.features.npy``,
    joints otherwise (``.bvh`` or ``.npy``). ``rig`` and ``up`` describe a ``.bvh`` input; ``out_rig`` is
    the skeleton of a ``.bvh`` output (see ``save_joints``).

    Returns:
        The shape of the array written (for ``.bvh``, the joints' shape).

    Raises:
        InvalidMotionError / BVHError: unreadable input, unknown suffix, too few frames for features.
    """
    src, dst = Path(src), Path(dst)
    if (
        _suffix(src, "load") == ".npy"
        and (array := _load_npy(src)).ndim == 2
        and array.shape[1] == FEATURE_DIM
    ):
        if rig is not None or up is not None:
            raise InvalidMotionError(
                f"rig and up apply to .bvh input only, got rig={rig!r}, up={up!r} for {src}"
            )
        from motiongpt.motion.features import features_to_joints

        joints = np.asarray(features_to_joints(array.astype(np.float32)))
    else:
        joints = load_joints(src, rig=rig, up=up)
    if features or dst.name.lower().endswith(".features.npy"):
        if str(out_rig).lower() != "smpl":
            raise InvalidMotionError(f"a rig applies to .bvh output only, got rig={str(out_rig)!r} for {dst}")
        if dst.suffix.lower() != ".npy":
            raise InvalidMotionError(f"features are written as .npy, got output {dst}")
        if joints.shape[0] < 2:
            raise InvalidMotionError(f"{src}: features need at least 2 frames, got {joints.shape[0]}")
        from motiongpt.motion.features import joints_to_features

        feats = np.asarray(joints_to_features(joints), dtype=np.float32)  # (T-1, 263)
        atomic_save_npy(dst, feats)
        return tuple(feats.shape)
    save_joints(dst, joints, rig=out_rig)
    return tuple(joints.shape)
