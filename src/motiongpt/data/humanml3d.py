"""Read any HumanML3D-format folder: ``HumanML3D(root, split)`` is a ``Sequence[MotionClip]``.

The folder layout (the original HumanML3D release, and what ``build_corpus`` writes)::

    root/
      new_joint_vecs/{name}.npy   float32 (T, 263) raw features, 20 fps
      new_joints/{name}.npy       float32 (T, 22, 3) joints (optional, not read here)
      texts/{name}.txt            one caption a line: ``caption#word/POS word/POS ...#start#end``
      Mean.npy, Std.npy           float32 (263,) normalisation statistics
      train.txt, val.txt, test.txt  clip names, one a line

Time-span captions. A caption whose ``start``/``end`` are not both 0 describes only the frames
``[int(start * 20), int(end * 20))`` of its clip. As in the original loader, such a sub-clip becomes its
own item, named ``"{name}#{start:g}#{end:g}"`` (e.g. ``"000123#1.5#4"``); all captions with the same
span share one item. Those captions keep their ``start``/``end`` (seconds into the source clip) as a
record; the item's ``features`` are already cut, so consumers must not cut them again. Whole-clip
captions (``0, 0``) share the item named ``name``.

The length filter ``min_frames <= T <= max_frames`` applies to every (sub-)clip; clips without a caption
are skipped. Both counts are logged. Features are read lazily through ``np.load(mmap_mode="r")``, so a
corpus of any size costs little memory; shapes are checked when the dataset is built.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import overload

import numpy as np

from motiongpt.errors import CorpusError
from motiongpt.motion.normalizer import Normalizer
from motiongpt.motion.skeleton import FEATURE_DIM, FPS, MAX_FRAMES

log = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class Caption:
    """One description of a motion.

    Attributes:
        text: the sentence, e.g. ``"a person walks forward"``.
        tokens: ``"word/POS"`` strings, lemma as the word, e.g. ``("a/DET", "person/NOUN", "walk/VERB")``.
        start: seconds into the source clip where the described span starts (0, 0 = whole clip).
        end: seconds where it ends.
    """

    text: str
    tokens: tuple[str, ...]
    start: float = 0.0
    end: float = 0.0

    @property
    def is_whole_clip(self) -> bool:
        return self.start == 0.0 and self.end == 0.0

    def to_line(self) -> str:
        """The HumanML3D ``texts/*.txt`` line for this caption (without newline)."""
        if "#" in self.text or "\n" in self.text:
            raise ValueError(f"caption text must not contain '#' or a newline, got {self.text!r}")
        return f"{self.text}#{' '.join(self.tokens)}#{self.start!r}#{self.end!r}"

    @classmethod
    def from_line(cls, line: str, where: str = "<line>") -> Caption:
        """Parse ``caption#word/POS ...#start#end``; ``where`` names the file and line in errors."""
        parts = line.rstrip("\n").split("#")
        if len(parts) != 4:
            raise CorpusError(
                f"{where}: expected 4 '#'-separated fields (caption#tokens#start#end), "
                f"got {len(parts)}: {line.strip()!r}"
            )
        text, tokens, start, end = parts
        try:
            t0, t1 = float(start), float(end)
        except ValueError:
            raise CorpusError(f"{where}: start/end must be numbers, got {start!r} and {end!r}") from None
        if np.isnan(t0) or np.isnan(t1):
            t0, t1 = 0.0, 0.0  # HumanML3D writes "nan" for some whole-clip captions
        return cls(text.strip(), tuple(tokens.split()), t0, t1)


@dataclass(frozen=True)
class MotionClip:
    """A motion with its captions.

    Attributes:
        name: clip name, or ``"{name}#{start:g}#{end:g}"`` for a time-span sub-clip.
        features: ``(T, 263)`` float32 raw (un-normalised) features at 20 fps.
        captions: one or more captions.
    """

    name: str
    features: np.ndarray  # (T, F)
    captions: tuple[Caption, ...]

    def __len__(self) -> int:
        return int(self.features.shape[0])


@dataclass(frozen=True)
class _Item:
    name: str
    path: Path
    start: int  # frame range into the file's features
    end: int
    captions: tuple[Caption, ...]


def read_texts(path: Path) -> list[Caption]:
    """All captions of one ``texts/*.txt`` file (blank lines ignored)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [Caption.from_line(line, f"{path}:{i + 1}") for i, line in enumerate(lines) if line.strip()]


def read_split(root: Path, split: str) -> list[str]:
    """Clip names listed in ``root/{split}.txt``."""
    path = root / f"{split}.txt"
    if not path.is_file():
        raise CorpusError(f"split file missing: {path} (a HumanML3D folder has train.txt, val.txt, test.txt)")
    return [n.strip() for n in path.read_text(encoding="utf-8").splitlines() if n.strip()]


def _span_name(name: str, start: float, end: float) -> str:
    return f"{name}#{start:g}#{end:g}"


def clip_of(item: str) -> str:
    """The clip an item belongs to (``"000123#1.5#4"`` -> ``"000123"``)."""
    return item.split("#", 1)[0]


def item_name(clip: str, caption: Caption) -> str:
    """The item a caption of ``clip`` belongs to: the clip, or its span ``"{clip}#{start:g}#{end:g}"``."""
    return clip if caption.is_whole_clip else _span_name(clip, caption.start, caption.end)


class HumanML3D(Sequence[MotionClip]):
    """A split of a HumanML3D-format corpus as a ``Sequence[MotionClip]``.

    Args:
        root: the corpus folder.
        split: ``"train"``, ``"val"`` or ``"test"``.
        min_frames: shortest (sub-)clip kept, in frames at 20 fps.
        max_frames: longest (sub-)clip kept.

    Raises:
        CorpusError: a folder, split file, listed clip's ``.npy`` or caption file is missing, a caption
            line is malformed, or a feature file is not ``(T, 263)``.

    Example:
        >>> ds = HumanML3D("corpus", "train")
        >>> clip = ds[0]; clip.features.shape  # (T, 263)
        >>> x = ds.normalizer.normalize(clip.features)
    """

    def __init__(
        self,
        root: str | os.PathLike,
        split: str = "train",
        min_frames: int = 40,
        max_frames: int = MAX_FRAMES,
    ) -> None:
        if split not in SPLITS:
            raise ValueError(f"split must be one of {list(SPLITS)}, got {split!r}")
        if not 1 <= min_frames <= max_frames:
            raise ValueError(
                f"need 1 <= min_frames <= max_frames, got min_frames={min_frames}, max_frames={max_frames}"
            )
        self.root = Path(root)
        self.split = split
        self.min_frames, self.max_frames = min_frames, max_frames
        if not self.root.is_dir():
            raise CorpusError(f"corpus folder not found: {self.root}")
        for sub in ("new_joint_vecs", "texts"):
            if not (self.root / sub).is_dir():
                raise CorpusError(f"corpus folder {self.root} has no {sub}/ folder")
        for stat in ("Mean.npy", "Std.npy"):
            if not (self.root / stat).is_file():
                raise CorpusError(f"corpus folder {self.root} has no {stat} (the feature statistics)")
        self.normalizer = Normalizer.load(self.root)
        self._items = self._index(read_split(self.root, split))

    def _index(self, names: list[str]) -> list[_Item]:
        items: list[_Item] = []
        n_uncaptioned = n_short = n_long = 0
        for name in names:
            npy = self.root / "new_joint_vecs" / f"{name}.npy"
            txt = self.root / "texts" / f"{name}.txt"
            if not npy.is_file():
                raise CorpusError(f"{self.split}.txt lists {name!r} but {npy} is missing")
            if not txt.is_file():
                raise CorpusError(f"{self.split}.txt lists {name!r} but {txt} is missing")
            shape = np.load(npy, mmap_mode="r").shape
            if len(shape) != 2 or shape[1] != FEATURE_DIM:
                raise CorpusError(f"{npy}: expected features of shape (T, {FEATURE_DIM}), got {shape}")
            captions = read_texts(txt)
            if not captions:
                n_uncaptioned += 1
                continue
            spans: dict[tuple[float, float], list[Caption]] = {}
            for cap in captions:
                spans.setdefault((cap.start, cap.end), []).append(cap)
            for (t0, t1), caps in spans.items():
                item = item_name(name, caps[0])
                if caps[0].is_whole_clip:
                    start, end = 0, shape[0]
                else:
                    start, end = int(t0 * FPS), min(int(t1 * FPS), shape[0])
                n = end - start
                if n < self.min_frames:
                    n_short += 1
                elif n > self.max_frames:
                    n_long += 1
                else:
                    items.append(_Item(item, npy, start, end, tuple(caps)))
        if n_uncaptioned or n_short or n_long:
            log.info(
                "%s/%s: skipped %d clips without captions, %d (sub)clips shorter than %d frames, "
                "%d longer than %d frames; %d items kept",
                self.root, self.split, n_uncaptioned, n_short, self.min_frames, n_long, self.max_frames,
                len(items),
            )  # fmt: skip
        return items

    @property
    def names(self) -> list[str]:
        """Item names in order (``"{name}#{start:g}#{end:g}"`` for time-span sub-clips)."""
        return [it.name for it in self._items]

    def __len__(self) -> int:
        return len(self._items)

    @overload
    def __getitem__(self, index: int) -> MotionClip: ...
    @overload
    def __getitem__(self, index: slice) -> list[MotionClip]: ...

    def __getitem__(self, index: int | slice) -> MotionClip | list[MotionClip]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        it = self._items[index]
        feats = np.load(it.path, mmap_mode="r")[it.start : it.end]
        return MotionClip(it.name, np.array(feats, dtype=np.float32), it.captions)

    def __iter__(self) -> Iterator[MotionClip]:
        for i in range(len(self)):
            yield self[i]

    def __repr__(self) -> str:
        return f"HumanML3D(root={str(self.root)!r}, split={self.split!r}, items={len(self)})"


# --- token clips: the items as the language model sees them -------------------------------------------
@dataclass(frozen=True)
class TokenClip:
    """A corpus item as the LM sees it: motion tokens, captions and labels (no features).

    Attributes:
        name: item name (``"{name}"`` or ``"{name}#{start:g}#{end:g}"``).
        tokens: ``(N,)`` int64 codebook indices (one per ``frames_per_token`` frames).
        captions: caption texts.
        content, style: Bandai Namco labels (None for other sources).
        source: the corpus source (``"bandai-namco-1"``, ``"cmu"``, ...), or None.
        templated: the captions were generated from labels, not written by people.
    """

    name: str
    tokens: np.ndarray  # (N,)
    captions: tuple[str, ...]
    content: str | None = None
    style: str | None = None
    source: str | None = None
    templated: bool = False

    @property
    def n_tokens(self) -> int:
        return int(len(self.tokens))


def read_token_clips(
    corpus: str | os.PathLike,
    split: str,
    tokens: Mapping[str, np.ndarray],
    min_frames: int = 40,
    max_frames: int = MAX_FRAMES,
    *,
    frames_per_token: int,
) -> list[TokenClip]:
    """The items of a corpus split as the LM sees them (captions, tokens, labels), without feature files.

    ``tokens`` maps item names (``"{name}"``, or ``"{name}#{start:g}#{end:g}"`` for a time-span caption,
    see :func:`item_name`) to codebook indices, as ``motiongpt tokenize`` writes them. An item is kept
    when its clip is listed in ``{split}.txt``, it has captions for that span, and its length ``T`` can
    lie in ``[min_frames, max_frames]`` (``T`` is known to within a token of ``frames_per_token`` frames,
    the motion tokenizer's downsampling: ``f N <= T < f N + f``; it has no default, as a wrong one gives
    wrong lengths silently: pass the token file's, ``motiongpt.tokenizer.tokenize.read_frames_per_token``).
    Labels come from ``corpus.json`` (:func:`motiongpt.data.manifest.read_manifest`). Only ``texts/`` and
    the split lists are read.
    """
    from motiongpt.data.manifest import read_manifest

    if isinstance(frames_per_token, bool) or not isinstance(frames_per_token, int) or frames_per_token < 1:
        raise ValueError(f"frames_per_token must be an int >= 1, got {frames_per_token!r}")

    root = Path(corpus)
    members = set(read_split(root, split))
    manifest = read_manifest(root)
    captions: dict[str, list[Caption]] = {}
    out, n_out_of_range, n_uncaptioned = [], 0, 0
    fpt = frames_per_token
    for name, tok in tokens.items():
        base = clip_of(name)
        if base not in members:
            continue
        t_min, t_max = fpt * len(tok), fpt * len(tok) + fpt - 1
        if len(tok) == 0 or t_max < min_frames or t_min > max_frames:
            n_out_of_range += 1
            continue
        if base not in captions:
            path = root / "texts" / f"{base}.txt"
            if not path.is_file():
                raise CorpusError(f"{split}.txt lists {base!r} but {path} is missing")
            captions[base] = read_texts(path)
        texts = tuple(dict.fromkeys(c.text for c in captions[base] if item_name(base, c) == name))
        if not texts:
            n_uncaptioned += 1
            continue
        e = manifest.entry(base)
        out.append(TokenClip(name, np.asarray(tok, dtype=np.int64), texts, e.content, e.style, e.source,
                             e.templated))  # fmt: skip
    if n_out_of_range or n_uncaptioned:
        log.info("%s/%s: %d items outside %d..%d frames, %d without captions left out; %d kept",
                 root, split, n_out_of_range, min_frames, max_frames, n_uncaptioned, len(out))  # fmt: skip
    return out
