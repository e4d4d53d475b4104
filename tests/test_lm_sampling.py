"""What the sampling parameters do, each against its definition, and free-length decoding that can stop.

``_pick`` (temperature, top-k, top-p) is checked on fixed logits against the distributions it must draw
from; free-length decoding runs a tiny model whose output layer makes ``<eom>`` as likely as all codes
together, so the lengths must spread over the allowed range as a geometric distribution does.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import torch
from torch import nn

from motiongpt.lm.generation import GREEDY, Sampling, _pick, generate_motion_ids
from motiongpt.lm.model import MotionLanguageModel
from test_lm_fixtures import tiny_lm_config

pytest_plugins = ["test_lm_fixtures"]
pytestmark = pytest.mark.usefixtures("one_thread")

N_DRAWS = 4000
LOGITS = torch.tensor([3.0, 2.0, 1.5, 1.0, 0.5, 0.0, -0.5, -1.0])  # (C,) distinct, sorted


def draws(logits: torch.Tensor, sampling: Sampling, seed: int = 0) -> np.ndarray:
    """``N_DRAWS`` picks from the same row of logits ``(C,)``."""
    g = torch.Generator().manual_seed(seed)
    return _pick(logits.expand(N_DRAWS, -1).clone(), sampling, g).numpy()


def entropy(p: np.ndarray) -> float:
    p = p[p > 0]
    return float(-(p * np.log(p)).sum())


def frequencies(picks: np.ndarray, n: int) -> np.ndarray:
    return np.bincount(picks, minlength=n) / len(picks)


@pytest.mark.parametrize("temperature", [0.3, 1.0, 3.0])
def test_temperature_sets_the_distribution_of_the_picks(temperature):
    """Picks follow softmax(logits / T): frequencies within 3 percentage points, entropy within 0.05."""
    want = torch.softmax(LOGITS / temperature, -1).numpy()
    got = frequencies(draws(LOGITS, Sampling(temperature=temperature, top_k=0)), len(LOGITS))
    np.testing.assert_allclose(got, want, atol=0.03)
    assert entropy(got) == pytest.approx(entropy(want), abs=0.05)


def test_higher_temperature_spreads_the_picks():
    ent = [entropy(frequencies(draws(LOGITS, Sampling(temperature=t, top_k=0)), 8)) for t in (0.2, 1, 5)]
    assert ent[0] < 0.5 < ent[1] < ent[2] and ent[2] > 0.9 * np.log(8)


def test_zero_temperature_and_no_sampling_are_greedy():
    rows = torch.randn(64, 8, generator=torch.Generator().manual_seed(0))
    for sampling in (GREEDY, Sampling(temperature=0.0)):
        assert torch.equal(_pick(rows, sampling, None), rows.argmax(-1))


@pytest.mark.parametrize("k", [1, 3, 5])
def test_top_k_draws_only_the_k_best(k):
    picks = draws(LOGITS, Sampling(temperature=2.0, top_k=k))
    assert set(picks.tolist()) == set(range(k))  # LOGITS is sorted: the k best are 0..k-1
    want = torch.softmax(LOGITS[:k] / 2.0, -1).numpy()  # renormalised over the k kept
    np.testing.assert_allclose(frequencies(picks, k), want, atol=0.03)


def test_top_k_per_row_and_with_masked_columns():
    """Each row keeps its own k best; -inf (masked) columns are never drawn."""
    rows = torch.tensor([[0.0, 1.0, 2.0, 3.0, float("-inf")], [3.0, 2.0, 1.0, 0.0, 5.0]])
    g = torch.Generator().manual_seed(0)
    picks = _pick(rows.repeat(500, 1), Sampling(temperature=5.0, top_k=2), g).view(500, 2)
    assert set(picks[:, 0].tolist()) == {2, 3} and set(picks[:, 1].tolist()) == {0, 4}


@pytest.mark.parametrize(
    ("top_p", "nucleus"), [(0.3, [0]), (0.7, [0, 1]), (0.85, [0, 1, 2]), (0.99, [0, 1, 2, 3])]
)
def test_top_p_draws_from_the_smallest_set_reaching_p(top_p, nucleus):
    probs = torch.tensor([0.5, 0.3, 0.15, 0.05])  # cumulative 0.5, 0.8, 0.95, 1.0
    picks = draws(probs.log(), Sampling(top_k=0, top_p=top_p))
    assert set(picks.tolist()) == set(nucleus)
    want = (probs[nucleus] / probs[nucleus].sum()).numpy()
    np.testing.assert_allclose(frequencies(picks, len(nucleus)), want, atol=0.03)


def test_top_k_and_top_p_together_keep_the_smaller_set():
    probs = torch.tensor([0.4, 0.3, 0.2, 0.1])
    assert set(draws(probs.log(), Sampling(top_k=2, top_p=0.95)).tolist()) == {0, 1}
    assert set(draws(probs.log(), Sampling(top_k=4, top_p=0.6)).tolist()) == {0, 1}


# --- the parameters inside generation ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def lm(tiny_dirs):
    return MotionLanguageModel(tiny_lm_config(tiny_dirs["causal_chat_untied"])).eval()


def test_top_k_one_is_greedy_inside_generation(lm):
    prompts = ["a person walks", "jump", "a man runs in a circle"]
    greedy = generate_motion_ids(lm, prompts, [9, 9, 9], sampling=GREEDY)
    for seed in range(3):
        top1 = generate_motion_ids(lm, prompts, [9] * 3, sampling=Sampling(temperature=3, top_k=1), seed=seed)
        assert all(torch.equal(a, b) for a, b in zip(greedy, top1, strict=True))


def _biased_head(lm: MotionLanguageModel, code_bias: torch.Tensor | float, eom_bias: float) -> nn.Linear:
    """An output layer whose motion rows ignore the context: code ``j`` gets logit ``code_bias[j]``,
    ``<eom>`` gets ``eom_bias``; the other rows are the model's."""
    old = lm.backbone.get_output_embeddings()
    head = nn.Linear(old.in_features, old.out_features, bias=True)
    off, K = lm.vocab.offset, lm.vocab.codebook_size
    with torch.no_grad():
        head.weight.copy_(old.weight)
        head.bias.zero_()
        head.weight[off : off + K] = 0.0
        head.bias[off : off + K] = code_bias
        head.weight[lm.vocab.eom_id] = 0.0
        head.bias[lm.vocab.eom_id] = eom_bias
    return head


