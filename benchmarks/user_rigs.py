"""A user's rig file for the rig-export benchmark and its tests: one copy, imported by both
(``benchmarks/rig_export.py`` beside it; ``tests/test_bvh_export.py`` puts this folder on ``sys.path``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def write_user_mixamo(path: Path) -> Path:
    """A Mixamo-named rig as a user's file would have it: ``mixamorig:`` names, fingers, the hips at the
    origin of the rest pose (feet below 0), XYZ channels, other proportions than the preset; frame 0 is
    a T-pose standing on the floor, frame 1 something else."""
    p = "mixamorig:"
    mid = {"Hips": (None, (0, 105, 0)), "Spine": ("Hips", (0, 117, -1)), "Spine1": ("Spine", (0, 130, 0)),
           "Spine2": ("Spine1", (0, 142, 1)), "Neck": ("Spine2", (0, 160, 0)), "Head": ("Neck", (0, 170, 2)),
           "HeadTop_End": ("Head", (0, 188, 2))}  # fmt: skip
    side = {"UpLeg": ("Hips", (10, 97, 0)), "Leg": ("UpLeg", (10, 52, 2)), "Foot": ("Leg", (10, 9, -2)),
            "ToeBase": ("Foot", (10, 2, 12)), "Toe_End": ("ToeBase", (10, 2, 20)),
            "Shoulder": ("Spine2", (4, 152, 0)), "Arm": ("Shoulder", (18, 153, 0)),
            "ForeArm": ("Arm", (46, 153, 0)), "Hand": ("ForeArm", (72, 153, 0))}  # fmt: skip
    for finger in ("Thumb", "Index", "Middle", "Ring", "Pinky"):
        for k in range(1, 5):
            side[f"Hand{finger}{k}"] = (f"Hand{finger}{k - 1}" if k > 1 else "Hand", (81 + 3 * k, 153, 1))
    joints = {p + n: (p + q if q else None, np.array(x, float)) for n, (q, x) in mid.items()}
    for s, sign in (("Left", 1), ("Right", -1)):
        for n, (q, x) in side.items():
            parent = p + q if q in mid else p + s + q
            joints[p + s + n] = (parent, np.array(x, float) * (sign, 1, 1))
    lines, rest = ["HIERARCHY"], []

    def emit(name: str, depth: int) -> None:
        parent, pos = joints[name]
        off = pos - (joints[parent][1] if parent else np.zeros(3)) if parent else np.zeros(3)
        pad = "  " * depth
        chans = "6 Xposition Yposition Zposition" if parent is None else "3"
        lines.extend([f"{pad}{'ROOT' if parent is None else 'JOINT'} {name}", pad + "{",
                      f"{pad}  OFFSET {off[0]} {off[1]} {off[2]}",
                      f"{pad}  CHANNELS {chans} Xrotation Yrotation Zrotation"])  # fmt: skip
        rest.extend([0.0, 105.0, 0.0, 0, 0, 0] if parent is None else [0, 0, 0])
        kids = [n for n, (q, _) in joints.items() if q == name]
        for kid in kids:
            emit(kid, depth + 1)
        if not kids:
            lines.extend([f"{pad}  End Site", pad + "  {", f"{pad}    OFFSET 0 0 3", pad + "  }"])
        lines.append(pad + "}")

    emit(p + "Hips", 0)
    other = list(rest)
    other[3:6] = [10.0, 20.0, 30.0]
    lines += ["MOTION", "Frames: 2", "Frame Time: 0.0333333"] + [" ".join(map(str, r)) for r in (rest, other)]
    path.write_text("\n".join(lines) + "\n")
    return path
