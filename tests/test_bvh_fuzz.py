"""BVH fuzzing: mutated files from several rigs either read (and retarget) or give one ``BVHError`` line
naming the file, fast, and never an allocation sized by a number the file merely declares.

Sources: the project's own SMPL-named BVH (the shipped example), the same walk written onto the mixamo,
bandai and cc rig presets (generated here, so the default run needs no data), and, in the slow run, real
clips of the Bandai Namco and CMU archives in ../shared/data. Each file is cut to a few frames, then
mutated: line edits (delete, duplicate, swap, truncate, junk and token changes) and structure edits
(unbalanced braces, channel counts that disagree with the rows, rows one value short or long, 10⁶ or
10¹² frames declared, absurd frame times, deep nesting, huge numbers and giant tokens).
"""

from __future__ import annotations

import random
import re
import time
import tracemalloc
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from conftest import EXAMPLE_BVH, shared_data
from motiongpt.errors import BVHError
from motiongpt.motion.bvh import bvh_to_joints, read_bvh, write_bvh_on_rig
from motiongpt.motion.io import load_joints

N_FRAMES = 4  # frames kept of each source: mutations, not parsing speed, are the point
PRESET_RIGS = ("smpl", "mixamo", "bandai", "cc")


def _cut(text: str, n_frames: int = N_FRAMES) -> list[str]:
    head, motion = re.split(r"^MOTION[ \t]*\r?$\n?", text, maxsplit=1, flags=re.MULTILINE)
    rows = [r for r in motion.splitlines() if r.strip()]
    time_line = rows[1]
    motion = f"MOTION\nFrames: {n_frames}\n{time_line}\n" + "\n".join(rows[2 : 2 + n_frames])
    return (head.rstrip("\n") + "\n" + motion).splitlines()


