"""Target rigs for BVH export: the presets (bandai, cc, mixamo) as skeletons built here, or a user's file.

A preset has the joint names, hierarchy, channel layout and units of the rig family it is named after, in a
T-pose at adult proportions (rest rotations all zero, the floor at 0):
- ``mixamo``: ``mixamorig:Hips`` ... with three-segment fingers, ``HeadTop_End`` and ``*Toe_End``;
  centimetres, Y up, the hips with 6 channels, every other joint ``Zrotation Xrotation Yrotation``.
- ``bandai``: the Bandai Namco Research Motion dataset's 21 joints under ``joint_Root``; centimetres,
  Y up, every joint with 6 channels ``... Zrotation Xrotation Yrotation``.
- ``cc``: Character Creator names (``CC_Base_Hip`` ... fingers) under ``RL_BoneRoot`` as in the CMU
  files converted to that rig: centimetres, Z up facing -Y, ``Zrotation Yrotation Xrotation``.
Their offsets are not any particular character's; pass the character's own BVH to get its offsets.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from motiongpt.errors import BVHError
from motiongpt.motion.bvh.reader import BVHClip, parse_bvh

PRESETS = ("smpl", "mixamo", "bandai", "cc")  # "smpl" is the project's own skeleton (writer.py)

# Generic T-pose of the left half and the midline, metres, Y up, facing +Z, +X the body's left, floor 0.
_BODY = {
    "pelvis": (0.0, 0.97, 0.0), "spine1": (0.0, 1.09, -0.01), "spine2": (0.0, 1.21, 0.0),
    "spine3": (0.0, 1.30, 0.01), "neck": (0.0, 1.50, 0.0), "head": (0.0, 1.60, 0.02),
    "head_top": (0.0, 1.78, 0.02),
    "hip": (0.09, 0.90, 0.0), "knee": (0.09, 0.51, 0.01), "ankle": (0.09, 0.08, -0.02),
    "toe": (0.09, 0.02, 0.11), "toe_end": (0.09, 0.02, 0.19),
    "collar": (0.03, 1.42, 0.0), "shoulder": (0.17, 1.44, 0.0), "elbow": (0.43, 1.44, 0.0),
    "wrist": (0.69, 1.44, 0.0),
}  # fmt: skip
_FINGERS = {  # knuckle offset from the wrist, and the direction the finger points
    "thumb": ((0.025, -0.01, 0.03), (0.6, -0.2, 0.75)),
    "index": ((0.09, 0.0, 0.03), (1.0, 0.0, 0.0)),
    "middle": ((0.095, 0.0, 0.01), (1.0, 0.0, 0.0)),
    "ring": ((0.09, 0.0, -0.01), (1.0, 0.0, 0.0)),
    "pinky": ((0.08, 0.0, -0.03), (1.0, 0.0, 0.0)),
}
_SEGMENT = 0.03  # metres per finger segment


def _point(key: str, side: str) -> np.ndarray:
    """A named body point, ``side`` "l" or "r" (the right one mirrored); fingers as "index2" etc."""
    sign = 1.0 if side == "l" else -1.0
    for finger, (knuckle, direction) in _FINGERS.items():
        if key.startswith(finger):
            k = int(key[len(finger) :]) - 1  # 0 = knuckle
            p = (
                np.asarray(_BODY["wrist"])
                + knuckle
                + k * _SEGMENT * np.asarray(direction) / np.linalg.norm(direction)
            )
            return p * (sign, 1, 1)
    return np.asarray(_BODY[key]) * (sign, 1, 1)


# A rig as rows (name, parent name or None, body point, side); side "" for midline joints.
_Row = tuple[str, str | None, str, str]


def _mixamo() -> list[_Row]:
    p = "mixamorig:"
    rows: list[_Row] = [(p + "Hips", None, "pelvis", ""), (p + "Spine", p + "Hips", "spine1", ""),
                        (p + "Spine1", p + "Spine", "spine2", ""), (p + "Spine2", p + "Spine1", "spine3", ""),
                        (p + "Neck", p + "Spine2", "neck", ""), (p + "Head", p + "Neck", "head", ""),
                        (p + "HeadTop_End", p + "Head", "head_top", "")]  # fmt: skip
    names = {"hip": "UpLeg", "knee": "Leg", "ankle": "Foot", "toe": "ToeBase", "toe_end": "Toe_End",
             "collar": "Shoulder", "shoulder": "Arm", "elbow": "ForeArm", "wrist": "Hand"}  # fmt: skip
    for s, side in (("l", "Left"), ("r", "Right")):
        prev = p + "Hips"
        for point in ("hip", "knee", "ankle", "toe", "toe_end"):
            rows.append((f"{p}{side}{names[point]}", prev, point, s))
            prev = rows[-1][0]
        prev = p + "Spine2"
        for point in ("collar", "shoulder", "elbow", "wrist"):
            rows.append((f"{p}{side}{names[point]}", prev, point, s))
            prev = rows[-1][0]
        for finger in _FINGERS:
            prev = f"{p}{side}Hand"
            for k in range(1, 5):
                rows.append((f"{p}{side}Hand{finger.title()}{k}", prev, f"{finger}{k}", s))
                prev = rows[-1][0]
    return rows


def _bandai() -> list[_Row]:
    rows: list[_Row] = [("Hips", "joint_Root", "pelvis", ""), ("Spine", "Hips", "spine1", ""),
                        ("Chest", "Spine", "spine3", ""), ("Neck", "Chest", "neck", ""),
                        ("Head", "Neck", "head", "")]  # fmt: skip
    names = {"hip": "UpperLeg", "knee": "LowerLeg", "ankle": "Foot", "toe": "Toes", "collar": "Shoulder",
             "shoulder": "UpperArm", "elbow": "LowerArm", "wrist": "Hand"}  # fmt: skip
    for s in "LR":
        prev = "Hips"
        for point in ("hip", "knee", "ankle", "toe"):
            rows.append((f"{names[point]}_{s}", prev, point, s.lower()))
            prev = rows[-1][0]
        prev = "Chest"
        for point in ("collar", "shoulder", "elbow", "wrist"):
            rows.append((f"{names[point]}_{s}", prev, point, s.lower()))
            prev = rows[-1][0]
    return rows


def _cc() -> list[_Row]:
    b = "CC_Base_"
    rows: list[_Row] = [(b + "Hip", "RL_BoneRoot", "pelvis", ""), (b + "Pelvis", b + "Hip", "pelvis", ""),
                        (b + "Waist", b + "Hip", "spine1", ""), (b + "Spine01", b + "Waist", "spine2", ""),
                        (b + "Spine02", b + "Spine01", "spine3", ""),
                        (b + "NeckTwist01", b + "Spine02", "neck", ""),
                        (b + "Head", b + "NeckTwist01", "head", "")]  # fmt: skip
    names = {"hip": "Thigh", "knee": "Calf", "ankle": "Foot", "toe": "ToeBase", "collar": "Clavicle",
             "shoulder": "Upperarm", "elbow": "Forearm", "wrist": "Hand"}  # fmt: skip
    fingers = {"thumb": "Thumb", "index": "Index", "middle": "Mid", "ring": "Ring", "pinky": "Pinky"}
    for s in "LR":
        prev = b + "Pelvis"
        for point in ("hip", "knee", "ankle", "toe"):
            rows.append((f"{b}{s}_{names[point]}", prev, point, s.lower()))
            prev = rows[-1][0]
        prev = b + "Spine02"
        for point in ("collar", "shoulder", "elbow", "wrist"):
            rows.append((f"{b}{s}_{names[point]}", prev, point, s.lower()))
            prev = rows[-1][0]
        for finger, short in fingers.items():
            prev = f"{b}{s}_Hand"
            for k in range(1, 4):
                rows.append((f"{b}{s}_{short}{k}", prev, f"{finger}{k}", s.lower()))
                prev = rows[-1][0]
    return rows


# name -> (rows, root name, root has 6 channels only (others 3), rotation order, metres->units, Y-up->file)
_PRESETS = {
    "mixamo": (_mixamo, None, True, "ZXY", 100.0, np.eye(3)),
    "bandai": (_bandai, "joint_Root", False, "ZXY", 100.0, np.eye(3)),
    "cc": (_cc, "RL_BoneRoot", True, "ZYX", 100.0, np.array([[1, 0, 0], [0, 0, -1], [0, 1, 0]], float)),
}


def preset_text(name: str) -> str:
    """The BVH text of preset ``name`` (one frame, its rest pose)."""
    build, root, root_only_moves, order, units, axes = _PRESETS[name]
    rows = build()
    pos = {n: _point(point, side or "l") * units @ axes.T for n, _, point, side in rows}
    if root is not None:
        pos[root] = np.zeros(3)
        rows = [(root, None, "", "")] + rows
    children: dict[str | None, list[str]] = {}
    for n, parent, _, _ in rows:
        children.setdefault(parent, []).append(n)
    rot = " ".join(f"{a}rotation" for a in order)
    toes = {n for n, _, point, _ in rows if point.startswith("toe")}
    out: list[str] = ["HIERARCHY"]
    rest: list[float] = []  # the one frame: position channels hold the offsets, rotations are zero

    def emit(n: str, parent: str | None, depth: int) -> None:
        pad = "\t" * depth
        off = pos[n] - (pos[parent] if parent is not None else 0.0)
        six = parent is None or not root_only_moves
        chans = f"6 Xposition Yposition Zposition {rot}" if six else f"3 {rot}"
        out.extend([f"{pad}{'ROOT' if parent is None else 'JOINT'} {n}", f"{pad}{{",
                    f"{pad}\tOFFSET {off[0]:.4f} {off[1]:.4f} {off[2]:.4f}",
                    f"{pad}\tCHANNELS {chans}"])  # fmt: skip
        rest.extend([*off, 0.0, 0.0, 0.0] if six else [0.0, 0.0, 0.0])
        for child in children.get(n, []):
            emit(child, n, depth + 1)
        if n not in children:
            bone = off @ axes * ((1, 0, 1) if n in toes else 1)  # Y up; toe tips level with the toes
            tip = 0.04 * units * bone @ axes.T / max(float(np.linalg.norm(bone)), 1e-9)
            out.extend([f"{pad}\tEnd Site", f"{pad}\t{{",
                        f"{pad}\t\tOFFSET {tip[0]:.4f} {tip[1]:.4f} {tip[2]:.4f}", f"{pad}\t}}"])  # fmt: skip
        out.append(f"{pad}}}")

    emit(rows[0][0], None, 0)
    out += ["MOTION", "Frames: 1", "Frame Time: 0.05", " ".join(f"{v:.4f}" for v in rest)]
    return "\n".join(out) + "\n"


def load_rig(rig: str | os.PathLike) -> tuple[BVHClip, str | None, str]:
    """A rig's template clip, the preset whose joint names it uses (None: detect) and its HIERARCHY text.

    Args:
        rig: a preset name in ``PRESETS`` other than "smpl", or a ``.bvh`` file whose skeleton is the rig.

    Returns:
        The clip, the preset name or None, and the file's text up to and including the ``MOTION`` line.

    Raises:
        BVHError: neither a preset nor a readable ``.bvh`` file.
        FileNotFoundError: a ``.bvh`` path that does not exist.
    """
    name = str(rig)
    if name.lower() in _PRESETS:
        text, source, preset = preset_text(name.lower()), f"<rig {name.lower()}>", name.lower()
    else:
        path = Path(rig)
        if path.suffix.lower() != ".bvh":
            raise BVHError(f"rig must be one of {', '.join(PRESETS)} or a .bvh file, got {name!r}")
        if path.is_dir():
            raise BVHError(f"{path}: is a directory, not a BVH file")
        text, source, preset = path.read_bytes().decode("utf-8", errors="replace"), str(path), None
    clip = parse_bvh(text, source=source)
    lines = text.lstrip("\ufeff").splitlines()
    motion_at = next(i for i, line in enumerate(lines) if line.strip().upper() == "MOTION")
    return clip, preset, "\n".join(lines[: motion_at + 1]) + "\n"
