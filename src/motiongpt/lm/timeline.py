"""A timeline of prompts -> one motion: the checks, the spec-file format and where the seams go.

A timeline is a list of ``(prompt, seconds)`` segments, each at most 9.8 s (the longest motion the model
was trained to write). ``MotionGPT.generate_timeline`` writes every segment for its own prompt (one
batched run), then replaces a few tokens on both sides of every seam by the model's own in-between of
the tokens around it (a second batched run), and decodes the whole token sequence at once. The motion
features are root velocities, so decoding everything together keeps position and facing continuous;
the in-between makes the pose at a seam one the model would write.

A spec file (``motiongpt timeline SPEC.txt``) holds one segment a line, ``SECONDS PROMPT``::

    3   a person walks forward
    1.5 a person turns left
    # a comment
    2   a person waves

Segment ``i`` of ``n_i = round(seconds_i * 20 / 4)`` tokens is frames ``[4 * o_i, 4 * (o_i + n_i))`` of
the result, ``o_i`` the tokens before it (:func:`segment_frames`).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from motiongpt.errors import InvalidRequestError
from motiongpt.lm.generation import seconds_to_tokens
from motiongpt.lm.inputs import check_text
from motiongpt.motion.skeleton import FPS, MAX_SECONDS
from motiongpt.tokenizer.config import DEFAULT_FRAMES_PER_TOKEN

MAX_SEGMENT_SECONDS = MAX_SECONDS  # 9.8 s, 196 frames: the model's longest motion
FORMAT_HINT = "each line is SECONDS PROMPT, e.g. '3 a person walks forward'"


@dataclass(frozen=True)
class Seam:
    """One join: tokens ``[start, end)`` of the whole sequence are written again by an in-between of
    ``head`` (the tokens ``[head, start)``) and ``tail`` (``[end, tail)``)."""

    head: int
    start: int
    end: int
    tail: int


def check_segment(prompt: Any, seconds: Any, where: str) -> tuple[str, float]:
    """One segment, checked: ``(prompt stripped, seconds)``; InvalidRequestError naming ``where``."""
    if not isinstance(prompt, str) or not prompt.strip():
        raise InvalidRequestError(f"{where}: no prompt: describe the motion, e.g. 'a person walks forward'")
    try:
        check_text(prompt, "the prompt")  # its length and characters, before any model is loaded
    except InvalidRequestError as e:
        raise InvalidRequestError(f"{where}: {e}") from None
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not math.isfinite(seconds):
        raise InvalidRequestError(f"{where}: seconds must be a number, got {seconds!r}")
    if not 0 < seconds <= MAX_SEGMENT_SECONDS:
        raise InvalidRequestError(
            f"{where}: seconds must be in (0, {MAX_SEGMENT_SECONDS}] (the model's longest motion), "
            f"got {seconds:g}"
        )
    try:
        seconds_to_tokens(float(seconds))
    except InvalidRequestError as e:
        raise InvalidRequestError(f"{where}: {e}") from None
    return prompt.strip(), float(seconds)


def check_timeline(segments: Any) -> list[tuple[str, float]]:
    """A timeline as the API takes it: a non-empty list of ``(prompt, seconds)`` pairs."""
    if isinstance(segments, str) or not isinstance(segments, Sequence) or not segments:
        raise InvalidRequestError(
            f"segments must be a non-empty list of (prompt, seconds) pairs, got {segments!r:.80}"
        )
    out = []
    for i, seg in enumerate(segments):
        if isinstance(seg, str) or not isinstance(seg, Sequence) or len(seg) != 2:
            raise InvalidRequestError(f"segments[{i}] must be a (prompt, seconds) pair, got {seg!r:.80}")
        out.append(check_segment(seg[0], seg[1], f"segments[{i}]"))
    return out


def parse_timeline(text: str, source: str = "timeline") -> list[tuple[str, float]]:
    """Spec text (one ``SECONDS PROMPT`` a line; ``#`` starts a comment line) -> segments.

    A bad line is an InvalidRequestError of one line: ``"{source}, line 3: ..."``. Blank lines at the
    end are ignored; a blank line between segments is an error (it is likely a lost segment).
    """
    lines = text.splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    segments = []
    for number, line in enumerate(lines, start=1):
        where = f"{source}, line {number}"
        words = line.split(maxsplit=1)
        if not words:
            raise InvalidRequestError(f"{where}: empty line; {FORMAT_HINT}")
        if words[0].startswith("#"):
            continue
        try:
            seconds = float(words[0])
        except ValueError:
            what = f"{words[0]!r} is not a number of seconds"
            raise InvalidRequestError(f"{where}: {what}; {FORMAT_HINT}") from None
        if len(words) < 2:
            raise InvalidRequestError(f"{where}: no prompt after the seconds; {FORMAT_HINT}")
        segments.append(check_segment(words[1], seconds, where))
    if not segments:
        raise InvalidRequestError(f"{source}: no segments; {FORMAT_HINT}")
    return segments


def load_timeline(path: str | os.PathLike) -> list[tuple[str, float]]:
    """A spec file -> segments (see :func:`parse_timeline`); FileNotFoundError when it is missing."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InvalidRequestError(f"{path}: not a UTF-8 text file; {FORMAT_HINT}") from None
    except IsADirectoryError:
        raise InvalidRequestError(f"{path}: is a folder, not a timeline file") from None
    return parse_timeline(text, source=str(path))


def segment_tokens(seconds: Sequence[float], frames_per_token: int = DEFAULT_FRAMES_PER_TOKEN) -> list[int]:
    """Tokens of each segment: ``round(seconds * 20 / 4)``."""
    return [seconds_to_tokens(float(s), frames_per_token, FPS) for s in seconds]


def segment_frames(
    seconds: Sequence[float], frames_per_token: int = DEFAULT_FRAMES_PER_TOKEN
) -> list[tuple[int, int]]:
    """``[start, end)`` frames of each segment in the timeline's motion."""
    bounds, at = [], 0
    for n in segment_tokens(seconds, frames_per_token):
        bounds.append((at * frames_per_token, (at + n) * frames_per_token))
        at += n
    return bounds


def plan_seams(n_tokens: Sequence[int], join: int, context: int | None = None) -> list[Seam]:
    """Where the in-betweens go, for segments of ``n_tokens`` tokens.

    Each seam rewrites up to ``join`` tokens on each side, never more than a quarter of a segment (at
    least one token of a segment of two or more), so most of every segment stays its prompt's motion;
    ``context`` tokens on each side (default: ``join``; the in-betweens the model was trained on saw as
    many given tokens as masked ones) are what the in-between sees. A seam with nothing to rewrite (two
    one-token segments, or ``join=0``) is left out: those segments are only decoded together.
    """
    if join < 0:
        raise InvalidRequestError(f"join must be >= 0 tokens, got {join}")
    context = join if context is None else context
    total, seams, boundary = sum(n_tokens), [], 0
    for left, right in zip(n_tokens[:-1], n_tokens[1:], strict=True):
        boundary += left
        a, b = (min(join, max(1, n // 4), n // 2) for n in (left, right))
        if a + b == 0:
            continue
        start, end = boundary - a, boundary + b
        seams.append(Seam(max(0, start - max(context, 1)), start, end, min(total, end + max(context, 1))))
    return seams


__all__ = [
    "MAX_SEGMENT_SECONDS",
    "Seam",
    "check_timeline",
    "load_timeline",
    "parse_timeline",
    "plan_seams",
    "segment_frames",
]
