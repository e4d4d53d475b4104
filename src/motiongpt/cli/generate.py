"""``motiongpt generate``, ``continue``, ``inbetween``, ``timeline``, ``caption``, ``demo`` and ``webui``:
the model at work, from files and text to files, text and a web page."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from motiongpt.cli._app import ModelDir, _model_dir, app, user_errors
from motiongpt.motion.skeleton import MAX_FRAMES, MAX_SECONDS

if TYPE_CHECKING:
    from motiongpt.motion.motion import Motion

MotionFile = Annotated[Path, typer.Argument(help="A .bvh (any rig) or .npy joints (T, 22, 3) file.")]
Video = Annotated[bool, typer.Option("--video/--no-video", help="Also render the .mp4 video.")]
Seed = Annotated[int | None, typer.Option(help="Random seed, for a repeatable motion.")]
RigOption = Annotated[
    str, typer.Option(help="Skeleton of the .bvh: smpl (the motion's own), mixamo, bandai, cc or a rig .bvh.")
]
OutPrefix = Annotated[
    Path,
    typer.Option(
        help="An existing folder: motion.npy, motion.bvh, motion.mp4 (and prompt.txt) go inside it. "
        "Anything else is a prefix: OUT.npy, OUT.bvh, OUT.mp4. Existing files are replaced (and listed as "
        "replaced); an input file never is."
    ),
]
SECONDS_HELP = "a number, or auto (the default): the model chooses"
AllowLong = Annotated[
    bool, typer.Option("--allow-long", help=f"Allow over {MAX_SECONDS:g} s ({MAX_FRAMES} frames).")
]


def _seconds(value: str | None, option: str = "--seconds", allow_long: bool | None = None) -> float | None:
    """``--seconds``: auto (or omitted) -> None, the model chooses; else a length in seconds > 0, at most
    ``MAX_SECONDS`` unless ``allow_long`` (None: the command has no such option and the library checks)."""
    import math

    from motiongpt.errors import InvalidRequestError

    if value is None or value.strip().lower() == "auto":
        return None
    try:
        seconds = float(value)
    except ValueError:
        seconds = math.nan
    if not math.isfinite(seconds) or seconds <= 0:
        raise InvalidRequestError(f"{option} must be a number of seconds above 0, or auto, got {value!r}")
    if allow_long is False and seconds > MAX_SECONDS:
        raise InvalidRequestError(
            f"{option} {value} is longer than the {MAX_SECONDS} s the model was trained on; "
            "add --allow-long to try anyway"
        )
    return seconds


def _load_motions(*paths: Path) -> list[Any]:
    """Each input motion, read before the model loads, so a wrong path fails at once."""
    from motiongpt.motion.motion import Motion

    return [Motion.from_file(p) for p in paths]


def _output_paths(out: Path, suffixes: list[str], inputs: list[Path]) -> dict[str, Path]:
    """``suffix -> path`` for OUT (see :data:`OutPrefix`); refuses a path that is one of ``inputs``."""
    from motiongpt.errors import InvalidRequestError

    if out.is_dir():
        paths = {sfx: out / ("prompt.txt" if sfx == ".txt" else f"motion{sfx}") for sfx in suffixes}
    else:
        paths = {sfx: out.with_name(out.name + sfx) for sfx in suffixes}
    given = {p.resolve() for p in inputs}
    for path in paths.values():
        if path.resolve() in given:
            raise InvalidRequestError(
                f"{path} is an input: writing it would destroy it; choose another --out"
            )
    return paths


def _wrote(paths: list[Path], existed: set[Path]) -> str:
    return ", ".join(f"{p} (replaced)" if p in existed else str(p) for p in paths)


@app.command()
@user_errors
def generate(
    text: Annotated[str, typer.Argument(help="What the motion shows, e.g. 'a person walks forward'.")],
    model: ModelDir = None,
    seconds: Annotated[str | None, typer.Option(help=f"Length in seconds: {SECONDS_HELP}.")] = None,
    seed: Seed = None,
    out: OutPrefix = Path("motion"),
    allow_long: AllowLong = False,
    video: Video = True,
    rig: RigOption = "smpl",
) -> None:
    """Text to motion: joints (T, 22, 3) as .npy, a .bvh and a skeleton video."""
    from motiongpt.lm.inputs import check_text
    from motiongpt.motion.bvh.export import check_rig

    check_text(text, "the prompt")
    check_rig(rig)
    length = _seconds(seconds, allow_long=allow_long)
    paths = _output_paths(out, [".npy", ".bvh", ".mp4"] + [".txt"] * out.is_dir(), [])
    mg = _load_model(model)
    motion = mg.generate_motion(text, seconds=length, seed=seed, allow_long=allow_long)
    _write_motion(motion, paths, video, title=text, rig=rig)


def _load_model(model: Path | None) -> Any:
    from motiongpt.lm.pipeline import MotionGPT

    return MotionGPT.from_pretrained(_model_dir(model))


def _write_motion(motion: Motion, paths: dict[str, Path], video: bool, title: str, rig: str = "smpl") -> None:
    """``motion`` as .npy, .bvh, (``video``) .mp4 (``Motion.save``) and (a folder OUT) prompt.txt, and one
    line saying so."""
    from motiongpt._io import atomic_write_text

    existed = {p for p in paths.values() if p.exists()}
    writer = None
    if video:
        from motiongpt.render import render_video as writer
    prefix = paths[".npy"].with_name(paths[".npy"].name[: -len(".npy")])
    written = motion.save(prefix, video=writer, title=title, rig=rig).paths
    if ".txt" in paths:
        atomic_write_text(paths[".txt"], title + "\n")
        written.append(paths[".txt"])
    typer.echo(f"{motion.n_frames} frames ({motion.seconds:.1f} s): " + _wrote(written, existed))


@app.command("continue")
@user_errors
def continue_cmd(
    motion: MotionFile,
    model: ModelDir = None,
    seconds: Annotated[str | None, typer.Option(help=f"Length of the continuation: {SECONDS_HELP}.")] = None,
    seed: Seed = None,
    out: OutPrefix = Path("continued"),
    allow_long: AllowLong = False,
    video: Video = True,
) -> None:
    """Continue a motion: the given motion followed by what the model predicts."""
    length = _seconds(seconds, allow_long=allow_long)
    (given,) = _load_motions(motion)
    paths = _output_paths(out, [".npy", ".bvh", ".mp4"], [motion])
    result = _load_model(model).predict(given, seconds=length, seed=seed, allow_long=allow_long)
    _write_motion(result, paths, video, title=f"{motion.stem} (continued)")


@app.command()
@user_errors
def inbetween(
    start: Annotated[Path, typer.Argument(help="The motion to start from (.bvh or .npy).")],
    end: Annotated[Path, typer.Argument(help="The motion to end with (.bvh or .npy).")],
    model: ModelDir = None,
    seconds: Annotated[
        str | None, typer.Option(help="Length of the middle: a number, or auto (the default: start + end).")
    ] = None,
    seed: Seed = None,
    out: OutPrefix = Path("inbetween"),
    video: Video = True,
) -> None:
    """Fill the gap between two motions: start, a generated middle, end."""
    length = _seconds(seconds)
    first, last = _load_motions(start, end)
    paths = _output_paths(out, [".npy", ".bvh", ".mp4"], [start, end])
    result = _load_model(model).inbetween(first, last, seconds=length, seed=seed)
    _write_motion(result, paths, video, title=f"{start.stem} to {end.stem}")


@app.command()
@user_errors
def timeline(
    spec: Annotated[
        Path, typer.Argument(help="Text file, one segment a line: SECONDS PROMPT (e.g. '3 a person walks').")
    ],
    model: ModelDir = None,
    seed: Seed = None,
    out: OutPrefix = Path("timeline"),
    video: Annotated[
        bool,
        typer.Option("--video/--no-video", help="Also render OUT.mp4 (off: long timelines draw slowly)."),
    ] = False,
    rig: RigOption = "smpl",
) -> None:
    """A timeline of prompts as one motion: each segment for its prompt, joined by in-betweens."""
    from motiongpt.lm.timeline import load_timeline
    from motiongpt.motion.bvh.export import check_rig

    segments = load_timeline(spec)  # a bad line fails here, before the model loads
    check_rig(rig)
    paths = _output_paths(out, [".npy", ".bvh", ".mp4"] + [".txt"] * out.is_dir(), [spec])
    motion = _load_model(model).generate_timeline(segments, seed=seed)
    _write_motion(motion, paths, video, title=" / ".join(prompt for prompt, _ in segments), rig=rig)


@app.command()
@user_errors
def caption(
    motion: MotionFile,
    model: ModelDir = None,
) -> None:
    """Motion to text: print a caption of a motion file."""
    (given,) = _load_motions(motion)
    typer.echo(_load_model(model).caption(given))


@app.command()
@user_errors
def demo(
    task: Annotated[str, typer.Option(help="t2m, m2t, pred or inbetween.")],
    example: Annotated[
        Path,
        typer.Option(
            help="One input per line: a description (t2m), a motion file (m2t, pred), or start and end "
            "files separated by a tab (inbetween). Blank lines and # comments are skipped."
        ),
    ],
    out: Annotated[
        Path, typer.Option(help="Folder for the outputs, named by line: 000.npy, 000.bvh, 000.txt, 000.mp4.")
    ],
    model: ModelDir = None,
    seconds: Annotated[str | None, typer.Option(help=f"Length of each motion: {SECONDS_HELP}.")] = None,
    seed: Seed = None,
    video: Annotated[bool, typer.Option("--video", help="Also render NNN.mp4 for each motion.")] = False,
    batch_size: Annotated[int, typer.Option(help="Lines per batched model call.")] = 8,
    rig: RigOption = "smpl",
) -> None:
    """Run one task over a file of inputs (a batch). Finished lines are skipped when run again; a bad line
    is reported and skipped, and the exit code is 1 when any line failed."""
    from motiongpt.demo import run_demo

    summary = run_demo(
        lambda: _load_model(model), task, example, out, seconds=_seconds(seconds), video=video, seed=seed,
        batch_size=batch_size, rig=rig,
    )  # fmt: skip
    typer.echo(summary.format())
    if summary.failed:
        raise typer.Exit(code=1)


@app.command()
@user_errors
def webui(
    model: ModelDir = None,
    host: Annotated[str, typer.Option(help="Address to serve on (0.0.0.0: every interface).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to serve on.")] = 7860,
    out: Annotated[Path | None, typer.Option(help="Folder for motion files (default: temp).")] = None,
    open_browser: Annotated[bool, typer.Option("--open", help="Open the page in a browser.")] = False,
) -> None:
    """Serve the web UI: text to motion, chat, describe or continue your own BVH; videos and downloads."""
    from motiongpt._lazy import require

    require("gradio", "motiongpt webui")  # an extra: one line naming it when missing
    from motiongpt.webui import launch

    launch(_model_dir(model, check=False), host=host, port=port, out_dir=out, open_browser=open_browser)
