"""Retargeting any BVH skeleton to the 22 SMPL joints: metres, Y up, 20 fps.

A rig preset maps each SMPL joint to the names it may have in a BVH file. Joints a rig lacks are placed
by interpolation: spine1/spine2/spine3/neck along the pelvis→head chain at SMPL's proportions, collars
between spine3, neck and shoulder, a foot at the first child (toe or End Site) of the ankle joint.
Left and right come from the joint names; the up-axis change is a proper rotation, so a BVH in a
right-handed frame keeps its handedness and the output has +X on the body's left when it faces +Z.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Mapping

import numpy as np

from motiongpt.errors import BVHError
from motiongpt.motion.bvh.reader import BVHClip, read_bvh
from motiongpt.motion.skeleton import FPS, JOINT_NAMES

logger = logging.getLogger(__name__)


def _sided(table: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
    """Expand ``{"*_hip": ("upperleg_{s}",)}`` into l_/r_ entries with s = l/r (and S = left/right)."""
    out: dict[str, tuple[str, ...]] = {}
    for key, names in table.items():
        if key.startswith("*"):
            for s, side in (("l", "left"), ("r", "right")):
                out[s + key[1:]] = tuple(n.format(s=s, side=side) for n in names)
        else:
            out[key] = names
    return out


# Names are compared after _normalise: lower case, without a namespace ("mixamorig:") or "m_avg_".
RIGS: dict[str, dict[str, tuple[str, ...]]] = {
    "bandai": _sided({
        "pelvis": ("hips",), "spine1": ("spine",), "spine3": ("chest",), "neck": ("neck",), "head": ("head",),
        "*_hip": ("upperleg_{s}",), "*_knee": ("lowerleg_{s}",), "*_ankle": ("foot_{s}",),
        "*_foot": ("toes_{s}",), "*_collar": ("shoulder_{s}",), "*_shoulder": ("upperarm_{s}",),
        "*_elbow": ("lowerarm_{s}",), "*_wrist": ("hand_{s}",),
    }),
    "cc": _sided({
        "pelvis": ("cc_base_pelvis", "cc_base_hip"), "spine1": ("cc_base_waist",),
        "spine2": ("cc_base_spine01",), "spine3": ("cc_base_spine02",),
        "neck": ("cc_base_necktwist01", "cc_base_neck"), "head": ("cc_base_head",),
        "*_hip": ("cc_base_{s}_thigh",), "*_knee": ("cc_base_{s}_calf",), "*_ankle": ("cc_base_{s}_foot",),
        "*_foot": ("cc_base_{s}_toebase",), "*_collar": ("cc_base_{s}_clavicle",),
        "*_shoulder": ("cc_base_{s}_upperarm",), "*_elbow": ("cc_base_{s}_forearm",),
        "*_wrist": ("cc_base_{s}_hand",),
    }),
    "smpl": _sided({
        "pelvis": ("pelvis",), "spine1": ("spine1",), "spine2": ("spine2",), "spine3": ("spine3",),
        "neck": ("neck",), "head": ("head",),
        **{f"*_{part}": (f"{{s}}_{part}", f"{{side}}_{part}") for part in (
            "hip", "knee", "ankle", "foot", "collar", "shoulder", "elbow", "wrist")},
    }),
    "mixamo": _sided({
        "pelvis": ("hips",), "spine1": ("spine",), "spine2": ("spine1",), "spine3": ("spine2",),
        "neck": ("neck",), "head": ("head",),
        "*_hip": ("{side}upleg",), "*_knee": ("{side}leg",), "*_ankle": ("{side}foot",),
        "*_foot": ("{side}toebase",), "*_collar": ("{side}shoulder",), "*_shoulder": ("{side}arm",),
        "*_elbow": ("{side}forearm",), "*_wrist": ("{side}hand",),
    }),
}  # fmt: skip

REQUIRED: tuple[str, ...] = (
    "pelvis", "l_hip", "r_hip", "l_knee", "r_knee", "l_ankle", "r_ankle", "head",
    "l_shoulder", "r_shoulder", "l_elbow", "r_elbow", "l_wrist", "r_wrist",
)  # fmt: skip

# Pelvis→head chain and where each joint sits along it (cumulative SMPL bone length, normalised).
_SPINE = ("pelvis", "spine1", "spine2", "spine3", "neck", "head")
_SPINE_AT = (0.0, 0.20, 0.42, 0.51, 0.84, 1.0)

_UP_ROTATIONS = {  # rows map source (x, y, z) to Y-up coordinates; all proper rotations
    "Y": ((1, 0, 0), (0, 1, 0), (0, 0, 1)),
    "-Y": ((1, 0, 0), (0, -1, 0), (0, 0, -1)),
    "Z": ((1, 0, 0), (0, 0, 1), (0, -1, 0)),  # Z up, facing -Y (Blender/Max style) → facing +Z
    "-Z": ((1, 0, 0), (0, 0, -1), (0, 1, 0)),
    "X": ((0, -1, 0), (1, 0, 0), (0, 0, 1)),
    "-X": ((0, 1, 0), (-1, 0, 0), (0, 0, 1)),
}
_UNIT_SCALES = {"m": 1.0, "cm": 0.01, "mm": 0.001}
_TYPICAL_HEAD_ABOVE_ANKLES = 1.45  # metres, SMPL head joint above the ankle joints of a standing adult


def _normalise(name: str) -> str:
    name = name.rsplit(":", 1)[-1].strip().lower()
    return name.removeprefix("m_avg_")


def _match(clip: BVHClip, table: Mapping[str, tuple[str, ...]]) -> dict[str, int]:
    """SMPL joint name → index of the clip's joint, for every table entry the clip has."""
    index = {_normalise(n): i for i, n in reversed(list(enumerate(clip.names)))}
    found = {}
    for smpl, candidates in table.items():
        for cand in candidates:
            if cand in index:
                found[smpl] = index[cand]
                break
    return found


