"""``motiongpt convert`` end to end, through the installed console script in a subprocess."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from conftest import EXAMPLE_BVH, MOTIONGPT_CLI, shared_data
from motiongpt.motion.bvh import bvh_to_joints
from motiongpt.motion.features import features_to_joints, joints_to_features
from motiongpt.motion.io import load_joints


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*MOTIONGPT_CLI, "convert", *map(str, args)], capture_output=True, text=True, timeout=300
    )


def assert_user_error(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_bvh_to_npy_to_bvh(tmp_path: Path) -> None:
    result = run(EXAMPLE_BVH, tmp_path / "walk.npy", "--rig", "smpl", "--up", "Y")
    assert result.returncode == 0, result.stderr
    joints = np.load(tmp_path / "walk.npy")
    assert joints.shape == (57, 22, 3) and joints.dtype == np.float32
    np.testing.assert_allclose(joints, bvh_to_joints(EXAMPLE_BVH))

    result = run(tmp_path / "walk.npy", tmp_path / "again.bvh")
    assert result.returncode == 0, result.stderr
    back = bvh_to_joints(tmp_path / "again.bvh")
    assert np.linalg.norm(back - joints, axis=-1).mean() < 0.01


def test_features_output_and_input(tmp_path: Path) -> None:
    result = run(EXAMPLE_BVH, tmp_path / "walk.features.npy")
    assert result.returncode == 0, result.stderr
    feats = np.load(tmp_path / "walk.features.npy")
    assert feats.shape == (56, 263) and feats.dtype == np.float32
    # the values are the features of the file's joints, as the library computes them
    np.testing.assert_allclose(feats, joints_to_features(load_joints(EXAMPLE_BVH)), rtol=0, atol=1e-6)
    result = run(tmp_path / "walk.features.npy", tmp_path / "from_features.bvh")
    assert result.returncode == 0, result.stderr
    back = bvh_to_joints(tmp_path / "from_features.bvh")
    assert back.shape == (56, 22, 3)
    assert np.linalg.norm(back - features_to_joints(feats), axis=-1).mean() < 0.01  # the features' pose
    result = run(EXAMPLE_BVH, tmp_path / "plain.npy", "--features")
    assert result.returncode == 0, result.stderr
    np.testing.assert_array_equal(np.load(tmp_path / "plain.npy"), feats)


def test_corrupt_and_wrong_input_print_one_line_and_exit_2(tmp_path: Path) -> None:
    text = EXAMPLE_BVH.read_text().splitlines()
    k = next(i for i, line in enumerate(text) if i > 30 and "OFFSET" in line)
    text[k] = text[k].replace("OFFSET", "OFFSET oops")
    (tmp_path / "corrupt.bvh").write_text("\n".join(text))
    assert_user_error(run(tmp_path / "corrupt.bvh", tmp_path / "x.npy"), "corrupt.bvh", f"line {k + 1}")
    assert not (tmp_path / "x.npy").exists()
    assert_user_error(run(EXAMPLE_BVH, tmp_path / "x.txt"), "unknown suffix")
    assert_user_error(run(EXAMPLE_BVH, tmp_path / "x.npy", "--rig", "maya"), "known rigs")
    assert_user_error(run(tmp_path / "absent.bvh", tmp_path / "x.npy"), "absent.bvh")


@pytest.mark.slow
def test_real_bandai_clip(tmp_path: Path) -> None:
    from test_bvh_real import extract

    member = "dataset/Bandai-Namco-Research-Motiondataset-1/data/dataset-1_walk_normal_001.bvh"
    archive = shared_data("bandai-namco", "bandai-namco-motion.tar.xz")
    src = extract(archive, {member}, tmp_path)[member]
    result = run(src, tmp_path / "walk.npy", "--rig", "bandai", "--up", "Y")
    assert result.returncode == 0, result.stderr
    assert np.load(tmp_path / "walk.npy").shape == (130, 22, 3)
