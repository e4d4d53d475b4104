"""Run the ``motiongpt`` CLI and SIGKILL it at a chosen point, as a crash or ``kill -9`` would.

Usage: KILL_AT=step:N | write:N | clip:N  python tests/kill_harness.py motiongpt-arguments...

``step:N``: killed when training step N begins (between checkpoints). ``write:N``: killed in the middle
of the N-th checkpoint write of this process (half the file written). ``clip:N``: `data build` with the
stub motion functions of tests/test_corpus.py (for its fake archives), killed at the N-th clip (0: never).
A helper of tests/test_crash_resume.py, not a test module.
"""

from __future__ import annotations

import os
import signal

kind, n = os.environ["KILL_AT"].split(":")
n = int(n)
writes = 0


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


if kind == "clip":
    import motiongpt.data.corpus as corpus
    from test_corpus import _stub_bvh_to_joints, _stub_features_to_joints, _stub_joints_to_features

    clips = 0

    def _bvh_to_joints(path):  # noqa: ANN001, ANN202
        global clips
        clips += 1
        if clips == n:
            _die()
        return _stub_bvh_to_joints(path)

    corpus._motion_fns = lambda: (_bvh_to_joints, _stub_joints_to_features, _stub_features_to_joints)
elif kind == "step":
    from motiongpt.tokenizer.lit import LitTokenizer

    step = LitTokenizer.training_step

    def _training_step(self, batch, batch_idx):  # noqa: ANN001, ANN202
        if self.global_step == n:
            _die()
        return step(self, batch, batch_idx)

    LitTokenizer.training_step = _training_step  # type: ignore[method-assign]
else:
    from lightning.pytorch.plugins.io import TorchCheckpointIO

    save = TorchCheckpointIO.save_checkpoint

    def _save_checkpoint(self, checkpoint, path, storage_options=None):  # noqa: ANN001, ANN202
        global writes
        save(self, checkpoint, path, storage_options)
        writes += 1
        if writes == n:
            with open(path, "r+b") as f:  # as far as the write had come
                f.truncate(os.path.getsize(path) // 2)
            _die()

    TorchCheckpointIO.save_checkpoint = _save_checkpoint  # type: ignore[method-assign]

from motiongpt.cli import app  # noqa: E402

app(prog_name="motiongpt")
