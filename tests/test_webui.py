"""The web UI's conversation logic (``MotionChat``) with the bundled model, without a browser."""

from __future__ import annotations

import imageio.v3 as iio
import numpy as np
import pytest

from conftest import EXAMPLE_BVH, needs_bundled_model
from motiongpt.errors import BVHError, InvalidMotionError, InvalidRequestError
from motiongpt.motion.io import load_joints
from motiongpt.webui.session import HISTORY_TURNS, MotionChat, Turn, _as_message, _recent, slug

pytestmark = [pytest.mark.slow, needs_bundled_model]


@pytest.fixture(scope="module")
def pipeline():
    from motiongpt.cli import DEFAULT_MODEL
    from motiongpt.lm.pipeline import MotionGPT

    return MotionGPT.from_pretrained(DEFAULT_MODEL)


@pytest.fixture
def chat(pipeline, tmp_path):
    return MotionChat(pipeline, tmp_path / "out")


def test_text_to_motion_writes_npy_bvh_and_video_of_the_asked_length(chat):
    turns = chat.text_to_motion((), "  a person jumps over an obstacle ", seconds=2.0, seed=0)
    user, answer = turns
    assert (user.role, user.text) == ("user", "a person jumps over an obstacle")
    assert answer.role == "assistant" and answer.motion.n_frames == 40
    files = answer.files
    assert files.npy.name == "a-person-jumps-over-an-obstacle.npy"
    joints = np.load(files.npy)
    assert joints.shape == (40, 22, 3) and np.isfinite(joints).all()
    assert np.linalg.norm(load_joints(files.bvh) - joints, axis=-1).mean() < 0.01
    assert iio.imread(files.video).shape[0] == 40
    assert answer.display() == "\u25b6 2.0 s motion (40 frames)"


def test_same_seed_same_motion_and_each_motion_its_own_folder(chat):
    a = chat.text_to_motion((), "a person walks forward", seconds=1.6, seed=3)[-1]
    b = chat.text_to_motion((), "a person walks forward", seconds=1.6, seed=3)[-1]
    np.testing.assert_array_equal(a.motion.joints, b.motion.joints)
    assert a.files.npy != b.files.npy and a.files.npy.name == b.files.npy.name


def test_chat_sees_the_earlier_motion(chat, pipeline, monkeypatch):
    turns = chat.text_to_motion((), "a person walks forward", seconds=1.2, seed=0)
    seen = {}
    original = pipeline.chat

    def spy(messages, seed=None, **options):
        seen["messages"] = messages
        seen["reply"] = original(messages, seed=seed, **options)
        return seen["reply"]

    monkeypatch.setattr(pipeline, "chat", spy)
    turns = chat.chat(turns, "now do it faster", seed=0)
    assert len(turns) == 4 and turns[-1].role == "assistant"
    reply, shown = seen["reply"], turns[-1]
    assert shown.motion is reply.motion  # the reply's kind is kept: a motion-only answer shows its motion
    assert shown.text == (reply.text if reply.motion is not None else reply.text or "(no answer)")
    assert (shown.files is not None) == (reply.motion is not None)
    first, answer, last = seen["messages"]
    assert first == {"role": "user", "content": ["a person walks forward"]}
    assert answer["content"] == [turns[1].motion]  # the generated motion goes back to the model
    assert last == {"role": "user", "content": ["now do it faster"]}


def test_describe_and_continue_an_uploaded_bvh(chat, pipeline):
    turns = chat.describe((), EXAMPLE_BVH)
    assert turns[0].upload == EXAMPLE_BVH.name and turns[0].motion is not None
    assert f"[{EXAMPLE_BVH.name}, " in turns[0].display()
    caption = turns[1].text
    assert len(caption.split()) >= 3 and "<motion" not in caption

    turns = chat.continue_motion(turns, EXAMPLE_BVH, seconds=1.0, seed=0)
    upload, answer = turns[-2:]
    given = len(pipeline.encode(upload.motion))
    assert answer.motion.n_frames == 4 * (given + 5)  # the upload, then 1.0 s = 5 tokens of 4 frames
    assert answer.text == "Continued by 1.0 s."
    assert answer.files.bvh.is_file()


def test_long_upload_is_cut_and_the_reply_says_so(chat, tmp_path):
    walk = load_joints(EXAMPLE_BVH)  # (57, 22, 3)
    np.save(tmp_path / "long.npy", np.concatenate([walk] * 6)[:300])  # 15 s
    motion, note = chat.load(tmp_path / "long.npy")
    assert motion.n_frames == 196 and note == "(Used the first 9.8 s of 15.0 s.)"
    turns = chat.describe((), tmp_path / "long.npy")
    assert turns[1].text.startswith(note)


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda c, p: c.text_to_motion((), "   "), InvalidRequestError, "prompt is empty"),
        (lambda c, p: c.text_to_motion((), "a walk", seconds=12), InvalidRequestError, "seconds must be"),
        (lambda c, p: c.text_to_motion((), "a walk", seconds=float("nan")), InvalidRequestError, "seconds"),
        (lambda c, p: c.chat((), ""), InvalidRequestError, "prompt is empty"),
        (lambda c, p: c.chat((), "walk " * 5000), InvalidRequestError, "at most 600: shorten it"),
        (lambda c, p: c.describe((), None), InvalidRequestError, "upload a .bvh or .npy"),
        (lambda c, p: c.describe((), _write(p / "a.txt", "hello")), InvalidMotionError, "a.txt"),
        (lambda c, p: c.describe((), _write(p / "bad.bvh", "HIERARCHY\nROOT Hips {")), BVHError, "bad.bvh"),
        (lambda c, p: c.continue_motion((), _nan_npy(p)), InvalidMotionError, "NaN|finite"),
    ],
)
def test_bad_input_is_a_clear_error(chat, tmp_path, call, error, match):
    with pytest.raises(error, match=match):
        call(chat, tmp_path)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def _write(path, text):
    path.write_text(text)
    return path


def _nan_npy(tmp_path):
    joints = np.zeros((40, 22, 3), np.float32)
    joints[5, 3, 1] = np.nan
    np.save(tmp_path / "nan.npy", joints)
    return tmp_path / "nan.npy"


def test_recent_history_starts_with_a_user_turn_and_is_bounded():
    turns = [Turn("user" if i % 2 == 0 else "assistant", f"t{i}") for i in range(11)]
    recent = _recent(turns)
    assert recent[0].role == "user" and len(recent) <= HISTORY_TURNS and recent[-1].text == "t10"


def test_user_motion_goes_first_in_a_message():
    motion = object()
    message = _as_message(Turn("user", "Describe this motion.", motion))
    assert message == {"role": "user", "content": [motion, "Describe this motion."]}
    assert _as_message(Turn("assistant", "Here:", motion))["content"] == ["Here:", motion]
    assert _as_message(Turn("assistant", "", motion))["content"] == [motion]


def test_slug():
    assert slug("A person jumps over an obstacle!") == "a-person-jumps-over-an-obstacle"
    assert slug("???") == "motion"
    assert len(slug("walk " * 40)) <= 48 and not slug("walk " * 40).endswith("-")
