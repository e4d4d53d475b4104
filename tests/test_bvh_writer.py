"""Writing SMPL-22 joints as BVH, and the suffix-dispatching load_joints/save_joints."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from conftest import EXAMPLE_BVH
from motiongpt.errors import BVHError, InvalidMotionError
from motiongpt.motion.bvh import bvh_to_joints, read_bvh, write_bvh
from motiongpt.motion.bvh.writer import solve_rotations
from motiongpt.motion.io import load_joints, save_joints
from motiongpt.motion.skeleton import JOINT_NAMES, PARENTS


@pytest.fixture(scope="module")
def joints() -> np.ndarray:
    return bvh_to_joints(EXAMPLE_BVH)


def _mean_error(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b, axis=-1).mean())


def test_written_file_is_standard_and_reproduces_positions(tmp_path: Path, joints: np.ndarray) -> None:
    path = tmp_path / "out.bvh"
    write_bvh(path, joints)
    text = path.read_text()
    assert (
        text.startswith("HIERARCHY\nROOT pelvis\n")
        and "\nMOTION\nFrames: 57\nFrame Time: 0.05000000\n" in text
    )
    clip = read_bvh(path)
    assert [n for n in clip.names if not n.endswith("_end")] == sorted(JOINT_NAMES, key=clip.names.index)
    assert set(clip.names) >= set(JOINT_NAMES)
    assert [len(c) for c, n in zip(clip.channels, clip.names) if not n.endswith("_end")] == [6] + [3] * 21
    assert clip.channels[1] == ("Zrotation", "Xrotation", "Yrotation")
    fk = clip.global_positions()[:, [clip.names.index(n) for n in JOINT_NAMES]]
    assert _mean_error(fk, joints) < 1e-3
    for j, p in enumerate(PARENTS[1:], start=1):  # the hierarchy is the SMPL one
        assert clip.parents[clip.names.index(JOINT_NAMES[j])] == clip.names.index(JOINT_NAMES[p])


def test_random_rigid_motion_and_fps(tmp_path: Path, joints: np.ndarray) -> None:
    """A turned, shifted copy at another frame rate still round-trips (rotations are solved, not copied)."""
    from scipy.spatial.transform import Rotation

    turn = Rotation.from_euler("y", 137, degrees=True).as_matrix()
    moved = joints @ turn.T + np.array([3.0, 0.2, -5.0])
    write_bvh(tmp_path / "moved.bvh", moved, fps=20)
    assert _mean_error(bvh_to_joints(tmp_path / "moved.bvh"), moved) < 1e-3
    write_bvh(tmp_path / "slow.bvh", moved, fps=10)  # 10 fps in, resampled to 20 on reading
    back = bvh_to_joints(tmp_path / "slow.bvh")
    assert back.shape[0] == 2 * joints.shape[0] - 1
    assert _mean_error(back[::2], moved) < 1e-3


def test_spinning_body_gives_continuous_angle_curves(tmp_path: Path, joints: np.ndarray) -> None:
    """Two full turns about Y: every channel changes smoothly (no ±180° jumps) and positions still match."""
    from scipy.spatial.transform import Rotation

    pose = joints[0]
    yaw = np.linspace(0.0, 720.0, 90)
    spin = np.stack([pose @ Rotation.from_euler("y", a, degrees=True).as_matrix().T for a in yaw])
    write_bvh(tmp_path / "spin.bvh", spin)
    clip = read_bvh(tmp_path / "spin.bvh")
    angles = clip.motion[:, 3:]  # (T, 66) rotation channels, degrees
    assert np.abs(np.diff(angles, axis=0)).max() < 45.0
    assert np.ptp(angles, axis=0).max() > 360.0  # the root's curve really turns twice
    assert _mean_error(bvh_to_joints(tmp_path / "spin.bvh"), spin) < 1e-3


def test_degenerate_poses_do_not_break_the_solver(joints: np.ndarray) -> None:
    """Zero-length and exactly reversed bones give finite rotations."""
    odd = joints[:3].astype(np.float64).copy()
    odd[0, 4] = odd[0, 1]  # zero-length thigh
    odd[1, 7] = odd[1, 4] + (odd[1, 4] - odd[1, 1])  # shin folded straight back up
    from motiongpt.motion.bvh.writer import rest_offsets

    rot = solve_rotations(odd, rest_offsets(odd))
    assert np.isfinite(rot).all()
    np.testing.assert_allclose(np.linalg.det(rot), 1.0, atol=1e-6)


@pytest.mark.parametrize(
    "bad", [np.zeros((0, 22, 3)), np.zeros((5, 21, 3)), np.full((5, 22, 3), np.nan), np.zeros((22, 3))]
)
def test_bad_joints_are_rejected(tmp_path: Path, bad: np.ndarray) -> None:
    with pytest.raises(InvalidMotionError, match="joints"):
        write_bvh(tmp_path / "bad.bvh", bad)
    assert not (tmp_path / "bad.bvh").exists()


def test_load_and_save_joints_by_suffix(tmp_path: Path, joints: np.ndarray) -> None:
    save_joints(tmp_path / "a.npy", joints)
    np.testing.assert_array_equal(load_joints(tmp_path / "a.npy"), joints)
    save_joints(tmp_path / "a.bvh", joints)
    assert _mean_error(load_joints(tmp_path / "a.bvh"), joints) < 1e-3
    assert load_joints(tmp_path / "a.bvh", rig="smpl").dtype == np.float32
    for name in ("a.txt", "a"):
        with pytest.raises(InvalidMotionError, match="unknown suffix"):
            save_joints(tmp_path / name, joints)
        with pytest.raises(InvalidMotionError, match="unknown suffix"):
            load_joints(tmp_path / name)
    np.save(tmp_path / "wrong.npy", np.zeros((4, 263), dtype=np.float32))
    with pytest.raises(InvalidMotionError, match=r"shape \(T, 22, 3\)"):
        load_joints(tmp_path / "wrong.npy")
    (tmp_path / "junk.npy").write_bytes(b"not numpy")
    with pytest.raises(InvalidMotionError, match="junk.npy"):
        load_joints(tmp_path / "junk.npy")
    (tmp_path / "junk.bvh").write_text("HIERARCHY\nROOT a\n{\n")
    with pytest.raises(BVHError, match="junk.bvh"):
        load_joints(tmp_path / "junk.bvh")
    with pytest.raises(FileNotFoundError):
        load_joints(tmp_path / "absent.npy")


BLENDER_SCRIPT = r"""
import builtins, json, sys
_open = builtins.open
builtins.open = lambda f, mode="r", *a, **k: _open(f, mode.replace("U", ""), *a, **k)
import bpy
src, dst = sys.argv[sys.argv.index("--") + 1:][:2]
bpy.ops.wm.read_factory_settings(use_empty=True)
bpy.ops.import_anim.bvh(filepath=src, global_scale=1.0, use_fps_scale=False, rotate_mode="NATIVE",
                        axis_forward="-Z", axis_up="Y")
