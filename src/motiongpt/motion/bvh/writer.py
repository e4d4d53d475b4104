"""Writing SMPL-22 joint positions as a standard BVH file.

The skeleton: joint names from ``skeleton.JOINT_NAMES``, the root (pelvis) with 6 channels, every other
joint with 3, Euler order ZYX (``Zrotation Yrotation Xrotation``, i.e. ``Rz @ Ry @ Rx``), metres, Y up.
Rest offsets: a bone with a single child lies along its ``RAW_OFFSETS`` direction at the clip's mean bone
length; the children of the pelvis and of spine3 keep the clip's mean shape (hips and collars are seldom
exactly where the rest directions put them), turned to best match those directions.

Rotations are solved from positions: a joint with one child gets the swing that points its bone at the
child, in its parent's frame; a joint with several children gets the least-squares rotation (Kabsch) of
its rest children onto the observed ones. Leaves (head, wrists, feet) keep their parent's orientation.
"""

from __future__ import annotations

import os
import warnings

import numpy as np
from scipy.spatial.transform import Rotation

from motiongpt._io import atomic_write_text
from motiongpt.errors import InvalidMotionError
from motiongpt.motion.skeleton import FPS, JOINT_NAMES, N_JOINTS, PARENTS, RAW_OFFSETS

# Channels written, applied intrinsically (R = Rz @ Rx @ Ry): yaw about Y comes last, so it keeps its full
# +-180 range and, unwrapped over time, a turning body gets continuous curves.
EULER_ORDER = "ZXY"
_CHILDREN: tuple[tuple[int, ...], ...] = tuple(
    tuple(c for c, p in enumerate(PARENTS) if p == j) for j in range(N_JOINTS)
)
_EPS = 1e-9


def _dfs(j: int = 0) -> tuple[int, ...]:
    return (j,) + tuple(k for c in _CHILDREN[j] for k in _dfs(c))


_DFS_ORDER = _dfs()  # joints in the order the hierarchy lists them (and their channels appear)


