"""BVH parsing: layout variants, forward kinematics against hand-computed positions, and bad input (the
mutation fuzzing of many files from several rigs is tests/test_bvh_fuzz.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from motiongpt.errors import BVHError
from motiongpt.motion.bvh import read_bvh

# Root at (1, 2, 3), turned 90° about Y; "upper" 1 unit up with 90° about Z; End Site 1 unit up.
TINY = """HIERARCHY
ROOT base
{
  OFFSET 0 0 0
  CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation
  JOINT upper
  {
    OFFSET 0 1 0
    CHANNELS 3 Zrotation Xrotation Yrotation
    End Site
    {
      OFFSET 0 1 0
    }
  }
  JOINT side
  {
    OFFSET 2 0 0
    CHANNELS 3 Zrotation Xrotation Yrotation
    End Site
    {
      OFFSET 0 0 1
    }
  }
}
MOTION
Frames: 2
Frame Time: 0.5
1 2 3 0 0 0 0 0 0 0 0 0
1 2 3 0 0 90 90 0 0 0 0 0
"""


def _write(tmp_path: Path, text: str, name: str = "clip.bvh", newline: str = "\n") -> Path:
    path = tmp_path / name
    path.write_bytes(text.replace("\n", newline).encode())
    return path


def test_tiny_fk_matches_hand_computed_positions(tmp_path: Path) -> None:
    clip = read_bvh(_write(tmp_path, TINY))
    assert clip.names == ("base", "upper", "upper_end", "side", "side_end")
    assert clip.parents == (-1, 0, 1, 0, 3)
    assert clip.channels[2] == () and len(clip.channels[1]) == 3
    assert clip.motion.shape == (2, 12) and clip.frame_time == 0.5
    pos = clip.global_positions()
    assert pos.shape == (2, 5, 3)
    rest = [[1, 2, 3], [1, 3, 3], [1, 4, 3], [3, 2, 3], [3, 2, 4]]
    np.testing.assert_allclose(pos[0], rest, atol=1e-9)
    # Frame 1: root yaw +90° about Y maps +X to -Z and +Z to +X; upper's Rz(90) maps +Y to -X,
    # which the root then maps to +Z.
    frame1 = [[1, 2, 3], [1, 3, 3], [1, 3, 4], [1, 2, 1], [2, 2, 1]]
    np.testing.assert_allclose(pos[1], frame1, atol=1e-9)


def test_channel_order_is_intrinsic_in_listed_order(tmp_path: Path) -> None:
    """ZXY with z=90, x=90: Rz(90) @ Rx(90) maps the End Site's +Y offset onto +Z."""
    text = TINY.replace("1 2 3 0 0 90 90 0 0 0 0 0", "0 0 0 0 0 0 90 90 0 0 0 0")
    pos = read_bvh(_write(tmp_path, text)).global_positions()
    np.testing.assert_allclose(pos[1, 2] - pos[1, 1], [0, 0, 1], atol=1e-9)
    # The same angles in XZY order for "upper": Rx(90) @ Rz(90) maps +Y to -X.
    text_xzy = text.replace(
        "JOINT upper\n  {\n    OFFSET 0 1 0\n    CHANNELS 3 Zrotation Xrotation Yrotation",
        "JOINT upper\n  {\n    OFFSET 0 1 0\n    CHANNELS 3 Xrotation Zrotation Yrotation",
    )
    pos = read_bvh(_write(tmp_path, text_xzy, "xzy.bvh")).global_positions()
    np.testing.assert_allclose(pos[1, 2] - pos[1, 1], [-1, 0, 0], atol=1e-9)


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_line_endings_tabs_and_blank_lines(tmp_path: Path, newline: str) -> None:
    messy = (
        "\n\n"
        + TINY.replace("  ", "\t").replace("MOTION\n", "\nMOTION\n\n").replace("Frames: 2", "Frames:\t2")
        + "\n\n"
    )
    a = read_bvh(_write(tmp_path, TINY)).global_positions()
    b = read_bvh(_write(tmp_path, messy, "messy.bvh", newline)).global_positions()
    np.testing.assert_allclose(a, b)


