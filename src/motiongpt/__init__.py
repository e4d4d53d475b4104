"""motiongpt: human motion as a foreign language.

One language model reads and writes text and motion; motion is written with discrete tokens from a
VQ-VAE over the HumanML3D 263-dim representation.

>>> from motiongpt import MotionGPT
>>> mg = MotionGPT.from_pretrained("runs/lm-instruct/motiongpt")
>>> mg.generate_motion("a person walks forward", seconds=4).save_bvh("walk.bvh")

Names are imported lazily: ``import motiongpt`` stays cheap and does not load torch or transformers.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from motiongpt._lazy import lazy_getattr

__version__ = "0.1.0"

_EXPORTS = {
    "MotionGPT": "motiongpt.lm.pipeline",
    "Motion": "motiongpt.motion.motion",
    "MotionVocab": "motiongpt.lm.vocab",
}


def bundled_model() -> Path:
    """The folder of the model shipped inside the installed package (``motiongpt/assets/model``)."""
    return Path(str(files("motiongpt") / "assets" / "model"))


__getattr__ = lazy_getattr(__name__, _EXPORTS)


def __dir__() -> list[str]:
    return sorted(list(globals()) + list(_EXPORTS))


__all__ = ["__version__", "bundled_model", *_EXPORTS]
