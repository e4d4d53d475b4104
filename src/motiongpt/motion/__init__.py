"""motiongpt.motion: pure motion math, HumanML3D's 263-dim features and their normalisation."""

from motiongpt.motion.features import features_to_joints, joints_to_features
from motiongpt.motion.normalizer import Normalizer
from motiongpt.motion.validate import check_features, check_joints

__all__ = ["joints_to_features", "features_to_joints", "Normalizer", "check_joints", "check_features"]
