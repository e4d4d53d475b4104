"""motiongpt.motion: pure motion math, HumanML3D's 263-dim features and their normalisation, ``Motion``.

Names are imported lazily, so ``import motiongpt.motion.skeleton`` (the constants: ``FPS``, ``MAX_SECONDS``,
the joints) does not load torch.
"""

from __future__ import annotations

from motiongpt._lazy import lazy_getattr

_EXPORTS = {
    "joints_to_features": "motiongpt.motion.features",
    "features_to_joints": "motiongpt.motion.features",
    "Motion": "motiongpt.motion.motion",
    "Normalizer": "motiongpt.motion.normalizer",
    "check_joints": "motiongpt.motion.validate",
    "check_features": "motiongpt.motion.validate",
}

__getattr__ = lazy_getattr(__name__, _EXPORTS)


def __dir__() -> list[str]:
    return sorted(list(globals()) + list(_EXPORTS))


__all__ = list(_EXPORTS)
