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
from motiongpt.motion.normalizer import Normalizer
from motiongpt.tokenizer.config import TrainConfig
from motiongpt.tokenizer.model import MotionTokenizer
from motiongpt.tokenizer.tokenize import clip_lengths

log = logging.getLogger(__name__)


class RandomWindows(Dataset):
    """Item ``p``: a random ``window``-frame crop of a clip at least ``window`` frames long (shorter clips
    are skipped), normalised with ``mean``/``std``: ``(window, F)`` float32.

    ``p`` may be any position ``>= 0`` (:class:`motiongpt.training.StepSampler` hands them out): positions
    ``e*n .. e*n + n - 1`` visit the ``n`` clips once each, in an order drawn for epoch ``e``. Which clip and
    which crop depend on ``seed`` and ``p`` only, so every process, and a resumed run, draws the same item
    for the same position.
    """

    def __init__(
        self, clips: HumanML3D, window: int, mean: np.ndarray, std: np.ndarray, seed: int = 0
    ) -> None:
        self.clips, self.window, self.seed = clips, window, seed
        self.normalizer = Normalizer(mean, std)
        self.lengths = clip_lengths(clips)
        self.keep = [i for i, n in enumerate(self.lengths) if n >= window]
        self._order: tuple[int, np.ndarray] = (-1, np.zeros(0, np.int64))

    def __len__(self) -> int:
        return len(self.keep)

    def __getitem__(self, p: int) -> torch.Tensor:
        epoch, k = divmod(int(p), len(self.keep))
        if self._order[0] != epoch:
            self._order = (epoch, np.random.default_rng([self.seed, epoch]).permutation(len(self.keep)))
        idx = self.keep[int(self._order[1][k])]
        crop = np.random.default_rng([self.seed, epoch, k, 1])
        start = int(crop.integers(0, self.lengths[idx] - self.window + 1))
        feats = self.clips[idx].features[start : start + self.window]
        return torch.from_numpy(self.normalizer.normalize(feats))  # (window, F) float32


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
    return torch.from_numpy(Normalizer(mean, std).normalize(feats)).float()


@dataclass
class TrainResult:
    tokenizer_dir: Path  # the exported MotionTokenizer folder
    last_checkpoint: Path
    global_step: int
    train_losses: list[float] = field(default_factory=list)  # per step, this process only
    metrics: dict[str, float] = field(default_factory=dict)  # last logged values
    rank: int = 0  # this process's global rank (only rank 0 writes files and prints)


def train_tokenizer(
    cfg: TrainConfig,
    data: str | os.PathLike,
    out: str | os.PathLike,
    *,
    resume: bool = False,
    accelerator: str = "auto",
    devices: int | str = "auto",
    num_nodes: int = 1,
    progress_bar: bool = True,
) -> TrainResult:
    """Train a ``MotionTokenizer`` on the HumanML3D-format corpus ``data``; write the run to ``out``.

    Args:
        cfg: the run (``TrainConfig.from_yaml("configs/tokenizer/small.yaml")``).
        data: a HumanML3D-format folder (train/val splits and ``Mean.npy``/``Std.npy`` are used).
        out: the run folder (created). Refuses to overwrite a run unless ``resume``.
        resume: continue from the newest complete checkpoint in ``out/checkpoints`` at its step (same model
            config required), on exactly the data an uninterrupted run would have used from there.
        accelerator, devices, num_nodes: passed to the Lightning Trainer (more than one process: DDP, and
            ``cfg.batch_size`` is per process).
        progress_bar: show a tqdm progress bar (refreshed every ``cfg.log_every`` steps).

    Returns:
        ``TrainResult`` with the exported ``tokenizer_dir`` (``out/tokenizer``), the step reached and losses.
    """
    from motiongpt._io import atomic_dir
    from motiongpt.tokenizer.lit import LitTokenizer  # lightning lives there
    from motiongpt.training import (
        StepLoader,
        StepSampler,
        check_run_folder,
        check_same_model,
        is_launch_zero,
        make_trainer,
        prepare_resume,
        quiet_other_ranks,
        seed_everything,
    )  # fmt: skip

    out = Path(out)
    quiet_other_ranks()
    ckpt = check_run_folder(out, resume)
    if resume and (out / "config.yaml").is_file():
        check_same_model(out, TrainConfig.from_yaml(out / "config.yaml").model, cfg.model)
    if ckpt is not None:
        prepare_resume(out, ckpt, cfg)
    if is_launch_zero():
        out.mkdir(parents=True, exist_ok=True)
        cfg.to_yaml(out / "config.yaml")
    if cfg.num_threads:
        torch.set_num_threads(cfg.num_threads)
    seed_everything(cfg.seed)

    train = HumanML3D(data, "train", cfg.min_frames, cfg.max_frames)
    val = HumanML3D(data, "val", cfg.min_frames, cfg.max_frames)
    mean, std = train.normalizer.mean, train.normalizer.std
    train_ds = RandomWindows(train, cfg.window, mean, std, seed=cfg.seed)
    if len(train_ds) == 0:
        raise CorpusError(f"{data}: no training clip has at least window={cfg.window} frames")
    val_x = first_windows(val, cfg.window, cfg.val_clips, mean, std)
    log.info("tokenizer training: %d train clips, %d val windows, out=%s", len(train_ds), len(val_x), out)

    val_loader = DataLoader(val_x, batch_size=cfg.batch_size)

    model = MotionTokenizer(cfg.model, mean=mean, std=std)
    lit = LitTokenizer(cfg, model)
    trainer = make_trainer(
        out, max_steps=cfg.max_steps, val_every=cfg.val_every, monitor="val/mpjpe_mm",
        accelerator=accelerator, devices=devices, num_nodes=num_nodes, precision=cfg.precision,
        grad_clip=cfg.grad_clip, log_every=cfg.log_every, progress_bar=progress_bar, resume=ckpt is not None,
    )  # fmt: skip
    sampler = StepSampler(cfg.max_steps, cfg.batch_size, start=lambda: trainer.global_step,
                          rank=trainer.global_rank, world_size=trainer.world_size)  # fmt: skip
    loader = StepLoader(train_ds, sampler, cfg.seed, num_workers=cfg.num_workers,
                        persistent_workers=cfg.num_workers > 0)  # fmt: skip
    # weights_only=True: the checkpoint holds tensors and plain data only (RNG state included)
    trainer.fit(lit, train_dataloaders=loader, val_dataloaders=val_loader, ckpt_path=ckpt, weights_only=True)

    last = out / "checkpoints" / "last.ckpt"
    trainer.save_checkpoint(last, weights_only=False)  # the full final state, whatever val_every is
    tokenizer_dir = out / "tokenizer"
    if trainer.is_global_zero:
        with atomic_dir(tokenizer_dir) as tmp:  # a kill here leaves the previous export, or none
            model.cpu().save_pretrained(tmp)
        log.info("exported tokenizer to %s (step %d)", tokenizer_dir, trainer.global_step)
    metrics = {
        k: float(v) for k, v in trainer.callback_metrics.items() if torch.is_tensor(v) and v.numel() == 1
    }
    step, rank = trainer.global_step, trainer.global_rank
    return TrainResult(tokenizer_dir, last, step, lit.train_losses, metrics, rank)


__all__ = ["RandomWindows", "TrainResult", "train_tokenizer"]
