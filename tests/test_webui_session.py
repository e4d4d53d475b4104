"""``MotionChat`` with a stand-in model: each kind of chat reply (text, motion, both, nothing) becomes the
turn the page shows, with files for a motion. The real-model conversation is in ``test_webui.py``."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import EXAMPLE_BVH
from motiongpt.lm.pipeline import Motion, Reply
from motiongpt.motion.io import load_joints
from motiongpt.webui.session import MotionChat, Turn


class ScriptedModel:
    """Answers every chat with the next prepared :class:`Reply` and keeps the messages it saw."""

    frames_per_token = 4

    def __init__(self, *replies: Reply) -> None:
        self.replies, self.seen = list(replies), []

    def chat(self, messages, seed=None, **options):
        self.seen.append(messages)
        return self.replies.pop(0)


@pytest.fixture(scope="module")
def walk() -> Motion:
    return Motion.from_joints(load_joints(EXAMPLE_BVH)[:24])


def test_each_reply_kind_becomes_its_turn(tmp_path, walk):
    model = ScriptedModel(Reply("Sure."), Reply("", (walk,)), Reply("Here it is:", (walk,)), Reply(""))
    chat = MotionChat(model, tmp_path / "out")

    turns = chat.chat((), "hello")
    text = turns[-1]
    assert (text.role, text.text, text.motion, text.files) == ("assistant", "Sure.", None, None)

    turns = chat.chat(turns, "show me a walk")
    motion_only = turns[-1]
    assert motion_only.role == "assistant" and motion_only.text == ""
    assert motion_only.motion is walk and motion_only.files is not None
    np.testing.assert_allclose(np.load(motion_only.files.npy), walk.joints, atol=1e-6)
    assert motion_only.files.bvh.is_file() and motion_only.files.video.is_file()
    assert motion_only.files.npy.name == "show-me-a-walk.npy"
    assert motion_only.display() == "\u25b6 1.2 s motion (24 frames)"

    turns = chat.chat(turns, "again, and say something")
    both = turns[-1]
    assert both.text == "Here it is:" and both.motion is walk and both.files.npy.is_file()
    assert both.display() == "Here it is: \u25b6 1.2 s motion (24 frames)"

    turns = chat.chat(turns, "and now?")
    assert (turns[-1].text, turns[-1].motion) == ("(no answer)", None)
    assert len(turns) == 8 and [t.role for t in turns] == ["user", "assistant"] * 4

    # the motion the assistant wrote goes back to the model as part of the history
    history = model.seen[-1]
    assert {"role": "assistant", "content": [walk]} in history
    assert history[-1] == {"role": "user", "content": ["and now?"]}


def test_a_user_turn_is_never_dropped_from_the_history(tmp_path, walk):
    model = ScriptedModel(Reply("a"), Reply("b"))
    chat = MotionChat(model, tmp_path / "out")
    turns = chat.chat((Turn("user", "earlier"), Turn("assistant", "", walk)), "next")
    chat.chat(turns, "last")
    assert [m["content"] for m in model.seen[0]] == [["earlier"], [walk], ["next"]]
    assert [m["role"] for m in model.seen[1]] == ["user", "assistant", "user", "assistant", "user"]
