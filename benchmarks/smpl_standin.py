"""A stand-in for SMPL's model file, for the SMPL-fitting benchmark and its tests (SMPL's own files may not
be shipped). One copy, imported by ``benchmarks/smpl_fit.py`` beside it and by ``tests/test_smpl_fit.py``.

The file has SMPL's format and joint tree (the arrays ``smplx.SMPL`` reads: ``v_template``, ``shapedirs``,
``posedirs``, ``J_regressor``, ``weights``, ``kintree_table``, ``f``), on a much smaller mesh: one vertex at
each of the 24 joints (the joint regressor picks it) and a ring of four vertices around the middle of each
bone, skinned to the bone's parent joint. The rest pose is a T-pose with HumanML3D's bone lengths or given
ones (a motion's own, so that it can be fitted exactly); ``leg_scale`` / ``arm_scale`` stretch the legs and
arms. Shape directions: 0 grows the whole body, 1 the legs, 2 the
arms, the others small random ones; pose blend shapes are small and random (they move vertices only).
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

from motiongpt.motion.skeleton import PARENTS, TARGET_BONE_LENGTHS

SMPL_PARENTS = (*PARENTS, 20, 21)  # the 22 and the two hands
N_BETAS = 10
LEGS = (1, 2, 4, 5, 7, 8, 10, 11)  # child joints of the leg bones
ARMS = (16, 17, 18, 19, 20, 21, 22, 23)  # child joints of the arm bones (from the shoulders out)


def _directions() -> np.ndarray:
    """Unit rest direction of each joint from its parent, T-pose, SMPL's axes (Y up, +Z front, +X left)."""
    d = np.zeros((24, 3))
    d[[1, 13]] = (1, 0, 0)
    d[[2, 14]] = (-1, 0, 0)
    d[[3, 6, 9, 12, 15]] = (0, 1, 0)
    d[[4, 5, 7, 8]] = (0, -1, 0)
    d[[10, 11]] = (0, -0.45, 0.9)
    d[[16, 18, 20, 22]] = (1, 0, 0)
    d[[17, 19, 21, 23]] = (-1, 0, 0)
    return d / np.maximum(np.linalg.norm(d, axis=1, keepdims=True), 1e-9)


def rest_joints(
    leg_scale: float = 1.0, arm_scale: float = 1.0, bones: np.ndarray | None = None
) -> np.ndarray:
    """The stand-in's rest joints (24, 3), pelvis at the origin; ``bones`` (22,): bone lengths by child
    joint (default HumanML3D's)."""
    lengths = np.concatenate([TARGET_BONE_LENGTHS if bones is None else bones, [0.08, 0.08]])
    lengths[list(LEGS)] *= leg_scale
    lengths[list(ARMS)] *= arm_scale
    offsets = _directions() * lengths[:, None]
    joints = np.zeros((24, 3))
    for j in range(1, 24):
        joints[j] = joints[SMPL_PARENTS[j]] + offsets[j]
    return joints


def _stretched(joints: np.ndarray, children: tuple[int, ...], scale: float) -> np.ndarray:
    """``joints`` (24, 3) with the bones ending at ``children`` ``scale`` times as long."""
    offsets = joints - joints[[0, *SMPL_PARENTS[1:]]]
    offsets[list(children)] *= scale
    out = np.zeros_like(joints)
    for j in range(1, 24):
        out[j] = out[SMPL_PARENTS[j]] + offsets[j]
    return out + joints[0]


