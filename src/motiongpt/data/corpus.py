"""Build a HumanML3D-format corpus from the Bandai Namco and CMU archives: ``build_corpus``.

Steps, in order:

1. Unpack each archive once into a cache folder and list its BVH clips (``sources.py``).
2. Split by SOURCE clip, before any motion is read: clips are grouped by content (Bandai Namco 1:
   content; Bandai Namco 2: content and style; CMU: the description's category, else its first verb);
   each group is shuffled with an RNG seeded by ``(seed, group)`` and gets ``round(15%)`` test and
   ``round(5%)`` val clips, at least one test clip when the group has two or more. A one-clip group
   goes to train. No window of a test clip is ever in train.
3. In a process pool: ``bvh_to_joints`` (22 joints, metres, Y up, 20 fps) -> ``joints_to_features``
   (T-1, 263) -> windows. A clip of ``n`` feature frames gives one window if ``40 <= n <= 196``, none if
   ``n < 40``, and otherwise ``k = ceil((n - 196) / 160) + 1`` windows of 196 frames whose starts are
   spread evenly over ``[0, n - 196]`` (every frame used, overlaps of at least 36 frames). Window
   features are the clip's feature rows; ``new_joints`` are ``features_to_joints`` of the window, as in
   HumanML3D. Window names are ``{clip}_w{i}``.
4. Captions (``captions.py``): three templated captions per Bandai Namco clip, the sentence-wrapped real
   description for CMU (its activities split across windows in order only when there are exactly as
   many activities as windows). All are POS-tagged with spaCy (``pos.py``).
5. ``Mean.npy``/``Std.npy`` from the train windows' source clips only (each frame counted once). As in
   HumanML3D, each feature group's std (root rotation velocity, root linear velocity, root height,
   joint positions, 6D rotations, joint velocities, foot contacts) is replaced by the group's mean std,
   with a floor of 1e-3.
6. ``corpus.json``: the manifest (source archive, file, frame range, licence, caption provenance of every
   window) and the summary. It holds nothing that varies between runs (no times, no absolute paths), so
   the same sources and seed give byte-identical split files and manifest; the build time goes to
   ``build_info.json``.

Everything is written into ``{out}.tmp`` and renamed to ``out`` at the end.
"""

from __future__ import annotations

import json
import logging
import math
import multiprocessing
import os
import shutil
import sys
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from motiongpt._io import replace_dir
from motiongpt.data.captions import bandai_captions, cmu_window_captions
from motiongpt.data.humanml3d import SPLITS, Caption
from motiongpt.data.manifest import MANIFEST
from motiongpt.data.pos import pos_tag
from motiongpt.data.sources import (
    BANDAI_ATTRIBUTION,
    CMU_ACKNOWLEDGEMENT,
    SOURCES,
    SourceClip,
    default_cache_dir,
    list_clips,
)
from motiongpt.errors import CorpusError, MotionGPTError
from motiongpt.motion import skeleton as sk

log = logging.getLogger(__name__)

FORMAT_VERSION = 1  # of corpus.json (read by motiongpt.data.manifest)
MIN_FRAMES = 40
MAX_FRAMES = sk.MAX_FRAMES  # 196: windows are at most the longest motion the models write
STRIDE = 160
SPLIT_SHARES = {"test": 0.15, "val": 0.05}
CAPTIONS_PER_BANDAI_CLIP = 3
STD_FLOOR = 1e-3
STD_GROUPS = (
    sk.ROOT_ROT_VEL, sk.ROOT_LIN_VEL, sk.ROOT_HEIGHT, sk.RIC, sk.ROT6D, sk.LOCAL_VEL, sk.FOOT_CONTACT
)  # fmt: skip
BANDAI_CAPTION_SOURCE = "templated from Bandai Namco content/style labels"
CMU_CAPTION_SOURCE = "CMU data.csv Motion Description (real text), wrapped into a sentence"


# --- helpers ------------------------------------------------------------------------------------------