arm = next(o for o in bpy.context.scene.objects if o.type == "ARMATURE")
start, end = (int(round(f)) for f in arm.animation_data.action.frame_range)
frames = []
for f in range(start, end + 1):
    bpy.context.scene.frame_set(f)
    frames.append([list(arm.matrix_world @ b.head) for b in arm.pose.bones])
with _open(dst, "w") as fh:
    json.dump({"names": [b.name for b in arm.pose.bones], "frames": frames}, fh)
"""


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("blender") is None, reason="blender is not installed")
def test_blender_imports_written_file(tmp_path: Path, joints: np.ndarray) -> None:
    """Blender's own BVH importer, an independent forward kinematics, sees the same positions."""
    write_bvh(tmp_path / "walk.bvh", joints)
    (tmp_path / "fk.py").write_text(BLENDER_SCRIPT)
    subprocess.run(
        ["blender", "-b", "--factory-startup", "--python", str(tmp_path / "fk.py"), "--",
         str(tmp_path / "walk.bvh"), str(tmp_path / "fk.json")],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    data = json.loads((tmp_path / "fk.json").read_text())
    heads = np.array(data["frames"])[:, [data["names"].index(n) for n in JOINT_NAMES]]  # Blender: Z up
    heads = heads[..., [0, 2, 1]] * [1, 1, -1]  # (x, y, z) Blender -> (x, z, -y) Y up
    assert heads.shape == joints.shape
    assert _mean_error(heads, joints) < 1e-3
