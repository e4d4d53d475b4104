"""Optional extras: the core install holds what generation needs; training, evaluation and the web UI are
extras, their packages imported only where used, and a missing one is one line naming the extra."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from motiongpt._lazy import OPTIONAL, require
from motiongpt.errors import MissingExtraError

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "motiongpt"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
# the surfaces that may import an optional package when they are imported (each is imported lazily)
SURFACES = {
    "lightning": {"training.py", "lm/lit.py", "tokenizer/lit.py"},
    "gradio": {"webui/app.py"},
}


def _name(requirement: str) -> str:
    return re.split(r"[=<>\[ ;]", requirement, maxsplit=1)[0].lower()


def test_core_install_leaves_training_evaluation_and_web_ui_to_extras() -> None:
    core = {_name(r) for r in PYPROJECT["project"]["dependencies"]}
    extras = PYPROJECT["project"]["optional-dependencies"]
    for module, (package, names) in OPTIONAL.items():
        assert package not in core, f"{package} is a core dependency"
        for extra in names:
            assert package in {_name(r) for r in extras[extra]}, f"{package} missing from [{extra}]"
    assert {"torch", "transformers", "safetensors", "typer", "matplotlib"} <= core
    assert extras["all"] == ["motiongpt[train,eval,webui,smpl]"]
    assert "motiongpt[all]" in extras["test"]  # the test command installs everything
    assert 'target="${1:-.[all]}"' in (ROOT / "scripts/install.sh").read_text()  # the README's install


def _module_level_imports(path: Path) -> set[str]:
    """Top-level package names imported at module level (not inside a function)."""
    roots = set()
    for node in ast.parse(path.read_text()).body:
        nodes = [node] + (list(ast.walk(node)) if isinstance(node, ast.If | ast.Try) else [])
        for n in nodes:
            if isinstance(n, ast.Import):
                roots |= {a.name.split(".")[0] for a in n.names}
            elif isinstance(n, ast.ImportFrom) and n.module and n.level == 0:
                roots.add(n.module.split(".")[0])
    return roots


@pytest.mark.parametrize("path", sorted(SRC.rglob("*.py")), ids=lambda p: str(p.relative_to(SRC)))
def test_optional_packages_are_imported_lazily_outside_their_surface(path: Path) -> None:
    rel = str(path.relative_to(SRC))
    for root in _module_level_imports(path) & set(OPTIONAL):
        assert rel in SURFACES.get(root, set()), f"{rel} imports {root} at module level"


def test_require_names_the_extra(monkeypatch) -> None:
    assert require("json", "x").__name__ == "json"
    monkeypatch.setitem(sys.modules, "gradio", None)  # as if not installed
    with pytest.raises(MissingExtraError) as info:
        require("gradio", "the web UI")
    expected = "the web UI needs gradio, which is not installed: pip install 'motiongpt[webui]'"
    assert str(info.value) == expected
    monkeypatch.setitem(sys.modules, "spacy", None)
    with pytest.raises(MissingExtraError, match=r"motiongpt\[train\]' or pip install 'motiongpt\[eval\]'"):
        require("spacy", "part-of-speech tagging")
    with pytest.raises(ModuleNotFoundError) as other:  # not an optional package: the error as it is
        require("no_such_module_here", "x")
    assert not isinstance(other.value, MissingExtraError)


def _cli_without(module: str, *args: str) -> subprocess.CompletedProcess:
    """The command line, as a user runs it, in a Python where ``module`` is not installed."""
    code = f"import sys; sys.modules[{module!r}] = None\nfrom motiongpt.cli import app\napp()"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=ROOT)


@pytest.mark.parametrize(
    ("module", "args", "extra"),
    [
        ("gradio", ["webui", "--port", "1"], "webui"),
        ("lightning", ["train", "tokenizer", "--config", "configs/tokenizer/small.yaml", "--data", "x"],
         "train"),
        ("smplx", ["fit-smpl", "src/motiongpt/assets/examples/cmu_002_01_walk.bvh", "--smpl-dir",
                   "pyproject.toml", "--out", "x"], "smpl"),  # any existing file: smplx is asked for first
    ],
)
def test_cli_says_which_extra_to_install(module: str, args: list[str], extra: str) -> None:
    command = "motiongpt " + " ".join(args[:2] if args[0] == "train" else args[:1])
    out = _cli_without(module, *args)
    assert out.returncode == 2, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), out.stderr
    install = f"pip install 'motiongpt[{extra}]'"
    assert lines[0] == f"error: {command} needs {module}, which is not installed: {install}"


def test_help_and_the_inference_modules_import_no_optional_package() -> None:
    code = (
        "import sys\n"
        "from motiongpt.cli import app\n"
        "try:\n    app(['--help'])\nexcept SystemExit:\n    pass\n"
        "assert 'torch' not in sys.modules, 'motiongpt --help imported torch'\n"
        "import motiongpt.lm.pipeline, motiongpt.lm.inference_cache, motiongpt.tokenizer.model\n"
        "import motiongpt.render, motiongpt.webui.session, motiongpt.demo\n"
        f"bad = {sorted(OPTIONAL)!r} + ['torch._dynamo', 'einx', 'sympy']\n"
        "print(sorted(m for m in bad if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]"
