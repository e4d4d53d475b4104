"""Reading BVH files: any hierarchy, any channel layout, and forward kinematics over all frames.

Conventions of the format as this reader applies them (they match Blender's importer):
- a joint's local transform is ``T(translation) @ R``, where the translation is its position channels when
  it has any (they replace the ``OFFSET``) and its ``OFFSET`` otherwise;
- rotation channels compose in the order they are listed: ``Zrotation Xrotation Yrotation`` is
  ``Rz @ Rx @ Ry`` (intrinsic ZXY), angles in degrees;
- an ``End Site`` becomes a joint without channels named ``<parent>_end``, so its position is available.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from motiongpt.errors import BVHError

CHANNEL_NAMES = ("Xposition", "Yposition", "Zposition", "Xrotation", "Yrotation", "Zrotation")
_CHANNEL_LOOKUP = {name.lower(): name for name in CHANNEL_NAMES}
_MAX_CHANNELS = 6
# Frame times outside this range (1 to 10,000 frames a second) are refused: resampling to 20 fps makes
# (frames - 1) * frame_time * 20 + 1 frames, so "Frame Time: 1e10" on a 3-frame file would ask for 4e11.
MIN_FRAME_TIME, MAX_FRAME_TIME = 1e-4, 1.0


def _show(text: str, limit: int = 40) -> str:
    """``repr(text)`` cut to ``limit`` characters, so a giant token cannot flood a one-line message."""
    return repr(text) if len(text) <= limit else repr(text[:limit]) + f"... ({len(text)} characters)"


@dataclass
class BVHClip:
    """One BVH file in memory.

    Attributes:
        names: joint names, End Sites included (as ``<parent>_end``), in file order, length J.
        parents: index of each joint's parent, -1 for a root, length J; parents precede children.
        offsets: (J, 3) rest offsets from the parent, in the file's units.
        channels: the channel names of each joint (empty for End Sites), e.g. ``("Zrotation", ...)``.
        frame_time: seconds per frame.
        motion: (T, C) channel values, C = total channel count, columns in joint order.
        source: the file it was read from (used in error messages), or "<memory>".
    """

    names: tuple[str, ...]
    parents: tuple[int, ...]
    offsets: np.ndarray  # (J, 3)
    channels: tuple[tuple[str, ...], ...]
    frame_time: float
    motion: np.ndarray  # (T, C)
    source: str = "<memory>"

    @property
    def n_frames(self) -> int:
        return int(self.motion.shape[0])

    @property
    def fps(self) -> float:
        return 1.0 / self.frame_time

    @property
    def channel_starts(self) -> tuple[int, ...]:
        """Column of each joint's first channel in ``motion``."""
        starts, col = [], 0
        for chans in self.channels:
            starts.append(col)
            col += len(chans)
        return tuple(starts)

    def global_transforms(self) -> tuple[np.ndarray, np.ndarray]:
        """World rotations (T, J, 3, 3) and positions (T, J, 3) of every joint, in the file's units."""
        n_frames, n_joints = self.n_frames, len(self.names)
        rot = np.empty((n_frames, n_joints, 3, 3))
        pos = np.empty((n_frames, n_joints, 3))
        for j, (parent, chans, start) in enumerate(zip(self.parents, self.channels, self.channel_starts)):
            values = self.motion[:, start : start + len(chans)]  # (T, n_channels)
            local_t = np.broadcast_to(self.offsets[j], (n_frames, 3)).copy()
            local_r = _rotation_from_channels(chans, values)  # (T, 3, 3) or None
            for k, name in enumerate(chans):
                if name.endswith("position"):
                    local_t[:, "XYZ".index(name[0])] = values[:, k]
            if parent < 0:
                pos[:, j] = local_t
                rot[:, j] = np.eye(3) if local_r is None else local_r
            else:
                pos[:, j] = pos[:, parent] + np.einsum("tij,tj->ti", rot[:, parent], local_t)
                rot[:, j] = rot[:, parent] if local_r is None else rot[:, parent] @ local_r
        return rot, pos

    def global_positions(self) -> np.ndarray:
        """Forward kinematics: world positions (T, J, 3) of every joint, in the file's units."""
        return self.global_transforms()[1]


