"""Motions written onto other rigs (``write_bvh_on_rig``) and read back: feet and knee/elbow angles.

For each of ``--clips`` clips of a corpus split (``new_joints/*.npy``) and each rig (the presets, a
user-style Mixamo file from ``benchmarks/user_rigs.py``, and any ``--rig-file PATH.bvh:PRESET`` with its
first frame as the reference pose), writes the BVH, reads it back with the project's reader and prints
JSON per rig:

- ``angle_err_max_deg``: the largest knee/elbow angle difference to the motion;
- ``ground_max_m``: the highest a rig's foot stands above (or sinks below) the floor where the motion's
  foot is on its floor (planted and its lower joint within 1 cm of standing height);
- ``track_max_m`` / ``over_2cm``: at every planted frame, the rig's foot height against the motion's
  scaled by the legs' length ratio (a foot the motion holds 4 cm up stays up), largest and how many
  beyond 2 cm; ``worst_clip`` names where ``track_max_m`` was measured.

"Planted" is HumanML3D's contact threshold on the ankle or toe within 5 cm of its lowest height.

    nice -n 19 .venv/bin/python benchmarks/rig_export.py --data /work/runs/corpus --clips 30 \\
        --rig-file bandai_bow.bvh:bandai
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np

from motiongpt.motion.skeleton import knee_elbow_angles

FOOT = [7, 8, 10, 11]  # l_ankle, r_ankle, l_foot, r_foot
CONTACT_STEP2 = 0.002  # m^2 per frame


def leg_length(j: np.ndarray) -> float:
    return float(np.linalg.norm(j[:, [4, 7, 5, 8]] - j[:, [1, 4, 2, 5]], axis=-1).sum(-1).mean() / 2)


def feet(source: np.ndarray, out: np.ndarray, reference: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(track, ground) as described in the module docstring; all (·, 22, 3) metres, Y up."""
    f = source[:, FOOT]
    step2 = (np.diff(f, axis=0) ** 2).sum(-1)
    flags = (np.concatenate([step2, step2[-1:]]) < CONTACT_STEP2) & (f[..., 1] < f[..., 1].min(0) + 0.05)
    planted = flags[:, :2] | flags[:, 2:]  # (T, 2)
    ref = reference[FOOT, 1] - reference[FOOT, 1].min()
    rig = out[:, FOOT, 1] - np.minimum(ref, ref[[1, 0, 3, 2]])
    src = f[..., 1] - np.repeat([f[:, :2, 1].min(), f[:, 2:, 1].min()], 2)
    rig, src = np.minimum(rig[:, :2], rig[:, 2:]), np.minimum(src[:, :2], src[:, 2:])  # (T, 2)
    scale = leg_length(reference[None]) / leg_length(source)
    return rig[planted] - scale * src[planted], rig[planted & (src < 0.01)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="corpus folder (new_joints/, <split>.txt)")
    parser.add_argument("--split", default="test")
    parser.add_argument("--clips", type=int, default=30)
    parser.add_argument(
        "--rig-file", action="append", default=[], help="PATH.bvh:PRESET (first frame as the pose)"
    )
    args = parser.parse_args()

    from user_rigs import write_user_mixamo  # beside this script

    from motiongpt.motion.bvh import bvh_to_joints, read_bvh, write_bvh_on_rig
    from motiongpt.motion.bvh.reader import BVHClip, parse_bvh
    from motiongpt.motion.bvh.rigs import preset_text

    tmp = Path(tempfile.mkdtemp(prefix="rig-export-"))
    rigs = {p: (p, parse_bvh(preset_text(p)), p, "auto") for p in ("mixamo", "bandai", "cc")}
    user = write_user_mixamo(tmp / "user_mixamo.bvh")
    rigs["user_mixamo_file"] = (user, read_bvh(user), "mixamo", "auto")
    for spec in args.rig_file:
        path, preset = spec.rsplit(":", 1)
        rigs[Path(path).stem] = (path, read_bvh(path), preset, "first")
    names = (args.data / f"{args.split}.txt").read_text().split()[: args.clips]
    report = {k: {"angle_err_max_deg": 0.0, "ground_max_m": 0.0, "track_max_m": 0.0, "over_2cm": 0,
                  "planted_feet": 0, "worst_clip": None} for k in rigs}  # fmt: skip
    used = 0
    for name in names:
        source = np.load(args.data / "new_joints" / f"{name}.npy").astype(np.float64)
        if len(source) < 8:
            continue
        used += 1
        for key, (rig, clip, preset, pose) in rigs.items():
            write_bvh_on_rig(tmp / "out.bvh", source, rig, rig_pose=pose)
            back = bvh_to_joints(read_bvh(tmp / "out.bvh"), rig=preset).astype(np.float64)
            ref_clip = BVHClip(clip.names, clip.parents, clip.offsets, clip.channels, 1.0, clip.motion[:1])
            track, ground = feet(source, back, bvh_to_joints(ref_clip, rig=preset)[0].astype(np.float64))
            r = report[key]
            angle_err = float(np.abs(knee_elbow_angles(back) - knee_elbow_angles(source)).max())
            r["angle_err_max_deg"] = max(r["angle_err_max_deg"], angle_err)
            if len(ground):
                r["ground_max_m"] = max(r["ground_max_m"], float(np.abs(ground).max()))
            if len(track) and np.abs(track).max() > r["track_max_m"]:
                r["track_max_m"], r["worst_clip"] = float(np.abs(track).max()), name
            r["over_2cm"] += int((np.abs(track) > 0.02).sum())
            r["planted_feet"] += len(track)
    print(json.dumps({"clips": used, "split": args.split, "rigs": report}, indent=1))


if __name__ == "__main__":
    main()
