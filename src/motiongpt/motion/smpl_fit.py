"""The SMPL body mesh fitted to a motion's 22 joints: vertices, pose parameters and the fitting error.

SMPL's model files may not be redistributed (smpl.is.tue.mpg.de, free registration), so motiongpt ships
none: a user who has them passes their folder to :func:`fit_smpl` (``motiongpt fit-smpl``). The body model
is read with ``smplx`` (the ``[smpl]`` extra, imported only here and only when called).

How a motion ``(T, 22, 3)`` (metres, Y up, SMPL joint order: SMPL's own axes and order, so nothing is
converted) becomes SMPL parameters, all on CPU:

1. The model's rest joints ``J = J_regressor (v_template + shapedirs betas)``: ``(24, 3)``.
2. An analytic guess per frame, parent before child: the pelvis and spine3 turn their three child bones
   onto the motion's (Kabsch), every other joint with one child turns its bone onto the motion's by the
   shortest arc (no twist); joints without a child in the 22 (feet, head, wrists, hands) stay at rest;
   the translation puts the pelvis on the motion's.
3. All frames optimised together from that guess (Adam, a few hundred steps, the rotations as continuous
   6D): squared joint distance, plus a small smoothness term between consecutive frames' rotations (it
   keeps the limb twists, which joint positions do not fix, from flickering) and a small pull of every
   joint rotation but the root's towards rest (it picks the least twisted of the poses that fit). Joints
   do not depend on SMPL's pose blend shapes, so the loop runs forward kinematics on 24 joints, never the
   mesh; the vertices are computed once at the end with smplx's linear blend skinning.
4. Optionally (``fit_betas``) one body shape for the whole motion, with a small pull towards the mean
   shape; else ``betas = 0``, SMPL's mean body.

The fitting error is the mean distance over frames and the 22 joints between the motion and the fitted
body's joints, in millimetres. Bone lengths the model cannot take (betas at 0, or a skeleton unlike any
human body) are what remains of it.
"""

from __future__ import annotations

import contextlib
import copyreg
import importlib
import io
import logging
import math
import os
import pickle
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from motiongpt._io import atomic_dir, atomic_path, atomic_save_npy
from motiongpt._lazy import require
from motiongpt.errors import CheckpointError, InvalidMotionError
from motiongpt.motion.rotations import cont6d_to_matrix
from motiongpt.motion.skeleton import N_JOINTS, PARENTS
from motiongpt.motion.validate import check_joints

logger = logging.getLogger(__name__)

__all__ = ["SMPLFiles", "SMPLFit", "find_smpl_model", "fit_smpl", "load_smpl_model"]

SMPL_URL = "https://smpl.is.tue.mpg.de"
GENDERS = ("neutral", "male", "female")
# The names a model file has: smplx's (SMPL_NEUTRAL.pkl), the same converted to .npz, and those of the
# downloads (SMPL_python_v.1.1.0: basicmodel_{neutral,m,f}_lbs_10_207_0_v1.1.0.pkl; SMPLify's v1.0.0).
_FILE_NAMES = {
    "neutral": ("SMPL_NEUTRAL", "basicmodel_neutral_lbs_10_207_0_v1.1.0",
                "basicModel_neutral_lbs_10_207_0_v1.0.0"),
    "male": ("SMPL_MALE", "basicmodel_m_lbs_10_207_0_v1.1.0", "basicModel_m_lbs_10_207_0_v1.0.0"),
    "female": ("SMPL_FEMALE", "basicmodel_f_lbs_10_207_0_v1.1.0", "basicModel_f_lbs_10_207_0_v1.0.0"),
}
N_MODEL_JOINTS = 24  # SMPL's joints: our 22 and the two hands
_NUM_BETAS = 10
_VIDEO_POINTS = 1500  # at most this many vertices are drawn in a video

VideoWriter = Callable[..., Any]  # video(joints (T, 22, 3), path, title=None, points=(T, P, 3)) -> path


# --- the model file ---------------------------------------------------------------------------------------


