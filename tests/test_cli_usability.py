"""What a new user trips on, run the way they run it (the console script in a subprocess): the bundled
model from anywhere, ``--out`` folders, inputs checked before the model loads, outputs that never
destroy an input, one meaning of ``--seconds``, quiet loading, and ``motiongpt demo`` batches."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import EXAMPLE_BVH, MOTIONGPT_CLI, needs_bundled_model, write_tiny_corpus


def _run(*args: str, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    env.pop("MOTIONGPT_MODEL", None)
    return subprocess.run(
        [*MOTIONGPT_CLI, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


def _one_line_error(done: subprocess.CompletedProcess, *fragments: str) -> str:
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


# --- fast: everything here fails before a model is loaded ---------------------------------------------
def test_convert_refuses_to_write_over_its_input_and_says_when_it_replaces(tmp_path):
    src = tmp_path / "walk.bvh"
    src.write_bytes(EXAMPLE_BVH.read_bytes())
    _one_line_error(_run("convert", "walk.bvh", "walk.bvh", cwd=tmp_path), "walk.bvh is the input")
    assert src.read_bytes() == EXAMPLE_BVH.read_bytes()
    _one_line_error(_run("convert", "walk.bvh", "./walk.bvh", cwd=tmp_path), "is the input")
    done = _run("convert", "walk.bvh", "walk.npy", cwd=tmp_path)
    assert done.returncode == 0 and "replaced" not in done.stdout, done.stderr
    done = _run("convert", "walk.bvh", "walk.npy", cwd=tmp_path)
    assert done.returncode == 0 and done.stdout.strip().endswith("(replaced)"), done.stdout


def test_inputs_are_checked_before_the_model_loads(tmp_path):
    # Both the motion and the model are wrong: the motion is reported, so it was checked first.
    done = _run("continue", "nowhere.bvh", "--model", "no-model", cwd=tmp_path)
    _one_line_error(done, "nowhere.bvh")
    done = _run("inbetween", str(EXAMPLE_BVH), "gone.npy", "--model", "no-model", cwd=tmp_path)
    _one_line_error(done, "gone.npy")
    done = _run("caption", "absent.bvh", "--model", "no-model", cwd=tmp_path)
    _one_line_error(done, "absent.bvh")
    done = _run("generate", "a person walks", "--model", "no-model", cwd=tmp_path)
    _one_line_error(done, "model folder no-model does not exist")


def test_a_long_prompt_is_refused_in_the_clis_words(tmp_path):
    line = _one_line_error(_run("generate", "a person walks " * 350, cwd=tmp_path), "5249 characters", "600")
    assert "token" not in line and "max_prompt_tokens" not in line
    assert not list(tmp_path.iterdir())


def test_seconds_is_a_number_above_zero_or_auto(tmp_path):
    line = _one_line_error(_run("generate", "a person walks", "--seconds", "0", cwd=tmp_path), "auto")
    assert "--seconds" in line
    done = _run("generate", "a person walks", "--seconds", "12", cwd=tmp_path)
    line = _one_line_error(done, "--allow-long")
    assert "allow_long" not in line
    _one_line_error(_run("continue", str(EXAMPLE_BVH), "--seconds", "soon", cwd=tmp_path), "auto")


def test_generate_refuses_an_out_that_is_an_input(tmp_path):
    (tmp_path / "walk.bvh").write_bytes(EXAMPLE_BVH.read_bytes())
    done = _run("continue", "walk.bvh", "--out", "walk", cwd=tmp_path)
    _one_line_error(done, "walk.bvh is an input")
    assert (tmp_path / "walk.bvh").read_bytes() == EXAMPLE_BVH.read_bytes()


def test_render_verbose_shows_no_font_search(tmp_path):
    pytest.importorskip("matplotlib")
    np.save(tmp_path / "m.npy", np.load(_example_npy(tmp_path))[:4])
    done = _run("-v", "render", "m.npy", "m.gif", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "findfont" not in done.stderr and (tmp_path / "m.gif").is_file()
    assert len(done.stderr.splitlines()) < 10, done.stderr


def _example_npy(tmp_path: Path) -> Path:
    from motiongpt.motion.bvh import bvh_to_joints

    path = tmp_path / "example.npy"
    np.save(path, bvh_to_joints(EXAMPLE_BVH))
    return path


def test_demo_checks_every_line_first(tmp_path):
    (tmp_path / "m.txt").write_text("nowhere.bvh\n# a comment\n\n", encoding="utf-8")
    done = _run("demo", "--task", "m2t", "--example", "m.txt", "--out", "out", "--model", "no-model",
                cwd=tmp_path)  # fmt: skip
    assert done.returncode == 1, done.stderr  # nothing to do but a failed line: no model was needed
    assert "line 1: file not found" in done.stderr and "nowhere.bvh" in done.stderr
    assert "1 lines: 0 written, 0 already done, 1 failed (line 1)" in done.stdout
    _one_line_error(_run("demo", "--task", "dance", "--example", "m.txt", "--out", "o", cwd=tmp_path), "t2m")


# --- with the bundled model ---------------------------------------------------------------------------
def test_one_owner_of_the_bundled_model_folder_without_torch():
    code = (
        "import sys, motiongpt, motiongpt.cli\n"
        "m = motiongpt.bundled_model()\n"
        "print(m == motiongpt.cli.DEFAULT_MODEL, (m / 'config.yaml').is_file(), 'torch' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["True", "True", "False"]


@pytest.mark.slow
@needs_bundled_model
def test_from_pretrained_finds_the_bundled_model_anywhere_and_is_quiet(tmp_path):
    code = (
        "from motiongpt import MotionGPT\n"
        "a = MotionGPT.from_pretrained()\n"
        "b = MotionGPT.from_pretrained('default')\n"
        "print(type(a).__name__, a.lm.cfg.codebook_size == b.lm.cfg.codebook_size)\n"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "MotionGPT True"
    assert done.stderr.strip() == "", done.stderr  # no weight-loading bar, no FutureWarning


@pytest.mark.slow
@needs_bundled_model
def test_generate_into_an_existing_folder_then_replace(tmp_path):
    (tmp_path / "results").mkdir()
    args = ("generate", "a person walks forward", "--seconds", "1", "--seed", "0", "--no-video")
    done = _run(*args, "--out", "results", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stderr.strip() == "", done.stderr  # quiet: only our own line, on stdout
    names = sorted(p.name for p in (tmp_path / "results").iterdir())
    assert names == ["motion.bvh", "motion.npy", "prompt.txt"]
    assert np.load(tmp_path / "results" / "motion.npy").shape == (20, 22, 3)
    assert (tmp_path / "results" / "prompt.txt").read_text() == "a person walks forward\n"
    assert "replaced" not in done.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results"]  # nothing beside it
    done = _run(*args, "--out", "results", cwd=tmp_path)
    assert done.returncode == 0 and "results/motion.npy (replaced)" in done.stdout, done.stdout


@pytest.mark.slow
@needs_bundled_model
def test_eval_recon_defaults_to_the_bundled_tokenizer(tmp_path):
    corpus = write_tiny_corpus(tmp_path / "corpus")
    done = _run("eval", "--task", "recon", "--data", str(corpus), "--split", "test", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert '"mpjpe' in done.stdout.lower() or "mpjpe" in done.stdout.lower(), done.stdout


@pytest.mark.slow
@needs_bundled_model
def test_demo_t2m_batch_numbers_outputs_skips_done_lines_and_reports_bad_ones(tmp_path):
    long = "a person walks " * 50
    (tmp_path / "prompts.txt").write_text(
        f"a person walks forward\n\n{long}\na person jumps\n", encoding="utf-8"
    )
    args = ("demo", "--task", "t2m", "--example", "prompts.txt", "--out", "out",
            "--seconds", "1", "--seed", "0")  # fmt: skip
    done = _run(*args, cwd=tmp_path)
    assert done.returncode == 1, done.stderr[-2000:]  # some failed
    assert "line 3: the description is 749 characters long" in done.stderr
    assert "3 lines: 2 written, 0 already done, 1 failed (line 3)" in done.stdout
    out = tmp_path / "out"
    assert sorted(p.name for p in out.iterdir()) == [
        "000.bvh", "000.npy", "000.txt", "003.bvh", "003.npy", "003.txt",
    ]  # fmt: skip
    assert (out / "003.txt").read_text() == "a person jumps\n"
    assert np.load(out / "000.npy").shape == (20, 22, 3)
    before = (out / "000.npy").stat().st_mtime_ns
    done = _run(*args, cwd=tmp_path)
    assert "3 lines: 0 written, 2 already done, 1 failed (line 3)" in done.stdout
    assert (out / "000.npy").stat().st_mtime_ns == before


@pytest.mark.slow
@needs_bundled_model
def test_demo_m2t_and_inbetween(tmp_path):
    (tmp_path / "m.txt").write_text(f"{EXAMPLE_BVH}\n", encoding="utf-8")
    done = _run("demo", "--task", "m2t", "--example", "m.txt", "--out", "cap", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert sorted(p.name for p in (tmp_path / "cap").iterdir()) == ["000.txt"]
    assert len((tmp_path / "cap" / "000.txt").read_text().split()) >= 3
    np.save(tmp_path / "end.npy", np.load(_example_npy(tmp_path)))
    (tmp_path / "ib.txt").write_text(f"{EXAMPLE_BVH}\tend.npy\n", encoding="utf-8")
    done = _run("demo", "--task", "inbetween", "--example", "ib.txt", "--out", "ib", "--seconds", "1",
                "--video", cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert sorted(p.name for p in (tmp_path / "ib").iterdir()) == ["000.bvh", "000.mp4", "000.npy", "000.txt"]
    assert np.load(tmp_path / "ib" / "000.npy").shape == (4 * (14 + 5 + 14), 22, 3)
