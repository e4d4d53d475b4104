"""``motiongpt train tokenizer | evaluator | action | lm | recipe``: the training stages."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from motiongpt.cli._app import (
    Accelerator,
    CorpusDir,
    Devices,
    MaxSteps,
    NumNodes,
    Overrides,
    Resume,
    _devices,
    _train_options,
    train_app,
    user_errors,
)


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
