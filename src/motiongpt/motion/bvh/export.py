"""Writing SMPL-22 joint positions as BVH on a target rig: its hierarchy, names, offsets and channels.

The rig is a preset (``rigs.py``) or any BVH file; its rest pose (all rotations zero) or its first frame
is the reference pose. Its joints are matched to the 22 SMPL joints by name (``retarget.RIGS``). Then:

- each matched joint with matched joints below it gets, relative to its reference pose, the smallest
  rotation that points its bone at the motion's bone direction, measured in its parent's current frame
  (so twist comes from the parent); a joint with several matched children (hips, chest) gets the
  least-squares rotation of their directions (Kabsch). Matched leaves (head, hands, toes) and every
  unmatched joint (fingers, toe ends, twist bones, extra spine links) keep their reference rotation.
  Knee and elbow angles therefore equal the motion's.
- the hips carry the root translation scaled by ``rig leg length / motion leg length``, so steps have
  the rig's stride. At frames where a foot of the motion is planted (its ankle or toe moves under
  HumanML3D's contact threshold near its lowest height), the hips' height puts that foot as high above
  the floor as the motion's foot is above its own, scaled to the rig: on the floor where the motion's
  foot is on the floor, 4 cm up where a shuffling foot of the motion is 5 cm up (the mean over both feet
  when both are planted; linear between such frames). A foot's height is its lower joint's (ankle or
  toe) over that joint's height when standing, in the reference pose for the rig.
- two exceptions to copying bone directions, both for the feet: the foot (ankle->toe) keeps its pitch
  relative to standing, as ankle and toe joints sit at other heights on every skeleton's foot, so a flat
  foot stays flat (``_foot_aims``); and each leg keeps its hip->ankle line and knee angle, the thigh
  turned by what its other thigh:shin ratio needs, so both feet can be down at once (``_leg_aims``).

Where the rig's up axis is not Y (e.g. Z up) the motion is turned to it; units follow from the leg length.
"""

from __future__ import annotations

import os
import warnings
from typing import Literal

import numpy as np
from scipy.spatial.transform import Rotation

from motiongpt._io import atomic_write_text
from motiongpt.errors import BVHError
from motiongpt.motion.bvh.reader import BVHClip
from motiongpt.motion.bvh.retarget import _UP_ROTATIONS, _place, _resolve, _up_axis
from motiongpt.motion.bvh.rigs import load_rig
from motiongpt.motion.bvh.writer import _check, _kabsch, _swing, _unit, write_bvh
from motiongpt.motion.skeleton import FPS, JOINT_NAMES

RigPose = Literal["auto", "rest", "first"]
_FEET = ("l_ankle", "r_ankle", "l_foot", "r_foot")
_CONTACT_STEP2 = 0.002  # m^2 per frame: HumanML3D's foot-contact threshold on the squared displacement
_CONTACT_HEIGHT = 0.05  # m above the joint's lowest height in the clip, for a contact to count
_MOVES = {"Xposition", "Yposition", "Zposition"}
_UPRIGHT_COS = np.cos(np.radians(30.0))


def _ancestors(parents: tuple[int, ...], j: int) -> list[int]:
    """``j`` and every joint above it, nearest first."""
    out = [j]
    while parents[out[-1]] >= 0:
        out.append(parents[out[-1]])
    return out


def _reference_row(clip: BVHClip, pose: RigPose, found: dict[str, int]) -> np.ndarray:
    """(C,) channel values of the reference pose: the rest pose (zero rotations) or the first frame."""
    rest = np.zeros(clip.motion.shape[1])
    for chans, start, offset in zip(clip.channels, clip.channel_starts, clip.offsets):
        for k, name in enumerate(chans):
            if name.endswith("position"):
                rest[start + k] = offset["XYZ".index(name[0])]
    if pose == "rest":
        return rest
    if pose == "first":
        return clip.motion[0].copy()
    # auto: the rest pose if the body stands in it (head above the hips above the ankles), else frame 0
    rest_clip = BVHClip(clip.names, clip.parents, clip.offsets, clip.channels, 1.0, rest[None], clip.source)
    pos = rest_clip.global_positions()[0]
    up = _unit(pos[found["head"]] - pos[found["pelvis"]])
    legs = _unit(pos[found["pelvis"]] - pos[[found["l_ankle"], found["r_ankle"]]])  # (2, 3)
    return rest if bool((legs @ up > _UPRIGHT_COS).all()) else clip.motion[0].copy()


