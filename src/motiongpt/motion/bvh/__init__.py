"""BVH files in and out: ``read_bvh`` any rig, ``bvh_to_joints`` retargets to SMPL-22, ``write_bvh``,
and ``write_bvh_on_rig`` onto a preset (mixamo, bandai, cc) or a user's BVH skeleton."""

from motiongpt.motion.bvh.export import write_bvh_on_rig
from motiongpt.motion.bvh.reader import BVHClip, read_bvh
from motiongpt.motion.bvh.retarget import bvh_to_joints
from motiongpt.motion.bvh.writer import write_bvh

__all__ = ["BVHClip", "bvh_to_joints", "read_bvh", "write_bvh", "write_bvh_on_rig"]
