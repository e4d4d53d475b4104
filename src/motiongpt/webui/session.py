"""What the web UI does, without the web: a conversation of text and motion turns with a MotionGPT.

Each method takes the conversation so far (a tuple of :class:`Turn`) and returns it with the new user
and assistant turns appended; every motion the assistant writes is saved as ``.npy`` joints, ``.bvh``
and an ``.mp4`` skeleton video (:class:`MotionFiles`). The gradio layer (``webui.app``) only lays this
out, so the logic here is tested without a browser.

>>> chat = MotionChat(MotionGPT.from_pretrained(path), out_dir="/tmp/motiongpt-webui")
>>> turns = chat.text_to_motion((), "a person jumps over an obstacle", seconds=3.0, seed=0)
>>> turns[-1].files.bvh                      # .../a-person-jumps-over-an-obstacle.bvh
>>> turns = chat.chat(turns, "now do it faster")
"""

from __future__ import annotations

import functools
import logging
import os
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from motiongpt.errors import InvalidMotionError, InvalidRequestError, MotionGPTError
from motiongpt.lm.inputs import check_text
from motiongpt.lm.pipeline import MotionGPT
from motiongpt.lm.timeline import check_segment
from motiongpt.motion.io import load_joints
from motiongpt.motion.motion import Motion, MotionFiles
from motiongpt.motion.skeleton import FPS, MAX_SECONDS
from motiongpt.render import render_video

log = logging.getLogger(__name__)

MAX_UPLOAD_SECONDS = MAX_SECONDS  # longer uploads are cut to their start (and the reply says so)
HISTORY_TURNS = 6  # the conversation the model sees in chat mode: the last 3 exchanges
VIDEO_SIZE = 400  # pixels; the page shows the video at this size, so it is drawn 1:1, not scaled up
UPLOAD_SUFFIXES = (".bvh", ".npy")


def slug(text: str, max_len: int = 48) -> str:
    """A file-name-safe short form of ``text`` ("A person jumps!" -> "a-person-jumps")."""
    words = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return words[:max_len].rstrip("-") or "motion"


def describe_motion(motion: Motion) -> str:
    return f"{motion.seconds:.1f} s motion ({motion.n_frames} frames)"


@dataclass(frozen=True)
class Turn:
    """One message: its text and, when it carries one, a motion with its files or the uploaded file's name."""

    role: Literal["user", "assistant"]
    text: str
    motion: Motion | None = None
    files: MotionFiles | None = None
    upload: str | None = None

    def display(self) -> str:
        """The message as the chat shows it: the text, then what motion it carries."""
        if self.motion is None:
            return self.text
        what = describe_motion(self.motion)
        extra = f"[{self.upload}, {what}]" if self.upload else f"\u25b6 {what}"
        return f"{self.text} {extra}" if self.text else extra


