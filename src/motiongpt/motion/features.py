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

import functools

import numpy as np
import torch
import torch.nn.functional as F

from motiongpt.motion.skeleton import (
    FACE_JOINTS,
    FEATURE_DIM,
    FOOT_CONTACT,
    FOOT_LEFT,
    FOOT_RIGHT,
    KINEMATIC_CHAIN,
    LEG_JOINTS,
    LOCAL_VEL,
    N_JOINTS,
    PARENTS,
    RAW_OFFSETS,
    RIC,
    ROT6D,
    TARGET_BONE_LENGTHS,
)
from motiongpt.motion.validate import check_features, check_joints

FOOT_CONTACT_THRESHOLD = 0.002  # m^2 per frame: squared displacement under which a foot joint is in contact
FACING_SMOOTH_SIGMA = 20.0  # frames: Gaussian smoothing of the facing direction (truncated at 4 sigma)

_BONE_PARENTS = list(PARENTS[1:])  # parent of each non-root joint 1..21
_LEG_BONES = [k - 1 for k in LEG_JOINTS]  # bone index (child joint - 1) of the leg-length joints
_FEET = list(FOOT_LEFT + FOOT_RIGHT)
_OUT_CHUNK_FRAMES = 4096  # frames written into the output at a time (about 4 MB of float32 features)


def _ancestor_matrix() -> np.ndarray:
    """(22, 21) 0/1 matrix: entry (j, b-1) is 1 when bone b (ending at joint b) lies on the root->j path."""
    anc = np.zeros((N_JOINTS, N_JOINTS - 1))
    for j in range(1, N_JOINTS):
        k = j
        while k > 0:
            anc[j, k - 1] = 1.0
            k = PARENTS[k]
    return anc


def _bone_matrix() -> np.ndarray:
    """(22, 21): positions (..., 22) @ it = bones (..., 21), each joint 1..21 minus its parent."""
    m = np.zeros((N_JOINTS, N_JOINTS - 1))
    for b, parent in enumerate(_BONE_PARENTS):
        m[b + 1, b] = 1.0
        m[parent, b] -= 1.0
    return m


def _across_matrix() -> np.ndarray:
    """(22, 2): positions (..., 22) @ it = the hips + shoulders vector of step 3 (column 0) and of IK (1).

    HumanML3D's IK unpacks ``FACE_JOINTS`` with the hips swapped, so its hip term is reversed.
    """
    r_hip, l_hip, r_sdr, l_sdr = FACE_JOINTS
    m = np.zeros((N_JOINTS, 2))
    m[[r_sdr, l_sdr], :] = [[1.0, 1.0], [-1.0, -1.0]]
    m[[r_hip, l_hip], 0] = [1.0, -1.0]
    m[[l_hip, r_hip], 1] = [1.0, -1.0]
    return m


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


@functools.lru_cache(maxsize=16)
def _tables(dtype: torch.dtype, device: torch.device) -> dict[str, torch.Tensor]:
    """The constant matrices of ``_joints_to_features`` as tensors, made once per dtype and device."""
    tables = {
        "bones": _bone_matrix(),  # (22, 21)
        "ancestors": _ANCESTORS.T,  # (21, 22)
        "across": _across_matrix(),  # (22, 2)
        "target": TARGET_BONE_LENGTHS[1:],  # (21,)
        "leg": TARGET_BONE_LENGTHS[list(LEG_JOINTS)].sum(),  # ()
        "rest": RAW_OFFSETS[1:].T,  # (3, 21) rest direction of each bone, by component
        "perp": _PERP[1:].T,  # (3, 21)
        "ik_parents": np.array(_IK_PARENTS),  # (21,) index into the 22 global rotations
        "feet": np.array(_FEET),  # (4,)
    }
    return {
        k: torch.as_tensor(v, device=device, dtype=torch.long if v.dtype.kind == "i" else dtype)
        for k, v in ((k, np.asarray(v)) for k, v in tables.items())
    }


def _as_tensor(x: np.ndarray | torch.Tensor) -> tuple[torch.Tensor, bool]:
    """A torch view of ``x`` (float64 for numpy input) and whether it came from numpy."""
    if isinstance(x, torch.Tensor):
        return x, False
    return torch.from_numpy(np.asarray(x, dtype=np.float64)), True


