"""The README's main job, run the way a user runs it: the console script with the bundled model."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest

from conftest import EXAMPLE_BVH, MOTIONGPT_CLI, needs_bundled_model
from motiongpt.motion.bvh import bvh_to_joints

pytestmark = [
    pytest.mark.slow,
    needs_bundled_model,
]


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    env.pop("MOTIONGPT_MODEL", None)
    return subprocess.run(
        [*MOTIONGPT_CLI, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )


def test_generate_writes_npy_bvh_and_video_with_the_bundled_model(tmp_path):
    done = _run("generate", "a person walks forward", "--seconds", "3", "--seed", "0", "--out", "out/walk",
                cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    joints = np.load(tmp_path / "out" / "walk.npy")
    assert joints.shape == (60, 22, 3) and np.isfinite(joints).all()
    head_above_feet = joints[:, 15, 1] - joints[:, [10, 11], 1].min(axis=1)
    assert (head_above_feet > 1.0).all(), "the body should stand upright (Y up, metres)"
    # Generated bone lengths vary a little and a BVH's are fixed: within 1 cm mean, as write_bvh promises.
    from_bvh = bvh_to_joints(tmp_path / "out" / "walk.bvh")
    assert np.linalg.norm(from_bvh - joints, axis=-1).mean() < 0.01
    video = iio.imread(tmp_path / "out" / "walk.mp4")
    assert video.shape[0] == 60 and video.shape[-1] == 3
    assert np.abs(video[0].astype(int) - video[-1].astype(int)).mean() > 0.5, "the video should show motion"


def test_caption_of_the_shipped_example_is_a_sentence(tmp_path):
    done = _run("caption", str(EXAMPLE_BVH), cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    words = done.stdout.strip().split()
    assert len(words) >= 3 and not any(w.startswith("<motion_id") for w in words)


def test_empty_prompt_is_one_line_error(tmp_path):
    done = _run("generate", "   ", "--out", "x", cwd=tmp_path)
    assert done.returncode == 2
    assert (
        done.stderr.strip() == "error: the prompt is empty: describe a motion, e.g. 'a person walks forward'"
    )


def test_continue_and_inbetween_a_users_bvh(tmp_path):
    given = bvh_to_joints(EXAMPLE_BVH)  # (57, 22, 3): 56 feature frames = 14 tokens
    done = _run("continue", str(EXAMPLE_BVH), "--seconds", "1", "--seed", "0", "--out", "cont", "--no-video",
                cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert not (tmp_path / "cont.mp4").exists()
    continued = np.load(tmp_path / "cont.npy")
    assert continued.shape == (4 * (14 + 5), 22, 3)  # the given motion as tokens, then 1 s = 5 tokens
    # The given part comes back through the tokenizer, close to the original (root-relative).
    rel = lambda j: j - j[:, :1]  # noqa: E731
    assert np.linalg.norm(rel(continued[:56]) - rel(given[:56]), axis=-1).mean() < 0.1

    done = _run("inbetween", str(EXAMPLE_BVH), "cont.npy", "--seconds", "2", "--seed", "0", "--out", "mid",
                cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    middle = np.load(tmp_path / "mid.npy")
    assert middle.shape == (4 * (14 + 10 + 18), 22, 3)  # start, 2 s = 10 tokens, end (75 frames = 18 tokens)
    assert np.isfinite(middle).all() and (tmp_path / "mid.bvh").is_file() and (tmp_path / "mid.mp4").is_file()

    done = _run("continue", "nowhere.bvh", cwd=tmp_path)
    assert done.returncode == 2 and "nowhere.bvh" in done.stderr and "Traceback" not in done.stderr
