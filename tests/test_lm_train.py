"""End-to-end LM training on tiny data: loss falls, resume continues at the right step, CLI works."""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from motiongpt.errors import ConfigError
from motiongpt.lm.lit import corpus_bleu
from motiongpt.lm.pipeline import CONFIG_NAME, PipelineConfig
from motiongpt.lm.train import LMTrainConfig, train_lm
from test_lm_fixtures import save_tiny_backbone, tiny_lm_config

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def tiny_setup(tmp_path_factory) -> dict[str, Path]:
    """A tiny corpus, a tiny random motion tokenizer (K=16) with its tokens, and two tiny backbones."""
    from conftest import write_tiny_corpus
    from motiongpt.tokenizer.config import VQConfig
    from motiongpt.tokenizer.model import MotionTokenizer
    from motiongpt.tokenizer.tokenize import tokenize_corpus

    root = tmp_path_factory.mktemp("lmtrain")
    corpus = write_tiny_corpus(root / "corpus", n_clips=12)
    vq = VQConfig(width=16, code_dim=16, codebook_size=16, depth=1)
    tok_dir = MotionTokenizer(vq).save_pretrained(root / "vq")
    tokenize_corpus(tok_dir, corpus, tok_dir / "tokens", batch_size=8)
    return {
        "corpus": corpus, "tokens": tok_dir / "tokens", "vq": tok_dir,
        "causal": save_tiny_backbone(root / "causal", "causal", chat_template=True),
        "t5": save_tiny_backbone(root / "t5", "t5"),
    }  # fmt: skip


def _cfg(backbone: Path, **changes) -> LMTrainConfig:
    base = dict(
        stage="instruct", model=tiny_lm_config(backbone, max_prompt_tokens=400),
        mixture={"t2m": 1.0, "m2t": 1.0, "pred": 0.5, "inbetween": 0.5, "t2m_seconds": 0.5},
        batch_size=4, max_steps=12, lr=1e-2, lr_min=1e-4, warmup_steps=1, max_length=400, min_frames=40,
        val_every=6, val_examples=8, val_captions=2, log_every=1, seed=0, num_threads=1,
    )  # fmt: skip
    return LMTrainConfig(**(base | changes))


def _run(setup, cfg, out, **kw):
    return train_lm(cfg, setup["corpus"], setup["tokens"], out, accelerator="cpu", devices=1,
                    progress_bar=False, **kw)  # fmt: skip


def _mean(xs):
    return sum(xs) / len(xs)


@pytest.mark.parametrize("family", ["causal", "t5"])
def test_train_loss_falls_and_exports(tiny_setup, tmp_path, family):
    res = _run(tiny_setup, _cfg(tiny_setup[family]), tmp_path / "run")
    assert res.global_step == 12 and len(res.train_losses) == 12
    assert _mean(res.train_losses[-3:]) < 0.9 * _mean(res.train_losses[:3]), res.train_losses
    assert {"val/loss", "val/motion_acc", "val/bleu4"} <= set(res.metrics)
    assert (res.lm_dir / "config.yaml").is_file() and res.last_checkpoint.is_file()
    assert res.bundle_dir is not None and (res.bundle_dir / "tokenizer").is_dir()
    assert (tmp_path / "run" / "logs" / "metrics.csv").is_file()
    from motiongpt.lm.model import MotionLanguageModel

    assert MotionLanguageModel.from_pretrained(res.lm_dir).vocab.codebook_size == 16


def test_resume_continues_at_the_right_step(tiny_setup, tmp_path):
    # constant LR, so that a 4-step run resumed to 7 steps and a 7-step run share the schedule
    cfg = _cfg(tiny_setup["causal"], max_steps=4, val_every=2, val_captions=0, lr_min=1e-2, warmup_steps=0)
    first = _run(tiny_setup, cfg, tmp_path / "run")
    assert first.global_step == 4
    with pytest.raises(ConfigError, match="--resume"):
        _run(tiny_setup, cfg, tmp_path / "run")
    more = dataclasses.replace(cfg, max_steps=7)
    second = _run(tiny_setup, more, tmp_path / "run", resume=True)
    assert second.global_step == 7 and len(second.train_losses) == 3
    # the same 7 steps in one go see the same data and give the same losses
    whole = _run(tiny_setup, more, tmp_path / "whole")
    assert whole.train_losses[4:] == pytest.approx(second.train_losses, rel=1e-4, abs=1e-5)