def _gaussian_smooth(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Smooth (..., T) along T like scipy's ``gaussian_filter1d(mode="nearest")``."""
    radius = int(4.0 * sigma + 0.5)
    taps = torch.arange(-radius, radius + 1, dtype=x.dtype, device=x.device)
    kernel = torch.exp(-0.5 * (taps / sigma) ** 2)
    kernel = (kernel / kernel.sum()).view(1, 1, -1)
    y = x.reshape(-1, 1, x.shape[-1])  # (N, 1, T)
    y = F.conv1d(F.pad(y, (radius, radius), mode="replicate"), kernel)  # (N, 1, T)
    return y.reshape(x.shape)


def _joints_to_features(j: torch.Tensor) -> torch.Tensor:
    """(..., T, 22, 3) -> (..., T-1, 263).

    Every step is one tensor operation over all clips, frames and joints at once. Coordinates are kept
    as separate (..., T, 22) tensors (x, y, z; quaternions as w, x, y, z) so that no step gathers or
    stacks along a length-3 or length-4 axis; sums and differences over joints (bones, the uniform
    skeleton's forward kinematics, the facing vectors) are products with small constant matrices.
    """
    c = _tables(j.dtype, j.device)
    lead = j.shape[:-3]
    j = j.reshape(-1, *j.shape[-3:])  # (B, T, 22, 3), B all leading dims
    p = j.movedim(-1, 0)  # (3, B, T, 22)

    # 1. uniform skeleton: every bone along its direction with the target length, root path scaled
    bones = p @ c["bones"]  # (3, ..., T, 21)
    lengths = (bones[0] * bones[0] + bones[1] * bones[1] + bones[2] * bones[2]).sqrt()  # (..., T, 21)
    dirs = bones / lengths.clamp_min(1e-12)  # (3, ..., T, 21) unit bone directions
    scale = c["leg"] / lengths[..., 0, _LEG_BONES].sum(-1)  # (...,) from frame 0
    p = p[..., :1] * scale[..., None, None] + (dirs * c["target"]) @ c["ancestors"]  # (3, ..., T, 22)
    across = p @ c["across"]  # (3, ..., T, 2): step 3's and IK's hips + shoulders vectors

    # 2. floor at 0 (the root XZ of frame 0 goes to the origin, which no feature below depends on)
    x, y, z = p.unbind(0)  # (..., T, 22) each
    y = y - y.amin(dim=(-2, -1), keepdim=True)

    # 3. the turn about Y that makes the body face +Z at frame 0: facing (x, z) = (across_z, -across_x)
    ax, ay, az = across.unbind(0)  # (..., T, 2)
    norm = (ax * ax + ay * ay + az * az).sqrt()
    fx, fz = az / norm, -ax / norm  # (..., T, 2)
    h = torch.hypot(fx[..., 0, 0], fz[..., 0, 0])[..., None]  # (..., 1)
    c0, s0 = fz[..., :1, 0] / h, -fx[..., :1, 0] / h  # (..., 1) cos, sin of the turn
    dx, dy, dz = dirs.unbind(0)  # (..., T, 21) turned bone directions (the IK needs them)
    dx, dz = c0[..., None] * dx + s0[..., None] * dz, c0[..., None] * dz - s0[..., None] * dx
    fx, fz = fx[..., 1], fz[..., 1]  # (..., T) IK facing, turned
    fx, fz = c0 * fx + s0 * fz, c0 * fz - s0 * fx

    # 4. foot contacts (squared displacements do not change with the turn)
    vx, vy, vz = (a[..., 1:, :] - a[..., :-1, :] for a in (x, y, z))  # (..., T-1, 22) each
    step2 = vx * vx + vy * vy + vz * vz  # (..., T-1, 22)
    contact = (step2.index_select(-1, c["feet"]) < FOOT_CONTACT_THRESHOLD).to(j.dtype)  # (..., T-1, 4)

    # 5. root rotation per frame from the smoothed IK facing (identity at frame 0)
    fx, fz = _gaussian_smooth(torch.stack((fx, fz), dim=-2), FACING_SMOOTH_SIGMA).unbind(-2)  # (..., T)
    yaw = -torch.atan2(fx[..., 1:], fz[..., 1:])  # (..., T-1) frames 1..T-1
    yaw = torch.cat((torch.zeros_like(yaw[..., :1]), yaw), dim=-1)  # (..., T)
    d_yaw = yaw[..., 1:] - yaw[..., :-1]
    rot_vel = 0.5 * torch.atan2(torch.sin(d_yaw), torch.cos(d_yaw))  # (..., T-1) half-angle steps
    cy, sy = torch.cos(yaw), torch.sin(yaw)  # (..., T)
    cy, sy = cy * c0 - sy * s0, sy * c0 + cy * s0  # the turn, then the root rotation: one rotation

    # 6. features in the facing frame of each frame
    lin_x = cy[..., 1:] * vx[..., 0] + sy[..., 1:] * vz[..., 0]  # (..., T-1) root velocity
    lin_z = cy[..., 1:] * vz[..., 0] - sy[..., 1:] * vx[..., 0]
    height = y[..., :-1, 0]  # (..., T-1)
    c_, s_ = cy[..., :-1, None], sy[..., :-1, None]  # (..., T-1, 1)
    rel_x = x[..., :-1, 1:] - x[..., :-1, :1]  # (..., T-1, 21)
    rel_z = z[..., :-1, 1:] - z[..., :-1, :1]
    ric = (c_ * rel_x + s_ * rel_z, y[..., :-1, 1:], c_ * rel_z - s_ * rel_x)
    local_vel = (c_ * vx + s_ * vz, vy, c_ * vz - s_ * vx)  # (..., T-1, 22) each
    rot6d = _local_rotations_6d(dx[..., :-1, :], dy[..., :-1, :], dz[..., :-1, :], yaw[..., :-1], c)

    # each component is copied into its strided place (stacking into length-3 axes is much slower), a
    # few thousand frames at a time so that the 17 writes into each output row hit the cache
    out = j.new_empty((*j.shape[:-3], j.shape[-3] - 1, FEATURE_DIM))  # (B, T-1, 263)
    chunk = max(1, _OUT_CHUNK_FRAMES // out.shape[-2])  # clips
    for i in range(0, len(out), chunk):
        rows = slice(i, i + chunk)
        for k, part in enumerate((rot_vel, lin_x, lin_z, height)):
            out[rows, :, k] = part[rows]
        for block, parts in ((RIC, ric), (ROT6D, rot6d), (LOCAL_VEL, local_vel)):
            view = out[rows, :, block].unflatten(-1, (-1, len(parts)))  # (b, T-1, J, 3 or 6)
            for k, part in enumerate(parts):
                view[..., k] = part[rows]
        out[rows, :, FOOT_CONTACT] = contact[rows]
    return out.reshape(*lead, *out.shape[1:])  # (..., T-1, 263)


def _local_rotations_6d(
    dx: torch.Tensor, dy: torch.Tensor, dz: torch.Tensor, yaw: torch.Tensor, c: dict[str, torch.Tensor]
) -> tuple[torch.Tensor, ...]:
    """HumanML3D's twist-free IK, as six (..., T, 21) 6D-rotation components of joints 1..21.

    ``dx, dy, dz`` (..., T, 21) are unit bone directions, ``yaw`` (..., T) the root rotation. Each bone's
    global rotation is the shortest arc from its rest direction (a half turn about ``perp`` when exactly
    opposite); a joint's local rotation is its IK parent's global rotation inverted times its own.
    """
    ux, uy, uz = c["rest"].unbind(0)  # (21,) each
    w = 1.0 + ux * dx + uy * dy + uz * dz  # (..., T, 21)
    q = (w, uy * dz - uz * dy, uz * dx - ux * dz, ux * dy - uy * dx)
    opposite = w < 1e-7
    if bool(opposite.any()):
        half_turn = (torch.zeros_like(w), *c["perp"])
        q = tuple(torch.where(opposite, hk, qk) for hk, qk in zip(half_turn, q, strict=True))
        norm = (q[0] * q[0] + q[1] * q[1] + q[2] * q[2] + q[3] * q[3]).sqrt()
    else:
        norm = (2.0 * w).sqrt()  # |(1 + u.v, u x v)|^2 = 2 (1 + u.v) for unit u, v
    bw, bx, by, bz = bone = tuple(qk / norm for qk in q)  # (..., T, 21) global rotation of each bone

    half = 0.5 * yaw[..., None]  # (..., T, 1): the root's rotation about Y
    root = (torch.cos(half), torch.zeros_like(half), torch.sin(half), torch.zeros_like(half))
    aw, ax, ay, az = (
        torch.cat((r, b), dim=-1).index_select(-1, c["ik_parents"]) for r, b in zip(root, bone, strict=True)
    )  # (..., T, 21) each: the IK parent's global rotation
    # local = conj(parent) * child (Hamilton product)
    w = aw * bw + ax * bx + ay * by + az * bz
    x = aw * bx - ax * bw - ay * bz + az * by
    y = aw * by + ax * bz - ay * bw - az * bx
    z = aw * bz - ax * by + ay * bx - az * bw
    return (
        1 - 2 * (y * y + z * z), 2 * (x * y + w * z), 2 * (x * z - w * y),  # first column
        2 * (x * y - w * z), 1 - 2 * (x * x + z * z), 2 * (y * z + w * x),  # second column
    )  # fmt: skip


def _features_to_joints(f: torch.Tensor) -> torch.Tensor:
    """(..., T, 263) -> (..., T, 22, 3), component by component into one preallocated output."""
    yaw = 2.0 * torch.cumsum(f[..., :-1, 0], dim=-1)  # (..., T-1) root yaw of frames 1..T-1
    c, s = torch.cos(yaw), torch.sin(yaw)  # turning back to the world is a rotation by -yaw
    vx, vz = f[..., :-1, 1], f[..., :-1, 2]  # (..., T-1) root velocity in the facing frame
    root_x = F.pad(torch.cumsum(c * vx - s * vz, dim=-1), (1, 0))  # (..., T), 0 at frame 0
    root_z = F.pad(torch.cumsum(c * vz + s * vx, dim=-1), (1, 0))
    c = F.pad(c, (1, 0), value=1.0)[..., None]  # (..., T, 1)
    s = F.pad(s, (1, 0))[..., None]
    ric = f[..., RIC].unflatten(-1, (N_JOINTS - 1, 3))  # (..., T, 21, 3)
    rx, rz = ric[..., 0], ric[..., 2]  # (..., T, 21)
    out = f.new_empty((*f.shape[:-1], N_JOINTS, 3))  # (..., T, 22, 3)
    out[..., 0, 0] = root_x
    out[..., 0, 1] = f[..., 3]
    out[..., 0, 2] = root_z
    out[..., 1:, 0] = c * rx - s * rz + root_x[..., None]
    out[..., 1:, 1] = ric[..., 1]
    out[..., 1:, 2] = c * rz + s * rx + root_z[..., None]
    return out


def joints_to_features(joints: np.ndarray | torch.Tensor) -> np.ndarray | torch.Tensor:
    """Joint positions (..., T, 22, 3) in metres, Y up -> HumanML3D features (..., T-1, 263).

    numpy in: float32 numpy out (computed in float64). torch in: torch out, same dtype/device,
    differentiable except for the foot-contact flags.
    """
    check_joints(joints, "joints", min_frames=2)
    x, from_numpy = _as_tensor(joints)
    with torch.set_grad_enabled(torch.is_grad_enabled() and x.requires_grad):
        out = _joints_to_features(x)
    return out.numpy().astype(np.float32) if from_numpy else out


def features_to_joints(features: np.ndarray | torch.Tensor) -> np.ndarray | torch.Tensor:
    """HumanML3D features (..., T, 263) -> joint positions (..., T, 22, 3), as ``recover_from_ric``.

    The root yaw is the running sum of the yaw velocity (zero at frame 0), the root XZ the running sum
    of the velocities turned back to the world, and joints come from the ric block.
    """
    check_features(features, "features", min_frames=1)
    x, from_numpy = _as_tensor(features)
    with torch.set_grad_enabled(torch.is_grad_enabled() and x.requires_grad):
        out = _features_to_joints(x)
    return out.numpy().astype(np.float32) if from_numpy else out
