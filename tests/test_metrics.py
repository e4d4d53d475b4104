"""Known-answer tests for motiongpt.eval.metrics."""

from __future__ import annotations

import numpy as np
import pytest

from motiongpt.errors import MetricInputError, MotionGPTError
from motiongpt.eval import metrics as M
from motiongpt.eval.pairs import distinct_text_order


def test_distance_matrix_hand_computed():
    a = np.array([[0.0, 0.0], [3.0, 4.0]])
    b = np.array([[0.0, 0.0], [0.0, 1.0], [6.0, 8.0]])
    np.testing.assert_allclose(
        M.euclidean_distance_matrix(a, b), [[0, 1, 10], [5, np.sqrt(18), 5]], atol=1e-12
    )


def test_r_precision_perfect_embedding_is_one():
    e = np.eye(64) * 10
    np.testing.assert_array_equal(M.r_precision(e, e, 3, 32), [1.0, 1.0, 1.0])


def test_r_precision_hand_computed():
    # one batch of 4 on a line. Text i is paired with motion i.
    t = np.array([[0.0], [10.0], [20.0], [30.0]])
    m = np.array([[0.0], [18.5], [11.0], [26.0]])
    # t0: own at 0 -> 1st. t1 (10): d = 10, 8.5, 1, 16 -> own m1 2nd.
    # t2 (20): d = 20, 1.5, 9, 6 -> own m2 3rd. t3 (30): d = 30, 11.5, 19, 4 -> 1st.
    np.testing.assert_allclose(M.r_precision(t, m, 3, 4), [2 / 4, 3 / 4, 4 / 4])


def test_r_precision_drops_incomplete_batch_and_checks_size():
    e = np.eye(40)
    assert M.r_precision(e, e, 1, 32)[0] == 1.0
    with pytest.raises(MetricInputError, match="at least batch_size=32"):
        M.r_precision(e[:10], e[:10], 3, 32)


def test_fid_identical_sets_is_zero_and_shift_is_squared_norm():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(500, 16))
    assert abs(M.fid(x, x)) < 1e-6
    assert M.fid(x, x + 2.0) == pytest.approx(16 * 4.0, rel=1e-6)


def test_fid_identical_rank_deficient_sets_is_not_negative():
    # fewer samples than dims (singular covariance): sqrtm round-off must not give a negative FID
    x = np.random.default_rng(0).normal(size=(412, 512)) * 20
    assert M.fid(x, x) == 0.0


def test_fid_of_gaussians_closed_form():
    # 1-D: N(0, 1) vs N(0, 4): (1 + 4 - 2*2) = 1 with exact sample moments.
    x = np.array([-1.0, 1.0, -1.0, 1.0])  # sample var (ddof=1) = 4/3
    y = 2 * x
    var = np.var(x, ddof=1)
    assert M.fid(x[:, None], y[:, None]) == pytest.approx(var + 4 * var - 2 * 2 * var, abs=1e-9)


def test_mm_dist_hand_computed():
    t = np.array([[0.0, 0.0], [1.0, 1.0]])
    m = np.array([[3.0, 4.0], [1.0, 2.0]])
    assert M.mm_dist(t, m) == pytest.approx(3.0)


def test_diversity_known_sets():
    assert M.diversity(np.ones((400, 8)), 300, seed=0) == 0.0
    rng = np.random.default_rng(1)
    x = rng.normal(size=(400, 8))
    assert M.diversity(3 * x, 300, seed=5) == pytest.approx(3 * M.diversity(x, 300, seed=5))
    # two points at distance 5, both pairs drawn: each pair is either (i, i) -> 0 or (i, j) -> 5
    assert M.diversity(np.array([[0.0], [5.0]]), 2, seed=0) in (0.0, 2.5, 5.0)
    # reproduce by hand with the same generator
    g = np.random.default_rng(7)
    a, b = g.choice(400, 300, replace=False), g.choice(400, 300, replace=False)
    assert M.diversity(x, 300, seed=7) == pytest.approx(np.linalg.norm(x[a] - x[b], axis=1).mean())


def test_multimodality_known_set():
    # every sample of prompt p sits at p + {0 or 1} on alternating axis -> distances in {0, 1}
    emb = np.zeros((5, 20, 2))
    emb[:, ::2, 0] = 1.0
    val = M.multimodality(emb, 10, seed=0)
    g = np.random.default_rng(0)
    a, b = g.choice(20, 10, replace=False), g.choice(20, 10, replace=False)
    assert val == pytest.approx(np.mean((a % 2) != (b % 2)))
    assert M.multimodality(np.ones((3, 30, 4)), 10, seed=0) == 0.0


def test_ade_fde_hand_computed():
    gt = np.zeros((4, 2, 3))
    pred = np.zeros((4, 2, 3))
    pred[2, 0, 0] = 3.0
    pred[2, 1, 1] = 4.0  # frame 2: pose diff norm 5, per-joint mean 3.5
    pred[3, :, 2] = 1.0  # frame 3: pose norm sqrt(2), per-joint 1
    ade, fde = M.ade_fde(pred, gt, start=2)
    assert ade == pytest.approx((5 + np.sqrt(2)) / 2) and fde == pytest.approx(np.sqrt(2))
    ade, fde = M.ade_fde(pred[None], gt[None], start=2, reduce="joint")
    assert ade == pytest.approx((3.5 + 1) / 2) and fde == pytest.approx(1.0)


def test_mean_ci():
    mean, ci = M.mean_ci([1.0, 2.0, 3.0, 4.0])
    assert mean == 2.5 and ci == pytest.approx(1.96 * np.std([1, 2, 3, 4]) / 2)
    assert M.mean_ci([5.0]) == (5.0, 0.0)


