"""``run_evaluation``: one entry point for ``motiongpt eval --task t2m|m2t|pred|inbetween``.

Loads the corpus, the evaluator and (optionally) a MotionGPT bundle, wraps the model as the callable each
protocol in :mod:`motiongpt.eval.protocol` takes, and runs it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from motiongpt.eval.action import (
    INDEPENDENT_PARAPHRASES,
    PARAPHRASES,
    ActionClassifier,
    action_of,
    load_prompts,
    prompt_action_accuracy,
)
from motiongpt.eval.evaluator import T2MEvaluator
from motiongpt.eval.protocol import MODEL, evaluate_inbetween, evaluate_m2t, evaluate_pred, evaluate_t2m
from motiongpt.eval.result import EvalResult, EvalSettings
from motiongpt.motion.skeleton import FPS

TASKS = ("t2m", "m2t", "pred", "inbetween")
QUICK = {"replications": 3, "mm_prompts": 10, "mm_samples": 5}


def model_callable(task: str, model_dir: Any, seed: int = 0, chunk: int = 32) -> Callable[..., Any]:
    """The model under test (a bundle folder, or a loaded ``MotionGPT``) as the task's callable.

    Lengths are asked for in seconds (``n / FPS``), which the pipeline turns into ``n // fpt`` motion tokens
    (``fpt``: the bundle's frames per token, its tokenizer's downsampling; a completion asks for at least
    one token); inputs are sent in chunks of ``chunk``; every call uses a new sampling seed (MultiModality
    needs it).
    """
    from motiongpt.lm.pipeline import MotionGPT
    from motiongpt.motion.motion import Motion

    mg = model_dir if isinstance(model_dir, MotionGPT) else MotionGPT.from_pretrained(model_dir)
    fpt = mg.frames_per_token
    calls = iter(range(seed * 1_000_003, 2**62))

    def chunks(n: int) -> Any:
        return (slice(i, i + chunk) for i in range(0, n, chunk))

    def feats(ms: Any) -> list[np.ndarray]:
        return [np.asarray(m.features, np.float32) for m in ms]

    def t2m(texts: list[str], lengths: list[int]) -> list[np.ndarray]:
        s, out = next(calls), []
        for sl in chunks(len(texts)):
            secs = [n / FPS for n in lengths[sl]]  # the protocol's lengths are <= 196 frames
            out += feats(mg.generate_motion_batch(texts[sl], seconds=secs, seed=s, allow_long=True))
        return out

    def m2t(motions: list[np.ndarray]) -> list[str]:
        out: list[str] = []
        for sl in chunks(len(motions)):
            out += mg.caption_batch([Motion.from_features(m) for m in motions[sl]])
        return out

    def pred(given: list[np.ndarray], lengths: list[int]) -> list[np.ndarray]:
        s, out = next(calls), []
        for g, n in zip(given, lengths, strict=True):  # one length per call
            secs = max(n - len(g), fpt) / FPS
            out += feats([mg.predict(Motion.from_features(g), seconds=secs, seed=s, allow_long=True)])
        return out

    def inbetween(prefix: list[np.ndarray], suffix: list[np.ndarray], lengths: list[int]) -> list[np.ndarray]:
        s, out = next(calls), []
        for a, b, n in zip(prefix, suffix, lengths, strict=True):
            mid = max(n - len(a) - len(b), fpt) / FPS
            out += feats(
                [mg.inbetween(Motion.from_features(a), Motion.from_features(b), seconds=mid, seed=s)]
            )
        return out

    return {"t2m": t2m, "m2t": m2t, "pred": pred, "inbetween": inbetween}[task]


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
) -> EvalResult:
    """Load the corpus, evaluator and (optionally) model; run the task's protocol; return its result.

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
    pipeline = None
    if model is not None:  # the LM stack is imported only for a model
        from motiongpt.lm.pipeline import MotionGPT

        pipeline = MotionGPT.from_pretrained(model)
    fn = model_callable(task, pipeline, seed) if pipeline is not None else None
    settings = EvalSettings(
        replications=reps, seed=seed, progress=progress, model_name=str(model) if model else None,
        data_root=data, evaluator_path=evaluator, split=split, quick=quick,
    )  # fmt: skip
    if task == "t2m":
        mm = {k: QUICK[k] for k in ("mm_prompts", "mm_samples")} if quick else {}
        actions = {}
        if action_classifier is not None:
            actions = {"action_classifier": ActionClassifier.from_pretrained(action_classifier),
                       "actions": corpus_actions(data)}  # fmt: skip
        result = evaluate_t2m(fn, dataset, ev, train, settings=settings, **mm, **actions)
        if pipeline is None:
            return result
        return dataclasses.replace(result, notes=[*result.notes, sampling_note(pipeline.cfg)])
    if task == "m2t":
        return evaluate_m2t(fn, dataset, ev, train, settings=settings, meteor=False if quick else None)
    if task == "pred":
        return evaluate_pred(fn, dataset, ev, train, settings=settings)
    return evaluate_inbetween(fn, dataset, ev, train, settings=settings)


def sampling_note(cfg: Any) -> str:
    """How a bundle's text -> motion was sampled (its ``PipelineConfig``), for a result's notes."""
    note = (f"Text -> motion sampled as the bundle's config.yaml says: guidance {cfg.guidance:g}, "
            f"temperature {cfg.temperature:g}, top-k {cfg.top_k}, top-p {cfg.top_p:g}, "
            f"{cfg.candidates} candidate(s) per text")  # fmt: skip
    if cfg.candidates > 1:
        note += (", keeping the one the model's own motion -> text reading finds likeliest to be described "
                 "by the text (MotionGPT's published numbers sample once: candidates: 1)")  # fmt: skip
    return note


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


def val_measures(
    data: str | Path, evaluator: T2MEvaluator, classifier: ActionClassifier | None = None
) -> Callable[..., dict[str, float]]:
    """The figures a recipe and its sampling are chosen by, on the **val** split, as a callable
    ``measure(model, replications=1) -> dict`` of a loaded ``MotionGPT``.

    t2m R@3, FID and Diversity (``replications`` draws, no MultiModality); with ``classifier`` also the
    action accuracy of the val captions and of both packaged paraphrase sets (``paraphrases``,
    ``independent``: 1 sample of 4 s per prompt, so about ±0.07).
    """
    from motiongpt.data import HumanML3D

    val = HumanML3D(data, "val", max_frames=evaluator.cfg.max_motion_len)
    actions = corpus_actions(data) if classifier else None
    prompt_sets = {"paraphrases": load_prompts(PARAPHRASES),
                   "independent": load_prompts(INDEPENDENT_PARAPHRASES)} if classifier else {}  # fmt: skip

    def measure(model: Any, replications: int = 1) -> dict[str, float]:
        result = evaluate_t2m(model_callable("t2m", model), val, evaluator, replications=replications,
                              mm_samples=0, progress=False, action_classifier=classifier,
                              actions=actions)  # fmt: skip
        row = result.rows[MODEL]
        keep = ("r_precision_top3", "fid", "diversity", "action_accuracy")
        out = {k: round(row[k]["mean"], 4) for k in keep if k in row}
        for name, prompts in prompt_sets.items():
            acc = prompt_action_accuracy(model_callable("t2m", model), prompts, classifier, samples=1)
            out[name] = round(acc["action_accuracy"], 3)
        return out

    return measure


__all__ = ["corpus_actions", "model_callable", "run_action_prompts", "run_evaluation", "val_measures"]
