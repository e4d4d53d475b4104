"""Evaluation runs for text-to-motion, motion-to-text, prediction and in-between (T2M / MotionGPT protocol).

The model under test is a plain callable, so any generator plugs in:

* ``generate_fn(texts: list[str], lengths: list[int]) -> list[np.ndarray (T_i, 263)]`` raw features;
* ``caption_fn(motions: list[np.ndarray (T_i, 263)]) -> list[str]``;
* ``predict_fn(given: list[np.ndarray (t_i, 263)], lengths: list[int]) -> list[np.ndarray (T_i, 263)]``,
  the whole motion (given frames included);
* ``inbetween_fn(prefix: list[np.ndarray], suffix: list[np.ndarray], lengths: list[int])
  -> list[np.ndarray]``,
  the whole motion.

Every run also scores, in the same replications, the rows that bound the model:

* ``Real``: ground truth (for t2m, another random crop of the same test item, as the reference
  evaluation does; its FID is therefore small but not 0).
* ``Nearest neighbour``: retrieval from the *train* split with the evaluator itself — for t2m the train
  motion whose embedding is closest to the caption's, for m2t the train caption closest to the
  motion, for pred/in-between the train clip whose given part is closest. It reuses the evaluator's
  space, so its R-precision flatters it; it is a floor a generator should beat on FID/diversity.
* ``Shuffled``: a derangement of the test set (every caption/motion paired with another item's): the
  chance-level lower bound of R-precision (about k/32 for top-k).

Each replication re-draws captions, crops and batch order (``pairs.sample_pairs``); every number is
reported as mean and 95 % CI half-width over replications. Every protocol takes its shared settings as one
:class:`~motiongpt.eval.result.EvalSettings` (or those fields as keyword arguments) and returns an
:class:`~motiongpt.eval.result.EvalResult` (a frozen dataclass that is also a JSON-able dict); see
``report.format_table`` for the paper-style table.

MM-Dist is the mean distance over all N text/motion pairs (``mm_dist``); the T2M and MotionGPT reference
scripts average it over the full 32-pair batches only, dropping the last partial batch — reported beside
it as ``mm_dist_full_batches`` and named in every result's notes.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from motiongpt.data.humanml3d import clip_of
from motiongpt.data.manifest import read_manifest
from motiongpt.errors import CorpusError, MetricInputError
from motiongpt.eval import metrics
from motiongpt.eval.evaluator import T2MEvaluator
from motiongpt.eval.pairs import Pairs, crop_motion, distinct_text_order, sample_pairs
from motiongpt.eval.result import EvalResult, EvalSettings

logger = logging.getLogger(__name__)

__all__ = [
    "evaluate_inbetween",
    "evaluate_m2t",
    "evaluate_pred",
    "evaluate_t2m",
    "evaluator_identity",
    "EvalResult",
    "EvalSettings",
]

GenerateFn = Callable[[list[str], list[int]], list[np.ndarray]]
CaptionFn = Callable[[list[np.ndarray]], list[str]]
PredictFn = Callable[[list[np.ndarray], list[int]], list[np.ndarray]]
InbetweenFn = Callable[[list[np.ndarray], list[np.ndarray], list[int]], list[np.ndarray]]

REAL, NEAREST, SHUFFLED, MODEL = "Real", "Nearest neighbour (train)", "Shuffled pairing", "Model"
MM_DIST_NOTE = (
    "MM-Dist (mm_dist) is the mean over all N pairs; the T2M/MotionGPT references average over the full "
    "32-pair batches only (the last partial batch dropped): mm_dist_full_batches"
)


# --- helpers ------------------------------------------------------------------------------------------


def _derangement(n: int, rng: np.random.Generator) -> np.ndarray:
    """A permutation with no fixed point: a random order rolled by one."""
    order = rng.permutation(n)
    out = np.empty(n, dtype=np.int64)
    out[order] = np.roll(order, 1)
    return out


def _check_outputs(
    out: Sequence[np.ndarray], n: int, name: str, lengths: Sequence[int] | None = None
) -> list:
    if len(out) != n:
        raise MetricInputError(f"{name} returned {len(out)} motions for {n} inputs")
    res = []
    for i, m in enumerate(out):
        m = np.asarray(m, dtype=np.float32)
        if m.ndim != 2 or m.shape[0] < 4 or not np.isfinite(m).all():
            raise MetricInputError(
                f"{name} output {i} must be finite (T>=4, F) features, got shape {m.shape}"
            )
        if lengths is not None and m.shape[0] < lengths[i]:
            logger.debug("%s output %d has %d frames, asked for %d", name, i, m.shape[0], lengths[i])
        res.append(m)
    return res


def _summarise(runs: dict[str, dict[str, list[float]]]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for row, vals in runs.items():
        out[row] = {}
        for k, v in vals.items():
            if v and all(x is not None for x in v):
                mean, ci = metrics.mean_ci(v)
                out[row][k] = {"mean": mean, "ci95": ci}
    return out


def _add(runs: dict[str, dict[str, list[float]]], row: str, vals: dict[str, float]) -> None:
    for k, v in vals.items():
        runs.setdefault(row, {}).setdefault(k, []).append(float(v))


def _retrieval(
    text_emb: np.ndarray, motion_emb: np.ndarray, texts: Sequence[str], batch: int
) -> dict[str, float]:
    vals: dict[str, float] = {"mm_dist": metrics.mm_dist(text_emb, motion_emb)}
    if len(text_emb) >= batch:
        full = len(text_emb) // batch * batch  # the references' drop_last batches
        vals["mm_dist_full_batches"] = metrics.mm_dist(text_emb[:full], motion_emb[:full])
        rp = metrics.r_precision(text_emb, motion_emb, 3, batch)
        vals |= {f"r_precision_top{k + 1}": float(rp[k]) for k in range(3)}
        order = distinct_text_order(texts, batch)
        if len(order):
            rp = metrics.r_precision(text_emb[order], motion_emb[order], 3, batch)
            vals |= {f"r_precision_distinct_top{k + 1}": float(rp[k]) for k in range(3)}
    return vals


def _distribution(
    emb: np.ndarray, ref: np.ndarray, rng: np.random.Generator, div_pairs: int
) -> dict[str, float]:
    return {
        "fid": metrics.fid(emb, ref),
        "diversity": metrics.diversity(emb, min(div_pairs, len(emb) - 1), rng),
    }


def evaluator_identity(evaluator: T2MEvaluator, path: str | Path | None = None) -> dict[str, Any]:
    """What produced the numbers: the evaluator's folder, weights hash, word vectors and dims."""
    ident: dict[str, Any] = {"path": str(path) if path else None, "config": evaluator.cfg.to_dict()}
    ident["config"].pop("train", None)
    if path is not None and (Path(path) / "model.safetensors").is_file():
        ident["sha256"] = hashlib.sha256((Path(path) / "model.safetensors").read_bytes()).hexdigest()[:16]
    trained = Path(path) / "metrics.json" if path is not None else None
    if trained is not None and trained.is_file():  # written by train_evaluator
        info = json.loads(trained.read_text(encoding="utf-8"))
        ident["trained"] = {k: info.get(k) for k in ("data", "steps", "loss", "val_r_precision_top3")}
    return ident


