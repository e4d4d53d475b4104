"""Checks of what a caller hands the inference API, before any model is loaded: a prompt's text
(:func:`check_text`), a batch's inputs (:func:`as_batch`), a single method's one input (:func:`one_input`)
and a per-input option (:func:`per_item`). Each raises ``InvalidRequestError`` naming the problem."""

from __future__ import annotations

import re
from typing import Any

from motiongpt.errors import InvalidRequestError

MAX_PROMPT_CHARS = 600  # a description's length limit on every surface (the model reads 256 tokens)


def as_batch(x: Any, name: str) -> list:
    """The inputs of a ``*_batch`` method: a non-empty list or tuple."""
    if not isinstance(x, list | tuple):
        raise InvalidRequestError(f"{name} must be a list (one item per input), got {type(x).__name__}")
    if not x:
        raise InvalidRequestError(f"{name} is an empty list")
    return list(x)


def one_input(x: Any, what: str, method: str) -> None:
    """The input of a single method: one item; a list or tuple gets a pointer to the ``*_batch`` method."""
    if isinstance(x, list | tuple):
        raise InvalidRequestError(f"{method} takes one {what}; for several use {method}_batch")


def per_item(value: Any, n: int, name: str) -> list:
    if isinstance(value, list | tuple):
        if len(value) != n:
            raise InvalidRequestError(f"{name} has {len(value)} entries for {n} inputs")
        return list(value)
    return [value] * n


def check_text(text: Any, what: str = "text") -> None:
    """Raise InvalidRequestError unless ``text`` is a non-empty string of at most
    :data:`MAX_PROMPT_CHARS` characters (cheap: before loading a model). ``what`` names it in the message."""
    if not isinstance(text, str):
        raise InvalidRequestError(f"{what} must be a string, got {type(text).__name__} {text!r:.60}")
    if not text.strip():
        raise InvalidRequestError(f"{what} is empty: describe a motion, e.g. 'a person walks forward'")
    if len(text.strip()) > MAX_PROMPT_CHARS:
        raise InvalidRequestError(
            f"{what} is {len(text.strip())} characters long; the model reads at most {MAX_PROMPT_CHARS}: "
            "shorten it"
        )
    check_characters(text, what)


def check_characters(text: str, what: str = "text") -> None:
    """InvalidRequestError when ``text`` holds bytes that were not UTF-8 or control characters."""
    if (bad := _UNDECODED.search(text)) is not None:  # non-UTF-8 bytes (argv, a file) decoded as surrogates
        raise InvalidRequestError(
            f"{what} is not valid UTF-8 text (undecodable bytes at character {bad.start() + 1}): "
            "type it again in UTF-8"
        )
    if (bad := _CONTROL.search(text)) is not None:
        raise InvalidRequestError(
            f"{what} holds a control character ({bad.group()!r} at character {bad.start() + 1}): "
            "use plain text"
        )


_UNDECODED = re.compile("[\ud800-\udfff]")  # lone surrogates, as errors="surrogateescape" gives
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # tab, newline and return are fine


__all__ = ["MAX_PROMPT_CHARS", "as_batch", "check_characters", "check_text", "one_input", "per_item"]
