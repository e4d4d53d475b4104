"""Real clips from both rigs in ../shared/data: retarget sanity and the joints → BVH → joints round trip."""

from __future__ import annotations

import math
import tarfile
from pathlib import Path

import numpy as np
import pytest

from conftest import EXAMPLE_BVH, shared_data
from motiongpt.motion.bvh import bvh_to_joints, read_bvh, write_bvh
from motiongpt.motion.bvh.retarget import detect_rig

pytestmark = pytest.mark.slow

BANDAI = "dataset/Bandai-Namco-Research-Motiondataset-1/data/dataset-1_"
BANDAI_TAR = "bandai-namco/bandai-namco-motion.tar.xz"
CLIPS = {  # name: (archive under shared/data, member, rig, is a walk)
    "bandai_walk": (BANDAI_TAR, BANDAI + "walk_normal_001.bvh", "bandai", True),
    "bandai_bow": (BANDAI_TAR, BANDAI + "bow_active_001.bvh", "bandai", False),
    "cmu_walk": ("cmu-mocap/cmu-mocap.tar.xz", "cmu-mocap/All_BVH/subjects/002/002_01.bvh", "cc", True),
    "cmu_dance": ("cmu-mocap/cmu-mocap.tar.xz", "cmu-mocap/All_BVH/subjects/005/005_19.bvh", "cc", False),
}  # fmt: skip


def extract(archive: Path, members: set[str], out: Path) -> dict[str, Path]:
    """Stream ``archive`` once, unpacking only ``members`` into ``out``; stop when all are found."""
    found: dict[str, Path] = {}
    with tarfile.open(archive, "r|xz") as tf:
        for member in tf:
            if member.name in members:
                tf.extract(member, out, filter="data")
                found[member.name] = out / member.name
                if len(found) == len(members):
                    break
    assert len(found) == len(members), f"missing in {archive}: {members - set(found)}"
    return found


@pytest.fixture(scope="module")
def clip_paths(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("real_bvh")
    paths = {}
    for archive in sorted({a for a, *_ in CLIPS.values()}):
        wanted = {m for a, m, *_ in CLIPS.values() if a == archive}
        paths.update(extract(shared_data(*archive.split("/")), wanted, out))
    return {name: paths[member] for name, (_, member, *_) in CLIPS.items()}


@pytest.fixture(scope="module")
def retargeted(clip_paths: dict[str, Path]) -> dict[str, np.ndarray]:
    return {name: bvh_to_joints(path) for name, path in clip_paths.items()}


@pytest.mark.parametrize("name", sorted(CLIPS))
def test_retarget_sanity(name: str, clip_paths: dict[str, Path], retargeted: dict[str, np.ndarray]) -> None:
    clip = read_bvh(clip_paths[name])
    joints = retargeted[name]
    assert detect_rig(clip) == CLIPS[name][2]
    assert joints.dtype == np.float32 and joints.shape[1:] == (22, 3) and np.isfinite(joints).all()
    assert joints.shape[0] == math.floor((clip.n_frames - 1) * clip.frame_time * 20 + 1e-6) + 1  # 20 fps
    head_above_feet = joints[:, 15, 1] - joints[:, [7, 8, 10, 11], 1].min(axis=1)  # Y is up
    stature = head_above_feet.max() / 0.88  # the SMPL head joint sits at about 88% of body height
    assert 1.4 < stature < 2.0, stature
    assert np.median(head_above_feet) > 1.0
    bones = np.linalg.norm(joints[:, 4] - joints[:, 7], axis=-1)  # shin, metres
    assert 0.3 < bones.mean() < 0.6

    forward = (joints[:, [10, 11]] - joints[:, [7, 8]]).mean(axis=1) * [1, 0, 1]  # (T, 3) toes ahead
    forward /= np.linalg.norm(forward, axis=-1, keepdims=True)
    left = np.cross([0, 1, 0], forward)
    hips = np.einsum("ti,ti->t", joints[:, 1] - joints[:, 2], left)
    assert (hips > 0).mean() > 0.9 and np.median(hips) > 0.1, "l_hip must be on the body's left"
    if CLIPS[name][3]:
        step = joints[-1, 0] - joints[0, 0]
        assert step @ forward.mean(axis=0) / np.linalg.norm(step) > 0.8  # walks the way the feet point


@pytest.mark.parametrize("name", sorted(CLIPS))
def test_round_trip_through_bvh(name: str, tmp_path: Path, retargeted: dict[str, np.ndarray]) -> None:
    joints = retargeted[name]
    write_bvh(tmp_path / "rt.bvh", joints)
    back = bvh_to_joints(tmp_path / "rt.bvh")
    err = np.linalg.norm(back - joints, axis=-1)
    print(f"{name}: {joints.shape[0]} frames, round-trip error mean {err.mean() * 1e3:.3f} mm, "
          f"max {err.max() * 1e3:.3f} mm")  # fmt: skip
    assert back.shape == joints.shape
    assert err.mean() < 0.01  # metres
    assert err.max() < 0.05


def test_shipped_example_is_the_retargeted_cmu_walk(retargeted: dict[str, np.ndarray]) -> None:
    joints = retargeted["cmu_walk"].copy()
    joints[..., 1] -= joints[:, [7, 8, 10, 11], 1].min()
    joints[..., [0, 2]] -= joints[0, 0, [0, 2]]
    shipped = bvh_to_joints(EXAMPLE_BVH)
    assert shipped.shape == joints.shape
    assert np.linalg.norm(shipped - joints, axis=-1).mean() < 1e-3
    assert EXAMPLE_BVH.stat().st_size < 200_000
    assert "NSF EIA-0196217" in (EXAMPLE_BVH.parent / "ACKNOWLEDGEMENT.txt").read_text()