def data_summary(root: str | Path | None, dataset: Sequence[Any], split: str = "test") -> dict[str, Any]:
    """Clip and caption counts of the evaluated split, and the corpus manifest (``corpus.json``) if any."""
    captions = [c for clip in dataset for c in clip.captions]
    out: dict[str, Any] = {
        "root": str(root) if root else None,
        "split": split,
        "items": len(dataset),
        "captions": len(captions),
        "distinct_caption_texts": len({c.text for c in captions}),
    }
    if root:
        try:
            manifest = read_manifest(root)
        except CorpusError as e:
            out["manifest_error"] = str(e)
        else:
            if manifest.header:
                header = manifest.header.items()
                out["manifest"] = {k: v for k, v in header if not isinstance(v, list | dict) or len(v) <= 50}
            if manifest.templated_share is not None:
                out["templated_caption_share"] = manifest.templated_share
    return out


def _progress(iterable: Any, desc: str, enabled: bool) -> Any:
    from tqdm import tqdm

    return tqdm(iterable, desc=desc, disable=not enabled, leave=False)


def _nearest(query: np.ndarray, bank: np.ndarray) -> np.ndarray:
    """Index of the closest ``bank`` row for each ``query`` row (Euclidean)."""
    return np.argmin(metrics.euclidean_distance_matrix(query, bank), axis=1)


