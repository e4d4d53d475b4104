"""Answer log-probabilities (lm/scoring.py) and text -> motion reranked by the model's own reading."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import motiongpt.lm.pipeline as pipeline
from motiongpt.errors import ConfigError, InvalidRequestError
from motiongpt.lm.model import IGNORE, MotionLanguageModel
from motiongpt.lm.pipeline import MotionGPT, PipelineConfig
from motiongpt.lm.scoring import answer_logprobs, best_by_caption
from test_lm_fixtures import save_tiny_bundle, tiny_lm_config

pytest_plugins = ["test_lm_fixtures"]
pytestmark = pytest.mark.usefixtures("one_thread")

PROMPTS = ["Describe the motion: <som><motion_id_3><motion_id_5><motion_id_5><eom>", "what is it"]
ANSWERS = ["a person walks forward and turns", "jumps"]


def _model(backbone) -> MotionLanguageModel:
    torch.manual_seed(0)
    model = MotionLanguageModel(tiny_lm_config(backbone)).eval()
    with torch.no_grad():  # away from the initialisation, so answers differ in likelihood
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return model


@pytest.mark.parametrize("family", ["causal", "t5"])
def test_answer_logprobs_are_the_models_own_loss(tiny_dirs, family):
    """Batched and padded, each row is minus its answer's summed cross-entropy from the model's forward
    on that example alone."""
    model = _model(tiny_dirs[family])
    got = answer_logprobs(model, PROMPTS, ANSWERS)
    assert got.shape == (2,) and (got < 0).all()
    for i, (p, a) in enumerate(zip(PROMPTS, ANSWERS, strict=True)):
        example = model.encode(p, a).as_dict()
        n = sum(t != IGNORE for t in example["labels"])
        with torch.no_grad():
            loss = model(**model.pad([example])).loss
        assert torch.allclose(got[i], -loss * n, atol=1e-4), (family, i)
    alone = answer_logprobs(model, PROMPTS[1:], ANSWERS[1:])
    assert torch.allclose(alone, got[1:], atol=1e-5)  # padding beside a longer row changes nothing


def test_best_by_caption_keeps_each_texts_most_likely_candidate(tiny_dirs):
    model = _model(tiny_dirs["causal"])
    readings = [f"Describe the motion: <som><motion_id_{i}><motion_id_{i + 1}><eom>" for i in range(6)]
    texts = ["a person walks", "a person bows"]
    keep = best_by_caption(model, readings, texts, 3)
    scores = answer_logprobs(model, readings, [t for t in texts for _ in range(3)]).view(2, 3)
    assert keep == [int(scores[0].argmax()), 3 + int(scores[1].argmax())]


def _kept(seen: list, value):
    seen.append(value)
    return value


@pytest.fixture(scope="module")
def mg(tiny_dirs, tmp_path_factory) -> MotionGPT:
    bundle = save_tiny_bundle(tmp_path_factory.mktemp("bundle") / "mg", tiny_dirs["causal"])
    return MotionGPT.from_pretrained(bundle)


def test_candidates_rerank_text_to_motion(mg, monkeypatch):
    """Each text gets ``candidates`` samples in one decoding run and keeps the one whose reading by the
    model is most likely the text; one candidate is plain sampling."""
    drawn, scored = [], []
    real_ids, real_scores = pipeline.generate_motion_ids, answer_logprobs
    monkeypatch.setattr(pipeline, "generate_motion_ids", lambda *a, **kw: _kept(drawn, real_ids(*a, **kw)))
    monkeypatch.setattr("motiongpt.lm.scoring.answer_logprobs", lambda *a: _kept(scored, real_scores(*a)))
    texts = ["a person walks", "a person bows"]
    motions = mg.generate_motion_batch(texts, seconds=[0.8, 1.2], seed=4, candidates=3)
    assert len(drawn[-1]) == 6 and [len(i) for i in drawn[-1]] == [4, 4, 4, 6, 6, 6]
    best = scored[-1].view(2, 3).argmax(-1).tolist()
    for j, m in enumerate(motions):
        assert np.array_equal(m.tokens, drawn[-1][3 * j + best[j]].numpy())
    again = mg.generate_motion_batch(texts, seconds=[0.8, 1.2], seed=4, candidates=3)
    assert all(np.array_equal(a.tokens, b.tokens) for a, b in zip(motions, again, strict=True))
    n_scored = len(scored)
    one = mg.generate_motion_batch(texts, seconds=[0.8, 1.2], seed=4, candidates=1)
    assert len(scored) == n_scored and len(drawn[-1]) == 2  # one candidate: nothing to read
    assert [m.tokens.tolist() for m in one] == [i.tolist() for i in drawn[-1]]


def test_motions_longer_than_the_model_reads_are_sampled_once(mg, monkeypatch):
    """Over ``max_motion_tokens`` (``allow_long``) the m2t reading does not apply: one sample, no error."""
    drawn = []
    real_ids = pipeline.generate_motion_ids
    monkeypatch.setattr(pipeline, "generate_motion_ids", lambda *a, **kw: _kept(drawn, real_ids(*a, **kw)))
    long = mg.lm.cfg.max_long_motion_tokens * mg.frames_per_token / 20  # seconds
    (motion,) = mg.generate_motion_batch(["walk"], seconds=long, seed=0, allow_long=True, candidates=3)
    assert len(drawn[-1]) == 1 and len(motion.tokens) == mg.lm.cfg.max_long_motion_tokens


@pytest.mark.parametrize("bad", [0, -1, 33, 2.0, True, "4"])
def test_bad_candidates_are_clear_errors(mg, bad):
    with pytest.raises(InvalidRequestError, match="candidates must be an integer from 1 to 32"):
        mg.generate_motion("a person walks", seconds=0.8, candidates=bad)
    with pytest.raises(ConfigError, match="candidates"):
        PipelineConfig(candidates=bad)
