"""Atomic writes keep the old file on failure and give new files the usual permissions."""

from __future__ import annotations

import os
import stat

import numpy as np
import pytest

from motiongpt._io import atomic_path, atomic_save_npy, atomic_write_text


def test_atomic_write_replaces_and_uses_umask_mode(tmp_path):
    target = tmp_path / "sub" / "out.txt"
    atomic_write_text(target, "hello")
    assert target.read_text() == "hello"
    mask = os.umask(0o022)
    os.umask(mask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~mask


def test_failure_keeps_previous_content_and_leaves_no_temp(tmp_path):
    target = tmp_path / "x.npy"
    atomic_save_npy(target, np.arange(3))
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_bytes(b"partial")
        raise RuntimeError("disk full")
    assert np.load(target).tolist() == [0, 1, 2]
    assert [p.name for p in tmp_path.iterdir()] == ["x.npy"]
