"""The package's architecture rules: imports flow one way, only lit.py/train.py files import lightning,
and only the web page imports gradio."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "motiongpt"
ORDER = ["motion", "data", "tokenizer", "lm", "eval", "render", "webui"]
SHARED = {"errors", "_io", "_lazy", "config", "training"}  # leaf modules any stage may use


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


def _stage(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "motiongpt" else None


SOURCES = sorted(p for p in PACKAGE.rglob("*.py") if p.relative_to(PACKAGE).parts[0] in ORDER)


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_flow_one_way(path: Path) -> None:
    own = path.relative_to(PACKAGE).parts[0]
    for module in _imports(path):
        stage = _stage(module)
        if stage is None or stage in SHARED or stage == own:
            continue
        assert stage in ORDER, f"{path.name} imports {module}, which is not a stage module"
        assert ORDER.index(stage) < ORDER.index(own), f"{path} imports later stage {module}"


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_only_lit_modules_import_lightning_and_only_the_web_page_imports_gradio(path: Path) -> None:
    roots = {m.split(".")[0] for m in _imports(path)}
    if path.name != "lit.py" and path.name != "train.py":
        assert not roots & {"lightning", "pytorch_lightning"}, f"{path} imports lightning"
    assert "typer" not in roots, f"{path} imports the CLI library"
    if path.relative_to(PACKAGE) != Path("webui/app.py"):
        assert "gradio" not in roots, f"{path} imports gradio (only webui/app.py may)"


def test_shared_modules_import_no_stage() -> None:
    for name in SHARED:
        path = PACKAGE / f"{name}.py"
        if path.exists():
            stages = {_stage(m) for m in _imports(path)} - {None} - SHARED
            assert not stages, f"{name}.py imports stage modules {stages}"