def windows(
    n: int, max_frames: int = MAX_FRAMES, min_frames: int = MIN_FRAMES, stride: int = STRIDE
) -> list[tuple[int, int]]:
    """Frame ranges ``[(start, end), ...]`` cutting ``n`` frames into windows (see the module docstring)."""
    if n < min_frames:
        return []
    if n <= max_frames:
        return [(0, n)]
    k = math.ceil((n - max_frames) / stride) + 1
    starts = np.round(np.linspace(0, n - max_frames, k)).astype(int)
    return [(int(s), int(s) + max_frames) for s in starts]


def _round_half_up(x: float) -> int:
    return int(math.floor(x + 0.5))


def assign_splits(clips: Iterable[SourceClip], seed: int) -> dict[str, str]:
    """``clip key -> "train" | "val" | "test"``, stratified by ``clip.group`` and seeded."""
    groups: dict[str, list[str]] = {}
    for c in clips:
        groups.setdefault(c.group, []).append(c.key)
    out = {}
    for group, keys in sorted(groups.items()):
        keys = sorted(keys)
        rng = np.random.default_rng([seed, zlib.crc32(group.encode("utf-8"))])
        order = [keys[i] for i in rng.permutation(len(keys))]
        n = len(keys)
        n_test = _round_half_up(SPLIT_SHARES["test"] * n)
        if n >= 2:
            n_test = max(1, n_test)
        n_val = min(_round_half_up(SPLIT_SHARES["val"] * n), max(0, n - n_test - 1))
        for i, key in enumerate(order):
            out[key] = "test" if i < n_test else "val" if i < n_test + n_val else "train"
    return out


def limit_clips(clips: list[SourceClip], limit: int) -> list[SourceClip]:
    """At most ``limit`` clips per source, taken in threes from each content group in turn.

    Threes, so that a small build still has groups big enough to put a clip in test.
    """
    out = []
    for source in SOURCES:
        groups: dict[str, list[SourceClip]] = {}
        for c in sorted((c for c in clips if c.source == source), key=lambda c: c.key):
            groups.setdefault(c.group, []).append(c)
        chunks = [[g[i : i + 3] for i in range(0, len(g), 3)] for _, g in sorted(groups.items())]
        picked: list[SourceClip] = []
        for r in range(max((len(c) for c in chunks), default=0)):
            for group_chunks in chunks:
                if r < len(group_chunks):
                    picked += group_chunks[r]
        out += picked[:limit]
    return out


# --- the per-clip work, run in worker processes --------------------------------------------------------


@dataclass
class _ClipResult:
    key: str
    frames: int = 0  # feature frames at 20 fps
    windows: list[tuple[int, int]] = field(default_factory=list)
    stats: np.ndarray | None = None  # (3, F) float64: count, sum, sum of squares
    error: str | None = None
    too_short: bool = False


def _motion_fns() -> tuple[Callable, Callable, Callable]:
    """``bvh_to_joints, joints_to_features, features_to_joints`` (imported here so tests can stub them)."""
    from motiongpt.motion.bvh import bvh_to_joints
    from motiongpt.motion.features import features_to_joints, joints_to_features

    return bvh_to_joints, joints_to_features, features_to_joints


def _worker_init() -> None:
    import torch  # a core dependency

    torch.set_num_threads(1)


def _process_clip(task: tuple[str, str, str]) -> _ClipResult:
    """Read one BVH, compute its features, write its windows into ``out_dir``."""
    key, path, out_dir = task
    bvh_to_joints, joints_to_features, features_to_joints = _motion_fns()
    try:
        joints = np.asarray(bvh_to_joints(path), dtype=np.float32)  # (T, 22, 3)
        if joints.shape[0] < 2:
            return _ClipResult(key, error=f"only {joints.shape[0]} frames")
        feats = np.asarray(joints_to_features(joints), dtype=np.float32)  # (T-1, 263)
    except MotionGPTError as e:
        return _ClipResult(key, error=str(e))
    if not np.isfinite(feats).all():
        return _ClipResult(key, frames=len(feats), error="features contain NaN or inf")
    wins = windows(len(feats))
    if not wins:
        return _ClipResult(
            key, frames=len(feats), error=f"{len(feats)} frames < {MIN_FRAMES}", too_short=True
        )
    out = Path(out_dir)
    for i, (a, b) in enumerate(wins):
        w = feats[a:b]
        np.save(out / "new_joint_vecs" / f"{key}_w{i}.npy", w)
        np.save(out / "new_joints" / f"{key}_w{i}.npy", np.asarray(features_to_joints(w), dtype=np.float32))
    f64 = feats.astype(np.float64)
    stats = np.stack([np.full(f64.shape[1], len(f64), dtype=np.float64), f64.sum(0), (f64**2).sum(0)])
    return _ClipResult(key, frames=len(feats), windows=wins, stats=stats)


