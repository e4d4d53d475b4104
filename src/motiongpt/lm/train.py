"""``train_lm(cfg, data, tokens, out)``: stages 2 (pretraining) and 3 (instruction tuning) of the LM.

Stage 2 (``configs/lm/pretrain.yaml``) mixes, by the ratios in ``cfg.mixture``: paired tasks with their
canonical templates (``t2m``, ``m2t``, ``pred``), motion-only token sequences (``motion_lm``) and
text-only motion descriptions (``text_lm``: CMU descriptions from ``text_source`` plus the corpus's
non-templated captions). Unlike MotionGPT's released code, the unsupervised part is on: next-token
prediction for decoder-only models, T5 span corruption when the tokenizer has ``<extra_id_*>`` sentinels.
Stage 3 (``configs/lm/instruct.yaml``) mixes every instruction task with random templates.

A run folder ``out`` holds ``config.yaml`` (the ``LMTrainConfig``, with the model config actually used),
``run.yaml`` (the data paths and ``init``), ``checkpoints/last.ckpt`` (trainable parameters, optimiser,
scheduler, step and RNG state, for ``resume=True``), ``checkpoints/best-{step}.ckpt`` (lowest
``val/loss``), ``logs/metrics.csv`` and, at the end, ``lm/`` (``MotionLanguageModel.save_pretrained``)
and ``motiongpt/`` (the ``MotionGPT`` bundle, when a motion tokenizer is known).
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import os
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import torch
import yaml
from torch.utils.data import DataLoader, Dataset

from motiongpt._io import atomic_write_text
from motiongpt.config import YamlConfig, check_choice, check_numbers, preset
from motiongpt.data.captions import mirror_caption, mirror_label
from motiongpt.data.humanml3d import read_token_clips
from motiongpt.data.instructions import fill, load_instructions
from motiongpt.data.manifest import read_manifest
from motiongpt.data.tasks import TASKS
from motiongpt.errors import CheckpointError, ConfigError, CorpusError
from motiongpt.lm.collate import LMCollator
from motiongpt.lm.config import LMConfig
from motiongpt.lm.model import MotionLanguageModel
from motiongpt.lm.tasks import TaskBuilder, TaskSampler, TokenClip, read_text_source
from motiongpt.motion.skeleton import MAX_FRAMES

if TYPE_CHECKING:
    from motiongpt.lm.pipeline import PipelineConfig

log = logging.getLogger(__name__)

Stage = Literal["pretrain", "instruct"]
Objective = Literal["auto", "next_token", "span_corruption"]

def stage_config(stage: Stage) -> Path:
    """The preset of ``stage`` as installed with the package: ``configs/lm/{stage}.yaml`` of the repository
    (``motiongpt/configs/lm/`` links to it, so a checkout and a wheel read the same file)."""
    check_choice("stage", stage, Stage)
    return preset(f"lm/{stage}.yaml")


@functools.cache
def _preset_mixture(path: Path) -> tuple[tuple[str, float], ...]:
    data = yaml.safe_load(path.read_text(encoding="utf-8")) if path.is_file() else None
    if not isinstance(data, dict) or not isinstance(data.get("mixture"), dict):
        raise ConfigError(f"{path}: the packaged preset with the default mixture is missing or has none")
    return tuple(data["mixture"].items())


def _default_mixture() -> dict[str, float]:
    """``LMTrainConfig``'s default ``mixture``: that of the instruct preset (mixtures live only in YAML)."""
    return dict(_preset_mixture(stage_config("instruct")))


