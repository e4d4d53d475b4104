"""HumanML3D features: agreement with the shipped sample, round trips, invariances, batching, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from conftest import shared_data
from motiongpt.errors import InvalidMotionError
from motiongpt.motion import check_features, check_joints, features_to_joints, joints_to_features
from motiongpt.motion.rotations import cont6d_to_matrix, quat_to_cont6d, rotate_y
from motiongpt.motion.skeleton import (
    FEATURE_DIM,
    FOOT_CONTACT,
    LOCAL_VEL,
    PARENTS,
    RAW_OFFSETS,
    RIC,
    ROOT_HEIGHT,
    ROOT_LIN_VEL,
    ROOT_ROT_VEL,
    ROT6D,
    TARGET_BONE_LENGTHS,
)

CLIP = "012314.npy"
# HumanML3D smooths the facing over +-80 frames of the original clip, which had one frame more than
# new_joints; frames this far from the end do not see the missing frame and must match closely.
_SMOOTH_REACH = 81


def _synthetic_joints(
    n_frames: int = 40, seed: int = 0, bone_scale: float = 1.1, turn_rate: float = 0.0
) -> np.ndarray:
    """A smooth, turning, walking stick figure (T, 22, 3) on a skeleton unlike the target one."""
    rng = np.random.default_rng(seed)
    t = np.arange(n_frames)[:, None, None] / 20.0  # (T, 1, 1)
    wobble = 0.3 * np.sin(2 * np.pi * rng.uniform(0.3, 1.5, (1, 21, 3)) * t + rng.uniform(0, 6, (1, 21, 3)))
    dirs = RAW_OFFSETS[1:] + wobble  # (T, 21, 3)
    dirs /= np.linalg.norm(dirs, axis=-1, keepdims=True)
    heading = 0.3 + 1.5 * np.sin(0.8 * t[:, :, 0]) + turn_rate * t[:, :, 0]  # (T, 1) radians
    dirs = rotate_y(torch.from_numpy(dirs), torch.from_numpy(heading)).numpy()
    bones = dirs * TARGET_BONE_LENGTHS[1:, None] * bone_scale
    joints = np.zeros((n_frames, 22, 3))
    time = t[:, 0, 0]  # (T,)
    joints[:, 0] = np.stack((0.4 * time + 0.2, 0.95 + 0.03 * np.sin(6 * time), 0.7 * time), axis=-1)
    for j in range(1, 22):
        joints[:, j] = joints[:, PARENTS[j]] + bones[:, j - 1]
    return joints


@pytest.fixture(scope="module")
def sample() -> tuple[np.ndarray, np.ndarray]:
    root = shared_data("humanml3d-sample")
    return np.load(root / "new_joints" / CLIP), np.load(root / "new_joint_vecs" / CLIP)


def test_recover_sample_joints(sample):
    joints, feats = sample
    rec = features_to_joints(feats)
    assert rec.dtype == np.float32 and rec.shape == joints.shape
    assert np.abs(rec - joints).max() < 1e-4


def test_round_trip_sample(sample):
    joints, _ = sample
    rec = features_to_joints(joints_to_features(joints))  # (T-1, 22, 3)
    err = np.linalg.norm(rec - joints[:-1], axis=-1)
    assert err.mean() < 1e-3 and err.max() < 5e-3


@pytest.mark.parametrize(
    ("block", "tol_near", "tol_all"),
    [
        (ROOT_ROT_VEL, 1e-4, 1e-3),
        (ROOT_LIN_VEL, 1e-4, 1e-3),
        (ROOT_HEIGHT, 1e-5, 1e-5),
        (RIC, 1e-4, 2e-2),
        (ROT6D, 1e-4, 5e-2),
        (LOCAL_VEL, 1e-4, 2e-3),
        (FOOT_CONTACT, 0.0, 0.0),
    ],
)
def test_features_match_humanml3d(sample, block, tol_near, tol_all):
    joints, feats = sample
    ours = joints_to_features(joints)  # (T-1, 263)
    diff = np.abs(ours[:, block] - feats[: len(ours), block])
    near = len(ours) - _SMOOTH_REACH
    assert diff[:near].max() <= tol_near
    assert diff.max() <= tol_all


def test_round_trip_is_canonical():
    joints = _synthetic_joints()
    rec = features_to_joints(joints_to_features(joints)).astype(np.float64)  # (T-1, 22, 3)
    lengths = np.linalg.norm(rec[:, 1:] - rec[:, list(PARENTS[1:])], axis=-1)
    np.testing.assert_allclose(lengths, np.broadcast_to(TARGET_BONE_LENGTHS[1:], lengths.shape), atol=1e-5)
    np.testing.assert_allclose(rec[0, 0, [0, 2]], 0.0, atol=1e-6)
    across = (rec[0, 2] - rec[0, 1]) + (rec[0, 17] - rec[0, 16])
    assert abs(across[2]) < 1e-5 and across[0] < 0  # right side is -X, so the body faces +Z
    assert rec[..., 1].min() >= -1e-6  # on the floor (the clip's last frame has no features)


def test_round_trip_through_full_turns():
    joints = _synthetic_joints(n_frames=160, bone_scale=1.0, turn_rate=1.5)  # ~2 turns: crosses branch cuts
    feats = joints_to_features(joints)  # (T-1, 263)
    assert np.abs(feats[:, ROOT_ROT_VEL]).max() < 1.0  # yaw steps wrapped, no 2*pi jumps
    rec = features_to_joints(feats)  # (T-1, 22, 3)
    across = (joints[0, 2] - joints[0, 1]) + (joints[0, 17] - joints[0, 16])
    heading = np.arctan2(across[2], -across[0])  # facing = Y x across
    origin = np.array([joints[0, 0, 0], joints[..., 1].min(), joints[0, 0, 2]])
    expected = rotate_y(torch.from_numpy(joints - origin), torch.tensor(-heading)).numpy()
    np.testing.assert_allclose(rec, expected[:-1], atol=1e-5)


@pytest.mark.parametrize("yaw", [0.7, -2.9, np.pi])
def test_features_invariant_to_ground_plane_motion_and_scale(yaw):
    joints = _synthetic_joints()
    moved = rotate_y(torch.from_numpy(joints), torch.tensor(yaw)).numpy() + np.array([3.0, 0.25, -1.5])
    np.testing.assert_allclose(joints_to_features(moved), joints_to_features(joints), atol=1e-5)
    np.testing.assert_allclose(joints_to_features(1.3 * joints), joints_to_features(joints), atol=1e-5)


def test_torch_batched_matches_numpy():
    clips = np.stack([_synthetic_joints(seed=s) for s in range(3)])  # (3, T, 22, 3)
    feats = joints_to_features(torch.from_numpy(clips).float())
    assert feats.dtype == torch.float32 and feats.shape == (3, clips.shape[1] - 1, FEATURE_DIM)
    for clip, batched in zip(clips, feats, strict=True):
        np.testing.assert_allclose(batched.numpy(), joints_to_features(clip), atol=1e-4)
    rec = features_to_joints(feats.double().reshape(3, 1, -1, FEATURE_DIM))
    assert rec.dtype == torch.float64 and rec.shape == (3, 1, clips.shape[1] - 1, 22, 3)
    np.testing.assert_allclose(rec[1, 0].numpy(), features_to_joints(feats[1].numpy()), atol=1e-5)


def test_gradients_are_exact():
    feats = torch.from_numpy(joints_to_features(_synthetic_joints(n_frames=5))).double().requires_grad_()
    assert torch.autograd.gradcheck(features_to_joints, (feats,), fast_mode=True)
    joints = torch.from_numpy(_synthetic_joints(n_frames=4)).requires_grad_()
    smooth = lambda j: joints_to_features(j)[..., : FOOT_CONTACT.start]  # noqa: E731 (contacts are flags)
    assert torch.autograd.gradcheck(smooth, (joints,), fast_mode=True)


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        (np.zeros((10, 21, 3)), r"joints must have shape \(\.\.\., T, 22, 3\), got \(10, 21, 3\)"),
        (np.zeros((22, 3)), r"got \(22, 3\)"),
        (np.zeros((1, 22, 3)), r"at least 2 frames.*\(1, 22, 3\)"),
        (np.full((5, 22, 3), np.nan), "NaN or inf"),
        (torch.zeros(5, 22, 3, dtype=torch.int64), "floating-point"),
        ([[0.0] * 3] * 22, "numpy array or torch tensor"),
    ],
)
def test_bad_joints_raise(bad, match):
    with pytest.raises(InvalidMotionError, match=match):
        joints_to_features(bad)


def test_bad_features_raise():
    expected = r"features must have shape \(\.\.\., T, 263\), got \(4, 251\)"
    with pytest.raises(InvalidMotionError, match=expected):
        features_to_joints(np.zeros((4, 251)))
    with pytest.raises(InvalidMotionError, match="at least 1 frames"):
        features_to_joints(torch.zeros(2, 0, FEATURE_DIM))
    feats = torch.zeros(3, FEATURE_DIM)
    feats[1, 7] = float("inf")
    with pytest.raises(InvalidMotionError, match="my_feats contains NaN or inf"):
        check_features(feats, "my_feats")
    check_joints(np.zeros((2, 22, 3), dtype=np.int32))  # integers are valid positions


def test_finite_check_is_exact_when_the_sum_overflows():
    big = torch.full((4, FEATURE_DIM), 3e38)  # every value finite, their float32 sum is inf
    with pytest.raises(InvalidMotionError, match=r"values up to 3e\+38"):  # finite, only far too large
        check_features(big)
    big[2, 5] = float("-inf")
    with pytest.raises(InvalidMotionError, match="NaN or inf"):
        check_features(big)
    with pytest.raises(InvalidMotionError, match="NaN or inf"):
        check_joints(torch.full((3, 22, 3), float("nan")))


def test_6d_rotations_round_trip_through_matrices():
    q = torch.nn.functional.normalize(torch.randn(64, 4, generator=torch.Generator().manual_seed(0)), dim=-1)
    six = quat_to_cont6d(q)  # (64, 6)
    m = cont6d_to_matrix(six)  # (64, 3, 3)
    assert torch.allclose(m.transpose(-1, -2) @ m, torch.eye(3).expand(64, 3, 3), atol=1e-5)
    assert torch.allclose(torch.linalg.det(m), torch.ones(64), atol=1e-5)
    assert torch.allclose(torch.cat((m[..., 0], m[..., 1]), -1), six, atol=1e-5)  # the first two columns
    assert torch.allclose(cont6d_to_matrix(3.0 * six), m, atol=1e-5)  # any scale: the same rotation