@pytest.fixture
def biased_lm(tiny_dirs):
    """A fresh tiny model and a function that installs a :func:`_biased_head` on it."""
    model = MotionLanguageModel(tiny_lm_config(tiny_dirs["causal_chat_untied"])).eval()

    def install(code_bias: torch.Tensor | float, eom_bias: float) -> MotionLanguageModel:
        model.backbone.set_output_embeddings(_biased_head(model, code_bias, eom_bias))
        return model

    return install


def test_top_k_and_top_p_limit_the_codes_of_a_motion(biased_lm):
    """Codes ranked 0 > 1 > ... by a fixed margin: top-k=3 writes only codes 0..2, and all of them."""
    model = biased_lm(-0.05 * torch.arange(16.0), eom_bias=-30.0)

    def codes(sampling: Sampling) -> set[int]:
        (motion,) = generate_motion_ids(model, ["walk"], [40], sampling, seed=0, allow_long=True)
        return set(motion.tolist())

    assert codes(Sampling(temperature=5, top_k=3)) == {0, 1, 2}
    assert len(codes(Sampling(temperature=5, top_k=0))) > 8
    assert codes(Sampling(temperature=5, top_k=0, top_p=0.1)) == {0, 1}  # 1/16 + a bit each


def test_free_length_decoding_stops_where_eom_is_likely(biased_lm):
    """P(<eom>) = 1/2 at each step past the minimum: lengths 2, 3, 4, ... with probability 1/2, 1/4, ..."""
    model = biased_lm(0.0, eom_bias=float(np.log(16)))  # e^b = 16 = the weight of the 16 codes together
    lengths = []
    for seed in range(4):
        motions = generate_motion_ids(model, ["walk"] * 40, sampling=Sampling(top_k=0), seed=seed)
        lengths += [m.shape[0] for m in motions]
    counts = Counter(lengths)
    assert min(lengths) == 2 and max(lengths) <= 12
    assert 0.38 < counts[2] / len(lengths) < 0.62  # 1/2 of 160
    assert 0.13 < counts[3] / len(lengths) < 0.37  # 1/4
    assert counts[12] / len(lengths) < 0.03  # (1/2)**10
    assert len(counts) >= 4


def test_free_length_decoding_reaches_the_cap_when_eom_is_unlikely(biased_lm):
    model = biased_lm(0.0, eom_bias=-30.0)
    motions = generate_motion_ids(model, ["walk"] * 8, sampling=Sampling(top_k=0), seed=0)
    assert [m.shape[0] for m in motions] == [12] * 8
