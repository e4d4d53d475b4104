"""Time joints->features and features->joints on the HumanML3D sample clip tiled to many clips.

Run: ``.venv/bin/python benchmarks/features.py [--clips 1000] [--repeat 3] [--threads 1]``.
Prints one JSON object with clips/s and frames/s (best of the repeats) for the batched torch path
(float32, one call for all clips), the batched numpy path (float64 inside, one call) and the per-clip
numpy path (one call per clip).
Needs ../shared/data/humanml3d-sample beside the project. On a loaded machine ``--threads 1`` avoids
thread-pool stalls that dominate the small per-clip calls.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from motiongpt.motion import features_to_joints, joints_to_features

SAMPLE = Path(__file__).resolve().parents[2] / "shared" / "data" / "humanml3d-sample"


def best_seconds(fn: Callable[[], object], repeat: int) -> float:
    """Minimum wall time of ``repeat`` calls."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def rates(seconds: float, n_clips: int, n_frames: int) -> dict[str, float]:
    return {
        "seconds": round(seconds, 4),
        "clips_per_s": round(n_clips / seconds, 1),
        "frames_per_s": round(n_clips * n_frames / seconds, 1),
    }


def time_paths(
    fn: Callable, batch_t: torch.Tensor, batch_np: np.ndarray, args: argparse.Namespace
) -> dict[str, dict[str, float]]:
    """Rates of ``fn`` on the torch batch, the numpy batch, and numpy clip by clip."""
    n_clips, n_frames = batch_np.shape[:2]
    per_clip = batch_np[: args.per_clip]
    return {
        "torch_batched_f32": rates(best_seconds(lambda: fn(batch_t), args.repeat), n_clips, n_frames),
        "numpy_batched_f64": rates(best_seconds(lambda: fn(batch_np), args.repeat), n_clips, n_frames),
        "numpy_per_clip": rates(
            best_seconds(lambda: [fn(clip) for clip in per_clip], args.repeat), len(per_clip), n_frames
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=1000)
    parser.add_argument("--per-clip", type=int, default=100, help="clips timed one call at a time")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    args = parser.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)

    joints = np.load(SAMPLE / "new_joints" / "012314.npy")  # (T, 22, 3)
    feats = np.load(SAMPLE / "new_joint_vecs" / "012314.npy")  # (T, 263)
    n_frames = joints.shape[0]
    joints_np = np.broadcast_to(joints, (args.clips, *joints.shape)).copy()  # (B, T, 22, 3)
    feats_np = np.broadcast_to(feats, (args.clips, *feats.shape)).copy()  # (B, T, 263)
    joints_t, feats_t = torch.from_numpy(joints_np), torch.from_numpy(feats_np)

    result = {
        "clips": args.clips,
        "frames_per_clip": n_frames,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "cpu": platform.processor() or platform.machine(),
        "joints_to_features": time_paths(joints_to_features, joints_t, joints_np, args),
        "features_to_joints": time_paths(features_to_joints, feats_t, feats_np, args),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
