"""Batch runs: one task over a file of inputs, one numbered set of outputs per line (``motiongpt demo``).

The example file holds one input per line: a description (``t2m``), a motion file (``m2t``, ``pred``) or
two motion files separated by a tab (``inbetween``: start, end). Blank lines and lines starting with
``#`` are skipped. Motion paths are read relative to the working directory, else to the example file's
folder. Line ``i`` (counted from 0) writes ``OUT/{i:03d}.npy``, ``.bvh`` (motions), ``.mp4`` (with
``video``) and last ``.txt``: the description, the caption or the input line. A line whose files all
exist is done and is skipped when the batch is run again. A bad line (a missing or unreadable file, an
empty or too long description) is reported with its number and skipped; the rest still run.

>>> summary = run_demo(MotionGPT.from_pretrained, "t2m", "prompts.txt", "out", seconds=None, video=False)
>>> summary.format()      # '3 lines: 2 written, 1 already done, 0 failed; outputs in out'
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from motiongpt._io import atomic_write_text
from motiongpt.errors import USER_ERRORS, InvalidRequestError, user_message
from motiongpt.lm.inputs import check_text
from motiongpt.lm.pipeline import MotionGPT
from motiongpt.motion.bvh.export import check_rig
from motiongpt.motion.motion import Motion

log = logging.getLogger(__name__)

Task = Literal["t2m", "m2t", "pred", "inbetween"]
TASKS: tuple[str, ...] = ("t2m", "m2t", "pred", "inbetween")
BATCH = 8  # lines per model call (one batched decoding run)


@dataclass
class DemoSummary:
    """What a batch run did: line numbers (1-based, as an editor shows them) written, already done
    and failed, with each failure's message."""

    out: Path
    written: list[int] = field(default_factory=list)
    done: list[int] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)

    def format(self) -> str:
        n = len(self.written) + len(self.done) + len(self.failed)
        bad = f" (line {', '.join(map(str, sorted(self.failed)))})" if self.failed else ""
        return (
            f"{n} lines: {len(self.written)} written, {len(self.done)} already done, "
            f"{len(self.failed)} failed{bad}; outputs in {self.out}"
        )


@dataclass
class _Item:
    line: int  # 0-based index in the file; outputs are named after it
    text: str  # the line as written
    motions: tuple[Motion, ...] = ()
    inputs: tuple[Path, ...] = ()  # the files it reads


def _read_lines(example: Path) -> list[tuple[int, str]]:
    lines = example.read_text(encoding="utf-8").splitlines()
    return [(i, s.strip()) for i, s in enumerate(lines) if s.strip() and not s.lstrip().startswith("#")]


def _resolve(path: str, base: Path) -> Path:
    p = Path(path).expanduser()
    return p if p.is_absolute() or p.exists() else base / p


def _parse(line: int, task: str, text: str, base: Path) -> _Item:
    """The line as an item with the motions it names (none for t2m, whose text is checked); a user
    error when it is bad."""
    if task == "t2m":
        check_text(text, "the description")
        return _Item(line, text)
    parts = [p.strip() for p in text.split("\t")] if task == "inbetween" else [text]
    if task == "inbetween" and len(parts) != 2:
        raise InvalidRequestError(f"expected two motion files separated by a tab, got {text!r}")
    paths = tuple(_resolve(p, base) for p in parts)
    return _Item(line, text, tuple(Motion.from_file(p) for p in paths), paths)


def _outputs(out: Path, line: int, task: str, video: bool) -> list[Path]:
    """The files line ``line`` writes; its ``.txt`` is written last, so it is last here."""
    stem = out / f"{line:03d}"
    motion = [stem.with_suffix(".npy"), stem.with_suffix(".bvh")] if task != "m2t" else []
    video_path = [stem.with_suffix(".mp4")] if video and task != "m2t" else []
    return motion + video_path + [stem.with_suffix(".txt")]


def _run_batch(
    mg: MotionGPT, task: str, items: Sequence[_Item], seconds: float | None, seed: int | None
) -> list:
    """One model call for ``items``: motions (t2m, pred, inbetween) or captions (m2t), in order."""
    if task == "t2m":
        return mg.generate_motion_batch([it.text for it in items], seconds=seconds, seed=seed)
    if task == "m2t":
        return mg.caption_batch([it.motions[0] for it in items])
    if task == "pred":
        return mg.predict_batch([it.motions[0] for it in items], seconds=seconds, seed=seed)
    starts, ends = [it.motions[0] for it in items], [it.motions[1] for it in items]
    return mg.inbetween_batch(starts, ends, seconds=seconds, seed=seed)