def _missing(found: Mapping[str, int]) -> list[str]:
    return [j for j in REQUIRED if j not in found]


def detect_rig(clip: BVHClip) -> str:
    """The preset in ``RIGS`` whose required joints the clip has (most matches wins).

    Raises:
        BVHError: no preset fits; the message names the file and the closest preset's missing joints.
    """
    scored = []
    for rig, table in RIGS.items():
        found = _match(clip, table)
        scored.append((len(_missing(found)), -len(found), rig))
    scored.sort()
    n_missing, _, best = scored[0]
    if n_missing:
        missing = _missing(_match(clip, RIGS[best]))
        raise BVHError(
            f"{clip.source}: unknown rig: no preset ({', '.join(RIGS)}) matches its joint names; the "
            f"closest, {best!r}, lacks {', '.join(missing)}. Pass rig= or a joint_map"
        )
    return best


def _resolve(clip: BVHClip, rig: str | None, joint_map: Mapping[str, str] | None) -> dict[str, int]:
    if rig is not None and rig not in RIGS:
        raise BVHError(f"{clip.source}: unknown rig {rig!r}; known rigs: {', '.join(RIGS)}")
    if rig is None and joint_map is None:
        rig = detect_rig(clip)
    found: dict[str, int] = {}
    if rig is None:  # a joint map alone: still use a preset if one happens to fit
        try:
            found = _match(clip, RIGS[detect_rig(clip)])
        except BVHError:
            found = {}
    else:
        found = _match(clip, RIGS[rig])
    for smpl, bvh_name in (joint_map or {}).items():
        if smpl not in JOINT_NAMES:
            raise BVHError(f"{clip.source}: joint_map keys must be SMPL joint names, got {smpl!r}")
        matches = [i for i, n in enumerate(clip.names) if n == bvh_name] or [
            i for i, n in enumerate(clip.names) if _normalise(n) == _normalise(bvh_name)
        ]
        if not matches:
            raise BVHError(f"{clip.source}: joint_map[{smpl!r}] = {bvh_name!r}: no such joint in the file")
        found[smpl] = matches[0]
    missing = _missing(found)
    if missing:
        raise BVHError(
            f"{clip.source}: rig {rig or 'from joint_map'!r} lacks joints for {', '.join(missing)}; "
            f"add them to joint_map"
        )
    return found


def _place(clip: BVHClip, found: Mapping[str, int], positions: np.ndarray) -> np.ndarray:
    """(T, 22, 3) SMPL joints from the clip's (T, J, 3) world positions, filling joints the rig lacks."""
    out = {name: positions[:, i] for name, i in found.items()}
    present = [k for k, name in enumerate(_SPINE) if name in out]  # always holds pelvis and head
    for k, name in enumerate(_SPINE):
        if name in out:
            continue
        lo = max(p for p in present if p < k)
        hi = min(p for p in present if p > k)
        w = (_SPINE_AT[k] - _SPINE_AT[lo]) / (_SPINE_AT[hi] - _SPINE_AT[lo])
        out[name] = (1 - w) * out[_SPINE[lo]] + w * out[_SPINE[hi]]
    for s in "lr":
        if f"{s}_collar" not in out:
            out[f"{s}_collar"] = (out["spine3"] + out["neck"] + out[f"{s}_shoulder"]) / 3
        if f"{s}_foot" not in out:
            ankle = found[f"{s}_ankle"]
            children = [i for i, p in enumerate(clip.parents) if p == ankle]
            if not children:
                raise BVHError(
                    f"{clip.source}: joint {clip.names[ankle]!r} ({s}_ankle) has no child to place "
                    f"{s}_foot; add {s}_foot to joint_map"
                )
            out[f"{s}_foot"] = positions[:, children[0]]
    return np.stack([out[name] for name in JOINT_NAMES], axis=1)


