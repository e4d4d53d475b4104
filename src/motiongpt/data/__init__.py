"""Corpora: read HumanML3D-format folders and build one from the shared motion archives."""

from motiongpt.data.corpus import CorpusSummary, build_corpus
from motiongpt.data.humanml3d import Caption, HumanML3D, MotionClip

__all__ = ["Caption", "CorpusSummary", "HumanML3D", "MotionClip", "build_corpus"]
