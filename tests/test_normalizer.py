"""Normalizer: round trips in numpy and torch, save/load, validation of statistics and inputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from conftest import shared_data
from motiongpt.errors import CorpusError, InvalidMotionError
from motiongpt.motion import Normalizer
from motiongpt.motion.skeleton import FEATURE_DIM


@pytest.fixture
def norm() -> Normalizer:
    rng = np.random.default_rng(0)
    return Normalizer(rng.normal(size=FEATURE_DIM), rng.uniform(0.1, 2.0, size=FEATURE_DIM))


def test_numpy_round_trip(norm):
    x = np.random.default_rng(1).normal(size=(2, 7, FEATURE_DIM))
    z = norm.normalize(x)
    assert z.dtype == np.float32 and z.shape == x.shape
    np.testing.assert_allclose(z, (x - norm.mean) / norm.std, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(norm.denormalize(z), x, rtol=1e-5, atol=1e-5)


def test_torch_keeps_dtype_and_gradient(norm):
    x = torch.randn(3, 5, FEATURE_DIM, dtype=torch.float64, requires_grad=True)
    z = norm.normalize(x)
    assert z.dtype == torch.float64 and z.device == x.device
    torch.testing.assert_close(norm.denormalize(z), x)
    z.sum().backward()
    torch.testing.assert_close(x.grad[0, 0], torch.from_numpy(1.0 / norm.std).double())


def test_save_load(norm, tmp_path):
    norm.save(tmp_path / "stats")
    loaded = Normalizer.load(tmp_path / "stats")
    np.testing.assert_array_equal(loaded.mean, norm.mean)
    np.testing.assert_array_equal(loaded.std, norm.std)
    assert sorted(p.name for p in (tmp_path / "stats").iterdir()) == ["Mean.npy", "Std.npy"]


def test_loads_humanml3d_statistics():
    stats = Normalizer.load(shared_data("humanml3d-sample"))
    feats = np.load(shared_data("humanml3d-sample", "new_joint_vecs", "012314.npy"))
    assert np.abs(stats.normalize(feats)).max() < 50  # a real clip lands within the dataset's spread


@pytest.mark.parametrize(
    ("mean", "std", "match"),
    [
        (np.zeros(FEATURE_DIM - 1), np.ones(FEATURE_DIM - 1), r"mean must have shape \(263,\), got \(262,\)"),
        (np.zeros(FEATURE_DIM), np.ones((1, FEATURE_DIM)), r"std must have shape \(263,\), got \(1, 263\)"),
        (np.full(FEATURE_DIM, np.nan), np.ones(FEATURE_DIM), "mean contains NaN or inf"),
        (np.zeros(FEATURE_DIM), np.r_[np.ones(FEATURE_DIM - 1), 0.0], r"std must be > 0.*\[262\]"),
        (np.zeros(FEATURE_DIM, dtype=object), np.ones(FEATURE_DIM), "real numbers"),
    ],
)
def test_bad_statistics_raise(mean, std, match):
    with pytest.raises(InvalidMotionError, match=match):
        Normalizer(mean, std)


def test_bad_inputs_raise(norm, tmp_path):
    with pytest.raises(InvalidMotionError, match=r"x must have shape \(\.\.\., 263\), got \(4, 251\)"):
        norm.normalize(np.zeros((4, 251)))
    with pytest.raises(CorpusError, match="Mean.npy is missing"):
        Normalizer.load(tmp_path)
    np.save(tmp_path / "Mean.npy", np.zeros(FEATURE_DIM))
    np.save(tmp_path / "Std.npy", np.zeros(FEATURE_DIM))
    with pytest.raises(CorpusError, match="std must be > 0"):
        Normalizer.load(tmp_path)


def test_tokenizer_and_evaluator_normalise_as_the_normalizer(norm):
    """One normalisation: the modules' buffers give what ``Normalizer`` gives, and reject what it rejects."""
    from conftest import tiny_evaluator_config
    from motiongpt.eval.evaluator import T2MEvaluator
    from motiongpt.tokenizer.config import VQConfig
    from motiongpt.tokenizer.model import MotionTokenizer

    x = np.random.default_rng(2).normal(size=(2, 8, FEATURE_DIM)).astype(np.float32)
    tiny = VQConfig(width=32, code_dim=32, codebook_size=16, depth=2)
    tokenizer = MotionTokenizer(tiny, mean=norm.mean, std=norm.std)
    evaluator = T2MEvaluator(tiny_evaluator_config(), norm.mean, norm.std)
    for module in (tokenizer, evaluator):
        z = module.normalize(torch.from_numpy(x))
        np.testing.assert_allclose(z.numpy(), norm.normalize(x), rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(module.denormalize(z).numpy(), x, rtol=1e-5, atol=1e-5)
    bad_std = np.r_[np.ones(FEATURE_DIM - 1), 0.0]
    with pytest.raises(InvalidMotionError, match=r"std must be > 0.*\[262\]"):
        MotionTokenizer(tiny, mean=norm.mean, std=bad_std)
    with pytest.raises(InvalidMotionError, match=r"mean must have shape \(263,\), got \(4,\)"):
        T2MEvaluator(tiny_evaluator_config(), np.zeros(4), None)