def _rotation_from_channels(chans: tuple[str, ...], values: np.ndarray) -> np.ndarray | None:
    """Local rotation matrices (T, 3, 3) from the rotation channels in listed order, or None if none."""
    axes = "".join(name[0] for name in chans if name.endswith("rotation"))
    if not axes:
        return None
    angles = values[:, [k for k, name in enumerate(chans) if name.endswith("rotation")]]  # (T, n_rot)
    if len(axes) <= 3 and all(a != b for a, b in zip(axes, axes[1:])):
        return Rotation.from_euler(axes, angles, degrees=True).as_matrix()
    # Unusual layouts (an axis repeated back to back, or more than three rotations): compose one by one.
    out = np.broadcast_to(np.eye(3), (values.shape[0], 3, 3)).copy()
    for k, axis in enumerate(axes):
        out = out @ Rotation.from_euler(axis, angles[:, k], degrees=True).as_matrix()
    return out


# --- parsing ------------------------------------------------------------------------------------------


class _Tokens:
    """Whitespace-separated tokens of the hierarchy with their line numbers."""

    def __init__(self, lines: list[str], start: int, stop: int, source: str) -> None:
        self.items: list[tuple[str, int]] = []
        for lineno in range(start, stop):
            for tok in lines[lineno].replace("{", " { ").replace("}", " } ").split():
                self.items.append((tok, lineno + 1))
        self.pos = 0
        self.source = source
        self.last_line = stop

    def error(self, message: str, line: int | None = None) -> BVHError:
        if line is None:
            line = self.items[self.pos][1] if self.pos < len(self.items) else self.last_line
        return BVHError(f"{self.source}: line {line}: {message}")

    def peek(self) -> tuple[str, int] | None:
        return self.items[self.pos] if self.pos < len(self.items) else None

    def next(self, what: str) -> tuple[str, int]:
        if self.pos >= len(self.items):
            raise self.error(f"expected {what}, found the end of the HIERARCHY section")
        item = self.items[self.pos]
        self.pos += 1
        return item

    def expect(self, word: str) -> int:
        tok, line = self.next(repr(word))
        if tok.lower() != word.lower():
            raise self.error(f"expected {word!r}, found {_show(tok)}", line)
        return line

    def number(self, what: str) -> float:
        tok, line = self.next(what)
        try:
            value = float(tok)
        except ValueError:
            raise self.error(f"expected {what} (a number), found {_show(tok)}", line) from None
        if not math.isfinite(value):
            raise self.error(f"{what} must be finite, found {_show(tok)}", line)
        return value

    def name(self, keyword_line: int) -> str:
        """The rest of the keyword's line up to '{' (names may contain spaces)."""
        parts = []
        while (item := self.peek()) is not None and item[1] == keyword_line and item[0] not in "{}":
            parts.append(item[0])
            self.pos += 1
        if not parts:
            raise self.error("expected a joint name after ROOT/JOINT", keyword_line)
        return " ".join(parts)


class _Hierarchy:
    def __init__(self) -> None:
        self.names: list[str] = []
        self.taken: set[str] = set()  # the names, for O(1) duplicate checks (files may hold many joints)
        self.parents: list[int] = []
        self.offsets: list[tuple[float, float, float]] = []
        self.channels: list[tuple[str, ...]] = []


