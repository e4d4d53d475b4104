"""A per-clip baseline that follows HumanML3D's published feature pipeline, for timing only.

HumanML3D (Guo et al., CVPR 2022) turns one clip at a time into its 263-dim features with numpy, calling
small torch quaternion helpers (float32) through numpy <-> torch conversions, and loops in Python over the
kinematic chains and their joints for inverse and forward kinematics. This file repeats that algorithm and
that structure (our code, written from the published description of the steps), so that
``benchmarks/features.py`` can time motiongpt's batched path against the way the features are usually
made. It is not used by the library; ``tests/test_benchmarks.py`` checks it computes the same features.

Steps of ``process_clip`` (one clip (T, 22, 3) -> (T-1, 263)):
1. uniform skeleton: bone offsets from frame 0, root path scaled by the leg-length ratio (largest
   component of the knee and ankle offsets), IK to local rotations, FK on the target offsets;
2. floor at the lowest joint height, root XZ of frame 0 to the origin, turn to face +Z at frame 0;
3. foot contacts from squared per-frame displacements of ankles and feet;
4. IK again with the facing direction smoothed (scipy's gaussian_filter1d, sigma 20, mode nearest):
   6D rotations, root rotation per frame, root velocity in the facing frame, root yaw velocity (arcsin of
   the yaw step quaternion's Y part);
5. joints relative to the root in the facing frame (ric), per-joint velocities in the facing frame.

``recover_from_ric`` is the reference's batched (vectorised torch) features -> joints recovery.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.ndimage import gaussian_filter1d

from motiongpt.motion.skeleton import FACE_JOINTS, KINEMATIC_CHAIN, PARENTS, RAW_OFFSETS, TARGET_BONE_LENGTHS

FOOT_THRESHOLD = 0.002


# --- torch quaternion helpers on flattened (N, 4) / (N, 3) rows, float32, as the reference uses -----
def _qmul(q: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    shape = q.shape
    terms = torch.bmm(r.reshape(-1, 4, 1), q.reshape(-1, 1, 4))  # (N, 4, 4) outer products
    w = terms[:, 0, 0] - terms[:, 1, 1] - terms[:, 2, 2] - terms[:, 3, 3]
    x = terms[:, 0, 1] + terms[:, 1, 0] - terms[:, 2, 3] + terms[:, 3, 2]
    y = terms[:, 0, 2] + terms[:, 1, 3] + terms[:, 2, 0] - terms[:, 3, 1]
    z = terms[:, 0, 3] - terms[:, 1, 2] + terms[:, 2, 1] + terms[:, 3, 0]
    return torch.stack((w, x, y, z), dim=1).view(shape)


def _qrot(q: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    shape = v.shape
    q, v = q.contiguous().view(-1, 4), v.contiguous().view(-1, 3)
    uv = torch.linalg.cross(q[:, 1:], v, dim=1)
    uuv = torch.linalg.cross(q[:, 1:], uv, dim=1)
    return (v + 2 * (q[:, :1] * uv + uuv)).view(shape)


def _qinv(q: torch.Tensor) -> torch.Tensor:
    return q * q.new_tensor([1.0, -1.0, -1.0, -1.0])


def _qbetween(v0: torch.Tensor, v1: torch.Tensor) -> torch.Tensor:
    v = torch.linalg.cross(v0, v1, dim=-1)
    w = torch.sqrt((v0**2).sum(-1, keepdim=True) * (v1**2).sum(-1, keepdim=True)) + (v0 * v1).sum(
        -1, keepdim=True
    )
    q = torch.cat((w, v), dim=-1)
    return q / q.norm(dim=-1, keepdim=True)


def _quat_to_cont6d(q: torch.Tensor) -> torch.Tensor:
    w, x, y, z = q.unbind(-1)
    col0 = torch.stack((1 - 2 * (y * y + z * z), 2 * (x * y + w * z), 2 * (x * z - w * y)), dim=-1)
    col1 = torch.stack((2 * (x * y - w * z), 1 - 2 * (x * x + z * z), 2 * (y * z + w * x)), dim=-1)
    return torch.cat((col0, col1), dim=-1)


# --- the numpy wrappers the per-clip code calls: numpy in, torch float32 inside, numpy out ----------
def _t(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(a)).float()


def qmul_np(q: np.ndarray, r: np.ndarray) -> np.ndarray:
    return _qmul(_t(q), _t(r)).numpy()


def qrot_np(q: np.ndarray, v: np.ndarray) -> np.ndarray:
    return _qrot(_t(q), _t(v)).numpy()


def qinv_np(q: np.ndarray) -> np.ndarray:
    return _qinv(_t(q)).numpy()


def qbetween_np(v0: np.ndarray, v1: np.ndarray) -> np.ndarray:
    return _qbetween(_t(v0), _t(v1)).numpy()


def quat_to_cont6d_np(q: np.ndarray) -> np.ndarray:
    return _quat_to_cont6d(_t(q)).numpy()


# --- skeleton: IK / FK with Python loops over chains and joints --------------------------------------
def offsets_from_frame(frame: np.ndarray) -> np.ndarray:
    """(22, 3) joint positions of one frame -> (22, 3) offsets: rest direction * bone length."""
    offsets = np.zeros_like(RAW_OFFSETS)
    for j in range(1, len(PARENTS)):
        offsets[j] = RAW_OFFSETS[j] * np.linalg.norm(frame[j] - frame[PARENTS[j]])
    return offsets


def inverse_kinematics(joints: np.ndarray, smooth_forward: bool = False) -> np.ndarray:
    """(T, 22, 3) -> local rotations (T, 22, 4); the root's from the facing, identity at frame 0."""
    r_hip, l_hip, sdr_r, sdr_l = FACE_JOINTS[1], FACE_JOINTS[0], FACE_JOINTS[2], FACE_JOINTS[3]
    across = joints[:, r_hip] - joints[:, l_hip] + joints[:, sdr_r] - joints[:, sdr_l]
    across = across / np.sqrt((across**2).sum(axis=-1))[:, None]
    forward = np.cross(np.array([[0.0, 1.0, 0.0]]), across, axis=-1)
    if smooth_forward:
        forward = gaussian_filter1d(forward, 20, axis=0, mode="nearest")
    forward = forward / np.sqrt((forward**2).sum(axis=-1))[..., None]
    target = np.array([[0.0, 0.0, 1.0]]).repeat(len(forward), axis=0)
    root_quat = qbetween_np(forward, target)
    root_quat[0] = np.array([1.0, 0.0, 0.0, 0.0])
    quat = np.zeros(joints.shape[:-1] + (4,))
    quat[:, 0] = root_quat
    for chain in KINEMATIC_CHAIN:
        rot = root_quat
        for a, b in zip(chain[:-1], chain[1:], strict=True):
            u = RAW_OFFSETS[b][None].repeat(len(joints), axis=0)
            v = joints[:, b] - joints[:, a]
            v = v / np.sqrt((v**2).sum(axis=-1))[:, None]
            local = qmul_np(qinv_np(rot), qbetween_np(u, v))
            quat[:, b] = local
            rot = qmul_np(rot, local)
    return quat


