"""motiongpt.lm: the motion-language model (stages 2-3) and the inference pipeline.

Names are imported lazily, so ``import motiongpt.lm.vocab`` does not pull in transformers.
"""

from __future__ import annotations

from motiongpt._lazy import lazy_getattr

_EXPORTS = {
    "LMConfig": "motiongpt.lm.config",
    "MotionVocab": "motiongpt.lm.vocab",
    "MotionLanguageModel": "motiongpt.lm.model",
    "MotionGPT": "motiongpt.lm.pipeline",
    "Motion": "motiongpt.motion.motion",  # re-exported; it lives in motion/
}


__getattr__ = lazy_getattr(__name__, _EXPORTS)


__all__ = list(_EXPORTS)
