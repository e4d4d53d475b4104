"""Reconstruction metrics on hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest

from motiongpt.eval.recon import accel_error, mpjpe, pa_mpjpe, procrustes_align


def _rot_y(deg: float) -> np.ndarray:
    a = np.deg2rad(deg)
    return np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])


def test_mpjpe_hand_computed() -> None:
    gt = np.zeros((1, 2, 3))  # T=1, J=2 at the origin
    pred = np.array([[[0.0, 0, 0], [3.0, 4.0, 0]]])  # joint 1 off by 5, root exact
    assert mpjpe(pred, gt) == pytest.approx(2.5)  # (0 + 5) / 2
    # a global translation is removed by root alignment but counts without it
    shifted = gt + np.array([1.0, 0, 0])
    assert mpjpe(shifted, gt) == pytest.approx(0.0)
    assert mpjpe(shifted, gt, root=None) == pytest.approx(1.0)
    per_frame = mpjpe(np.concatenate([pred, gt]), np.concatenate([gt, gt]), reduce=False)
    np.testing.assert_allclose(per_frame, [2.5, 0.0])


def test_pa_mpjpe_removes_similarity_transforms_per_frame() -> None:
    rng = np.random.default_rng(0)
    gt = rng.normal(size=(3, 22, 3))
    pred = np.stack([s * gt[t] @ _rot_y(a).T + off for t, (s, a, off) in
                     enumerate([(1.0, 0, 0.0), (2.0, 30, 1.0), (0.5, -75, -3.0)])])  # fmt: skip
    assert pa_mpjpe(pred, gt) == pytest.approx(0.0, abs=1e-9)
    assert mpjpe(pred, gt) > 0.1
    np.testing.assert_allclose(procrustes_align(pred, gt), gt, atol=1e-9)


def test_pa_mpjpe_hand_computed_and_no_reflection() -> None:
    # Two points on the x axis vs two points on the y axis: a rotation + scale maps one onto the other.
    gt = np.array([[[0.0, 1, 0], [0, -1, 0]]])
    pred = np.array([[[2.0, 0, 0], [-2, 0, 0]]])
    assert pa_mpjpe(pred, gt) == pytest.approx(0.0, abs=1e-9)
    # A mirrored tetrahedron cannot be matched by a proper rotation: the error stays > 0.
    tet = np.array([[[0.0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]]])
    mirrored = tet * np.array([-1.0, 1, 1])
    assert pa_mpjpe(mirrored, tet) > 0.1
    aligned = procrustes_align(mirrored, tet)
    r = np.linalg.lstsq(mirrored[0] - mirrored[0].mean(0), aligned[0] - aligned[0].mean(0), rcond=None)[0]
    assert np.linalg.det(r) > 0


def test_pa_mpjpe_hand_computed_value() -> None:
    gt = np.array([[[-1.0, 0, 0], [1, 0, 0], [0, 0, 0]]])
    pred = np.array([[[-1.0, 0, 0], [1, 0, 0], [0, 3, 0]]])
    # Centred pred: (-1,-1,0), (1,-1,0), (0,2,0); centred gt: (-1,0,0), (1,0,0), (0,0,0).
    # Cross-covariance diag(2, 0, 0): no rotation helps; scale = 2 / |pred|^2 = 2 / 8 = 0.25.
    # Aligned: (-.25,-.25,0), (.25,-.25,0), (0,.5,0) -> errors sqrt(.625), sqrt(.625), .5.
    expected = (2 * np.sqrt(0.625) + 0.5) / 3  # 0.69371...
    assert pa_mpjpe(pred, gt) == pytest.approx(expected)
    assert pa_mpjpe(pred, gt) == pytest.approx(0.693713, abs=1e-6)


def test_accel_error_hand_computed() -> None:
    t = np.arange(5, dtype=float)
    gt = np.zeros((5, 2, 3))
    pred = np.zeros((5, 2, 3))
    pred[:, 1, 0] = t**2  # joint 1 accelerates: x'' = 2 per frame^2, root still
    assert accel_error(pred, gt) == pytest.approx(1.0)  # (0 + 2) / 2 joints
    pred_lin = np.zeros((5, 2, 3))
    pred_lin[:, 1, 0] = 3 * t  # constant velocity: no acceleration error
    assert accel_error(pred_lin, gt) == pytest.approx(0.0)
    assert accel_error(pred, gt, reduce=False).shape == (3,)


def test_bad_inputs() -> None:
    with pytest.raises(ValueError, match="same shape"):
        mpjpe(np.zeros((2, 22, 3)), np.zeros((3, 22, 3)))
    with pytest.raises(ValueError, match=r"\(\.\.\., T, J, 3\)"):
        mpjpe(np.zeros((2, 22)), np.zeros((2, 22)))
    with pytest.raises(ValueError, match="3 frames"):
        accel_error(np.zeros((2, 22, 3)), np.zeros((2, 22, 3)))
    bad = np.zeros((2, 22, 3))
    bad[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="finite"):
        pa_mpjpe(bad, np.zeros((2, 22, 3)))


def test_accel_error_global_joints_is_motiongpts_definition() -> None:
    """A root that accelerates with the whole body: no error root-aligned, but an error on global joints
    (MotionGPT's definition), which ``evaluate_recon`` reports as ``accel_error_global_mm``."""
    t = np.arange(5, dtype=float)
    gt = np.zeros((5, 2, 3))
    pred = np.zeros((5, 2, 3))
    pred[:, :, 0] = (t**2)[:, None]  # both joints (root included) accelerate: x'' = 2 per frame^2
    assert accel_error(pred, gt) == pytest.approx(0.0)
    assert accel_error(pred, gt, root=None) == pytest.approx(2.0)


def test_evaluate_recon_names_both_acceleration_definitions(tmp_path) -> None:
    """The result names which acceleration error is MotionGPT's (global joints) and which is root-aligned,
    and the two differ on a tokenizer that does not reconstruct the root's path exactly."""
    from conftest import write_tiny_corpus
    from motiongpt.eval.recon import ACCEL_NOTE, evaluate_recon
    from motiongpt.tokenizer.config import VQConfig
    from motiongpt.tokenizer.model import MotionTokenizer

    corpus = write_tiny_corpus(tmp_path / "c", n_clips=6)
    tok = MotionTokenizer(VQConfig(width=16, code_dim=16, codebook_size=16, depth=1))
    tok.save_pretrained(tmp_path / "vq")
    out = evaluate_recon(tmp_path / "vq", corpus, split="train", batch_size=4)
    assert out["notes"] == [ACCEL_NOTE]
    assert "root-aligned" in ACCEL_NOTE and "global" in ACCEL_NOTE and "accel_error_global_mm" in ACCEL_NOTE
    assert np.isfinite(out["accel_error_mm"]) and np.isfinite(out["accel_error_global_mm"])
    assert out["accel_error_mm"] != out["accel_error_global_mm"]
