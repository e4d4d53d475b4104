"""Train our own T2M evaluator on any HumanML3D-format corpus, then measure it on the test split.

Choices (documented in ``configs/evaluator.yaml``):

* Loss: ``"infonce"`` (default; symmetric cross-entropy over negative distances, which trains faster on
  CPU) or ``"t2m"`` (the original margin loss, margin 10, one rolled negative per pair). In both, pairs
  of a batch whose captions are the *same text* are not used as each other's negatives: templated
  corpora repeat captions, and pushing such pairs apart would teach the evaluator noise.
* The movement encoder is trained jointly with the rest (no separate auto-encoder pre-training).
* Motion crops and caption choice follow the evaluation loader (``pairs.py``).
* The best checkpoint by validation R-precision top-3 is kept.

Reported on the test split: R-precision top-1/2/3 in batches of 32 (the protocol, exactly) and a
de-duplicated variant (batches with distinct caption texts), MM-Dist, Diversity, FID between test and
train real motions, each as mean ± 95 % CI over replications.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from motiongpt._io import atomic_write_text
from motiongpt.errors import CorpusError
from motiongpt.eval import metrics
from motiongpt.eval.evaluator import EvaluatorConfig, T2MEvaluator, contrastive_loss, pad_motions
from motiongpt.eval.pairs import crop_motion, distinct_text_order, sample_pairs

logger = logging.getLogger(__name__)

__all__ = ["real_retrieval_metrics", "train_evaluator"]


class _TextCache:
    """Word/POS arrays per distinct token tuple, computed once."""

    def __init__(self, model: T2MEvaluator) -> None:
        self.model = model
        self.cache: dict[tuple[str, ...], tuple[np.ndarray, np.ndarray, int]] = {}

    def batch(self, tokens: Sequence[tuple[str, ...]]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        rows = []
        for t in tokens:
            if t not in self.cache:
                self.cache[t] = self.model.words.encode(t, self.model.cfg.max_text_len)
            rows.append(self.cache[t])
        return (
            torch.from_numpy(np.stack([r[0] for r in rows])),
            torch.from_numpy(np.stack([r[1] for r in rows])),
            torch.tensor([r[2] for r in rows], dtype=torch.int64),
        )


def _load_split(data: Path, split: str, cfg: EvaluatorConfig) -> list[Any]:
    from motiongpt.data import HumanML3D  # data comes before eval in the import order

    ds = HumanML3D(data, split, max_frames=cfg.max_motion_len)
    if len(ds) == 0:
        raise CorpusError(f"{data}: the {split} split has no usable clips")
    # materialise once: the features are memory-mapped and read at every step otherwise
    return [type(c)(c.name, np.asarray(c.features, np.float32), c.captions) for c in ds]


def real_retrieval_metrics(
    model: T2MEvaluator,
    test: Sequence[Any],
    reference: Sequence[Any] | None = None,
    replications: int = 5,
    seed: int = 0,
    batch_size: int = 32,
) -> dict[str, Any]:
    """Real-motion metrics of an evaluator: R-precision (protocol and de-duplicated), MM-Dist,
    Diversity, and FID of ``test`` against ``reference`` (e.g. the train split), over replications."""
    runs: dict[str, list[float]] = {}
    ref_emb = None
    if reference is not None:
        rng = np.random.default_rng(seed + 10_000)
        ref_emb = model.embed_motions(sample_pairs(reference, rng, coin=True).motions)
    for r in range(replications):
        rng = np.random.default_rng(seed + r)
        pairs = sample_pairs(test, rng)
        t = model.embed_captions(pairs.tokens)
        m = model.embed_motions(pairs.motions)
        vals: dict[str, float] = {}
        if len(pairs) >= batch_size:
            rp = metrics.r_precision(t, m, 3, batch_size)
            vals |= {f"r_precision_top{k + 1}": float(rp[k]) for k in range(3)}
            order = distinct_text_order(pairs.texts, batch_size)
            if len(order):
                rp = metrics.r_precision(t[order], m[order], 3, batch_size)
                vals |= {f"r_precision_distinct_top{k + 1}": float(rp[k]) for k in range(3)}
        vals["mm_dist"] = metrics.mm_dist(t, m)
        vals["diversity"] = metrics.diversity(m, min(300, len(m) - 1), rng)
        if ref_emb is not None:
            vals["fid_vs_reference"] = metrics.fid(m, ref_emb)
        for k, v in vals.items():
            runs.setdefault(k, []).append(v)
    out: dict[str, Any] = {"replications": replications, "n_pairs": len(test)}
    for k, v in runs.items():
        mean, ci = metrics.mean_ci(v)
        out[k] = {"mean": mean, "ci95": ci}
    return out


def train_evaluator(
    data: str | os.PathLike,
    cfg: EvaluatorConfig,
    out: str | os.PathLike,
    replications: int = 5,
    progress: bool = True,
) -> dict[str, Any]:
    """Train an evaluator on ``data`` (HumanML3D format), save it to ``out``, return its test metrics.

    Writes ``out/config.yaml``, ``out/model.safetensors`` (with the corpus mean/std as buffers) and
    ``out/metrics.json``; the returned dict is the content of the latter.
    """
    from tqdm import tqdm

    data, out = Path(data), Path(out)
    tc = cfg.train
    torch.set_num_threads(tc.num_threads)
    torch.manual_seed(tc.seed)
    rng = np.random.default_rng(tc.seed)
    train = _load_split(data, "train", cfg)
    val = _load_split(data, "val", cfg)
    test = _load_split(data, "test", cfg)
    norm = np.load(data / "Mean.npy"), np.load(data / "Std.npy")
    model = T2MEvaluator(cfg, *norm)
    texts = _TextCache(model)
    opt = torch.optim.AdamW(model.parameters(), lr=tc.lr, weight_decay=tc.weight_decay)
    logger.info(
        "training evaluator on %s: %d train / %d val / %d test items", data, len(train), len(val), len(test)
    )
    if len(train) < tc.batch_size:
        logger.warning("train split has %d items, fewer than batch_size=%d", len(train), tc.batch_size)

    best, best_state, history = -1.0, None, []
    t0 = time.monotonic()
    step = 0
    bar = tqdm(total=tc.max_steps, desc="evaluator", disable=not progress, mininterval=5)
    while step < tc.max_steps and (time.monotonic() - t0) / 60 < tc.max_minutes:
        model.train()
        idx = rng.choice(len(train), min(tc.batch_size, len(train)), replace=False)
        clips = [train[i] for i in idx]
        caps = [c.captions[int(rng.integers(len(c.captions)))] for c in clips]
        motions = [crop_motion(c.features, rng, cfg.max_motion_len, cfg.unit_length) for c in clips]
        x, lengths = pad_motions(motions, cfg)
        w, p, n = texts.batch([tuple(c.tokens) for c in caps])
        cap_text = [c.text for c in caps]
        same = torch.tensor([[a == b for b in cap_text] for a in cap_text])
        loss = contrastive_loss(
            model.encode_text(w, p, n),
            model.encode_motion(torch.from_numpy(x), torch.from_numpy(lengths)),
            tc,
            same,
        )
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        step += 1
        bar.update(1)
        bar.set_postfix(loss=f"{loss.item():.3f}", refresh=False)
        history.append(float(loss.item()))
        if step % tc.val_every == 0 or step == tc.max_steps:
            score = _val_score(model, val, tc.seed, cfg.train.batch_size)
            logger.info(
                "step %d  loss %.4f  val top-3 %.3f  (%.1f min)",
                step,
                np.mean(history[-tc.val_every :]),
                score,
                (time.monotonic() - t0) / 60,
            )
            if score > best:
                best, best_state = score, {k: v.detach().clone() for k, v in model.state_dict().items()}
    bar.close()
    if best_state is None or step % tc.val_every:
        score = _val_score(model, val, tc.seed, cfg.train.batch_size)
        if score > best:
            best, best_state = score, {k: v.detach().clone() for k, v in model.state_dict().items()}
    model.load_state_dict(best_state)
    model.eval()
    model.save_pretrained(out)
    result = {
        "data": str(data),
        "steps": step,
        "minutes": round((time.monotonic() - t0) / 60, 2),
        "loss": cfg.train.loss,
        "loss_first": float(np.mean(history[:10])),
        "loss_last": float(np.mean(history[-10:])),
        "val_r_precision_top3": best,
        "word_vectors": cfg.word_vectors,
        "test": real_retrieval_metrics(model, test, train, replications, tc.seed),
    }
    atomic_write_text(out / "metrics.json", json.dumps(result, indent=2))
    return result


def _val_score(model: T2MEvaluator, val: Sequence[Any], seed: int, batch_size: int) -> float:
    """Validation R-precision top-3 (batches of min(32, N)) for model selection."""
    pairs = sample_pairs(val, np.random.default_rng(seed))
    bs = min(batch_size, len(pairs))
    if bs < 2:
        return 0.0
    t = model.embed_captions(pairs.tokens)
    m = model.embed_motions(pairs.motions)
    return float(metrics.r_precision(t, m, min(3, bs), bs)[-1])