def _unit(v: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(v, axis=-1, keepdims=True)
    return np.where(n > _EPS, v / np.maximum(n, _EPS), 0.0)


def _kabsch(rest: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Rotations (T, 3, 3) minimising sum_k |R rest_k - target_k|^2; rest (K, 3), target (T, K, 3)."""
    h = np.einsum("ki,tkj->tij", rest, target)  # (T, 3, 3)
    u, _, vt = np.linalg.svd(h)
    d = np.sign(np.linalg.det(vt.transpose(0, 2, 1) @ u.transpose(0, 2, 1)))
    d = np.where(d == 0, 1.0, d)
    fix = np.broadcast_to(np.eye(3), h.shape).copy()
    fix[:, 2, 2] = d
    return vt.transpose(0, 2, 1) @ fix @ u.transpose(0, 2, 1)


def _swing(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Smallest rotations (T, 3, 3) turning unit vector a (3,) onto unit vectors b (T, 3).

    Where b is zero (a bone of zero length) the rotation is the identity.
    """
    n_frames = b.shape[0]
    v = np.cross(a, b)  # (T, 3)
    c = b @ a  # (T,)
    vx = np.zeros((n_frames, 3, 3))
    vx[:, 0, 1], vx[:, 0, 2], vx[:, 1, 2] = -v[:, 2], v[:, 1], -v[:, 0]
    vx -= vx.transpose(0, 2, 1)
    eye = np.broadcast_to(np.eye(3), (n_frames, 3, 3))
    opposite = c < -1 + 1e-8
    scale = 1.0 / np.where(opposite, 1.0, 1.0 + c)
    out = eye + vx + (vx @ vx) * scale[:, None, None]
    if opposite.any():  # half turn about any axis perpendicular to a
        helper = np.array([1.0, 0, 0]) if abs(a[0]) < 0.9 else np.array([0, 1.0, 0])
        u = _unit(np.cross(a, helper))
        out[opposite] = 2 * np.outer(u, u) - np.eye(3)
    zero = np.linalg.norm(b, axis=-1) < _EPS
    out[zero] = np.eye(3)
    return out


def rest_offsets(joints: np.ndarray) -> np.ndarray:
    """(22, 3) rest offsets for a (T, 22, 3) clip (see the module docstring)."""
    rel = joints[:, 1:] - joints[:, list(PARENTS[1:])]  # (T, 21, 3)
    lengths = np.linalg.norm(rel, axis=-1).mean(axis=0)  # (21,)
    offsets = np.zeros((N_JOINTS, 3))
    offsets[1:] = RAW_OFFSETS[1:] * lengths[:, None]
    for j, children in enumerate(_CHILDREN):
        if len(children) < 2:
            continue
        target = np.stack([joints[:, c] - joints[:, j] for c in children], axis=1)  # (T, K, 3)
        raw = RAW_OFFSETS[list(children)]  # (K, 3)
        rot = _kabsch(raw, target)  # rest direction frame → frame t
        shape = np.einsum("tji,tkj->tki", rot, target).mean(axis=0)  # (K, 3) back in the rest frame
        offsets[list(children)] = shape
    return offsets


def solve_rotations(joints: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Local rotation matrices (T, 22, 3, 3) whose forward kinematics on ``offsets`` follow ``joints``."""
    n_frames = joints.shape[0]
    glob = np.empty((n_frames, N_JOINTS, 3, 3))
    local = np.empty((n_frames, N_JOINTS, 3, 3))
    for j, parent in enumerate(PARENTS):
        parent_rot = np.broadcast_to(np.eye(3), (n_frames, 3, 3)) if parent < 0 else glob[:, parent]
        children = _CHILDREN[j]
        if not children:
            local[:, j] = np.eye(3)
        else:
            target = np.stack([joints[:, c] - joints[:, j] for c in children], axis=1)  # (T, K, 3)
            target = np.einsum("tji,tkj->tki", parent_rot, target)  # into the parent's frame
            if len(children) == 1:
                local[:, j] = _swing(_unit(offsets[children[0]]), _unit(target[:, 0]))
            else:
                local[:, j] = _kabsch(offsets[list(children)], target)
        glob[:, j] = parent_rot @ local[:, j]
    return local


def _check(joints: np.ndarray, fps: float) -> np.ndarray:
    joints = np.asarray(joints, dtype=np.float64)
    if joints.ndim != 3 or joints.shape[1:] != (N_JOINTS, 3) or joints.shape[0] < 1:
        raise InvalidMotionError(f"joints must have shape (T, {N_JOINTS}, 3) with T >= 1, got {joints.shape}")
    if not np.isfinite(joints).all():
        raise InvalidMotionError("joints must be finite, got NaN or infinity")
    if not (np.isfinite(fps) and fps > 0):
        raise ValueError(f"fps must be a positive number, got {fps!r}")
    return joints


def bvh_text(joints: np.ndarray, fps: float = FPS) -> str:
    """The BVH file text for (T, 22, 3) joint positions (metres, Y up)."""
    joints = _check(joints, fps)
    offsets = rest_offsets(joints)
    local = solve_rotations(joints, offsets)  # (T, 22, 3, 3)
    with warnings.catch_warnings():  # gimbal lock: scipy still returns angles for the same matrix
        warnings.simplefilter("ignore", UserWarning)
        euler = Rotation.from_matrix(local.reshape(-1, 3, 3)).as_euler(EULER_ORDER, degrees=True)
    euler = euler.reshape(joints.shape[0], N_JOINTS, 3)[:, list(_DFS_ORDER)]  # (T, 22, 3) in file order
    # Whole turns per channel leave each rotation unchanged but keep animation curves free of ±180° jumps.
    euler = np.unwrap(euler, period=360.0, axis=0)
    motion = np.concatenate([joints[:, 0], euler.reshape(-1, N_JOINTS * 3)], axis=1)  # (T, 69)

    rot_channels = " ".join(f"{axis}rotation" for axis in EULER_ORDER)
    out = ["HIERARCHY"]

    def emit(j: int, depth: int) -> None:
        pad = "\t" * depth
        if PARENTS[j] < 0:
            out.append(f"{pad}ROOT {JOINT_NAMES[j]}")
            chans = f"CHANNELS 6 Xposition Yposition Zposition {rot_channels}"
        else:
            out.append(f"{pad}JOINT {JOINT_NAMES[j]}")
            chans = f"CHANNELS 3 {rot_channels}"
        offset = np.zeros(3) if PARENTS[j] < 0 else offsets[j]
        out.extend(
            [f"{pad}{{", f"{pad}\tOFFSET {offset[0]:.6f} {offset[1]:.6f} {offset[2]:.6f}", f"{pad}\t{chans}"]
        )
        for c in _CHILDREN[j]:
            emit(c, depth + 1)
        if not _CHILDREN[j]:
            length = np.linalg.norm(offsets[j]) if PARENTS[j] >= 0 else 0.1
            end = RAW_OFFSETS[j] * 0.5 * max(length, 0.02)
            out.extend(
                [
                    f"{pad}\tEnd Site",
                    f"{pad}\t{{",
                    f"{pad}\t\tOFFSET {end[0]:.6f} {end[1]:.6f} {end[2]:.6f}",
                    f"{pad}\t}}",
                ]
            )
        out.append(f"{pad}}}")

    emit(0, 0)
    out += ["MOTION", f"Frames: {joints.shape[0]}", f"Frame Time: {1.0 / fps:.8f}"]
    out += [" ".join(f"{v:.5f}" for v in row) for row in motion]
    return "\n".join(out) + "\n"


def write_bvh(path: str | os.PathLike, joints: np.ndarray, fps: float = FPS) -> None:
    """Write (T, 22, 3) joint positions (metres, Y up) as a BVH file, atomically.

    Args:
        path: the output ``.bvh`` file.
        joints: (T, 22, 3) positions in SMPL joint order.
        fps: frames per second of ``joints``.

    Raises:
        InvalidMotionError: ``joints`` has the wrong shape or holds NaN/inf.
    """
    atomic_write_text(path, bvh_text(joints, fps))
