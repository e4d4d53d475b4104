"""Retargeting to SMPL-22: rig presets, up axis, units, frame rate, left/right — on the shipped example."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import numpy as np
import pytest

from conftest import EXAMPLE_BVH
from motiongpt.errors import BVHError
from motiongpt.motion.bvh import bvh_to_joints, read_bvh, write_bvh
from motiongpt.motion.bvh.retarget import RIGS, detect_rig, resample
from motiongpt.motion.skeleton import JOINT_NAMES


@pytest.fixture(scope="module")
def joints() -> np.ndarray:
    return bvh_to_joints(EXAMPLE_BVH)


def _rename(text: str, names: dict[str, str]) -> str:
    return re.sub(
        r"^(\s*(?:ROOT|JOINT)\s+)(\S+)\s*$", lambda m: m[1] + names.get(m[2], m[2]), text, flags=re.M
    )


def _preset_names(rig: str) -> dict[str, str]:
    return {smpl: names[0] for smpl, names in RIGS[rig].items()}


def test_example_is_smpl_named_metres_y_up_20fps(joints: np.ndarray) -> None:
    clip = read_bvh(EXAMPLE_BVH)
    assert detect_rig(clip) == "smpl"
    assert clip.fps == pytest.approx(20)
    assert joints.dtype == np.float32 and joints.shape == (clip.n_frames, 22, 3)
    np.testing.assert_allclose(joints, clip.global_positions()[:, [clip.names.index(n) for n in JOINT_NAMES]],
                               atol=1e-5)  # fmt: skip
    assert (joints[:, 15, 1] - joints[:, 7, 1] > 1.2).all()  # head above the ankles along +Y


def test_left_is_left(joints: np.ndarray) -> None:
    """The body's left, from its facing (toes ahead of ankles) and Y up, is where l_hip is."""
    forward = (joints[:, [10, 11]] - joints[:, [7, 8]]).mean(axis=(0, 1)) * [1, 0, 1]
    forward /= np.linalg.norm(forward)
    left = np.cross([0, 1, 0], forward)
    walk = joints[-1, 0] - joints[0, 0]
    assert walk @ forward > 1.0  # it walks the way its feet point
    assert ((joints[:, 1] - joints[:, 2]) @ left > 0.1).all()
    assert ((joints[:, 16] - joints[:, 17]) @ left > 0.2).all()


@pytest.mark.parametrize(("axis", "angle", "up"), [("X", 90, "Z"), ("X", -90, "-Z"), ("Z", 90, "-X"),
                                                   ("Z", -90, "X"), ("X", 180, "-Y")])  # fmt: skip
def test_up_axis_is_detected(tmp_path: Path, joints: np.ndarray, axis: str, angle: int, up: str) -> None:
    """The same clip under a rotated world root reads back the same, and ``up=`` forces the axis."""
    head, motion = EXAMPLE_BVH.read_text().split("MOTION\n")
    world = f"HIERARCHY\nROOT world\n{{\nOFFSET 0 0 0\nCHANNELS 1 {axis}rotation\nJOINT pelvis"
    head = head.replace("HIERARCHY\nROOT pelvis", world) + "}\n"
    lines = motion.splitlines()
    rows = [f"{angle} {row}" for row in lines[2:]]
    path = tmp_path / f"up_{up}.bvh"
    path.write_text(head + "MOTION\n" + "\n".join(lines[:2] + rows) + "\n")
    np.testing.assert_allclose(bvh_to_joints(path), joints, atol=1e-5)
    np.testing.assert_allclose(bvh_to_joints(path, up=up), joints, atol=1e-5)
    if up != "-Y":
        assert not np.allclose(bvh_to_joints(path, up="Y"), joints, atol=1e-2)


def test_units_are_detected_or_given(joints: np.ndarray) -> None:
    clip = read_bvh(EXAMPLE_BVH)
    pos_cols = [
        k for k, n in enumerate(c for chans in clip.channels for c in chans) if n.endswith("position")
    ]
    for factor in (100.0, 1000.0):
        motion = clip.motion.copy()
        motion[:, pos_cols] *= factor
        scaled = dataclasses.replace(clip, offsets=clip.offsets * factor, motion=motion)
        np.testing.assert_allclose(bvh_to_joints(scaled), joints, atol=1e-5)
        np.testing.assert_allclose(bvh_to_joints(scaled, scale=1 / factor), joints, atol=1e-5)
    with pytest.raises(BVHError, match="scale"):
        bvh_to_joints(clip, scale=-1.0)
    with pytest.raises(BVHError, match="up must be one of"):
        bvh_to_joints(clip, up="W")


