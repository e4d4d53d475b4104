"""``motiongpt eval --task ...``: the metrics of a tokenizer or a model, as JSON."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from motiongpt.cli._app import DEFAULT_MODEL, BatchSize, Device, _model_dir, _tokenizer_dir, app, user_errors
from motiongpt.errors import InvalidRequestError


def _eval_recon(
    tokenizer: Path | None, data: Path | None, split: str, batch_size: int, device: str, **_: Any
) -> dict[str, Any]:
    from motiongpt.eval.recon import evaluate_recon

    if data is None:
        raise InvalidRequestError("--task recon needs --data")
    return evaluate_recon(_tokenizer_dir(tokenizer), data, split=split, batch_size=batch_size, device=device)


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
