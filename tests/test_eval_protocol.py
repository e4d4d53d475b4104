"""Evaluation protocol on small synthetic data with dummy models whose answers are known."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from conftest import tiny_evaluator_config, toy_word_vectors
from motiongpt.errors import MetricInputError
from motiongpt.eval import metrics as M
from motiongpt.eval.evaluator import T2MEvaluator
from motiongpt.eval.pairs import distinct_text_order, sample_pairs
from motiongpt.eval.protocol import (
    MODEL,
    NEAREST,
    REAL,
    SHUFFLED,
    evaluate_inbetween,
    evaluate_m2t,
    evaluate_pred,
    evaluate_t2m,
)
from motiongpt.eval.report import format_table

NUMBERS = ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"]


class _Cap:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tuple(f"{w}/{'NUM' if w in NUMBERS else 'NOUN'}" for w in text.split())


class _Clip:
    def __init__(self, name: str, features: np.ndarray, text: str) -> None:
        self.name, self.features, self.captions = name, features, (_Cap(text),)


def constant_clips(n: int, seed: int) -> list[_Clip]:
    """Clips whose features do not change over time (so every crop of a length is the same motion),
    each with a distinct caption ("a person walk one two", ...)."""
    rng = np.random.default_rng(seed)
    clips = []
    for i in range(n):
        text = f"a person walk {NUMBERS[i // 10 % 10]} {NUMBERS[i % 10]}" + (" fast" if i >= 100 else "")
        vec = rng.normal(size=(1, 263)).astype(np.float32)
        clips.append(_Clip(f"c{seed}_{i}", np.repeat(vec, int(rng.integers(44, 100)), 0), text))
    return clips


@pytest.fixture(scope="module")
def setup():
    test, train = constant_clips(40, 1), constant_clips(30, 2)
    cfg = tiny_evaluator_config(dim_word=6, dim_coemb=16)
    import torch

    torch.manual_seed(0)
    ev = T2MEvaluator(cfg)
    ev.set_word_vectors(toy_word_vectors(["unk", "sos", "eos", "walk", "fast", *NUMBERS], 6))
    return test, train, ev


def _by_text(clips):
    return {c.captions[0].text: c.features[0] for c in clips}


def test_t2m_ground_truth_generator_matches_reference(setup):
    test, train, ev = setup
    table = _by_text(test)

    def generate(texts, lengths):
        return [np.repeat(table[t][None], n, 0) for t, n in zip(texts, lengths, strict=True)]

    res = evaluate_t2m(generate, test, ev, train, replications=1, mm_prompts=4, mm_samples=3, progress=False)
    ref = sample_pairs(test, np.random.default_rng([0, 0]))
    t, m = ev.embed_captions(ref.tokens), ev.embed_motions(ref.motions)
    model = res["rows"][MODEL]
    want = M.r_precision(t, m, 3, 32)
    order = distinct_text_order(ref.texts, 32)
    assert len(order) == 32
    want_distinct = M.r_precision(t[order], m[order], 3, 32)
    for k in range(3):
        assert model[f"r_precision_top{k + 1}"]["mean"] == pytest.approx(want[k])
        assert model[f"r_precision_distinct_top{k + 1}"]["mean"] == pytest.approx(want_distinct[k])
    assert model["fid"]["mean"] < 1e-4
    assert model["mm_dist"]["mean"] == pytest.approx(M.mm_dist(t, m), rel=1e-6)
    assert model["multimodality"]["mean"] == pytest.approx(0.0, abs=1e-5)  # deterministic generator
    assert set(res["rows"]) == {REAL, SHUFFLED, NEAREST, MODEL}
    assert res["model"] == "model" and not any("no model" in n for n in res["notes"])
    json.dumps(res)  # JSON-able
    assert "R@3" in format_table(res)


def test_t2m_without_model_and_replications(setup):
    test, train, ev = setup
    res = evaluate_t2m(None, test, ev, None, replications=3, progress=False)
    assert set(res["rows"]) == {REAL, SHUFFLED}
    assert res["replications"] == 3 and res["model"] is None
    assert any("no model" in n for n in res["notes"])
    assert res["rows"][SHUFFLED]["fid"]["mean"] < 1e-4  # same motions, other captions
    real = res["rows"][REAL]
    top = [real[f"r_precision_distinct_top{k}"]["mean"] for k in (1, 2, 3)]
    assert 0 <= top[0] <= top[1] <= top[2] <= 1 and top[2] > 0  # R@k grows with k
    assert all(round(v * 32 * 3, 6).is_integer() for v in top)  # found items of 3 batches of 32
    with pytest.raises(ValueError, match="replications"):
        evaluate_t2m(None, test, ev, replications=0)


def test_t2m_bad_generator_output(setup):
    test, _, ev = setup
    with pytest.raises(MetricInputError, match="returned 1 motions"):
        evaluate_t2m(lambda t, n: [np.zeros((40, 263))], test, ev, replications=1, progress=False)
    with pytest.raises(MetricInputError, match="finite"):
        evaluate_t2m(
            lambda t, n: [np.full((x, 263), np.nan) for x in n], test, ev, replications=1, progress=False
        )


def test_m2t_true_captions(setup, monkeypatch):
    test, train, ev = setup
    import motiongpt.data.pos as pos

    tokens = {c.captions[0].text: c.captions[0].tokens for c in test}
    monkeypatch.setattr(pos, "pos_tag", lambda texts: [tokens[t] for t in texts])
    by_vec = {c.features[0].tobytes(): c.captions[0].text for c in test}
    res = evaluate_m2t(
        lambda ms: [by_vec[m[0].tobytes()] for m in ms],
        test,
        ev,
        train,
        replications=2,
        meteor=False,
        bertscore=False,
        progress=False,
    )
    real, model = res["rows"][REAL], res["rows"][MODEL]
    for k in ("r_precision_top1", "r_precision_top3", "mm_dist"):
        assert model[k]["mean"] == pytest.approx(real[k]["mean"])
    assert model["captioning"]["bleu_4"] == pytest.approx(1.0)
    assert model["captioning"]["rouge_l"] == pytest.approx(1.0)
    assert res["rows"][SHUFFLED]["captioning"]["bleu_4"] < 1.0
    assert "BLEU@4" in format_table(res)


def test_pred_and_inbetween_ground_truth(setup):
    test, train, ev = setup
    pred = evaluate_pred(
        lambda given, n: [np.repeat(g[:1], k, 0) for g, k in zip(given, n, strict=True)],
        test,
        ev,
        train,
        replications=1,
        progress=False,
    )
    assert pred["rows"][MODEL]["ade"]["mean"] == pytest.approx(0.0, abs=1e-6)
    assert pred["rows"][MODEL]["fid"]["mean"] < 1e-4
    assert pred["rows"][REAL]["fde"]["mean"] == 0.0
    assert pred["settings"]["given"] == 0.2
    inb = evaluate_inbetween(
        lambda a, b, n: [np.repeat(x[:1], k, 0) for x, k in zip(a, n, strict=True)],
        test,
        ev,
        None,
        replications=1,
        progress=False,
    )
    assert inb["rows"][MODEL]["ade"]["mean"] == pytest.approx(0.0, abs=1e-6)
    assert set(inb["rows"]) == {REAL, SHUFFLED, MODEL}
    assert "ADE" in format_table(inb)
    with pytest.raises(ValueError, match="given"):
        evaluate_inbetween(None, test, ev, given=0.6)


def test_data_summary_reads_manifest(tmp_path: Path, setup):
    from motiongpt.eval.protocol import data_summary

    (tmp_path / "corpus.json").write_text(json.dumps({"summary": {"captions": 10, "templated_share": 0.75}}))
    s = data_summary(tmp_path, setup[0])
    assert s["templated_caption_share"] == 0.75 and s["items"] == 40 and s["distinct_caption_texts"] == 40



def test_settings_object_typed_result_and_named_mm_dist(setup):
    """One EvalSettings object for the shared arguments; a typed, frozen EvalResult that is also the JSON
    dict; MM-Dist as the references define it (full 32-pair batches) reported beside ours and named."""
    import dataclasses

    from motiongpt.eval.protocol import MM_DIST_NOTE
    from motiongpt.eval.result import EvalResult, EvalSettings

    test, _, ev = setup
    table = _by_text(test)

    def generate(texts, lengths):
        return [np.repeat(table[t][None], n, 0) for t, n in zip(texts, lengths, strict=True)]

    settings = EvalSettings(replications=1, progress=False, model_name="m", split="val", quick=True)
    res = evaluate_t2m(generate, test, ev, settings=settings, mm_samples=0)
    assert isinstance(res, EvalResult) and res.rows is res["rows"] and res.model == "m"
    assert res.quick is True and res.data["split"] == "val" and json.loads(json.dumps(res))["quick"] is True
    with pytest.raises(TypeError, match="frozen"):
        res["quick"] = False
    with pytest.raises(dataclasses.FrozenInstanceError):
        res.quick = False  # type: ignore[misc]
    assert MM_DIST_NOTE in res.notes and MM_DIST_NOTE in format_table(res)
    ref = sample_pairs(test, np.random.default_rng([0, 0]))
    t, m = ev.embed_captions(ref.tokens), ev.embed_motions(ref.motions)
    assert len(t) == 40  # one full batch of 32 and 8 pairs left over: the two definitions differ
    model = res.rows[MODEL]
    assert model["mm_dist"]["mean"] == pytest.approx(M.mm_dist(t, m), rel=1e-6)
    assert model["mm_dist_full_batches"]["mean"] == pytest.approx(M.mm_dist(t[:32], m[:32]), rel=1e-6)
    assert model["mm_dist_full_batches"]["mean"] != pytest.approx(model["mm_dist"]["mean"], rel=1e-6)
    with pytest.raises(TypeError, match="unknown evaluation settings"):
        evaluate_t2m(None, test, ev, replications=1, progress=False, batch=32)
