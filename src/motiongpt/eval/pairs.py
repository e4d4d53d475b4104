"""Drawing text–motion pairs from a corpus the way the T2M evaluation loader does.

For every item (clip or time-span sub-clip) of a split, one of its captions is drawn at random and the
motion is cut at random to ``min(T, 196) // 4 * 4`` frames, or one unit (4 frames) shorter with
probability 1/3 (T2M's "single"/"double" coin). Every replication draws again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from motiongpt.motion.skeleton import MAX_FRAMES

__all__ = ["Pairs", "crop_motion", "distinct_text_order", "sample_pairs"]


class _Caption(Protocol):
    text: str
    tokens: tuple[str, ...]


class _Clip(Protocol):
    name: str
    features: np.ndarray
    captions: tuple[_Caption, ...]


@dataclass(frozen=True)
class Pairs:
    """Aligned lists: raw features ``motions[i]`` ``(T_i, F)`` are described by ``texts[i]``/``tokens[i]``."""

    names: list[str]
    motions: list[np.ndarray]
    texts: list[str]
    tokens: list[tuple[str, ...]]
    all_texts: list[list[str]]  # every caption of the item (references for captioning metrics)

    def __len__(self) -> int:
        return len(self.names)

    @property
    def lengths(self) -> list[int]:
        return [int(m.shape[0]) for m in self.motions]


def crop_motion(
    features: np.ndarray,
    rng: np.random.Generator,
    max_len: int = MAX_FRAMES,
    unit: int = 4,
    coin: bool = True,
) -> np.ndarray:
    """A random window of ``min(T, max_len) // unit * unit`` frames (one unit less with p=1/3 if ``coin``)."""
    n = min(features.shape[0], max_len) // unit * unit
    if coin and n > unit and rng.random() < 1 / 3:
        n -= unit
    start = int(rng.integers(0, features.shape[0] - n + 1))
    return np.asarray(features[start : start + n], dtype=np.float32)


def sample_pairs(
    dataset: Sequence[_Clip],
    rng: np.random.Generator,
    max_len: int = MAX_FRAMES,
    unit: int = 4,
    coin: bool = True,
    shuffle: bool = True,
) -> Pairs:
    """One caption and one random crop per item, in a shuffled order."""
    order = rng.permutation(len(dataset)) if shuffle else np.arange(len(dataset))
    names, motions, texts, tokens, refs = [], [], [], [], []
    for i in order:
        clip = dataset[int(i)]
        cap = clip.captions[int(rng.integers(len(clip.captions)))]
        names.append(clip.name)
        motions.append(crop_motion(np.asarray(clip.features), rng, max_len, unit, coin))
        texts.append(cap.text)
        tokens.append(tuple(cap.tokens))
        refs.append([c.text for c in clip.captions])
    return Pairs(names, motions, texts, tokens, refs)


def distinct_text_order(texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
    """Indices grouping ``texts`` into full batches in which no caption text appears twice.

    Greedy in the given order: each index joins the first open batch without its text; batches that
    cannot be filled are dropped. Used for the de-duplicated R-precision variant (templated corpora
    repeat captions, which makes the standard protocol's "1 true + 31 others" ambiguous).
    """
    batches: list[list[int]] = []
    seen: list[set[str]] = []
    for i, t in enumerate(texts):
        for b, s in zip(batches, seen, strict=True):
            if len(b) < batch_size and t not in s:
                b.append(i)
                s.add(t)
                break
        else:
            batches.append([i])
            seen.append({t})
    full = [b for b in batches if len(b) == batch_size]
    return np.asarray([i for b in full for i in b], dtype=np.int64)
