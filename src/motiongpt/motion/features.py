"""HumanML3D's 263-dim motion representation: joint positions <-> features.

The math is written once in torch; numpy inputs are computed in float64 and returned as float32.
``joints_to_features`` follows HumanML3D's ``process_file`` step by step:

1. uniform skeleton: every bone is rescaled to ``TARGET_BONE_LENGTHS`` along its direction (what
   HumanML3D's IK then FK does to positions) and the root path is scaled by the leg-length ratio;
2. floor: the lowest joint over the clip is put at height 0; the root's XZ at frame 0 goes to the origin;
3. the clip is turned about Y so the body faces +Z at frame 0 (facing from ``FACE_JOINTS``);
4. foot contacts: squared per-frame displacement of each foot joint below 0.002 m^2;
5. the root rotation per frame: the facing direction smoothed over time (Gaussian, sigma 20 frames,
   edges repeated), identity at frame 0; joint rotations by twist-free IK along the kinematic chains.
   HumanML3D's IK unpacks ``FACE_JOINTS`` with the hips swapped, so this facing comes from
   (l_hip - r_hip) + (r_shoulder - l_shoulder), unlike step 3's; the shipped features confirm it;
6. features (T-1 frames): root yaw velocity (half-angle per frame, HumanML3D's convention), root XZ
   velocity in the facing frame, root height, positions relative to the root in the facing frame (ric),
   6D rotations, joint velocities in the facing frame, foot contacts. Layout: ``skeleton.py``.

One deliberate difference: HumanML3D takes ``arcsin`` of the yaw-step quaternion's Y part, which flips
the step's sign on the frame where the facing crosses the half-turn of the quaternion's range; here the
step is wrapped to (-pi/2, pi/2] instead, so ``features_to_joints(joints_to_features(x))`` holds there too.
Both agree everywhere else.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from motiongpt.motion.rotations import qbetween, qinv, qmul, quat_to_cont6d, rotate_y, yaw_quat
from motiongpt.motion.skeleton import (
    FACE_JOINTS,
    FOOT_LEFT,
    FOOT_RIGHT,
    KINEMATIC_CHAIN,
    LEG_JOINTS,
    N_JOINTS,
    PARENTS,
    RAW_OFFSETS,
    RIC,
    TARGET_BONE_LENGTHS,
)
from motiongpt.motion.validate import check_features, check_joints

FOOT_CONTACT_THRESHOLD = 0.002  # m^2 per frame: squared displacement under which a foot joint is in contact
FACING_SMOOTH_SIGMA = 20.0  # frames: Gaussian smoothing of the facing direction (truncated at 4 sigma)

_BONE_PARENTS = list(PARENTS[1:])  # parent of each non-root joint 1..21


def _ancestor_matrix() -> np.ndarray:
    """(22, 21) 0/1 matrix: entry (j, b-1) is 1 when bone b (ending at joint b) lies on the root->j path."""
    anc = np.zeros((N_JOINTS, N_JOINTS - 1))
    for j in range(1, N_JOINTS):
        k = j
        while k > 0:
            anc[j, k - 1] = 1.0
            k = PARENTS[k]
    return anc


def _ik_parents() -> list[int]:
    """For joints 1..21, the joint whose global rotation their local rotation is relative to.

    As in HumanML3D's IK, every kinematic chain restarts from the root rotation (so the collars are
    relative to the root, not spine3).
    """
    ik_parent = [0] * N_JOINTS
    for chain in KINEMATIC_CHAIN:
        for j in range(1, len(chain)):
            ik_parent[chain[j]] = 0 if j == 1 else chain[j - 1]
    return ik_parent[1:]


_ANCESTORS = _ancestor_matrix()
_IK_PARENTS = _ik_parents()
_PERP = np.roll(np.abs(RAW_OFFSETS), 1, axis=-1)  # (22, 3) unit vectors orthogonal to each rest direction


def _as_tensor(x: np.ndarray | torch.Tensor) -> tuple[torch.Tensor, bool]:
    """A torch view of ``x`` (float64 for numpy input) and whether it came from numpy."""
    if isinstance(x, torch.Tensor):
        return x, False
    return torch.from_numpy(np.asarray(x, dtype=np.float64)), True


def _const(a: np.ndarray, like: torch.Tensor) -> torch.Tensor:
    """A constant array as a tensor with ``like``'s dtype and device."""
    return torch.as_tensor(a, dtype=like.dtype, device=like.device)


