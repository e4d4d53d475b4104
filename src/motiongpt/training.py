"""Lightning pieces every training stage shares: atomic checkpoints, RNG state, the LR schedule, the Trainer.

Like each stage's ``lit.py``, this module imports ``lightning``; library code (models, data, tasks) never
imports it. A stage's ``lit.py`` holds its ``LightningModule`` and builds its Trainer with
:func:`make_trainer`; its ``train.py`` checks the run folder with :func:`check_run_folder`.

Run folder layout shared by the stages: ``config.yaml``, ``checkpoints/last.ckpt`` (full optimiser /
scheduler / step / RNG state, what ``resume`` reads), ``checkpoints/best-{step}.ckpt``, ``logs/metrics.csv``.
"""

from __future__ import annotations

import logging
import math
import random
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import LearningRateMonitor, ModelCheckpoint, TQDMProgressBar
from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.plugins.io import TorchCheckpointIO

from motiongpt._io import atomic_path
from motiongpt.config import YamlConfig
from motiongpt.errors import ConfigError

RNG_KEY = "motiongpt_rng"


def _quiet_lightning() -> None:
    """Lightning's messages once, through the root logger the CLI sets up (not also through its own
    handler), without its advertisement for a cloud logging service."""
    if logging.getLogger().handlers:
        logging.getLogger("lightning").handlers = []  # its records still reach the root handler
    emitter = logging.getLogger("lightning.pytorch.utilities.rank_zero")
    if not emitter.filters:
        emitter.addFilter(lambda record: "litlogger" not in record.getMessage())


def cosine_lr_factor(step: int, lr: float, lr_min: float, warmup_steps: int, max_steps: int) -> float:
    """Multiplier of ``lr`` at ``step``: linear warm-up, then cosine from 1 down to ``lr_min / lr``."""
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    span = max(1, max_steps - warmup_steps)
    progress = min(1.0, (step - warmup_steps) / span)
    floor = lr_min / lr
    return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))


def rng_state() -> dict[str, Any]:
    """Python, numpy, torch (and CUDA) RNG states, for a checkpoint: tensors, ints and strings only, so
    ``torch.load(weights_only=True)`` accepts them."""
    version, py_state, gauss = random.getstate()
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state: dict[str, Any] = {
        "python": [version, torch.tensor(py_state, dtype=torch.int64), gauss],
        "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, cached],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what :func:`rng_state` saved (also the plain tuple / ndarray form older runs saved)."""
    version, py_state, gauss = state["python"]
    if torch.is_tensor(py_state):
        py_state = tuple(int(v) for v in py_state.tolist())
    random.setstate((version, py_state, gauss))
    kind, keys, pos, has_gauss, cached = state["numpy"]
    if torch.is_tensor(keys):
        keys = keys.numpy().astype(np.uint32)
    np.random.set_state((kind, keys, pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch (and dataloader workers, through Lightning's worker init)."""
    L.seed_everything(seed, workers=True, verbose=False)


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning's ``torch.save`` checkpoints, written to a temporary file and renamed into place."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Any = None) -> None:
        with atomic_path(path) as tmp:
            super().save_checkpoint(checkpoint, tmp, storage_options)


def make_trainer(
    out: Path,
    *,
    max_steps: int,
    val_every: int,
    monitor: str,
    mode: str = "min",
    accelerator: str = "auto",
    devices: int | str = "auto",
    precision: str = "32-true",
    grad_clip: float = 0.0,
    accumulate: int = 1,
    log_every: int = 50,
    progress_bar: bool = True,
    resume: bool = False,
) -> L.Trainer:
    """A Trainer writing into the run folder ``out``: ``checkpoints/last.ckpt`` and the best by
    ``monitor``, CSV logs in ``logs/metrics.csv`` (a resumed run logs to ``logs/resume-{i}/`` instead, as
    Lightning's CSV logger would overwrite the first file), validation (and a checkpoint) every
    ``val_every`` optimiser steps. Our checkpoints also hold RNG states (see :func:`rng_state`) and the
    run config; pass ``weights_only=False`` to ``fit`` when resuming unless all of it is plain data."""
    version = ""
    if resume:
        version = f"resume-{sum(1 for _ in (out / 'logs').glob('resume-*')) + 1}"
    callbacks: list[L.Callback] = [
        ModelCheckpoint(
            dirpath=out / "checkpoints",
            filename="best-{step}",
            monitor=monitor,
            mode=mode,
            save_top_k=1,
            save_last=True,
            auto_insert_metric_name=False,
        ),
        LearningRateMonitor(logging_interval="step"),
    ]
    if progress_bar:
        callbacks.append(TQDMProgressBar(refresh_rate=log_every))
    _quiet_lightning()
    return L.Trainer(
        accelerator=accelerator,
        devices=devices,
        precision=precision,  # type: ignore[arg-type]
        max_steps=max_steps,
        max_epochs=-1,
        val_check_interval=val_every * accumulate,  # counted in batches
        check_val_every_n_epoch=None,
        num_sanity_val_steps=0,
        gradient_clip_val=grad_clip or None,
        accumulate_grad_batches=accumulate,
        log_every_n_steps=log_every,
        callbacks=callbacks,
        logger=CSVLogger(out, name="logs", version=version),
        plugins=[AtomicCheckpointIO()],
        enable_progress_bar=progress_bar,
        enable_model_summary=False,
        default_root_dir=out,
    )


def check_run_folder(out: Path, resume: bool) -> Path | None:
    """The checkpoint to resume from (``None`` for a fresh run).

    Raises:
        ConfigError: a fresh run would overwrite an existing one, or ``resume`` finds no checkpoint.
    """
    last = out / "checkpoints" / "last.ckpt"
    if not resume:
        if last.exists():
            raise ConfigError(f"{out} already holds a run ({last}); pass --resume or choose another --out")
        return None
    if not last.is_file():
        raise ConfigError(f"cannot resume: {last} not found")
    return last


def check_same_model(out: Path, before: YamlConfig, now: YamlConfig) -> None:
    """On resume, the model config saved in run ``out`` (``before``) must equal this run's (``now``).

    Raises:
        ConfigError: naming each field that differs, as ``{field: (was, now)}``.
    """
    if before != now:
        was, cur = before.to_dict(), now.to_dict()
        diff = {k: (v, cur[k]) for k, v in was.items() if cur[k] != v}
        raise ConfigError(f"cannot resume {out}: model config differs from the run's (was, now): {diff}")


__all__ = [
    "AtomicCheckpointIO", "check_run_folder", "check_same_model", "cosine_lr_factor", "make_trainer",
    "rng_state", "seed_everything", "set_rng_state",
]  # fmt: skip