def test_three_channel_root_and_six_channel_joint(tmp_path: Path) -> None:
    text = TINY.replace(
        "CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation",
        "CHANNELS 3 Yrotation Xrotation Zrotation",
    ).replace(
        "    CHANNELS 3 Zrotation Xrotation Yrotation\n    End Site\n    {\n      OFFSET 0 1 0",
        "    CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation\n    End Site\n"
        "    {\n      OFFSET 0 1 0",
    )
    text = text.replace("1 2 3 0 0 0 0 0 0 0 0 0", "0 0 0 0 5 0 0 0 0 0 0 0").replace(
        "1 2 3 0 0 90 90 0 0 0 0 0", "90 0 0 0 7 0 0 0 0 0 0 0"
    )
    clip = read_bvh(_write(tmp_path, text))
    pos = clip.global_positions()
    # Without position channels the root sits at its OFFSET; "upper"'s position channels replace its OFFSET.
    np.testing.assert_allclose(pos[0, 0], [0, 0, 0])
    np.testing.assert_allclose(pos[0, 1], [0, 5, 0], atol=1e-9)
    np.testing.assert_allclose(pos[1, 1], [0, 7, 0], atol=1e-9)  # root yaw keeps +Y
    np.testing.assert_allclose(pos[1, 3], [0, 0, -2], atol=1e-9)  # yaw 90° maps the side offset +X to -Z


def test_names_with_spaces_braces_on_keyword_lines_and_multiple_end_sites(tmp_path: Path) -> None:
    text = (
        "HIERARCHY\nROOT Root Bone {\n OFFSET 0 0 0\n CHANNELS 3 Xposition Yposition Zposition\n"
        " End Site { OFFSET 1 0 0 }\n End Site { OFFSET 0 1 0 }\n}\n"
        "MOTION\nFrames: 1\nFrame Time: 0.1\n1 1 1\n"
    )
    clip = read_bvh(_write(tmp_path, text))
    assert clip.names == ("Root Bone", "Root Bone_end", "Root Bone_end2")
    np.testing.assert_allclose(clip.global_positions()[0], [[1, 1, 1], [2, 1, 1], [1, 2, 1]])


_UPPER = "CHANNELS 3 Zrotation Xrotation Yrotation\n    End Site\n    {\n      OFFSET 0 1"


def _sub(old: str, new: str) -> Callable[[str], str]:
    return lambda text: text.replace(old, new, 1)


BAD_CASES: dict[str, tuple[Callable[[str], str], str]] = {
    "truncated": (lambda t: t[: t.index("1 2 3 0 0 90")], r"line \d+: file ends after 1 of the 2 frames"),
    "channel count": (_sub(_UPPER, _UPPER.replace("3", "2", 1)),
                      r"line 9: unexpected 'Yrotation' in joint 'upper'"),
    "row length": (_sub("1 2 3 0 0 0 0 0 0 0 0 0", "1 2 3 0 0 0 0 0 0 0 0"),
                   r"line 28: frame 0 has 11 values, the hierarchy declares 12 channels"),
    "text in numbers": (_sub("1 2 3 0 0 90", "1 2 3 0 abc 90"), r"line 29: frame 1: 'abc' is not"),
    "text in offset": (_sub("OFFSET 2 0 0", "OFFSET 2 zero 0"), r"line 17: expected OFFSET y"),
    "zero frames": (_sub("Frames: 2", "Frames: 0"), r"line 26: the clip has zero frames"),
    "no motion": (lambda t: t[: t.index("MOTION")], r"no MOTION section"),
    "missing brace": (_sub("  }\n  JOINT side", "  JOINT side"), r"expected .* found the end"),
    "extra brace": (_sub("  JOINT side", "  }\n  JOINT side"), r"line 16: expected 'ROOT', found 'JOINT'"),
    "bad channel": (_sub("Xrotation Yrotation\n    End", "Xrotation Wrotation\n    End"),
                    r"'Wrotation' is not a channel name"),
    "nan": (_sub("1 2 3 0 0 90", "1 2 nan 0 0 90"), r"line 29: frame 1 holds NaN"),
    "frame time": (_sub("Frame Time: 0.5", "Frame Time: -1"), r"line 27: expected 'Frame Time"),
    "duplicate joint": (_sub("JOINT side", "JOINT upper"), r"joint name 'upper' appears twice"),
    "empty": (lambda t: "", r"the file is empty"),
    "not bvh": (lambda t: "hello\n" + t, r"line 1: expected 'HIERARCHY'"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(BAD_CASES))
def test_bad_input_gives_one_clear_error_naming_file_and_line(tmp_path: Path, case: str) -> None:
    mutate, pattern = BAD_CASES[case]
    path = _write(tmp_path, mutate(TINY), f"bad_{case.replace(' ', '_')}.bvh")
    with pytest.raises(BVHError, match=pattern) as info:
        read_bvh(path)
    assert str(path) in str(info.value)
    assert "\n" not in str(info.value)


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_bvh(tmp_path / "absent.bvh")
    with pytest.raises(BVHError, match="directory"):
        read_bvh(tmp_path)
