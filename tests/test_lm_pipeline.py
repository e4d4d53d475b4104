"""MotionGPT end to end with a tiny random motion tokenizer and LM; bad inputs; the CLI."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

from conftest import MOTIONGPT_CLI
from motiongpt.errors import CheckpointError, InvalidMotionError, InvalidRequestError, MotionGPTError
from motiongpt.lm.pipeline import Motion, MotionGPT, PipelineConfig, Reply
from test_lm_fixtures import save_tiny_bundle

pytest_plugins = ["test_lm_fixtures"]
pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module", params=["causal", "t5"])
def bundle(request, tiny_dirs, tmp_path_factory) -> Path:
    finetune = "lora" if request.param == "causal" else "full"
    return save_tiny_bundle(
        tmp_path_factory.mktemp("bundle") / "mg", tiny_dirs[request.param], finetune=finetune
    )


@pytest.fixture(scope="module")
def mg(bundle) -> MotionGPT:
    return MotionGPT.from_pretrained(bundle)


def test_bundle_layout(bundle):
    assert (bundle / "config.yaml").is_file()
    assert (bundle / "tokenizer" / "model.safetensors").is_file()
    assert (bundle / "lm" / "config.yaml").is_file()
    assert not bundle.with_name("mg.tmp").exists()


def test_generate_motion_exact_seconds(mg):
    motion = mg.generate_motion("a person walks forward", seconds=2, seed=0)
    assert isinstance(motion, Motion)
    assert motion.joints.shape == (40, 22, 3) and motion.features.shape == (40, 263)
    assert motion.seconds == 2.0 and motion.tokens.shape == (10,)
    assert np.isfinite(motion.joints).all()
    again = mg.generate_motion("a person walks forward", seconds=2, seed=0)
    assert np.array_equal(again.tokens, motion.tokens)  # seeded


def test_batched_and_free_length(mg):
    motions = mg.generate_motion_batch(["walk", "jump", "run"], seconds=[0.4, None, 1.0], seed=1)
    assert isinstance(motions, list) and len(motions) == 3
    assert motions[0].n_frames == 8 and motions[2].n_frames == 20
    assert 2 * 4 <= motions[1].n_frames <= 12 * 4  # tiny config: 2..12 tokens


def test_caption_predict_inbetween_chat(mg, tmp_path):
    motion = mg.generate_motion("walk", seconds=1.6, seed=0)
    assert isinstance(mg.caption(motion), str)
    assert isinstance(mg.caption_batch([motion, motion]), list)
    # from a file: joints -> features -> tokens
    path = motion.save_npy(tmp_path / "m.npy")
    assert isinstance(mg.caption(path), str)
    assert np.load(path).shape == (32, 22, 3)
    bvh = motion.save_bvh(tmp_path / "m.bvh")
    assert Motion.from_file(bvh).joints.shape[1:] == (22, 3)
    pred = mg.predict(motion, seconds=0.8, seed=0)
    assert pred.n_frames == 32 + 16 and np.array_equal(pred.tokens[:8], motion.tokens)
    mid = mg.inbetween(motion, motion, seconds=0.4, seed=0)
    assert mid.n_frames == 32 + 8 + 32
    reply = mg.chat([{"role": "user", "content": ["describe", motion]}], seed=0)
    assert isinstance(reply, Reply) and isinstance(reply.text, str)
    for m in reply.motions:
        assert m.joints.shape[1:] == (22, 3)


def test_chat_motions_are_guided_away_from_the_previous_turn(mg, monkeypatch):
    """A reply's motion contrasts this turn with the user's previous one (the conversation up to it);
    a first turn contrasts with the unconditional prompt; guidance 1 is off."""
    import motiongpt.lm.pipeline as pipeline

    seen = []
    real = pipeline.generate_text
    monkeypatch.setattr(pipeline, "generate_text", lambda *a, **kw: seen.append(kw) or real(*a, **kw))
    walk = mg.generate_motion("walk", seconds=1.6, seed=0)
    first = [{"role": "user", "content": "a person walks"}]
    edit = [*first, {"role": "assistant", "content": walk}, {"role": "user", "content": "now slower"}]
    replies = mg.chat_batch([edit, first], seed=0, seconds=0.8)
    assert len(replies) == 2 and all(m.n_frames == 16 for r in replies for m in r.motions)
    assert seen[-1]["guidance"] == mg.cfg.guidance
    assert seen[-1]["uncond_prompts"] == [
        mg.lm.format_conversation([], "a person walks"),
        mg.lm.format_prompt(mg.prompt("t2m_random")),
    ]
    mg.chat(edit, seed=0, guidance=3.0)
    assert seen[-1]["guidance"] == 3.0


def test_prompts_come_from_the_instruction_templates(mg):
    from motiongpt.data.instructions import load_instructions

    templates = load_instructions(required=())
    for task in ("t2m", "t2m_seconds", "m2t", "pred", "inbetween"):
        prompt = mg.prompt(task, Caption="x", Second="1.0", Motion="<som><eom>")
        known = templates[task].prompts
        filled = [p.replace("<Caption_Placeholder>", "x").replace("<Second_Placeholder>", "1.0")
                  .replace("<Motion_Placeholder>", "<som><eom>") for p in known]  # fmt: skip
        assert prompt == filled[1]  # default prompt_style="instruct"
    canonical = MotionGPT(mg.lm, mg.tokenizer, PipelineConfig(prompt_style="canonical"))
    assert canonical.prompt("t2m", Caption="a man runs") == "a man runs"


def test_prompt_texts_are_the_training_texts(mg):
    """The length and in-between texts of the pipeline's prompts are the task builders' own."""
    from motiongpt.lm.tasks import inbetween_span, masked_motion_text, seconds_text

    tokens = np.arange(12) % mg.vocab.codebook_size
    start, end = inbetween_span(len(tokens))
    trained = masked_motion_text(mg.vocab, tokens, start, end)
    asked = mg._inbetween_prompt(tokens[:start], tokens[end:], end - start)
    assert asked == mg.prompt("inbetween", Motion=trained)
    assert trained.count(mg.vocab.mask_token) == end - start == 6
    assert mg._seconds_text(16) == seconds_text(16) == "3.2"


def test_bad_inputs(mg):
    with pytest.raises(MotionGPTError, match="text is empty"):
        mg.generate_motion("   ")
    with pytest.raises(MotionGPTError, match="too long for the model"):
        mg.generate_motion("walk " * 100)
    with pytest.raises(MotionGPTError, match="allow_long"):
        mg.generate_motion("walk", seconds=60)
    with pytest.raises(MotionGPTError, match="shorter than one motion token"):
        mg.generate_motion("walk", seconds=0.01)
    with pytest.raises(MotionGPTError, match="unknown task"):
        mg.prompt("dance_battle")
    with pytest.raises(InvalidMotionError, match="at least 4"):
        mg.caption(np.zeros((3, 22, 3), dtype=np.float32))  # 2 feature frames < one token
    bad = np.zeros((20, 22, 3), dtype=np.float32)
    bad[5, 3, 1] = np.nan
    with pytest.raises(InvalidMotionError, match="NaN"):
        mg.caption(bad)
    with pytest.raises(MotionGPTError, match="alternate"):
        mg.chat([{"role": "assistant", "content": "hi"}])
    with pytest.raises(CheckpointError, match="does not exist"):
        MotionGPT.from_pretrained(Path("/nonexistent/bundle"))


def test_a_list_given_to_a_single_method_names_its_batch_method(mg):
    motion = mg.generate_motion("walk", seconds=0.8, seed=0)
    user = [{"role": "user", "content": "hi"}]
    calls = {
        "generate_motion takes one text; for several use generate_motion_batch":
            lambda: mg.generate_motion(["walk", "jump"]),
        "generate_motion takes one length (seconds); for several use generate_motion_batch":
            lambda: mg.generate_motion("walk", seconds=[0.8]),
        "caption takes one motion; for several use caption_batch": lambda: mg.caption((motion, motion)),
        "predict takes one motion; for several use predict_batch": lambda: mg.predict([motion]),
        "inbetween takes one start motion; for several use inbetween_batch":
            lambda: mg.inbetween([motion], [motion]),
        "inbetween takes one end motion; for several use inbetween_batch":
            lambda: mg.inbetween(motion, [motion]),
        "chat takes one conversation (a list of messages); for several use chat_batch":
            lambda: mg.chat([user, user]),
    }  # fmt: skip
    for message, call in calls.items():
        with pytest.raises(InvalidRequestError) as info:
            call()
        assert str(info.value) == message and "\n" not in str(info.value)


def _run_cli(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = dict(
        os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", OMP_NUM_THREADS="1", MPLBACKEND="Agg"
    )
    return subprocess.run(
        [*MOTIONGPT_CLI, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


def test_cli_generate_and_caption(tiny_dirs, tmp_path):
    bundle = save_tiny_bundle(tmp_path / "mg", tiny_dirs["causal"], finetune="lora")
    prefix = tmp_path / "out" / "walk"
    res = _run_cli(["generate", "a person walks", "--model", str(bundle), "--seconds", "1.2", "--seed", "3",
                    "--out", str(prefix)], tmp_path)  # fmt: skip
    assert res.returncode == 0, res.stderr
    joints = np.load(prefix.with_suffix(".npy"))
    assert joints.shape == (24, 22, 3)
    assert prefix.with_suffix(".bvh").read_text().startswith("HIERARCHY")
    assert prefix.with_suffix(".mp4").stat().st_size > 0
    res = _run_cli(["caption", str(prefix.with_suffix(".bvh")), "--model", str(bundle)], tmp_path)
    assert res.returncode == 0, res.stderr
    res = _run_cli(["generate", "walk", "--model", str(tmp_path / "missing"), "--out", str(prefix)], tmp_path)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert (
        res.stderr.strip().splitlines()[-1].startswith("error: ") and "does not exist" in res.stderr
    )


def _spy(monkeypatch, name):
    """Wrap ``motiongpt.lm.pipeline.<name>`` to record the prompts it is called with."""
    import motiongpt.lm.pipeline as pipeline

    seen, original = [], getattr(pipeline, name)

    def spy(lm, prompts, *args, **kwargs):
        seen.append(list(prompts))
        return original(lm, prompts, *args, **kwargs)

    monkeypatch.setattr(pipeline, name, spy)
    return seen


def test_inbetween_puts_distinct_start_and_end_around_the_middle(mg, monkeypatch):
    start = mg.generate_motion("walk", seconds=1.6, seed=0)  # 8 tokens
    end = mg.generate_motion("jump", seconds=0.8, seed=1)  # 4 tokens
    head, tail = mg.encode(start), mg.encode(end)
    assert not np.array_equal(head[:4], tail)
    prompts = _spy(monkeypatch, "generate_motion_ids")
    mid = mg.inbetween(start, end, seconds=0.4, seed=0)  # 2 new tokens
    assert mid.n_frames == 4 * (8 + 2 + 4) and len(mid.tokens) == 14
    np.testing.assert_array_equal(mid.tokens[:8], head)
    np.testing.assert_array_equal(mid.tokens[-4:], tail)
    v = mg.vocab
    start_text, end_text = v.motion_to_text(head), v.motion_to_text(tail)
    masked = start_text[: -len(v.eom_token)] + v.mask_token * 2 + end_text[len(v.som_token) :]
    assert len(prompts) == 1 and masked in prompts[0][0]
    # the default middle is as long as start and end together; the order of start and end is kept
    back = mg.inbetween(end, start, seed=0)
    assert len(back.tokens) == 4 + 12 + 8
    np.testing.assert_array_equal(back.tokens[:4], tail)
    np.testing.assert_array_equal(back.tokens[-8:], head)


def test_caption_reads_the_motion_tokens_and_is_deterministic(mg, monkeypatch):
    a = mg.generate_motion("walk", seconds=1.6, seed=0)
    b = mg.generate_motion("jump", seconds=0.8, seed=1)
    prompts = _spy(monkeypatch, "generate_text")
    one, two = mg.caption(a), mg.caption(b)
    assert mg.caption_batch([a, b]) == [one, two] and mg.caption(a) == one  # greedy, batch-independent
    assert prompts[0] == [mg.prompt("m2t", Motion=mg.vocab.motion_to_text(mg.encode(a)))]
    assert prompts[1] == [mg.prompt("m2t", Motion=mg.vocab.motion_to_text(mg.encode(b)))]
    for text in (one, two):
        assert "<motion" not in text and "<som>" not in text and text == text.strip()
