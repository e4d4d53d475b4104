"""The ``motiongpt`` command line: a thin typer layer, one library call per command.

Errors a user can cause (``MotionGPTError``) are printed as one line, without a traceback.
"""

from __future__ import annotations

import atexit
import functools
import gc
import logging
import os
import sys
import warnings
from collections.abc import Callable
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from motiongpt.errors import USER_ERRORS, InvalidRequestError, user_message
from motiongpt.motion.skeleton import MAX_FRAMES, MAX_SECONDS

if TYPE_CHECKING:
    from motiongpt.motion.motion import Motion

app = typer.Typer(
    help="motiongpt: text to motion, motion to text, and the training stages behind them.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
data_app = typer.Typer(help="Build and inspect training corpora.", no_args_is_help=True)
train_app = typer.Typer(help="Train a stage: tokenizer, evaluator, lm.", no_args_is_help=True)
app.add_typer(data_app, name="data")
app.add_typer(train_app, name="train")

Overrides = Annotated[list[str] | None, typer.Option("--set", help="Config override key=value (repeatable).")]
# the options every `train` command shares
Resume = Annotated[bool, typer.Option("--resume", help="Continue from OUT's newest complete checkpoint.")]
Accelerator = Annotated[str, typer.Option(help="cpu, gpu or auto.")]
Devices = Annotated[str, typer.Option(help="Number of devices, or auto.")]
NumNodes = Annotated[int, typer.Option(min=1, help="Machines (DDP): launch the same command on each.")]
MaxSteps = Annotated[int | None, typer.Option(help="Override max_steps.")]
CorpusDir = Annotated[Path, typer.Option(help="HumanML3D-format corpus folder.")]
BatchSize = Annotated[int, typer.Option(help="Clips per forward pass.")]
Device = Annotated[str, typer.Option(help="torch device, e.g. cpu or cuda.")]


def _train_options(cfg: Any, max_steps: int | None, devices: str) -> tuple[Any, int | str]:
    """``cfg`` with ``--max-steps`` applied, and ``--devices`` as Lightning takes it (a count or a name)."""
    import dataclasses

    if max_steps is not None:
        cfg = dataclasses.replace(cfg, max_steps=max_steps)
    return cfg, _devices(devices)


def _devices(devices: str) -> int | str:
    """``--devices`` as Lightning takes it: a count or a name (auto)."""
    return int(devices) if devices.isdigit() else devices


def user_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn a user error (bad input, a missing file, an optional dependency not installed) into a
    one-line message and exit code 2."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except USER_ERRORS as e:
            typer.echo(f"error: {user_message(e)}", err=True)
            raise typer.Exit(code=2) from None
        except ModuleNotFoundError as e:  # an extra not installed: name it (else a real bug: traceback)
            from motiongpt._lazy import missing_extra

            error = missing_extra(e, f"motiongpt {fn.__name__.removesuffix('_cmd').replace('_', ' ')}")
            if error is None:
                raise
            typer.echo(f"error: {error}", err=True)
            raise typer.Exit(code=2) from None

    return wrapper


@app.callback()
def _main(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False) -> None:
    # --verbose is motiongpt's own debug messages (and, through them, the libraries' loading output:
    # MotionGPT.from_pretrained keeps those quiet only below DEBUG); other loggers stay at INFO, so no
    # matplotlib font search lines.
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    # At exit, Python's last garbage collections walk every object torch and transformers made (about
    # 1 s of CPU after a model load, measured by benchmarks/startup.py); the process is ending, so skip them.
    atexit.register(gc.freeze)
    if verbose:
        logging.getLogger("motiongpt").setLevel(logging.DEBUG)
    else:  # keep a user's terminal to our own messages: no download bars, no upstream notices
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
        warnings.filterwarnings("ignore", message=r".*LeafSpec.*")  # lightning on torch 2.13
        logging.getLogger("httpx").setLevel(logging.WARNING)  # the web UI's own start-up requests


# --- motion -------------------------------------------------------------------------------------------


@app.command()
@user_errors
def render(
    src: Annotated[Path, typer.Argument(help="Motion to draw: .npy joints (T,22,3) or .bvh.")],
    dst: Annotated[Path, typer.Argument(help="Video to write: .mp4 (H.264) or .gif, 320x320, 20 fps.")],
    title: Annotated[str | None, typer.Option(help="Text shown at the top, e.g. the prompt.")] = None,
) -> None:
    """Render a motion as a skeleton video."""
    from motiongpt.motion.io import load_joints
    from motiongpt.render import VIDEO_SUFFIXES, render_video

    if dst.suffix.lower() not in VIDEO_SUFFIXES:
        raise InvalidRequestError(f"DST must end in {' or '.join(VIDEO_SUFFIXES)}, got {dst}")
    joints = load_joints(src)
    existed = dst.exists()
    render_video(joints, dst, title=title)
    typer.echo(f"wrote {dst} ({len(joints)} frames)" + (" (replaced)" if existed else ""))


@app.command()
@user_errors
def convert(
    src: Annotated[Path, typer.Argument(help="Input .bvh, .npy joints (T,22,3) or features (T,263).")],
    dst: Annotated[Path, typer.Argument(help="Output .bvh, .npy joints, or .features.npy (T-1,263).")],
    rig: Annotated[
        str | None,
        typer.Option(
            help="A .bvh DST's skeleton: smpl (default), mixamo, bandai, cc or a rig .bvh file; "
            "else the .bvh SRC's rig: bandai, cc, smpl or mixamo (default: detect)."
        ),
    ] = None,
    up: Annotated[str | None, typer.Option(help="BVH up axis: Y, Z or X (default: detect).")] = None,
    features: Annotated[bool, typer.Option("--features", help="Write features (T-1, 263).")] = False,
) -> None:
    """Convert motion between BVH, joint positions and HumanML3D features."""
    from motiongpt.motion.io import convert_motion

    if dst.resolve() == src.resolve():
        from motiongpt.errors import InvalidRequestError

        raise InvalidRequestError(f"{dst} is the input: writing it would destroy it; choose another output")
    existed = dst.exists()
    to_bvh = dst.suffix.lower() == ".bvh"  # --rig is the output's skeleton, else the input's rig
    shape = convert_motion(src, dst, rig=None if to_bvh else rig, up=up, features=features,
                           out_rig=(rig or "smpl") if to_bvh else "smpl")  # fmt: skip
    typer.echo(f"wrote {dst} {shape}" + (" (replaced)" if existed else ""))


@app.command("fit-smpl")
@user_errors
def fit_smpl_cmd(
    src: Annotated[Path, typer.Argument(help="Motion: .npy joints (T,22,3), metres, Y up, or .bvh.")],
    smpl_dir: Annotated[
        Path, typer.Option(help="Folder with SMPL_NEUTRAL.pkl or .npz (from smpl.is.tue.mpg.de)."),
    ],
    out: Annotated[
        Path, typer.Option(help="Output prefix: PREFIX_verts.npy, PREFIX_smpl.npz, PREFIX_obj/, PREFIX.mp4.")
    ],
    video: Annotated[
        bool, typer.Option("--video", help="Also PREFIX.mp4: the fit's skeleton and vertices.")
    ] = False,
    obj: Annotated[bool, typer.Option(help="Write PREFIX_obj/: one .obj mesh per frame.")] = True,
    fit_shape: Annotated[bool, typer.Option("--fit-shape", help="Fit one body shape (betas).")] = False,
    gender: Annotated[str, typer.Option(help="Which SMPL model: neutral, male or female.")] = "neutral",
    iterations: Annotated[int, typer.Option(min=0, help="Optimiser steps after the analytic guess.")] = 300,
) -> None:
    """Fit the SMPL body mesh to a motion's joints: vertices (.npy, .obj per frame), SMPL parameters."""
    from motiongpt.motion.io import load_joints
    from motiongpt.motion.smpl_fit import fit_smpl

    outputs = [out.with_name(out.name + s) for s in ("_verts.npy", "_smpl.npz", "_obj", ".mp4")]
    if src.resolve() in {p.resolve() for p in outputs}:
        raise InvalidRequestError(f"--out {out} would overwrite the input {src}; choose another --out")
    joints = load_joints(src)
    fit = fit_smpl(joints, smpl_dir, gender=gender, fit_betas=fit_shape, iterations=iterations)
    writer = None
    if video:
        from motiongpt.render import render_video as writer
    files = fit.save(out, obj=obj, video=writer, title=f"SMPL fit: {src.name}")
    written = [files.vertices, files.params] + [p for p in (files.obj_dir, files.video) if p is not None]
    typer.echo(f"fitted SMPL ({fit.vertices.shape[1]} vertices) to {len(joints)} frames: "
               + ", ".join(map(str, written)))  # fmt: skip
    typer.echo(f"mean joint error: {fit.error_mm:.1f} mm")


# --- data ---------------------------------------------------------------------------------------------


@data_app.command("build")
@user_errors
def data_build(
    out: Annotated[Path, typer.Option(help="Corpus folder to write (HumanML3D format).")],
    source: Annotated[Path, typer.Option(help="Shared data folder with the motion archives.")] = Path(
        "../shared/data"
    ),
    seed: Annotated[int, typer.Option(help="Seeds the split and the templated captions.")] = 0,
    workers: Annotated[int, typer.Option(help="Processes for BVH parsing and features.")] = 2,
    limit: Annotated[int | None, typer.Option(help="At most N source clips per source.")] = None,
    cache: Annotated[Path | None, typer.Option(help="Where archives are unpacked.")] = None,
    force: Annotated[bool, typer.Option(help="Replace a non-empty folder that is not a corpus.")] = False,
) -> None:
    """Build a HumanML3D-format corpus from the Bandai Namco and CMU archives."""
    from motiongpt.data import build_corpus

    summary = build_corpus(source, out, seed=seed, workers=workers, limit=limit, cache_dir=cache, force=force)
    typer.echo(summary.format())


# --- tokenizer ----------------------------------------------------------------------------------------


@train_app.command("tokenizer")
@user_errors
def train_tokenizer_cmd(
    config: Annotated[Path, typer.Option(help="TrainConfig YAML, e.g. configs/tokenizer/small.yaml.")],
    data: CorpusDir,
    out: Annotated[Path, typer.Option(help="Run folder (checkpoints, logs, exported tokenizer/).")] = Path(
        "runs/tok"
    ),
    overrides: Overrides = None,
    resume: Resume = False,
    accelerator: Accelerator = "auto",
    devices: Devices = "auto",
    num_nodes: NumNodes = 1,
    max_steps: MaxSteps = None,
) -> None:
    """Train the motion tokenizer (VQ-VAE, stage 1); export OUT/tokenizer at the end."""
    from motiongpt.tokenizer.config import TrainConfig
    from motiongpt.tokenizer.train import train_tokenizer

    cfg = TrainConfig.from_yaml(config).with_overrides(overrides)
    cfg, n_devices = _train_options(cfg, max_steps, devices)
    result = train_tokenizer(cfg, data, out, resume=resume, accelerator=accelerator, devices=n_devices,
                             num_nodes=num_nodes)  # fmt: skip
    if result.rank == 0:
        typer.echo(f"step {result.global_step}: tokenizer written to {result.tokenizer_dir}")


@app.command()
@user_errors
def tokenize(
    data: CorpusDir,
    tokenizer: Annotated[
        Path | None, typer.Option(help="Tokenizer folder (default: the bundled model's tokenizer).")
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(help="Output folder (default: TOKENIZER/tokens; ./tokens for the bundled one)."),
    ] = None,
    batch_size: BatchSize = 256,
    device: Device = "cpu",
    mirror: Annotated[
        bool, typer.Option(help="Also write OUT/train.mirror.npz: the train split mirrored left/right.")
    ] = False,
) -> None:
    """Encode every clip of every split to motion tokens: OUT/{split}.npz."""
    from motiongpt.tokenizer.tokenize import tokenize_corpus

    if tokenizer is None or str(tokenizer) == "default" and not tokenizer.is_dir():
        out = out or Path("tokens")  # never into the installed package
    written = tokenize_corpus(
        _tokenizer_dir(tokenizer), data, out, batch_size=batch_size, device=device, mirror=mirror
    )
    for split, path in written.items():
        typer.echo(f"{split}: {path}")


# --- evaluation ---------------------------------------------------------------------------------------


@train_app.command("evaluator")
@user_errors
def train_evaluator_cmd(
    data: CorpusDir,
    config: Annotated[Path | None, typer.Option(help="EvaluatorConfig YAML (default: the preset).")] = None,
    out: Annotated[Path, typer.Option(help="Output: config.yaml, model.safetensors, metrics.json.")] = Path(
        "runs/evaluator"
    ),
    overrides: Overrides = None,
    replications: Annotated[int, typer.Option(help="Replications of the test-split metrics.")] = 5,
) -> None:
    """Train a T2M-style text/motion evaluator and report its retrieval accuracy on real test pairs."""
    import json

    from motiongpt.eval.evaluator import EVALUATOR_PRESET, EvaluatorConfig
    from motiongpt.eval.evaluator_train import train_evaluator

    cfg = EvaluatorConfig.from_yaml(config or EVALUATOR_PRESET).with_overrides(overrides)
    result = train_evaluator(data, cfg, out, replications=replications)
    typer.echo(json.dumps(result, indent=2))
    typer.echo(f"evaluator written to {out}")


@train_app.command("action")
@user_errors
def train_action_cmd(
    data: CorpusDir,
    out: Annotated[Path, typer.Option(help="Output: config.yaml, model.safetensors.")] = Path("runs/action"),
) -> None:
    """Train the action classifier of the evaluation on the corpus's content labels (seconds on CPU)."""
    import json

    from motiongpt.eval.action import train_action_classifier

    typer.echo(json.dumps(train_action_classifier(data, out), indent=2))
    typer.echo(f"action classifier written to {out}")


def _eval_recon(
    tokenizer: Path | None, data: Path | None, split: str, batch_size: int, device: str, **_: Any
) -> dict[str, Any]:
    from motiongpt.eval.recon import evaluate_recon

    if data is None:
        raise InvalidRequestError("--task recon needs --data")
    return evaluate_recon(_tokenizer_dir(tokenizer), data, split=split, batch_size=batch_size, device=device)


def _tokenizer_dir(tokenizer: Path | None) -> Path:
    """--tokenizer, else (or ``default``) the bundled model's tokenizer."""
    if tokenizer is None or (str(tokenizer) == "default" and not tokenizer.is_dir()):
        return DEFAULT_MODEL / "tokenizer"
    return tokenizer


def _eval_protocol(task: str) -> Callable[..., dict[str, Any]]:
    def run(
        data: Path | None,
        split: str,
        evaluator: Path | None,
        model: Path | None,
        replications: int | None,
        quick: bool,
        seed: int,
        action_classifier: Path | None = None,
        **_: Any,
    ) -> dict[str, Any]:
        from motiongpt.eval.report import format_table
        from motiongpt.eval.run import run_evaluation

        if data is None or evaluator is None:
            raise InvalidRequestError(f"--task {task} needs --data and --evaluator")
        if action_classifier is not None and task != "t2m":
            raise InvalidRequestError("--action-classifier is for --task t2m and actions")
        result = run_evaluation(task, data, evaluator, model, replications, quick, seed, split,
                                action_classifier=action_classifier)  # fmt: skip
        typer.echo(format_table(result), err=True)
        return result

    return run


def _eval_actions(
    model: Path | None, action_classifier: Path | None, prompts: Path | None, quick: bool, seed: int, **_: Any
) -> dict[str, Any]:
    from motiongpt.eval.run import run_action_prompts

    if action_classifier is None:
        raise InvalidRequestError("--task actions needs --action-classifier (motiongpt train action)")
    return run_action_prompts(model or DEFAULT_MODEL, action_classifier, prompts, 1 if quick else 3, seed)


# task -> function(tokenizer, data, split, batch_size, device, **options) -> JSON-able metrics dict
EVAL_TASKS: dict[str, Callable[..., dict[str, Any]]] = {
    "recon": _eval_recon,
    "t2m": _eval_protocol("t2m"),
    "m2t": _eval_protocol("m2t"),
    "pred": _eval_protocol("pred"),
    "inbetween": _eval_protocol("inbetween"),
    "actions": _eval_actions,
}


@app.command("eval")
@user_errors
def eval_cmd(
    task: Annotated[str, typer.Option(help=f"What to evaluate: {', '.join(EVAL_TASKS)}.")],
    tokenizer: Annotated[
        Path | None, typer.Option(help="recon: tokenizer folder (default: the bundled model's).")
    ] = None,
    data: Annotated[Path | None, typer.Option(help="HumanML3D-format corpus folder.")] = None,
    split: Annotated[str, typer.Option(help="train, val or test.")] = "test",
    batch_size: BatchSize = 256,
    device: Device = "cpu",
    json_out: Annotated[Path | None, typer.Option("--json", help="Also write the metrics to this file.")] = (
        None
    ),
    evaluator: Annotated[Path | None, typer.Option(help="t2m/m2t/pred/inbetween: evaluator folder.")] = None,
    model: Annotated[
        Path | None,
        typer.Option(
            help="t2m/m2t/pred/inbetween: model folder, or default: the bundled model "
            "(omit: Real + baselines only)."
        ),
    ] = None,
    replications: Annotated[int | None, typer.Option(help="Replications (default 20, --quick 3).")] = None,
    quick: Annotated[bool, typer.Option("--quick", help="Few replications, small MultiModality.")] = False,
    seed: Annotated[int, typer.Option(help="Random seed of the evaluation draws.")] = 0,
    action_classifier: Annotated[
        Path | None, typer.Option(help="t2m/actions: action classifier folder (motiongpt train action).")
    ] = None,
    prompts: Annotated[
        Path | None,
        typer.Option(
            help="actions: YAML mapping actions to lists of prompts (default: packaged paraphrases), "
            "or 'templated' (the caption templates' wording)."
        ),
    ] = None,
) -> None:
    """Evaluate a model and print the metrics as JSON (t2m/m2t/pred/inbetween: a table on stderr too)."""
    import json

    from motiongpt._io import atomic_write_text

    if task not in EVAL_TASKS:
        available = ", ".join(EVAL_TASKS)
        raise InvalidRequestError(f"--task: unknown task {task!r}; available: {available}")
    if model is not None:
        model = _model_dir(model)
    metrics = EVAL_TASKS[task](
        tokenizer=tokenizer, data=data, split=split, batch_size=batch_size, device=device,
        evaluator=evaluator, model=model, replications=replications, quick=quick, seed=seed,
        action_classifier=action_classifier, prompts=prompts,
    )  # fmt: skip
    text = json.dumps(metrics, indent=2)
    if json_out is not None:
        atomic_write_text(json_out, text + "\n")
    typer.echo(text)


# --- language model -----------------------------------------------------------------------------------


@train_app.command("lm")
@user_errors
def train_lm_cmd(
    data: CorpusDir,
    tokens: Annotated[Path, typer.Option(help="Folder of {split}.npz motion tokens (motiongpt tokenize).")],
    stage: Annotated[str, typer.Option(help="pretrain (stage 2) or instruct (stage 3).")] = "instruct",
    config: Annotated[Path | None, typer.Option(help="LMTrainConfig YAML (default: the stage's).")] = None,
    out: Annotated[Path | None, typer.Option(help="Run folder (default: runs/lm-STAGE).")] = None,
    init: Annotated[
        Path | None,
        typer.Option(help="Start from this LM folder or MotionGPT bundle (its sampling settings kept)."),
    ] = None,
    tokenizer: Annotated[Path | None, typer.Option(help="Motion tokenizer for the exported bundle.")] = None,
    text_source: Annotated[
        Path | None, typer.Option(help="CMU data.csv, or the shared data folder holding cmu-mocap.tar.xz.")
    ] = None,
    overrides: Overrides = None,
    resume: Resume = False,
    accelerator: Accelerator = "auto",
    devices: Devices = "auto",
    num_nodes: NumNodes = 1,
    max_steps: MaxSteps = None,
) -> None:
    """Train the language model (stage 2 or 3); export OUT/lm and the MotionGPT bundle OUT/motiongpt."""
    import dataclasses

    from motiongpt.config import check_choice
    from motiongpt.lm.train import LMTrainConfig, stage_config, train_lm

    check_choice("--stage", stage, ("pretrain", "instruct"))
    cfg = LMTrainConfig.from_yaml(config or stage_config(stage)).with_overrides(overrides)
    cfg, n_devices = _train_options(dataclasses.replace(cfg, stage=stage), max_steps, devices)
    result = train_lm(
        cfg, data, tokens, out or Path(f"runs/lm-{stage}"), init=init, tokenizer=tokenizer,
        text_source=text_source, resume=resume, accelerator=accelerator, devices=n_devices,
        num_nodes=num_nodes,
    )  # fmt: skip
    if result.rank == 0:
        typer.echo(f"step {result.global_step}: LM written to {result.lm_dir}"
                   + (f", MotionGPT bundle to {result.bundle_dir}" if result.bundle_dir else ""))  # fmt: skip


@train_app.command("recipe")
@user_errors
def train_recipe_cmd(
    recipe: Annotated[Path, typer.Argument(help="Recipe YAML: its parts (LM configs) and bundle settings.")],
    data: CorpusDir,
    tokens: Annotated[Path, typer.Option(help="Folder of {split}.npz motion tokens (motiongpt tokenize).")],
    out: Annotated[Path, typer.Option(help="Run folder: one subfolder per part, OUT/recipe.json.")],
    init: Annotated[Path | None, typer.Option(help="Start the first part from this LM or bundle.")] = None,
    tokenizer: Annotated[Path | None, typer.Option(help="Motion tokenizer for the exported bundles.")] = None,
    text_source: Annotated[
        Path | None, typer.Option(help="CMU data.csv, or the shared data folder holding cmu-mocap.tar.xz.")
    ] = None,
    overrides: Overrides = None,
    accelerator: Accelerator = "auto",
    devices: Devices = "auto",
    num_nodes: NumNodes = 1,
) -> None:
    """Train an LM recipe's parts in order, each from the last; run it again to continue where it stopped."""
    from motiongpt.lm.recipe import Recipe, train_recipe

    bundle = train_recipe(
        Recipe.from_yaml(recipe), data, tokens, out, init=init, tokenizer=tokenizer, text_source=text_source,
        overrides=overrides, accelerator=accelerator, devices=_devices(devices), num_nodes=num_nodes,
    )  # fmt: skip
    typer.echo(f"recipe {recipe}: MotionGPT bundle in {bundle}")


DEFAULT_MODEL = Path(str(files("motiongpt") / "assets" / "model"))  # the bundled model, where installed
ModelDir = Annotated[
    Path | None,
    typer.Option(
        "--model", help="MotionGPT folder, or default (default: $MOTIONGPT_MODEL, else the bundled model)."
    ),
]


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


def _model_dir(model: Path | None, check: bool = True) -> Path:
    """--model, else $MOTIONGPT_MODEL, else the bundled model; a missing folder fails before anything loads
    (``check``; else when the model is loaded)."""
    if model is None and os.environ.get("MOTIONGPT_MODEL"):
        model = Path(os.environ["MOTIONGPT_MODEL"])
    if model is None or (str(model) == "default" and not model.is_dir()):
        return DEFAULT_MODEL
    if check and not model.is_dir():
        from motiongpt.errors import CheckpointError

        raise CheckpointError(f"model folder {model} does not exist (--model or $MOTIONGPT_MODEL)")
    return model


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
    from motiongpt.lm.pipeline import check_text
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
