"""Regenerate the shipped example src/motiongpt/assets/examples/cmu_002_01_walk.bvh.

CMU trial 02_01 ("walk"), Character Creator rig, 60 fps, centimetres, Z up, read from the shared data
archive, retargeted to the 22-joint SMPL skeleton (metres, Y up, 20 fps), put on the floor with the
first frame's pelvis above the origin, and written with ``write_bvh``.

Usage: .venv/bin/python scripts/make_example.py [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import tarfile
import tempfile
from pathlib import Path

from motiongpt.motion.bvh import bvh_to_joints, write_bvh

ROOT = Path(__file__).resolve().parents[1]
MEMBER = "cmu-mocap/All_BVH/subjects/002/002_01.bvh"
OUT = ROOT / "src" / "motiongpt" / "assets" / "examples" / "cmu_002_01_walk.bvh"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    args = parser.parse_args()
    archive = args.data / "cmu-mocap" / "cmu-mocap.tar.xz"
    with tempfile.TemporaryDirectory() as tmp, tarfile.open(archive, "r|xz") as tf:
        for member in tf:
            if member.name == MEMBER:
                tf.extract(member, tmp, filter="data")
                break
        else:
            raise SystemExit(f"{MEMBER} not found in {archive}")
        joints = bvh_to_joints(Path(tmp) / MEMBER)  # (T, 22, 3) metres, Y up, 20 fps
    joints[..., 1] -= joints[:, [7, 8, 10, 11], 1].min()  # lowest ankle/foot joint on the floor
    joints[..., [0, 2]] -= joints[0, 0, [0, 2]]  # first frame's pelvis above the origin
    write_bvh(OUT, joints)
    print(f"wrote {OUT.relative_to(ROOT)}: {joints.shape[0]} frames, {OUT.stat().st_size} bytes")


if __name__ == "__main__":
    main()