def find_smpl_model(model_dir: str | os.PathLike, gender: str = "neutral") -> Path:
    """The SMPL model file of ``gender`` in ``model_dir`` (or ``model_dir/smpl``), or ``model_dir`` itself
    when it is a file.

    Raises:
        ValueError: ``gender`` is not neutral, male or female.
        CheckpointError: no model file there; the message says what to download and where to put it.
    """
    if gender not in GENDERS:
        raise ValueError(f"gender must be one of {', '.join(GENDERS)}, got {gender!r}")
    root = Path(model_dir).expanduser()
    if root.is_file():
        return root
    for folder in (root, root / "smpl"):
        for stem in _FILE_NAMES[gender]:
            for suffix in (".pkl", ".npz"):
                if (folder / (stem + suffix)).is_file():
                    return folder / (stem + suffix)
    name = _FILE_NAMES[gender][0]
    where = "that folder" if root.is_dir() else "that folder (it does not exist)"
    raise CheckpointError(
        f"no SMPL body model in {root}: download SMPL from {SMPL_URL} (free registration; its licence "
        f"forbids shipping it with motiongpt) and put the {gender} model in {where} as {name}.pkl or "
        f"{name}.npz"
    )


class _ChumpyArray:
    """Stands in for a chumpy object while unpickling (SMPL's original files hold some arrays as chumpy
    ``Ch``, whose pickled state keeps the value as ``x``); chumpy itself is never imported."""

    def __setstate__(self, state: Any) -> None:
        self.state = state

    def value(self) -> np.ndarray:
        state = getattr(self, "state", None)
        if not isinstance(state, dict) or "x" not in state:
            raise pickle.UnpicklingError("a chumpy expression other than a plain array")
        return np.asarray(state["x"])


class _ModelUnpickler(pickle.Unpickler):
    """Builds numpy arrays, scipy sparse matrices and stand-ins for chumpy arrays, and nothing else: a
    model file cannot run code."""

    def find_class(self, module: str, name: str) -> Any:
        root = module.split(".")[0]
        if root == "chumpy":
            return _ChumpyArray
        if root == "numpy" and name in {"_reconstruct", "scalar", "ndarray", "dtype"}:
            if module in {"numpy", "numpy.core.multiarray", "numpy._core.multiarray"}:
                return getattr(importlib.import_module("numpy._core.multiarray" if module != "numpy"
                                                       else "numpy"), name)  # fmt: skip
        if root == "scipy" and module.startswith("scipy.sparse") and name in {"csc_matrix", "csr_matrix",
                                                                               "coo_matrix"}:  # fmt: skip
            import scipy.sparse

            return getattr(scipy.sparse, name)
        if module in {"copy_reg", "copyreg"} and name in {"_reconstructor", "__newobj__"}:
            return getattr(copyreg, name)
        if module in {"__builtin__", "builtins"} and name == "object":
            return object
        if module == "_codecs" and name == "encode":  # bytes in a protocol-2 pickle written by Python 3
            import codecs

            return codecs.encode
        raise pickle.UnpicklingError(f"refusing to build {module}.{name}: not part of an SMPL model file")


_REQUIRED = ("v_template", "shapedirs", "posedirs", "J_regressor", "weights", "kintree_table", "f")


def _as_array(value: Any) -> np.ndarray:
    if isinstance(value, _ChumpyArray):
        return value.value()
    if hasattr(value, "toarray"):  # scipy sparse (SMPL's J_regressor)
        return np.asarray(value.toarray())
    return np.asarray(value)


