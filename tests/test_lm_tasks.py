"""Task builders, the seeded task mixture and the collate function (answer-only loss)."""

from __future__ import annotations

import random
import re
from collections import Counter

import numpy as np
import pytest

from motiongpt.data.instructions import load_instructions, placeholders_in
from motiongpt.lm.collate import IGNORE, LMCollator
from motiongpt.lm.tasks import (
    Example,
    TaskBuilder,
    TaskSampler,
    TokenClip,
    frames_text,
    seconds_text,
    span_corrupt,
)
from motiongpt.lm.vocab import MotionVocab
from test_lm_fixtures import tiny_dirs, tiny_lm_config  # noqa: F401  (fixture)

K = 16
VOCAB = MotionVocab(K, offset=1000)


def _clips() -> list[TokenClip]:
    rng = np.random.default_rng(0)
    clips = [
        TokenClip(f"h{i}", rng.integers(0, K, size=n), ("a person walks forward", "someone walks ahead"))
        for i, n in enumerate([10, 17, 24, 49])
    ]
    labels = [("walk", "tired"), ("walk", "happy"), ("run", "tired"), ("dash", "tired"), ("run", "happy"),
              ("wave-left-hand", "tired"), ("wave-right-hand", "tired")]  # fmt: skip
    for i, (content, style) in enumerate(labels):
        clips.append(
            TokenClip(
                f"bn1_{content}_{style}_{i:03d}",
                rng.integers(0, K, size=12 + i),
                (f"a person does a {style} {content}",),
                content,
                style,
                "bandai-namco-1",
                True,
            )
        )
    return clips


TEXTS = ("playground - climb, hang, swing", "walk", "jump, balance")


@pytest.fixture(scope="module")
def builder() -> TaskBuilder:
    return TaskBuilder(load_instructions(), VOCAB, _clips(), TEXTS)


def test_every_task_is_well_formed(builder):
    rng = random.Random(0)
    for task in builder.tasks:
        assert builder.available(task), task
        for _ in range(20):
            ex = builder.sample(task, rng)
            assert ex.task == task and ex.answer
            for text in (ex.prompt, ex.answer, *[t for turn in ex.history for t in turn]):
                assert not placeholders_in(text), (task, text)
            if ex.kind == "motion":
                assert len(VOCAB.parse(ex.answer)) == 1  # exactly one motion, it parses back


def test_motion_answers_and_lengths(builder):
    rng = random.Random(1)
    clip = builder.clips[2]  # 24 tokens
    ex = builder.build("t2m", clip, rng)
    assert np.array_equal(VOCAB.parse(ex.answer)[0], clip.tokens)
    assert ex.prompt.count("a person walks forward") + ex.prompt.count("someone walks ahead") == 1
    for _ in range(10):
        ex = builder.build("t2m_seconds", clip, rng)
        assert seconds_text(24) == "4.8" and "4.8" in ex.prompt
        assert len(VOCAB.parse(ex.answer)[0]) == 24  # the asked duration is the target's
        ex = builder.build("t2m_frames", clip, rng)
        assert frames_text(24) in ex.prompt
        ex = builder.build("m2t_seconds", clip, rng)
        assert "4.8" in ex.answer and np.array_equal(VOCAB.parse(ex.prompt)[0], clip.tokens)
        ex = builder.build("m2t_words", clip, rng)
        caption = ex.answer
        assert str(len(caption.split())) in ex.prompt and caption in clip.captions
    ex = builder.build("m2t", clip, rng)
    assert ex.kind == "text" and set(ex.references) == set(clip.captions)


@pytest.mark.parametrize("n", [10, 17, 24, 49])
def test_prediction_gets_first_20_percent(builder, n):
    clip = next(c for c in builder.clips if c.n_tokens == n)
    ex = builder.build("pred", clip, random.Random(0))
    given, rest = VOCAB.parse(ex.prompt)[0], VOCAB.parse(ex.answer)[0]
    assert len(given) == int(0.2 * n)
    assert np.array_equal(np.concatenate([given, rest]), clip.tokens)


@pytest.mark.parametrize("n", [10, 17, 24, 49])
def test_inbetween_masks_the_middle_half(builder, n):
    clip = next(c for c in builder.clips if c.n_tokens == n)
    ex = builder.build("inbetween", clip, random.Random(0))
    head = int(0.25 * n)
    n_mask = ex.prompt.count(VOCAB.mask_token)
    assert n_mask == n - 2 * head  # the middle 50% (first and last 25% given)
    body = ex.prompt[ex.prompt.index("<som>") : ex.prompt.index("<eom>") + 5]
    given = VOCAB.parse(body.replace(VOCAB.mask_token, ""))[0]
    assert np.array_equal(given, np.concatenate([clip.tokens[:head], clip.tokens[n - head :]]))
    assert np.array_equal(VOCAB.parse(ex.answer)[0], clip.tokens[head : n - head])


