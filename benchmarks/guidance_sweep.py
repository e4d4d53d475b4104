"""Sampling sweep of a bundle on the val split (guidance, temperature, top-k, candidates): R@3, FID,
action accuracy.

    python benchmarks/guidance_sweep.py --model runs/lm-variety/motiongpt --data corpus \
        --evaluator runs/evaluator --action-classifier runs/action --scales 2 3 4 \
        [--temperatures 0.8 1.0] [--top-k 20 50] [--candidates 1 4 8]

One JSON line per setting of the grid: t2m R@3 / FID / Diversity / action accuracy on val
(``--replications`` draws, default 1; no MultiModality) and action accuracy on both packaged paraphrase
sets (1 sample of 4 s per prompt, so about ±0.07). Temperature, top-k and candidates (text -> motion
samples the model chooses among by its own reading; ``PipelineConfig``) default to the bundle's own;
its ``config.yaml`` is left alone.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import time
from pathlib import Path

from motiongpt.eval.action import ActionClassifier
from motiongpt.eval.evaluator import T2MEvaluator
from motiongpt.eval.run import val_measures
from motiongpt.lm.pipeline import MotionGPT


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", type=Path, required=True)
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--evaluator", type=Path, required=True)
    p.add_argument("--action-classifier", type=Path, required=True)
    p.add_argument("--scales", type=float, nargs="+", default=[2.0, 3.0, 4.0])
    p.add_argument("--temperatures", type=float, nargs="+", help="default: the bundle's")
    p.add_argument("--top-k", type=int, nargs="+", help="default: the bundle's")
    p.add_argument("--candidates", type=int, nargs="+", help="default: the bundle's")
    p.add_argument("--replications", type=int, default=1, help="val draws per setting (metrics averaged)")
    args = p.parse_args()

    evaluator = T2MEvaluator.from_pretrained(args.evaluator)
    measure = val_measures(args.data, evaluator, ActionClassifier.from_pretrained(args.action_classifier))
    model = MotionGPT.from_pretrained(args.model)
    temperatures = args.temperatures or [model.cfg.temperature]
    top_ks = args.top_k or [model.cfg.top_k]
    counts = args.candidates or [model.cfg.candidates]
    for scale, temperature, top_k, k in itertools.product(args.scales, temperatures, top_ks, counts):
        t0 = time.perf_counter()
        model.cfg = dataclasses.replace(model.cfg, guidance=scale, temperature=temperature, top_k=top_k,
                                        candidates=k)  # fmt: skip
        out = {"model": str(args.model), "guidance": scale, "temperature": temperature, "top_k": top_k,
               "candidates": k, "split": "val", "replications": args.replications}
        out |= measure(model, args.replications)
        print(json.dumps(out | {"seconds": round(time.perf_counter() - t0, 1)}), flush=True)


if __name__ == "__main__":
    main()