def _read_model_file(path: Path) -> dict[str, np.ndarray]:
    """The arrays of an SMPL ``.pkl`` or ``.npz`` file, checked to be SMPL's 24-joint body."""
    try:
        if path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as z:
                raw: dict[str, Any] = {k: z[k] for k in z.files}
        else:
            raw = _ModelUnpickler(io.BytesIO(path.read_bytes()), encoding="latin1").load()
            if not isinstance(raw, dict):
                raise pickle.UnpicklingError(f"a {type(raw).__name__}, not a dict of arrays")
        missing = [k for k in _REQUIRED if k not in raw]
        if missing:
            raise ValueError(f"missing {', '.join(missing)}")
        arrays = {k: _as_array(raw[k]) for k in _REQUIRED}
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, OSError) as e:
        raise CheckpointError(f"{path} is not a readable SMPL model file ({e}); the files from {SMPL_URL} "
                              "are, or the same arrays in an .npz") from None  # fmt: skip
    v, j = arrays["v_template"], arrays["J_regressor"]
    n_verts = v.shape[0] if v.ndim == 2 else -1
    checks = [
        (v.ndim == 2 and v.shape[1] == 3, f"v_template {v.shape}, expected (V, 3)"),
        (j.shape == (N_MODEL_JOINTS, n_verts), f"J_regressor {j.shape}, expected ({N_MODEL_JOINTS}, V)"),
        (arrays["weights"].shape == (n_verts, N_MODEL_JOINTS), f"weights {arrays['weights'].shape}"),
        (arrays["shapedirs"].ndim == 3 and arrays["shapedirs"].shape[:2] == (n_verts, 3),
         f"shapedirs {arrays['shapedirs'].shape}"),
        (arrays["posedirs"].shape == (n_verts, 3, (N_MODEL_JOINTS - 1) * 9),
         f"posedirs {arrays['posedirs'].shape}"),
        (arrays["kintree_table"].shape == (2, N_MODEL_JOINTS) and
         tuple(int(p) for p in arrays["kintree_table"][0, 1:N_JOINTS]) == PARENTS[1:],
         "kintree_table is not SMPL's joint tree"),
        (arrays["f"].ndim == 2 and arrays["f"].shape[1] == 3 and 0 <= arrays["f"].min()
         and arrays["f"].max() < n_verts, "f is not triangles over the vertices"),
    ]  # fmt: skip
    for ok, what in checks:
        if not ok:
            raise CheckpointError(f"{path} is not an SMPL body model: {what}")
    if not all(np.isfinite(arrays[k]).all() for k in _REQUIRED if k not in ("kintree_table", "f")):
        raise CheckpointError(f"{path} is not an SMPL body model: it holds NaN or inf")
    return arrays


def load_smpl_model(model_dir: str | os.PathLike, gender: str = "neutral") -> Any:
    """An ``smplx.SMPL`` body model read from ``model_dir`` (see :func:`find_smpl_model`), on CPU.

    The file is read by motiongpt (``.npz`` without pickle, ``.pkl`` by an unpickler that builds arrays
    only and needs no chumpy) and handed to ``smplx.SMPL`` as its ``data_struct``.

    Raises:
        CheckpointError: no model file, or not an SMPL model. MissingExtraError: smplx is not installed.
    """
    path = find_smpl_model(model_dir, gender)
    smplx = require("smplx", "motiongpt fit-smpl")
    arrays = _read_model_file(path)
    from smplx.utils import Struct

    with contextlib.redirect_stdout(io.StringIO()) as said:  # smplx prints a notice about 10 betas
        model = smplx.SMPL(model_path=str(path), data_struct=Struct(**arrays), gender=gender,
                           num_betas=min(_NUM_BETAS, arrays["shapedirs"].shape[-1]), create_betas=False,
                           create_global_orient=False, create_body_pose=False,
                           create_transl=False)  # fmt: skip
    if said.getvalue().strip():
        logger.debug("smplx: %s", said.getvalue().strip())
    logger.debug("SMPL model %s: %d vertices, %d betas", path, model.get_num_verts(), model.num_betas)
    return model.eval()


# --- rotations ----------------------------------------------------------------------------------------------