def _parse_joint(tok: _Tokens, h: _Hierarchy, name: str, parent: int, is_end: bool, line: int) -> None:
    if is_end:
        base = f"{h.names[parent]}_end"
        name, k = base, 1
        while name in h.taken:
            k += 1
            name = f"{base}{k}"
    elif name in h.taken:
        raise tok.error(f"joint name {_show(name)} appears twice", line)
    index = len(h.names)
    h.names.append(name)
    h.taken.add(name)
    h.parents.append(parent)
    h.offsets.append((0.0, 0.0, 0.0))
    h.channels.append(())
    tok.expect("{")
    seen_offset = False
    while True:
        word, wline = tok.next("OFFSET, CHANNELS, JOINT, End Site or '}'")
        key = word.upper()
        if key == "}":
            break
        if key == "OFFSET":
            h.offsets[index] = (tok.number("OFFSET x"), tok.number("OFFSET y"), tok.number("OFFSET z"))
            seen_offset = True
        elif key == "CHANNELS" and not is_end:
            h.channels[index] = _parse_channels(tok, name, wline)
        elif key == "JOINT" and not is_end:
            _parse_joint(tok, h, tok.name(wline), index, False, wline)
        elif key == "END" and not is_end:
            if (item := tok.peek()) is not None and item[0].lower() == "site":
                tok.pos += 1
            _parse_joint(tok, h, "", index, True, wline)
        else:
            where = "an End Site" if is_end else f"joint {_show(name)}"
            raise tok.error(f"unexpected {_show(word)} in {where}", wline)
    if not seen_offset:
        where = f"the End Site of {_show(h.names[parent])}" if is_end else f"joint {_show(name)}"
        raise tok.error(f"{where} has no OFFSET", line)


def _parse_channels(tok: _Tokens, joint: str, line: int) -> tuple[str, ...]:
    count_tok, _ = tok.next("a channel count")
    joint = _show(joint)
    if not _COUNT.fullmatch(count_tok) or int(count_tok) > _MAX_CHANNELS:
        raise tok.error(
            f"joint {joint}: channel count must be 0..{_MAX_CHANNELS}, found {_show(count_tok)}", line
        )
    names = []
    for _ in range(int(count_tok)):
        word, wline = tok.next(f"a channel name for joint {joint}")
        canonical = _CHANNEL_LOOKUP.get(word.lower())
        if canonical is None:
            raise tok.error(
                f"joint {joint}: {_show(word)} is not a channel name (CHANNELS {count_tok} declares "
                f"{count_tok} of {', '.join(CHANNEL_NAMES)})",
                wline,
            )
        if canonical in names:
            raise tok.error(f"joint {joint}: channel {canonical} listed twice", wline)
        names.append(canonical)
    return tuple(names)


_COUNT = re.compile(r"[0-9]{1,15}")  # "²".isdigit() is true and int() of 5000 digits raises: neither here
_FRAMES_RE = re.compile(r"^frames\s*:?\s*(\S+)\s*$", re.IGNORECASE)
_FRAME_TIME_RE = re.compile(r"^frame\s*time\s*:?\s*(\S+)\s*$", re.IGNORECASE)


