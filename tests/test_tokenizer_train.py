"""Tokenizer training through the same function the CLI uses, and the CLI end to end (tiny corpus)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import MOTIONGPT_CLI
from motiongpt.errors import ConfigError
from motiongpt.tokenizer.config import TrainConfig, VQConfig
from motiongpt.tokenizer.model import MotionTokenizer
from motiongpt.tokenizer.tokenize import load_tokens, read_frames_per_token
from motiongpt.tokenizer.train import train_tokenizer
from motiongpt.training import cosine_lr_factor


def tiny_train_config(**changes) -> TrainConfig:
    base = dict(
        model=VQConfig(width=32, code_dim=32, codebook_size=16, depth=2),
        batch_size=4, window=16, max_steps=10, lr=3e-3, warmup_steps=0, val_every=5, log_every=1,
        num_threads=1,
    )  # fmt: skip
    return TrainConfig(**{**base, **changes})


def test_cosine_schedule() -> None:
    cfg = tiny_train_config(lr=1e-3, lr_min=1e-5, warmup_steps=10, max_steps=110)

    def factor(step: int) -> float:  # as LitTokenizer.configure_optimizers calls it
        return cosine_lr_factor(step, cfg.lr, cfg.lr_min, cfg.warmup_steps, cfg.max_steps)

    assert factor(0) == pytest.approx(0.1)
    assert factor(9) == pytest.approx(1.0)
    assert factor(10) == pytest.approx(1.0)
    assert factor(60) == pytest.approx((1.0 + 0.01) / 2)
    assert factor(110) == pytest.approx(0.01)


def test_train_exports_and_resume_continues_at_the_right_step(tiny_corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    first = train_tokenizer(tiny_train_config(), tiny_corpus, out, accelerator="cpu", progress_bar=False)
    assert first.global_step == 10 and len(first.train_losses) == 10
    assert all(np.isfinite(first.train_losses))
    assert (out / "checkpoints" / "last.ckpt").is_file()
    tok = MotionTokenizer.from_pretrained(first.tokenizer_dir)
    assert tok.cfg == tiny_train_config().model
    np.testing.assert_allclose(tok.mean.numpy(), np.load(tiny_corpus / "Mean.npy"), rtol=1e-6)
    assert "val/mpjpe_mm" in first.metrics

    with pytest.raises(ConfigError, match="--resume"):
        train_tokenizer(tiny_train_config(), tiny_corpus, out, accelerator="cpu", progress_bar=False)
    with pytest.raises(ConfigError, match="model config differs"):
        cfg = tiny_train_config(model=VQConfig(width=48, code_dim=32, codebook_size=16, depth=2))
        train_tokenizer(cfg, tiny_corpus, out, resume=True, accelerator="cpu", progress_bar=False)

    resumed = train_tokenizer(
        tiny_train_config(max_steps=13), tiny_corpus, out, resume=True, accelerator="cpu", progress_bar=False
    )
    assert resumed.global_step == 13
    assert len(resumed.train_losses) == 3  # only steps 10, 11, 12 ran in this call
    ckpt = torch.load(out / "checkpoints" / "last.ckpt", weights_only=True)
    assert ckpt["global_step"] == 13
    assert ckpt["lr_schedulers"][0]["last_epoch"] == 13


class _Killed(Exception):
    pass


def test_resume_after_a_crash_is_bit_exact_and_the_logs_do_not_overlap(
    tiny_corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from motiongpt.tokenizer.lit import LitTokenizer

    cfg = tiny_train_config(max_steps=10, val_every=4)
    whole = train_tokenizer(cfg, tiny_corpus, tmp_path / "whole", accelerator="cpu", progress_bar=False)

    run = tmp_path / "crashed"
    step = LitTokenizer.training_step

    def crash_at_step_6(self, batch, batch_idx):
        if self.global_step == 6:
            raise _Killed
        return step(self, batch, batch_idx)

    monkeypatch.setattr(LitTokenizer, "training_step", crash_at_step_6)
    with pytest.raises(_Killed):
        train_tokenizer(cfg, tiny_corpus, run, accelerator="cpu", progress_bar=False)
    monkeypatch.setattr(LitTokenizer, "training_step", step)
    assert torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)["global_step"] == 4

    resumed = train_tokenizer(cfg, tiny_corpus, run, resume=True, accelerator="cpu", progress_bar=False)
    assert resumed.global_step == 10
    assert resumed.train_losses == whole.train_losses[4:]  # bit-exact: same data, same RNG, same state
    a = torch.load(tmp_path / "whole" / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
    b = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
    assert all(torch.equal(a[k], b[k]) for k in a)

    def steps(csv_path: Path) -> list[int]:
        rows = csv_path.read_text().splitlines()
        col = rows[0].split(",").index("step")
        return sorted({int(r.split(",")[col]) for r in rows[1:]})

    before, after = steps(run / "logs" / "metrics.csv"), steps(run / "logs" / "resume-1" / "metrics.csv")
    assert max(before) < 4 <= min(after), (before, after)  # the crashed run's rows from step 4 are gone
    assert steps(tmp_path / "whole" / "logs" / "metrics.csv") == sorted(set(before) | set(after))


def test_resume_refuses_a_truncated_or_foreign_checkpoint_naming_file_and_field(
    tiny_corpus: Path, tmp_path: Path
) -> None:
    from motiongpt.errors import CheckpointError

    run = tmp_path / "run"
    train_tokenizer(tiny_train_config(max_steps=2, val_every=2), tiny_corpus, run, accelerator="cpu",
                    progress_bar=False)  # fmt: skip
    last = run / "checkpoints" / "last.ckpt"
    good = last.read_bytes()
    last.write_bytes(good[: len(good) // 2])
    with pytest.raises(CheckpointError, match=r"last\.ckpt: not a readable checkpoint"):
        train_tokenizer(tiny_train_config(max_steps=4), tiny_corpus, run, resume=True, accelerator="cpu")
    last.write_bytes(good)
    ckpt = torch.load(last, weights_only=True)
    ckpt["motiongpt_config"]["model"]["codebook_size"] = 32  # a run of another model
    torch.save(ckpt, last)
    with pytest.raises(
        CheckpointError, match=r"ckpt: field model\.codebook_size \(checkpoint 32, this run 16\)"
    ):
        train_tokenizer(tiny_train_config(max_steps=4), tiny_corpus, run, resume=True, accelerator="cpu")
    del ckpt["motiongpt_config"]
    torch.save(ckpt, last)
    with pytest.raises(CheckpointError, match="field 'motiongpt_config' missing"):
        train_tokenizer(tiny_train_config(max_steps=4), tiny_corpus, run, resume=True, accelerator="cpu")


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*MOTIONGPT_CLI, *args], capture_output=True, text=True, timeout=300)


def test_cli_train_tokenize_eval(tiny_corpus: Path, tmp_path: Path) -> None:
    cfg_path = tmp_path / "tiny.yaml"
    tiny_train_config(max_steps=4, val_every=2).to_yaml(cfg_path)
    run = tmp_path / "run"
    r = _cli("train", "tokenizer", "--config", str(cfg_path), "--data", str(tiny_corpus), "--out", str(run),
             "--set", "lr=1e-3", "--accelerator", "cpu", "--max-steps", "3")  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "step 3" in r.stdout
    assert "Training step: 100%" in r.stdout and "| 3/3 [" in r.stdout, "the bar counts steps of the run"
    assert "Epoch 0" not in r.stdout
    assert r.stderr.count("GPU available") == 1, "Lightning's messages are printed once"
    assert "litlogger" not in r.stderr and "LeafSpec" not in r.stderr
    tok = run / "tokenizer"
    assert (tok / "model.safetensors").is_file()

    r = _cli(
        "tokenize", "--tokenizer", str(tok), "--data", str(tiny_corpus), "--out", str(tmp_path / "tokens")
    )
    assert r.returncode == 0, r.stderr
    for split in ("train", "val", "test"):
        tokens = load_tokens(tmp_path / "tokens" / f"{split}.npz")
        assert read_frames_per_token(tmp_path / "tokens" / f"{split}.npz") == 4  # tokenizer's downsampling
        names = (tiny_corpus / f"{split}.txt").read_text().split()
        assert sorted(tokens) == sorted(names)
        for name, t in tokens.items():
            n_frames = len(np.load(tiny_corpus / "new_joint_vecs" / f"{name}.npy"))
            assert t.dtype == np.int16 and len(t) == n_frames // 4 and t.max() < 16

    r = _cli("eval", "--task", "recon", "--tokenizer", str(tok), "--data", str(tiny_corpus),
             "--json", str(tmp_path / "m.json"))  # fmt: skip
    assert r.returncode == 0, r.stderr
    metrics = json.loads(r.stdout)
    assert metrics == json.loads((tmp_path / "m.json").read_text())
    for key in ("mpjpe_mm", "pa_mpjpe_mm", "accel_error_mm", "codebook_usage", "perplexity"):
        assert np.isfinite(metrics[key]), key
    assert metrics["pa_mpjpe_mm"] <= metrics["mpjpe_mm"] and 0 < metrics["codebook_usage"] <= 100

    r = _cli("eval", "--task", "nope", "--tokenizer", str(tok), "--data", str(tiny_corpus))
    assert r.returncode != 0 and "unknown task 'nope'" in r.stderr
    r = _cli("tokenize", "--tokenizer", str(tmp_path / "nowhere"), "--data", str(tiny_corpus))
    assert r.returncode == 2 and "error:" in r.stderr and "missing" in r.stderr
