"""Motion-generation metrics as small pure numpy functions (the T2M / MotionGPT protocol).

Shapes: N samples, D embedding dim, T frames, J joints. Every function checks its inputs and raises
:class:`motiongpt.errors.MetricInputError` (a ``MotionGPTError`` and ``ValueError``) naming the argument
on a bad shape, a count mismatch, or NaN/inf. Reconstruction metrics (MPJPE, PA-MPJPE, acceleration
error) live in ``motiongpt.eval.recon``.

Conventions, following Guo et al. 2022 (T2M) exactly unless said otherwise:

* Distances are Euclidean in the evaluator's embedding space.
* R-precision: consecutive batches of ``batch_size`` (32) text/motion pairs; for each text, the 32
  motions of its batch are ranked by distance; a hit at k when its own motion is among the k nearest.
  An incomplete last batch is dropped (as the reference loader's ``drop_last``).
* Diversity and MultiModality draw index sets without replacement, as the reference code does (a pair
  may therefore occasionally join a sample with itself).
* Confidence interval: ``1.96 * std / sqrt(n)`` over replications with the population std (ddof=0),
  as in the reference evaluation scripts.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence

import numpy as np
from scipy import linalg
from threadpoolctl import threadpool_limits

from motiongpt.errors import MetricInputError

logger = logging.getLogger(__name__)


__all__ = [
    "ade_fde",
    "diversity",
    "euclidean_distance_matrix",
    "fid",
    "mean_ci",
    "mm_dist",
    "multimodality",
    "r_precision",
]


# --- helpers ------------------------------------------------------------------------------------------


def _as_2d(x: np.ndarray, name: str, min_rows: int = 1) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64)
    if a.ndim != 2:
        raise MetricInputError(f"{name} must be 2-D (N, D), got shape {a.shape}")
    if a.shape[0] < min_rows:
        raise MetricInputError(f"{name} needs at least {min_rows} rows, got {a.shape[0]}")
    if not np.isfinite(a).all():
        bad = int((~np.isfinite(a)).any(axis=1).sum())
        raise MetricInputError(f"{name} contains NaN or inf in {bad} of {a.shape[0]} rows")
    return a


def _same_shape(a: np.ndarray, b: np.ndarray, name_a: str, name_b: str) -> None:
    if a.shape != b.shape:
        raise MetricInputError(f"{name_a} and {name_b} must have the same shape, got {a.shape} and {b.shape}")


def _rng(seed: int | np.random.Generator | None) -> np.random.Generator:
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def euclidean_distance_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise Euclidean distances: ``a (N, D)``, ``b (M, D)`` -> ``(N, M)`` float64."""
    a = _as_2d(a, "a")
    b = _as_2d(b, "b")
    if a.shape[1] != b.shape[1]:
        raise MetricInputError(f"a and b must share the embedding dim, got {a.shape[1]} and {b.shape[1]}")
    sq = (a * a).sum(1)[:, None] - 2.0 * a @ b.T + (b * b).sum(1)[None, :]  # (N, M)
    return np.sqrt(np.clip(sq, 0.0, None))


# --- retrieval ----------------------------------------------------------------------------------------


def r_precision(
    text_emb: np.ndarray, motion_emb: np.ndarray, top_k: int = 3, batch_size: int = 32
) -> np.ndarray:
    """R-precision: the share of texts whose paired motion ranks within the top k of its batch.

    Args:
        text_emb: ``(N, D)`` text embeddings; row i is paired with ``motion_emb[i]``.
        motion_emb: ``(N, D)`` motion embeddings.
        top_k: report top-1 … top-``top_k``.
        batch_size: pairs per retrieval batch (32 in the protocol: 1 true + 31 others).

    Returns:
        ``(top_k,)`` cumulative accuracies in [0, 1], over the ``N // batch_size`` full batches.
    """
    t = _as_2d(text_emb, "text_emb")
    m = _as_2d(motion_emb, "motion_emb")
    _same_shape(t, m, "text_emb", "motion_emb")
    if not 1 <= top_k <= batch_size:
        raise MetricInputError(f"top_k must be in [1, batch_size={batch_size}], got {top_k}")
    n_batches = t.shape[0] // batch_size
    if n_batches == 0:
        raise MetricInputError(f"r_precision needs at least batch_size={batch_size} pairs, got {t.shape[0]}")
    hits = np.zeros(top_k)
    for b in range(n_batches):
        sl = slice(b * batch_size, (b + 1) * batch_size)
        dist = euclidean_distance_matrix(t[sl], m[sl])  # (S, S)
        rank = np.argsort(dist, axis=1, kind="stable")[:, :top_k]  # (S, k)
        found = rank == np.arange(batch_size)[:, None]
        hits += np.cumsum(found, axis=1).astype(bool).sum(0)
    return hits / (n_batches * batch_size)


