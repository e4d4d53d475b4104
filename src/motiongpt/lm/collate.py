"""Tokenise and batch ``Example`` s for the language model.

The prompt/answer layout is the model's own (``MotionLanguageModel.encode``, which generation uses
too), so training sees exactly the ids inference builds:

- decoder-only: ``format_prompt(prompt) + answer + eos``; ``labels`` are -100 on the prompt and the
  padding, so the loss covers the answer only. Training batches are padded on the right, so every
  row's positions start at 0 as they do in generation (which pads prompts on the left but derives
  positions from the attention mask).
- encoder-decoder (T5): ``input_ids = prompt</s>``, ``labels = answer</s>`` (-100 on padding); right
  padding.

Two more cases:

- multi-turn examples (``Example.history``): the prompt is ``format_conversation(history, prompt)``,
  the model's own layout of earlier turns (what ``MotionGPT.chat`` sends), then the answer as above.
- ``kind="lm"`` raw data (stage-2 unsupervised): decoder-only models read ``text + eos`` with the loss
  on every token (no chat template); T5 reads the corrupted input and predicts the sentinel target.

Examples longer than ``max_length`` tokens lose prompt tokens from the left, then answer tokens from
the right (logged once); nothing is dropped silently.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import torch

from motiongpt.lm.model import IGNORE
from motiongpt.lm.tasks import Example

log = logging.getLogger(__name__)


class LMCollator:
    """``collate(list[Example]) -> {"input_ids", "attention_mask", "labels"}`` (CPU tensors, ``(B, L)``).

    Args:
        model: a ``MotionLanguageModel`` (only its tokenizer and text layout are used).
        max_length: the longest tokenised example (prompt + answer for decoder-only models; each side
            for encoder-decoder models).
    """

    def __init__(self, model: Any, max_length: int = 256) -> None:
        if max_length < 8:
            raise ValueError(f"max_length must be >= 8, got {max_length}")
        self.model = model
        self.tokenizer = model.tokenizer
        self.encoder_decoder = bool(model.is_encoder_decoder)
        self.max_length = max_length
        self.pad_id = self.tokenizer.pad_token_id
        if self.pad_id is None:
            self.pad_id = self.tokenizer.eos_token_id
        self._warned = False

    # --- one example --------------------------------------------------------------------------------
    def encode(self, ex: Example) -> dict[str, list[int]]:
        """One example as unpadded ``{"input_ids", "labels"}``: the model's own :meth:`encode` (chat
        turns, the ids generation reads for the same prompt and history) or :meth:`encode_raw`
        (``kind="lm"``), cut to ``max_length``."""
        if ex.kind == "lm":
            enc = self.model.encode_raw(ex.prompt, ex.answer)
        else:  # no length check: a long prompt is cut here instead of failing the run
            enc = self.model.encode(ex.prompt, ex.answer, ex.history, check=False)
        return self._fit(enc.as_dict(), enc.n_prompt)

    def _fit(self, enc: dict[str, list[int]], n_prompt: int) -> dict[str, list[int]]:
        """Cut an example to ``max_length``: prompt tokens from the left first, then answer tokens."""
        m = self.max_length
        ids, labels = enc["input_ids"], enc["labels"]
        if self.encoder_decoder:
            if len(ids) <= m and len(labels) <= m:
                return enc
            self._warn()
            return {"input_ids": ids[-m:], "labels": labels[:m]}
        if len(ids) <= m:
            return enc
        self._warn()
        cut = min(len(ids) - m, max(0, n_prompt - 1))  # keep at least one prompt token
        ids, labels = ids[cut:], labels[cut:]
        return {"input_ids": ids[:m], "labels": labels[:m]}

    def _warn(self) -> None:
        if not self._warned:
            log.warning("some examples are longer than max_length=%d tokens and are cut", self.max_length)
            self._warned = True

    # --- a batch ------------------------------------------------------------------------------------
    def __call__(self, examples: Sequence[Example]) -> dict[str, torch.Tensor]:
        if not examples:
            raise ValueError("need at least one example")
        return self.pad([self.encode(ex) for ex in examples])

    def pad(self, encoded: Sequence[dict[str, list[int]]]) -> dict[str, torch.Tensor]:
        """Pad to the longest on the right (``labels`` with -100, ``attention_mask`` 0)."""
        out: dict[str, torch.Tensor] = {}
        for key, fill in (("input_ids", self.pad_id), ("labels", IGNORE)):
            seqs = [e[key] for e in encoded]
            width = max(len(s) for s in seqs)
            out[key] = torch.tensor([s + [fill] * (width - len(s)) for s in seqs], dtype=torch.long)
            if key == "input_ids":
                masks = [[1] * len(s) + [0] * (width - len(s)) for s in seqs]
                out["attention_mask"] = torch.tensor(masks, dtype=torch.long)
        return out


__all__ = ["IGNORE", "LMCollator"]
