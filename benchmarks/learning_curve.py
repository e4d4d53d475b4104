"""Learning curve of an LM training recipe on a fixed wall-clock budget: text -> motion quality over time.

Trains ``configs/lm/*.yaml`` (with ``--set`` overrides) for ``--minutes`` of training time and, every
``--eval-every`` minutes (evaluation time not counted), measures on the **val** split with the project's
evaluator: R-precision top-3, FID, Diversity and, with ``--action-classifier``, the action accuracy of the
val captions and of both packaged paraphrase sets (``eval.run.val_measures``; one replication, no
MultiModality). Prints one JSON object: the recipe, its cost per step and the curve.

    python benchmarks/learning_curve.py --config configs/lm/cpu.yaml --data corpus --tokens TOK/tokens \
        --tokenizer TOK --evaluator runs/evaluator --action-classifier runs/action --minutes 20 \
        --eval-every 5 --guidance 2 --temperature 0.45 --out runs/curve-cpu [--set keep_layers=4 ...]

Compare levers by running it once per recipe on the same machine, one at a time (the figures are wall
time on a shared CPU: run nothing else meanwhile).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import lightning as L

from motiongpt.eval.action import ActionClassifier
from motiongpt.eval.evaluator import T2MEvaluator
from motiongpt.eval.run import val_measures
from motiongpt.lm.pipeline import MotionGPT, PipelineConfig
from motiongpt.lm.train import LMTrainConfig, train_lm
from motiongpt.tokenizer.model import MotionTokenizer


class CurveProbe(L.Callback):
    """Evaluates the model being trained every ``every_s`` seconds of training; stops at ``budget_s``."""

    def __init__(self, evaluate, every_s: float, budget_s: float) -> None:
        self.evaluate, self.every_s, self.budget_s = evaluate, every_s, budget_s
        self.points: list[dict] = []
        self.train_s = 0.0
        self._tick = 0.0
        self._next = every_s

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self._tick = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.train_s += time.perf_counter() - self._tick
        if self.train_s >= self._next or self.train_s >= self.budget_s:
            self._next += self.every_s
            self.points.append({"minutes": round(self.train_s / 60, 2), "step": trainer.global_step,
                                **self.evaluate(pl_module.model)})  # fmt: skip
            pl_module.model.train()
            print(json.dumps(self.points[-1]), flush=True)
        if self.train_s >= self.budget_s:
            trainer.should_stop = True


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", type=Path, default=Path("configs/lm/cpu.yaml"))
    p.add_argument("--set", dest="overrides", action="append", default=[], help="key=value override")
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--tokens", type=Path, required=True)
    p.add_argument("--tokenizer", type=Path, required=True, help="motion tokenizer folder")
    p.add_argument("--evaluator", type=Path, required=True)
    p.add_argument("--action-classifier", type=Path)
    p.add_argument("--text-source", type=Path)
    p.add_argument("--minutes", type=float, default=20.0)
    p.add_argument("--eval-every", type=float, default=5.0, help="minutes of training between evaluations")
    p.add_argument("--guidance", type=float, default=1.0, help="classifier-free guidance when sampling")
    p.add_argument("--temperature", type=float, default=1.0, help="sampling temperature")
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args()

    cfg = LMTrainConfig.from_yaml(args.config).with_overrides(args.overrides)
    evaluator = T2MEvaluator.from_pretrained(args.evaluator)
    classifier = ActionClassifier.from_pretrained(args.action_classifier) if args.action_classifier else None
    measure = val_measures(args.data, evaluator, classifier)
    motion_tokenizer = MotionTokenizer.from_pretrained(args.tokenizer)
    sampling = PipelineConfig(guidance=args.guidance, temperature=args.temperature)

    def evaluate(lm) -> dict:
        t0 = time.perf_counter()
        figures = measure(MotionGPT(lm, motion_tokenizer, sampling))
        return figures | {"eval_s": round(time.perf_counter() - t0, 1)}

    probe = CurveProbe(evaluate, args.eval_every * 60, args.minutes * 60)
    t0 = time.perf_counter()
    result = train_lm(cfg, args.data, args.tokens, args.out, tokenizer=args.tokenizer,
                      text_source=args.text_source, progress_bar=False, callbacks=[probe])  # fmt: skip
    print(json.dumps({
        "config": str(args.config), "overrides": args.overrides, "guidance": args.guidance,
        "temperature": args.temperature, "budget_minutes": args.minutes, "steps": result.global_step,
        "s_per_step": round(probe.train_s / max(1, result.global_step), 3),
        "wall_minutes": round((time.perf_counter() - t0) / 60, 1), "split": "val", "curve": probe.points,
    }, indent=2))  # fmt: skip


if __name__ == "__main__":
    main()
