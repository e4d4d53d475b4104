"""The typed boundary of the evaluation protocol: what a run is told (:class:`EvalSettings`) and what it
returns (:class:`EvalResult`).

``EvalResult`` is a frozen dataclass whose fields are also its items (as Hugging Face's ``ModelOutput``), so
``result.rows`` and ``result["rows"]`` are the same object and ``json.dumps(result)`` writes the JSON the
CLI prints. It is built complete by the protocol: nothing is patched in afterwards.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

__all__ = ["EvalResult", "EvalSettings"]


@dataclass(frozen=True)
class EvalSettings:
    """The settings every ``evaluate_*`` protocol shares.

    Attributes:
        replications: independent repetitions of the draw of captions, crops and order (20 in the protocol).
        seed: seeds every replication (``[seed, r]``) and the train-split draw.
        batch_size: retrieval batch of R-precision (32 in the protocol; t2m and m2t).
        diversity_pairs: pairs drawn for Diversity (300 in the protocol; t2m, pred and in-between).
        progress: show a progress bar over replications.
        model_name, data_root, evaluator_path, split: what is evaluated, written into the result's header.
        quick: the run used the reduced ``--quick`` design (written into the result).
    """

    replications: int = 20
    seed: int = 0
    batch_size: int = 32
    diversity_pairs: int = 300
    progress: bool = True
    model_name: str | None = None
    data_root: str | Path | None = None
    evaluator_path: str | Path | None = None
    split: str = "test"
    quick: bool = False

    def __post_init__(self) -> None:
        for name in ("replications", "batch_size", "diversity_pairs"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")

    @classmethod
    def of(cls, settings: EvalSettings | None = None, **overrides: Any) -> EvalSettings:
        """``settings`` (default: the protocol's) with ``overrides`` (field names) replaced."""
        base = cls() if settings is None else settings
        unknown = sorted(set(overrides) - {f.name for f in fields(cls)})
        if unknown:
            raise TypeError(f"unknown evaluation settings {unknown}; known: {[f.name for f in fields(cls)]}")
        return dataclasses.replace(base, **overrides) if overrides else base


@dataclass(frozen=True)
class EvalResult(dict):
    """One protocol run, JSON-able: its header, the task's own settings and the summarised rows.

    Attributes:
        task: ``"t2m"``, ``"m2t"``, ``"pred"`` or ``"inbetween"``.
        replications, seed: as run.
        evaluator: the evaluator's identity (``protocol.evaluator_identity``).
        data: the evaluated split (``protocol.data_summary``).
        model: the model's name, or None when only Real and the baselines ran.
        notes: what a reader must know to compare the numbers (definitions, baselines' caveats).
        settings: the task's own settings (batch size, MultiModality design, given share, ...).
        rows: ``{row name: {metric: {"mean", "ci95"} | value}}`` (m2t adds ``"captioning"``).
        quick: the reduced ``--quick`` design was used.
    """

    task: str
    replications: int
    seed: int
    evaluator: dict[str, Any]
    data: dict[str, Any]
    model: str | None
    notes: list[str]
    settings: dict[str, Any]
    rows: dict[str, dict[str, Any]]
    quick: bool = False

    def __post_init__(self) -> None:
        dict.update(self, {f.name: getattr(self, f.name) for f in fields(self)})

    def _frozen(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError("EvalResult is frozen: build a new one with dataclasses.replace")

    __setitem__ = __delitem__ = update = setdefault = _frozen  # type: ignore[assignment]
    pop = popitem = clear = _frozen  # type: ignore[assignment]

    def __reduce__(self) -> tuple[Any, ...]:
        return (self.__class__, tuple(getattr(self, f.name) for f in fields(self)))

    def to_dict(self) -> dict[str, Any]:
        """A plain ``dict`` copy (top level), e.g. to add fields of one's own before writing JSON."""
        return dict(self)