def test_edit_pairs_are_two_turns_of_same_content(builder):
    rng = random.Random(0)
    by_tokens = {VOCAB.motion_to_text(c.tokens): c for c in builder.clips}
    for _ in range(20):
        ex = builder.sample("edit_style", rng)
        ((p1, a1),) = ex.history
        a, b = (
            by_tokens[VOCAB.motion_to_text(VOCAB.parse(a1)[0])],
            by_tokens[VOCAB.motion_to_text(VOCAB.parse(ex.answer)[0])],
        )
        assert a.content == b.content and a.style != b.style
        assert any(ph in ex.prompt for ph in builder.templates.style_phrases[b.style])
        ex = builder.sample("edit_faster", rng)
        a = by_tokens[VOCAB.motion_to_text(VOCAB.parse(ex.history[0][1])[0])]
        b = by_tokens[VOCAB.motion_to_text(VOCAB.parse(ex.answer)[0])]
        assert a.style == b.style and (a.content, b.content) in {("walk", "run"), ("run", "dash")}


def test_text_tasks(builder):
    rng = random.Random(0)
    ex = builder.sample("t2t_steps", rng)  # only the description with >= 2 actions qualifies
    assert "1. climb\n2. hang\n3. swing" in ex.answer or ex.prompt.count("jump")
    for seed in range(20):  # each description's count, exactly (an off-by-one fails)
        ex = builder.sample("t2t_count", random.Random(seed))
        count = 3 if "climb, hang, swing" in ex.prompt else 2
        assert "jump, balance" in ex.prompt or count == 3
        numbers = [int(n) for n in re.findall(r"\d+", ex.answer)]
        assert numbers == [count], (ex.prompt, ex.answer)
        ex = builder.sample("t2t_steps", random.Random(seed))
        steps = ["climb", "hang", "swing"] if "climb" in ex.prompt else ["jump", "balance"]
        assert "\n".join(f"{i}. {s}" for i, s in enumerate(steps, 1)) in ex.answer
    ex = builder.sample("t2t_rephrase", rng)
    assert ex.answer != ex.prompt


def test_span_corruption_is_reversible():
    units = [f"<motion_id_{i}>" for i in range(20)]
    src, tgt = span_corrupt(units, [f"<extra_id_{i}>" for i in range(10)], random.Random(0))
    assert "<extra_id_0>" in src and tgt.startswith("<extra_id_0>")
    restored = src
    import re

    parts = re.split(r"(<extra_id_\d+>)", tgt)
    spans = {parts[i]: parts[i + 1] for i in range(1, len(parts) - 1, 2)}
    for s, span in spans.items():
        restored = restored.replace(s, span)
    assert restored == "".join(units)


def test_mixture_ratios_and_determinism(builder):
    ratios = {"t2m": 0.5, "m2t": 0.3, "pred": 0.2, "edit_style": 0.0}
    sampler = TaskSampler(builder, ratios, 3000, seed=3)
    counts = Counter(sampler[i].task for i in range(len(sampler)))
    for task, r in ratios.items():
        assert abs(counts[task] / 3000 - r) < 0.03, (task, counts)
    again = TaskSampler(builder, ratios, 3000, seed=3)
    assert [again[i] for i in (0, 7, 2999)] == [sampler[i] for i in (0, 7, 2999)]
    assert [TaskSampler(builder, ratios, 50, seed=4)[i] for i in range(50)] != [sampler[i] for i in range(50)]


def test_mixture_drops_tasks_without_data(caplog):
    b = TaskBuilder(load_instructions(), VOCAB, _clips()[:4], ())  # no Bandai pairs, no texts
    s = TaskSampler(b, {"t2m": 1.0, "edit_style": 1.0, "text_lm": 0.0}, 10)
    assert s.tasks == ["t2m"] and "edit_style" in caplog.text


