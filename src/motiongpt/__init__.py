"""motiongpt: human motion as a foreign language.

One language model reads and writes text and motion; motion is written with discrete tokens from a
VQ-VAE over the HumanML3D 263-dim representation.

>>> from motiongpt import MotionGPT
>>> mg = MotionGPT.from_pretrained("runs/lm-instruct/motiongpt")
>>> mg.generate_motion("a person walks forward", seconds=4).save_bvh("walk.bvh")

Names are imported lazily: ``import motiongpt`` stays cheap and does not load torch or transformers.
"""

from __future__ import annotations

from motiongpt._lazy import lazy_getattr

__version__ = "0.1.0"

_EXPORTS = {
    "MotionGPT": "motiongpt.lm.pipeline",
    "Motion": "motiongpt.motion.motion",
    "MotionVocab": "motiongpt.lm.vocab",
}


__getattr__ = lazy_getattr(__name__, _EXPORTS)


def __dir__() -> list[str]:
    return sorted(list(globals()) + list(_EXPORTS))


__all__ = ["__version__", *_EXPORTS]