@pytest.mark.parametrize(
    "call",
    [
        lambda: M.r_precision(np.ones((32, 4)), np.ones((33, 4))),
        lambda: M.mm_dist(np.ones((3, 4)), np.ones((2, 4))),
        lambda: M.fid(np.full((5, 2), np.nan), np.ones((5, 2))),
        lambda: M.fid(np.ones((5, 2)), np.ones((5, 3))),
        lambda: M.diversity(np.ones((10, 2)), 300),
        lambda: M.diversity(np.array([[np.inf, 0.0]] * 400)),
        lambda: M.multimodality(np.ones((3, 5, 2)), 10),
        lambda: M.ade_fde(np.ones((4, 2, 3)), np.ones((5, 2, 3))),
        lambda: M.ade_fde(np.ones((4, 2, 3)), np.ones((4, 2, 3)), start=4),
        lambda: M.mean_ci([]),
        lambda: M.r_precision(np.ones(32), np.ones(32)),
    ],
)
def test_bad_inputs_raise_motiongpt_error(call):
    with pytest.raises(MotionGPTError):
        call()


def test_nan_message_names_argument():
    t = np.ones((32, 4))
    t[3, 1] = np.nan
    with pytest.raises(MetricInputError, match="text_emb contains NaN"):
        M.r_precision(t, np.ones((32, 4)))


def test_distinct_text_order():
    texts = ["a", "a", "b", "c", "a", "b", "c", "d"]
    order = distinct_text_order(texts, batch_size=2)
    batches = order.reshape(-1, 2)
    assert all(texts[i] != texts[j] for i, j in batches)
    assert len(set(order.tolist())) == len(order) == 8
    assert len(distinct_text_order(["a"] * 10, 2)) == 0


def _sqrtm_psd(s: np.ndarray) -> np.ndarray:
    """The symmetric square root of a positive semi-definite matrix, from its eigendecomposition."""
    w, v = np.linalg.eigh(s)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def test_fid_two_different_full_covariances_closed_form():
    """Non-commuting full covariances: FID = |mu_a - mu_b|^2 + tr(S_a + S_b - 2 (S_a^1/2 S_b S_a^1/2)^1/2),
    the symmetric form of tr sqrtm(S_a S_b), computed here with eigh (no scipy.sqrtm)."""
    rng = np.random.default_rng(3)
    d = 6
    a = rng.normal(size=(2000, d)) @ rng.normal(size=(d, d)) + rng.normal(size=d)
    b = rng.normal(size=(1500, d)) @ rng.normal(size=(d, d)) * 0.7 - 1.0
    s_a, s_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    assert not np.allclose(s_a @ s_b, s_b @ s_a, atol=1e-3)  # the case where the order matters
    root_a = _sqrtm_psd(s_a)
    cross = np.trace(_sqrtm_psd(root_a @ s_b @ root_a))
    want = np.sum((a.mean(0) - b.mean(0)) ** 2) + np.trace(s_a) + np.trace(s_b) - 2 * cross
    assert M.fid(a, b) == pytest.approx(want, rel=1e-8)
    assert M.fid(b, a) == pytest.approx(want, rel=1e-8)  # symmetric


def test_fid_of_two_known_gaussians():
    """2-D Gaussians with exact (whitened) sample moments: S_a = diag(4, 1), S_b = R diag(1, 9) R^T with
    R a 45-degree rotation; the product of square roots is not the square root of the product."""
    rng = np.random.default_rng(0)
    z = rng.normal(size=(4000, 2))
    z = (z - z.mean(0)) @ np.linalg.inv(np.linalg.cholesky(np.cov(z, rowvar=False))).T  # cov exactly I
    rot = np.array([[1.0, -1.0], [1.0, 1.0]]) / np.sqrt(2)
    s_a, s_b = np.diag([4.0, 1.0]), rot @ np.diag([1.0, 9.0]) @ rot.T
    a = z @ np.linalg.cholesky(s_a).T
    b = z @ np.linalg.cholesky(s_b).T + np.array([3.0, 4.0])
    # tr sqrtm(S_a S_b) = sqrt(tr(S_a S_b) + 2 sqrt(det(S_a S_b))) for 2x2 PSD matrices
    tr_root = np.sqrt(np.trace(s_a @ s_b) + 2 * np.sqrt(np.linalg.det(s_a @ s_b)))
    want = 25.0 + 5.0 + 10.0 - 2 * tr_root
    assert M.fid(a, b) == pytest.approx(want, rel=1e-9)


def test_diversity_of_equidistant_and_two_cluster_sets():
    """Answers that do not depend on which pairs are drawn (no replay of the generator)."""
    d = 3.0
    simplex = np.eye(400) * d / np.sqrt(2)  # every two points at distance d
    for seed in range(3):
        # a pair is (i, i) with probability 1/400 only
        assert 0.97 * d <= M.diversity(simplex, 300, seed=seed) <= d
    two = np.zeros((400, 3))
    two[200:, 0] = 10.0  # a pair crosses the clusters with probability 1/2 -> mean 5
    for seed in range(3):
        assert 4.0 < M.diversity(two, 300, seed=seed) < 6.0


def test_multimodality_is_within_prompt_distance():
    """Prompt p's 30 samples are equidistant at d_p; the prompts sit far apart and must not count."""
    dists = np.array([1.0, 2.0, 3.0, 6.0])
    emb = np.stack([np.eye(30) * dp / np.sqrt(2) + 1000.0 * p for p, dp in enumerate(dists)])  # (4, 30, 30)
    for seed in range(3):
        value = M.multimodality(emb, 10, seed=seed)
        # each pair is (i, i) with probability 1/30: expected 0.967 * mean(d_p)
        assert 0.8 * dists.mean() <= value <= dists.mean()
