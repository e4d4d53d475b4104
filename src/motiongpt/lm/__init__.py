"""motiongpt.lm: the motion-language model (stages 2-3) and the inference pipeline.

Names are imported lazily, so ``import motiongpt.lm.vocab`` does not pull in transformers.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "LMConfig": "motiongpt.lm.config",
    "MotionVocab": "motiongpt.lm.vocab",
    "MotionLanguageModel": "motiongpt.lm.model",
    "MotionGPT": "motiongpt.lm.pipeline",
    "Motion": "motiongpt.lm.pipeline",
}


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'motiongpt.lm' has no attribute {name!r}")


__all__ = list(_EXPORTS)
