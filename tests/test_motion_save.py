"""``motion.Motion``: one writer for every surface (``save``), and holding a motion without the LM."""

from __future__ import annotations

import subprocess
import sys

import numpy as np

from motiongpt.motion.motion import Motion, MotionFiles


def _walk(frames: int = 12) -> Motion:
    rng = np.random.default_rng(0)
    pose = rng.normal(scale=0.05, size=(1, 22, 3)).astype(np.float32)
    joints = np.zeros((frames, 22, 3), np.float32) + pose
    joints[:, :, 1] += 1.0  # standing
    joints[:, :, 2] += np.linspace(0, 1, frames, dtype=np.float32)[:, None]  # walking forward
    return Motion.from_joints(joints)


def test_save_writes_npy_bvh_and_a_video_through_the_given_writer(tmp_path):
    motion, calls = _walk(), []

    def writer(joints, path, title=None):
        calls.append((joints.shape, path, title))
        path.write_bytes(b"video")
        return path

    files = motion.save(tmp_path / "out" / "walk", video=writer, title="a walk")
    assert isinstance(files, MotionFiles)
    assert files.npy == tmp_path / "out" / "walk.npy" and files.bvh == tmp_path / "out" / "walk.bvh"
    assert files.video == tmp_path / "out" / "walk.mp4" and files.paths == [files.npy, files.bvh, files.video]
    assert calls == [((12, 22, 3), tmp_path / "out" / "walk.mp4", "a walk")]
    np.testing.assert_array_equal(np.load(files.npy), motion.joints)
    bvh = files.bvh.read_text()
    assert bvh.startswith("HIERARCHY") and "Frames: 12" in bvh and "Frame Time: 0.05" in bvh  # 20 fps
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["walk.bvh", "walk.mp4", "walk.npy"]


def test_save_without_a_video_and_a_dotted_prefix(tmp_path):
    files = _walk().save(tmp_path / "walk.v2")
    assert files.video is None and files.paths == [tmp_path / "walk.v2.npy", tmp_path / "walk.v2.bvh"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["walk.v2.bvh", "walk.v2.npy"]


def test_holding_a_motion_does_not_load_the_language_model():
    code = (
        "import sys, numpy as np\n"
        "from motiongpt import Motion\n"
        "m = Motion.from_joints(np.zeros((5, 22, 3), np.float32))\n"
        "assert m.n_frames == 5 and m.seconds == 0.25\n"
        "loaded = ('transformers', 'motiongpt.lm.pipeline', 'motiongpt.lm')\n"
        "print(sorted(k for k in sys.modules if k in loaded))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