@pytest.fixture(scope="module")
def preset_sources(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    """The shipped walk on each preset rig, as lines (a few frames each)."""
    walk = load_joints(EXAMPLE_BVH)[:N_FRAMES]
    out = tmp_path_factory.mktemp("rigs")
    sources = {}
    for rig in PRESET_RIGS:
        write_bvh_on_rig(out / f"{rig}.bvh", walk, rig=rig)
        sources[rig] = _cut((out / f"{rig}.bvh").read_text())
    return sources


# --- mutations ----------------------------------------------------------------------------------------
_TOKENS = ["{", "}", "JOINT", "End", "Site", "ROOT", "MOTION", "HIERARCHY", "CHANNELS", "OFFSET", "Frames:",
           "x", "-", "1e999", "nan", "inf", "7", "-0.5", "3", "6", "0", "-1", "Xrotation", "Wrotation", "",
           "1e308", "99999999999999999999"]  # fmt: skip


def _line_edit(lines: list[str], rng: random.Random) -> list[str]:
    if not lines:
        return ["garbage"]
    i = rng.randrange(len(lines))
    op = rng.randrange(7)
    if op == 0:
        del lines[i]
    elif op == 1:
        lines.insert(i, lines[i])
    elif op == 2:
        j = rng.randrange(len(lines))
        lines[i], lines[j] = lines[j], lines[i]
    elif op == 3 and (tokens := lines[i].split()):
        tokens[rng.randrange(len(tokens))] = rng.choice(_TOKENS)
        lines[i] = " ".join(tokens)
    elif op == 4:  # the file ends inside this line
        lines = lines[:i] + [lines[i][: rng.randrange(len(lines[i]) + 1)]]
    elif op == 5:
        junk = "abc{}:. \t-0123456789eE\x00\xff\udcff"
        lines.insert(i, "".join(rng.choice(junk) for _ in range(rng.randint(1, 20))))
    elif lines[i]:
        k = rng.randrange(len(lines[i]))
        lines[i] = lines[i][:k] + rng.choice("{}0. x-") + lines[i][k + 1 :]
    return lines


def _where(lines: list[str], pattern: str) -> list[int]:
    return [i for i, line in enumerate(lines) if re.match(pattern, line.strip(), re.IGNORECASE)]


def _motion_at(lines: list[str]) -> int:
    found = _where(lines, r"^MOTION$")
    return found[0] if found else len(lines)


def _rows(lines: list[str]) -> list[int]:
    m = _motion_at(lines)
    return [i for i in range(m + 3, len(lines)) if lines[i].strip()]


def _unbalance_braces(lines: list[str], rng: random.Random) -> list[str]:
    braces = _where(lines, r"^[{}]$") or [0]
    i = rng.choice(braces)
    if rng.random() < 0.5:
        del lines[i]
    else:
        lines.insert(i, rng.choice("{}"))
    return lines


def _channel_count(lines: list[str], rng: random.Random) -> list[str]:
    """A CHANNELS line whose count disagrees with its names, or names added/dropped (so the rows disagree)."""
    chans = _where(lines, r"^CHANNELS\b")
    if not chans:
        return lines
    i = rng.choice(chans)
    words = lines[i].split()
    indent = lines[i][: len(lines[i]) - len(lines[i].lstrip())]
    op = rng.randrange(4)
    if op == 0:
        words[1] = str(rng.choice([0, 1, 2, 3, 4, 5, 6, 7, 12, -3, 10**9]))
    elif op == 1 and len(words) > 2:
        words = [words[0], str(len(words) - 3), *words[2:-1]]  # one channel fewer, rows keep theirs
    elif op == 2:
        extra = [n for n in ("Xposition", "Yposition", "Zposition") if n not in words]
        if extra:
            words = [words[0], str(len(words) - 1), *words[2:], extra[0]]
    else:
        words = [words[0], words[1], *words[2:], rng.choice(["Xrotation", "Zposition"])]  # count unchanged
    lines[i] = indent + " ".join(words)
    return lines


def _row_lengths(lines: list[str], rng: random.Random) -> list[str]:
    rows = _rows(lines)
    if not rows:
        return lines
    for i in rows if rng.random() < 0.5 else [rng.choice(rows)]:
        values = lines[i].split()
        lines[i] = " ".join(values[:-1] if rng.random() < 0.5 else [*values, "0.0"])
    return lines


def _frames_declared(lines: list[str], rng: random.Random) -> list[str]:
    frames = _where(lines, r"^Frames\b")
    if frames:
        lines[frames[0]] = f"Frames: {rng.choice(['1000000', '1000000000000', '0', '-5', '1e6', '3.5', ''])}"
    return lines


def _frame_time(lines: list[str], rng: random.Random) -> list[str]:
    times = _where(lines, r"^Frame\s*Time\b")
    if times:
        value = rng.choice(["1e10", "1e300", "1e-300", "5e-324", "0", "-0.0333", "nan", "inf", "3600", "x"])
        lines[times[0]] = f"Frame Time: {value}"
    return lines


def _deep_nesting(lines: list[str], rng: random.Random) -> list[str]:
    depth = rng.choice([200, 5000, 20_000])
    i = rng.choice(_where(lines, r"^JOINT\b") or [1])
    nest = [f"JOINT deep{k}\n{{\nOFFSET 0 1 0\nCHANNELS 1 Xrotation" for k in range(depth)]
    return [*lines[:i], *"\n".join(nest).splitlines(), *["}"] * depth, *lines[i:]]


def _many_siblings(lines: list[str], rng: random.Random) -> list[str]:
    n = rng.choice([1000, 20_000])
    at = (_where(lines, r"^JOINT\b") or [1])[0]
    sibling = "JOINT s{k}\n{{\nOFFSET 0 1 0\nEnd Site\n{{\nOFFSET 0 1 0\n}}\n}}"
    return [*lines[:at], *"\n".join(sibling.format(k=k) for k in range(n)).splitlines(), *lines[at:]]


def _huge_values(lines: list[str], rng: random.Random) -> list[str]:
    targets = _where(lines, r"^OFFSET\b") + _rows(lines)
    i = rng.choice(targets)
    values = lines[i].split()
    k = rng.randrange(1 if values[0].upper() == "OFFSET" else 0, len(values))
    values[k] = rng.choice(["1e308", "-1e308", "1e30", "3.4e38", "1e-320"])
    lines[i] = " ".join(values)
    return lines


def _giant_token(lines: list[str], rng: random.Random) -> list[str]:
    i = rng.randrange(len(lines))
    lines[i] = lines[i] + " " + rng.choice("9x{") * 200_000
    return lines


STRUCTURE: list[Callable[[list[str], random.Random], list[str]]] = [
    _unbalance_braces, _channel_count, _row_lengths, _frames_declared, _frame_time, _deep_nesting,
    _many_siblings, _huge_values, _giant_token,
]  # fmt: skip


def mutate(lines: list[str], rng: random.Random) -> list[str]:
    """One to three edits; about half of the files get a structure edit."""
    lines = list(lines)
    if rng.random() < 0.5:
        lines = rng.choice(STRUCTURE)(lines, rng)
    for _ in range(rng.randint(0 if lines else 1, 2)):
        lines = _line_edit(lines, rng)
    return lines


# --- the check ----------------------------------------------------------------------------------------
# CPU seconds (process time, so a loaded machine does not fail it): a good 4-frame file takes ~10 ms, the
# largest mutants (20,000 nested or sibling joints, a 200,000-character token) well under a second
MAX_SECONDS_PER_FILE = 2.0


def fuzz(sources: dict[str, list[str]], n_files: int, folder: Path, seed: int) -> dict[str, int]:
    """Write ``n_files`` mutants (round robin over ``sources``) and check each; returns outcome counts."""
    rng = random.Random(seed)
    names = sorted(sources)
    outcomes = {"read": 0, "retargeted": 0, "BVHError": 0}
    slowest = (0.0, "")
    for n in range(n_files):
        rig = names[n % len(names)]
        path = folder / f"{rig}_{n:05d}.bvh"
        path.write_bytes("\n".join(mutate(sources[rig], rng)).encode("utf-8", "surrogateescape"))
        t0 = time.process_time()
        try:
            clip = read_bvh(path)
            clip.global_positions()
            outcomes["read"] += 1
            joints = bvh_to_joints(clip)
            assert joints.ndim == 3 and joints.shape[1:] == (22, 3) and np.isfinite(joints).all(), path
            outcomes["retargeted"] += 1
        except BVHError as e:
            message = str(e)
            assert message.startswith(f"{path}: ") and "\n" not in message, message[:300]
            assert len(message) < 1000, f"{path}: a {len(message)}-character message"
            outcomes["BVHError"] += 1
        elapsed = time.process_time() - t0
        slowest = max(slowest, (elapsed, path.name))
        path.unlink()
    assert slowest[0] < MAX_SECONDS_PER_FILE, f"{slowest[1]} took {slowest[0]:.2f} s"
    outcomes["slowest_ms"] = round(1000 * slowest[0])
    return outcomes


def test_fuzz_fast_subset(tmp_path: Path, preset_sources: dict[str, list[str]]) -> None:
    outcomes = fuzz(preset_sources, 240, tmp_path, seed=1)
    assert outcomes["BVHError"] > 60 and outcomes["read"] > 20, outcomes  # both paths are exercised


@pytest.fixture(scope="module")
def real_sources(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    """A Bandai Namco clip and a CMU clip from ../shared/data (skipped when it is absent)."""
    from test_bvh_real import CLIPS, extract

    out = tmp_path_factory.mktemp("real")
    sources = {}
    for name in ("bandai_walk", "cmu_walk"):
        archive, member, *_ = CLIPS[name]
        path = extract(shared_data(*archive.split("/")), {member}, out)[member]
        sources[name] = _cut(path.read_text(errors="replace"))
    return sources


@pytest.mark.slow
def test_fuzz_2000_files_from_six_rigs(
    tmp_path: Path, preset_sources: dict[str, list[str]], real_sources: dict[str, list[str]]
) -> None:
    sources = {**preset_sources, **real_sources}
    outcomes = fuzz(sources, 2400, tmp_path, seed=2)
    print("bvh fuzz:", len(sources), "rigs", outcomes)
    assert outcomes["BVHError"] > 600 and outcomes["read"] > 200, outcomes


@pytest.mark.parametrize("rig", PRESET_RIGS)
@pytest.mark.parametrize("mutation", STRUCTURE, ids=lambda f: f.__name__.strip("_"))
def test_each_structure_mutation(
    tmp_path: Path, preset_sources: dict[str, list[str]], rig: str, mutation: Callable
) -> None:
    rng = random.Random(zlib.crc32(f"{rig} {mutation.__name__}".encode()))
    for n in range(6):  # the structure edit alone, so it is what the reader meets
        path = tmp_path / f"{rig}_{n}.bvh"
        text = "\n".join(mutation(list(preset_sources[rig]), rng))
        path.write_bytes(text.encode("utf-8", "surrogateescape"))
        t0 = time.process_time()
        try:
            assert np.isfinite(bvh_to_joints(path)).all()
        except BVHError as e:
            assert str(e).startswith(f"{path}: ") and "\n" not in str(e) and len(str(e)) < 1000, str(e)[:300]
        assert time.process_time() - t0 < MAX_SECONDS_PER_FILE, path


def test_a_million_declared_frames_fail_fast_without_allocating_them(tmp_path: Path) -> None:
    lines = _cut(EXAMPLE_BVH.read_text())
    frames = _where(lines, r"^Frames\b")[0]
    for declared in ("1000000", "1000000000000"):
        lines[frames] = f"Frames: {declared}"
        path = tmp_path / f"declared_{declared}.bvh"
        path.write_text("\n".join(lines))
        tracemalloc.start()
        t0 = time.process_time()
        with pytest.raises(BVHError, match=rf"line \d+: file ends after {N_FRAMES} of the {declared} frames"):
            read_bvh(path)
        elapsed = time.process_time() - t0
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert elapsed < 1.0 and peak < 5_000_000, (elapsed, peak)  # 10⁶ × 66 floats would be 528 MB


def test_an_absurd_frame_time_is_refused_before_resampling(tmp_path: Path) -> None:
    lines = _cut(EXAMPLE_BVH.read_text())
    at = _where(lines, r"^Frame\s*Time\b")[0]
    for value in ("1e10", "3600", "1e-300"):
        lines[at] = f"Frame Time: {value}"
        path = tmp_path / "slow.bvh"
        path.write_text("\n".join(lines))
        t0 = time.process_time()
        with pytest.raises(BVHError, match=rf"slow\.bvh: line {at + 1}: .*Frame Time"):
            bvh_to_joints(path)
        assert time.process_time() - t0 < 1.0
