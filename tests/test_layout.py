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


# --- one owner for each piece of knowledge (issue 15) ---------------------------------------------------
def _module(path: Path) -> str:
    return str(path.relative_to(PACKAGE))


def _defined(path: Path) -> set[str]:
    """Names a module defines at top level (functions, classes, assigned names)."""
    out = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.FunctionDef | ast.ClassDef):
            out.add(node.name)
        elif isinstance(node, ast.Assign):
            out |= {t.id for t in node.targets if isinstance(t, ast.Name)}
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            out.add(node.target.id)
    return out


ALL_SOURCES = sorted(PACKAGE.rglob("*.py"))
OWNERS = {
    # the task registry
    "TaskSpec": "data/tasks.py", "POOLS": "data/tasks.py", "UNCONDITIONAL_TASK": "data/tasks.py",
    # the corpus format
    "CorpusManifest": "data/manifest.py", "read_manifest": "data/manifest.py", "MANIFEST": "data/manifest.py",
    "TokenClip": "data/humanml3d.py", "read_token_clips": "data/humanml3d.py",
    "item_name": "data/humanml3d.py", "clip_of": "data/humanml3d.py",
    # the text contract between training and inference
    "Encoded": "lm/model.py", "seconds_text": "lm/tasks.py", "frames_text": "lm/tasks.py",
    "inbetween_text": "lm/tasks.py", "masked_motion_text": "lm/tasks.py",
}  # fmt: skip
GONE = {"_POOL", "PRETRAIN_MIXTURE", "INSTRUCT_MIXTURE", "_FALLBACK_PROMPTS", "_item_name",
        "_templated_share"}  # copies removed (mixtures live only in configs/lm/*.yaml)


@pytest.mark.parametrize("path", ALL_SOURCES, ids=_module)
def test_each_piece_of_knowledge_is_defined_by_its_owner_only(path: Path) -> None:
    defined = _defined(path)
    for name, owner in OWNERS.items():
        assert name not in defined or _module(path) == owner, f"{_module(path)}: {name} is {owner}'s"
    assert not defined & GONE, f"{_module(path)} defines {sorted(defined & GONE)} again"
    nodes = list(ast.walk(ast.parse(path.read_text(encoding="utf-8"))))
    if _module(path) != "data/manifest.py":  # every reader of corpus.json goes through data/manifest.py
        assert not [n for n in nodes if isinstance(n, ast.Constant) and n.value == "corpus.json"], path
    if _module(path) != "data/humanml3d.py":  # item names "clip#start#end": item_name / clip_of only
        for node in nodes:
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr in {"split", "rsplit", "partition", "rpartition"} and node.args
                    and isinstance(node.args[0], ast.Constant) and node.args[0].value == "#"):  # fmt: skip
                raise AssertionError(f"{_module(path)}:{node.lineno} splits an item name: use clip_of")
    if _module(path) != "data/tasks.py":  # the registry: REQUIRED_TASKS & co. are derived, not listed
        for node in nodes:
            if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id in {"REQUIRED_TASKS", "GUIDED_TASKS", "PAIR_TASKS"}
                for t in node.targets
            ):
                assert not isinstance(node.value, ast.Tuple | ast.List | ast.Set), f"{path}: a task list copy"


@pytest.mark.parametrize("path", sorted((PACKAGE / "lm").glob("*.py")), ids=_module)
def test_only_the_model_tokenises_prompts_and_answers(path: Path) -> None:
    """The special-token rule and the prompt/answer ids live in lm/model.py (``MotionLanguageModel
    .encode``); the collator and generation call it instead of tokenising themselves."""
    if path.name == "model.py":
        return
    private = {"_uses_chat_template", "_answer_ids", "_prompt_ids", "_check_prompt"}
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Attribute):
            assert node.attr not in private, f"{path.name} uses the model's private {node.attr}"
        if path.name in ("collate.py", "generation.py") and isinstance(node, ast.keyword):
            assert node.arg != "add_special_tokens", f"{path.name} decides special tokens itself"


# --- motion facts, normalisation and the eval boundary have one owner (issue #15) ------------------------
OWNED_CONSTANTS = {
    "FPS": "motion/skeleton.py",
    "MAX_SECONDS": "motion/skeleton.py",
    "FRAMES_PER_TOKEN": "tokenizer/config.py",  # a tokenizer's fact: nobody assigns a copy
    "DEFAULT_FRAMES_PER_TOKEN": "tokenizer/config.py",
}
OWNED_CLASSES = {
    "Motion": "motion/motion.py",
    "MotionFiles": "motion/motion.py",
    "Normalizer": "motion/normalizer.py",
    "EvalSettings": "eval/result.py",
    "EvalResult": "eval/result.py",
}


def _module_level_names(tree: ast.Module) -> set[str]:
    names = set()
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(
            node, ast.AnnAssign) else []  # fmt: skip
        names |= {t.id for t in targets if isinstance(t, ast.Name)}
    return names


def _named(n: ast.AST, name: str) -> bool:
    """``name`` or ``<...>.name``."""
    return (isinstance(n, ast.Name) and n.id == name) or (isinstance(n, ast.Attribute) and n.attr == name)


def _is_normalisation(node: ast.AST) -> bool:
    """``(x - <...>mean) / <...>std``: the normalisation formula, wherever it is written."""
    return (
        isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div) and _named(node.right, "std")
        and isinstance(node.left, ast.BinOp) and isinstance(node.left.op, ast.Sub)
        and _named(node.left.right, "mean")
    )  # fmt: skip


def _is_denormalisation(node: ast.AST) -> bool:
    """``x * <...>std + <...>mean``: the inverse formula."""
    return (
        isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add) and _named(node.right, "mean")
        and isinstance(node.left, ast.BinOp) and isinstance(node.left.op, ast.Mult)
        and _named(node.left.right, "std")
    )  # fmt: skip


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_motion_facts_constants_and_normalisation_have_one_owner(path: Path) -> None:
    rel = path.relative_to(PACKAGE).as_posix()
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for name in _module_level_names(tree) & set(OWNED_CONSTANTS):
        assert rel == OWNED_CONSTANTS[name], f"{rel} defines {name}: import it from {OWNED_CONSTANTS[name]}"
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and node.name in OWNED_CLASSES:
            owner = OWNED_CLASSES[node.name]
            assert rel == owner, f"{rel} defines class {node.name}, which belongs to {owner}"
        if _is_normalisation(node):
            assert rel == "motion/normalizer.py", f"{rel}:{node.lineno} writes (x - mean) / std by hand"
        if _is_denormalisation(node):
            assert rel == "motion/normalizer.py", f"{rel}:{node.lineno} writes x * std + mean by hand"


def test_owned_names_are_where_the_rules_say() -> None:
    """The owners exist (so the rule above cannot pass vacuously) and the old homes re-export them."""
    from motiongpt import Motion as top
    from motiongpt.eval.result import EvalResult
    from motiongpt.lm.pipeline import Motion as from_lm
    from motiongpt.motion import skeleton
    from motiongpt.motion.motion import Motion

    assert top is from_lm is Motion and skeleton.FPS == 20 and skeleton.MAX_SECONDS == 9.8
    assert EvalResult.__module__ == "motiongpt.eval.result"
    assert not any(_is_normalisation(n) for n in ast.walk(ast.parse("y = x * std + mean")))
    assert any(_is_normalisation(n) for n in ast.walk(ast.parse("y = (x - self.mean) / self.std")))
    assert any(_is_denormalisation(n) for n in ast.walk(ast.parse("y = x * self.std + self.mean")))