def _train_pairs(train: Sequence[Any] | None, seed: int) -> Pairs | None:
    """A fixed draw of the train split (first caption, no shuffling), or ``None`` without one."""
    if train is None or not len(train):
        return None
    return sample_pairs(train, np.random.default_rng(seed + 99_991), coin=False, shuffle=False)


def _draws(
    task: str, dataset: Sequence[Any], settings: EvalSettings
) -> Iterator[tuple[int, np.random.Generator, Pairs]]:
    """Each replication ``r``: its generator (from ``[seed, r]``) and its draw of captions, crops, order."""
    for r in _progress(range(settings.replications), f"{task} replications", settings.progress):
        rng = np.random.default_rng([settings.seed, r])
        yield r, rng, sample_pairs(dataset, rng)


def _result(
    task: str,
    rows: dict[str, dict[str, Any]],
    task_settings: dict[str, Any],
    settings: EvalSettings,
    evaluator: T2MEvaluator,
    dataset: Sequence[Any],
    has_model: bool,
) -> EvalResult:
    """A run's result: header (task, evaluator, data, notes), the task's settings and the summarised rows."""
    data = data_summary(settings.data_root, dataset, settings.split)
    notes = []
    if not has_model:
        notes.append("no model given: only Real and the baselines were evaluated (the CLI evaluates the "
                     "bundled model with --model default)")
    if task in ("t2m", "m2t"):
        notes.append(
            "Nearest neighbour retrieves from the train split with this evaluator's own embeddings, so its "
            "R-precision and MM-Dist flatter it; Shuffled pairing is the chance level (top-k about k/32)"
        )
        notes.append(MM_DIST_NOTE)
    else:
        notes.append(
            "Nearest neighbour completes with the train clip whose given part is closest in the evaluator's "
            "space; Shuffled pairing completes with another test clip; ADE/FDE in metres (MotionGPT's "
            "definition: norm of the flattened 22x3 pose difference per frame)"
        )
    if data.get("templated_caption_share"):
        notes.append(
            f"{data['templated_caption_share']:.0%} of the corpus captions are templated from labels; "
            "retrieval over templated captions is partly ambiguous (see r_precision_distinct_*)"
        )
    return EvalResult(
        task=task,
        replications=settings.replications,
        seed=settings.seed,
        evaluator=evaluator_identity(evaluator, settings.evaluator_path),
        data=data,
        model=(settings.model_name or "model") if has_model else None,
        notes=notes,
        settings=task_settings,
        rows=rows,
        quick=settings.quick,
    )


# --- text to motion -----------------------------------------------------------------------------------


