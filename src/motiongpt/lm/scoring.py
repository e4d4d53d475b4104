"""How likely the model finds an answer after a prompt, and text -> motion reranked by it.

:func:`answer_logprobs` is the summed log-probability of each answer (its tokens and the end of text)
after its prompt, teacher-forced in one pass: through :meth:`LlamaStep.hidden_states
<motiongpt.lm.llama_step.LlamaStep.hidden_states>` for the default Llama-family backbone (the lean
inference model has no other forward), through the backbone's own forward otherwise (causal and
encoder-decoder alike).

:func:`best_by_caption` is the self-reranking of text -> motion: of several motions sampled for one
text, keep the one whose caption by the same model (its motion -> text task) is most likely that text.
The model reads motions more surely than it writes them (its m2t R-precision is above its t2m one), so
its reading picks among its own samples; no other model is involved.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from motiongpt.lm import llama_step
from motiongpt.lm.model import IGNORE, MotionLanguageModel


@torch.no_grad()
def answer_logprobs(
    model: MotionLanguageModel, prompts: Sequence[str], answers: Sequence[str]
) -> torch.Tensor:
    """``log p(answer | prompt)`` per pair ``(B,)``, float32; prompts as the user writes them (laid out
    by ``model.encode``), answers as texts."""
    batch = model.pad([model.encode(p, a).as_dict() for p, a in zip(prompts, answers, strict=True)])
    ids, mask, labels = batch["input_ids"], batch["attention_mask"], batch["labels"]  # (B, L) each
    backbone = model.backbone
    step = None if model.is_encoder_decoder else llama_step.for_backbone(backbone)
    if model.is_encoder_decoder:
        out = backbone(input_ids=ids, attention_mask=mask, labels=labels).logits  # (B, La, V)
    else:  # position t predicts token t + 1
        labels = labels[:, 1:]
        if step is not None:
            out = step.hidden_states(ids, mask)[:, :-1]  # (B, L - 1, D)
        else:
            positions = (mask.cumsum(-1) - 1).clamp(min=0)
            out = backbone(input_ids=ids, attention_mask=mask, position_ids=positions).logits[:, :-1]
    scored = labels != IGNORE  # (B, La): the answer's tokens
    logits = out[scored]  # (S, V), or (S, D) hidden states: the output layer only where it is read
    if step is not None:
        head = backbone.get_output_embeddings()
        logits = F.linear(logits, head.weight, head.bias)
    logp = F.log_softmax(logits.float(), -1).gather(-1, labels[scored][:, None])[:, 0]  # (S,)
    rows = scored.nonzero()[:, 0]
    return torch.zeros(len(ids), device=ids.device).index_add_(0, rows, logp)


def best_by_caption(
    model: MotionLanguageModel, caption_prompts: Sequence[str], texts: Sequence[str], n: int
) -> list[int]:
    """Which of each text's ``n`` candidate motions to keep: ``caption_prompts`` are the motion ->
    text prompts of the candidates, ``n`` per text in a row (``len(texts) * n``); returns, per text, the
    index into ``caption_prompts`` whose caption is most likely the text."""
    per_candidate = [t for t in texts for _ in range(n)]
    scores = answer_logprobs(model, caption_prompts, per_candidate).view(len(texts), n)  # (B, n)
    return (scores.argmax(-1) + torch.arange(len(texts), device=scores.device) * n).tolist()


__all__ = ["answer_logprobs", "best_by_caption"]