def _write(item: _Item, result: Any, task: str, out: Path, video: bool, rig: str | os.PathLike) -> None:
    paths = _outputs(out, item.line, task, video)
    if task == "m2t":
        atomic_write_text(paths[-1], f"{result}\n")
        return
    writer = None
    if video:
        from motiongpt.render import render_video as writer
    result.save(out / f"{item.line:03d}", video=writer, title=item.text if task == "t2m" else None, rig=rig)
    atomic_write_text(paths[-1], f"{item.text}\n")


def run_demo(
    load_model: Callable[[], MotionGPT],
    task: str,
    example: str | os.PathLike,
    out: str | os.PathLike,
    seconds: float | None = None,
    video: bool = False,
    seed: int | None = None,
    batch_size: int = BATCH,
    progress: bool = True,
    rig: str | os.PathLike = "smpl",
) -> DemoSummary:
    """Run ``task`` over every line of ``example`` into folder ``out`` (see the module docstring).

    Every line is checked before ``load_model`` is called, and the model is not loaded at all when no
    line is left to do. Lines go ``batch_size`` at a time through one batched call; when a batch fails,
    its lines are run one by one so that only the bad one is reported. ``rig`` is the skeleton of the
    ``.bvh`` files (see ``Motion.save_bvh``). Returns the :class:`DemoSummary`.
    """
    from tqdm import tqdm

    if task not in TASKS:
        raise InvalidRequestError(f"--task must be one of {', '.join(TASKS)}, got {task!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise InvalidRequestError(f"batch_size must be a whole number >= 1, got {batch_size!r}")
    check_rig(rig)
    if seconds is not None:  # one length for every line: a bad one is refused here, not line by line
        from motiongpt.lm.generation import seconds_to_tokens
        from motiongpt.lm.timeline import MAX_SEGMENT_SECONDS

        seconds_to_tokens(seconds)  # a finite number, at least one token long
        if task != "inbetween" and seconds > MAX_SEGMENT_SECONDS:
            raise InvalidRequestError(
                f"--seconds {seconds:g} is longer than the {MAX_SEGMENT_SECONDS} s the model was trained on"
            )
    example, out = Path(example), Path(out)
    if not example.is_file():
        raise FileNotFoundError(2, "No such file", str(example))
    if out.exists() and not out.is_dir():
        raise InvalidRequestError(f"--out {out} is a file; give a folder for the numbered outputs")
    summary, todo = DemoSummary(out), []
    for i, text in _read_lines(example):
        if all(p.exists() for p in _outputs(out, i, task, video)):
            summary.done.append(i + 1)
            continue
        try:
            todo.append(_parse(i, task, text, example.parent))
        except USER_ERRORS as e:
            summary.failed[i + 1] = user_message(e)
            log.error("line %d: %s", i + 1, user_message(e))
    if not todo:
        return summary
    inputs = {p.resolve() for it in todo for p in it.inputs} | {example.resolve()}
    for item in todo:
        for path in _outputs(out, item.line, task, video):
            if path.resolve() in inputs:
                raise InvalidRequestError(
                    f"{path} is an input and would be overwritten; choose another --out"
                )
    out.mkdir(parents=True, exist_ok=True)
    mg = load_model()
    bar = tqdm(total=len(todo), desc=task, unit="line", disable=not progress, dynamic_ncols=True)
    for start in range(0, len(todo), batch_size):
        batch = todo[start : start + batch_size]
        try:
            groups = [(batch, _run_batch(mg, task, batch, seconds, seed))]
        except USER_ERRORS:
            groups = []
            for item in batch:  # find the bad line; the others still run
                try:
                    groups.append(([item], _run_batch(mg, task, [item], seconds, seed)))
                except USER_ERRORS as e:
                    summary.failed[item.line + 1] = user_message(e)
                    bar.write(f"line {item.line + 1}: {user_message(e)}")
                    bar.update(1)
        for items, results in groups:
            for item, result in zip(items, results, strict=True):
                _write(item, result, task, out, video, rig)
                summary.written.append(item.line + 1)
                bar.update(1)
    bar.close()
    return summary


__all__ = ["DemoSummary", "TASKS", "run_demo"]