@dataclass(frozen=True)
class LMTrainConfig(YamlConfig):
    """A language-model training run (stage 2 or 3).

    ``mixture`` maps task names (see ``motiongpt.data.tasks``) to sampling ratios; tasks the data cannot
    build are left out with a warning. Its default is the mixture of ``configs/lm/instruct.yaml``
    (:func:`stage_config`). ``canonical_templates`` uses each task's first prompt and answer
    (stage 2). ``templates`` is a folder of instruction YAML files ("" = the packaged set).
    """

    stage: Stage = "instruct"
    model: LMConfig = field(default_factory=LMConfig)
    mixture: dict[str, float] = field(default_factory=_default_mixture)
    canonical_templates: bool = False
    templates: str = ""
    motion_objective: Objective = "auto"  # auto: span corruption for T5 with sentinels, else next-token
    batch_size: int = 16
    accumulate: int = 1  # gradient accumulation (batches per optimiser step)
    max_steps: int = 2000  # optimiser steps
    lr: float = 1e-4
    lr_min: float = 1e-6
    warmup_steps: int = 100
    betas: tuple[float, float] = (0.9, 0.999)
    weight_decay: float = 0.0
    embedding_lr_scale: float = 1.0  # lr multiplier of the token embeddings (in effect: the new rows)
    uncond_rate: float = 0.0  # share of t2m examples with the caption dropped (classifier-free guidance)
    caption_variety: float = 0.0  # share of t2m captions of labelled clips drawn in wider wording
    action_balance: float = 0.0  # clips drawn with weight (clips of their action) ** -action_balance
    grad_clip: float = 1.0  # 0 = off
    max_length: int = 256  # tokens per example (MotionGPT pads prompts and targets to 256)
    length_group: int = 1  # > 1: sort the examples of that many steps by length (less padding)
    mirror: bool = False  # add the left/right mirrored train clips (motiongpt tokenize --mirror)
    min_frames: int = 40  # corpus length filter, as in HumanML3D
    max_frames: int = MAX_FRAMES
    val_every: int = 250  # optimiser steps between validations (and checkpoints)
    val_examples: int = 256  # teacher-forced validation examples (loss, motion token accuracy)
    val_captions: int = 64  # val clips captioned greedily for BLEU-4 (0 = off)
    log_every: int = 10
    seed: int = 1234
    num_workers: int = 0
    num_threads: int = 0  # torch intra-op threads on CPU; 0 = torch's default
    precision: str = "32-true"  # Lightning precision, e.g. "bf16-mixed" on a GPU

    def __post_init__(self) -> None:
        check_choice("stage", self.stage, Stage)
        check_choice("motion_objective", self.motion_objective, Objective)
        if not isinstance(self.model, LMConfig):
            raise ConfigError(f"model must be an LMConfig mapping, got {type(self.model).__name__}")
        floats = ("lr", "lr_min", "weight_decay", "grad_clip", "embedding_lr_scale", "uncond_rate",
                  "caption_variety", "action_balance")  # fmt: skip
        positive = ("batch_size", "accumulate", "max_steps", "max_length", "length_group", "min_frames",
                    "max_frames",
                    "val_every", "val_examples", "log_every")  # fmt: skip
        non_negative = ("warmup_steps", "val_captions", "seed", "num_workers", "num_threads")
        check_numbers(
            self, positive + non_negative, floats,
            positive=("lr", "embedding_lr_scale", *positive),
            non_negative=("lr_min", "weight_decay", "grad_clip", "uncond_rate", "caption_variety",
                          "action_balance", *non_negative),
        )  # fmt: skip
        if self.uncond_rate >= 1:
            raise ConfigError(f"uncond_rate must be < 1, got {self.uncond_rate}")
        for name in ("caption_variety", "action_balance"):
            if getattr(self, name) > 1:
                raise ConfigError(f"{name} must be <= 1, got {getattr(self, name)}")
        if self.lr_min > self.lr:
            raise ConfigError(f"lr_min must be <= lr={self.lr}, got {self.lr_min}")
        if self.min_frames > self.max_frames:
            raise ConfigError(f"min_frames must be <= max_frames, got {self.min_frames} > {self.max_frames}")
        betas = tuple(float(b) for b in self.betas)
        if len(betas) != 2 or not all(0.0 <= b < 1.0 for b in betas):
            raise ConfigError(f"betas must be two numbers in [0, 1), got {self.betas}")
        object.__setattr__(self, "betas", betas)
        if not isinstance(self.mixture, dict) or not self.mixture:
            raise ConfigError(f"mixture must map task names to ratios, got {self.mixture!r}")
        known = set(TASKS)
        unknown = sorted(set(self.mixture) - known)
        if unknown:
            raise ConfigError(f"mixture has unknown tasks {unknown}; known: {sorted(known)}")
        ratios = {}
        for task, ratio in self.mixture.items():
            if isinstance(ratio, bool) or not isinstance(ratio, int | float) or ratio < 0:
                raise ConfigError(f"mixture.{task} must be a number >= 0, got {ratio!r}")
            ratios[task] = float(ratio)
        if not any(ratios.values()):
            raise ConfigError("mixture: at least one ratio must be > 0")
        object.__setattr__(self, "mixture", ratios)