def forward_kinematics(quat: np.ndarray, root: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Local rotations (T, 22, 4), root path (T, 3), offsets (22, 3) -> joints (T, 22, 3)."""
    offsets = np.broadcast_to(offsets, (len(quat), *offsets.shape))
    joints = np.zeros(quat.shape[:-1] + (3,))
    joints[:, 0] = root
    for chain in KINEMATIC_CHAIN:
        rot = quat[:, 0]
        for a, b in zip(chain[:-1], chain[1:], strict=True):
            rot = qmul_np(rot, quat[:, b])
            joints[:, b] = qrot_np(rot, offsets[:, b]) + joints[:, a]
    return joints


def uniform_skeleton(positions: np.ndarray) -> np.ndarray:
    src = offsets_from_frame(positions[0])
    tgt = RAW_OFFSETS * TARGET_BONE_LENGTHS[:, None]
    knee, ankle = 5, 8
    src_leg = np.abs(src[knee]).max() + np.abs(src[ankle]).max()
    tgt_leg = np.abs(tgt[knee]).max() + np.abs(tgt[ankle]).max()
    quat = inverse_kinematics(positions)
    return forward_kinematics(quat, positions[:, 0] * (tgt_leg / src_leg), tgt)


def process_clip(positions: np.ndarray) -> np.ndarray:
    """One clip's joints (T, 22, 3) -> HumanML3D features (T-1, 263), as the reference makes them."""
    positions = uniform_skeleton(positions.astype(np.float64))
    positions[:, :, 1] -= positions.min(axis=0).min(axis=0)[1]
    positions = positions - positions[0, 0] * np.array([1.0, 0.0, 1.0])

    r_hip, l_hip, sdr_r, sdr_l = FACE_JOINTS
    first = positions[0]
    across = first[r_hip] - first[l_hip] + first[sdr_r] - first[sdr_l]
    across = across / np.sqrt((across**2).sum(axis=-1))
    forward = np.cross(np.array([[0.0, 1.0, 0.0]]), across, axis=-1)
    forward = forward / np.sqrt((forward**2).sum(axis=-1))[..., None]
    root_quat_init = qbetween_np(forward, np.array([[0.0, 0.0, 1.0]]))
    root_quat_init = np.ones(positions.shape[:-1] + (4,)) * root_quat_init
    positions = qrot_np(root_quat_init, positions)
    global_positions = positions.copy()

    contacts = []
    for feet in ((7, 10), (8, 11)):
        step = positions[1:, feet] - positions[:-1, feet]
        dx, dy, dz = step[..., 0] ** 2, step[..., 1] ** 2, step[..., 2] ** 2
        contacts.append(((dx + dy + dz) < FOOT_THRESHOLD).astype(np.float64))

    quat = inverse_kinematics(positions, smooth_forward=True)
    cont6d = quat_to_cont6d_np(quat)
    r_rot = quat[:, 0].copy()
    velocity = qrot_np(r_rot[1:], positions[1:, 0] - positions[:-1, 0])
    r_velocity = qmul_np(r_rot[1:], qinv_np(r_rot[:-1]))

    ric = positions.copy()
    ric[..., 0] -= ric[:, 0:1, 0]
    ric[..., 2] -= ric[:, 0:1, 2]
    ric = qrot_np(np.repeat(r_rot[:, None], ric.shape[1], axis=1), ric)

    n = len(positions)
    root_data = np.concatenate(
        (np.arcsin(r_velocity[:, 2:3]), velocity[:, [0, 2]], ric[:-1, 0, 1:2]), axis=-1
    )
    rot_data = cont6d[:, 1:].reshape(n, -1)
    ric_data = ric[:, 1:].reshape(n, -1)
    local_vel = qrot_np(
        np.repeat(r_rot[:-1, None], global_positions.shape[1], axis=1),
        global_positions[1:] - global_positions[:-1],
    ).reshape(n - 1, -1)
    return np.concatenate((root_data, ric_data[:-1], rot_data[:-1], local_vel, *contacts), axis=-1)


def recover_from_ric(data: torch.Tensor, n_joints: int = 22) -> torch.Tensor:
    """The reference's vectorised recovery: features (..., T, 263) -> joints (..., T, 22, 3)."""
    rot_vel = data[..., 0]
    angle = torch.zeros_like(rot_vel)
    angle[..., 1:] = rot_vel[..., :-1]
    angle = torch.cumsum(angle, dim=-1)
    r_quat = torch.zeros(data.shape[:-1] + (4,), dtype=data.dtype)
    r_quat[..., 0] = torch.cos(angle)
    r_quat[..., 2] = torch.sin(angle)
    r_pos = torch.zeros(data.shape[:-1] + (3,), dtype=data.dtype)
    r_pos[..., 1:, [0, 2]] = data[..., :-1, 1:3]
    r_pos = torch.cumsum(_qrot(_qinv(r_quat), r_pos), dim=-2)
    r_pos[..., 1] = data[..., 3]
    pos = data[..., 4 : (n_joints - 1) * 3 + 4]
    pos = pos.reshape(pos.shape[:-1] + (-1, 3))
    pos = _qrot(_qinv(r_quat[..., None, :]).expand(pos.shape[:-1] + (4,)), pos)
    pos[..., 0] += r_pos[..., 0:1]
    pos[..., 2] += r_pos[..., 2:3]
    return torch.cat((r_pos.unsqueeze(-2), pos), dim=-2)