def _shortest_arc(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Rotation matrices (..., 3, 3) turning directions ``u`` onto ``v`` (..., 3) by the shortest arc."""
    u = u / np.maximum(np.linalg.norm(u, axis=-1, keepdims=True), 1e-12)
    v = v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)
    axis = np.cross(u, v)
    s, c = np.linalg.norm(axis, axis=-1), (u * v).sum(-1)
    k = np.zeros(u.shape[:-1] + (3, 3))
    k[..., 0, 1], k[..., 0, 2], k[..., 1, 2] = -axis[..., 2], axis[..., 1], -axis[..., 0]
    k = k - np.swapaxes(k, -1, -2)  # skew matrix of the (unnormalised) axis
    scale = np.where(s > 1e-8, (1 - c) / np.maximum(s, 1e-8) ** 2, 0.5)
    out = np.eye(3) + k + (k @ k) * scale[..., None, None]
    # opposite directions: half a turn about any axis perpendicular to u
    half = c < -1 + 1e-8
    if half.any():
        w = np.where(np.abs(u[half, :1]) < 0.9, [1.0, 0.0, 0.0], [0.0, 1.0, 0.0])
        a = np.cross(u[half], w)
        a /= np.linalg.norm(a, axis=-1, keepdims=True)
        out[half] = 2 * a[:, :, None] * a[:, None, :] - np.eye(3)
    return out


def _kabsch(rest: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Rotations (T, 3, 3) best turning the rest vectors (C, 3) onto each frame's (T, C, 3)."""
    h = np.einsum("ci,tcj->tij", rest, target)  # (T, 3, 3)
    u, _, vt = np.linalg.svd(h)
    d = np.sign(np.linalg.det(np.swapaxes(vt, 1, 2) @ np.swapaxes(u, 1, 2)))
    fix = np.ones((len(h), 3))
    fix[:, 2] = np.where(d == 0, 1.0, d)
    return np.swapaxes(vt, 1, 2) @ (fix[:, :, None] * np.swapaxes(u, 1, 2))


def _initial_pose(target: np.ndarray, rest: np.ndarray, parents: np.ndarray) -> np.ndarray:
    """Local joint rotations (T, 24, 3, 3) that put the rest joints' bones (24, 3) along the motion's
    (T, 22, 3): step 2 of the module docstring."""
    n_frames = len(target)
    local = np.tile(np.eye(3), (n_frames, N_MODEL_JOINTS, 1, 1))
    world = np.tile(np.eye(3), (n_frames, N_MODEL_JOINTS, 1, 1))
    for j in range(N_MODEL_JOINTS):
        parent_world = world[:, parents[j]] if j > 0 else np.tile(np.eye(3), (n_frames, 1, 1))
        kids = [c for c in range(1, N_JOINTS) if parents[c] == j]
        if kids:
            bones_rest = rest[kids] - rest[j]  # (C, 3), in the parent's frame at rest
            bones = target[:, kids] - target[:, j : j + 1]  # (T, C, 3), world
            bones = np.einsum("tji,tcj->tci", parent_world, bones)  # into the parent's frame
            if len(kids) == 1:
                local[:, j] = _shortest_arc(np.broadcast_to(bones_rest[0], bones[:, 0].shape), bones[:, 0])
            else:
                local[:, j] = _kabsch(bones_rest, bones)
        world[:, j] = parent_world @ local[:, j]
    return local


def _adam(loss_fn: Callable[[], torch.Tensor], params: list[tuple[torch.Tensor, float]], steps: int) -> None:
    """Minimise ``loss_fn`` over ``params`` (tensor, step size) with Adam (betas 0.9, 0.999), the step
    sizes decaying on a cosine to 1 % of their start. Written out because ``torch.optim`` imports
    ``torch._dynamo`` (seconds of start-up, a minute on a loaded machine) for a few lines of arithmetic."""
    tensors = [p for p, _ in params]
    moments = [(torch.zeros_like(p), torch.zeros_like(p)) for p in tensors]
    for step in range(steps):
        grads = torch.autograd.grad(loss_fn(), tensors)
        decay = 0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * step / steps))
        with torch.no_grad():
            for (p, lr), (m, v), g in zip(params, moments, grads, strict=True):
                m.mul_(0.9).add_(g, alpha=0.1)
                v.mul_(0.999).addcmul_(g, g, value=0.001)
                m_hat, v_hat = m / (1 - 0.9 ** (step + 1)), v / (1 - 0.999 ** (step + 1))
                p.sub_(lr * decay * m_hat / (v_hat.sqrt() + 1e-12))


# --- the fit ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SMPLFiles:
    """What :meth:`SMPLFit.save` wrote."""

    vertices: Path  # {prefix}_verts.npy: (T, V, 3) float32
    params: Path  # {prefix}_smpl.npz: global_orient, body_pose, transl, betas, joints, faces
    obj_dir: Path | None  # {prefix}_obj/: frame_0000.obj, ... one mesh per frame
    video: Path | None  # {prefix}.mp4


