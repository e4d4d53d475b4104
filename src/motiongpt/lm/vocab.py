"""MotionVocab: the one source of truth for motion tokens in a language model's vocabulary.

A motion of N VQ-VAE codes is written as ``<som><motion_id_3><motion_id_17>...<eom>``. The vocab owns
the token strings, the id offset they get after ``add_tokens`` and the index <-> id mapping. Data,
LM, eval and webui all go through it.

Token layout after :meth:`MotionVocab.add_to` (ids are consecutive, starting at ``offset``)::

    offset + 0 ... offset + K - 1   <motion_id_0> ... <motion_id_{K-1}>
    offset + K                      <som>
    offset + K + 1                  <eom>
    offset + K + 2                  <motion_mask>
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from typing import Any

import numpy as np

SOM = "<som>"
EOM = "<eom>"
MASK = "<motion_mask>"
_MOTION_RE = re.compile(r"<motion_id_(\d+)>")
_SEGMENT_RE = re.compile(r"<som>(.*?)(?:<eom>|$)", re.DOTALL)


@dataclasses.dataclass(frozen=True)
class MotionVocab:
    """Motion token strings and, once bound to a tokenizer, their ids.

    Args:
        codebook_size: K, the number of VQ-VAE codes.
        offset: id of ``<motion_id_0>`` in the bound tokenizer; ``None`` while unbound.

    Example:
        >>> vocab = MotionVocab(512).add_to(hf_tokenizer)
        >>> vocab.indices_to_ids([3, 17])  # -> offset + [3, 17]
    """

    codebook_size: int = 512
    offset: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.codebook_size, int) or self.codebook_size < 1:
            raise ValueError(f"codebook_size must be a positive int, got {self.codebook_size!r}")
        if self.offset is not None and (not isinstance(self.offset, int) or self.offset < 0):
            raise ValueError(f"offset must be a non-negative int or None, got {self.offset!r}")

    # --- strings ------------------------------------------------------------------------------------
    @property
    def tokens(self) -> list[str]:
        """All K + 3 token strings in id order."""
        return [f"<motion_id_{i}>" for i in range(self.codebook_size)] + [SOM, EOM, MASK]

    def __len__(self) -> int:
        return self.codebook_size + 3

    som_token = SOM
    eom_token = EOM
    mask_token = MASK

    def motion_to_text(self, indices: Sequence[int] | np.ndarray | Any) -> str:
        """``indices (N,)`` -> ``"<som><motion_id_3>...<eom>"``."""
        idx = self._check_indices(indices)
        return SOM + "".join(f"<motion_id_{i}>" for i in idx.tolist()) + EOM

    # --- ids ----------------------------------------------------------------------------------------
    def add_to(self, tokenizer: Any) -> MotionVocab:
        """Add the tokens to a Hugging Face tokenizer (if absent) and return the bound vocab.

        Tokens already present (a tokenizer saved after ``add_to``) are reused, so this is idempotent.
        Raises ValueError if the tokens end up not consecutive (a clash with existing tokens).
        """
        from tokenizers import AddedToken

        tokens = self.tokens
        present = tokenizer.convert_tokens_to_ids(tokens[0])
        unk = getattr(tokenizer, "unk_token_id", None)
        if present is None or present == unk:
            tokenizer.add_tokens([AddedToken(t, normalized=False, special=False) for t in tokens])
        return MotionVocab.bind(tokenizer, self.codebook_size)

    @classmethod
    def bind(cls, tokenizer: Any, codebook_size: int = 512) -> MotionVocab:
        """The vocab bound to a tokenizer that already holds the motion tokens.

        Raises ValueError if the tokens are missing or not consecutive.
        """
        vocab = cls(codebook_size)
        ids = tokenizer.convert_tokens_to_ids(vocab.tokens)
        unk = getattr(tokenizer, "unk_token_id", None)
        if any(i is None or i == unk for i in ids):
            raise ValueError(
                f"tokenizer has no motion tokens ({vocab.tokens[0]!r} ... {MASK!r}); call add_to"
            )
        offset = ids[0]
        if ids != list(range(offset, offset + len(vocab))):
            raise ValueError(f"motion token ids must be consecutive from {offset}, got a gap or clash")
        return dataclasses.replace(vocab, offset=offset)

    @property
    def bound(self) -> bool:
        return self.offset is not None

    def _off(self) -> int:
        if self.offset is None:
            raise ValueError("MotionVocab is not bound to a tokenizer; use vocab.add_to(tokenizer)")
        return self.offset

    @property
    def som_id(self) -> int:
        return self._off() + self.codebook_size

    @property
    def eom_id(self) -> int:
        return self._off() + self.codebook_size + 1

    @property
    def mask_id(self) -> int:
        return self._off() + self.codebook_size + 2

    @property
    def id_range(self) -> range:
        """All K + 3 ids the vocab owns (motion ids, som, eom, mask)."""
        return range(self._off(), self._off() + len(self))

    @property
    def motion_id_range(self) -> range:
        """The K ids of ``<motion_id_*>`` only."""
        return range(self._off(), self._off() + self.codebook_size)

    def is_motion_id(self, ids: Any) -> Any:
        """Elementwise: is each id one of the K motion-code ids (numpy or torch, same shape)."""
        off = self._off()
        return (ids >= off) & (ids < off + self.codebook_size)

    def indices_to_ids(self, indices: Any) -> Any:
        """Codebook indices ``(..., N)`` in ``[0, K)`` -> token ids (same type: list, numpy or torch)."""
        off = self._off()
        if isinstance(indices, list | tuple):
            return [int(i) + off for i in self._check_indices(indices).tolist()]
        self._check_indices(indices)
        return indices + off

    def ids_to_indices(self, ids: Any) -> Any:
        """Token ids ``(..., N)`` -> codebook indices; any id that is not a motion code raises ValueError."""
        off = self._off()
        as_list = isinstance(ids, list | tuple)
        arr = np.asarray(ids) if as_list else ids
        ok = self.is_motion_id(arr)
        if not bool(ok.all()):
            bad = arr[~ok].tolist()
            raise ValueError(
                f"ids {bad[:8]} are not motion tokens (allowed: {off}..{off + self.codebook_size - 1})"
            )
        out = arr - off
        return [int(i) for i in out.tolist()] if as_list else out

    # --- parsing ------------------------------------------------------------------------------------
    def parse(self, text_or_ids: str | Sequence[int] | Any) -> list[np.ndarray]:
        """Every motion segment in a text or id sequence, as ``int64`` index arrays ``(N_i,)``.

        A segment starts at ``<som>`` and ends at ``<eom>`` or at the end of the input. Inside a segment
        anything but a motion token raises ValueError; ``<motion_mask>`` is not a code either.
        """
        if isinstance(text_or_ids, str):
            return [self._parse_text_segment(m.group(1)) for m in _SEGMENT_RE.finditer(text_or_ids)]
        ids = np.asarray(text_or_ids.tolist() if hasattr(text_or_ids, "tolist") else list(text_or_ids))
        if ids.ndim != 1:
            raise ValueError(f"parse expects a 1-D id sequence, got shape {tuple(ids.shape)}")
        segments, start = [], None
        for pos, tok in enumerate(ids.tolist()):
            if tok == self.som_id:
                if start is not None:
                    raise ValueError(f"<som> at position {pos} inside an open motion segment")
                start = pos + 1
            elif tok == self.eom_id and start is not None:
                segments.append(self.ids_to_indices(ids[start:pos]).astype(np.int64))
                start = None
        if start is not None:
            segments.append(self.ids_to_indices(ids[start:]).astype(np.int64))
        return segments

    def _parse_text_segment(self, body: str) -> np.ndarray:
        rest = _MOTION_RE.sub("", body)
        if rest.strip():
            raise ValueError(f"motion segment holds non-motion text {rest.strip()[:40]!r}")
        idx = np.array([int(m) for m in _MOTION_RE.findall(body)], dtype=np.int64)
        return self._check_indices(idx)

    def _check_indices(self, indices: Any) -> np.ndarray:
        arr = np.asarray(indices.detach().cpu() if hasattr(indices, "detach") else indices)
        if arr.size and not np.issubdtype(arr.dtype, np.integer):
            raise ValueError(f"motion indices must be integers, got dtype {arr.dtype}")
        bad = arr[(arr < 0) | (arr >= self.codebook_size)]
        if bad.size:
            raise ValueError(f"motion indices must be in [0, {self.codebook_size}), got {bad.tolist()[:8]}")
        return arr.astype(np.int64)


__all__ = ["MotionVocab"]
