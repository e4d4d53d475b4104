"""Lightning glue for tokenizer training: the ``LightningModule``, an atomic checkpoint writer, the Trainer.

This is the only module of motiongpt that imports ``lightning``; the model is a plain ``nn.Module``
(``MotionTokenizer``) and ``train.py`` calls ``make_trainer`` / ``LitTokenizer`` from here.
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
from motiongpt.motion.features import features_to_joints
from motiongpt.tokenizer.config import TrainConfig
from motiongpt.tokenizer.model import MotionTokenizer
from motiongpt.tokenizer.quantizer import perplexity

log = logging.getLogger(__name__)


def cosine_lr_factor(step: int, cfg: TrainConfig) -> float:
    """Multiplier of ``cfg.lr`` at ``step``: linear warm-up, then cosine from 1 down to ``lr_min / lr``."""
    if step < cfg.warmup_steps:
        return (step + 1) / cfg.warmup_steps
    span = max(1, cfg.max_steps - cfg.warmup_steps)
    progress = min(1.0, (step - cfg.warmup_steps) / span)
    floor = cfg.lr_min / cfg.lr
    return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))


def _rng_state() -> dict[str, Any]:
    """RNG states as tensors, ints and strings only, so ``torch.load(weights_only=True)`` accepts them."""
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


def _set_rng_state(state: dict[str, Any]) -> None:
    version, py_state, gauss = state["python"]
    random.setstate((version, tuple(int(v) for v in py_state.tolist()), gauss))
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch (and dataloader workers, through Lightning's worker init)."""
    L.seed_everything(seed, workers=True, verbose=False)


class LitTokenizer(L.LightningModule):
    """Trains a ``MotionTokenizer`` on batches of normalised windows ``(B, T, F)``.

    Validation logs ``val/loss``, ``val/mpjpe_mm`` (root-aligned, on joints from the denormalised
    features), ``val/usage`` (fraction of codes used on the validation windows) and ``val/perplexity``.
    """

    def __init__(self, cfg: TrainConfig, model: MotionTokenizer) -> None:
        super().__init__()
        self.cfg = cfg
        self.model = model
        self.train_losses: list[float] = []  # this process's per-step training losses
        self._val_indices: list[torch.Tensor] = []
        self._val_err_sum = 0.0
        self._val_err_count = 0

    def training_step(self, batch: torch.Tensor, batch_idx: int) -> torch.Tensor:
        out = self.model(batch)
        self.train_losses.append(float(out.loss.detach()))
        self.log("train/loss", out.loss, prog_bar=True)
        self.log_dict(
            {
                "train/recon": out.recon_loss,
                "train/vel": out.vel_loss,
                "train/commit": out.commit_loss,
                "train/perplexity": out.perplexity,
                "train/active_codes": (self.model.quantizer.usage_counts >= 1.0).sum().float(),
            }
        )
        return out.loss

    def on_validation_epoch_start(self) -> None:
        self._val_indices, self._val_err_sum, self._val_err_count = [], 0.0, 0

    def validation_step(self, batch: torch.Tensor, batch_idx: int) -> None:
        out = self.model(batch)
        self.log("val/loss", out.loss, sync_dist=True)
        self.log("val/recon", out.recon_loss, sync_dist=True)
        pred = features_to_joints(self.model.denormalize(out.recon.float()))  # (B, T, 22, 3)
        gt = features_to_joints(self.model.denormalize(batch[:, : out.recon.shape[1]].float()))
        pred, gt = pred - pred[..., :1, :], gt - gt[..., :1, :]  # root-aligned
        err = torch.linalg.vector_norm(pred - gt, dim=-1)  # (B, T, 22) metres
        self._val_err_sum += float(err.sum()) * 1000.0
        self._val_err_count += err.numel()
        self._val_indices.append(out.indices.detach().reshape(-1).cpu())

    def on_validation_epoch_end(self) -> None:
        if not self._val_indices:
            return
        indices = torch.cat(self._val_indices)
        k = self.model.cfg.codebook_size
        metrics = {
            "val/mpjpe_mm": self._val_err_sum / max(1, self._val_err_count),
            "val/usage": torch.unique(indices).numel() / k,
            "val/perplexity": float(perplexity(indices, k)),
        }
        self.log_dict({name: float(v) for name, v in metrics.items()}, prog_bar=False)
        if self.trainer.is_global_zero and not self.trainer.sanity_checking:
            log.info(
                "step %d: val/mpjpe_mm %.1f  val/usage %.3f  val/perplexity %.1f  val/loss %.4f",
                self.global_step, metrics["val/mpjpe_mm"], metrics["val/usage"], metrics["val/perplexity"],
                float(self.trainer.callback_metrics.get("val/loss", float("nan"))),
            )  # fmt: skip

    def configure_optimizers(self) -> dict[str, Any]:
        cfg = self.cfg
        opt = torch.optim.AdamW(
            self.model.parameters(), lr=cfg.lr, betas=cfg.betas, weight_decay=cfg.weight_decay
        )
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: cosine_lr_factor(step, cfg))
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["motiongpt_rng"] = _rng_state()
        checkpoint["motiongpt_config"] = self.cfg.to_dict()

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        if "motiongpt_rng" in checkpoint:
            _set_rng_state(checkpoint["motiongpt_rng"])


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning's ``torch.save`` checkpoints, written to a temporary file and renamed into place."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Any = None) -> None:
        with atomic_path(path) as tmp:
            super().save_checkpoint(checkpoint, tmp, storage_options)


def make_trainer(
    cfg: TrainConfig,
    out: Path,
    accelerator: str = "auto",
    devices: int | str = "auto",
    progress_bar: bool = True,
) -> L.Trainer:
    """The Trainer of a tokenizer run in ``out``: checkpoints in ``out/checkpoints`` (``last.ckpt`` and the
    best by ``val/mpjpe_mm``), CSV logs in ``out/logs/version_*``, validation every ``cfg.val_every``
    steps."""
    callbacks: list[L.Callback] = [
        ModelCheckpoint(
            dirpath=out / "checkpoints",
            filename="best-{step}",
            monitor="val/mpjpe_mm",
            mode="min",
            save_top_k=1,
            save_last=True,
            auto_insert_metric_name=False,
        ),
        LearningRateMonitor(logging_interval="step"),
    ]
    if progress_bar:
        callbacks.append(TQDMProgressBar(refresh_rate=cfg.log_every))
    return L.Trainer(
        accelerator=accelerator,
        devices=devices,
        precision=cfg.precision,  # type: ignore[arg-type]
        max_steps=cfg.max_steps,
        max_epochs=-1,
        val_check_interval=cfg.val_every,
        check_val_every_n_epoch=None,
        num_sanity_val_steps=0,
        gradient_clip_val=cfg.grad_clip or None,
        log_every_n_steps=cfg.log_every,
        callbacks=callbacks,
        logger=CSVLogger(out, name="logs"),  # logs/version_{i}/metrics.csv, one per (resumed) run
        plugins=[AtomicCheckpointIO()],
        enable_progress_bar=progress_bar,
        enable_model_summary=False,
        default_root_dir=out,
    )


__all__ = ["AtomicCheckpointIO", "LitTokenizer", "cosine_lr_factor", "make_trainer", "seed_everything"]