@dataclass(frozen=True)
class SMPLFit:
    """SMPL fitted to a motion. Shapes: T frames, V vertices (6890 for SMPL), F faces."""

    vertices: np.ndarray  # (T, V, 3) float32, metres, Y up
    faces: np.ndarray  # (F, 3) int64, vertex indices
    joints: np.ndarray  # (T, 22, 3) float32: the fitted body's joints
    global_orient: np.ndarray  # (T, 3) float32, axis-angle
    body_pose: np.ndarray  # (T, 69) float32, axis-angle of joints 1..23
    transl: np.ndarray  # (T, 3) float32
    betas: np.ndarray  # (B,) float32, one body shape (zeros unless fitted)
    error_mm: float  # mean distance between the motion's joints and the fitted body's, millimetres

    @property
    def params(self) -> dict[str, np.ndarray]:
        """The SMPL parameters as smplx takes them (``smplx.SMPL(...)(**params)`` per frame)."""
        n = len(self.transl)
        return {"global_orient": self.global_orient, "body_pose": self.body_pose, "transl": self.transl,
                "betas": np.tile(self.betas, (n, 1))}  # fmt: skip

    def save(self, prefix: str | os.PathLike, *, obj: bool = True, video: VideoWriter | None = None,
             title: str | None = None) -> SMPLFiles:  # fmt: skip
        """Write ``{prefix}_verts.npy``, ``{prefix}_smpl.npz``, with ``obj`` one ``.obj`` per frame in
        ``{prefix}_obj/`` and, given a ``video`` writer (``motiongpt.render.render_video``), ``{prefix}.mp4``
        (the fitted skeleton over a sample of the vertices). Every file and the folder are written
        atomically; parent folders are created."""
        prefix = Path(prefix)
        verts = prefix.with_name(prefix.name + "_verts.npy")
        atomic_save_npy(verts, self.vertices.astype(np.float32))
        params = prefix.with_name(prefix.name + "_smpl.npz")
        with atomic_path(params) as tmp, open(tmp, "wb") as f:
            np.savez(f, global_orient=self.global_orient, body_pose=self.body_pose, transl=self.transl,
                     betas=self.betas, joints=self.joints, faces=self.faces,
                     error_mm=self.error_mm)  # fmt: skip
        obj_dir = None
        if obj:
            obj_dir = prefix.with_name(prefix.name + "_obj")
            faces = "".join(f"f {a} {b} {c}\n" for a, b, c in (self.faces + 1).tolist())
            vertex_line = "v %.5f %.5f %.5f\n" * self.vertices.shape[1]
            digits = max(4, len(str(len(self.vertices) - 1)))
            with atomic_dir(obj_dir) as tmp_dir:
                for t, frame in enumerate(self.vertices):
                    text = vertex_line % tuple(frame.astype(np.float64).ravel()) + faces
                    (tmp_dir / f"frame_{t:0{digits}d}.obj").write_text(text, encoding="utf-8")
        clip = None
        if video is not None:
            step = max(1, math.ceil(self.vertices.shape[1] / _VIDEO_POINTS))
            clip = Path(video(self.joints, prefix.with_name(prefix.name + ".mp4"), title=title,
                              points=self.vertices[:, ::step]))  # fmt: skip
        return SMPLFiles(vertices=verts, params=params, obj_dir=obj_dir, video=clip)


def _check_motion(joints: Any) -> np.ndarray:
    if not isinstance(joints, np.ndarray | torch.Tensor):
        joints = np.asarray(joints)
    check_joints(joints, "joints", min_frames=1)
    if joints.ndim != 3:
        raise InvalidMotionError(f"joints must have shape (T, {N_JOINTS}, 3), got {tuple(joints.shape)}")
    arr = joints.detach().cpu().numpy() if isinstance(joints, torch.Tensor) else joints
    return arr.astype(np.float64)


