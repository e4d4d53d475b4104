"""Time joints->features and features->joints against HumanML3D's reference pipeline, in one run.

Run: ``nice -n 19 .venv/bin/python benchmarks/features.py [--batch-sizes 1 256] [--repeat 5] [--threads 1]``.
Prints one JSON object. Every figure is clips per second of this process's CPU time and, beside it, per
wall-clock second (best of ``--repeat`` rounds; each round times every path once, so all paths see the
same machine load) on the 170-frame HumanML3D sample clip 012314 tiled:

- ``joints_to_features``: the reference (``humanml3d_reference.process_clip``, one clip per call, as
  HumanML3D makes its features) against motiongpt's ``joints_to_features`` on a torch float32 batch of
  each ``--batch-sizes`` (batch 1 = one call per clip), a numpy float64 batch and numpy clip by clip;
- ``features_to_joints``: the reference's vectorised ``recover_from_ric`` against ours, both on torch
  float32 batches of each size.

``speedup_vs_reference`` divides each of our CPU-time rates by the reference's measured in the same run;
these ratios, not the absolute rates, are what to compare across machines. They use CPU time because on a
machine shared with other jobs a niced process gets a varying share of the cores, which wall time
measures instead of the code; with ``--threads 1`` the CPU time is the work done. ``load_avg`` is the
1-minute load before and after. Needs ../shared/data/humanml3d-sample beside the project. On a loaded machine
``--threads 1`` avoids thread-pool stalls that dominate the small calls.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from humanml3d_reference import process_clip, recover_from_ric

from motiongpt.motion import features_to_joints, joints_to_features

SAMPLE = Path(__file__).resolve().parents[2] / "shared" / "data" / "humanml3d-sample"
CLIP = "012314.npy"


def time_rounds(
    paths: dict[str, tuple[Callable[[], object], int]], repeat: int
) -> tuple[dict[str, float], dict[str, float]]:
    """Best clips per CPU second and per wall second of each path over ``repeat`` rounds.

    A path is (function, clips it processes). CPU time is this process's (all threads).
    """
    cpu, wall = dict.fromkeys(paths, 0.0), dict.fromkeys(paths, 0.0)
    for _ in range(repeat):
        for name, (fn, n_clips) in paths.items():
            start, start_cpu = time.perf_counter(), time.process_time()
            fn()
            cpu[name] = max(cpu[name], n_clips / max(time.process_time() - start_cpu, 1e-9))
            wall[name] = max(wall[name], n_clips / (time.perf_counter() - start))
    return {k: round(v, 1) for k, v in cpu.items()}, {k: round(v, 1) for k, v in wall.items()}


def speedups(rates: dict[str, float], reference: str) -> dict[str, float]:
    return {name: round(rate / rates[reference], 2) for name, rate in rates.items() if name != reference}


def one_clip_calls(fn: Callable, clips: list) -> Callable[[], object]:
    return lambda: [fn(clip) for clip in clips]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 256])
    parser.add_argument(
        "--ref-clips", type=int, default=16, help="clips the per-clip reference runs per round"
    )
    parser.add_argument("--per-clip", type=int, default=32, help="clips timed one call at a time (batch 1)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    args = parser.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    load_before = os.getloadavg()[0]

    joints = np.load(SAMPLE / "new_joints" / CLIP)  # (T, 22, 3)
    feats = np.load(SAMPLE / "new_joint_vecs" / CLIP)  # (T, 263)
    n_frames = joints.shape[0]
    check = np.abs(process_clip(joints) - joints_to_features(joints)).max()  # same features, else no baseline

    j2f: dict[str, tuple[Callable[[], object], int]] = {
        "reference_per_clip": (one_clip_calls(process_clip, [joints] * args.ref_clips), args.ref_clips),
    }
    f2j: dict[str, tuple[Callable[[], object], int]] = {}
    for b in args.batch_sizes:
        if b == 1:
            j_clips = [torch.from_numpy(joints).float()] * args.per_clip
            f_clips = [torch.from_numpy(feats).float()] * args.per_clip
            j2f["torch_f32_batch_1"] = (one_clip_calls(joints_to_features, j_clips), args.per_clip)
            f2j["reference_batch_1"] = (one_clip_calls(recover_from_ric, f_clips), args.per_clip)
            f2j["torch_f32_batch_1"] = (one_clip_calls(features_to_joints, f_clips), args.per_clip)
            j2f["numpy_f64_batch_1"] = (
                one_clip_calls(joints_to_features, [joints] * args.per_clip),
                args.per_clip,
            )
            continue
        j_np = np.broadcast_to(joints, (b, *joints.shape)).copy()  # (B, T, 22, 3)
        j_t, f_t = (
            torch.from_numpy(j_np).float(),
            torch.from_numpy(np.broadcast_to(feats, (b, *feats.shape)).copy()).float(),
        )
        j2f[f"torch_f32_batch_{b}"] = (lambda x=j_t: joints_to_features(x), b)
        j2f[f"numpy_f64_batch_{b}"] = (lambda x=j_np: joints_to_features(x), b)
        f2j[f"reference_batch_{b}"] = (lambda x=f_t: recover_from_ric(x), b)
        f2j[f"torch_f32_batch_{b}"] = (lambda x=f_t: features_to_joints(x), b)
    for fn, _ in (*j2f.values(), *f2j.values()):
        fn()  # warm up

    j2f_rates, j2f_wall = time_rounds(j2f, args.repeat)
    f2j_rates, f2j_wall = time_rounds(f2j, args.repeat)
    f2j_speedups = {
        name: round(rate / f2j_rates[name.replace("torch_f32", "reference")], 2)
        for name, rate in f2j_rates.items()
        if name.startswith("torch_f32")
    }
    result = {
        "frames_per_clip": n_frames,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "cpu": platform.processor() or platform.machine(),
        "load_avg": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "reference_max_abs_diff": float(f"{check:.2g}"),
        "joints_to_features": {
            "clips_per_cpu_s": j2f_rates,
            "clips_per_wall_s": j2f_wall,
            "speedup_vs_reference": speedups(j2f_rates, "reference_per_clip"),
        },
        "features_to_joints": {
            "clips_per_cpu_s": f2j_rates,
            "clips_per_wall_s": f2j_wall,
            "speedup_vs_reference": f2j_speedups,
        },
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
