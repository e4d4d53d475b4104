"""The CPU recipe's pieces: keep_layers, finetune="blocks", the motion-row loss, classifier-free
guidance (training and decoding), length-grouped batches, left/right mirroring."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from motiongpt.data.captions import mirror_caption, mirror_label
from motiongpt.errors import CheckpointError, InvalidRequestError
from motiongpt.lm.generation import Sampling, _guided, generate_motion_ids, generate_text
from motiongpt.lm.model import BLOCKS_FILE, MotionLanguageModel
from motiongpt.lm.tasks import GUIDED_TASKS, Example, TaskSampler, unconditional_prompt
from motiongpt.lm.train import LengthGrouped
from motiongpt.motion.skeleton import JOINT_NAMES, mirror_joints
from test_lm_fixtures import tiny_lm_config

pytest_plugins = ["test_lm_fixtures"]


def _batch(model):
    v = model.vocab
    return model.pad([
        model.encode_example("a person walks", v.motion_to_text([1, 2, 3, 4])),
        model.encode_example("describe " + v.motion_to_text([5]), "someone jumps"),
    ])  # fmt: skip


def test_keep_layers_cuts_the_stack(tiny_dirs, one_thread):
    full = MotionLanguageModel(tiny_lm_config(tiny_dirs["causal"]))
    cut = MotionLanguageModel(tiny_lm_config(tiny_dirs["causal"], keep_layers=1))
    assert len(full.base_model.model.layers) == 2 and len(cut.base_model.model.layers) == 1
    assert cut.base_model.config.num_hidden_layers == 1
    # the kept block is the pretrained first block, unchanged
    a, b = full.base_model.model.layers[0], cut.base_model.model.layers[0]
    assert all(torch.equal(x, y) for x, y in zip(a.parameters(), b.parameters(), strict=True))
    assert cut.num_parameters() < full.num_parameters()


def test_blocks_train_only_motion_rows_of_the_embeddings(tiny_dirs, one_thread):
    model = MotionLanguageModel(tiny_lm_config(tiny_dirs["causal_chat_untied"], finetune="blocks")).train()
    model.loss(**_batch(model)).loss.backward()
    rows = model.vocab.id_range
    for weight in (model.base_model.get_input_embeddings().weight, model.base_model.lm_head.weight):
        assert weight.grad[: rows.start].abs().sum() == 0  # the base vocabulary stays as it was
        assert weight.grad[rows.start : rows.stop].abs().sum() > 0
    block = model.base_model.model.layers[0].mlp.up_proj.weight
    assert block.requires_grad and block.grad.abs().sum() > 0


@pytest.mark.parametrize("dtype,atol", [("float32", 1e-5), ("float16", 5e-2)])
def test_blocks_save_load(tiny_dirs, tmp_path, one_thread, dtype, atol):
    cfg = tiny_lm_config(tiny_dirs["causal"], finetune="blocks", keep_layers=1, export_dtype=dtype)
    model = MotionLanguageModel(cfg).eval()
    rows = model.vocab.id_range
    emb = model.base_model.get_input_embeddings().weight
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))  # as training would: blocks and motion rows move
    batch = _batch(model)
    path = model.save_pretrained(tmp_path / "lm")
    assert (path / BLOCKS_FILE).is_file() and not (path / "model.safetensors").exists()
    loaded = MotionLanguageModel.from_pretrained(path)
    assert loaded.cfg.finetune == "blocks" and len(loaded.base_model.model.layers) == 1
    emb_loaded = loaded.base_model.get_input_embeddings().weight
    assert torch.allclose(emb[rows.start : rows.stop], emb_loaded[rows.start : rows.stop], atol=atol)
    assert not torch.allclose(emb[: rows.start], emb_loaded[: rows.start])  # the base rows are re-read
    with torch.no_grad():  # so logits agree once the base rows are the base's again
        emb[: rows.start] = emb_loaded[: rows.start]
        assert torch.allclose(model(**batch).logits, loaded(**batch).logits, atol=atol)


def test_blocks_file_from_another_model_is_refused(tiny_dirs, tmp_path, one_thread):
    path = MotionLanguageModel(
        tiny_lm_config(tiny_dirs["causal"], finetune="blocks", keep_layers=1)
    ).save_pretrained(tmp_path / "one")
    other = MotionLanguageModel(tiny_lm_config(tiny_dirs["causal"], finetune="blocks")).save_pretrained(
        tmp_path / "two"
    )
    (other / BLOCKS_FILE).write_bytes((path / BLOCKS_FILE).read_bytes())  # 1-block weights, 2-block config
    with pytest.raises(CheckpointError, match="blocks.safetensors"):
        MotionLanguageModel.from_pretrained(other)
    (other / BLOCKS_FILE).write_bytes(b"not a safetensors file")
    with pytest.raises(CheckpointError, match="cannot read"):
        MotionLanguageModel.from_pretrained(other)


def test_loss_inside_motions_is_over_motion_rows_only(tiny_dirs, one_thread):
    model = MotionLanguageModel(tiny_lm_config(tiny_dirs["causal"])).eval()
    batch = _batch(model)
    out = model.loss(**batch)
    logits = model(batch["input_ids"], batch["attention_mask"]).logits[:, :-1]  # (B, L-1, V)
    labels = batch["labels"][:, 1:]
    off, K, eom = model.vocab.offset, model.vocab.codebook_size, model.vocab.eom_id
    inside = ((labels >= off) & (labels < off + K)) | (labels == eom)
    text = (labels != -100) & ~inside
    expected = (
        F.cross_entropy(logits[inside][:, off : off + K + 2], labels[inside] - off, reduction="sum")
        + F.cross_entropy(logits[text], labels[text], reduction="sum")
    ) / (inside.sum() + text.sum())
    assert inside.sum() == 5 and text.sum() > 0  # 4 codes + <eom>; <som> and text are full-vocabulary
    assert torch.allclose(out.loss, expected, atol=1e-5)
    assert out.motion_logits.shape == (5, K + 2) and out.motion_labels.tolist()[-1] == K + 1
    # the full-vocabulary loss differs: motion rows compete with the whole vocabulary there
    assert not torch.allclose(out.loss, model(**batch).loss, atol=1e-3)


def test_guided_logits():
    cond, uncond = torch.tensor([[1.0, 2.0, 0.0]]), torch.tensor([[1.0, 0.0, 0.0]])
    both = torch.cat([cond, uncond])
    inside, outside = torch.tensor([True]), torch.tensor([False])
    assert torch.equal(_guided(both, 1.0, 2, inside.repeat(2)), both)
    assert torch.allclose(_guided(both, 3.0, 1, inside), torch.tensor([[1.0, 6.0, 0.0]]))
    assert torch.equal(_guided(both, 3.0, 1, outside), cond)  # a chat reply's text: conditional alone


def test_guided_chat_guides_motions_only(tiny_dirs, one_thread):
    """Guidance changes the motions a chat answer writes, never its text (read from the conditional
    rows), and each row is guided by its own unconditional prompt."""
    model = MotionLanguageModel(tiny_lm_config(tiny_dirs["causal"])).eval()
    rows = model.vocab.id_range
    with torch.no_grad():
        torch.manual_seed(0)
        model.base_model.get_input_embeddings().weight[rows.start : rows.stop] = 0.1 * torch.randn(
            len(rows), 32
        )
    prompts = [model.format_prompt(p) for p in ("walk", "describe a bow")]
    unconds = [model.format_prompt(p) for p in ("any motion", "run")]
    greedy = Sampling(do_sample=False)

    def chat(mode, guidance, uncond=unconds, prompts=prompts):
        return generate_text(model, prompts, greedy, mode=mode, formatted=True, motion_tokens=5,
                             guidance=guidance, uncond_prompts=uncond)  # fmt: skip

    assert chat("text", 20.0) == chat("text", 1.0)  # text answers: identical under any guidance
    som = model.vocab.som_id
    for a, b in zip(chat("chat", 1.0), chat("chat", 20.0), strict=True):  # the same text up to a motion
        cut = a.index(som) + 1 if som in a else len(a)
        assert a[:cut] == b[:cut]
    guided = chat("motion", 20.0)  # mode "motion" writes <som> first, then the guided codes
    assert all(r[0] == som for r in guided) and guided != chat("motion", 1.0)
    alone = chat("motion", 20.0, unconds[:1], prompts[:1])
    assert alone[0] == guided[0]  # its own pair decides, whatever else is in the batch
    with pytest.raises(ValueError, match="unconditional prompts"):
        chat("chat", 2.0, unconds[:1])


def test_guided_generation(tiny_dirs, one_thread):
    model = MotionLanguageModel(tiny_lm_config(tiny_dirs["causal"])).eval()
    rows = model.vocab.id_range
    with torch.no_grad():  # fresh motion rows are all alike; make the codes tell apart
        torch.manual_seed(0)
        model.base_model.get_input_embeddings().weight[rows.start : rows.stop] = 0.1 * torch.randn(
            len(rows), 32
        )
    prompts, n = ["a person walks", "someone bows deeply"], [6, 4]
    plain = generate_motion_ids(model, prompts, n, Sampling(), seed=1)
    again = generate_motion_ids(model, prompts, n, Sampling(), seed=1, guidance=1.0, uncond_prompt="x")
    guided = generate_motion_ids(
        model, prompts, n, Sampling(), seed=1, guidance=20.0, uncond_prompt="any motion"
    )
    assert [len(m) for m in guided] == n and all(((m >= 0) & (m < 16)).all() for m in guided)
    assert all(torch.equal(a, b) for a, b in zip(plain, again, strict=True))  # scale 1 is no guidance
    assert any(not torch.equal(a, b) for a, b in zip(plain, guided, strict=True))
    greedy = Sampling(do_sample=False)
    g1 = generate_motion_ids(model, prompts, n, greedy, guidance=20.0, uncond_prompt="any motion")
    g2 = generate_motion_ids(model, prompts[:1], n[:1], greedy, guidance=20.0, uncond_prompt="any motion")
    assert torch.equal(g1[0], g2[0])  # each row is guided by its own pair, whatever else is in the batch
    with pytest.raises(InvalidRequestError, match="unconditional"):
        generate_motion_ids(model, prompts, n, guidance=2.0)
    with pytest.raises(InvalidRequestError, match="guidance"):
        generate_motion_ids(model, prompts, n, guidance=0.0, uncond_prompt="x")


def test_unconditional_examples_share(tiny_dirs):
    from motiongpt.data.instructions import load_instructions
    from motiongpt.lm.tasks import TaskBuilder, TokenClip
    from motiongpt.lm.vocab import MotionVocab

    templates = load_instructions()
    clips = [TokenClip(f"c{i}", np.arange(1, 6 + i % 3), (f"a person walks {i}",)) for i in range(8)]
    builder = TaskBuilder(templates, MotionVocab(16, offset=100), clips)
    ratios = {"t2m": 1.0, "m2t": 1.0}
    plain = TaskSampler(builder, ratios, 2000, seed=3)
    dropped = TaskSampler(builder, ratios, 2000, seed=3, uncond_rate=0.25)
    uncond = unconditional_prompt(templates)
    n_t2m = n_drop = 0
    for i in range(2000):
        a, b = plain[i], dropped[i]
        if a.task in GUIDED_TASKS:
            n_t2m += 1
            if b.prompt == uncond:
                n_drop += 1
                assert b.answer == a.answer and b.kind == "motion"
            else:
                assert b == a
        else:
            assert b == a  # captioning is never touched
    assert 0.2 < n_drop / n_t2m < 0.3


def test_length_grouped_batches_are_a_permutation_with_less_padding():
    lengths = [random.Random(i).randint(5, 100) for i in range(320)]
    data = [Example("t2m", "p", "a" * n) for n in lengths]
    grouped = LengthGrouped(data, batch=8, group=10, length_of=lambda ex: len(ex.answer), seed=0)
    items = [grouped[i] for i in range(len(data))]
    assert sorted(len(e.answer) for e in items) == sorted(lengths)  # every item once
    assert [grouped[i] for i in range(80, 160)] == items[80:160]  # position-determined (resumable)

    def padded(seq):
        return sum(8 * max(len(e.answer) for e in seq[k : k + 8]) for k in range(0, len(seq), 8))

    assert padded(items) < 0.75 * padded(data)
    first_group = {len(e.answer) for e in items[:80]}
    assert first_group == {len(e.answer) for e in data[:80]}  # groups do not mix


def test_mirroring():
    joints = np.random.default_rng(0).normal(size=(5, 22, 3))
    m = mirror_joints(joints)
    assert np.allclose(mirror_joints(m), joints)
    left, right = JOINT_NAMES.index("l_wrist"), JOINT_NAMES.index("r_wrist")
    assert np.allclose(m[:, left, 0], -joints[:, right, 0]) and np.allclose(
        m[:, left, 1:], joints[:, right, 1:]
    )
    assert mirror_caption("A man waves the Left hand, turns right and walks leftward") == (
        "A man waves the Right hand, turns left and walks rightward"
    )
    assert mirror_caption("a person brightly walks") == "a person brightly walks"
    assert mirror_label("raise-up-left-hand") == "raise-up-right-hand" and mirror_label("walk") == "walk"
    assert mirror_label(None) is None


def test_mirrored_token_file_and_clips(tiny_corpus, tmp_path, tiny_dirs):
    from motiongpt.lm.train import LMTrainConfig, load_clips
    from motiongpt.tokenizer.tokenize import MIRROR, load_tokens, tokenize_corpus
    from test_lm_fixtures import tiny_motion_tokenizer

    tok_dir = tiny_motion_tokenizer().save_pretrained(tmp_path / "tok")
    written = tokenize_corpus(tok_dir, tiny_corpus, tmp_path / "tokens", mirror=True)
    assert MIRROR in written
    plain, mirrored = load_tokens(written["train"]), load_tokens(written[MIRROR])
    assert set(mirrored) == set(plain)
    assert all(len(plain[k]) - 1 <= len(mirrored[k]) <= len(plain[k]) for k in plain)
    cfg = LMTrainConfig(model=tiny_lm_config(tiny_dirs["causal"]), mirror=True, min_frames=4)
    clips = load_clips(tiny_corpus, tmp_path / "tokens", "train", cfg)
    originals = [c for c in clips if not c.name.startswith("M")]
    flipped = {c.name[1:]: c for c in clips if c.name.startswith("M")}
    assert originals and set(flipped) == {c.name for c in originals}
    for c in originals:
        assert flipped[c.name].captions == tuple(mirror_caption(t) for t in c.captions)


def test_chat_tasks_answer_in_words_and_other_side_pairs():
    from motiongpt.data.instructions import load_instructions
    from motiongpt.lm.tasks import TaskBuilder, TokenClip
    from motiongpt.lm.vocab import MotionVocab

    def clip(name, content, style, n=5):
        return TokenClip(name, np.arange(1, n), (f"a person does {content}",), content, style, "bn2", True)

    clips = [clip("a", "wave-left-hand", "happy"), clip("b", "wave-right-hand", "happy"),
             clip("c", "wave-right-hand", "sad"), clip("d", "walk", "happy")]  # fmt: skip
    vocab = MotionVocab(16, offset=100)
    builder = TaskBuilder(load_instructions(), vocab, clips)
    rng = random.Random(0)
    for _ in range(20):
        ex = builder.sample("chat_describe", rng)
        assert ex.kind == "text" and "<som>" not in ex.answer and len(ex.history) == 1
        assert "<som>" in ex.history[0][1] and any(c.captions[0] in ex.answer for c in clips)
        greet = builder.sample("chat_greet", rng)
        assert greet.kind == "text" and "<som>" not in greet.answer + greet.prompt and len(greet.history) <= 1
    # the other side: same source and style, content mirrored; never the sad or the walking clip
    assert builder.available("edit_other_side") == 2
    for _ in range(10):
        ex = builder.sample("edit_other_side", rng)
        first, target = ex.history[0][1], ex.answer
        assert ex.kind == "motion" and "<som>" in first and "<som>" in target
