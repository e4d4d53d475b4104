"""Tokenise and batch ``Example`` s for the language model.

The prompt/answer layout is the model's own (``MotionLanguageModel.encode_example`` and
``format_prompt``), so training sees exactly the text inference builds:

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
    def _chat(self) -> bool:
        return bool(self.model._uses_chat_template())

    def _ids(self, text: str, special: bool) -> list[int]:
        return self.tokenizer(text, add_special_tokens=special).input_ids

    def encode(self, ex: Example) -> dict[str, list[int]]:
        """One example as unpadded ``{"input_ids", "labels"}``."""
        tok = self.tokenizer
        if ex.kind == "lm":
            if self.encoder_decoder:
                p, a = self._ids(ex.prompt, True), self._ids(ex.answer, True)
                return self._fit({"input_ids": p, "labels": a}, len(p))
            ids = self._ids(ex.answer, False) + [tok.eos_token_id]
            if ex.prompt:
                p = self._ids(ex.prompt, False)
                return self._fit({"input_ids": p + ids, "labels": [IGNORE] * len(p) + ids}, len(p))
            return self._fit({"input_ids": ids, "labels": list(ids)}, 0)
        if not ex.history:
            enc = self._encode_single(ex.prompt, ex.answer)
        else:
            text = self.model.format_conversation(ex.history, ex.prompt)
            special = self.encoder_decoder or not self._chat()
            p = self._ids(text, special)
            a = self.model._answer_ids(ex.answer)
            enc = {"input_ids": p, "labels": a} if self.encoder_decoder else {
                "input_ids": p + a, "labels": [IGNORE] * len(p) + a}  # fmt: skip
        n_prompt = len(enc["input_ids"]) if self.encoder_decoder else enc["labels"].count(IGNORE)
        return self._fit(enc, n_prompt)

    def _encode_single(self, prompt: str, answer: str) -> dict[str, list[int]]:
        try:
            return self.model.encode_example(prompt, answer)
        except ValueError:  # longer than max_prompt_tokens: cut here instead of failing the run
            special = self.encoder_decoder or not self._chat()
            p = self._ids(self.model.format_prompt(prompt), special)
            a = self.model._answer_ids(answer)
            return {"input_ids": p, "labels": a} if self.encoder_decoder else {
                "input_ids": p + a, "labels": [IGNORE] * len(p) + a}  # fmt: skip

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
