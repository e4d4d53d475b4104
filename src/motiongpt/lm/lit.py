"""Lightning glue for language-model training (stages 2 and 3); the only module of ``lm/`` that imports
``lightning``. The model is a plain ``MotionLanguageModel``; ``train.py`` builds :class:`LitLM` and the
Trainer (``motiongpt.training.make_trainer``).

Validation logs ``val/loss`` (answer tokens only), ``val/motion_acc`` (teacher-forced next-token accuracy
on the motion tokens of answers) and ``val/bleu4`` (greedy captions of val clips against all their
captions, corpus BLEU-4 on lower-cased word tokens).
"""

from __future__ import annotations

import logging
import math
import re
from collections import Counter
from collections.abc import Sequence
from typing import Any

import lightning as L
import torch

from motiongpt.errors import CheckpointError
from motiongpt.lm.generation import GREEDY, generate_text
from motiongpt.lm.model import MotionLanguageModel
from motiongpt.training import cosine_lr_factor, rng_state, set_rng_state

log = logging.getLogger(__name__)


# --- BLEU ---------------------------------------------------------------------------------------------
def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def corpus_bleu(hypotheses: Sequence[str], references: Sequence[Sequence[str]], n: int = 4) -> float:
    """Corpus BLEU-n (Papineni et al.) with the closest-reference brevity penalty, in [0, 1].

    Tokens are lower-cased runs of letters and digits. 0 when any n-gram order has no match.
    """
    if len(hypotheses) != len(references):
        raise ValueError(f"got {len(hypotheses)} hypotheses but {len(references)} reference lists")
    matches, totals = [0] * n, [0] * n
    hyp_len = ref_len = 0
    for hyp, refs in zip(hypotheses, references, strict=True):
        h = _words(hyp)
        rs = [_words(r) for r in refs] or [[]]
        hyp_len += len(h)
        ref_len += min((abs(len(r) - len(h)), len(r)) for r in rs)[1]
        for k in range(1, n + 1):
            grams = Counter(tuple(h[i : i + k]) for i in range(len(h) - k + 1))
            best: Counter = Counter()
            for r in rs:
                best |= Counter(tuple(r[i : i + k]) for i in range(len(r) - k + 1))
            matches[k - 1] += sum(min(c, best[g]) for g, c in grams.items())
            totals[k - 1] += max(0, len(h) - k + 1)
    if hyp_len == 0 or min(matches) == 0:
        return 0.0
    log_p = sum(math.log(m / t) for m, t in zip(matches, totals, strict=True)) / n
    bp = 1.0 if hyp_len > ref_len else math.exp(1 - ref_len / hyp_len)
    return bp * math.exp(log_p)


