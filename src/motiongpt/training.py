"""Lightning pieces every training stage shares: atomic checkpoints, RNG state, the LR schedule, the Trainer.

Like each stage's ``lit.py``, this module imports ``lightning``; library code (models, data, tasks) never
imports it. A stage's ``lit.py`` holds its ``LightningModule`` and builds its Trainer with
:func:`make_trainer`; its ``train.py`` checks the run folder with :func:`check_run_folder`.

Run folder layout shared by the stages: ``config.yaml``, ``checkpoints/last.ckpt`` (full optimiser /
scheduler / step / RNG state, what ``resume`` reads), ``checkpoints/best-{step}.ckpt``, ``logs/metrics.csv``.

Distributed runs (``devices``/``num_nodes`` > 1, or started by ``torchrun`` / SLURM) are Lightning DDP. The
data position of every process is a pure function of the optimiser step (:class:`StepSampler`): process
``r`` of ``W`` takes items ``s*G + m*b*W + r*b .. + b`` at step ``s``, micro-batch ``m`` (``G`` items per
step), so the ranks see different items, together the items one process with a ``W`` times larger batch
would see, and a resumed run continues with exactly the items an uninterrupted run would have used.
Only global rank 0 writes files, logs at INFO level and prints.
"""

from __future__ import annotations

import csv
import io
import logging
import math
import os
import random
import shutil
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import LearningRateMonitor, ModelCheckpoint, TQDMProgressBar
from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.plugins.io import TorchCheckpointIO
from torch.utils.data import DataLoader, Sampler

from motiongpt._io import atomic_path, atomic_write_text
from motiongpt.config import YamlConfig
from motiongpt.errors import CheckpointError, ConfigError

RNG_KEY = "motiongpt_rng"
CONFIG_KEY = "motiongpt_config"
log = logging.getLogger(__name__)


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


# --- processes ----------------------------------------------------------------------------------------
_RANK_VARS = ("RANK", "LOCAL_RANK", "NODE_RANK", "GROUP_RANK", "SLURM_PROCID", "PMI_RANK",
              "OMPI_COMM_WORLD_RANK")  # fmt: skip


def is_launch_zero() -> bool:
    """Whether this process is (or, before the Trainer starts the others, will be) global rank 0: no
    launcher variable (Lightning's, torchrun's, SLURM's, MPI's) names another rank. Before ``fit``, the
    only way to know; the file writes and INFO messages of a run are guarded by it."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank() == 0
    return all(os.environ.get(v, "0") in ("0", "") for v in _RANK_VARS)


def quiet_other_ranks() -> None:
    """On a process other than rank 0, motiongpt's INFO messages are dropped (warnings still show)."""
    if not is_launch_zero():
        logging.getLogger("motiongpt").setLevel(logging.WARNING)


class StepSampler(Sampler[int]):
    """The item positions this process trains on, as a function of the optimiser step alone.

    At step ``s``, micro-batch ``m`` (of ``accumulate``), process ``rank`` of ``world_size`` takes positions
    ``s*G + (m*world_size + rank)*batch_size + j`` for ``j < batch_size``, ``G = batch_size * accumulate *
    world_size``. Iteration starts at step ``start()`` (read when iteration begins: the trainer's step after
    a resume), and runs to ``max_steps``; the length is always that of the whole run, as Lightning counts
    the batches of a resumed epoch from where the checkpoint was.
    """

    def __init__(self, max_steps: int, batch_size: int, accumulate: int = 1, *, start: Callable[[], int],
                 rank: int = 0, world_size: int = 1) -> None:  # fmt: skip
        self.max_steps, self.batch_size, self.accumulate = max_steps, batch_size, accumulate
        self.start, self.rank, self.world_size = start, rank, world_size

    @property
    def per_step(self) -> int:
        """Items per optimiser step over all processes (``G``)."""
        return self.batch_size * self.accumulate * self.world_size

    def __len__(self) -> int:
        return self.max_steps * self.accumulate * self.batch_size

    def __iter__(self) -> Iterator[int]:
        b, w = self.batch_size, self.world_size
        for s in range(int(self.start()), self.max_steps):
            for m in range(self.accumulate):
                first = s * self.per_step + (m * w + self.rank) * b
                yield from range(first, first + b)


class StepLoader(DataLoader):
    """A DataLoader over a :class:`StepSampler`: its position is the trainer's step, so there is nothing to
    save, and Lightning knows a mid-epoch resume restores it (no "not resumable" warning). Its generator is
    its own, so starting an iterator draws nothing from torch's global RNG (which the checkpoint restores:
    an uninterrupted and a resumed run draw the same numbers)."""

    def __init__(self, dataset: Any, sampler: StepSampler, seed: int, **kwargs: Any) -> None:
        super().__init__(dataset, batch_size=sampler.batch_size, sampler=sampler, drop_last=False,
                         generator=torch.Generator().manual_seed(seed), **kwargs)  # fmt: skip

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass


