"""``train_tokenizer(cfg, data, out)``: stage 1, the VQ-VAE, trained on random windows of a corpus.

A run folder ``out`` holds ``config.yaml`` (the ``TrainConfig``), ``checkpoints/last.ckpt`` (full
optimiser/scheduler/step/RNG state, for ``resume=True``), ``checkpoints/best-{step}.ckpt`` (lowest
validation MPJPE), ``logs/metrics.csv`` (``logs/resume-{i}/metrics.csv`` for a resumed run) and, at the end,
the exported ``tokenizer/`` folder (``MotionTokenizer.save_pretrained``: safetensors + config.yaml).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from motiongpt.data.humanml3d import HumanML3D
from motiongpt.errors import CorpusError
from motiongpt.tokenizer.config import TrainConfig
from motiongpt.tokenizer.model import MotionTokenizer
from motiongpt.tokenizer.tokenize import clip_lengths

log = logging.getLogger(__name__)


class RandomWindows(Dataset):
    """Item ``i``: a random ``window``-frame crop of clip ``i`` (clips shorter than ``window`` are skipped),
    normalised with ``mean``/``std``: ``(window, F)`` float32. Crops use torch's RNG (seeded by the run)."""

    def __init__(self, clips: HumanML3D, window: int, mean: np.ndarray, std: np.ndarray) -> None:
        self.clips, self.window = clips, window
        self.mean, self.std = np.asarray(mean, np.float32), np.asarray(std, np.float32)
        self.lengths = clip_lengths(clips)
        self.keep = [i for i, n in enumerate(self.lengths) if n >= window]

    def __len__(self) -> int:
        return len(self.keep)

    def __getitem__(self, i: int) -> torch.Tensor:
        idx = self.keep[i]
        start = int(torch.randint(0, self.lengths[idx] - self.window + 1, ()))
        feats = self.clips[idx].features[start : start + self.window]
        return torch.from_numpy((feats - self.mean) / self.std)  # (window, F)


def first_windows(
    clips: HumanML3D, window: int, limit: int, mean: np.ndarray, std: np.ndarray
) -> torch.Tensor:
    """The first ``window`` frames of up to ``limit`` clips that long, spread evenly over the split,
    normalised: ``(M, window, F)`` — a fixed validation set."""
    lengths = clip_lengths(clips)
    eligible = [i for i, n in enumerate(lengths) if n >= window]
    if not eligible:
        raise CorpusError(f"{clips!r}: no clip has at least window={window} frames")
    picks = [eligible[int(j)] for j in np.linspace(0, len(eligible) - 1, min(limit, len(eligible)))]
    feats = np.stack([clips[i].features[:window] for i in dict.fromkeys(picks)])
    return torch.from_numpy((feats - np.float32(mean)) / np.float32(std)).float()


@dataclass
class TrainResult:
    tokenizer_dir: Path  # the exported MotionTokenizer folder
    last_checkpoint: Path
    global_step: int
    train_losses: list[float] = field(default_factory=list)  # per step, this process only
    metrics: dict[str, float] = field(default_factory=dict)  # last logged values


def train_tokenizer(
    cfg: TrainConfig,
    data: str | os.PathLike,
    out: str | os.PathLike,
    *,
    resume: bool = False,
    accelerator: str = "auto",
    devices: int | str = "auto",
    progress_bar: bool = True,
) -> TrainResult:
    """Train a ``MotionTokenizer`` on the HumanML3D-format corpus ``data``; write the run to ``out``.

    Args:
        cfg: the run (``TrainConfig.from_yaml("configs/tokenizer/small.yaml")``).
        data: a HumanML3D-format folder (train/val splits and ``Mean.npy``/``Std.npy`` are used).
        out: the run folder (created). Refuses to overwrite a run unless ``resume``.
        resume: continue from ``out/checkpoints/last.ckpt`` at its step (same model config required).
        accelerator, devices: passed to the Lightning Trainer.
        progress_bar: show a tqdm progress bar (refreshed every ``cfg.log_every`` steps).

    Returns:
        ``TrainResult`` with the exported ``tokenizer_dir`` (``out/tokenizer``), the step reached and losses.
    """
    from motiongpt.tokenizer.lit import LitTokenizer  # lightning lives there
    from motiongpt.training import check_run_folder, check_same_model, make_trainer, seed_everything

    out = Path(out)
    ckpt = check_run_folder(out, resume)
    if resume and (out / "config.yaml").is_file():
        check_same_model(out, TrainConfig.from_yaml(out / "config.yaml").model, cfg.model)
    out.mkdir(parents=True, exist_ok=True)
    cfg.to_yaml(out / "config.yaml")
    if cfg.num_threads:
        torch.set_num_threads(cfg.num_threads)
    seed_everything(cfg.seed)

    train = HumanML3D(data, "train", cfg.min_frames, cfg.max_frames)
    val = HumanML3D(data, "val", cfg.min_frames, cfg.max_frames)
    mean, std = train.normalizer.mean, train.normalizer.std
    train_ds = RandomWindows(train, cfg.window, mean, std)
    if len(train_ds) == 0:
        raise CorpusError(f"{data}: no training clip has at least window={cfg.window} frames")
    val_x = first_windows(val, cfg.window, cfg.val_clips, mean, std)
    log.info("tokenizer training: %d train clips, %d val windows, out=%s", len(train_ds), len(val_x), out)

    loader = DataLoader(
        train_ds,
        batch_size=cfg.batch_size,
        shuffle=True,
        drop_last=len(train_ds) >= cfg.batch_size,
        num_workers=cfg.num_workers,
        persistent_workers=cfg.num_workers > 0,
    )
    val_loader = DataLoader(val_x, batch_size=cfg.batch_size)

    model = MotionTokenizer(cfg.model, mean=mean, std=std)
    lit = LitTokenizer(cfg, model)
    trainer = make_trainer(
        out, max_steps=cfg.max_steps, val_every=cfg.val_every, monitor="val/mpjpe_mm",
        accelerator=accelerator, devices=devices, precision=cfg.precision, grad_clip=cfg.grad_clip,
        log_every=cfg.log_every, progress_bar=progress_bar, resume=resume,
    )  # fmt: skip
    # weights_only=True: the checkpoint holds tensors and plain data only (RNG state included)
    trainer.fit(lit, train_dataloaders=loader, val_dataloaders=val_loader, ckpt_path=ckpt, weights_only=True)

    last = out / "checkpoints" / "last.ckpt"
    trainer.save_checkpoint(last, weights_only=False)  # the full final state, whatever val_every is
    tokenizer_dir = out / "tokenizer"
    if trainer.is_global_zero:
        model.cpu().save_pretrained(tokenizer_dir)
        log.info("exported tokenizer to %s (step %d)", tokenizer_dir, trainer.global_step)
    metrics = {
        k: float(v) for k, v in trainer.callback_metrics.items() if torch.is_tensor(v) and v.numel() == 1
    }
    return TrainResult(tokenizer_dir, last, trainer.global_step, lit.train_losses, metrics)


__all__ = ["RandomWindows", "TrainResult", "train_tokenizer"]