def _parse_motion(lines: list[str], start: int, n_channels: int, source: str) -> tuple[float, np.ndarray]:
    """Parse the lines after MOTION: ``Frames: N``, ``Frame Time: t`` and N rows of numbers."""
    content = [(i, lines[i].strip()) for i in range(start, len(lines)) if lines[i].strip()]
    if len(content) < 2:
        raise BVHError(f"{source}: line {len(lines)}: MOTION needs 'Frames:' and 'Frame Time:' lines")
    (i_frames, frames_line), (i_time, time_line) = content[0], content[1]
    m = _FRAMES_RE.match(frames_line)
    if m is None or not _COUNT.fullmatch(m.group(1)):
        raise BVHError(
            f"{source}: line {i_frames + 1}: expected 'Frames: <count>', found {frames_line[:60]!r}"
        )
    n_frames = int(m.group(1))
    if n_frames == 0:
        raise BVHError(f"{source}: line {i_frames + 1}: the clip has zero frames")
    m = _FRAME_TIME_RE.match(time_line)
    frame_time = _to_float(m.group(1)) if m else None
    if frame_time is None or not frame_time > 0:
        raise BVHError(
            f"{source}: line {i_time + 1}: expected 'Frame Time: <seconds > 0>', found {time_line[:60]!r}"
        )
    if not MIN_FRAME_TIME <= frame_time <= MAX_FRAME_TIME:
        raise BVHError(
            f"{source}: line {i_time + 1}: Frame Time {frame_time:g} s is outside {MIN_FRAME_TIME:g}..."
            f"{MAX_FRAME_TIME:g} s (1 to 10000 frames a second)"
        )
    rows = content[2:]
    if len(rows) < n_frames:
        raise BVHError(
            f"{source}: line {len(lines)}: file ends after {len(rows)} of the {n_frames} frames declared "
            f"on line {i_frames + 1} (truncated?)"
        )
    if len(rows) > n_frames:
        raise BVHError(
            f"{source}: line {rows[n_frames][0] + 1}: more frame rows than the {n_frames} declared "
            f"on line {i_frames + 1}"
        )
    motion = np.empty((n_frames, n_channels))
    for t, (i, text) in enumerate(rows):
        fields = text.split()
        if len(fields) != n_channels:
            raise BVHError(
                f"{source}: line {i + 1}: frame {t} has {len(fields)} values, the hierarchy declares "
                f"{n_channels} channels"
            )
        try:
            motion[t] = [float(x) for x in fields]
        except ValueError:
            bad = next(x for x in fields if _to_float(x) is None)
            raise BVHError(f"{source}: line {i + 1}: frame {t}: {bad[:40]!r} is not a number") from None
    if not np.isfinite(motion).all():
        t = int(np.nonzero(~np.isfinite(motion).all(axis=1))[0][0])
        raise BVHError(f"{source}: line {rows[t][0] + 1}: frame {t} holds NaN or infinity")
    return frame_time, motion


def _to_float(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def parse_bvh(text: str, source: str = "<memory>") -> BVHClip:
    """Parse BVH text; errors are ``BVHError`` naming ``source`` and the line."""
    lines = text.lstrip("\ufeff").splitlines()
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is None:
        raise BVHError(f"{source}: the file is empty")
    if lines[first].strip().upper() != "HIERARCHY":
        raise BVHError(
            f"{source}: line {first + 1}: expected 'HIERARCHY', found {lines[first].strip()[:60]!r}"
        )
    motion_at = next((i for i in range(first + 1, len(lines)) if lines[i].strip().upper() == "MOTION"), None)
    if motion_at is None:
        raise BVHError(f"{source}: line {len(lines)}: no MOTION section (truncated file?)")

    tok = _Tokens(lines, first + 1, motion_at, source)
    h = _Hierarchy()
    try:
        while tok.peek() is not None:
            word, line = tok.next("ROOT")
            if word.upper() != "ROOT":
                raise tok.error(f"expected 'ROOT', found {_show(word)}", line)
            _parse_joint(tok, h, tok.name(line), -1, False, line)
    except RecursionError:
        raise BVHError(f"{source}: the hierarchy is nested too deeply to read") from None
    if not h.names:
        raise BVHError(f"{source}: line {motion_at + 1}: the HIERARCHY section declares no ROOT joint")

    n_channels = sum(len(c) for c in h.channels)
    frame_time, motion = _parse_motion(lines, motion_at + 1, n_channels, source)
    return BVHClip(
        names=tuple(h.names),
        parents=tuple(h.parents),
        offsets=np.asarray(h.offsets, dtype=np.float64).reshape(-1, 3),
        channels=tuple(h.channels),
        frame_time=frame_time,
        motion=motion,
        source=source,
    )


def read_bvh(path: str | os.PathLike) -> BVHClip:
    """Read a BVH file (any hierarchy, channel layout, line endings).

    Args:
        path: the ``.bvh`` file.

    Returns:
        A ``BVHClip``; ``clip.global_positions()`` gives (T, J, 3) world positions.

    Raises:
        BVHError: the file is malformed; the message names the file and line.
        FileNotFoundError: the file does not exist.
    """
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8", errors="replace")
    except IsADirectoryError:
        raise BVHError(f"{path}: is a directory, not a BVH file") from None
    return parse_bvh(text, source=str(path))