def test_frame_rate_is_resampled_to_20(tmp_path: Path, joints: np.ndarray) -> None:
    fast = resample(joints.astype(np.float64), 20, 60)  # (3T-2, 22, 3)
    assert fast.shape[0] == 3 * (joints.shape[0] - 1) + 1
    write_bvh(tmp_path / "fast.bvh", fast, fps=60)
    back = bvh_to_joints(tmp_path / "fast.bvh")
    assert back.shape == joints.shape
    assert np.linalg.norm(back - joints, axis=-1).mean() < 1e-3
    # 30 fps, 31 frames = 1 s -> 21 frames at 20 fps
    assert resample(np.zeros((31, 2)), 30).shape == (21, 2)
    assert resample(np.zeros((1, 2)), 30).shape == (1, 2)


@pytest.mark.parametrize("rig", ["smpl", "mixamo", "cc", "bandai"])
def test_presets_are_detected_from_names(tmp_path: Path, joints: np.ndarray, rig: str) -> None:
    names = {smpl: name for smpl, name in _preset_names(rig).items()}
    if rig == "mixamo":
        names = {k: "mixamorig:" + v.title().replace("upleg", "UpLeg") for k, v in names.items()}
    elif rig == "cc":
        names = {k: v.upper().replace("CC_BASE_", "CC_Base_") for k, v in names.items()}
    path = tmp_path / f"{rig}.bvh"
    path.write_text(_rename(EXAMPLE_BVH.read_text(), names))
    assert detect_rig(read_bvh(path)) == rig
    out = bvh_to_joints(path)
    if rig == "bandai":  # no spine2: it is interpolated between spine1 and spine3
        s1, s2, s3 = out[:, 3], out[:, 6], out[:, 9]
        w = (0.42 - 0.20) / (0.51 - 0.20)
        np.testing.assert_allclose(s2, (1 - w) * s1 + w * s3, atol=1e-5)
        out[:, 6] = joints[:, 6]
    np.testing.assert_allclose(out, joints, atol=1e-5)


def test_missing_optional_joints_are_interpolated(tmp_path: Path, joints: np.ndarray) -> None:
    renamed = {n: f"x_{n}" for n in ("spine1", "spine2", "neck", "l_collar", "r_collar", "l_foot", "r_foot")}
    path = tmp_path / "sparse.bvh"
    path.write_text(_rename(EXAMPLE_BVH.read_text(), renamed))
    out = bvh_to_joints(path, rig="smpl")
    keep = [i for i, n in enumerate(JOINT_NAMES) if n not in renamed or n.endswith("_foot")]
    np.testing.assert_allclose(out[:, keep], joints[:, keep], atol=1e-5)  # feet: the ankle's child joint
    between = out[:, 3] - out[:, 0], out[:, 9] - out[:, 0]
    assert (np.einsum("ti,ti->t", *between) > 0).all()  # spine1 on the way from the pelvis to spine3
    collar = out[:, 13]
    np.testing.assert_allclose(collar, (out[:, 9] + out[:, 12] + out[:, 16]) / 3, atol=1e-6)


def test_unknown_rig_names_file_and_missing_joints(tmp_path: Path) -> None:
    path = tmp_path / "odd.bvh"
    path.write_text(_rename(EXAMPLE_BVH.read_text(), {n: f"bone{i}" for i, n in enumerate(JOINT_NAMES)}))
    with pytest.raises(BVHError, match=rf"{re.escape(str(path))}: unknown rig.*lacks pelvis, l_hip"):
        bvh_to_joints(path)
    with pytest.raises(BVHError, match="known rigs: bandai, cc, smpl, mixamo"):
        bvh_to_joints(path, rig="maya")
    with pytest.raises(BVHError, match="lacks joints for .*l_wrist"):
        bvh_to_joints(path, joint_map={"pelvis": "bone0"})
    with pytest.raises(BVHError, match="no such joint"):
        bvh_to_joints(path, joint_map={"pelvis": "nope"})
    full = {n: f"bone{i}" for i, n in enumerate(JOINT_NAMES)}
    np.testing.assert_allclose(bvh_to_joints(path, joint_map=full), bvh_to_joints(EXAMPLE_BVH), atol=1e-6)