def mm_dist(text_emb: np.ndarray, motion_emb: np.ndarray) -> float:
    """Multimodal distance: mean Euclidean distance between paired text and motion embeddings."""
    t = _as_2d(text_emb, "text_emb")
    m = _as_2d(motion_emb, "motion_emb")
    _same_shape(t, m, "text_emb", "motion_emb")
    return float(np.linalg.norm(t - m, axis=1).mean())


# --- distribution -------------------------------------------------------------------------------------


def fid(emb_a: np.ndarray, emb_b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to two embedding sets ``(N, D)`` and ``(M, D)``.

    ``||mu_a - mu_b||^2 + tr(S_a + S_b - 2 sqrtm(S_a S_b))`` in float64; ``sqrtm`` runs with one BLAS
    thread (much faster and steadier on a shared CPU), its tiny imaginary part is dropped.
    """
    a = _as_2d(emb_a, "emb_a", min_rows=2)
    b = _as_2d(emb_b, "emb_b", min_rows=2)
    if a.shape[1] != b.shape[1]:
        raise MetricInputError(
            f"emb_a and emb_b must share the embedding dim, got {a.shape[1]} and {b.shape[1]}"
        )
    mu_a, mu_b = a.mean(0), b.mean(0)
    with threadpool_limits(1, user_api="blas"), warnings.catch_warnings():
        # singular covariances (fewer samples than dims) are expected on small sets; the result stays usable
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        s_a = np.atleast_2d(np.cov(a, rowvar=False))
        s_b = np.atleast_2d(np.cov(b, rowvar=False))
        covmean = linalg.sqrtm(s_a @ s_b)
        if not np.isfinite(covmean).all():
            offset = np.eye(s_a.shape[0]) * 1e-6
            logger.warning("fid: sqrtm not finite; adding %g to the covariance diagonals", 1e-6)
            covmean = linalg.sqrtm((s_a + offset) @ (s_b + offset))
    if np.iscomplexobj(covmean):
        imag = float(np.abs(covmean.imag).max())
        if imag > 1e-3:
            logger.warning("fid: sqrtm has an imaginary part up to %.3g; using the real part", imag)
        covmean = covmean.real
    diff = mu_a - mu_b
    value = float(diff @ diff + np.trace(s_a) + np.trace(s_b) - 2.0 * np.trace(covmean))
    # round-off of identical sets can be slightly negative, in proportion to the covariances' scale
    tol = 1e-7 * max(1.0, float(np.trace(s_a) + np.trace(s_b)))
    return 0.0 if -tol < value < 0.0 else value


def diversity(emb: np.ndarray, n_pairs: int = 300, seed: int | np.random.Generator | None = None) -> float:
    """Mean distance between ``n_pairs`` random pairs of ``emb (N, D)`` (needs ``N >= n_pairs``).

    Two index sets of size ``n_pairs`` are drawn without replacement and paired position-wise.
    """
    e = _as_2d(emb, "emb")
    if n_pairs < 1 or e.shape[0] < n_pairs:
        raise MetricInputError(f"diversity needs 1 <= n_pairs <= N, got n_pairs={n_pairs}, N={e.shape[0]}")
    rng = _rng(seed)
    first = rng.choice(e.shape[0], n_pairs, replace=False)
    second = rng.choice(e.shape[0], n_pairs, replace=False)
    return float(np.linalg.norm(e[first] - e[second], axis=1).mean())


def multimodality(emb: np.ndarray, n_pairs: int = 10, seed: int | np.random.Generator | None = None) -> float:
    """Mean distance between pairs of samples generated for the same prompt.

    Args:
        emb: ``(P, S, D)``: P prompts × S samples per prompt (100 × 30 in the protocol).
        n_pairs: pairs per prompt (10 in the protocol), drawn without replacement from the S samples.
    """
    e = np.asarray(emb, dtype=np.float64)
    if e.ndim != 3:
        raise MetricInputError(f"emb must be 3-D (prompts, samples, D), got shape {e.shape}")
    if not np.isfinite(e).all():
        raise MetricInputError("emb contains NaN or inf")
    if n_pairs < 1 or e.shape[1] < n_pairs:
        raise MetricInputError(
            f"multimodality needs 1 <= n_pairs <= samples per prompt, got n_pairs={n_pairs}, S={e.shape[1]}"
        )
    rng = _rng(seed)
    first = rng.choice(e.shape[1], n_pairs, replace=False)
    second = rng.choice(e.shape[1], n_pairs, replace=False)
    return float(np.linalg.norm(e[:, first] - e[:, second], axis=2).mean())


# --- prediction / in-between --------------------------------------------------------------------------


def ade_fde(
    pred: np.ndarray,
    target: np.ndarray,
    start: int = 0,
    end: int | None = None,
    reduce: str = "pose",
) -> tuple[float, float]:
    """Average and final displacement error over frames ``[start, end)`` of joint positions.

    Args:
        pred: ``(T, J, 3)`` or ``(B, T, J, 3)`` joint positions in metres.
        target: same shape as ``pred``.
        start, end: the frames that were to be predicted (e.g. after the given first 20 %).
        reduce: ``"pose"`` (MotionGPT's definition, used in its tables): per frame, the Euclidean norm of
            the whole flattened ``J*3`` pose difference, in metres; ``"joint"``: per frame, the mean
            per-joint Euclidean error (MPJPE-style), in metres.

    Returns:
        ``(ade, fde)`` in metres, averaged over the batch: ADE over the frames, FDE at the last frame.
    """
    p = np.asarray(pred, dtype=np.float64)
    g = np.asarray(target, dtype=np.float64)
    _same_shape(p, g, "pred", "target")
    if p.ndim == 3:
        p, g = p[None], g[None]
    if p.ndim != 4 or p.shape[-1] != 3:
        raise MetricInputError(f"pred must be (T, J, 3) or (B, T, J, 3), got shape {np.shape(pred)}")
    if not (np.isfinite(p).all() and np.isfinite(g).all()):
        raise MetricInputError("pred or target contains NaN or inf")
    end = p.shape[1] if end is None else end
    if not 0 <= start < end <= p.shape[1]:
        raise MetricInputError(f"need 0 <= start < end <= T={p.shape[1]}, got start={start}, end={end}")
    diff = p[:, start:end] - g[:, start:end]  # (B, t, J, 3)
    if reduce == "pose":
        dist = np.linalg.norm(diff.reshape(*diff.shape[:2], -1), axis=-1)  # (B, t)
    elif reduce == "joint":
        dist = np.linalg.norm(diff, axis=-1).mean(-1)  # (B, t)
    else:
        raise MetricInputError(f"reduce must be 'pose' or 'joint', got {reduce!r}")
    return float(dist.mean(1).mean()), float(dist[:, -1].mean())


# --- replications -------------------------------------------------------------------------------------


def mean_ci(values: Sequence[float] | np.ndarray) -> tuple[float, float]:
    """Mean and 95 % confidence half-width ``1.96 * std / sqrt(n)`` (population std) of replications."""
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 1 or v.size == 0:
        raise MetricInputError(f"values must be a non-empty 1-D sequence, got shape {v.shape}")
    if not np.isfinite(v).all():
        raise MetricInputError("values contains NaN or inf")
    return float(v.mean()), float(1.96 * v.std() / np.sqrt(v.size))
