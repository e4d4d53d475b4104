"""``run_evaluation``: one entry point for ``motiongpt eval --task t2m|m2t|pred|inbetween``.

Loads the corpus, the evaluator and (optionally) a MotionGPT bundle, wraps the model as the callable each
protocol in :mod:`motiongpt.eval.protocol` takes, and runs it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from motiongpt.errors import MetricInputError
from motiongpt.eval.action import ActionClassifier, action_of, load_prompts, prompt_action_accuracy
from motiongpt.eval.evaluator import T2MEvaluator
from motiongpt.eval.protocol import evaluate_inbetween, evaluate_m2t, evaluate_pred, evaluate_t2m

TASKS = ("t2m", "m2t", "pred", "inbetween")
QUICK = {"replications": 3, "mm_prompts": 10, "mm_samples": 5}


def model_callable(task: str, model_dir: Any, seed: int = 0, chunk: int = 32) -> Callable[..., Any]:
    """The model under test (a bundle folder, or a loaded ``MotionGPT``) as the task's callable.

    Lengths are asked for in seconds (``n / 20``), which the pipeline turns into ``n // 4`` motion tokens;
    inputs are sent in chunks of ``chunk``; every call uses a new sampling seed (MultiModality needs it).
    """
    try:
        from motiongpt.lm.pipeline import Motion, MotionGPT
    except ImportError as e:
        raise NotAvailableError(
            f"--model: the language model (motiongpt.lm) is not available yet ({e})"
        ) from None
    mg = model_dir if isinstance(model_dir, MotionGPT) else MotionGPT.from_pretrained(model_dir)
    calls = iter(range(seed * 1_000_003, 2**62))

    def chunks(n: int) -> Any:
        return (slice(i, i + chunk) for i in range(0, n, chunk))

    def feats(ms: Any) -> list[np.ndarray]:
        return [np.asarray(m.features, np.float32) for m in ms]

    def t2m(texts: list[str], lengths: list[int]) -> list[np.ndarray]:
        s, out = next(calls), []
        for sl in chunks(len(texts)):
            secs = [n / 20 for n in lengths[sl]]  # the protocol's lengths are <= 196 frames
            out += feats(mg.generate_motion(texts[sl], seconds=secs, seed=s, allow_long=True))
        return out

    def m2t(motions: list[np.ndarray]) -> list[str]:
        out: list[str] = []
        for sl in chunks(len(motions)):
            out += mg.caption([Motion.from_features(m) for m in motions[sl]])
        return out

    def pred(given: list[np.ndarray], lengths: list[int]) -> list[np.ndarray]:
        s, out = next(calls), []
        for g, n in zip(given, lengths, strict=True):  # one length per call
            secs = max(n - len(g), 4) / 20
            out += feats([mg.predict(Motion.from_features(g), seconds=secs, seed=s, allow_long=True)])
        return out

    def inbetween(prefix: list[np.ndarray], suffix: list[np.ndarray], lengths: list[int]) -> list[np.ndarray]:
        s, out = next(calls), []
        for a, b, n in zip(prefix, suffix, lengths, strict=True):
            mid = max(n - len(a) - len(b), 4) / 20
            out += feats(
                [mg.inbetween(Motion.from_features(a), Motion.from_features(b), seconds=mid, seed=s)]
            )
        return out

    return {"t2m": t2m, "m2t": m2t, "pred": pred, "inbetween": inbetween}[task]


class NotAvailableError(MetricInputError):
    """A requested part of the evaluation (e.g. the language model) does not exist yet."""


def run_evaluation(
    task: str,
    data: str | Path,
    evaluator: str | Path,
    model: str | Path | None = None,
    replications: int | None = None,
    quick: bool = False,
    seed: int = 0,
    split: str = "test",
    progress: bool = True,
    action_classifier: str | Path | None = None,
) -> dict[str, Any]:
    """Load the corpus, evaluator and (optionally) model; run the task's protocol; return the JSON dict.

    ``quick`` runs 3 replications and a small MultiModality design (10 prompts × 5 samples) and skips
    METEOR; ``replications`` overrides the count either way. ``action_classifier`` (t2m) adds the action
    accuracy of the labelled clips (:mod:`motiongpt.eval.action`).
    """
    from motiongpt.data import HumanML3D

    if task not in TASKS:
        raise ValueError(f"task must be one of {list(TASKS)}, got {task!r}")
    ev = T2MEvaluator.from_pretrained(evaluator)
    reps = replications if replications is not None else (QUICK["replications"] if quick else 20)
    dataset = HumanML3D(data, split, max_frames=ev.cfg.max_motion_len)
    train = HumanML3D(data, "train", max_frames=ev.cfg.max_motion_len) if split != "train" else dataset
    fn = model_callable(task, model, seed) if model is not None else None
    common = dict(
        replications=reps,
        seed=seed,
        data_root=data,
        evaluator_path=evaluator,
        progress=progress,
        model_name=str(model) if model else None,
    )
    if task == "t2m":
        mm = {k: QUICK[k] for k in ("mm_prompts", "mm_samples")} if quick else {}
        actions = {}
        if action_classifier is not None:
            actions = {"action_classifier": ActionClassifier.from_pretrained(action_classifier),
                       "actions": corpus_actions(data)}  # fmt: skip
        result = evaluate_t2m(fn, dataset, ev, train, **common, **mm, **actions)
    elif task == "m2t":
        result = evaluate_m2t(fn, dataset, ev, train, meteor=False if quick else None, **common)
    elif task == "pred":
        result = evaluate_pred(fn, dataset, ev, train, **common)
    else:
        result = evaluate_inbetween(fn, dataset, ev, train, **common)
    result["quick"] = quick
    result["data"]["split"] = split
    return result


def corpus_actions(data: str | Path) -> dict[str, str]:
    """The action of every labelled clip of a corpus, by clip name (``corpus.json`` content labels)."""
    from motiongpt.data.manifest import read_manifest

    out = {name: action_of(e.content) for name, e in read_manifest(data).clips.items()}
    return {name: a for name, a in out.items() if a is not None}


def run_action_prompts(
    model: str | Path,
    action_classifier: str | Path,
    prompts: str | Path | None = None,
    samples: int = 3,
    seed: int = 0,
) -> dict[str, Any]:
    """Action accuracy of the model on a prompt set (default: the packaged paraphrases), 4 s motions."""
    classifier = ActionClassifier.from_pretrained(action_classifier)
    result = prompt_action_accuracy(
        model_callable("t2m", model, seed), load_prompts(prompts), classifier, samples
    )
    return {"task": "actions", "model": str(model), "action_classifier": str(action_classifier),
            "prompt_set": str(prompts) if prompts else "motiongpt/eval/paraphrases.yaml (packaged)",
            "seed": seed, **result}  # fmt: skip


__all__ = ["NotAvailableError", "corpus_actions", "model_callable", "run_action_prompts", "run_evaluation"]