def _up_axis(joints: np.ndarray) -> str:
    """The signed axis along which the head is above the ankles, e.g. "Y" or "-Z"."""
    height = (joints[:, 15] - 0.5 * (joints[:, 7] + joints[:, 8])).mean(axis=0)  # (3,)
    axis = int(np.argmax(np.abs(height)))
    return ("-" if height[axis] < 0 else "") + "XYZ"[axis]


def _unit_scale(joints: np.ndarray) -> float:
    """Metres per file unit, chosen among m/cm/mm from the head-above-ankles distance."""
    h = float(np.median(np.linalg.norm(joints[:, 15] - 0.5 * (joints[:, 7] + joints[:, 8]), axis=-1)))
    if not h > 0:
        return 1.0
    return min(_UNIT_SCALES.values(), key=lambda s: abs(math.log(h * s / _TYPICAL_HEAD_ABOVE_ANKLES)))


def resample(positions: np.ndarray, src_fps: float, dst_fps: float = FPS) -> np.ndarray:
    """Linear interpolation of (T, ...) positions from ``src_fps`` onto a ``dst_fps`` time grid.

    The output has ``floor((T - 1) * dst_fps / src_fps) + 1`` frames and starts at the first frame.
    """
    n_src = positions.shape[0]
    duration = (n_src - 1) / src_fps
    n_dst = int(math.floor(duration * dst_fps + 1e-6)) + 1
    t = np.arange(n_dst) * (src_fps / dst_fps)  # (T',) in source frames
    i0 = np.minimum(np.floor(t).astype(int), n_src - 1)
    i1 = np.minimum(i0 + 1, n_src - 1)
    w = (t - i0).reshape(-1, *([1] * (positions.ndim - 1)))
    return (1 - w) * positions[i0] + w * positions[i1]


def bvh_to_joints(
    source: str | os.PathLike | BVHClip,
    rig: str | None = None,
    up: str | None = None,
    joint_map: Mapping[str, str] | None = None,
    scale: float | None = None,
) -> np.ndarray:
    """Retarget a BVH clip to the 22 SMPL joints.

    Args:
        source: a ``.bvh`` path or a ``BVHClip``.
        rig: a preset name in ``RIGS`` (bandai, cc, smpl, mixamo); detected from joint names if None.
        up: the file's up axis, "X"/"Y"/"Z" (optionally "-Z" ...); detected if None as the axis along
            which the head is above the feet.
        joint_map: SMPL joint name → BVH joint name, overriding or replacing the preset.
        scale: metres per file unit; detected (m, cm or mm) from the body's height if None.

    Returns:
        (T, 22, 3) float32 joint positions: metres, Y up, 20 fps, SMPL joint order.

    Raises:
        BVHError: the file is malformed or its rig cannot be mapped (names the file and joints).
    """
    clip = source if isinstance(source, BVHClip) else read_bvh(source)
    found = _resolve(clip, rig, joint_map)
    with np.errstate(over="ignore", invalid="ignore"):  # huge offsets or angles: refused below, not warned
        joints = _place(clip, found, clip.global_positions())  # (T, 22, 3) file units and axes
        if up is None:
            up = _up_axis(joints)
    key = up.strip().upper().removeprefix("+")
    if key not in _UP_ROTATIONS:
        raise BVHError(f"{clip.source}: up must be one of X, Y, Z (optionally signed, e.g. -Z), got {up!r}")
    if scale is None:
        with np.errstate(over="ignore", invalid="ignore"):
            scale = _unit_scale(joints)
    elif not (math.isfinite(scale) and scale > 0):
        raise BVHError(f"{clip.source}: scale must be a positive number of metres per unit, got {scale!r}")
    logger.debug(
        "%s: %d frames at %.3g fps, up %s, scale %g", clip.source, clip.n_frames, clip.fps, key, scale
    )
    with np.errstate(over="ignore", invalid="ignore"):
        joints = joints @ (scale * np.asarray(_UP_ROTATIONS[key], dtype=np.float64).T)
        out = resample(joints, clip.fps).astype(np.float32)
    if not np.isfinite(out).all():
        raise BVHError(
            f"{clip.source}: the joint positions are not finite: offsets or channel values too large"
        )
    return out
