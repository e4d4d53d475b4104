"""The ``motiongpt`` command line: a thin typer layer, one library call per command.

Errors a user can cause (``MotionGPTError``) are printed as one line, without a traceback. One module per
group of commands, registered on ``app`` when imported (in this order, which is the order of ``--help``):
``motion`` (render, convert, fit-smpl), ``data`` (data build, tokenize), ``train`` (train tokenizer,
evaluator, action, lm, recipe), ``evaluate`` (eval) and ``generate`` (generate, continue, inbetween,
timeline, caption, demo, webui); ``_app`` holds what they share.
"""

from motiongpt.cli import motion, data, train, evaluate, generate  # noqa: F401, I001 (registers the commands)
from motiongpt.cli._app import DEFAULT_MODEL, app

__all__ = ["DEFAULT_MODEL", "app"]
