"""``Motion``: one motion as features and joints, read from and written to files.

It needs only motion math (features <-> joints, BVH), so holding a motion does not load the language
model: the CLI, the evaluation and the web UI use it directly. ``motiongpt.lm.pipeline`` and the package
top level re-export it.

>>> m = Motion.from_file("walk.bvh")                 # any rig, retargeted; or .npy joints (T, 22, 3)
>>> files = m.save("out/walk", video=render_video)   # out/walk.npy, out/walk.bvh, out/walk.mp4
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from motiongpt._io import atomic_save_npy
from motiongpt.errors import InvalidMotionError
from motiongpt.motion.features import features_to_joints, joints_to_features
from motiongpt.motion.skeleton import FPS
from motiongpt.motion.validate import check_features, check_joints

#: Draws joints ``(T, 22, 3)`` into a video file and returns its path, e.g. ``motiongpt.render.render_video``
#: (the surfaces pass it in: ``motion/`` does not draw).
VideoWriter = Callable[..., Path]


@dataclass(frozen=True)
class MotionFiles:
    """The files :meth:`Motion.save` wrote: joints ``(T, 22, 3)`` as ``.npy``, a ``.bvh`` and, when a video
    writer was given, the skeleton video."""

    video: Path | None
    npy: Path
    bvh: Path

    @property
    def paths(self) -> list[Path]:
        """The files in the order they were written (npy, bvh, video)."""
        return [self.npy, self.bvh] + ([self.video] if self.video is not None else [])


@dataclass(frozen=True, eq=False)
class Motion:
    """A motion: HumanML3D features ``(T, 263)`` (raw, not normalised) and joints ``(T', 22, 3)``.

    From generated tokens ``T' = T`` (a whole number of tokens) and ``tokens`` holds the codes; from joints
    (a file) the features have one frame fewer (``T = T' - 1``, they are built from velocities).
    """

    features: np.ndarray  # (T, 263)
    joints: np.ndarray  # (T', 22, 3) metres, Y up, FPS (20) frames per second
    tokens: np.ndarray | None = None  # (N,) codebook indices when known

    @property
    def seconds(self) -> float:
        return self.joints.shape[0] / FPS

    @property
    def n_frames(self) -> int:
        return int(self.joints.shape[0])

    @classmethod
    def from_joints(cls, joints: np.ndarray) -> Motion:
        """Joint positions ``(T, 22, 3)`` (metres, Y up, 20 fps); InvalidMotionError if malformed."""
        joints = np.asarray(joints) if not isinstance(joints, torch.Tensor) else joints  # dtype checked next
        check_joints(joints, "joints", min_frames=2)
        joints = np.asarray(joints, dtype=np.float32)
        if joints.ndim != 3:
            raise InvalidMotionError(f"joints must have shape (T, 22, 3), got {joints.shape}")
        return cls(np.asarray(joints_to_features(joints), dtype=np.float32), joints)

    @classmethod
    def from_features(cls, features: np.ndarray, tokens: np.ndarray | None = None) -> Motion:
        """Raw HumanML3D features ``(T, 263)``."""
        check_features(features, "features", min_frames=1)
        features = np.asarray(features, dtype=np.float32)
        if features.ndim != 2:
            raise InvalidMotionError(f"features must have shape (T, 263), got {features.shape}")
        return cls(features, np.asarray(features_to_joints(features), dtype=np.float32), tokens)

    @classmethod
    def from_file(cls, path: str | os.PathLike) -> Motion:
        """A ``.bvh`` (any rig, retargeted) or ``.npy`` joints ``(T, 22, 3)`` file."""
        from motiongpt.motion.io import load_joints

        return cls.from_joints(load_joints(path))

    def save_npy(self, path: str | os.PathLike) -> Path:
        """Joints ``(T, 22, 3)`` float32 to ``path`` (atomic)."""
        atomic_save_npy(path, self.joints.astype(np.float32))
        return Path(path)

    def save_bvh(self, path: str | os.PathLike, rig: str | os.PathLike = "smpl") -> Path:
        """The motion as a BVH file (atomic) on ``rig``: "smpl" (its own skeleton), a preset ("mixamo",
        "bandai", "cc") or a ``.bvh`` file whose skeleton to use (``motiongpt.motion.bvh.export``)."""
        from motiongpt.motion.bvh import write_bvh_on_rig

        write_bvh_on_rig(path, self.joints, rig, fps=FPS)
        return Path(path)

    def save(
        self,
        prefix: str | os.PathLike,
        *,
        video: VideoWriter | None = None,
        title: str | None = None,
        rig: str | os.PathLike = "smpl",
        video_suffix: str = ".mp4",
    ) -> MotionFiles:
        """Write ``{prefix}.npy`` (joints), ``{prefix}.bvh`` (on ``rig``) and, given a ``video`` writer
        (``video(joints, path, title=title)``, e.g. ``motiongpt.render.render_video``), ``{prefix}.mp4``.
        Each file is written atomically; parent folders are created."""
        prefix = Path(prefix)
        npy = self.save_npy(prefix.with_name(prefix.name + ".npy"))
        bvh = self.save_bvh(prefix.with_name(prefix.name + ".bvh"), rig=rig)
        clip = None
        if video is not None:
            clip = Path(video(self.joints, prefix.with_name(prefix.name + video_suffix), title=title))
        return MotionFiles(video=clip, npy=npy, bvh=bvh)

    def __repr__(self) -> str:
        return f"Motion({self.n_frames} frames, {self.seconds:.1f} s)"


__all__ = ["Motion", "MotionFiles", "VideoWriter"]