def test_pretrain_mixture_with_unsupervised_data_and_init(tiny_setup, tmp_path):
    cfg = _cfg(tiny_setup["causal"], stage="pretrain", canonical_templates=True, max_steps=3, val_every=3,
               mixture={"t2m": 0.3, "m2t": 0.2, "pred": 0.1, "motion_lm": 0.2, "text_lm": 0.2})  # fmt: skip
    csv = tmp_path / "CMU data.csv"
    csv.write_text('"Subject","Trial #","Motion Description"\n1,1,"playground - climb, hang"\n2,1,"walk"\n')
    res = _run(tiny_setup, cfg, tmp_path / "pre", text_source=csv)
    assert res.global_step == 3
    # a bundle's sampling settings carry over to the bundle of a run started from it
    sampling = dataclasses.replace(PipelineConfig(), guidance=3.0, temperature=0.5)
    assert PipelineConfig.from_yaml(res.bundle_dir / CONFIG_NAME) == PipelineConfig()
    sampling.to_yaml(res.bundle_dir / CONFIG_NAME)
    stage3 = _cfg(tiny_setup["causal"], max_steps=2, val_every=2, val_captions=0)
    res3 = _run(tiny_setup, stage3, tmp_path / "inst", init=res.bundle_dir)  # a MotionGPT bundle
    assert res3.global_step == 2 and res3.bundle_dir is not None
    assert PipelineConfig.from_yaml(res3.bundle_dir / CONFIG_NAME) == sampling
    saved = yaml.safe_load((tmp_path / "inst" / "run.yaml").read_text())
    assert saved["init"] == str(res.bundle_dir)
    with pytest.raises(ConfigError, match="init"):  # resuming must start from the same init
        _run(tiny_setup, stage3, tmp_path / "inst", init=res.lm_dir, resume=True)


def test_config_validation_and_yaml_presets():
    with pytest.raises(ConfigError, match="unknown tasks"):
        LMTrainConfig(mixture={"t2x": 1.0})
    with pytest.raises(ConfigError, match="mixture.t2m"):
        LMTrainConfig(mixture={"t2m": -1})
    for name in ("pretrain", "instruct"):
        cfg = LMTrainConfig.from_yaml(ROOT / "configs" / "lm" / f"{name}.yaml")
        assert cfg.stage == name
    assert LMTrainConfig().with_overrides(["mixture.t2m=0.5", "batch_size=2"]).mixture["t2m"] == 0.5


def test_the_default_mixture_is_read_from_the_instruct_preset(tmp_path, monkeypatch):
    """Mixtures live only in YAML: the default is read from the packaged preset, which is the
    repository's configs/lm file (a link), not from a copy in the code."""
    from motiongpt.lm import train

    for stage in ("pretrain", "instruct"):
        packaged = train.stage_config(stage)
        repo = ROOT / "configs" / "lm" / f"{stage}.yaml"
        assert packaged.is_file() and packaged.resolve() == repo.resolve()
    instruct = LMTrainConfig.from_yaml(ROOT / "configs" / "lm" / "instruct.yaml")
    assert LMTrainConfig().mixture == instruct.mixture
    other = tmp_path / "instruct.yaml"
    other.write_text("mixture: {t2m: 0.5, m2t: 0.5}\n", encoding="utf-8")
    monkeypatch.setattr(train, "stage_config", lambda stage: other)
    assert LMTrainConfig().mixture == {"t2m": 0.5, "m2t": 0.5}  # follows the file
    other.write_text("stage: instruct\n", encoding="utf-8")
    monkeypatch.setattr(train, "stage_config", lambda stage: tmp_path / "instruct.yaml")
    train._preset_mixture.cache_clear()
    with pytest.raises(ConfigError, match="default mixture"):
        LMTrainConfig()
    train._preset_mixture.cache_clear()
    source = Path(train.__file__).read_text(encoding="utf-8")
    assert '"edit_slower"' not in source and "INSTRUCT_MIXTURE" not in source  # no copy left in the code


