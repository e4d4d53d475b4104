"""Encode a whole corpus to motion tokens: ``tokenize_corpus(tokenizer_dir, data, out)``.

File format — one ``{out}/{split}.npz`` per split (written atomically), holding:

- ``names``: ``(M,)`` str, the ``HumanML3D`` item names (``"{name}#{start:g}#{end:g}"`` for sub-clips);
- ``offsets``: ``(M + 1,)`` int64; clip ``i``'s tokens are ``tokens[offsets[i]:offsets[i + 1]]``;
- ``tokens``: ``(sum N_i,)`` int16 codebook indices, ``N_i = T_i // 4`` (trailing ``T_i % 4`` frames dropped);
- ``codebook_size``: ``()`` int64;
- ``frames_per_token``: ``()`` int64, the tokenizer's downsampling (files written before it was recorded
  hold 4, the only downsampling used then; :func:`read_frames_per_token` says so).

With ``mirror=True`` the train split is also encoded left/right mirrored (joints mirrored, features
recomputed, so one frame fewer) into ``{out}/train.mirror.npz``, under the original item names; the LM
stage turns those into extra clips with "left" and "right" swapped in their captions.

One flat file per split instead of one ``.npy`` per clip: a 100k-clip corpus stays three files, loads in
one read, and is replaced atomically. ``load_tokens(path) -> dict[name, (N,) int16]`` reads it back.
Every clip with at least one token's worth of frames is encoded, whatever its length (the LM stage applies
its own length filter by name).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import torch

from motiongpt._io import atomic_path
from motiongpt.data.humanml3d import SPLITS, HumanML3D
from motiongpt.tokenizer.model import MotionTokenizer

log = logging.getLogger(__name__)

ALL_FRAMES = 10**9  # max_frames that keeps every clip


def length_buckets(lengths: Sequence[int], unit: int, batch_size: int) -> Iterator[list[int]]:
    """Group clip indices with the same usable length ``unit * (T // unit)`` into batches of at most
    ``batch_size``, so that a batch needs no padding (and equals encoding clip by clip)."""
    by_len: dict[int, list[int]] = {}
    for i, n in enumerate(lengths):
        if n >= unit:
            by_len.setdefault(n // unit * unit, []).append(i)
    for n in sorted(by_len):
        group = by_len[n]
        for s in range(0, len(group), batch_size):
            yield group[s : s + batch_size]


def clip_lengths(clips: HumanML3D) -> list[int]:
    """Frame counts of all items, without reading feature files when the index knows them."""
    items = getattr(clips, "_items", None)
    if items is not None:
        return [it.end - it.start for it in items]
    return [len(c) for c in clips]


@torch.no_grad()
def encode_features(
    model: MotionTokenizer,
    feats: Sequence[np.ndarray],
    batch_size: int = 256,
    device: str | torch.device = "cpu",
) -> list[np.ndarray]:
    """Raw features ``(T_i, F)`` -> tokens ``(T_i // 4,)`` int64 each (equal-length batches, no padding)."""
    unit = model.downsample_factor
    out: list[np.ndarray] = [np.zeros(0, dtype=np.int64)] * len(feats)
    for batch in length_buckets([len(f) for f in feats], unit, batch_size):
        n = len(feats[batch[0]]) // unit * unit
        x = torch.from_numpy(np.stack([feats[i][:n] for i in batch]).astype(np.float32)).to(device)
        for i, idx in zip(batch, model.encode(model.normalize(x)).cpu().numpy(), strict=True):
            out[i] = idx
    return out


def mirrored_features(clips: HumanML3D) -> list[np.ndarray]:
    """Features of every item mirrored left/right (``(T - 1, F)``: recomputed from mirrored joints)."""
    from motiongpt.motion.features import features_to_joints, joints_to_features
    from motiongpt.motion.skeleton import mirror_joints

    return [np.asarray(joints_to_features(mirror_joints(features_to_joints(c.features))), np.float32)
            for c in clips]  # fmt: skip


@torch.no_grad()
def encode_clips(
    model: MotionTokenizer, clips: HumanML3D, batch_size: int = 256, device: str | torch.device = "cpu"
) -> Iterator[tuple[list[int], np.ndarray]]:
    """Yield ``(clip indices, tokens (b, N) int64)`` for batches of equal-length clips of ``clips``."""
    unit = model.downsample_factor
    for batch in length_buckets(clip_lengths(clips), unit, batch_size):
        feats = [clips[i].features for i in batch]
        n = len(feats[0]) // unit * unit
        x = torch.from_numpy(np.stack([f[:n] for f in feats])).to(device)  # (b, 4N, F) raw
        yield batch, model.encode(model.normalize(x)).cpu().numpy()


LEGACY_FRAMES_PER_TOKEN = 4  # token files without the field were all written by 4-frame tokenizers


def save_tokens(
    path: str | os.PathLike,
    tokens: dict[str, np.ndarray],
    codebook_size: int,
    frames_per_token: int = LEGACY_FRAMES_PER_TOKEN,
) -> Path:
    """Write ``{name: (N,) ints}`` in the flat per-split format (atomically), with the tokenizer's
    ``codebook_size`` and ``frames_per_token`` (its ``downsample_factor``)."""
    names = list(tokens)
    lengths = np.array([len(tokens[n]) for n in names], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    flat = np.concatenate([tokens[n] for n in names]) if names else np.zeros(0)
    if flat.size and (flat.min() < 0 or flat.max() > np.iinfo(np.int16).max):
        raise ValueError(f"token values must fit in int16, got range [{flat.min()}, {flat.max()}]")
    path = Path(path)
    with atomic_path(path) as tmp:
        np.savez(
            tmp,
            names=np.array(names, dtype=str),
            offsets=offsets,
            tokens=flat.astype(np.int16),
            codebook_size=np.int64(codebook_size),
            frames_per_token=np.int64(frames_per_token),
        )
    return path



def read_frames_per_token(path: str | os.PathLike) -> int:
    """The frames per token of a ``{split}.npz`` token file (:data:`LEGACY_FRAMES_PER_TOKEN` for files
    written before it was recorded)."""
    with np.load(path, allow_pickle=False) as z:
        return int(z["frames_per_token"]) if "frames_per_token" in z.files else LEGACY_FRAMES_PER_TOKEN


def load_tokens(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read a ``{split}.npz`` token file: ``{item name: (N,) int16}`` in file order."""
    with np.load(path, allow_pickle=False) as z:
        names, offsets, flat = z["names"], z["offsets"], z["tokens"]
    return {str(n): flat[offsets[i] : offsets[i + 1]] for i, n in enumerate(names)}


def tokenize_corpus(
    tokenizer_dir: str | os.PathLike,
    data: str | os.PathLike,
    out: str | os.PathLike | None = None,
    *,
    splits: Sequence[str] = SPLITS,
    batch_size: int = 256,
    device: str | torch.device = "cpu",
    mirror: bool = False,
) -> dict[str, Path]:
    """Encode every item of every split of corpus ``data`` with the tokenizer in ``tokenizer_dir``.

    Writes ``{out}/{split}.npz`` (default ``out = tokenizer_dir/tokens``) and, with ``mirror``,
    ``{out}/train.mirror.npz``; returns ``{split: path}`` (``"train.mirror"`` too).
    Splits whose list file is missing are skipped with a log line.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    model = MotionTokenizer.from_pretrained(tokenizer_dir, map_location=device)
    out = Path(out) if out is not None else Path(tokenizer_dir) / "tokens"
    written: dict[str, Path] = {}
    for split in splits:
        if not (Path(data) / f"{split}.txt").is_file():
            log.info("tokenize: %s has no %s.txt, skipped", data, split)
            continue
        clips = HumanML3D(data, split, min_frames=model.downsample_factor, max_frames=ALL_FRAMES)
        tokens: dict[int, np.ndarray] = {}
        for batch, idx in encode_clips(model, clips, batch_size, device):
            tokens.update(zip(batch, idx, strict=True))
        names = clips.names
        by_name = {names[i]: tokens[i] for i in sorted(tokens)}
        written[split] = save_tokens(
            out / f"{split}.npz", by_name, model.cfg.codebook_size, model.downsample_factor
        )
        log.info("tokenize: %s: %d clips, %d tokens -> %s", split, len(by_name),
                 sum(len(t) for t in by_name.values()), written[split])  # fmt: skip
        if mirror and split == "train":
            mirrored = encode_features(model, mirrored_features(clips), batch_size, device)
            kept = {names[i]: t for i, t in enumerate(mirrored) if len(t)}
            written[MIRROR] = save_tokens(out / f"{MIRROR}.npz", kept, model.cfg.codebook_size,
                                          model.downsample_factor)
            log.info("tokenize: %s: %d mirrored clips -> %s", split, len(kept), written[MIRROR])
    return written


MIRROR = "train.mirror"  # the token file of the mirrored train split


__all__ = [
    "MIRROR",
    "encode_clips",
    "encode_features",
    "length_buckets",
    "load_tokens",
    "read_frames_per_token",
    "save_tokens",
    "tokenize_corpus",
]
