"""Length control of text -> motion: how often the generated duration lands within ±10 % of the request.

Draws prompts from the corpus's test captions (or a built-in list) and durations uniformly in
[--min-seconds, --max-seconds], generates with the given MotionGPT bundle (default: the bundled model)
in batches, and prints JSON: the share within ±10 %, the mean and worst relative error, and timing.

    .venv/bin/python benchmarks/length_control.py [--model DIR] [--data CORPUS] [--n 100]
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

import numpy as np

PROMPTS = [
    "a person walks forward", "someone runs in a circle", "a person waves with the left hand",
    "a man bows politely", "a person jumps up and down", "someone kicks with the right leg",
]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None, help="MotionGPT folder (default: bundled)")
    parser.add_argument("--data", type=Path, default=None, help="corpus whose test captions to use")
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--min-seconds", type=float, default=2.0)
    parser.add_argument("--max-seconds", type=float, default=9.8)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from motiongpt.lm.pipeline import MotionGPT

    model_dir = args.model or Path(__file__).resolve().parents[1] / "src" / "motiongpt" / "assets" / "model"
    prompts = PROMPTS
    if args.data is not None:
        from motiongpt.data import HumanML3D

        prompts = [c.text for clip in HumanML3D(args.data, "test") for c in clip.captions]
    rng = random.Random(args.seed)
    texts = [rng.choice(prompts) for _ in range(args.n)]
    asked = [round(rng.uniform(args.min_seconds, args.max_seconds), 2) for _ in range(args.n)]

    model = MotionGPT.from_pretrained(model_dir)
    start = time.perf_counter()
    got = []
    for i in range(0, args.n, args.batch):
        chunk = slice(i, i + args.batch)
        motions = model.generate_motion_batch(texts[chunk], seconds=asked[chunk], seed=i)
        got += [m.seconds for m in motions]
    elapsed = time.perf_counter() - start
    rel = np.abs(np.array(got) - np.array(asked)) / np.array(asked)
    print(json.dumps({
        "model": str(model_dir), "n": args.n, "seconds_range": [args.min_seconds, args.max_seconds],
        "within_10_percent": float((rel <= 0.10).mean()), "mean_relative_error": float(rel.mean()),
        "max_relative_error": float(rel.max()), "seconds_per_motion": elapsed / args.n,
    }))  # fmt: skip


if __name__ == "__main__":
    main()