# --- data ---------------------------------------------------------------------------------------------
class LengthGrouped(Dataset):
    """``dataset`` reordered so that a batch holds examples of similar length (less padding).

    Items are taken in groups of ``group`` batches of ``batch`` items; inside a group they are sorted by
    ``length_of`` and the batches then shuffled (seeded by the group). Item ``i`` still depends only on
    ``i``, so a resumed run sees the same batches, and every item of the group is used once.
    """

    def __init__(self, dataset: Any, batch: int, group: int, length_of: Any, seed: int = 0) -> None:
        self.dataset, self.batch, self.size = dataset, batch, batch * group
        self.length_of, self.seed = length_of, seed
        self._cached: tuple[int, list[int]] = (-1, [])

    def __len__(self) -> int:
        return len(self.dataset)

    def _order(self, g: int) -> list[int]:
        if self._cached[0] != g:
            start, stop = g * self.size, min(len(self.dataset), (g + 1) * self.size)
            items = sorted(range(start, stop), key=lambda i: self.length_of(self.dataset[i]))
            batches = [items[k : k + self.batch] for k in range(0, len(items), self.batch)]
            random.Random(self.seed * 1_000_003 + g).shuffle(batches)
            self._cached = (g, [i for b in batches for i in b])
        return self._cached[1]

    def __getitem__(self, i: int) -> Any:
        g, k = divmod(i, self.size)
        return self.dataset[self._order(g)[k]]


def load_clips(
    data: str | os.PathLike, tokens: str | os.PathLike, split: str, cfg: LMTrainConfig
) -> list[TokenClip]:
    """The clips of one split with their motion tokens (``{tokens}/{split}.npz``) and labels; reads the
    corpus's texts and split lists only, not its feature files. With ``cfg.mirror`` the train split also
    holds the mirrored clips of ``{tokens}/train.mirror.npz`` (``motiongpt tokenize --mirror``), named
    ``M{name}``, with "left" and "right" swapped in their captions and labels."""
    from motiongpt.tokenizer.tokenize import MIRROR

    clips = _read_clips(data, Path(tokens) / f"{split}.npz", split, cfg)
    if cfg.mirror and split == "train":
        mirrored = _read_clips(data, Path(tokens) / f"{MIRROR}.npz", split, cfg)
        clips += [
            dataclasses.replace(c, name=f"M{c.name}", content=mirror_label(c.content),
                                captions=tuple(mirror_caption(t) for t in c.captions))
            for c in mirrored
        ]  # fmt: skip
    return clips


def _read_clips(data: str | os.PathLike, path: Path, split: str, cfg: LMTrainConfig) -> list[TokenClip]:
    from motiongpt.tokenizer.tokenize import MIRROR, load_tokens, read_frames_per_token

    if not path.is_file():
        how = "motiongpt tokenize --mirror" if path.name.startswith(MIRROR) else "motiongpt tokenize"
        raise CorpusError(f"token file not found: {path} (write it with `{how}`)")
    with np.load(path, allow_pickle=False) as z:
        k = int(z["codebook_size"]) if "codebook_size" in z else None
    if k is not None and k != cfg.model.codebook_size:
        raise ConfigError(f"{path} holds tokens of a {k}-code tokenizer but the LM has codebook_size="
                          f"{cfg.model.codebook_size}")  # fmt: skip
    return read_token_clips(data, split, load_tokens(path), cfg.min_frames, cfg.max_frames,
                            frames_per_token=read_frames_per_token(path))


def sentinel_tokens(tokenizer: Any, n: int = 100) -> list[str]:
    """T5's ``<extra_id_0>``... tokens if the tokenizer has them (else ``[]``)."""
    names = [f"<extra_id_{i}>" for i in range(n)]
    ids = tokenizer.convert_tokens_to_ids(names)
    unk = tokenizer.unk_token_id
    return names if all(i is not None and i != unk for i in ids) else []


