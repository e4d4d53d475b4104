"""Skeleton video rendering: files decode to the right frames, motion is visible, sides are not mirrored."""

from __future__ import annotations

from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest

from motiongpt.errors import InvalidMotionError
from motiongpt.render import render_frames, render_video
from motiongpt.render import skeleton_video as sv

# Approximate SMPL rest joints (metres, Y up, facing +Z, +X is the body's left).
REST = np.array([
    [0, .93, 0], [.06, .84, 0], [-.06, .84, 0], [0, 1.04, 0], [.1, .47, 0], [-.1, .47, 0], [0, 1.17, 0],
    [.1, .07, -.03], [-.1, .07, -.03], [0, 1.23, 0], [.12, .02, .1], [-.12, .02, .1], [0, 1.45, 0],
    [.08, 1.37, 0], [-.08, 1.37, 0], [0, 1.6, .03], [.18, 1.39, 0], [-.18, 1.39, 0], [.2, 1.12, 0],
    [-.2, 1.12, 0], [.21, .88, .02], [-.21, .88, .02],
])  # fmt: skip
LEFT_LEG, RIGHT_LEG = [4, 7, 10], [5, 8, 11]
LEFT_ARM, RIGHT_ARM = [18, 20], [19, 21]


def _swing(pose: np.ndarray, pivot: int, idx: list[int], angle: float) -> None:
    """Rotate joints ``idx`` of ``pose`` (22, 3) in place about the X axis through joint ``pivot``."""
    c, s = np.cos(angle), np.sin(angle)
    rel = pose[idx] - pose[pivot]
    pose[idx, 1] = pose[pivot, 1] + c * rel[:, 1] - s * rel[:, 2]
    pose[idx, 2] = pose[pivot, 2] + s * rel[:, 1] + c * rel[:, 2]


def synthetic_walk(n_frames: int = 40, fps: int = 20, speed: float = 1.2) -> np.ndarray:
    """A walk along +Z: legs and arms swing in opposition, the feet stay on the floor. (T, 22, 3)."""
    out = np.empty((n_frames, 22, 3))
    for t in range(n_frames):
        phase = 2 * np.pi * t / fps  # one stride a second
        pose = REST.copy()
        _swing(pose, 1, LEFT_LEG, 0.45 * np.sin(phase))
        _swing(pose, 2, RIGHT_LEG, -0.45 * np.sin(phase))
        _swing(pose, 16, LEFT_ARM, -0.35 * np.sin(phase))
        _swing(pose, 17, RIGHT_ARM, 0.35 * np.sin(phase))
        pose[:, 2] += speed * t / fps
        pose[:, 1] -= pose[:, 1].min()
        out[t] = pose
    return out


def _color_mask(frames: np.ndarray, hex_color: str, tol: int = 60) -> np.ndarray:
    rgb = np.array([int(hex_color[i : i + 2], 16) for i in (1, 3, 5)])
    return np.abs(frames.astype(int) - rgb).sum(-1) < tol  # (..., H, W)


def test_render_frames_shape_and_motion() -> None:
    joints = synthetic_walk(40)
    frames = render_frames(joints, title="a person walks forward")
    assert frames.shape == (40, 320, 320, 3) and frames.dtype == np.uint8
    diffs = np.abs(np.diff(frames.astype(np.int16), axis=0)).sum(axis=(1, 2, 3))
    assert (diffs > 0).all(), "every frame should differ from the one before"
    # Columns through the legs change as they swing: pixels of the leg colours move.
    legs = _color_mask(frames, sv._CHAIN_COLORS[0]) | _color_mask(frames, sv._CHAIN_COLORS[1])
    cols = np.flatnonzero(legs.any(axis=(0, 1)))
    assert len(cols) > 5
    band = legs[:, :, cols.min() : cols.max() + 1]
    assert (band[0] != band[5]).sum() > 50


def test_left_is_drawn_on_the_left() -> None:
    """Seen from the front (the body faces the camera), the body's left is on the viewer's right."""
    frame = render_frames(REST[None])[0]
    left = np.flatnonzero(_color_mask(frame, sv._CHAIN_COLORS[1]).any(axis=0)).mean()
    right = np.flatnonzero(_color_mask(frame, sv._CHAIN_COLORS[0]).any(axis=0)).mean()
    assert left > right + 5


@pytest.mark.parametrize("suffix", [".mp4", ".gif"])
def test_render_video_decodes(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / "out" / f"walk{suffix}"
    assert render_video(synthetic_walk(40), path, title="walk") == path
    frames = iio.imread(path, index=None)  # (T, H, W, C)
    assert frames.shape[0] == 40 and frames.shape[1:3] == (320, 320)
    first, mid = frames[0, ..., :3].astype(int), frames[20, ..., :3].astype(int)
    assert np.abs(first - mid).sum(-1).max() > 100  # motion is visible after encoding
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left


@pytest.mark.parametrize(
    "joints",
    [np.zeros((0, 22, 3)), np.zeros((10, 21, 3)), np.zeros((22, 3)), np.full((5, 22, 3), np.nan)],
    ids=["empty", "21-joints", "2d", "nan"],
)
def test_bad_joints_raise(joints: np.ndarray, tmp_path: Path) -> None:
    with pytest.raises(InvalidMotionError, match=r"shape|NaN"):
        render_frames(joints)
    with pytest.raises(InvalidMotionError):
        render_video(joints, tmp_path / "x.mp4")
    assert not (tmp_path / "x.mp4").exists()


def test_bad_options_raise(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="path must end in"):
        render_video(REST[None], tmp_path / "x.avi")
    with pytest.raises(ValueError, match="size"):
        render_frames(REST[None], size=100)
    with pytest.raises(ValueError, match="fps"):
        render_video(REST[None], tmp_path / "x.gif", fps=0)


@pytest.mark.parametrize("suffix", [".mp4", ".gif"])
def test_failure_midway_leaves_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, suffix: str) -> None:
    real_frame = sv._Scene.frame

    def failing_frame(self: sv._Scene, t: int) -> np.ndarray:
        if t == 5:
            raise RuntimeError("boom")
        return real_frame(self, t)

    monkeypatch.setattr(sv._Scene, "frame", failing_frame)
    path = tmp_path / f"walk{suffix}"
    with pytest.raises(RuntimeError, match="boom"):
        render_video(synthetic_walk(10), path)
    assert list(tmp_path.iterdir()) == []
    # An existing file is left as it was.
    path.write_bytes(b"old")
    with pytest.raises(RuntimeError, match="boom"):
        render_video(synthetic_walk(10), path)
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def test_cli_render(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from motiongpt.cli import app

    src = tmp_path / "walk.npy"
    np.save(src, synthetic_walk(12).astype(np.float32))
    runner = CliRunner()
    result = runner.invoke(app, ["render", str(src), str(tmp_path / "walk.gif"), "--title", "a walk"])
    assert result.exit_code == 0, result.output
    assert iio.imread(tmp_path / "walk.gif", index=None).shape[:3] == (12, 320, 320)
    np.save(src, np.zeros((12, 21, 3), dtype=np.float32))
    result = runner.invoke(app, ["render", str(src), str(tmp_path / "bad.mp4")])
    assert result.exit_code == 2 and "(T, 22, 3)" in result.output and not (tmp_path / "bad.mp4").exists()
    result = runner.invoke(app, ["render", str(src), str(tmp_path / "bad.avi")])
    assert result.exit_code == 2 and not (tmp_path / "bad.avi").exists()
