"""The 22-joint SMPL skeleton and the HumanML3D feature layout: the constants every stage shares.

Conventions: metres, Y up, the body faces +Z after canonicalisation, +X is the body's left, 20 fps.
"""

from __future__ import annotations

import numpy as np

FPS = 20  # frames per second of every motion in motiongpt (HumanML3D's rate); defined only here
MAX_FRAMES = 196  # HumanML3D's longest clip: the longest motion the models are trained to write
MAX_SECONDS = MAX_FRAMES / FPS  # 9.8 s: the length cap of every surface (CLI, web UI, timeline segments)
N_JOINTS = 22
FEATURE_DIM = 263  # 4 + 21*3 + 21*6 + 22*3 + 4

JOINT_NAMES: tuple[str, ...] = (
    "pelvis", "l_hip", "r_hip", "spine1", "l_knee", "r_knee", "spine2", "l_ankle", "r_ankle", "spine3",
    "l_foot", "r_foot", "neck", "l_collar", "r_collar", "head", "l_shoulder", "r_shoulder", "l_elbow",
    "r_elbow", "l_wrist", "r_wrist",
)  # fmt: skip

PARENTS: tuple[int, ...] = (-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19)

# Chains from the root (or spine3) to an end effector: right leg, left leg, spine+head, right arm, left arm.
KINEMATIC_CHAIN: tuple[tuple[int, ...], ...] = (
    (0, 2, 5, 8, 11),
    (0, 1, 4, 7, 10),
    (0, 3, 6, 9, 12, 15),
    (9, 14, 17, 19, 21),
    (9, 13, 16, 18, 20),
)

# Unit rest directions of each bone in the HumanML3D convention (joint i relative to its parent).
RAW_OFFSETS = np.array(
    [
        [0, 0, 0], [1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, -1, 0], [0, 1, 0], [0, -1, 0],
        [0, -1, 0], [0, 1, 0], [0, 0, 1], [0, 0, 1], [0, 1, 0], [1, 0, 0], [-1, 0, 0], [0, 0, 1],
        [0, -1, 0], [0, -1, 0], [0, -1, 0], [0, -1, 0], [0, -1, 0], [0, -1, 0],
    ],
    dtype=np.float64,
)  # fmt: skip

FOOT_LEFT = (7, 10)  # l_ankle, l_foot
FOOT_RIGHT = (8, 11)  # r_ankle, r_foot
FACE_JOINTS = (2, 1, 17, 16)  # r_hip, l_hip, r_shoulder, l_shoulder: define the facing direction

# Slices of the 263-dim feature vector, in order.
ROOT_ROT_VEL = slice(0, 1)  # angular velocity about Y
ROOT_LIN_VEL = slice(1, 3)  # linear velocity on the XZ plane, in the root's facing frame
ROOT_HEIGHT = slice(3, 4)  # pelvis height (Y)
RIC = slice(4, 4 + 21 * 3)  # root-relative positions of joints 1..21, in the facing frame
ROT6D = slice(67, 67 + 21 * 6)  # 6D local rotations of joints 1..21
LOCAL_VEL = slice(193, 193 + 22 * 3)  # per-joint velocities in the facing frame
FOOT_CONTACT = slice(259, 263)  # l_ankle, l_foot, r_ankle, r_foot contact flags

# Bone lengths in metres of HumanML3D's uniform target skeleton, indexed by child joint (root: 0). HumanML3D
# measures them on frame 0 of its clip 000021, which is not shipped; every processed clip is retargeted to
# this skeleton, so they were measured on humanml3d-sample/new_joints/012314.npy as the median over its 170
# frames of |joint - parent| (constant across frames to 2e-6 m). Bone i points along RAW_OFFSETS[i] at rest.
TARGET_BONE_LENGTHS = np.array(
    [
        0.0, 0.103074, 0.109883, 0.131568, 0.393623, 0.390188, 0.143190, 0.432433, 0.425643, 0.057365,
        0.143382, 0.149419, 0.219360, 0.137487, 0.143383, 0.103039, 0.131614, 0.122984, 0.256840, 0.263092,
        0.266012, 0.269876,
    ],
    dtype=np.float64,
)  # fmt: skip
LEG_JOINTS = (5, 8)  # r_knee, r_ankle: their bone lengths sum to the leg length that scales the root path

# Left/right mirror: joint i of the mirrored body is joint MIRROR_JOINTS[i] of the original, x negated.
MIRROR_JOINTS: tuple[int, ...] = tuple(
    JOINT_NAMES.index({"l": "r", "r": "l"}[n[0]] + n[1:]) if n[:2] in ("l_", "r_") else i
    for i, n in enumerate(JOINT_NAMES)
)


def mirror_joints(joints: np.ndarray) -> np.ndarray:
    """The left/right mirror image of joint positions ``(..., 22, 3)`` (x negated, sides swapped)."""
    out = np.asarray(joints)[..., MIRROR_JOINTS, :].copy()
    out[..., 0] *= -1
    return out


#: (hip, knee, ankle) and (shoulder, elbow, wrist) of the left and right side: the joints whose inner
#: angle is a knee or elbow bend.
KNEES_ELBOWS: tuple[tuple[int, int, int], ...] = ((1, 4, 7), (2, 5, 8), (16, 18, 20), (17, 19, 21))


def knee_elbow_angles(joints: np.ndarray) -> np.ndarray:
    """``(T, 22, 3)`` joint positions -> ``(T, 4)`` inner angles in degrees of the left and right knee,
    then the left and right elbow (180 = straight)."""
    out = []
    for a, b, c in KNEES_ELBOWS:
        u, v = joints[:, a] - joints[:, b], joints[:, c] - joints[:, b]
        cos = (u * v).sum(-1) / np.linalg.norm(u, axis=-1) / np.linalg.norm(v, axis=-1)
        out.append(np.degrees(np.arccos(np.clip(cos, -1, 1))))
    return np.stack(out, axis=1)