def _export_map(clip: BVHClip, found: dict[str, int]) -> dict[str, int]:
    """The name match with the hips moved up to the joint above both legs and the spine (CC's Hip)."""
    found = dict(found)
    spine = next(found[n] for n in ("spine1", "spine2", "spine3", "neck", "head") if n in found)
    common = set(_ancestors(clip.parents, found["pelvis"]))
    for j in (found["l_hip"], found["r_hip"], spine):
        common &= set(_ancestors(clip.parents, j))
    if not common:
        raise BVHError(f"{clip.source}: the rig's legs and spine have no joint in common to carry the hips")
    found["pelvis"] = max(common, key=lambda j: len(_ancestors(clip.parents, j)))
    return found


def _contacts(joints: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(T, 4) planted flags of l_ankle, r_ankle, l_foot, r_foot in (T, 22, 3) metres, and their steps (m)."""
    feet = joints[:, [JOINT_NAMES.index(n) for n in _FEET]]  # (T, 4, 3)
    step2 = (np.diff(feet, axis=0) ** 2).sum(-1)  # (T-1, 4)
    step2 = np.concatenate([step2, step2[-1:]]) if len(step2) else np.zeros((1, 4))
    low = feet[..., 1] < feet[..., 1].min(axis=0) + _CONTACT_HEIGHT
    return (step2 < _CONTACT_STEP2) & low, np.sqrt(step2)


def _sole_heights(joints: np.ndarray) -> np.ndarray:
    """(T, 2) height (m) of the left and right foot above the floor in (T, 22, 3) joints, Y up.

    A foot's height is that of its lower joint (ankle or toe) over the height the joint has when the foot
    stands: the lowest of both ankles, or of both toes, across the clip.
    """
    feet = joints[:, [JOINT_NAMES.index(n) for n in _FEET], 1]  # (T, 4) heights
    standing = np.repeat([feet[:, :2].min(), feet[:, 2:].min()], 2)  # (4,)
    above = feet - standing
    return np.minimum(above[:, :2], above[:, 2:])


def _euler(local: np.ndarray, axes: str) -> np.ndarray:
    """(T, 3, 3) rotations as intrinsic Euler angles in ``axes`` order, degrees, unwrapped over time."""
    with warnings.catch_warnings():  # gimbal lock: scipy still returns angles for the same matrix
        warnings.simplefilter("ignore", UserWarning)
        angles = Rotation.from_matrix(local).as_euler(axes, degrees=True)
    return np.unwrap(angles, period=360.0, axis=0)


def rig_bvh_text(
    joints: np.ndarray, rig: str | os.PathLike, fps: float = FPS, rig_pose: RigPose = "auto"
) -> str:
    """The BVH text of (T, 22, 3) joint positions (metres, Y up) on ``rig`` (see the module docstring).

    Args:
        joints: (T, 22, 3) positions in SMPL joint order.
        rig: a preset name ("mixamo", "bandai", "cc") or a ``.bvh`` file whose skeleton is the target.
        fps: frames per second of ``joints`` (and of the file written).
        rig_pose: the rig's reference pose: "rest" (all rotations zero), "first" (its first frame) or
            "auto" (the rest pose where the body stands upright in it, else the first frame).

    Raises:
        BVHError: the rig cannot be read, its joints cannot be matched, or it cannot carry the motion.
        InvalidMotionError: ``joints`` is not a finite (T, 22, 3) array.
    """
    joints = _check(joints, fps)
    if rig_pose not in ("auto", "rest", "first"):
        raise ValueError(f"rig_pose must be 'auto', 'rest' or 'first', got {rig_pose!r}")
    clip, preset, header = load_rig(rig)
    found = _resolve(clip, preset, None)
    row = _reference_row(clip, rig_pose, found)
    ref = BVHClip(clip.names, clip.parents, clip.offsets, clip.channels, 1.0, row[None], clip.source)
    ref_rot, ref_pos = (a[0] for a in ref.global_transforms())  # (J, 3, 3), (J, 3) rig units and axes
    placed = _place(clip, found, ref_pos[None])  # (1, 22, 3) the rig's SMPL joints in the reference pose
    to_y_up = np.asarray(_UP_ROTATIONS[_up_axis(placed)], dtype=np.float64)  # rig axes -> Y up
    found = _export_map(clip, found)

    n_frames, n_joints = joints.shape[0], len(clip.names)
    parents = clip.parents
    smpl_of = {j: JOINT_NAMES.index(n) for n, j in found.items()}  # rig joint -> SMPL joint
    children: list[list[int]] = [[] for _ in range(n_joints)]
    for j, p in enumerate(parents):
        if p >= 0:
            children[p].append(j)
    ref_local = np.stack([ref_rot[j] if p < 0 else ref_rot[p].T @ ref_rot[j] for j, p in enumerate(parents)])

    # translations each joint applies below its parent: position channels where it has them, else OFFSET
    trans = clip.offsets.copy()
    for j, (chans, start) in enumerate(zip(clip.channels, clip.channel_starts)):
        for k, name in enumerate(chans):
            if name.endswith("position"):
                trans[j, "XYZ".index(name[0])] = row[start + k]

    def matched_below(j: int) -> list[int]:
        out = []
        for c in children[j]:
            out.extend([c] if c in smpl_of else matched_below(c))
        return out

    # rotations, in Y-up world coordinates (the rig's own world is a rotation `to_y_up` away)
    rig_y_up = placed[0] @ to_y_up.T  # (22, 3) the rig's SMPL joints in the reference pose, Y up
    aim = _leg_aims(_foot_aims(joints, rig_y_up), rig_y_up)  # what each bone points at (see there)
    world = np.broadcast_to(to_y_up, (n_frames, 3, 3))
    glob = np.empty((n_frames, n_joints, 3, 3))
    local: dict[int, np.ndarray] = {}  # solved joints only; the rest keep their reference channels
    for j, p in enumerate(parents):
        frame = (world if p < 0 else glob[:, p]) @ ref_local[j]  # (T, 3, 3) the joint left at reference
        below = matched_below(j) if j in smpl_of else []
        if not below:
            glob[:, j] = frame
            continue
        rest = _unit(np.stack([ref_rot[j].T @ (ref_pos[c] - ref_pos[j]) for c in below]))  # (K, 3)
        target = np.stack([aim[:, smpl_of[c]] - aim[:, smpl_of[j]] for c in below], axis=1)
        target = _unit(np.einsum("tji,tkj->tki", frame, target))  # (T, K, 3) in the reference frame
        turn = _swing(rest[0], target[:, 0]) if len(below) == 1 else _kabsch(rest, target)  # (T, 3, 3)
        local[j] = ref_local[j] @ turn
        glob[:, j] = frame @ turn
        rot_chans = [c for c in clip.channels[j] if c.endswith("rotation")]
        if len({c[0] for c in rot_chans}) != 3 or len(rot_chans) != 3:
            raise BVHError(
                f"{clip.source}: joint {clip.names[j]!r} needs three rotation channels (X, Y, Z) to carry "
                f"the motion, has {' '.join(clip.channels[j]) or 'none'}"
            )

    # positions relative to the hips (rotations above the hips are constant), in rig units, Y up
    pos = np.empty((n_frames, n_joints, 3))
    for j, p in enumerate(parents):
        base_rot, base_pos = (world, 0.0) if p < 0 else (glob[:, p], pos[:, p])
        pos[:, j] = base_pos + np.einsum("tij,j->ti", base_rot, trans[j])
    hips = found["pelvis"]
    rel = pos - pos[:, hips : hips + 1]  # (T, J, 3)

    # root path: scaled to the rig's legs; height from the planted feet
    rig_joints = _place(clip, found, ref_pos[None])[0] @ to_y_up.T  # (22, 3) reference, Y up
    scale = _leg_length(rig_joints[None]) / _leg_length(joints)  # rig units per metre
    foot_rig = [found[n] for n in _FEET]
    below_feet = [k for f in foot_rig for k in _subtree(children, f)]
    ref_y = ref_pos @ to_y_up.T  # (J, 3)
    floor = ref_y[below_feet, 1].min()
    clearance = np.array([min(ref_y[found[f"l_{n}"], 1], ref_y[found[f"r_{n}"], 1]) - floor
                          for n in ("ankle", "ankle", "foot", "foot")])  # fmt: skip
    hips_path = scale * joints[:, 0]  # (T, 3)
    need = clearance - (hips_path[:, 1:2] + rel[:, foot_rig, 1])  # (T, 4) hip lift putting each joint down
    need = np.maximum(need[:, :2], need[:, 2:])  # (T, 2) per foot (l, r): its lowest joint on the floor
    planted, _ = _contacts(joints)
    planted = planted[:, :2] | planted[:, 2:]  # (T, 2) a foot is planted where its ankle or toe is
    frames = np.nonzero(planted.any(axis=1))[0]
    if len(frames):  # each planted foot as high above the floor as the motion's, scaled to the rig
        lift = need + scale * _sole_heights(joints)  # (T, 2)
        lift = np.array([lift[t, planted[t]].mean() for t in frames])
        hips_path[:, 1] += np.interp(np.arange(n_frames), frames, lift)
    else:  # never planted (a jump, a short clip): the lowest foot just touches the floor
        hips_path[:, 1] += need.max()

    # the joint carrying the translation: the hips or the nearest joint above them with position channels
    carrier = next(
        (k for k in _ancestors(parents, hips) if _MOVES <= set(clip.channels[k])),
        None,
    )
    if carrier is None:
        raise BVHError(
            f"{clip.source}: neither the hips joint {clip.names[hips]!r} nor a joint above it has position "
            f"channels, so the rig cannot carry the root translation"
        )
    carrier_pos = hips_path - (ref_y[hips] - ref_y[carrier])  # joints between are at reference
    p = parents[carrier]
    parent_rot = to_y_up if p < 0 else to_y_up @ ref_rot[p]
    parent_pos = np.zeros(3) if p < 0 else ref_y[p]
    carrier_local = (carrier_pos - parent_pos) @ parent_rot  # (T, 3) = parent_rot.T @ (...)

    motion = np.tile(row, (n_frames, 1))  # (T, C)
    for j, chans in enumerate(clip.channels):
        start = clip.channel_starts[j]
        cols = {name: start + k for k, name in enumerate(chans)}
        if j in local:
            axes = "".join(c[0] for c in chans if c.endswith("rotation"))
            angles = _euler(local[j], axes)  # (T, 3)
            for k, axis in enumerate(axes):
                motion[:, cols[f"{axis}rotation"]] = angles[:, k]
        if j == carrier:
            for k, axis in enumerate("XYZ"):
                motion[:, cols[f"{axis}position"]] = carrier_local[:, k]
    lines = [header.rstrip("\n"), f"Frames: {n_frames}", f"Frame Time: {1.0 / fps:.8f}"]
    lines += [" ".join(f"{v:.5f}" for v in r) for r in motion]
    return "\n".join(lines) + "\n"


def _pitch(v: np.ndarray) -> np.ndarray:
    """Angle (radians) by which (..., 3) vectors point below the horizontal (Y up)."""
    return np.arctan2(-v[..., 1], np.linalg.norm(v[..., [0, 2]], axis=-1))


def _foot_aims(joints: np.ndarray, rig: np.ndarray) -> np.ndarray:
    """(T, 22, 3) ``joints`` with each toe turned about its ankle so the foot keeps the rig's standing pitch.

    An ankle and a toe joint sit at other heights on another skeleton's foot: SMPL's ankle is about 4 cm
    above its toe joint when the foot is flat, a Bandai Namco ankle 7.5 cm. Copying the ankle->toe
    direction would tilt the rig's flat foot by the difference (its toes 4 cm in the air when the heel is
    down). Instead the foot's pitch relative to standing is copied; heading and length are kept. Standing
    is each skeleton's lowest ankle over its lowest toe: across the clip for the motion, over both feet of
    ``rig``, its (22, 3) reference pose (Y up) -- the same heights that put the rig's feet on the floor.
    """

    def standing(drop: float, length: float) -> float:  # pitch (radians) of a foot whose ankle is `drop` up
        return float(np.arcsin(np.clip(drop / max(length, 1e-9), -1.0, 1.0)))

    aim = joints.copy()
    motion_drop = joints[:, [7, 8], 1].min() - joints[:, [10, 11], 1].min()
    rig_drop = rig[[7, 8], 1].min() - rig[[10, 11], 1].min()
    for ankle, toe in ((7, 10), (8, 11)):
        v = joints[:, toe] - joints[:, ankle]  # (T, 3)
        length = np.linalg.norm(v, axis=-1)  # (T,)
        rig_length = float(np.linalg.norm(rig[toe] - rig[ankle]))
        delta = standing(rig_drop, rig_length) - standing(motion_drop, float(length.mean()))
        flat = np.linalg.norm(v[:, [0, 2]], axis=-1)  # (T,)
        heading = v[:, [0, 2]] / np.maximum(flat, 1e-9)[:, None]  # (T, 2)
        pitch = _pitch(v) + delta
        turned = np.stack([heading[:, 0] * np.cos(pitch), -np.sin(pitch), heading[:, 1] * np.cos(pitch)], -1)
        keep = flat < 1e-6  # a vertical foot has no heading to pitch about: left as it is
        aim[:, toe] = joints[:, ankle] + np.where(keep[:, None], v, turned * length[:, None])
    return aim


def _leg_aims(joints: np.ndarray, rig: np.ndarray) -> np.ndarray:
    """(T, 22, 3) ``joints`` with each leg turned about its hip so the rig's hip->ankle line is the motion's.

    With the knee angle kept, a rig whose thigh:shin ratio differs from the motion's would put its ankle
    off the motion's hip->ankle line, higher on one leg than the other: with both feet down, one foot in
    the floor and one above it. So the thigh turns in the leg's plane by the difference between the two
    skeletons' hip angles (thigh to hip->ankle line) at this knee angle, and the shin and ankle turn with
    it: the knee angle stays the motion's, the ankle lands on the motion's line, and the foot (toe) keeps
    its direction. ``rig``: (22, 3) reference pose, for its bone lengths.
    """
    aim = joints.copy()
    for hip, knee, ankle, toe in ((1, 4, 7, 10), (2, 5, 8, 11)):
        thigh, shin = joints[:, knee] - joints[:, hip], joints[:, ankle] - joints[:, knee]  # (T, 3)
        u, v = _unit(thigh), _unit(shin)
        a, b = np.linalg.norm(thigh, axis=-1), np.linalg.norm(shin, axis=-1)  # (T,)
        rig_thigh = float(np.linalg.norm(rig[knee] - rig[hip]))
        rig_shin = float(np.linalg.norm(rig[ankle] - rig[knee]))
        ratio = rig_thigh / max(rig_shin, 1e-9)  # the rig's thigh over its shin
        # angle between the thigh and the hip->ankle line, for the motion's bones and for the rig's
        hip_angle = [np.arccos(np.clip((_unit(t[:, None] * u + b[:, None] * v) * u).sum(-1), -1.0, 1.0))
                     for t in (a, ratio * b)]  # fmt: skip
        turn = hip_angle[0] - hip_angle[1]  # (T,) towards the shin
        axis = _unit(np.cross(u, v))  # (T, 3) zero for a straight leg: no turn
        rot = Rotation.from_rotvec(axis * turn[:, None]).as_matrix()  # (T, 3, 3)
        for j in (knee, ankle):
            aim[:, j] = joints[:, hip] + np.einsum("tij,tj->ti", rot, aim[:, j] - joints[:, hip])
        aim[:, toe] = aim[:, ankle] + (aim[:, toe] - joints[:, ankle])  # the foot keeps its direction
    return aim


def _subtree(children: list[list[int]], j: int) -> list[int]:
    return [j] + [k for c in children[j] for k in _subtree(children, c)]


def _leg_length(joints: np.ndarray) -> float:
    """Mean over frames and sides of hip->knee + knee->ankle in (T, 22, 3) joints."""
    bones = joints[:, [4, 7, 5, 8]] - joints[:, [1, 4, 2, 5]]  # (T, 4, 3) thighs and shins
    total = np.linalg.norm(bones, axis=-1).sum(axis=-1)  # (T,) both legs
    length = float(np.mean(total) / 2)
    if not length > 0:
        raise BVHError("the legs have zero length: cannot scale the root translation to the rig")
    return length


def check_rig(rig: str | os.PathLike) -> None:
    """Raise now what exporting onto ``rig`` would raise about the rig itself (before any work is done).

    Raises:
        BVHError: not a preset or readable BVH, or its joints cannot be matched to the 22 SMPL joints.
        FileNotFoundError: a ``.bvh`` path that does not exist.
    """
    if str(rig).lower() == "smpl":
        return
    clip, preset, _ = load_rig(rig)
    _export_map(clip, _resolve(clip, preset, None))


def write_bvh_on_rig(
    path: str | os.PathLike,
    joints: np.ndarray,
    rig: str | os.PathLike = "smpl",
    fps: float = FPS,
    rig_pose: RigPose = "auto",
) -> None:
    """Write (T, 22, 3) joint positions (metres, Y up) as a BVH file on ``rig``, atomically.

    ``rig="smpl"`` is the project's own skeleton (``write_bvh``: the motion's bone lengths, exact joint
    positions); any other preset or ``.bvh`` file goes through ``rig_bvh_text`` (see it for the errors).
    """
    if str(rig).lower() == "smpl":
        write_bvh(path, joints, fps=fps)
        return
    atomic_write_text(path, rig_bvh_text(joints, rig, fps=fps, rig_pose=rig_pose))