def _sentinels(model: MotionLanguageModel, objective: str) -> list[str]:
    found = sentinel_tokens(model.tokenizer)
    if objective == "next_token" or (objective == "auto" and not model.is_encoder_decoder):
        return []
    if not found:
        if objective == "span_corruption":
            raise ConfigError(
                "motion_objective=span_corruption needs a tokenizer with <extra_id_*> sentinels"
            )
        return []
    return found


def caption_prompts(
    builder: TaskBuilder, clips: list[TokenClip], n: int
) -> list[tuple[str, tuple[str, ...]]]:
    """``(canonical m2t prompt, all captions)`` for up to ``n`` clips spread over ``clips``."""
    if n <= 0 or not clips:
        return []
    picks = dict.fromkeys(int(j) for j in np.linspace(0, len(clips) - 1, min(n, len(clips))))
    template = builder.templates["m2t"].prompts[0]
    return [(fill(template, {"Motion": builder.vocab.motion_to_text(clips[i].tokens)}), clips[i].captions)
            for i in picks]  # fmt: skip


# --- the run ------------------------------------------------------------------------------------------
@dataclass
class LMTrainResult:
    lm_dir: Path  # the exported MotionLanguageModel folder
    bundle_dir: Path | None  # the exported MotionGPT bundle (None without a motion tokenizer)
    last_checkpoint: Path
    global_step: int
    train_losses: list[float] = field(default_factory=list)  # per step, this process only
    metrics: dict[str, float] = field(default_factory=dict)  # last logged values
    rank: int = 0  # this process's global rank (only rank 0 writes files and prints)


def _load_init(init: Path) -> tuple[MotionLanguageModel, Path | None, PipelineConfig | None]:
    """The model to start from: an LM folder, or a MotionGPT bundle (its LM, its tokenizer folder and its
    sampling settings, a ``PipelineConfig``; None for an LM folder)."""
    from motiongpt.lm.pipeline import PipelineConfig

    sampling = None
    if (init / "lm").is_dir() and (init / "tokenizer").is_dir():  # a MotionGPT bundle
        lm_dir, tok_dir = init / "lm", init / "tokenizer"
        sampling = PipelineConfig.from_bundle(init)
    else:
        lm_dir, tok_dir = init, None
    model = MotionLanguageModel.from_pretrained(lm_dir)
    return model.train(), tok_dir, sampling


def _find_tokenizer(tokens: Path, given: str | os.PathLike | None) -> Path | None:
    if given is not None:
        return Path(given)
    cand = tokens.parent  # `motiongpt tokenize` writes TOKENIZER_DIR/tokens by default
    return cand if (cand / "config.yaml").is_file() and any(cand.glob("*.safetensors")) else None


def _check_resume(out: Path, cfg: LMTrainConfig, run: dict[str, Any]) -> None:
    from motiongpt.training import check_same_model  # lightning lives there

    saved_cfg, saved_run = out / "config.yaml", out / "run.yaml"
    if saved_run.is_file():
        before = yaml.safe_load(saved_run.read_text(encoding="utf-8")) or {}
        if before.get("init") != run["init"]:
            raise ConfigError(f"cannot resume {out}: it started from init={before.get('init')!r}, "
                              f"not {run['init']!r}")  # fmt: skip
    if saved_cfg.is_file() and run["init"] is None:
        check_same_model(out, LMTrainConfig.from_yaml(saved_cfg).model, cfg.model)