# --- collate ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("family", ["causal", "causal_chat_untied", "t5"])
def test_collate_masks_the_prompt(tiny_dirs, family):  # noqa: F811
    from motiongpt.lm.model import MotionLanguageModel

    model = MotionLanguageModel(tiny_lm_config(tiny_dirs[family]))
    tok, vocab = model.tokenizer, model.vocab
    motion = vocab.motion_to_text([1, 2, 3])
    examples = [
        Example("t2m", "walk", motion, "motion"),
        Example("m2t", "say " + motion, "a man walks", "text"),
        Example("edit_style", "now sadly", motion, "motion", history=(("walk", vocab.motion_to_text([4])),)),
        Example("motion_lm", "", motion, "lm"),
    ]
    batch = LMCollator(model, max_length=128)(examples)
    assert batch["input_ids"].shape == batch["attention_mask"].shape
    for row, ex in enumerate(examples):
        labels = batch["labels"][row]
        kept = labels[labels != IGNORE].tolist()
        if model.is_encoder_decoder:
            assert tok.decode(kept, skip_special_tokens=True).replace(" ", "") == ex.answer.replace(" ", "")
            continue
        assert kept[-1] == tok.eos_token_id
        assert tok.decode(kept[:-1]) == ex.answer  # the loss covers exactly the answer (+ eos)
        ids = batch["input_ids"][row][batch["attention_mask"][row].bool()].tolist()
        n_prompt = len(ids) - len(kept)
        assert labels[:n_prompt].eq(IGNORE).all()  # prompt masked
        if ex.kind == "lm":
            assert n_prompt == 0
        elif ex.history:
            assert "walk" in tok.decode(ids[:n_prompt]) and "now sadly" in tok.decode(ids[:n_prompt])
        else:
            assert ids[:n_prompt] == model.encode_example(ex.prompt, ex.answer)["input_ids"][:n_prompt]


def test_collate_cuts_long_examples(tiny_dirs):  # noqa: F811
    from motiongpt.lm.model import MotionLanguageModel

    model = MotionLanguageModel(tiny_lm_config(tiny_dirs["causal"]))
    ex = Example("t2m", "x" * 300, model.vocab.motion_to_text([1, 2]), "motion")
    batch = LMCollator(model, max_length=40)([ex])
    assert batch["input_ids"].shape[1] == 40
    assert (batch["labels"][0] != IGNORE).sum() == 5  # <som> 2 codes <eom> eos survive


def test_t5_span_corruption_uses_the_sentinels():
    from motiongpt.lm.model import MotionLanguageModel
    from motiongpt.lm.train import _sentinels, sentinel_tokens
    from test_lm_fixtures import tiny_t5, tiny_tokenizer

    tok = tiny_tokenizer(t5_style=True)
    tok.add_special_tokens({"additional_special_tokens": [f"<extra_id_{i}>" for i in range(100)]})
    model = MotionLanguageModel(tiny_lm_config("unused", codebook_size=K), tiny_t5(len(tok)), tok)
    assert sentinel_tokens(tok)[:2] == ["<extra_id_0>", "<extra_id_1>"]
    assert _sentinels(model, "auto") and _sentinels(model, "next_token") == []
    b = TaskBuilder(load_instructions(), model.vocab, _clips(), TEXTS, sentinels=_sentinels(model, "auto"))
    ex = b.sample("motion_lm", random.Random(0))
    assert ex.kind == "lm" and "<extra_id_0>" in ex.prompt and ex.answer.startswith("<extra_id_0>")
    texts = [b.sample("text_lm", random.Random(i)) for i in range(10)]
    text = next(t for t in texts if len(t.prompt.split()) + len(t.answer.split()) > 2)
    assert "<extra_id_0>" in text.prompt
    batch = LMCollator(model, 256)([ex, text])
    sentinel0 = tok.convert_tokens_to_ids("<extra_id_0>")
    assert (batch["input_ids"] == sentinel0).sum() == 2 and (batch["labels"][:, 0] == sentinel0).all()


@pytest.mark.slow
def test_cmu_descriptions_from_the_shared_data():
    from conftest import shared_data
    from motiongpt.lm.tasks import action_steps, read_text_source

    texts = read_text_source(shared_data(), exclude=["walk"])
    assert len(texts) > 1000 and "walk" not in texts
    assert "playground - forward jumps, turn around" in texts
    assert sum(len(action_steps(t)) >= 2 for t in texts) > 100  # t2t_steps / t2t_count have data


def test_caption_variety_rewords_labelled_clips_only():
    clips = _clips()
    plain = TaskBuilder(load_instructions(), VOCAB, clips, TEXTS, canonical=True)
    varied = TaskBuilder(load_instructions(), VOCAB, clips, TEXTS, canonical=True, caption_variety=1.0)
    own = {c for clip in clips for c in clip.captions}
    labelled = [c for c in clips if c.content]
    rng = random.Random(0)
    for clip in labelled:
        assert plain.build("t2m", clip, rng).prompt in own
        prompts = {varied.build("t2m", clip, rng).prompt for _ in range(10)}
        assert not prompts & own and len(prompts) > 3, prompts
        side = "left" if "left" in clip.content else "right" if "right" in clip.content else None
        assert side is None or all(side in p for p in prompts)
    unlabelled = clips[0]
    assert varied.build("t2m", unlabelled, rng).prompt in unlabelled.captions


def test_new_request_after_a_motion_answers_the_new_caption(builder):
    rng = random.Random(0)
    by_tokens = {VOCAB.motion_to_text(c.tokens): c for c in builder.clips}
    for _ in range(20):
        ex = builder.sample("chat_new_request", rng)
        ((first_prompt, first_answer),) = ex.history
        assert VOCAB.parse(first_answer) and ex.kind == "motion"
        target = by_tokens[VOCAB.motion_to_text(VOCAB.parse(ex.answer)[0])]
        assert any(c in ex.prompt for c in target.captions), (ex.prompt, target.captions)


