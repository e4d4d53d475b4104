"""MotionVocab: token strings, binding to a tokenizer, index <-> id round trip, parsing."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from motiongpt.lm.vocab import MotionVocab
from test_lm_fixtures import tiny_tokenizer

pytest_plugins = ["test_lm_fixtures"]
pytestmark = pytest.mark.usefixtures("one_thread")


def test_tokens_and_unbound_errors():
    vocab = MotionVocab(4)
    assert vocab.tokens == [f"<motion_id_{i}>" for i in range(4)] + ["<som>", "<eom>", "<motion_mask>"]
    assert len(vocab) == 7 and not vocab.bound
    with pytest.raises(ValueError, match="not bound"):
        vocab.indices_to_ids([0])
    with pytest.raises(ValueError, match="codebook_size"):
        MotionVocab(0)


@pytest.mark.parametrize("t5_style", [True, False])
def test_add_to_round_trip(t5_style):
    tok = tiny_tokenizer(t5_style)
    n_before = len(tok)
    vocab = MotionVocab(16).add_to(tok)
    assert vocab.offset == n_before and len(tok) == n_before + 19
    assert vocab.som_id == n_before + 16 and vocab.eom_id == n_before + 17 and vocab.mask_id == n_before + 18
    assert MotionVocab(16).add_to(tok) == vocab and len(tok) == n_before + 19  # idempotent
    indices = [3, 0, 15, 7, 7]
    ids = vocab.indices_to_ids(indices)
    assert ids == [n_before + i for i in indices]
    assert vocab.ids_to_indices(ids) == indices
    arr = np.array(indices)
    assert (vocab.ids_to_indices(vocab.indices_to_ids(arr)) == arr).all()
    t = torch.tensor([indices, indices[::-1]])
    assert torch.equal(vocab.ids_to_indices(vocab.indices_to_ids(t)), t)
    # each token string is one id; the text form tokenizes to som + codes + eom
    text = vocab.motion_to_text(indices)
    assert text == "<som><motion_id_3><motion_id_0><motion_id_15><motion_id_7><motion_id_7><eom>"
    enc = tok(text, add_special_tokens=False).input_ids
    assert enc == [vocab.som_id, *ids, vocab.eom_id]
    assert [s.tolist() for s in vocab.parse(enc)] == [indices]
    assert [s.tolist() for s in vocab.parse(text)] == [indices]
    assert [s.tolist() for s in vocab.parse(tok.decode(enc))] == [indices]


def test_non_motion_ids_raise():
    vocab = MotionVocab(16).add_to(tiny_tokenizer(False))
    for bad in ([vocab.offset - 1], [vocab.som_id], [vocab.eom_id], [vocab.mask_id], [vocab.offset + 99]):
        with pytest.raises(ValueError, match="not motion tokens"):
            vocab.ids_to_indices(bad)
    with pytest.raises(ValueError, match=r"\[0, 16\)"):
        vocab.indices_to_ids([16])
    with pytest.raises(ValueError):
        vocab.indices_to_ids(np.array([-1]))


def test_parse_segments_text_and_ids():
    vocab = MotionVocab(8).add_to(tiny_tokenizer(False))
    text = "Here: <som><motion_id_1><motion_id_2><eom> and <som> <motion_id_7> <eom>, done <som><motion_id_0>"
    assert [s.tolist() for s in vocab.parse(text)] == [[1, 2], [7], [0]]
    assert vocab.parse("no motion here") == []
    with pytest.raises(ValueError, match="non-motion text"):
        vocab.parse("<som><motion_id_1>oops<eom>")
    ids = [5, vocab.som_id, vocab.offset + 1, vocab.eom_id, 9, vocab.som_id, vocab.offset + 2]
    assert [s.tolist() for s in vocab.parse(ids)] == [[1], [2]]
    with pytest.raises(ValueError):
        vocab.parse([vocab.som_id, 5, vocab.eom_id])


def test_bind_requires_tokens():
    with pytest.raises(ValueError, match="no motion tokens"):
        MotionVocab.bind(tiny_tokenizer(False), 16)