def standin_arrays(leg_scale: float = 1.0, arm_scale: float = 1.0, seed: int = 0,
                   bones: np.ndarray | None = None, rest: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """The model's arrays, as SMPL's file holds them (float64, ``f`` uint32, ``kintree_table`` int64).
    ``rest`` (22, 3): a pose of a motion to be the rest pose (so that the motion can be fitted exactly)."""
    rng = np.random.default_rng(seed)
    joints = rest_joints(leg_scale, arm_scale, bones)
    if rest is not None:
        hands = rest[[20, 21]] + 0.08 * (rest[[20, 21]] - rest[[18, 19]]) / np.linalg.norm(
            rest[[20, 21]] - rest[[18, 19]], axis=-1, keepdims=True)  # fmt: skip
        joints = np.concatenate([rest, hands]) - rest[0]
    verts, weights, faces = [*joints], [np.eye(24)[j] for j in range(24)], []
    for c in range(1, 24):
        p = SMPL_PARENTS[c]
        axis = joints[c] - joints[p]
        axis /= np.linalg.norm(axis)
        side = np.cross(axis, (0, 0, 1) if abs(axis[2]) < 0.9 else (1, 0, 0))
        side /= np.linalg.norm(side)
        up = np.cross(axis, side)
        ring = len(verts)
        for k in range(4):
            a = k * np.pi / 2
            verts.append((joints[p] + joints[c]) / 2 + 0.04 * (np.cos(a) * side + np.sin(a) * up))
            weights.append(np.eye(24)[p])
        for k in range(4):
            faces += [(p, ring + k, ring + (k + 1) % 4), (c, ring + (k + 1) % 4, ring + k)]
    v_template = np.array(verts)
    n_verts = len(v_template)
    shapedirs = rng.normal(0, 0.002, (n_verts, 3, N_BETAS))
    shapedirs[:, :, 0] = 0.05 * v_template  # beta 0 = 1: 5 % taller and wider
    for b in (1, 2):  # beta 1 / 2 = 1: legs / arms 5 % longer
        grown = _stretched(joints, LEGS if b == 1 else ARMS, 1.05) - joints
        shapedirs[:24, :, b] = grown
        shapedirs[24:, :, b] = grown[[SMPL_PARENTS[c] for c in range(1, 24) for _ in range(4)]]
        shapedirs[24:, :, b] += (grown[[c for c in range(1, 24) for _ in range(4)]]
                                 - grown[[SMPL_PARENTS[c] for c in range(1, 24) for _ in range(4)]]) / 2
    return {
        "v_template": v_template,
        "shapedirs": shapedirs,
        "posedirs": rng.normal(0, 0.001, (n_verts, 3, 23 * 9)),
        "J_regressor": np.eye(24, n_verts),
        "weights": np.array(weights),
        "kintree_table": np.array([[2**32 - 1, *SMPL_PARENTS[1:]], list(range(24))], dtype=np.int64),
        "f": np.array(faces, dtype=np.uint32),
    }


def write_standin_smpl(folder: Path, fmt: str = "pkl", name: str = "SMPL_NEUTRAL", **kwargs: object) -> Path:
    """Write the stand-in as ``folder/name.pkl`` (pickle protocol 2, as SMPL's files are) or ``.npz``."""
    folder.mkdir(parents=True, exist_ok=True)
    arrays = standin_arrays(**kwargs)
    path = folder / f"{name}.{fmt}"
    if fmt == "npz":
        np.savez(path, **arrays)
    else:
        path.write_bytes(pickle.dumps(arrays, protocol=2))
    return path


def pose_with_smplx(path: Path, global_orient: np.ndarray, body_pose: np.ndarray, transl: np.ndarray,
                    betas: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Joints (T, 22, 3) and vertices (T, V, 3) of the model file posed by smplx itself (its own loader
    and forward pass): the ground truth a fit is compared with. Parameters are axis-angle, per frame."""
    import smplx
    import torch

    ids = {k: 0 for k in ("nose", "reye", "leye", "rear", "lear")}  # smplx's extra face points: any vertex
    model = smplx.SMPL(model_path=str(path), vertex_ids=ids, use_hands=False, use_feet_keypoints=False)
    n = len(transl)
    b = np.zeros((n, model.num_betas)) if betas is None else np.tile(betas, (n, 1))
    with torch.no_grad():
        out = model(global_orient=torch.tensor(global_orient, dtype=torch.float32),
                    body_pose=torch.tensor(body_pose, dtype=torch.float32),
                    transl=torch.tensor(transl, dtype=torch.float32),
                    betas=torch.tensor(b, dtype=torch.float32))  # fmt: skip
    return out.joints[:, :22].numpy(), out.vertices.numpy()


def random_motion(n_frames: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Smooth known parameters: ``global_orient (T, 3)`` turning a full circle about Y while leaning,
    ``body_pose (T, 69)`` (every joint swinging up to 0.5 rad), ``transl (T, 3)`` walking a curve."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0, 1, n_frames)[:, None]
    yaw = 2 * np.pi * t[:, 0] + 0.3
    lean = 0.2 * np.sin(2 * np.pi * t[:, 0])
    from scipy.spatial.transform import Rotation

    root = Rotation.from_euler("YX", np.stack([yaw, lean], axis=1)).as_rotvec()
    freq, phase = rng.uniform(0.5, 2, (1, 69)), rng.uniform(0, 2 * np.pi, (1, 69))
    body = rng.uniform(0.1, 0.5, (1, 69)) * np.sin(2 * np.pi * freq * t + phase)
    transl = np.concatenate([np.sin(3 * t), 0.9 + 0.05 * np.sin(9 * t), 2 * t], axis=1)
    return root, body, transl