def test_corpus_bleu():
    assert corpus_bleu(
        ["a person walks forward slowly"], [["a person walks forward slowly"]]
    ) == pytest.approx(1.0)
    assert corpus_bleu(["jump"], [["a person walks forward"]]) == 0.0
    mid = corpus_bleu(["a person walks forward slowly"], [["a person walks forward quickly", "x"]])
    assert 0.0 < mid < 1.0


def test_cli_train_lm(tiny_setup, tmp_path):
    cfg = _cfg(tiny_setup["causal"], max_steps=2, val_every=2, val_captions=1)
    cfg_path = tmp_path / "tiny.yaml"
    cfg.to_yaml(cfg_path)
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    cmd = [
        sys.executable, "-c", "from motiongpt.cli import app; app()", "train", "lm", "--stage", "instruct",
        "--config", str(cfg_path), "--data", str(tiny_setup["corpus"]), "--tokens", str(tiny_setup["tokens"]),
        "--out", str(tmp_path / "r"), "--accelerator", "cpu", "--devices", "1", "--set", "val_examples=4",
        "--max-steps", "1",
    ]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (tmp_path / "r" / "lm" / "config.yaml").is_file()
    saved = LMTrainConfig.from_yaml(tmp_path / "r" / "config.yaml")
    assert saved.max_steps == 1 and saved.val_examples == 4
    bad = subprocess.run(cmd[:-2] + ["--set", "nope=1"], capture_output=True, text=True, env=env, timeout=300)
    assert bad.returncode == 2 and "unknown key" in bad.stderr


def test_token_clips_match_the_humanml3d_items(tmp_path):
    """The LM reads texts + tokens only; it sees the same items and captions as HumanML3D (spans too)."""
    from conftest import write_tiny_corpus
    from motiongpt.data.humanml3d import HumanML3D, read_token_clips
    from motiongpt.tokenizer.config import VQConfig
    from motiongpt.tokenizer.model import MotionTokenizer
    from motiongpt.tokenizer.tokenize import load_tokens, read_frames_per_token, tokenize_corpus

    corpus = write_tiny_corpus(tmp_path / "c", n_clips=12)
    first = (corpus / "train.txt").read_text().split()[0]
    with open(corpus / "texts" / f"{first}.txt", "a", encoding="utf-8") as f:
        f.write("a man jumps#a/DET man/NOUN jump/VERB#0.5#2.5\n")  # a 40-frame span of the clip
    vq = MotionTokenizer(VQConfig(width=16, code_dim=16, codebook_size=16, depth=1)).save_pretrained(
        tmp_path / "vq"
    )
    tokenize_corpus(vq, corpus, tmp_path / "tok", splits=("train",))
    path = tmp_path / "tok" / "train.npz"
    with pytest.raises(TypeError, match="frames_per_token"):  # no default: it is the tokenizer's
        read_token_clips(corpus, "train", load_tokens(path), 40, 196)
    with pytest.raises(ValueError, match="frames_per_token"):
        read_token_clips(corpus, "train", load_tokens(path), 40, 196, frames_per_token=0)
    clips = read_token_clips(corpus, "train", load_tokens(path), 40, 196,
                             frames_per_token=read_frames_per_token(path))  # fmt: skip
    items = HumanML3D(corpus, "train", 40, 196)
    assert {c.name: c.captions for c in clips} == {m.name: tuple(x.text for x in m.captions) for m in items}
    assert f"{first}#0.5#2.5" in {c.name for c in clips}
    assert all(
        len(c.tokens) == len(m) // 4
        for c, m in zip(sorted(clips, key=lambda c: c.name), sorted(items, key=lambda m: m.name), strict=True)
    )


