"""Tokenizer speed and memory: training steps/s, peak memory, encode/decode throughput, per preset.

    python benchmarks/tokenizer.py                      # CPU, presets small and base, batch 64
    python benchmarks/tokenizer.py --device cuda --steps 50

Prints one JSON object. Each preset runs in its own child process so that peak RSS is per preset.
Random weights and random inputs: speed does not depend on the data.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def bench_one(preset: str, device: str, batch: int, steps: int, warmup: int, frames: int) -> dict:
    import torch

    from motiongpt.tokenizer.config import TrainConfig
    from motiongpt.tokenizer.model import MotionTokenizer, count_parameters

    cfg = TrainConfig.from_yaml(ROOT / "configs" / "tokenizer" / f"{preset}.yaml")
    torch.manual_seed(0)
    model = MotionTokenizer(cfg.model).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, betas=cfg.betas)
    x = torch.randn(batch, cfg.window, cfg.model.feature_dim, device=device)  # (B, T, F)
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()

    model.train()
    for i in range(warmup + steps):
        if i == warmup:
            _sync(device)
            t0 = time.perf_counter()
        out = model(x)
        opt.zero_grad(set_to_none=True)
        out.loss.backward()
        opt.step()
    _sync(device)
    train_s = (time.perf_counter() - t0) / steps

    model.eval()
    clip = torch.randn(batch, frames, cfg.model.feature_dim, device=device)
    with torch.no_grad():
        idx = model.encode(clip)
        model.decode(idx)
        _sync(device)
        reps = max(1, steps // 2)
        t0 = time.perf_counter()
        for _ in range(reps):
            idx = model.encode(clip)
        _sync(device)
        enc_s = (time.perf_counter() - t0) / reps
        t0 = time.perf_counter()
        for _ in range(reps):
            model.decode(idx)
        _sync(device)
        dec_s = (time.perf_counter() - t0) / reps

    n_frames = batch * (frames // cfg.model.downsample_factor * cfg.model.downsample_factor)
    result = {
        "params": count_parameters(model),
        "batch": batch,
        "window": cfg.window,
        "train_steps_per_s": round(1.0 / train_s, 3),
        "train_windows_per_s": round(batch / train_s, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "encode_frames_per_s": round(n_frames / enc_s),
        "decode_frames_per_s": round(n_frames / dec_s),
    }
    if device.startswith("cuda"):
        result["cuda_peak_mb"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    return result


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--presets", nargs="+", default=["small", "base"])
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--steps", type=int, default=None, help="timed training steps (default 3 cpu, 50 cuda)")
    p.add_argument("--warmup", type=int, default=None, help="untimed steps first (default 1 cpu, 10 cuda)")
    p.add_argument("--frames", type=int, default=196, help="clip length for encode/decode throughput")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = torch default)")
    p.add_argument("--one", help=argparse.SUPPRESS)  # internal: run one preset, print its JSON
    args = p.parse_args()
    cuda = args.device.startswith("cuda")
    steps = args.steps or (50 if cuda else 3)
    warmup = args.warmup if args.warmup is not None else (10 if cuda else 1)

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.one:
        print(json.dumps(bench_one(args.one, args.device, args.batch, steps, warmup, args.frames)))
        return

    results = {}
    for preset in args.presets:
        cmd = [sys.executable, __file__, "--one", preset, "--device", args.device, "--batch", str(args.batch),
               "--steps", str(steps), "--warmup", str(warmup), "--frames", str(args.frames),
               "--threads", str(args.threads)]  # fmt: skip
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode:
            results[preset] = {"error": proc.stderr.strip().splitlines()[-1:]}
        else:
            results[preset] = json.loads(proc.stdout.strip().splitlines()[-1])
    device_name = torch.cuda.get_device_name() if cuda else platform.processor() or platform.machine()
    print(json.dumps({
        "device": args.device, "device_name": device_name, "torch": torch.__version__,
        "threads": torch.get_num_threads(), "steps": steps, "results": results,
    }, indent=2))  # fmt: skip


if __name__ == "__main__":
    main()