def _gaussian_smooth(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Smooth (..., T, C) along T like scipy's ``gaussian_filter1d(mode="nearest")``."""
    radius = int(4.0 * sigma + 0.5)
    taps = torch.arange(-radius, radius + 1, dtype=x.dtype, device=x.device)
    kernel = torch.exp(-0.5 * (taps / sigma) ** 2)
    kernel = (kernel / kernel.sum()).view(1, 1, -1)
    *lead, n_frames, n_chan = x.shape
    y = x.reshape(-1, n_frames, n_chan).transpose(1, 2).reshape(-1, 1, n_frames)  # (B*C, 1, T)
    y = F.conv1d(F.pad(y, (radius, radius), mode="replicate"), kernel)  # (B*C, 1, T)
    return y.reshape(*lead, n_chan, n_frames).transpose(-1, -2)


def _facing_xz(j: torch.Tensor, ik_convention: bool = False) -> torch.Tensor:
    """Facing direction's (x, z) from hips and shoulders: (..., 22, 3) -> (..., 2), not normalised.

    With ``ik_convention`` the hip vector is reversed, as HumanML3D's IK does when it unpacks
    ``FACE_JOINTS`` (its root rotations, hence the features, are defined that way).
    """
    r_hip, l_hip, r_sdr, l_sdr = FACE_JOINTS
    hips = j[..., l_hip, :] - j[..., r_hip, :] if ik_convention else j[..., r_hip, :] - j[..., l_hip, :]
    across = hips + (j[..., r_sdr, :] - j[..., l_sdr, :])  # (..., 3)
    across = across / across.norm(dim=-1, keepdim=True)
    return torch.stack((across[..., 2], -across[..., 0]), dim=-1)  # Y x across, on the XZ plane


def _heading_to_plus_z(fwd_xz: torch.Tensor) -> torch.Tensor:
    """Yaw angle (...,) that turns the facing (..., 2) onto +Z."""
    return -torch.atan2(fwd_xz[..., 0], fwd_xz[..., 1])


def _uniform_skeleton(j: torch.Tensor) -> torch.Tensor:
    """Retarget (..., T, 22, 3) to the target bone lengths; scale the root path by the leg ratio."""
    bones = j[..., 1:, :] - j[..., _BONE_PARENTS, :]  # (..., T, 21, 3)
    lengths = bones.norm(dim=-1, keepdim=True)  # (..., T, 21, 1)
    target = _const(TARGET_BONE_LENGTHS, j)
    leg = [k - 1 for k in LEG_JOINTS]
    scale = target[list(LEG_JOINTS)].sum() / lengths[..., 0, leg, 0].sum(-1)  # (...,) from frame 0
    bones = bones / lengths.clamp_min(1e-12) * target[1:, None]
    root = j[..., 0, :] * scale[..., None, None]  # (..., T, 3)
    return root.unsqueeze(-2) + torch.einsum("jb,...tbc->...tjc", _const(_ANCESTORS, j), bones)


def _joints_to_features(j: torch.Tensor) -> torch.Tensor:
    """(..., T, 22, 3) -> (..., T-1, 263)."""
    j = _uniform_skeleton(j)
    zero = torch.zeros_like(j[..., 0, 0, 0])  # (...,)
    floor = j[..., 1].amin(dim=(-2, -1))  # (...,)
    origin = torch.stack((j[..., 0, 0, 0], floor, j[..., 0, 0, 2]), dim=-1)  # (..., 3)
    j = j - origin[..., None, None, :]
    j = rotate_y(j, _heading_to_plus_z(_facing_xz(j[..., 0, :, :]))[..., None, None])  # face +Z at frame 0

    feet = list(FOOT_LEFT + FOOT_RIGHT)
    step = j[..., 1:, feet, :] - j[..., :-1, feet, :]  # (..., T-1, 4, 3)
    contact = ((step**2).sum(-1) < FOOT_CONTACT_THRESHOLD).to(j.dtype)  # (..., T-1, 4)

    facing = _gaussian_smooth(_facing_xz(j, ik_convention=True), FACING_SMOOTH_SIGMA)  # (..., T, 2)
    yaw = _heading_to_plus_z(facing)  # (..., T) root rotation per frame
    yaw = torch.cat((zero[..., None], yaw[..., 1:]), dim=-1)  # HumanML3D: frame 0's root rotation is identity
    d_yaw = yaw[..., 1:] - yaw[..., :-1]
    rot_vel = 0.5 * torch.atan2(torch.sin(d_yaw), torch.cos(d_yaw))  # (..., T-1) half-angle steps

    root = j[..., 0, :]  # (..., T, 3)
    lin_vel = rotate_y(root[..., 1:, :] - root[..., :-1, :], yaw[..., 1:])[..., [0, 2]]  # (..., T-1, 2)
    height = root[..., :-1, 1:2]  # (..., T-1, 1)

    root_xz = root * _const(np.array([1.0, 0.0, 1.0]), j)
    ric = rotate_y(j - root_xz[..., None, :], yaw[..., None])[..., :-1, 1:, :]  # (..., T-1, 21, 3)

    bone_dirs = j[..., :-1, 1:, :] - j[..., :-1, _BONE_PARENTS, :]
    bone_dirs = bone_dirs / bone_dirs.norm(dim=-1, keepdim=True).clamp_min(1e-12)  # (..., T-1, 21, 3)
    glob = qbetween(_const(RAW_OFFSETS[1:], j), bone_dirs, _const(_PERP[1:], j))  # (..., T-1, 21, 4)
    glob = torch.cat((yaw_quat(yaw[..., :-1])[..., None, :], glob), dim=-2)  # (..., T-1, 22, 4)
    local = qmul(qinv(glob[..., _IK_PARENTS, :]), glob[..., 1:, :])  # (..., T-1, 21, 4)
    rot6d = quat_to_cont6d(local)  # (..., T-1, 21, 6)

    local_vel = rotate_y(j[..., 1:, :, :] - j[..., :-1, :, :], yaw[..., :-1, None])  # (..., T-1, 22, 3)

    blocks = (rot_vel[..., None], lin_vel, height, ric.flatten(-2), rot6d.flatten(-2), local_vel.flatten(-2))
    return torch.cat((*blocks, contact), dim=-1)  # (..., T-1, 263)


def _features_to_joints(f: torch.Tensor) -> torch.Tensor:
    """(..., T, 263) -> (..., T, 22, 3)."""
    zero = torch.zeros_like(f[..., :1, 0])  # (..., 1)
    yaw = 2.0 * torch.cat((zero, torch.cumsum(f[..., :-1, 0], dim=-1)), dim=-1)  # (..., T)
    vel = f[..., :-1, 1:3]  # (..., T-1, 2)
    vel = torch.stack((vel[..., 0], torch.zeros_like(vel[..., 0]), vel[..., 1]), dim=-1)  # (..., T-1, 3)
    vel = torch.cat((torch.zeros_like(vel[..., :1, :]), vel), dim=-2)  # (..., T, 3)
    root_xz = torch.cumsum(rotate_y(vel, -yaw), dim=-2)  # (..., T, 3), Y is 0
    ric = f[..., RIC].unflatten(-1, (N_JOINTS - 1, 3))  # (..., T, 21, 3)
    joints = rotate_y(ric, -yaw[..., None]) + root_xz[..., None, :]  # (..., T, 21, 3)
    root = root_xz + f[..., 3:4] * _const(np.array([0.0, 1.0, 0.0]), f)  # (..., T, 3)
    return torch.cat((root[..., None, :], joints), dim=-2)


def joints_to_features(joints: np.ndarray | torch.Tensor) -> np.ndarray | torch.Tensor:
    """Joint positions (..., T, 22, 3) in metres, Y up -> HumanML3D features (..., T-1, 263).

    numpy in: float32 numpy out (computed in float64). torch in: torch out, same dtype/device,
    differentiable except for the foot-contact flags.
    """
    check_joints(joints, "joints", min_frames=2)
    x, from_numpy = _as_tensor(joints)
    out = _joints_to_features(x)
    return out.numpy().astype(np.float32) if from_numpy else out


def features_to_joints(features: np.ndarray | torch.Tensor) -> np.ndarray | torch.Tensor:
    """HumanML3D features (..., T, 263) -> joint positions (..., T, 22, 3), as ``recover_from_ric``.

    The root yaw is the running sum of the yaw velocity (zero at frame 0), the root XZ the running sum
    of the velocities turned back to the world, and joints come from the ric block.
    """
    check_features(features, "features", min_frames=1)
    x, from_numpy = _as_tensor(features)
    out = _features_to_joints(x)
    return out.numpy().astype(np.float32) if from_numpy else out