def train_lm(
    cfg: LMTrainConfig,
    data: str | os.PathLike,
    tokens: str | os.PathLike,
    out: str | os.PathLike,
    *,
    init: str | os.PathLike | None = None,
    tokenizer: str | os.PathLike | None = None,
    text_source: str | os.PathLike | None = None,
    resume: bool = False,
    accelerator: str = "auto",
    devices: int | str = "auto",
    num_nodes: int = 1,
    progress_bar: bool = True,
    callbacks: Sequence[Any] = (),
) -> LMTrainResult:
    """Train the language model on corpus ``data`` with motion tokens from ``tokens``; write to ``out``.

    Args:
        cfg: the run (``LMTrainConfig.from_yaml("configs/lm/instruct.yaml")``).
        data: a HumanML3D-format corpus (train and val splits; ``corpus.json`` labels if present).
        tokens: the folder of ``{split}.npz`` token files written by ``motiongpt tokenize``.
        out: the run folder (created). Refuses to overwrite a run unless ``resume``.
        init: start from this LM folder or MotionGPT bundle (the previous stage) instead of
            ``cfg.model``'s backbone; the model config then comes from it, and from a bundle also the
            sampling settings of the exported bundle (guidance, temperature, ...).
        tokenizer: the motion tokenizer folder to put in the exported bundle (default: the parent of
            ``tokens`` when it is one, else the bundle of ``init``).
        text_source: ``CMU data.csv`` or the shared data folder, for text-only data (stage 2) and the
            ``t2t_steps``/``t2t_count`` tasks; without it only the corpus's CMU descriptions are used.
        resume: continue from the newest complete checkpoint in ``out/checkpoints`` at its step, on
            exactly the examples an uninterrupted run would have used from there.
        accelerator, devices, num_nodes: passed to the Lightning Trainer (more than one process: DDP, and
            ``cfg.batch_size`` is per process).
        progress_bar: show a progress bar.
        callbacks: extra Lightning callbacks (e.g. ``benchmarks/learning_curve.py``'s evaluation probe).
    """
    from motiongpt.lm.lit import LitLM  # lightning lives there
    from motiongpt.training import (
        StepLoader,
        StepSampler,
        check_run_folder,
        is_launch_zero,
        make_trainer,
        prepare_resume,
        quiet_other_ranks,
        seed_everything,
    )  # fmt: skip

    quiet_other_ranks()
    out, tokens = Path(out), Path(tokens)
    run = {"data": str(data), "tokens": str(tokens), "init": str(init) if init else None,
           "text_source": str(text_source) if text_source else None}  # fmt: skip
    ckpt = check_run_folder(out, resume)
    if resume and ckpt is not None:
        _check_resume(out, cfg, run)
    if cfg.num_threads:
        torch.set_num_threads(cfg.num_threads)
    seed_everything(cfg.seed)

    tok_dir: Path | None = None
    sampling: PipelineConfig | None = None  # the exported bundle's: init's, when init is a bundle
    if init is not None:
        model, tok_dir, sampling = _load_init(Path(init))
        if model.cfg.codebook_size != cfg.model.codebook_size:
            log.info("init %s has codebook_size %d; using it", init, model.cfg.codebook_size)
        cfg = dataclasses.replace(cfg, model=model.cfg)
    else:
        model = MotionLanguageModel(cfg.model).train()
    tok_dir = _find_tokenizer(tokens, tokenizer) or tok_dir
    if ckpt is not None:
        prepare_resume(out, ckpt, cfg)
    if is_launch_zero():
        out.mkdir(parents=True, exist_ok=True)
        cfg.to_yaml(out / "config.yaml")
        atomic_write_text(out / "run.yaml", yaml.safe_dump(run, sort_keys=False))

    templates = load_instructions(cfg.templates or None)
    manifest = read_manifest(data)
    train_clips = load_clips(data, tokens, "train", cfg)
    val_clips = load_clips(data, tokens, "val", cfg)
    if not train_clips:
        raise CorpusError(
            f"{data}: no train clip between {cfg.min_frames} and {cfg.max_frames} frames has tokens"
        )
    if text_source is not None:
        texts = read_text_source(text_source, exclude=manifest.descriptions("val", "test"))
    else:
        texts = manifest.descriptions("train")
    sentinels = _sentinels(model, cfg.motion_objective)
    from motiongpt.tokenizer.tokenize import read_frames_per_token

    fpt = read_frames_per_token(Path(tokens) / "train.npz")  # the tokenizer's: lengths in the prompts
    builder = TaskBuilder(templates, model.vocab, train_clips, texts, cfg.canonical_templates, sentinels,
                          cfg.caption_variety, fpt, cfg.action_balance)
    collate = LMCollator(model, cfg.max_length)
    trainer = make_trainer(
        out, max_steps=cfg.max_steps, val_every=cfg.val_every, monitor="val/loss", accelerator=accelerator,
        devices=devices, num_nodes=num_nodes, precision=cfg.precision, grad_clip=cfg.grad_clip,
        accumulate=cfg.accumulate,
        log_every=cfg.log_every, progress_bar=progress_bar, resume=ckpt is not None, callbacks=callbacks,
    )  # fmt: skip
    # one example stream for all processes: step s starts at item s * per_step, whatever the resume point
    sampler = StepSampler(cfg.max_steps, cfg.batch_size, cfg.accumulate, start=lambda: trainer.global_step,
                          rank=trainer.global_rank, world_size=trainer.world_size)  # fmt: skip
    per_step = sampler.per_step
    mixed = TaskSampler(builder, cfg.mixture, cfg.max_steps * per_step, cfg.seed, cfg.uncond_rate)
    train_set = mixed
    if cfg.length_group > 1:
        train_set = LengthGrouped(mixed, per_step, cfg.length_group,
                                  lambda ex: len(collate.encode(ex)["input_ids"]), cfg.seed)  # fmt: skip
    log.info("LM %s: %d train clips, %d val clips, %d texts; mixture %s; out=%s", cfg.stage, len(train_clips),
             len(val_clips), len(texts), mixed.ratios, out)  # fmt: skip
    loader = StepLoader(train_set, sampler, cfg.seed, collate_fn=collate, num_workers=cfg.num_workers)
    val_loader, prompts = None, []
    if val_clips:
        val_builder = TaskBuilder(templates, model.vocab, val_clips, (), cfg.canonical_templates, sentinels,
                                  frames_per_token=fpt)
        val_ratios = {t: r for t, r in cfg.mixture.items() if val_builder.available(t)}
        if val_ratios:
            val_set = TaskSampler(val_builder, val_ratios, cfg.val_examples, seed=cfg.seed + 1)
            val_loader = DataLoader(val_set, batch_size=cfg.batch_size, collate_fn=collate)
        prompts = caption_prompts(val_builder, val_clips, cfg.val_captions)
    else:
        log.warning("%s has no val clips with tokens: no validation", data)
    lit = LitLM(cfg, model, prompts, caption_batch_size=cfg.batch_size)
    # weights_only=True: the checkpoint holds tensors and plain data only (RNG state and config included)
    trainer.fit(lit, train_dataloaders=loader, val_dataloaders=val_loader, ckpt_path=ckpt, weights_only=True)

    last = out / "checkpoints" / "last.ckpt"
    trainer.save_checkpoint(last, weights_only=False)  # the full final state, whatever val_every is
    lm_dir, bundle_dir = out / "lm", None
    if trainer.is_global_zero:
        model.cpu().eval()
        model.save_pretrained(lm_dir)
        bundle_dir = _export_bundle(model, tok_dir, out / "motiongpt", sampling)
        log.info("exported the LM to %s (step %d)", lm_dir, trainer.global_step)
    trainer.strategy.barrier("lm-exported")  # every process returns once the exported folders exist
    metrics = {
        k: float(v) for k, v in trainer.callback_metrics.items() if torch.is_tensor(v) and v.numel() == 1
    }
    return LMTrainResult(
        lm_dir, bundle_dir, last, trainer.global_step, lit.train_losses, metrics, trainer.global_rank
    )


def _export_bundle(
    model: MotionLanguageModel, tok_dir: Path | None, target: Path, sampling: PipelineConfig | None = None
) -> Path | None:
    """``MotionGPT.save_pretrained(target)`` when the motion tokenizer is known, sampling with
    ``sampling`` (None: the default ``PipelineConfig``)."""
    if tok_dir is None:
        log.warning("no motion tokenizer known (pass --tokenizer): exported the LM only, no MotionGPT bundle")
        return None
    from motiongpt.lm.pipeline import MotionGPT
    from motiongpt.tokenizer.model import MotionTokenizer

    try:
        motion_tokenizer = MotionTokenizer.from_pretrained(tok_dir)
    except (OSError, ValueError) as e:
        raise CheckpointError(f"{tok_dir}: cannot load the motion tokenizer for the bundle: {e}") from None
    MotionGPT(lm=model, tokenizer=motion_tokenizer, cfg=sampling).save_pretrained(target)
    log.info("exported the MotionGPT bundle to %s", target)
    return target


__all__ = ["LMTrainConfig", "LMTrainResult", "stage_config", "train_lm"]
