"""Exceptions raised at motiongpt's public boundaries.

Every error a user can cause (a bad file, a wrong shape, a NaN, a checkpoint from another config) is one of
these, with a message that names the argument or file and what was expected. The CLI prints the message
alone, without a traceback.
"""

from __future__ import annotations


class MotionGPTError(Exception):
    """Base class of every error motiongpt raises on bad input."""


class InvalidMotionError(MotionGPTError, ValueError):
    """A motion array has the wrong shape, dtype, length or contains NaN/inf."""


class BVHError(MotionGPTError, ValueError):
    """A BVH file cannot be read, retargeted or written. The message names the file (and line or joint)."""


class CorpusError(MotionGPTError, ValueError):
    """A corpus folder is missing files or holds inconsistent data."""


class CheckpointError(MotionGPTError, ValueError):
    """A checkpoint folder is missing, corrupt, or was written for another configuration."""


class ConfigError(MotionGPTError, ValueError):
    """A configuration file or override is invalid."""


class InvalidRequestError(MotionGPTError, ValueError):
    """A prompt, task or generation request is invalid (empty, too long, unknown task, bad length)."""


class MetricInputError(MotionGPTError, ValueError):
    """A metric got arrays of the wrong shape, mismatched counts, or NaN/inf."""


class MissingExtraError(MotionGPTError, ImportError):
    """An optional dependency is not installed; the message names the extra that installs it."""


USER_ERRORS = (MotionGPTError, FileNotFoundError)  # what a surface shows as one line, not a traceback


def user_message(error: BaseException) -> str:
    """The one line a surface (CLI, web UI) shows for one of :data:`USER_ERRORS`."""
    if isinstance(error, FileNotFoundError):
        return f"file not found: {error.filename or error}"
    return str(error)