def evaluate_t2m(
    generate_fn: GenerateFn | None,
    dataset: Sequence[Any],
    evaluator: T2MEvaluator,
    train: Sequence[Any] | None = None,
    *,
    settings: EvalSettings | None = None,
    mm_prompts: int = 100,
    mm_samples: int = 30,
    mm_pairs: int = 10,
    action_classifier: Any = None,
    actions: dict[str, str] | None = None,
    **overrides: Any,
) -> EvalResult:
    """Text-to-motion: R-precision top-1/2/3, FID, MM-Dist, Diversity (and MultiModality for the model).

    Args:
        generate_fn: the model (``None``: only Real and baselines).
        dataset: the test split (``Sequence`` of clips with ``features`` and ``captions``).
        evaluator: the text/motion evaluator.
        train: the train split, for the nearest-neighbour baseline (skipped when ``None``).
        settings: replications (20 in the protocol), seed, batch size, ... (:class:`EvalSettings`);
            ``overrides`` replace single fields, e.g. ``replications=3``.
        mm_prompts, mm_samples, mm_pairs: MultiModality design (100 × 30, 10 pairs in the protocol).
        action_classifier, actions: an ``ActionClassifier`` and the action of each labelled clip (by clip
            name): adds ``action_accuracy`` of the Real and model motions of the labelled clips.
    """
    settings = EvalSettings.of(settings, **overrides)
    seed, batch_size, diversity_pairs = settings.seed, settings.batch_size, settings.diversity_pairs
    cfg = evaluator.cfg
    runs: dict[str, dict[str, list[float]]] = {}
    index = {clip.name: i for i, clip in enumerate(dataset)}
    train_pairs = _train_pairs(train, seed)
    train_emb = evaluator.embed_motions(train_pairs.motions) if train_pairs is not None else None
    for _, rng, ref in _draws("t2m", dataset, settings):
        # ref: the reference motions (FID) and the captions of this replication
        text_emb = evaluator.embed_captions(ref.tokens)
        ref_emb = evaluator.embed_motions(ref.motions)
        real = [
            crop_motion(np.asarray(dataset[index[n]].features), rng, cfg.max_motion_len, cfg.unit_length)
            for n in ref.names
        ]
        rows: dict[str, np.ndarray] = {REAL: evaluator.embed_motions(real)}
        rows[SHUFFLED] = ref_emb[_derangement(len(ref), rng)]
        if train_emb is not None:
            rows[NEAREST] = train_emb[_nearest(text_emb, train_emb)]
        if generate_fn is not None:
            out = _check_outputs(
                generate_fn(list(ref.texts), ref.lengths), len(ref), "generate_fn", ref.lengths
            )
            rows[MODEL] = evaluator.embed_motions(out)
        if action_classifier is not None and actions:
            named = [(k, actions[clip_of(n)]) for k, n in enumerate(ref.names) if clip_of(n) in actions]
            for row, motions in ((REAL, real), (MODEL, out if generate_fn is not None else None)):
                if motions is not None and named:
                    acc = action_classifier.accuracy([motions[k] for k, _ in named], [a for _, a in named])
                    _add(runs, row, {"action_accuracy": acc})
        for row, emb in rows.items():
            _add(
                runs,
                row,
                _retrieval(text_emb, emb, ref.texts, batch_size)
                | _distribution(emb, ref_emb, rng, diversity_pairs),
            )
        if generate_fn is not None and mm_samples >= 2:
            _add(
                runs,
                MODEL,
                {
                    "multimodality": _multimodality(
                        generate_fn, ref, evaluator, rng, mm_prompts, mm_samples, mm_pairs
                    )
                },
            )
        if train_emb is not None:
            _add(runs, NEAREST, {"multimodality": 0.0})  # retrieval is deterministic
    task_settings = {
        "batch_size": batch_size,
        "diversity_pairs": diversity_pairs,
        "mm_prompts": mm_prompts,
        "mm_samples": mm_samples,
        "mm_pairs": mm_pairs,
    }
    has_model = generate_fn is not None
    return _result("t2m", _summarise(runs), task_settings, settings, evaluator, dataset, has_model)


def _multimodality(
    generate_fn: GenerateFn,
    ref: Pairs,
    evaluator: T2MEvaluator,
    rng: np.random.Generator,
    prompts: int,
    samples: int,
    pairs: int,
) -> float:
    n = min(prompts, len(ref))
    texts, lengths = list(ref.texts[:n]), ref.lengths[:n]
    emb = []
    for _ in range(samples):
        out = _check_outputs(generate_fn(texts, lengths), n, "generate_fn")
        emb.append(evaluator.embed_motions(out))
    return metrics.multimodality(np.stack(emb, axis=1), min(pairs, samples), rng)  # (P, S, D)


# --- motion to text -----------------------------------------------------------------------------------