def fit_smpl(
    joints: Any,
    model_dir: str | os.PathLike,
    *,
    gender: str = "neutral",
    fit_betas: bool = False,
    iterations: int = 300,
    smoothness: float = 1e-4,
    lr: float = 0.002,
) -> SMPLFit:
    """Fit SMPL to a motion's joints (the module docstring says how).

    Args:
        joints: ``(T, 22, 3)`` joint positions, metres, Y up, SMPL joint order (``motion/skeleton.py``).
        model_dir: the folder holding SMPL's model file (or the file): ``SMPL_NEUTRAL.pkl`` / ``.npz``.
        gender: which model file: neutral, male or female.
        fit_betas: also fit one body shape for the whole motion (else SMPL's mean shape).
        iterations: optimiser steps after the analytic guess (0: the guess alone).
        smoothness: weight of the frame-to-frame rotation term (squared metres per squared matrix norm).
        lr: Adam's first step size on the 6D rotations and the translations (25 times that on the betas);
            small, since the analytic guess is already close (a larger step first throws it off).

    Returns:
        The fitted body: vertices, faces, parameters and the mean joint error in millimetres.

    Raises:
        InvalidMotionError: ``joints`` is not ``(T, 22, 3)`` or holds NaN/inf.
        CheckpointError: no SMPL model file in ``model_dir`` (the message says what to download), or a
            file that is not SMPL's. MissingExtraError: smplx is not installed (``motiongpt[smpl]``).
    """
    target_np = _check_motion(joints)
    if not (isinstance(iterations, int) and iterations >= 0):
        raise ValueError(f"iterations must be an int >= 0, got {iterations!r}")
    model = load_smpl_model(model_dir, gender)
    from smplx.lbs import batch_rigid_transform, lbs

    parents = model.parents  # (24,) long, parents[0] = -1
    with torch.no_grad():
        j_template = model.J_regressor.double() @ model.v_template.double()  # (24, 3)
        j_shapedirs = torch.einsum("jv,vcb->jcb", model.J_regressor.double(), model.shapedirs.double())
    n_frames = len(target_np)
    local = _initial_pose(target_np, j_template.numpy(), parents.numpy())  # (T, 24, 3, 3)
    target = torch.from_numpy(target_np)  # (T, 22, 3) float64

    six = torch.from_numpy(np.concatenate((local[..., 0], local[..., 1]), axis=-1)).requires_grad_()
    transl = (target[:, 0] - j_template[0]).clone().requires_grad_()  # (T, 3)
    betas = torch.zeros(1, model.num_betas, dtype=torch.float64, requires_grad=fit_betas)
    eye = torch.eye(3, dtype=torch.float64)

    def posed_joints() -> tuple[torch.Tensor, torch.Tensor]:
        rot = cont6d_to_matrix(six)  # (T, 24, 3, 3)
        rest = j_template + torch.einsum("jcb,b->jc", j_shapedirs, betas[0])  # (24, 3)
        posed, _ = batch_rigid_transform(rot, rest.expand(n_frames, -1, -1), parents, dtype=torch.float64)
        return posed[:, :N_JOINTS] + transl[:, None], rot  # (T, 22, 3), (T, 24, 3, 3)

    def loss_fn() -> torch.Tensor:
        posed, rot = posed_joints()
        loss = ((posed - target) ** 2).sum(-1).mean()
        if n_frames > 1:
            loss = loss + smoothness * ((rot[1:] - rot[:-1]) ** 2).sum((-1, -2)).mean()
        loss = loss + 0.1 * smoothness * ((rot[:, 1:] - eye) ** 2).sum((-1, -2)).mean()
        return loss + 1e-5 * (betas**2).mean() if fit_betas else loss

    # the shape moves the whole body: it gets larger steps than a joint's rotation
    _adam(loss_fn, [(six, lr), (transl, lr)] + ([(betas, 25 * lr)] if fit_betas else []), iterations)

    with torch.no_grad():
        posed, rot = posed_joints()
        error_mm = float((posed - target).norm(dim=-1).mean()) * 1000
        rot32, beta32 = rot.float(), betas.float()
        vertices = []
        for start in range(0, n_frames, 64):  # lbs holds (frames, V, 4, 4) transforms: a chunk at a time
            r = rot32[start : start + 64]
            v, _ = lbs(beta32.expand(len(r), -1), r, model.v_template, model.shapedirs, model.posedirs,
                       model.J_regressor, parents, model.lbs_weights, pose2rot=False)  # fmt: skip
            vertices.append(v + transl[start : start + 64, None].float())
        vertices_np = torch.cat(vertices).numpy()  # (T, V, 3)

    from scipy.spatial.transform import Rotation

    rotvec = Rotation.from_matrix(rot.reshape(-1, 3, 3).numpy()).as_rotvec().reshape(n_frames, -1)
    logger.debug("SMPL fit: %d frames, mean joint error %.2f mm", n_frames, error_mm)
    return SMPLFit(
        vertices=vertices_np.astype(np.float32),
        faces=np.asarray(model.faces, dtype=np.int64),
        joints=posed.numpy().astype(np.float32),
        global_orient=rotvec[:, :3].astype(np.float32),
        body_pose=rotvec[:, 3:].astype(np.float32),
        transl=transl.detach().numpy().astype(np.float32),
        betas=betas.detach()[0].numpy().astype(np.float32),
        error_mm=error_mm,
    )
