"""Distributed training: `motiongpt train ... --devices 2` on CPU (Lightning DDP, gloo), as a user runs it.

Each rank trains on its own share of every step's items; together they are the items one process with the
same global batch trains on, so both end with (nearly) the same weights. Only rank 0 writes and prints.
Tiny configs, a few steps; each run starts real processes, so the module is marked slow.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file

from conftest import write_tiny_corpus

pytestmark = pytest.mark.slow
RECORDER = Path(__file__).with_name("ddp_record.py")


def _train(record: Path, *args: str) -> subprocess.CompletedProcess:
    """``motiongpt train ARGS`` (through the recorder), niced; fails the test on a non-zero exit."""
    record.mkdir(parents=True)
    env = dict(os.environ, RECORD_DIR=str(record), HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
               OMP_NUM_THREADS="1")  # fmt: skip
    cmd = ["nice", "-n", "19", sys.executable, str(RECORDER), "train", *args, "--accelerator", "cpu"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def _seen(record: Path) -> list[dict[int, list[int]]]:
    """Per rank: ``{step: positions}``."""
    files = sorted(record.glob("rank-*.json"))
    return [{int(k): v for k, v in json.loads(f.read_text()).items()} for f in files]


def _check_shares(two: list[dict[int, list[int]]], one: list[dict[int, list[int]]], steps: int) -> None:
    assert len(two) == 2 and len(one) == 1
    for step in range(steps):
        a, b = set(two[0][step]), set(two[1][step])
        assert a and b and not a & b, f"step {step}: the ranks saw the same items"
        assert a | b == set(one[0][step]), f"step {step}: not the items of one process with the global batch"


def _check_rank_zero_only(proc: subprocess.CompletedProcess, printed: str, exported: str, out: Path) -> None:
    """One printed result, one start and one export message (rank 0's), no partial file."""
    assert proc.stdout.count(printed) == 1, proc.stdout
    assert proc.stderr.count("out=") == 1 and proc.stderr.count(exported) == 1, proc.stderr[-2000:]
    assert not [p for p in out.rglob("*") if ".tmp" in p.name], "a partial file was left"


def test_tokenizer_on_two_processes_matches_one_process(tmp_path: Path) -> None:
    from motiongpt.tokenizer.config import VQConfig
    from test_tokenizer_train import tiny_train_config

    corpus = write_tiny_corpus(tmp_path / "corpus", n_clips=14)
    vq = VQConfig(width=32, code_dim=32, codebook_size=16, depth=2, dead_code_threshold=0.0)
    common = dict(model=vq, max_steps=4, val_every=2, warmup_steps=0)
    tiny_train_config(batch_size=2, **common).to_yaml(tmp_path / "two.yaml")  # per process
    tiny_train_config(batch_size=4, **common).to_yaml(tmp_path / "one.yaml")
    runs = {}
    for name, devices in (("two", "2"), ("one", "1")):
        out = tmp_path / f"run-{name}"
        proc = _train(tmp_path / f"seen-{name}", "tokenizer", "--config", str(tmp_path / f"{name}.yaml"),
                      "--data", str(corpus), "--out", str(out), "--devices", devices)  # fmt: skip
        if name == "two":
            _check_rank_zero_only(proc, "tokenizer written to", "exported tokenizer to", out)
        runs[name] = load_file(out / "tokenizer" / "model.safetensors")
    _check_shares(_seen(tmp_path / "seen-two"), _seen(tmp_path / "seen-one"), steps=4)
    start = torch.load(tmp_path / "run-one" / "checkpoints" / "last.ckpt", weights_only=True)["global_step"]
    assert start == 4
    for key, one in runs["one"].items():
        torch.testing.assert_close(runs["two"][key], one, rtol=1e-4, atol=1e-5, msg=key)


def test_lm_on_two_processes_matches_one_process(tmp_path: Path) -> None:
    from motiongpt.tokenizer.config import VQConfig
    from motiongpt.tokenizer.model import MotionTokenizer
    from motiongpt.tokenizer.tokenize import tokenize_corpus
    from test_lm_fixtures import save_tiny_backbone, tiny_lm_config

    corpus = write_tiny_corpus(tmp_path / "corpus", n_clips=12)
    tok_dir = MotionTokenizer(VQConfig(width=16, code_dim=16, codebook_size=16, depth=1)).save_pretrained(
        tmp_path / "vq"
    )
    tokenize_corpus(tok_dir, corpus, tok_dir / "tokens", batch_size=8)
    backbone = save_tiny_backbone(tmp_path / "causal", "causal", chat_template=True)
    from motiongpt.lm.train import LMTrainConfig

    common = dict(
        stage="instruct", model=tiny_lm_config(backbone, max_prompt_tokens=400),
        mixture={"t2m": 1.0, "m2t": 1.0},
        max_steps=3, lr=1e-3, lr_min=1e-3, warmup_steps=0, max_length=400, val_every=3, val_examples=4,
        val_captions=0, log_every=1, seed=0, num_threads=1,
    )  # fmt: skip
    LMTrainConfig(batch_size=2, **common).to_yaml(tmp_path / "two.yaml")
    LMTrainConfig(batch_size=4, **common).to_yaml(tmp_path / "one.yaml")
    weights = {}
    for name, devices in (("two", "2"), ("one", "1")):
        out = tmp_path / f"run-{name}"
        proc = _train(tmp_path / f"seen-{name}", "lm", "--config", str(tmp_path / f"{name}.yaml"),
                      "--data", str(corpus), "--tokens", str(tok_dir / "tokens"), "--out", str(out),
                      "--devices", devices)  # fmt: skip
        if name == "two":
            _check_rank_zero_only(proc, "LM written to", "exported the LM to", out)
        weights[name] = torch.load(out / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
    _check_shares(_seen(tmp_path / "seen-two"), _seen(tmp_path / "seen-one"), steps=3)
    # The loss is a token mean per process, so two processes weigh the tokens of a step a little differently
    # from one: the updates are close, not equal. Compare what the 3 steps changed (from the seeded start).
    from motiongpt.lm.model import MotionLanguageModel
    from motiongpt.training import seed_everything

    seed_everything(0)
    start = {f"model.{n}": p.detach() for n, p in MotionLanguageModel(common["model"]).named_parameters()}
    moved = torch.cat([(weights["one"][k] - start[k]).flatten() for k in weights["one"]])
    differ = torch.cat([(weights["two"][k] - weights["one"][k]).flatten() for k in weights["one"]])
    assert moved.norm() > 0
    rel = float(differ.norm() / moved.norm())
    print(f"LM, 2 processes vs 1: |update difference| / |update| = {rel:.3f}")
    assert rel < 0.3, rel


def test_recipe_on_two_processes_runs_every_part(tmp_path: Path) -> None:
    """Every process runs every part of a recipe (part 2 starts from part 1's bundle on both ranks);
    rank 0 alone records the progress and writes the last bundle's settings."""
    from motiongpt.lm.pipeline import PipelineConfig
    from motiongpt.lm.train import LMTrainConfig
    from motiongpt.tokenizer.config import VQConfig
    from motiongpt.tokenizer.model import MotionTokenizer
    from motiongpt.tokenizer.tokenize import tokenize_corpus
    from test_lm_fixtures import save_tiny_backbone, tiny_lm_config

    corpus = write_tiny_corpus(tmp_path / "corpus", n_clips=12)
    tok_dir = MotionTokenizer(VQConfig(width=16, code_dim=16, codebook_size=16, depth=1)).save_pretrained(
        tmp_path / "vq"
    )
    tokenize_corpus(tok_dir, corpus, tok_dir / "tokens", batch_size=8)
    backbone = save_tiny_backbone(tmp_path / "causal", "causal", chat_template=True)
    for name, steps in (("a", 2), ("b", 1)):
        LMTrainConfig(stage="instruct", model=tiny_lm_config(backbone, max_prompt_tokens=400),
                      mixture={"t2m": 1.0, "m2t": 1.0}, batch_size=2, max_steps=steps, max_length=400,
                      val_every=steps, val_examples=4, val_captions=0, seed=0,
                      num_threads=1).to_yaml(tmp_path / f"{name}.yaml")  # fmt: skip
    (tmp_path / "recipe.yaml").write_text("parts: [a.yaml, b.yaml]\nguidance: 2.0\n")
    out = tmp_path / "run"
    proc = _train(tmp_path / "seen", "recipe", str(tmp_path / "recipe.yaml"), "--data", str(corpus),
                  "--tokens", str(tok_dir / "tokens"), "--out", str(out), "--devices", "2")  # fmt: skip
    assert proc.stdout.count("MotionGPT bundle in") >= 1, proc.stdout
    assert json.loads((out / "recipe.json").read_text()) == {"finished": {"1-a": 2, "2-b": 1}}
    assert yaml.safe_load((out / "2-b" / "run.yaml").read_text())["init"] == str(out / "1-a" / "motiongpt")
    assert PipelineConfig.from_yaml(out / "2-b" / "motiongpt" / "config.yaml").guidance == 2.0
    assert len(_seen(tmp_path / "seen")) == 2  # both ranks trained
    assert not [p for p in out.rglob("*") if ".tmp" in p.name], "a partial file was left"