# --- one task registry, one text contract ------------------------------------------------------------
def test_the_task_registry_is_what_the_builder_templates_and_config_read(builder):
    from motiongpt.data.instructions import REQUIRED_TASKS
    from motiongpt.data.tasks import TASKS
    from motiongpt.lm.pipeline import TASKS as PROMPTED
    from motiongpt.lm.train import LMTrainConfig

    assert builder.tasks == tuple(TASKS)
    assert REQUIRED_TASKS == tuple(n for n, s in TASKS.items() if s.answer != "lm")
    assert set(PROMPTED) <= set(REQUIRED_TASKS) and "t2m_random" in PROMPTED
    for name, spec in TASKS.items():
        assert callable(getattr(TaskBuilder, spec.builder)), name
        ex = builder.sample(name, random.Random(0))
        assert ex.kind == spec.answer, name
    LMTrainConfig(mixture={name: 1.0 for name in TASKS})  # every registered task may be mixed
    with pytest.raises(ValueError, match="unknown task"):
        builder.available("dance_battle")


@pytest.mark.parametrize("family", ["causal", "causal_chat_untied", "t5"])
def test_inference_reads_the_ids_training_saw(tiny_dirs, family):  # noqa: F811
    """The ids generation feeds the model for a prompt (and earlier turns, as ``MotionGPT.chat`` lays
    them out) are exactly the prompt ids the training collator builds for the same prompt and history."""
    from motiongpt.lm.model import MotionLanguageModel

    model = MotionLanguageModel(tiny_lm_config(tiny_dirs[family]))
    motion = model.vocab.motion_to_text([1, 2, 3])
    collate = LMCollator(model, max_length=256)
    cases = [
        ("a person walks forward", ()),
        ("Describe this motion: " + motion, ()),
        ("now sadly", (("a person walks", motion),)),
        ("hello", (("walk", motion), ("Describe it.", "a person walks"))),
    ]
    for prompt, history in cases:
        if history:
            batch = model.encode_prompts([model.format_conversation(history, prompt)], formatted=True)
        else:
            batch = model.encode_prompts([prompt])  # what generate_motion_ids / generate_text do
        at_inference = batch["input_ids"][0][batch["attention_mask"][0].bool()].tolist()
        trained = collate.encode(Example("t2m", prompt, motion, "motion", history=history))
        enc = model.encode(prompt, motion, history)
        assert enc.n_prompt == len(at_inference)
        assert trained["input_ids"][: enc.n_prompt] == at_inference, (family, prompt)
        if not model.is_encoder_decoder:
            assert trained["labels"][: enc.n_prompt] == [IGNORE] * enc.n_prompt
            assert trained["labels"][enc.n_prompt :] == trained["input_ids"][enc.n_prompt :]


def test_lengths_in_prompts_follow_the_tokenizers_frames_per_token():
    """A tokenizer with another downsampling (8 frames a token) gives other stated lengths, not 4's."""
    eight = TaskBuilder(load_instructions(), VOCAB, _clips(), TEXTS, frames_per_token=8)
    clip, rng = eight.clips[2], random.Random(0)  # 24 tokens: 192 frames, 9.6 s at 8 frames a token
    assert "9.6" in eight.build("t2m_seconds", clip, rng).prompt
    assert "192" in eight.build("t2m_frames", clip, rng).prompt
    assert "9.6" in eight.build("m2t_seconds", clip, rng).answer


def test_action_balance_evens_out_the_actions():
    clips = _clips()  # 4 unlabelled clips, walk 2, run 2, dash 1, wave-left 1, wave-right 1
    draws = {}
    for balance in (0.0, 1.0):
        b = TaskBuilder(load_instructions(), VOCAB, clips, TEXTS, action_balance=balance)
        rng = random.Random(0)
        by_tokens = {VOCAB.motion_to_text(c.tokens): c for c in clips}
        seen = Counter(by_tokens[VOCAB.motion_to_text(VOCAB.parse(b.sample("t2m", rng).answer)[0])].content
                       for _ in range(3000))  # fmt: skip
        draws[balance] = {k: v / 3000 for k, v in seen.items()}
    assert draws[0.0][None] == pytest.approx(4 / 11, abs=0.03)  # uniform over clips
    assert draws[0.0]["dash"] == pytest.approx(1 / 11, abs=0.02)
    for action in (None, "walk", "run", "dash", "wave-left-hand", "wave-right-hand"):  # equal shares
        assert draws[1.0][action] == pytest.approx(1 / 6, abs=0.03), (action, draws[1.0])