def evaluate_m2t(
    caption_fn: CaptionFn | None,
    dataset: Sequence[Any],
    evaluator: T2MEvaluator,
    train: Sequence[Any] | None = None,
    *,
    settings: EvalSettings | None = None,
    text_metrics: bool = True,
    meteor: bool | None = None,
    bertscore: bool = True,
    **overrides: Any,
) -> EvalResult:
    """Motion-to-text: R-precision and MM-Dist of generated captions against the motions (every
    replication), and BLEU@1/4, ROUGE-L, CIDEr, METEOR, BERTScore against all reference captions of
    each item (first replication only: they do not depend on the batch draw). ``settings`` and
    ``overrides`` as in :func:`evaluate_t2m`."""
    from motiongpt.data.pos import pos_tag

    settings = EvalSettings.of(settings, **overrides)
    batch_size = settings.batch_size
    runs: dict[str, dict[str, list[float]]] = {}
    captions: dict[str, dict[str, Any]] = {}
    train_texts, train_emb = None, None
    if train is not None and len(train):
        uniq = {c.text: tuple(c.tokens) for clip in train for c in clip.captions}
        train_texts = list(uniq)
        train_emb = evaluator.embed_captions(list(uniq.values()))
    for r, rng, ref in _draws("m2t", dataset, settings):
        motion_emb = evaluator.embed_motions(ref.motions)
        gt_text_emb = evaluator.embed_captions(ref.tokens)
        rows: dict[str, tuple[np.ndarray, list[str]]] = {REAL: (gt_text_emb, list(ref.texts))}
        perm = _derangement(len(ref), rng)
        rows[SHUFFLED] = (gt_text_emb[perm], [ref.texts[i] for i in perm])
        if train_emb is not None:
            nn_idx = _nearest(motion_emb, train_emb)
            rows[NEAREST] = (train_emb[nn_idx], [train_texts[i] for i in nn_idx])
        if caption_fn is not None:
            texts = list(caption_fn(list(ref.motions)))
            if len(texts) != len(ref) or not all(isinstance(t, str) for t in texts):
                raise MetricInputError(f"caption_fn must return {len(ref)} strings, got {len(texts)}")
            rows[MODEL] = (evaluator.embed_captions(pos_tag(texts)), texts)
        for row, (temb, texts) in rows.items():
            vals = _retrieval(temb, motion_emb, ref.texts, batch_size)
            _add(runs, row, vals)
            if r == 0 and text_metrics and row != REAL:
                from motiongpt.eval.text_metrics import caption_metrics

                captions[row] = caption_metrics(texts, ref.all_texts, meteor=meteor, bertscore=bertscore)
    task_settings = {"batch_size": batch_size, "text_metrics_on": "replication 0, all references per item"}
    rows = _summarise(runs)
    for row, vals in captions.items():
        rows.setdefault(row, {})["captioning"] = vals
    return _result("m2t", rows, task_settings, settings, evaluator, dataset, caption_fn is not None)


# --- prediction and in-between ------------------------------------------------------------------------


def _joints(features: np.ndarray) -> np.ndarray:
    from motiongpt.motion.features import features_to_joints

    return np.asarray(features_to_joints(features))  # (T, 22, 3) metres


