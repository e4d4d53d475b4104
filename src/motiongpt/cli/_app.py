"""What every ``motiongpt`` command shares: the typer apps, the common options, one-line user errors and
where the bundled model is."""

from __future__ import annotations

import atexit
import functools
import gc
import logging
import os
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from motiongpt import bundled_model
from motiongpt.errors import USER_ERRORS, user_message

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


DEFAULT_MODEL = bundled_model()  # the model shipped inside the package
ModelDir = Annotated[
    Path | None,
    typer.Option(
        "--model", help="MotionGPT folder, or default (default: $MOTIONGPT_MODEL, else the bundled model)."
    ),
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


def _tokenizer_dir(tokenizer: Path | None) -> Path:
    """--tokenizer, else (or ``default``) the bundled model's tokenizer."""
    if tokenizer is None or (str(tokenizer) == "default" and not tokenizer.is_dir()):
        return DEFAULT_MODEL / "tokenizer"
    return tokenizer