# --- the module ---------------------------------------------------------------------------------------
class LitLM(L.LightningModule):
    """Trains a ``MotionLanguageModel`` on collated batches ``{"input_ids", "attention_mask", "labels"}``.

    Args:
        cfg: the run config (``LMTrainConfig``: lr, lr_min, warmup_steps, max_steps, weight_decay, betas,
            max_text_tokens).
        model: the model; only parameters with ``requires_grad`` are optimised and checkpointed.
        caption_prompts: ``(prompt, references)`` pairs captioned greedily at each validation.
        caption_batch_size: prompts per generation batch.
    """

    def __init__(
        self,
        cfg: Any,
        model: MotionLanguageModel,
        caption_prompts: Sequence[tuple[str, Sequence[str]]] = (),
        caption_batch_size: int = 16,
    ) -> None:
        super().__init__()
        self.cfg = cfg
        self.model = model
        self.caption_prompts = list(caption_prompts)
        self.caption_batch_size = caption_batch_size
        self.train_losses: list[float] = []  # this process's per-step training losses
        self.strict_loading = False  # checkpoints hold the trainable parameters only
        self._acc = [0, 0]
        self.last_captions: list[str] = []

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        out = self.model.loss(**batch)
        self.train_losses.append(float(out.loss.detach()))
        self.log("train/loss", out.loss, prog_bar=True, batch_size=batch["input_ids"].shape[0])
        return out.loss

    # --- validation -------------------------------------------------------------------------------
    def on_validation_epoch_start(self) -> None:
        self._acc = [0, 0]

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        out = self.model.loss(**batch)
        self.log("val/loss", out.loss, sync_dist=True, batch_size=batch["input_ids"].shape[0])
        self._acc[0] += int((out.motion_logits.argmax(-1) == out.motion_labels).sum())
        self._acc[1] += int(out.motion_labels.numel())

    def on_validation_epoch_end(self) -> None:
        metrics: dict[str, float] = {}
        if self._acc[1]:
            metrics["val/motion_acc"] = self._acc[0] / self._acc[1]
        if self.caption_prompts:
            metrics["val/bleu4"] = self.caption_bleu()
        if metrics:
            self.log_dict(metrics)
        if self.trainer.is_global_zero and not self.trainer.sanity_checking:
            shown = "  ".join(f"{k} {v:.4f}" for k, v in metrics.items())
            loss = float(self.trainer.callback_metrics.get("val/loss", float("nan")))
            log.info("step %d: val/loss %.4f  %s", self.global_step, loss, shown)

    @torch.no_grad()
    def caption_bleu(self) -> float:
        """Greedy captions of ``caption_prompts`` scored against their references (BLEU-4)."""
        tok = self.model.tokenizer
        was_training = self.model.training
        self.model.eval()
        hyps: list[str] = []
        try:
            for s in range(0, len(self.caption_prompts), self.caption_batch_size):
                chunk = self.caption_prompts[s : s + self.caption_batch_size]
                rows = generate_text(self.model, [p for p, _ in chunk], GREEDY,
                                     max_new_tokens=self.model.cfg.max_text_tokens)  # fmt: skip
                hyps += [tok.decode(r, skip_special_tokens=True).strip() for r in rows]
        finally:
            self.model.train(was_training)
        self.last_captions = hyps
        return corpus_bleu(hyps, [list(r) for _, r in self.caption_prompts])

    # --- optimisation -----------------------------------------------------------------------------
    def configure_optimizers(self) -> dict[str, Any]:
        """AdamW; the token embeddings (where only the new motion rows learn) get no weight decay and
        ``lr * embedding_lr_scale``."""
        cfg = self.cfg
        base = self.model.base_model
        layers = (base.get_input_embeddings(), base.get_output_embeddings())
        emb = {id(getattr(m, "weight", None)) for m in layers if m is not None}
        params = [p for p in self.model.parameters() if p.requires_grad]
        groups = [
            {"params": [p for p in params if id(p) not in emb], "lr": cfg.lr},
            {"params": [p for p in params if id(p) in emb], "lr": cfg.lr * cfg.embedding_lr_scale,
             "weight_decay": 0.0},
        ]  # fmt: skip
        groups = [g for g in groups if g["params"]]
        opt = torch.optim.AdamW(groups, lr=cfg.lr, betas=cfg.betas, weight_decay=cfg.weight_decay)
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, lambda step: cosine_lr_factor(step, cfg.lr, cfg.lr_min, cfg.warmup_steps, cfg.max_steps)
        )
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}

    # --- checkpoints ------------------------------------------------------------------------------
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Keep only trainable parameters (LoRA runs: a few MB instead of the whole backbone)."""
        trainable = {f"model.{n}" for n, p in self.model.named_parameters() if p.requires_grad}
        checkpoint["state_dict"] = {k: v for k, v in checkpoint["state_dict"].items() if k in trainable}
        checkpoint["motiongpt_rng"] = rng_state()
        checkpoint["motiongpt_config"] = self.cfg.to_dict()

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        trainable = {f"model.{n}" for n, p in self.model.named_parameters() if p.requires_grad}
        missing = sorted(trainable - set(checkpoint["state_dict"]))
        if missing:
            raise CheckpointError(f"checkpoint lacks trainable parameters {missing[:4]}... of this model")
        if "motiongpt_rng" in checkpoint:
            set_rng_state(checkpoint["motiongpt_rng"])


__all__ = ["LitLM", "corpus_bleu"]