class StepProgressBar(TQDMProgressBar):
    """Lightning's bar, counting optimiser steps out of ``max_steps`` ("Training step: 120/2000") instead of
    the batches of an epoch ("Epoch 5: 24/24"); a resumed run starts at its step."""

    def on_train_epoch_start(self, trainer: L.Trainer, *args: Any) -> None:
        if self._leave:
            self.train_progress_bar = self.init_train_tqdm()
        bar = self.train_progress_bar
        bar.set_description("Training step", refresh=False)  # (not "Epoch N")
        if bar.total != trainer.max_steps:  # a new bar; a later epoch's goes on where it was
            bar.reset(total=trainer.max_steps)
        bar.n = bar.initial = trainer.global_step

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: Any, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        n, bar = trainer.global_step, self.train_progress_bar
        if bar is not None and n != bar.n and self._should_update(n, bar.total):
            bar.n = n
            bar.set_postfix(self.get_metrics(trainer, pl_module))  # refreshes


# --- checkpoints -------------------------------------------------------------------------------------
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
    num_nodes: int = 1,
    precision: str = "32-true",
    grad_clip: float = 0.0,
    accumulate: int = 1,
    log_every: int = 50,
    progress_bar: bool = True,
    resume: bool = False,
    callbacks: Sequence[L.Callback] = (),
) -> L.Trainer:
    """A Trainer writing into the run folder ``out``: ``checkpoints/last.ckpt`` and the best by
    ``monitor``, CSV logs in ``logs/metrics.csv`` (a resumed run logs to ``logs/resume-{i}/`` instead, as
    Lightning's CSV logger would overwrite the first file), validation (and a checkpoint) every
    ``val_every`` optimiser steps. Our checkpoints also hold RNG states (see :func:`rng_state`) and the
    run config, plain data that ``fit(..., weights_only=True)`` loads. ``devices`` and ``num_nodes`` > 1
    run Lightning DDP; the train loader must be a :class:`StepLoader` (no distributed sampler is added:
    each process validates on the whole validation set, so every rank computes the same metrics)."""
    version = ""
    if resume:
        version = f"resume-{sum(1 for _ in (out / 'logs').glob('resume-*')) + 1}"
    quiet_other_ranks()
    callbacks = [
        *callbacks,
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
    ]  # extra ``callbacks`` first (e.g. a learning-curve probe), then ours
    if progress_bar:
        callbacks.append(StepProgressBar(refresh_rate=log_every))
    _quiet_lightning()
    return L.Trainer(
        accelerator=accelerator,
        devices=devices,
        num_nodes=num_nodes,
        use_distributed_sampler=False,
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


def remove_partial_files(out: Path) -> list[Path]:
    """Remove what an interrupted write left in run ``out``: temporary files of :func:`atomic_path`
    (``.{name}.{random}.tmp{suffix}``) in ``out`` and ``out/checkpoints``, and the ``{folder}.tmp`` /
    ``{folder}.old`` folders of an interrupted export. Returns what was removed."""
    removed = []
    for folder in (out, out / "checkpoints"):
        if not folder.is_dir():
            continue
        for path in folder.iterdir():
            partial_file = path.name.startswith(".") and ".tmp" in path.name and path.is_file()
            partial_dir = path.suffix in (".tmp", ".old") and path.is_dir() and folder == out
            if partial_file or partial_dir:
                shutil.rmtree(path) if partial_dir else path.unlink(missing_ok=True)
                removed.append(path)
    if removed:
        log.info("removed what an interrupted write left: %s", ", ".join(p.name for p in removed))
    return removed


def read_checkpoint(path: Path) -> dict[str, Any]:
    """A training checkpoint of ours, loaded with ``weights_only=True`` (memory-mapped).

    Raises:
        CheckpointError: one line naming ``path`` and what is wrong: unreadable (truncated, not a torch
            file) or a field of ours missing (a checkpoint from another program).
    """
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception as e:  # truncated zip, foreign pickle, ...: torch raises many kinds
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise CheckpointError(f"{path}: not a readable checkpoint ({reason[:160]})") from None
    if not isinstance(ckpt, dict):
        raise CheckpointError(f"{path}: not a training checkpoint (holds a {type(ckpt).__name__})")
    for key in ("global_step", "state_dict", CONFIG_KEY):
        if key not in ckpt:
            raise CheckpointError(f"{path}: not a motiongpt training checkpoint (field {key!r} missing)")
    return ckpt


def check_run_folder(out: Path, resume: bool) -> Path | None:
    """The checkpoint to resume from (``None`` for a fresh run), after removing partial files.

    With ``resume``: the complete checkpoint with the highest step (``last.ckpt``, or a ``best-*.ckpt``
    written after it when a kill came between the two); a run stopped before its first checkpoint
    (``config.yaml`` but no checkpoint) starts again from step 0.

    Raises:
        ConfigError: a fresh run would overwrite an existing one, or ``resume`` finds no run.
        CheckpointError: a checkpoint is truncated or not ours (see :func:`read_checkpoint`).
    """
    ckpt_dir = out / "checkpoints"
    if is_launch_zero():  # the other processes start once rank 0 waits for them: nothing is being written
        remove_partial_files(out)
    found = (
        sorted(p for p in ckpt_dir.glob("*.ckpt") if not p.name.startswith(".")) if ckpt_dir.is_dir() else []
    )  # fmt: skip (".x.tmp.ckpt": a write in progress on another rank)
    if not resume:
        if found:
            raise ConfigError(f"{out} already holds a run ({found[-1]}); pass --resume or choose another "
                              "--out")  # fmt: skip
        return None
    if not found:
        if (out / "config.yaml").is_file():
            log.warning("%s has no complete checkpoint (stopped before the first): training from step 0", out)
            return None
        raise ConfigError(f"cannot resume: {ckpt_dir / 'last.ckpt'} not found")
    steps = {p: int(read_checkpoint(p)["global_step"]) for p in found}
    return max(found, key=lambda p: (steps[p], p.name == "last.ckpt"))


def _first_difference(was: Any, now: Any, name: str) -> str | None:
    """The dotted name of the first field where ``was`` and ``now`` differ, with both values."""
    if isinstance(was, dict) and isinstance(now, dict):
        for key in list(was) + [k for k in now if k not in was]:
            if key not in was or key not in now:
                return f"{name}{key} ({'missing in the checkpoint' if key not in was else 'not in this run'})"
            diff = _first_difference(was[key], now[key], f"{name}{key}.")
            if diff:
                return diff
        return None
    plain = lambda v: list(v) if isinstance(v, tuple | list) else v  # noqa: E731
    if plain(was) != plain(now):
        return f"{name.rstrip('.')} (checkpoint {was!r}, this run {now!r})"
    return None


def prepare_resume(out: Path, ckpt: Path, cfg: YamlConfig) -> int:
    """Check that checkpoint ``ckpt`` belongs to run ``cfg`` (same kind of run, same model config) and
    make the logs continue cleanly: rows at or after its step are dropped from the earlier
    ``metrics.csv`` files (the killed run's last rows, which the resumed run logs again). Returns its step.

    Raises:
        CheckpointError: naming ``ckpt`` and the first field that differs.
    """
    state = read_checkpoint(ckpt)
    saved, now = state[CONFIG_KEY], cfg.to_dict()
    if not isinstance(saved, dict) or set(saved) != set(now):
        missing = sorted(set(now) - set(saved)) if isinstance(saved, dict) else ["(all)"]
        field_ = (missing or sorted(set(saved) - set(now)))[0]
        raise CheckpointError(f"{ckpt}: written by another kind of run (config field {field_!r} differs)")
    diff = _first_difference(saved.get("model"), now.get("model"), "model.")
    if diff:
        raise CheckpointError(f"{ckpt}: field {diff} differs from this run's")
    step = int(state["global_step"])
    if is_launch_zero():
        for metrics in sorted((out / "logs").glob("**/metrics.csv")):
            _drop_rows_from(metrics, step)
    log.info("resuming %s from %s at step %d", out, ckpt.name, step)
    return step


def _drop_rows_from(metrics: Path, step: int) -> None:
    """Rewrite the CSV log ``metrics`` (atomically) without its rows of steps >= ``step``."""
    with open(metrics, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    if not rows or "step" not in rows[0]:
        return
    col = rows[0].index("step")
    keep = [r for r in rows[1:] if len(r) > col and r[col] and int(float(r[col])) < step]
    if len(keep) == len(rows) - 1:
        return
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows([rows[0], *keep])
    atomic_write_text(metrics, buf.getvalue())


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
    "AtomicCheckpointIO", "StepLoader", "StepSampler", "check_run_folder", "check_same_model",
    "cosine_lr_factor", "is_launch_zero", "make_trainer", "prepare_resume", "read_checkpoint",
    "remove_partial_files", "rng_state", "seed_everything", "set_rng_state",
]  # fmt: skip