class MotionChat:
    """Text -> motion, chat, caption and continuation over one conversation, with files for each motion.

    Args:
        pipeline: the model.
        out_dir: where motion files go, one sub-folder per motion (created when needed).
    """

    def __init__(self, pipeline: MotionGPT, out_dir: str | os.PathLike) -> None:
        self.pipeline = pipeline
        self.out_dir = Path(out_dir)

    # --- the four actions -------------------------------------------------------------------------
    def text_to_motion(
        self, turns: Sequence[Turn], prompt: str, seconds: float | None = None, seed: int | None = None
    ) -> tuple[Turn, ...]:
        """A new motion from a description; ``seconds`` (up to ``MAX_SECONDS``) fixes its length, None
        lets the model choose."""
        prompt = _check_prompt(prompt)
        motion = self.pipeline.generate_motion(prompt, seconds=_check_seconds(seconds), seed=seed)
        return (*turns, Turn("user", prompt), self._motion_turn(motion, "", title=prompt))

    def chat(
        self, turns: Sequence[Turn], prompt: str, seed: int | None = None, seconds: float | None = None
    ) -> tuple[Turn, ...]:
        """A free message; the model sees the last exchanges, motions included, and answers with text,
        a motion or both; ``seconds`` (up to ``MAX_SECONDS``) fixes the length of a motion it writes."""
        prompt = _check_prompt(prompt)
        length = _check_seconds(seconds)
        user = Turn("user", prompt)
        history = _recent([*turns, user])
        reply = self.pipeline.chat([_as_message(t) for t in history], seed=seed, seconds=length)
        if reply.motion is None:
            return (*turns, user, Turn("assistant", reply.text or "(no answer)"))
        return (*turns, user, self._motion_turn(reply.motion, reply.text, title=prompt))

    def describe(self, turns: Sequence[Turn], path: str | os.PathLike | None) -> tuple[Turn, ...]:
        """Caption an uploaded ``.bvh`` / ``.npy`` motion."""
        motion, note = self.load(path)
        user = self._upload_turn(path, motion, "Describe this motion.")
        caption = self.pipeline.caption(motion)
        return (*turns, user, Turn("assistant", " ".join(p for p in (note, caption) if p)))

    def continue_motion(
        self,
        turns: Sequence[Turn],
        path: str | os.PathLike | None,
        seconds: float | None = None,
        seed: int | None = None,
    ) -> tuple[Turn, ...]:
        """Continue an uploaded motion by ``seconds`` (None: the model chooses); the reply's motion is
        the upload followed by its continuation."""
        motion, note = self.load(path)
        user = self._upload_turn(path, motion, "Continue this motion.")
        out = self.pipeline.predict(motion, seconds=_check_seconds(seconds), seed=seed)
        fpt = self.pipeline.frames_per_token  # the upload comes back as whole tokens, then the new ones
        added = (out.n_frames - motion.features.shape[0] // fpt * fpt) / FPS
        text = " ".join(p for p in (note, f"Continued by {added:.1f} s.") if p)
        return (*turns, user, self._motion_turn(out, text, title=f"{Path(path).stem} (continued)"))

    def timeline(
        self, turns: Sequence[Turn], rows: Sequence[Sequence[object]], seed: int | None = None
    ) -> tuple[Turn, ...]:
        """One motion from a timeline: ``rows`` of ``[prompt, seconds]`` (the page's table; blank rows
        are skipped, seconds may be text), each segment for its prompt, joined by in-betweens."""
        segments = timeline_rows(rows)
        motion = self.pipeline.generate_timeline(segments, seed=seed)
        text = "Timeline: " + " \u2192 ".join(f"{p} ({s:g} s)" for p, s in segments)
        title = " / ".join(p for p, _ in segments)
        return (*turns, Turn("user", text), self._motion_turn(motion, "", title=title))

    def inbetween(
        self,
        turns: Sequence[Turn],
        start: str | os.PathLike | None = None,
        end: str | os.PathLike | None = None,
        seconds: float | None = None,
        seed: int | None = None,
    ) -> tuple[Turn, ...]:
        """The motion from ``start`` to ``end`` (two uploads), or, with neither given, from the
        conversation's second-last motion to its last; ``seconds`` is the middle's length (None: as
        long as start and end together)."""
        if (start is None) != (end is None):
            raise InvalidRequestError(
                "upload both a start and an end motion, or neither to join the last two motions of the chat"
            )
        length = _check_seconds(seconds)
        if start is not None:
            (first, note_a), (last, note_b) = self.load(start), self.load(end)
            names = f"{Path(start).name} \u2192 {Path(end).name}"
            user = Turn("user", f"In-between: [{names}]")
            title, notes = f"{Path(start).stem} to {Path(end).stem}", [note_a, note_b]
        else:
            motions = [t.motion for t in turns if t.motion is not None]
            if len(motions) < 2:
                raise InvalidRequestError(
                    "in-between needs two motions: upload a start and an end, or make two motions first"
                )
            first, last = motions[-2:]
            user, title, notes = Turn("user", "Join the last two motions."), "in-between", []
        out = self.pipeline.inbetween(first, last, seconds=length, seed=seed)
        text = " ".join(n for n in notes if n)
        return (*turns, user, self._motion_turn(out, text, title=title))

    # --- uploads and files ------------------------------------------------------------------------
    def load(self, path: str | os.PathLike | None) -> tuple[Motion, str]:
        """An uploaded motion file, cut to ``MAX_UPLOAD_SECONDS``, and a note saying so when it was cut."""
        if path is None:
            raise InvalidRequestError("upload a .bvh or .npy motion file first")
        path = Path(path)
        if path.suffix.lower() not in UPLOAD_SUFFIXES:
            raise InvalidMotionError(f"{path.name}: expected a .bvh or .npy (T, 22, 3) file")
        try:
            joints = load_joints(path)  # (T, 22, 3), retargeted and at 20 fps
        except FileNotFoundError:
            raise InvalidRequestError(f"{path.name} is no longer on the server: upload it again") from None
        except MotionGPTError as e:  # the message names the upload, not where the server keeps it
            raise type(e)(str(e).replace(str(path), path.name)) from None
        limit, note = int(round(MAX_UPLOAD_SECONDS * FPS)), ""
        if len(joints) > limit:
            note = f"(Used the first {MAX_UPLOAD_SECONDS:.1f} s of {len(joints) / FPS:.1f} s.)"
        return Motion.from_joints(joints[:limit]), note

    def save(self, motion: Motion, title: str) -> MotionFiles:
        """Write ``motion`` as .npy, .bvh and .mp4 into a new sub-folder named after ``title``."""
        folder = self.out_dir / uuid.uuid4().hex[:12]
        video = functools.partial(render_video, size=VIDEO_SIZE)
        files = motion.save(folder / slug(title), video=video, title=title)
        log.debug("saved %s to %s", motion, folder)
        return files

    def _motion_turn(self, motion: Motion, text: str, title: str) -> Turn:
        return Turn("assistant", text, motion, self.save(motion, title))

    @staticmethod
    def _upload_turn(path: str | os.PathLike | None, motion: Motion, text: str) -> Turn:
        return Turn("user", text, motion, upload=Path(path).name)


# --- checks and conversions -------------------------------------------------------------------------
def _check_prompt(prompt: str) -> str:
    if isinstance(prompt, str) and not prompt.strip():
        raise InvalidRequestError("the prompt is empty: describe a motion, e.g. 'a person walks forward'")
    check_text(prompt, "the prompt")
    return prompt.strip()


def _check_seconds(seconds: float | None) -> float | None:
    """None -> None (the model chooses, as ``--seconds auto`` in the CLI); otherwise a length in
    (0, ``MAX_SECONDS``]."""
    if seconds is None:
        return None
    try:
        seconds = float(seconds)
    except (TypeError, ValueError):  # the API sends what it is given, not only the slider's numbers
        raise InvalidRequestError(f"seconds must be a number, got {seconds!r:.40}") from None
    if not np.isfinite(seconds) or not 0 < seconds <= MAX_SECONDS:
        raise InvalidRequestError(
            f"seconds must be more than 0 and at most {MAX_SECONDS} (or Auto: the model chooses), "
            f"got {seconds}"
        )
    return seconds


def timeline_rows(rows: Sequence[Sequence[object]] | None) -> list[tuple[str, float]]:
    """The timeline table's rows -> ``(prompt, seconds)`` segments; a row with neither is skipped, any
    other bad row is an InvalidRequestError naming it ("row 2: ...")."""
    segments = []
    for number, row in enumerate(rows or [], start=1):
        prompt, seconds = (list(row) + [None, None])[:2]
        prompt = "" if prompt is None else str(prompt)
        if isinstance(seconds, str):
            seconds = seconds.strip() or None
        if isinstance(seconds, float) and np.isnan(seconds):
            seconds = None
        if not prompt.strip() and seconds is None:
            continue
        if seconds is None:
            raise InvalidRequestError(f"row {number}: give its length in seconds")
        try:
            seconds = float(seconds)
        except (TypeError, ValueError):
            raise InvalidRequestError(f"row {number}: seconds must be a number, got {seconds!r}") from None
        segments.append(check_segment(prompt, seconds, f"row {number}"))
    if not segments:
        raise InvalidRequestError("the timeline is empty: fill rows of prompt and seconds")
    return segments


def _recent(turns: Sequence[Turn]) -> list[Turn]:
    """The last ``HISTORY_TURNS`` turns, starting with a user turn (the model's context is short)."""
    tail = list(turns[-HISTORY_TURNS:])
    while tail and tail[0].role != "user":
        tail.pop(0)
    return tail


def _as_message(turn: Turn) -> dict:
    """A turn as ``MotionGPT.chat`` takes it: its motion (first in a user turn, as in the training
    prompts "<motion> Describe this motion.", last in an answer) and its text as parts of one message."""
    text = [turn.text] if turn.text.strip() else []
    motion = [turn.motion] if turn.motion is not None else []
    return {"role": turn.role, "content": motion + text if turn.role == "user" else text + motion}
