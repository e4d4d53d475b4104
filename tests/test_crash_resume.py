"""``kill -9`` in the middle of a run: `motiongpt train tokenizer` killed between checkpoints and during a
checkpoint write, then `--resume`d, ends exactly where an uninterrupted run ends, with no half-written file;
`motiongpt data build` killed midway and re-run gives the corpus an uninterrupted build gives.

The kills come from tests/kill_harness.py (SIGKILL at a chosen step, or halfway through a checkpoint
write), so they land at the same place on every machine. Tiny configs; subprocesses, so marked slow.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file

from conftest import MOTIONGPT_CLI

pytestmark = pytest.mark.slow
HARNESS = Path(__file__).with_name("kill_harness.py")


def _motiongpt(*args: str, kill_at: str | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    cmd = [*MOTIONGPT_CLI, *args]
    if kill_at:
        env["KILL_AT"] = kill_at
        cmd = [sys.executable, str(HARNESS), *args]
    return subprocess.run(["nice", "-n", "19", *cmd], capture_output=True, text=True, env=env, timeout=600)


def _nothing_half_written(run: Path) -> None:
    """No temporary file or folder anywhere; every checkpoint, YAML and safetensors file loads."""
    partial = [p for p in run.rglob("*") if ".tmp" in p.name or p.name.endswith(".old")]
    assert not partial, partial
    for ckpt in run.rglob("*.ckpt"):
        assert torch.load(ckpt, weights_only=True)["global_step"] > 0, ckpt
    for path in run.rglob("*.yaml"):
        yaml.safe_load(path.read_text())
    for path in run.rglob("*.safetensors"):
        load_file(path)


def _steps_logged(run: Path) -> list[int]:
    steps: list[int] = []
    for csv in sorted((run / "logs").rglob("metrics.csv")):
        rows = csv.read_text().splitlines()
        col = rows[0].split(",").index("step")
        steps += sorted({int(r.split(",")[col]) for r in rows[1:]})
    return steps


def test_kill_9_between_and_during_checkpoints_then_resume(tiny_corpus: Path, tmp_path: Path) -> None:
    from test_tokenizer_train import tiny_train_config

    cfg = tmp_path / "tiny.yaml"
    tiny_train_config(max_steps=10, val_every=4).to_yaml(cfg)  # checkpoints at steps 4, 8 and 10
    args = ("train", "tokenizer", "--config", str(cfg), "--data", str(tiny_corpus), "--accelerator", "cpu")

    whole = tmp_path / "whole"
    assert _motiongpt(*args, "--out", str(whole)).returncode == 0
    expected = load_file(whole / "tokenizer" / "model.safetensors")

    run = tmp_path / "run"
    killed = _motiongpt(*args, "--out", str(run), kill_at="step:6")  # between the checkpoints of 4 and 8
    assert killed.returncode == -signal.SIGKILL
    assert torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)["global_step"] == 4

    killed = _motiongpt(*args, "--out", str(run), "--resume", kill_at="write:1")  # writing step 8's
    assert killed.returncode == -signal.SIGKILL and "at step 4" in killed.stderr
    assert [p for p in (run / "checkpoints").iterdir() if ".tmp" in p.name], "the kill hit a write"

    done = _motiongpt(*args, "--out", str(run), "--resume")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "at step 4" in done.stderr and "step 10: tokenizer written to" in done.stdout
    _nothing_half_written(run)
    got = load_file(run / "tokenizer" / "model.safetensors")
    assert all(torch.equal(got[k], v) for k, v in expected.items()), "differs from the uninterrupted run"
    assert _steps_logged(run) == _steps_logged(whole), "the logs overlap or miss steps"


def test_kill_9_during_the_first_checkpoint_write_then_resume(tiny_corpus: Path, tmp_path: Path) -> None:
    from test_tokenizer_train import tiny_train_config

    cfg = tmp_path / "tiny.yaml"
    tiny_train_config(max_steps=10, val_every=4).to_yaml(cfg)
    args = ("train", "tokenizer", "--config", str(cfg), "--data", str(tiny_corpus), "--accelerator", "cpu")
    whole = tmp_path / "whole"
    assert _motiongpt(*args, "--out", str(whole)).returncode == 0
    expected = load_file(whole / "tokenizer" / "model.safetensors")
    # killed while writing the very first checkpoint: --resume starts again from step 0
    first = tmp_path / "first"
    killed = _motiongpt(*args, "--out", str(first), kill_at="write:1")
    assert killed.returncode == -signal.SIGKILL
    assert not [p for p in (first / "checkpoints").glob("*.ckpt") if not p.name.startswith(".")]
    done = _motiongpt(*args, "--out", str(first), "--resume")
    assert done.returncode == 0, done.stderr[-2000:]
    _nothing_half_written(first)
    got = load_file(first / "tokenizer" / "model.safetensors")
    assert all(torch.equal(got[k], v) for k, v in expected.items())


def test_a_truncated_checkpoint_is_refused_in_one_line(tiny_corpus: Path, tmp_path: Path) -> None:
    from test_tokenizer_train import tiny_train_config

    cfg = tmp_path / "tiny.yaml"
    tiny_train_config(max_steps=2, val_every=2).to_yaml(cfg)
    args = ("train", "tokenizer", "--config", str(cfg), "--data", str(tiny_corpus), "--accelerator", "cpu",
            "--out", str(tmp_path / "run"))  # fmt: skip
    assert _motiongpt(*args).returncode == 0
    last = tmp_path / "run" / "checkpoints" / "last.ckpt"
    last.write_bytes(last.read_bytes()[:1000])
    r = _motiongpt(*args, "--resume")
    assert r.returncode == 2
    lines = [line for line in r.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and str(last) in lines[0] and "not a readable checkpoint" in lines[0], r.stderr
    assert "Traceback" not in r.stderr


def test_kill_9_during_data_build_then_rerun_gives_the_same_corpus(tmp_path: Path) -> None:
    from test_corpus import _write_archives

    source = _write_archives(tmp_path / "shared")
    args = ("data", "build", "--source", str(source), "--workers", "1", "--cache", str(tmp_path / "cache"))
    ref = tmp_path / "ref"
    assert _motiongpt(*args, "--out", str(ref), kill_at="clip:0").returncode == 0
    out = tmp_path / "corpus"
    killed = _motiongpt(*args, "--out", str(out), kill_at="clip:5")
    assert killed.returncode == -signal.SIGKILL and not out.exists(), "a half-built corpus in place"
    done = _motiongpt(*args, "--out", str(out), kill_at="clip:0")
    assert done.returncode == 0, done.stderr[-2000:]
    assert not out.with_name("corpus.tmp").exists()
    files = sorted(p.relative_to(ref) for p in ref.rglob("*") if p.is_file() and p.name != "build_info.json")
    assert files and files == sorted(
        p.relative_to(out) for p in out.rglob("*") if p.is_file() and p.name != "build_info.json"
    )
    assert all((ref / f).read_bytes() == (out / f).read_bytes() for f in files)