def _run_pool(tasks: list[tuple[str, str, str]], workers: int, progress: bool) -> list[_ClipResult]:
    bar = tqdm(total=len(tasks), desc="motion", unit="clip", file=sys.stderr, disable=not progress)
    results = []
    if workers <= 1 or len(tasks) <= 1:
        for t in tasks:
            results.append(_process_clip(t))
            bar.update()
    else:
        # spawn, not fork: torch's OpenMP pool is not fork-safe once the parent has used it.
        ctx = multiprocessing.get_context("spawn")
        with ctx.Pool(workers, initializer=_worker_init) as pool:
            for r in pool.imap(_process_clip, tasks, chunksize=4):
                results.append(r)
                bar.update()
    bar.close()
    return results


# --- statistics, captions, summary ---------------------------------------------------------------------


def _mean_std(stats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    count, total, sq = stats
    mean = total / count
    std = np.sqrt(np.maximum(sq / count - mean**2, 0.0))
    for group in STD_GROUPS:
        std[group] = std[group].mean()
    return mean.astype(np.float32), np.maximum(std, STD_FLOOR).astype(np.float32)


def _window_captions(clip: SourceClip, n_windows: int, seed: int) -> tuple[list[list[str]], bool]:
    """Caption texts for each window of ``clip``, and whether CMU activities were split across them."""
    if clip.source == "cmu":
        assert clip.description is not None
        per_window, split = cmu_window_captions(clip.description, n_windows)
        return [[t] for t in per_window], split
    assert clip.content is not None and clip.style is not None
    try:
        texts = bandai_captions(clip.content, clip.style, clip.key, seed, CAPTIONS_PER_BANDAI_CLIP)
    except KeyError as e:
        raise CorpusError(f"{clip.member}: {e.args[0]}") from None
    return [texts] * n_windows, False


@dataclass
class CorpusSummary:
    """What a build produced. ``hours`` counts window frames (overlaps twice); ``source_hours`` each
    source frame once. ``templated_share`` is the share of caption lines that are templated.
    ``skipped_short`` counts clips under 40 frames, ``failed`` clips whose BVH could not be used."""

    clips: int
    windows: int
    hours: float
    source_hours: float
    captions: int
    templated_share: float
    per_split: dict[str, dict[str, int]]
    per_source: dict[str, dict[str, float]]
    skipped_short: int
    failed: int
    seconds: float = 0.0

    def to_dict(self, with_time: bool = True) -> dict[str, Any]:
        d = asdict(self)
        if not with_time:
            d.pop("seconds")
        return d

    def format(self) -> str:
        """A few lines for the terminal."""
        lines = [
            f"corpus: {self.clips} source clips -> {self.windows} windows, {self.hours:.2f} h of windows "
            f"({self.source_hours:.2f} h of source motion), {self.captions} captions "
            f"({100 * self.templated_share:.1f}% templated)",
            f"skipped: {self.skipped_short} clips shorter than {MIN_FRAMES} frames, {self.failed} unreadable",
            "splits:  " + ", ".join(
                f"{s} {d['clips']} clips / {d['windows']} windows" for s, d in self.per_split.items()
            ),
        ]  # fmt: skip
        for src, d in self.per_source.items():
            lines.append(
                f"  {src}: {d['clips']} clips, {d['windows']} windows, {d['hours']:.2f} h, "
                f"{d['captions']} captions"
            )
        lines.append(f"built in {self.seconds:.1f} s")
        return "\n".join(lines)


# --- output folder -------------------------------------------------------------------------------------


def _prepare_out(out: Path, force: bool) -> Path:
    if out.exists() and not out.is_dir():
        raise CorpusError(f"--out {out} exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not (out / MANIFEST).is_file() and not force:
        raise CorpusError(
            f"--out {out} is a non-empty folder that is not a corpus (no {MANIFEST}); "
            "choose another folder or pass --force to replace it"
        )
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    for sub in ("new_joint_vecs", "new_joints", "texts"):
        (tmp / sub).mkdir(parents=True)
    return tmp


def _dump_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")


# --- the top-level builder -----------------------------------------------------------------------------


def build_corpus(
    source: str | os.PathLike,
    out: str | os.PathLike,
    seed: int = 0,
    workers: int = 2,
    limit: int | None = None,
    cache_dir: str | os.PathLike | None = None,
    force: bool = False,
    progress: bool = True,
) -> CorpusSummary:
    """Build a HumanML3D-format corpus in ``out`` from the archives under ``source``.

    Args:
        source: the shared data folder holding ``bandai-namco/bandai-namco-motion.tar.xz`` and
            ``cmu-mocap/cmu-mocap.tar.xz``.
        out: the corpus folder to write (replaced if it already holds a corpus).
        seed: seeds the split and the templated captions; the same seed gives identical outputs.
        workers: processes for BVH parsing and features (1 = in this process).
        limit: at most this many source clips per source (for tests and quick looks).
        cache_dir: where archives are unpacked (default ``~/.cache/motiongpt/sources``).
        force: replace ``out`` even if it is a non-empty folder that is not a corpus.
        progress: show tqdm progress bars on stderr.

    Returns:
        The ``CorpusSummary``, also stored in ``corpus.json``.

    Raises:
        CorpusError: a missing archive, an unusable ``out`` folder, or no usable clip.
    """
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be >= 1 or None, got {limit}")
    t0 = time.perf_counter()
    source, out = Path(source), Path(out)
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    tmp = _prepare_out(out, force)
    try:
        summary = _build(source, tmp, seed, workers, limit, cache, progress)
        summary.seconds = round(time.perf_counter() - t0, 1)
        _dump_json(tmp / "build_info.json", {"seconds": summary.seconds, "workers": workers})
        replace_dir(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log.info("wrote corpus to %s in %.1f s", out, summary.seconds)
    return summary


def _build(
    source: Path, tmp: Path, seed: int, workers: int, limit: int | None, cache: Path, progress: bool
) -> CorpusSummary:
    clips = list_clips(source, cache)
    if limit is not None:
        clips = limit_clips(clips, limit)
    split_of = assign_splits(clips, seed)
    log.info("%d source clips; reading motion with %d worker(s)", len(clips), workers)
    results = _run_pool([(c.key, str(c.path), str(tmp)) for c in clips], workers, progress)

    by_key = {c.key: c for c in clips}
    skipped = [{"clip": r.key, "file": by_key[r.key].member, "reason": r.error} for r in results if r.error]
    n_short = sum(r.too_short for r in results)
    if n_short:
        log.info("skipped %d clips shorter than %d frames at 20 fps", n_short, MIN_FRAMES)
    for r in results:
        if r.error and not r.too_short:
            log.warning("skipped %s: %s", by_key[r.key].member, r.error)
    done = [r for r in results if not r.error]
    if not done:
        raise CorpusError(f"no usable clip in {source} ({len(skipped)} skipped)")

    # Captions, then POS tags in one batched spaCy pass.
    entries: list[tuple[str, SourceClip, tuple[int, int], list[str], bool]] = []
    for r in done:
        clip = by_key[r.key]
        per_window, activity_split = _window_captions(clip, len(r.windows), seed)
        for i, (win, texts) in enumerate(zip(r.windows, per_window, strict=True)):
            entries.append((f"{r.key}_w{i}", clip, win, texts, activity_split))
    all_texts = [t for e in entries for t in e[3]]
    log.info("POS-tagging %d captions", len(all_texts))
    tags = iter(pos_tag(all_texts))
    for name, _, _, texts, _ in entries:
        lines = [Caption(t, next(tags)).to_line() for t in texts]
        (tmp / "texts" / f"{name}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")

    # Splits and statistics (train only).
    members: dict[str, list[str]] = {s: [] for s in SPLITS}
    for name, clip, *_ in entries:
        members[split_of[clip.key]].append(name)
    train_stats = [r.stats for r in done if split_of[r.key] == "train" and r.stats is not None]
    if not train_stats:
        raise CorpusError("the train split is empty; use more clips (a larger --limit)")
    mean, std = _mean_std(np.sum(train_stats, axis=0))
    from motiongpt.motion.normalizer import Normalizer

    Normalizer(mean, std).save(tmp)
    for split, names in members.items():
        (tmp / f"{split}.txt").write_text("".join(f"{n}\n" for n in sorted(names)), encoding="utf-8")

    summary = _summarise(clips, done, entries, split_of, n_short, len(skipped) - n_short)
    manifest = {
        "format": "humanml3d",
        "format_version": FORMAT_VERSION,
        "fps": sk.FPS,
        "feature_dim": sk.FEATURE_DIM,
        "seed": seed,
        "limit": limit,
        "windowing": {"min_frames": MIN_FRAMES, "max_frames": MAX_FRAMES, "stride": STRIDE},
        "split": {"by": "source clip", "stratified_by": "content group", "shares": SPLIT_SHARES},
        "normalisation": {
            "from": "train split, each source frame once",
            "std": f"per feature group mean of per-dim std (HumanML3D), floor {STD_FLOOR}",
        },
        "licences": {
            "bandai-namco": BANDAI_ATTRIBUTION,
            "cmu": CMU_ACKNOWLEDGEMENT,
        },
        "clips": {
            name: _entry(clip, win, split_of[clip.key], split) for name, clip, win, _, split in entries
        },
        "skipped": skipped,
        "summary": summary.to_dict(with_time=False),
    }
    _dump_json(tmp / MANIFEST, manifest)
    return summary


def _entry(clip: SourceClip, win: tuple[int, int], split: str, activity_split: bool) -> dict[str, Any]:
    e: dict[str, Any] = {
        "source": clip.source,
        "source_clip": clip.key,
        "archive": clip.archive,
        "file": clip.member,
        "frames_20fps": list(win),
        "seconds": [win[0] / sk.FPS, win[1] / sk.FPS],
        "split": split,
        "licence": clip.licence,
    }
    if clip.source == "cmu":
        e |= {
            "templated": False,
            "caption_source": CMU_CAPTION_SOURCE,
            "sentence_wrapped": True,
            "activity_split": activity_split,
            "description": clip.description,
        }
    else:
        e |= {
            "templated": True,
            "caption_source": BANDAI_CAPTION_SOURCE,
            "content": clip.content,
            "style": clip.style,
        }
    return e


def _summarise(
    clips: list[SourceClip],
    done: list[_ClipResult],
    entries: list[tuple[str, SourceClip, tuple[int, int], list[str], bool]],
    split_of: dict[str, str],
    n_short: int,
    n_failed: int,
) -> CorpusSummary:
    hours = lambda frames: round(frames / sk.FPS / 3600, 4)  # noqa: E731
    by_key = {c.key: c for c in clips}
    per_split = {s: {"clips": 0, "windows": 0} for s in SPLITS}
    per_source: dict[str, dict[str, float]] = {}
    for r in done:
        per_split[split_of[r.key]]["clips"] += 1
        src = per_source.setdefault(
            by_key[r.key].source, {"clips": 0, "windows": 0, "hours": 0.0, "captions": 0}
        )
        src["clips"] += 1
    window_frames: Counter[str] = Counter()
    for _, clip, (a, b), texts, _ in entries:
        per_split[split_of[clip.key]]["windows"] += 1
        per_source[clip.source]["windows"] += 1
        per_source[clip.source]["captions"] += len(texts)
        window_frames[clip.source] += b - a
    for src, d in per_source.items():
        d["hours"] = hours(window_frames[src])
    n_captions = sum(len(e[3]) for e in entries)
    n_templated = sum(len(e[3]) for e in entries if e[1].source != "cmu")
    return CorpusSummary(
        clips=len(done),
        windows=len(entries),
        hours=hours(sum(window_frames.values())),
        source_hours=hours(sum(r.frames for r in done)),
        captions=n_captions,
        templated_share=round(n_templated / max(n_captions, 1), 4),
        per_split=per_split,
        per_source=dict(sorted(per_source.items())),
        skipped_short=n_short,
        failed=n_failed,
    )