def test_recipe_runs_its_parts_in_order_and_continues_where_it_stopped(tiny_setup, tmp_path):
    """Part 2 starts from part 1's bundle; the last bundle gets the recipe's guidance; a second run skips
    finished parts and resumes an unfinished one (no "already holds a run")."""
    import json

    from motiongpt.lm.pipeline import PipelineConfig
    from motiongpt.lm.recipe import PROGRESS_NAME, Recipe, train_recipe

    _cfg(tiny_setup["causal"], max_steps=2, val_every=2, val_captions=0).to_yaml(tmp_path / "a.yaml")
    _cfg(tiny_setup["causal"], max_steps=1, val_every=1, val_captions=0, seed=1).to_yaml(tmp_path / "b.yaml")
    (tmp_path / "recipe.yaml").write_text("parts: [a.yaml, b.yaml]  # in order\nguidance: 2.0\n")
    recipe, out = Recipe.from_yaml(tmp_path / "recipe.yaml"), tmp_path / "run"
    assert recipe.folders() == ["1-a", "2-b"]

    def run():
        return train_recipe(recipe, tiny_setup["corpus"], tiny_setup["tokens"], out, accelerator="cpu",
                            devices=1, progress_bar=False)  # fmt: skip

    bundle = run()
    assert bundle == out / "2-b" / "motiongpt"
    assert PipelineConfig.from_yaml(bundle / "config.yaml").guidance == 2.0
    assert PipelineConfig.from_yaml(out / "1-a" / "motiongpt" / "config.yaml").guidance == 1.0
    assert yaml.safe_load((out / "2-b" / "run.yaml").read_text())["init"] == str(out / "1-a" / "motiongpt")
    assert json.loads((out / PROGRESS_NAME).read_text()) == {"finished": {"1-a": 2, "2-b": 1}}

    first = (out / "1-a" / "lm" / "config.yaml").stat().st_mtime_ns
    (out / PROGRESS_NAME).write_text(json.dumps({"finished": {"1-a": 2}}))  # as if stopped inside part 2
    assert run() == bundle
    assert (out / "1-a" / "lm" / "config.yaml").stat().st_mtime_ns == first  # part 1 not trained again
    assert json.loads((out / PROGRESS_NAME).read_text())["finished"] == {"1-a": 2, "2-b": 1}


@pytest.mark.parametrize(("text", "message"), [
    ("parts: []\n", "expected 'parts:'"),
    ("parts: [missing.yaml]\n", "part configs not found"),
    ("parts: [a.yaml]\nguidence: 2\n", "unknown keys ['guidence']"),
    ("parts: [a.yaml\n", "invalid YAML"),
])  # fmt: skip
def test_bad_recipes_are_named(tmp_path, text, message):
    from motiongpt.lm.recipe import Recipe

    (tmp_path / "a.yaml").write_text("max_steps: 1\n")
    (tmp_path / "recipe.yaml").write_text(text)
    with pytest.raises(ConfigError, match=re.escape(message)):
        Recipe.from_yaml(tmp_path / "recipe.yaml")


def test_cli_train_recipe_reports_a_bad_recipe_in_one_line(tmp_path):
    (tmp_path / "recipe.yaml").write_text("parts: [nope.yaml]\n")
    proc = subprocess.run(
        [sys.executable, "-c", "from motiongpt.cli import app; app()", "train", "recipe",
         str(tmp_path / "recipe.yaml"), "--data", str(tmp_path), "--tokens", str(tmp_path), "--out",
         str(tmp_path / "run")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 2 and "part configs not found" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "run").exists()


def test_the_bundled_recipe_names_configs_that_exist():
    from motiongpt.lm.recipe import Recipe

    recipe = Recipe.from_yaml(ROOT / "configs" / "lm" / "cpu-recipe.yaml")
    assert [p.name for p in recipe.parts][0] == "cpu.yaml" and recipe.bundle["guidance"] > 1
    for part in recipe.parts:
        LMTrainConfig.from_yaml(part)
    # the bundled model samples with the settings its recipe writes
    bundled = yaml.safe_load((ROOT / "src" / "motiongpt" / "assets" / "model" / "config.yaml").read_text())
    assert recipe.bundle and {k: bundled[k] for k in recipe.bundle} == recipe.bundle