def _completion_rows(
    task: str,
    fn: Callable[..., list[np.ndarray]] | None,
    dataset: Sequence[Any],
    evaluator: T2MEvaluator,
    train: Sequence[Any] | None,
    given: float,
    settings: EvalSettings,
) -> dict[str, dict[str, list[float]]]:
    runs: dict[str, dict[str, list[float]]] = {}

    def spans(n: int) -> tuple[int, int]:  # the frames to be generated: [a, b)
        k = max(1, int(n * given))
        return (k, n) if task == "pred" else (k, n - k)

    unit = evaluator.cfg.unit_length  # the shortest motion the evaluator embeds
    train_bank = None
    tp = _train_pairs(train, settings.seed)
    if tp is not None:
        keys = [m[: max(unit, spans(len(m))[0])] for m in tp.motions]
        train_bank = (tp.motions, evaluator.embed_motions(keys))
    for _, rng, ref in _draws(task, dataset, settings):
        lengths = ref.lengths
        cut = [spans(n) for n in lengths]
        prefix = [m[:a] for m, (a, _) in zip(ref.motions, cut, strict=True)]
        suffix = [m[b:] for m, (_, b) in zip(ref.motions, cut, strict=True)]
        ref_emb = evaluator.embed_motions(ref.motions)
        outputs: dict[str, list[np.ndarray]] = {REAL: list(ref.motions)}

        def splice(donors: Sequence[np.ndarray]) -> list[np.ndarray]:
            out = []
            for m, d, (a, b) in zip(ref.motions, donors, cut, strict=True):
                mid = (
                    d[a:b]
                    if len(d) >= b
                    else np.concatenate([d[a:], np.repeat(d[-1:], b - len(d), 0)])[: b - a]
                )
                out.append(np.concatenate([m[:a], mid, m[b:]]))
            return out

        perm = _derangement(len(ref), rng)
        outputs[SHUFFLED] = splice([ref.motions[i] for i in perm])
        if train_bank is not None:
            keys = evaluator.embed_motions(
                [p if len(p) >= unit else m[:unit] for p, m in zip(prefix, ref.motions, strict=True)]
            )
            outputs[NEAREST] = splice([train_bank[0][i] for i in _nearest(keys, train_bank[1])])
        if fn is not None:
            raw = fn(prefix, lengths) if task == "pred" else fn(prefix, suffix, lengths)
            outputs[MODEL] = _check_outputs(raw, len(ref), f"{task} function", lengths)
        gt_joints = [_joints(m) for m in ref.motions]
        for row, motions in outputs.items():
            emb = evaluator.embed_motions(motions)
            vals = _distribution(emb, ref_emb, rng, settings.diversity_pairs)
            ade, fde = [], []
            for m, g, (a, b) in zip(motions, gt_joints, cut, strict=True):
                n = min(len(m), len(g))  # a model's output may be a few frames short (4-frame tokens)
                if a >= min(b, n):
                    continue
                e = metrics.ade_fde(_joints(m[:n]), g[:n], a, min(b, n))
                ade.append(e[0])
                fde.append(e[1])
            vals |= {"ade": float(np.mean(ade)), "fde": float(np.mean(fde))} if ade else {}
            _add(runs, row, vals)
    return runs


def _evaluate_completion(
    task: str,
    fn: Callable[..., list[np.ndarray]] | None,
    dataset: Sequence[Any],
    evaluator: T2MEvaluator,
    train: Sequence[Any] | None,
    given: float,
    settings: EvalSettings,
) -> EvalResult:
    """What ``evaluate_pred`` and ``evaluate_inbetween`` share once ``given`` is checked."""
    runs = _completion_rows(task, fn, dataset, evaluator, train, given, settings)
    task_settings = {"given": given, "ade_fde_units": "metres, norm of the flattened 22x3 pose difference"}
    return _result(task, _summarise(runs), task_settings, settings, evaluator, dataset, fn is not None)


def evaluate_pred(
    predict_fn: PredictFn | None,
    dataset: Sequence[Any],
    evaluator: T2MEvaluator,
    train: Sequence[Any] | None = None,
    given: float = 0.2,
    *,
    settings: EvalSettings | None = None,
    **overrides: Any,
) -> EvalResult:
    """Motion prediction from the first ``given`` share of each motion: FID, Diversity, ADE, FDE.

    ADE/FDE are MotionGPT's: per frame the Euclidean norm of the flattened 22×3 joint-position
    difference, in metres, averaged over the predicted frames (ADE) or taken at the last (FDE).
    ``settings`` and ``overrides`` as in :func:`evaluate_t2m`.
    """
    if not 0 < given < 1:
        raise ValueError(f"given must be in (0, 1), got {given}")
    settings = EvalSettings.of(settings, **overrides)
    return _evaluate_completion("pred", predict_fn, dataset, evaluator, train, given, settings)


def evaluate_inbetween(
    inbetween_fn: InbetweenFn | None,
    dataset: Sequence[Any],
    evaluator: T2MEvaluator,
    train: Sequence[Any] | None = None,
    given: float = 0.25,
    *,
    settings: EvalSettings | None = None,
    **overrides: Any,
) -> EvalResult:
    """In-between: the first and last ``given`` share are given; FID, Diversity, ADE/FDE on the middle.
    ``settings`` and ``overrides`` as in :func:`evaluate_t2m`."""
    if not 0 < given < 0.5:
        raise ValueError(f"given must be in (0, 0.5), got {given}")
    settings = EvalSettings.of(settings, **overrides)
    return _evaluate_completion("inbetween", inbetween_fn, dataset, evaluator, train, given, settings)
