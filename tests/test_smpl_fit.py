"""Fitting SMPL to a motion (``motiongpt fit-smpl``, ``motiongpt.motion.smpl_fit``) on a stand-in body model
written in SMPL's file format (SMPL's own files may not be shipped): motions posed by smplx itself with known
parameters are recovered, the files are what a user gets, and a missing model says what to download."""

from __future__ import annotations

import pickle
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import MOTIONGPT_CLI
from motiongpt.errors import CheckpointError, InvalidMotionError
from motiongpt.motion import smpl_fit
from motiongpt.motion.smpl_fit import find_smpl_model, fit_smpl

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from smpl_standin import pose_with_smplx, random_motion, standin_arrays, write_standin_smpl  # noqa: E402

try:
    import smplx  # noqa: F401

    HAVE_SMPLX = True
except ModuleNotFoundError:
    HAVE_SMPLX = False
needs_smplx = pytest.mark.skipif(
    not HAVE_SMPLX, reason="smplx is not installed (pip install 'motiongpt[smpl]')"
)

N_FRAMES = 12


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("smpl")
    write_standin_smpl(folder)
    return folder


@pytest.fixture(scope="module")
def posed(model_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """A motion (T, 22, 3) posed by smplx from known parameters (the body turns a full circle), and the
    true vertices."""
    if not HAVE_SMPLX:
        pytest.skip("smplx is not installed (pip install 'motiongpt[smpl]')")
    root, body, transl = random_motion(N_FRAMES)
    return pose_with_smplx(model_dir / "SMPL_NEUTRAL.pkl", root, body, transl)


@needs_smplx
def test_fit_recovers_the_joints_of_a_motion_posed_by_smplx(model_dir: Path, posed) -> None:
    joints, true_vertices = posed
    fit = fit_smpl(joints, model_dir, iterations=40)
    assert fit.vertices.shape == true_vertices.shape and fit.joints.shape == joints.shape
    errors = np.linalg.norm(fit.joints - joints, axis=-1)
    assert fit.error_mm < 1.0 and errors.max() < 0.003, (fit.error_mm, errors.max())
    assert fit.error_mm == pytest.approx(errors.mean() * 1000, rel=1e-3)
    assert fit.faces.shape[1] == 3 and fit.faces.max() < fit.vertices.shape[1]
    assert fit.global_orient.shape == (N_FRAMES, 3) and fit.body_pose.shape == (N_FRAMES, 69)
    assert not fit.betas.any()  # the mean shape unless asked
    # the parameters are SMPL's: smplx posing them gives the fit's vertices and joints
    joints_back, vertices_back = pose_with_smplx(model_dir / "SMPL_NEUTRAL.pkl", fit.global_orient,
                                                 fit.body_pose, fit.transl)  # fmt: skip
    np.testing.assert_allclose(vertices_back, fit.vertices, atol=1e-4)
    np.testing.assert_allclose(joints_back, fit.joints, atol=1e-4)
    # the analytic guess alone already puts the joints in place; the optimiser keeps them there
    assert fit_smpl(joints, model_dir, iterations=0).error_mm < 0.5


@needs_smplx
def test_fit_shape_recovers_a_body_the_mean_shape_cannot_take(model_dir: Path) -> None:
    betas = np.zeros(10)
    betas[:3] = (1.0, -1.5, 2.0)  # taller, shorter legs, longer arms
    joints, _ = pose_with_smplx(model_dir / "SMPL_NEUTRAL.pkl", *random_motion(8, seed=1), betas)
    mean_shape = fit_smpl(joints, model_dir, iterations=40)
    fitted = fit_smpl(joints, model_dir, fit_betas=True, iterations=150)
    assert mean_shape.error_mm > 10, mean_shape.error_mm
    assert fitted.error_mm < 3, fitted.error_mm
    np.testing.assert_allclose(fitted.betas[:3], betas[:3], atol=0.5)


@needs_smplx
def test_model_files_load_as_npz_and_as_smpl_pickles_with_chumpy_and_sparse_arrays(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import scipy.sparse

    arrays = standin_arrays()
    # SMPL's downloads keep some arrays as chumpy objects (their value in the state's "x") and the joint
    # regressor as a scipy sparse matrix: a pickle made like that, without chumpy installed to read it
    fake = type("Ch", (), {"__module__": "chumpy.ch", "__getstate__": lambda self: {"x": self.x}})
    monkeypatch.setitem(sys.modules, "chumpy", type(sys)("chumpy"))
    monkeypatch.setitem(sys.modules, "chumpy.ch", type(sys)("chumpy.ch"))
    sys.modules["chumpy.ch"].Ch = fake
    shapedirs = fake()
    shapedirs.x = arrays["shapedirs"]
    original = dict(arrays, shapedirs=shapedirs, J_regressor=scipy.sparse.csc_matrix(arrays["J_regressor"]))
    (tmp_path / "download").mkdir()
    (tmp_path / "download" / "basicmodel_neutral_lbs_10_207_0_v1.1.0.pkl").write_bytes(
        pickle.dumps(original, protocol=2))  # fmt: skip
    monkeypatch.delitem(sys.modules, "chumpy.ch")
    monkeypatch.delitem(sys.modules, "chumpy")
    write_standin_smpl(tmp_path / "npz", fmt="npz")
    a = smpl_fit.load_smpl_model(tmp_path / "download")
    b = smpl_fit.load_smpl_model(tmp_path / "npz")
    for name in ("v_template", "shapedirs", "posedirs", "J_regressor", "lbs_weights", "parents"):
        np.testing.assert_array_equal(getattr(a, name).numpy(), getattr(b, name).numpy(), err_msg=name)


class _Evil:
    def __reduce__(self):
        return (print, ("this must never run",))


def test_a_model_pickle_cannot_run_code_and_a_wrong_tree_is_refused(tmp_path: Path, capsys) -> None:
    pytest.importorskip("smplx", reason="smplx is not installed (pip install 'motiongpt[smpl]')")
    (tmp_path / "SMPL_NEUTRAL.pkl").write_bytes(pickle.dumps(dict(standin_arrays(), f=_Evil())))
    with pytest.raises(CheckpointError, match="refusing to build builtins.print"):
        smpl_fit.load_smpl_model(tmp_path)
    assert "never run" not in capsys.readouterr().out
    arrays = standin_arrays()
    arrays["kintree_table"][0, 5] = 3  # r_knee hung off spine1: not SMPL's tree
    np.savez(tmp_path / "SMPL_NEUTRAL.npz", **arrays)
    with pytest.raises(CheckpointError, match="not an SMPL body model: kintree_table"):
        smpl_fit.load_smpl_model(tmp_path / "SMPL_NEUTRAL.npz")


def test_a_missing_model_says_what_to_download_and_where(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError) as info:
        find_smpl_model(tmp_path / "smpl")
    message = str(info.value)
    assert "smpl.is.tue.mpg.de" in message and "SMPL_NEUTRAL.pkl" in message and str(tmp_path) in message
    assert "\n" not in message
    with pytest.raises(CheckpointError, match="SMPL_FEMALE.pkl"):
        find_smpl_model(tmp_path, gender="female")
    with pytest.raises(ValueError, match="gender must be one of"):
        find_smpl_model(tmp_path, gender="robot")


@pytest.mark.parametrize(
    ("joints", "match"),
    [
        (np.zeros((10, 21, 3)), r"shape \(\.\.\., T, 22, 3\)"),
        (np.zeros((2, 10, 22, 3)), r"shape \(T, 22, 3\)"),
        (np.full((10, 22, 3), np.nan), "NaN"),
    ],
)
def test_bad_motion_is_refused_before_the_model_is_looked_for(tmp_path: Path, joints, match: str) -> None:
    with pytest.raises(InvalidMotionError, match=match):
        fit_smpl(joints, tmp_path / "no_model_here")


def _cli(*args: object) -> subprocess.CompletedProcess:
    return subprocess.run([*MOTIONGPT_CLI, "fit-smpl", *map(str, args)], capture_output=True, text=True,
                          timeout=600)  # fmt: skip


@needs_smplx
def test_cli_writes_vertices_meshes_parameters_and_a_video(tmp_path: Path, model_dir: Path, posed) -> None:
    joints, true_vertices = posed
    np.save(tmp_path / "walk.npy", joints)
    result = _cli(tmp_path / "walk.npy", "--smpl-dir", model_dir, "--out", tmp_path / "out" / "walk",
                  "--iterations", 20, "--video")  # fmt: skip
    assert result.returncode == 0, result.stderr
    error = float(re.search(r"mean joint error: ([\d.]+) mm", result.stdout).group(1))
    assert error < 2, result.stdout
    out = tmp_path / "out"
    vertices = np.load(out / "walk_verts.npy")
    assert vertices.shape == true_vertices.shape and vertices.dtype == np.float32
    params = np.load(out / "walk_smpl.npz")
    assert params["body_pose"].shape == (N_FRAMES, 69) and params["transl"].shape == (N_FRAMES, 3)
    meshes = sorted((out / "walk_obj").glob("*.obj"))
    assert [m.name for m in meshes[:2]] == ["frame_0000.obj", "frame_0001.obj"] and len(meshes) == N_FRAMES
    lines = meshes[-1].read_text().splitlines()
    v = np.array([[float(x) for x in line.split()[1:]] for line in lines if line.startswith("v ")])
    f = np.array([[int(x) for x in line.split()[1:]] for line in lines if line.startswith("f ")])
    np.testing.assert_allclose(v, vertices[-1], atol=1e-5)
    assert f.min() == 1 and f.max() == len(v) and len(f) == len(params["faces"])
    assert (out / "walk.mp4").stat().st_size > 1000
    assert not [p for p in out.iterdir() if p.name.startswith(".") or p.name.endswith(".tmp")]


def test_cli_without_the_model_files_says_what_to_download(tmp_path: Path) -> None:
    np.save(tmp_path / "walk.npy", np.zeros((4, 22, 3), np.float32))
    result = _cli(tmp_path / "walk.npy", "--smpl-dir", tmp_path / "smpl", "--out", tmp_path / "walk")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: no SMPL body model in "), result.stderr
    assert "smpl.is.tue.mpg.de" in lines[0] and "SMPL_NEUTRAL.pkl" in lines[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["walk.npy"]


def test_cli_bad_motion_is_one_line(tmp_path: Path) -> None:
    bad = np.zeros((4, 22, 3), np.float32)
    bad[2, 3, 1] = np.nan
    np.save(tmp_path / "bad.npy", bad)
    np.save(tmp_path / "flat.npy", np.zeros((4, 66), np.float32))
    for name in ("bad.npy", "flat.npy"):
        result = _cli(tmp_path / name, "--smpl-dir", tmp_path, "--out", tmp_path / "fit")
        assert result.returncode == 2
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.npy", "flat.npy"]


def test_video_points_must_match_the_frames(tmp_path: Path) -> None:
    from motiongpt.render import render_video

    joints = np.zeros((3, 22, 3))
    with pytest.raises(InvalidMotionError, match=r"points must have shape \(3, P, 3\)"):
        render_video(joints, tmp_path / "x.mp4", points=np.zeros((2, 10, 3)))
    assert not (tmp_path / "x.mp4").exists()
