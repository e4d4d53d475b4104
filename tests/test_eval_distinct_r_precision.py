"""The de-duplicated R-precision (``r_precision_distinct_*``) on a test split whose captions repeat.

Templated corpora repeat captions; in a batch where "a person walks" appears twice, two texts share one
embedding and retrieval is ambiguous. The distinct variant regroups the pairs into batches with no caption
twice. With every caption different (the other protocol tests) both orders give the same batches and the
same numbers, so only repeated captions show whether the regrouping happens at all.
"""

from __future__ import annotations

import numpy as np
import pytest

from conftest import tiny_evaluator_config, toy_word_vectors
from motiongpt.eval import metrics as M
from motiongpt.eval.evaluator import T2MEvaluator
from motiongpt.eval.pairs import distinct_text_order, sample_pairs
from motiongpt.eval.protocol import MODEL, evaluate_t2m

WORDS = ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"]


class _Caption:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tuple(f"{w}/{'NUM' if w in WORDS else 'NOUN'}" for w in text.split())


class _Clip:
    def __init__(self, name: str, features: np.ndarray, text: str) -> None:
        self.name, self.features, self.captions = name, features, (_Caption(text),)


def clips_with_repeated_captions(n: int = 64, n_texts: int = 40) -> list[_Clip]:
    """``n`` clips of constant features, captioned with ``n_texts`` distinct texts (clip i: text i % 40),
    so 24 captions occur twice, each time on another motion."""
    rng = np.random.default_rng(3)
    clips = []
    for i in range(n):
        k = i % n_texts
        text = f"a person walk {WORDS[k // 10]} {WORDS[k % 10]}"
        vec = rng.normal(size=(1, 263)).astype(np.float32)
        clips.append(_Clip(f"c{i}", np.repeat(vec, int(rng.integers(44, 100)), 0), text))
    return clips


@pytest.fixture(scope="module")
def evaluator() -> T2MEvaluator:
    import torch

    torch.manual_seed(0)
    ev = T2MEvaluator(tiny_evaluator_config(dim_word=6, dim_coemb=16))
    ev.set_word_vectors(toy_word_vectors(["unk", "sos", "eos", "walk", *WORDS], 6))
    return ev


def test_distinct_r_precision_regroups_repeated_captions(evaluator: T2MEvaluator) -> None:
    test = clips_with_repeated_captions()
    by_name = {c.name: c.features[0] for c in test}
    drawn = sample_pairs(test, np.random.default_rng([0, 0]))  # the protocol's draw for seed 0, run 0
    queue = {t: [by_name[n] for n, tt in zip(drawn.names, drawn.texts) if tt == t] for t in set(drawn.texts)}

    def generate(texts: list[str], lengths: list[int]) -> list[np.ndarray]:
        """Each caption's own clips' motions, in the order the captions come (the true pairing)."""
        left = {t: list(v) for t, v in queue.items()}
        return [np.repeat(left[t].pop(0)[None], n, 0) for t, n in zip(texts, lengths, strict=True)]

    res = evaluate_t2m(generate, test, evaluator, replications=1, mm_prompts=4, mm_samples=0, progress=False)

    assert len(set(drawn.texts)) < len(drawn.texts)  # the draw has repeated captions
    t = evaluator.embed_captions(drawn.tokens)
    m = evaluator.embed_motions(drawn.motions)
    order = distinct_text_order(drawn.texts, 32)
    assert len(order) == 32  # one full batch without a repeated caption (of 64 pairs)
    assert len(set(np.asarray(drawn.texts)[order])) == 32
    standard = M.r_precision(t, m, 3, 32)  # two batches of 32 in the drawn order, repeats included
    distinct = M.r_precision(t[order], m[order], 3, 32)
    assert not np.allclose(standard, distinct)  # the two groupings give different numbers here
    got = res["rows"][MODEL]  # the ground-truth generator: the drawn motions themselves
    for k in range(3):
        assert got[f"r_precision_top{k + 1}"]["mean"] == pytest.approx(standard[k])
        assert got[f"r_precision_distinct_top{k + 1}"]["mean"] == pytest.approx(distinct[k])
