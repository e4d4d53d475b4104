"""Lightning glue for tokenizer training: the ``LightningModule``.

With ``motiongpt.training`` (the checkpoint writer, RNG state, LR schedule and Trainer every stage shares),
the only place the tokenizer meets ``lightning``; the model is a plain ``nn.Module`` (``MotionTokenizer``)
and ``train.py`` builds the Trainer with ``motiongpt.training.make_trainer``.
"""

from __future__ import annotations

import logging
from typing import Any

import lightning as L
import torch

from motiongpt.motion.features import features_to_joints
from motiongpt.tokenizer.config import TrainConfig
from motiongpt.tokenizer.model import MotionTokenizer
from motiongpt.tokenizer.quantizer import perplexity
from motiongpt.training import CONFIG_KEY, RNG_KEY, cosine_lr_factor, rng_state, set_rng_state

log = logging.getLogger(__name__)


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

    def setup(self, stage: str) -> None:
        """Under DDP, the codebook's EMA statistics (code counts and sums) are summed over the processes,
        as one process with the whole global batch would compute them; otherwise every rank's EMA sees only
        its own share and DDP's buffer broadcast keeps rank 0's. The library's module (the quantizer builds it
        on first training use, with ``sync_codebook=False``) is built here, before DDP wraps the model."""
        vq = self.model.quantizer.ema_quantizer()  # the library's module, before DDP wraps the model
        dist = torch.distributed
        if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
            vq._codebook.all_reduce_fn = dist.all_reduce

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
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, lambda step: cosine_lr_factor(step, cfg.lr, cfg.lr_min, cfg.warmup_steps, cfg.max_steps)
        )
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint[RNG_KEY] = rng_state()
        checkpoint[CONFIG_KEY] = self.cfg.to_dict()

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        if RNG_KEY in checkpoint:
            set_rng_state(checkpoint[RNG_KEY])


__all__ = ["LitTokenizer"]
