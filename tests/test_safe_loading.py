"""Loading never runs code from a file: weights come from safetensors, every ``torch.load`` has
``weights_only=True``, YAML is read with ``safe_load``, numpy never unpickles, and a checkpoint carrying a
pickled object is refused (the object is never built)."""

from __future__ import annotations

import ast
import pickle
from pathlib import Path

import pytest
import torch

SRC = Path(__file__).resolve().parents[1] / "src" / "motiongpt"
SOURCES = sorted(SRC.rglob("*.py"))


def _calls(name: str):
    """``(file, line, call)`` of every call spelled ``name`` (e.g. ``torch.load``) in the package."""
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                if ast.unparse(node.func) == name:
                    yield path.relative_to(SRC), node.lineno, node


def _keyword(call: ast.Call, name: str):
    kw = [k for k in call.keywords if k.arg == name]
    return ast.literal_eval(kw[0].value) if kw and isinstance(kw[0].value, ast.Constant) else None


def test_every_torch_load_is_weights_only() -> None:
    calls = list(_calls("torch.load"))
    assert calls, "the check would find torch.load calls"
    bad = [(str(f), line) for f, line, c in calls if _keyword(c, "weights_only") is not True]
    assert not bad, f"torch.load without weights_only=True: {bad}"


def test_lightning_resumes_with_weights_only() -> None:
    fits = [(f, line, c) for f, line, c in _calls("trainer.fit")]
    assert fits
    bad = [(str(f), line) for f, line, c in fits if _keyword(c, "weights_only") is not True]
    assert not bad, f"trainer.fit without weights_only=True: {bad}"


def test_every_trainer_checkpoint_save_says_what_it_keeps() -> None:
    # Lightning logs "`weights_only` was not set, defaulting to `False`" for a save without it; ours keep
    # the full state (optimiser, loops, callbacks), which --resume needs
    saves = list(_calls("trainer.save_checkpoint"))
    assert saves, "the check would find trainer.save_checkpoint calls"
    bad = [(str(f), line) for f, line, c in saves if _keyword(c, "weights_only") is not False]
    assert not bad, f"trainer.save_checkpoint without weights_only=False: {bad}"


def test_yaml_only_safe_and_numpy_never_unpickles_and_no_plain_pickle() -> None:
    for path in SOURCES:
        text = path.read_text(encoding="utf-8")
        for unsafe in ("yaml.load(", "yaml.unsafe_load", "yaml.full_load", "yaml.Loader", "pickle.load(",
                       "pickle.loads(", "torch.jit.load", "allow_pickle=True"):  # fmt: skip
            assert unsafe not in text, f"{path.relative_to(SRC)} uses {unsafe}"


def test_transformers_weights_from_safetensors_only() -> None:
    # the one place a transformers model is read (lm/backbone.py: AutoModel*.from_pretrained as ``cls``)
    calls = [(f, line, c) for f, line, c in _calls("cls.from_pretrained") if f.name == "backbone.py"]
    assert calls
    for f, line, c in calls:
        assert _keyword(c, "use_safetensors") is True, f"{f}:{line} may read a pickled .bin"


class _Boom:
    def __reduce__(self):
        return (print, ("code ran",))


def test_a_checkpoint_with_a_pickled_object_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from motiongpt.errors import CheckpointError
    from motiongpt.training import read_checkpoint

    path = tmp_path / "last.ckpt"
    torch.save({"global_step": 3, "state_dict": {}, "motiongpt_config": {}, "evil": _Boom()}, path)
    with pytest.raises(CheckpointError, match=r"last\.ckpt: not a readable checkpoint"):
        read_checkpoint(path)
    assert "code ran" not in capsys.readouterr().out
    path.write_bytes(pickle.dumps({"global_step": 3}))  # a bare pickle, not a torch file
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        read_checkpoint(path)
