"""The inference cache (lm/inference_cache.py): a blocks or LoRA checkpoint loaded from the cache is the
model the long load gives (identical weights and logits), the cache is used, refreshed when the
checkpoint changes, and passed over when damaged."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import torch

from motiongpt.lm import inference_cache
from motiongpt.lm.inference_cache import load_for_inference
from motiongpt.lm.model import MotionLanguageModel

pytest_plugins = ["test_lm_fixtures"]
from test_lm_fixtures import tiny_lm_config  # noqa: E402


def _checkpoint(root: Path, backbone: Path, finetune: str) -> Path:
    torch.manual_seed(1)
    lm = MotionLanguageModel(tiny_lm_config(backbone, finetune=finetune, keep_layers=1))
    with torch.no_grad():
        for p in lm.parameters():
            if p.requires_grad:
                p.add_(0.05 * torch.randn_like(p))  # trained: LoRA B no longer zero, motion rows moved
    return lm.save_pretrained(root / f"lm-{finetune}")


def _entries(cache: Path) -> list[Path]:
    root = cache / "inference"
    return sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []


def _logits(model: MotionLanguageModel) -> torch.Tensor:
    ids = torch.tensor([[5, 9, 12, 40, 41]])
    with torch.no_grad():
        return model(input_ids=ids, attention_mask=torch.ones_like(ids)).logits


@pytest.mark.parametrize("finetune", ["blocks", "lora"])
def test_cached_model_is_the_long_load(finetune, tiny_dirs, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("MOTIONGPT_CACHE", str(tmp_path / "cache"))
    lm_dir = _checkpoint(tmp_path, tiny_dirs["causal"], finetune)
    reference = MotionLanguageModel.from_pretrained(lm_dir).optimize_for_inference()

    first = load_for_inference(lm_dir)  # the long way, then written to the cache
    (entry,) = _entries(tmp_path / "cache")

    def no_long_load(*args, **kwargs):
        raise AssertionError("loaded the long way although the cache holds the model")

    with monkeypatch.context() as m:
        m.setattr(MotionLanguageModel, "from_pretrained", no_long_load)
        cached = load_for_inference(lm_dir)
    assert cached.cfg == reference.cfg and cached.vocab.id_range == reference.vocab.id_range
    ref_state = reference.base_model.state_dict()
    for model in (first, cached):
        state = model.base_model.state_dict()
        assert sorted(state) == sorted(ref_state)
        for key, value in ref_state.items():
            assert torch.equal(state[key], value), key
        assert torch.equal(_logits(model), _logits(reference))

    # a changed checkpoint gets a new entry and the old one goes
    stat = (lm_dir / "config.yaml").stat()
    os.utime(lm_dir / "config.yaml", ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    load_for_inference(lm_dir)
    (new_entry,) = _entries(tmp_path / "cache")
    assert new_entry != entry

    # an entry of a folder that is gone is removed when another entry is written
    gone = _checkpoint(tmp_path / "gone", tiny_dirs["causal"], finetune)
    load_for_inference(gone)
    assert len(_entries(tmp_path / "cache")) == 2
    shutil.rmtree(gone)

    # a damaged entry is passed over (and replaced)
    (new_entry / "model.safetensors").write_bytes(b"not safetensors")
    assert torch.equal(_logits(load_for_inference(lm_dir)), _logits(reference))
    assert len(_entries(tmp_path / "cache")) == 1  # the gone folder's entry went with the rewrite


def test_full_checkpoints_and_unwritable_caches_load_without_it(tiny_dirs, tmp_path, monkeypatch) -> None:
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the cache folder would be\n")
    monkeypatch.setenv("MOTIONGPT_CACHE", str(blocked))
    lm_dir = _checkpoint(tmp_path, tiny_dirs["causal"], "blocks")
    reference = MotionLanguageModel.from_pretrained(lm_dir).optimize_for_inference()
    assert torch.equal(_logits(load_for_inference(lm_dir)), _logits(reference))
    full = _checkpoint(tmp_path, tiny_dirs["causal"], "full")
    monkeypatch.setenv("MOTIONGPT_CACHE", str(tmp_path / "cache"))
    load_for_inference(full)
    assert _entries(tmp_path / "cache") == []
    assert inference_cache.cache_key(lm_dir, reference.cfg) != inference_cache.cache_key(full, reference.cfg)
