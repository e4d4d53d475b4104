"""One table of adversarial inputs, tried at every entry point by ``tests/test_bad_input.py``.

Each :class:`Bad` is one input a user could give: a prompt, a motion file or array, a length in seconds, a
task, a timeline line or a model folder. ``make(tmp)`` builds it (files go in ``tmp``); ``match`` is a
regular expression the one-line message must contain, whatever surface shows it. How a kind reaches each
surface (CLI, Python API, web UI session) is the test's business; the inputs live only here.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from conftest import EXAMPLE_BVH

Kind = Literal["prompt", "array", "file", "seconds", "task", "timeline", "model"]
SURFACES = frozenset({"cli", "api", "web"})


@dataclass(frozen=True)
class Bad:
    name: str
    kind: Kind
    make: Callable[[Path], Any]  # tmp folder -> the input (str, float, array or a Path it wrote)
    match: str  # regex that the one-line message contains
    surfaces: frozenset[str] = field(default=SURFACES)  # where a user can give this input at all
    model_only: bool = False  # bad only as the model's input (a 1-frame file still converts and renders)


def _const(value: Any) -> Callable[[Path], Any]:
    return lambda tmp: value


def _joints(n_frames: int = 40, fill: float | None = None, at: tuple | None = None) -> np.ndarray:
    """A smooth (T, 22, 3) float32 walk-like array, ``fill`` put at index ``at`` (or everywhere)."""
    t = np.arange(n_frames, dtype=np.float32)[:, None, None] / 20
    joints = np.broadcast_to(np.linspace(0, 1.7, 22, dtype=np.float32)[None, :, None], (n_frames, 22, 3))
    joints = (joints + 0.05 * np.sin(t + np.arange(3)[None, None, :])).astype(np.float32)
    if fill is not None:
        if at is None:
            joints[:] = fill
        else:
            joints[at] = fill
    return joints


def _file(name: str, data: bytes | str) -> Callable[[Path], Path]:
    def make(tmp: Path) -> Path:
        path = tmp / name
        path.write_bytes(data.encode("utf-8", "surrogateescape") if isinstance(data, str) else data)
        return path

    return make


def _npy(name: str, array: np.ndarray, allow_pickle: bool = False) -> Callable[[Path], Path]:
    def make(tmp: Path) -> Path:
        np.save(tmp / name, array, allow_pickle=allow_pickle)
        return tmp / name

    return make


def _folder(name: str) -> Callable[[Path], Path]:
    def make(tmp: Path) -> Path:
        (tmp / name).mkdir()
        (tmp / name / "inside.txt").write_text("a folder, not a motion")
        return tmp / name

    return make


_BVH = EXAMPLE_BVH.read_bytes()
_BVH_TEXT = EXAMPLE_BVH.read_text()
_HEAD, _MOTION = _BVH_TEXT.split("MOTION\n")
_ROWS = _MOTION.splitlines()[2:]
_CHANNELS = len(_ROWS[0].split())

NON_UTF8_PROMPT = "a person walks \udcff\udcfe forward"  # what argv bytes b"\xff\xfe" decode to


BAD: tuple[Bad, ...] = (
    # --- prompts --------------------------------------------------------------------------------------
    Bad("prompt empty", "prompt", _const(""), r"empty"),
    Bad("prompt whitespace", "prompt", _const(" \t\n  "), r"empty"),
    Bad("prompt 10000 chars", "prompt", _const(("a person walks " * 700)[:10_000]),
        r"10000 characters"),
    Bad("prompt non-UTF-8", "prompt", _const(NON_UTF8_PROMPT), r"not valid UTF-8"),
    Bad("prompt bytes", "prompt", _const(b"\xff\xfe a person walks"), r"must be a string",
        frozenset({"api", "web"})),
    Bad("prompt control characters", "prompt", _const("a person \x00\x07 walks"), r"control character",
        frozenset({"api", "web"})),  # argv cannot hold NUL
    # --- motion arrays (the CLI and the web UI get them as .npy files) ---------------------------------
    Bad("joints NaN", "array", _const(_joints(fill=math.nan, at=(5, 3, 1))), r"NaN"),
    Bad("joints inf", "array", _const(_joints(fill=math.inf, at=(7, 0, 2))), r"NaN or inf"),
    Bad("joints -inf everywhere", "array", _const(_joints(fill=-math.inf)), r"NaN or inf"),
    Bad("joints 1e30", "array", _const(_joints() * np.float32(1e30)), r"e\+30.*metres"),
    Bad("joints 1e30 one value", "array", _const(_joints(fill=1e30, at=(3, 4, 0))), r"1e\+30.*metres"),
    Bad("joints wrong joint count", "array", _const(_joints()[:, :21]), r"\(40, 21, 3\)"),
    Bad("joints one pose 2-D", "array", _const(_joints()[0]), r"\(22, 3\)"),
    Bad("joints 4-D", "array", _const(_joints()[..., None]), r"\(40, 22, 3, 1\)"),
    Bad("joints complex", "array", _const(_joints().astype(np.complex64)), r"complex"),
    Bad("joints bool", "array", _const(np.ones((40, 22, 3), dtype=bool)), r"bool"),
    Bad("joints strings", "array", _const(np.full((40, 22, 3), "x")), r"<U1|str"),
    Bad("joints 0 frames", "array", _const(_joints(0)), r"0 frames|at least"),
    Bad("joints 1 frame", "array", _const(_joints(1)), r"at least 2 frames", model_only=True),
    Bad("joints 3 frames", "array", _const(_joints(3)), r"at least 4", model_only=True),
    # --- motion files ---------------------------------------------------------------------------------
    Bad("bvh corrupt", "file", _file("corrupt.bvh", _BVH_TEXT.replace("OFFSET", "OFSET", 3)),
        r"corrupt\.bvh: line \d+"),
    Bad("bvh truncated", "file", _file("truncated.bvh", _BVH[: len(_BVH) * 2 // 3]),
        r"truncated\.bvh: line \d+: file ends after"),
    Bad("bvh truncated in hierarchy", "file", _file("cut.bvh", _BVH[: len(_HEAD) // 2]),
        r"cut\.bvh: line \d+: no MOTION section"),
    Bad("bvh empty", "file", _file("empty.bvh", b""), r"empty\.bvh: the file is empty"),
    Bad("bvh binary garbage", "file", _file("noise.bvh", bytes(range(256)) * 8), r"noise\.bvh: line 1"),
    Bad("bvh 10^6 frames declared", "file",
        _file("million.bvh", _HEAD + "MOTION\nFrames: 1000000\nFrame Time: 0.05\n" + "\n".join(_ROWS[:3])),
        r"million\.bvh: line \d+: file ends after 3 of the 1000000 frames"),
    Bad("bvh channels disagree with data", "file",
        _file("chans.bvh", _HEAD + "MOTION\nFrames: 2\nFrame Time: 0.05\n"
              + "\n".join(" ".join(r.split()[:-1]) for r in _ROWS[:2])),
        rf"chans\.bvh: line \d+: frame 0 has {_CHANNELS - 1} values, the hierarchy declares {_CHANNELS}"),
    Bad("bvh is a directory", "file", _folder("walk.bvh"), r"walk\.bvh: is a directory"),
    Bad("npy is a directory", "file", _folder("walk.npy"), r"walk\.npy: is a directory"),
    Bad("file missing", "file", lambda tmp: tmp / "absent.bvh", r"absent\.bvh"),
    Bad("wrong suffix", "file", _file("walk.txt", "a person walks"), r"walk\.txt.*\.bvh"),
    Bad("npy not numpy", "file", _file("text.npy", "not an array"), r"text\.npy: not a readable \.npy"),
    Bad("npy truncated", "file", lambda tmp: _truncated_npy(tmp / "cut.npy"), r"cut\.npy: not a readable"),
    Bad("npy pickled objects", "file", _npy("objects.npy", np.array([{"a": 1}], dtype=object), True),
        r"objects\.npy: not a readable \.npy"),
    # --- lengths (as typed: the CLI's --seconds text; the API and the web UI get the number) -----------
    Bad("seconds 0", "seconds", _const("0"), r"above 0|more than 0|shorter than one|\(0, 9\.8\]"),
    Bad("seconds negative", "seconds", _const("-2"), r"above 0|more than 0|shorter than one|\(0, 9\.8\]"),
    Bad("seconds NaN", "seconds", _const("nan"), r"nan"),
    Bad("seconds inf", "seconds", _const("inf"), r"inf"),
    Bad("seconds above the limit", "seconds", _const("60"), r"9\.8|allow_long|allow-long"),
    Bad("seconds 1e30", "seconds", _const("1e30"), r"9\.8|allow_long|allow-long"),
    Bad("seconds text", "seconds", _const("four"), r"four"),
    # --- tasks ----------------------------------------------------------------------------------------
    Bad("task unknown", "task", _const("dance_battle"), r"dance_battle"),
    Bad("task empty", "task", _const(""), r"''|task"),
    Bad("task wrong case", "task", _const("T2M"), r"T2M"),
    # --- timeline lines (CLI: a line of the spec file; API: parsed then generated; web: a table row) ----
    Bad("timeline seconds not a number", "timeline", _const("three a person walks"), r"three"),
    Bad("timeline no prompt", "timeline", _const("3"), r"no prompt|prompt"),
    Bad("timeline 0 s", "timeline", _const("0 a person walks"), r"\(0, 9\.8\]"),
    Bad("timeline negative", "timeline", _const("-1 a person walks"), r"\(0, 9\.8\]"),
    Bad("timeline NaN", "timeline", _const("nan a person walks"), r"nan"),
    Bad("timeline too long", "timeline", _const("12 a person walks"), r"\(0, 9\.8\]"),
    Bad("timeline prompt 10000 chars", "timeline", _const("3 " + "walk " * 2000), r"at most 600"),
    Bad("timeline non-UTF-8", "timeline", _const("3 a person \udcff walks"), r"UTF-8"),
    # --- model folders --------------------------------------------------------------------------------
    Bad("model missing", "model", lambda tmp: tmp / "no-model", r"no-model.*does not exist"),
    Bad("model is a file", "model", _file("model.txt", "weights?"), r"model\.txt"),
    Bad("model empty folder", "model", lambda tmp: _mkdir(tmp / "empty-model"), r"empty-model.*missing"),
)  # fmt: skip


def _mkdir(path: Path) -> Path:
    path.mkdir()
    return path


def _truncated_npy(path: Path) -> Path:
    np.save(path, _joints())
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def cases(kind: Kind, surface: str) -> list[Bad]:
    """The rows of ``kind`` a user can give at ``surface``."""
    return [b for b in BAD if b.kind == kind and surface in b.surfaces]


assert len({b.name for b in BAD}) == len(BAD), "case names are test ids: keep them unique"
