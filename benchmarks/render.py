"""Time skeleton-video rendering: 196 frames (the longest HumanML3D clip at 20 fps) to MP4 and GIF, 320x320.

Run: ``.venv/bin/python benchmarks/render.py [--repeat 3]``. Prints one JSON object: per format the
minimum and median seconds over the repeats and the file size, plus frames-only time (no encoding).
The motion is a procedural walk along +Z, so no data files are needed.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from motiongpt.render import render_frames, render_video

REST = np.array([
    [0, .93, 0], [.06, .84, 0], [-.06, .84, 0], [0, 1.04, 0], [.1, .47, 0], [-.1, .47, 0], [0, 1.17, 0],
    [.1, .07, -.03], [-.1, .07, -.03], [0, 1.23, 0], [.12, .02, .1], [-.12, .02, .1], [0, 1.45, 0],
    [.08, 1.37, 0], [-.08, 1.37, 0], [0, 1.6, .03], [.18, 1.39, 0], [-.18, 1.39, 0], [.2, 1.12, 0],
    [-.2, 1.12, 0], [.21, .88, .02], [-.21, .88, .02],
])  # fmt: skip  # approximate SMPL rest joints, metres, Y up, facing +Z


def walk(n_frames: int, fps: int = 20) -> np.ndarray:
    """A walk along +Z with legs and arms swinging about X: (T, 22, 3)."""
    out = np.repeat(REST[None], n_frames, axis=0)
    phase = 2 * np.pi * np.arange(n_frames) / fps
    for pivot, idx, amp in (
        (1, [4, 7, 10], 0.45), (2, [5, 8, 11], -0.45), (16, [18, 20], -0.35), (17, [19, 21], 0.35)
    ):  # fmt: skip
        a = amp * np.sin(phase)[:, None]  # (T, 1)
        rel = out[:, idx] - out[:, pivot : pivot + 1]  # (T, n, 3)
        y = out[:, pivot : pivot + 1, 1] + np.cos(a) * rel[..., 1] - np.sin(a) * rel[..., 2]
        z = out[:, pivot : pivot + 1, 2] + np.sin(a) * rel[..., 1] + np.cos(a) * rel[..., 2]
        out[:, idx, 1], out[:, idx, 2] = y, z
    out[:, :, 2] += 1.2 * np.arange(n_frames)[:, None] / fps
    out[:, :, 1] -= out[:, :, 1].min(axis=1, keepdims=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=196)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    joints = walk(args.frames)
    title = "a person walks forward at a steady pace, swinging both arms"
    result: dict[str, object] = {"frames": args.frames, "size": 320, "python": platform.python_version()}

    times = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        render_frames(joints, title=title)
        times.append(time.perf_counter() - t0)
    result["frames_only_s"] = {"min": round(min(times), 3), "median": round(statistics.median(times), 3)}

    with tempfile.TemporaryDirectory() as tmp:
        for suffix in ("mp4", "gif"):
            path = Path(tmp) / f"walk.{suffix}"
            times = []
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                render_video(joints, path, title=title)
                times.append(time.perf_counter() - t0)
            result[suffix] = {
                "min_s": round(min(times), 3),
                "median_s": round(statistics.median(times), 3),
                "bytes": path.stat().st_size,
            }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
