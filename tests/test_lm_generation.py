"""Constrained decoding: with random weights every motion is valid and exactly as long as asked."""

from __future__ import annotations

import pytest
import torch

from motiongpt.lm.generation import (
    GREEDY,
    MotionLogitsProcessor,
    Sampling,
    generate_motion_ids,
    generate_text,
    seconds_to_tokens,
)
from motiongpt.lm.model import MotionLanguageModel
from test_lm_fixtures import tiny_lm_config

pytest_plugins = ["test_lm_fixtures"]
pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module", params=["t5", "causal", "causal_chat_untied"])
def lm(request, tiny_dirs):
    return MotionLanguageModel(tiny_lm_config(tiny_dirs[request.param])).eval()


def test_seconds_to_tokens():
    assert seconds_to_tokens(4) == 20 and seconds_to_tokens(9.8) == 49 and seconds_to_tokens(0.1) == 1
    with pytest.raises(ValueError, match="shorter than one motion token"):
        seconds_to_tokens(0.05)
    with pytest.raises(ValueError):
        seconds_to_tokens(float("nan"))


@pytest.mark.parametrize(
    "sampling", [GREEDY, Sampling(temperature=1.5, top_k=0), Sampling(top_k=3, top_p=0.5)]
)
def test_exact_lengths_any_weights(lm, sampling):
    prompts = ["a person walks", "jump", "a man runs in a circle"]
    lengths = [1, 7, 12]
    for seed in range(3):
        motions = generate_motion_ids(lm, prompts, lengths, sampling=sampling, seed=seed)
        assert [m.shape[0] for m in motions] == lengths
        for m in motions:
            assert m.dtype == torch.int64 and int(m.min()) >= 0 and int(m.max()) < 16


def test_free_length_within_range_and_seed_reproducible(lm):
    prompts = ["walk", "run"] * 2
    a = generate_motion_ids(lm, prompts, sampling=Sampling(temperature=2.0), seed=7)
    b = generate_motion_ids(lm, prompts, sampling=Sampling(temperature=2.0), seed=7)
    assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True))
    assert all(2 <= m.shape[0] <= 12 for m in a)


def test_restricted_logits_match_full(lm):
    """The fast path (logits over motion rows only) picks what masking the full vocabulary picks."""
    from motiongpt.lm import generation

    prompts = ["a person walks", "jump"]
    fast = generate_motion_ids(lm, prompts, [9, 9], sampling=GREEDY)
    orig = generation._can_slice
    generation._can_slice = lambda model: False
    try:
        slow = generate_motion_ids(lm, prompts, [9, 9], sampling=GREEDY)
    finally:
        generation._can_slice = orig
    assert all(torch.equal(x, y) for x, y in zip(fast, slow, strict=True))


def test_length_cap(lm):
    with pytest.raises(ValueError, match="allow_long=True"):
        generate_motion_ids(lm, ["walk"], [13])
    (m,) = generate_motion_ids(lm, ["walk"], [20], allow_long=True)
    assert m.shape == (20,)


def test_text_answers_have_no_motion_tokens(lm):
    rows = generate_text(
        lm, ["describe it", "what is this"], sampling=Sampling(temperature=3.0, top_k=0), seed=1
    )
    vocab = lm.vocab
    for row in rows:
        assert not any(t in vocab.id_range for t in row)
        assert len(row) <= lm.cfg.max_text_tokens


def test_processor_as_hf_logits_processor(lm):
    """The processor works inside transformers' own generate too (causal and T5)."""
    from transformers import LogitsProcessorList

    vocab, tok = lm.vocab, lm.tokenizer
    batch = lm.encode_prompts(["walk", "run fast"])
    if lm.is_encoder_decoder:
        start = 1
        extra = {"decoder_input_ids": torch.tensor([[0, vocab.som_id]] * 2)}
    else:
        start = batch["input_ids"].shape[1]
        extra = {}
    proc = MotionLogitsProcessor(vocab, start, 5, 5, "motion", tok.pad_token_id, tok.eos_token_id)
    out = lm.backbone.generate(
        **batch,
        **extra,
        logits_processor=LogitsProcessorList([proc]),
        max_new_tokens=8,
        do_sample=True,
        top_k=0,
        eos_token_id=vocab.eom_id,
        pad_token_id=tok.pad_token_id,
    )
    for row in out:
        segs = vocab.parse(
            row[start - (0 if lm.is_encoder_decoder else 0) :] if lm.is_encoder_decoder else row[start:]
        )
        assert [s.shape[0] for s in segs] == [5]
