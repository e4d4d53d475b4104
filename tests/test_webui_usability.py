"""The web UI's in-between, length and upload-error logic without a browser or a model (a stand-in pipeline
records what it is asked); the page itself is driven by tests/test_webui_browser.py."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from conftest import EXAMPLE_BVH
from motiongpt.errors import InvalidRequestError, MotionGPTError
from motiongpt.lm.pipeline import Motion
from motiongpt.motion.bvh import bvh_to_joints
from motiongpt.webui.session import MotionChat, Turn, _check_seconds


class _Pipeline:
    frames_per_token = 4

    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def inbetween(self, start, end, seconds=None, seed=None):
        self.calls.append((start, end, seconds, seed))
        return Motion.from_joints(np.concatenate([start.joints, end.joints]))


@pytest.fixture
def chat(tmp_path, monkeypatch):
    monkeypatch.setattr("motiongpt.webui.session.render_video", lambda joints, path, **kw: path)
    return MotionChat(_Pipeline(), tmp_path / "out")


def _motion(n: int) -> Motion:
    return Motion.from_joints(bvh_to_joints(EXAMPLE_BVH)[:n])


def test_inbetween_of_two_uploads(chat, tmp_path):
    end = tmp_path / "end.npy"
    np.save(end, bvh_to_joints(EXAMPLE_BVH)[:20])
    turns = chat.inbetween((), str(EXAMPLE_BVH), str(end), seconds=1.0, seed=3)
    assert [t.role for t in turns] == ["user", "assistant"]
    assert "cmu_002_01_walk.bvh" in turns[0].text and "end.npy" in turns[0].text
    ((start, last, seconds, seed),) = chat.pipeline.calls
    assert start.n_frames == 57 and last.n_frames == 20 and (seconds, seed) == (1.0, 3)
    assert turns[1].files is not None and turns[1].files.bvh.is_file()


def test_inbetween_of_the_last_two_motions_of_the_chat(chat):
    a, b, c = _motion(10), _motion(12), _motion(14)
    turns = (Turn("user", "x"), Turn("assistant", "", a), Turn("user", "y"), Turn("assistant", "", b),
             Turn("user", "z"), Turn("assistant", "", c))  # fmt: skip
    out = chat.inbetween(turns, None, None)
    ((start, end, seconds, _),) = chat.pipeline.calls
    assert start is b and end is c and seconds is None
    assert len(out) == len(turns) + 2 and out[-2].text == "Join the last two motions."


def test_inbetween_needs_two_motions(chat):
    with pytest.raises(InvalidRequestError, match="upload both a start and an end"):
        chat.inbetween((), str(EXAMPLE_BVH), None)
    with pytest.raises(InvalidRequestError, match="needs two motions"):
        chat.inbetween((Turn("assistant", "", _motion(10)),), None, None)
    assert chat.pipeline.calls == []


def test_upload_errors_name_the_file_not_the_servers_folder(chat, tmp_path):
    bad = tmp_path / "gradio" / "0a1b2c" / "my_walk.bvh"
    bad.parent.mkdir(parents=True)
    bad.write_text("HIERARCHY\nROOT Hips\n{\n OFFSET oops\n")
    with pytest.raises(MotionGPTError) as err:
        chat.load(str(bad))
    assert "my_walk.bvh" in str(err.value) and str(bad.parent) not in str(err.value)
    with pytest.raises(InvalidRequestError, match="gone.bvh is no longer on the server") as err:
        chat.load(str(tmp_path / "gone.bvh"))
    assert str(tmp_path) not in str(err.value)


def test_length_is_auto_or_above_zero():
    assert _check_seconds(None) is None and _check_seconds(2) == 2.0
    for bad in (0, -1, 12, float("nan")):
        with pytest.raises(InvalidRequestError, match="Auto"):
            _check_seconds(bad)


def test_a_click_on_a_motion_bubble_plays_it(chat, tmp_path):
    from motiongpt.webui.app import _replay

    turns = chat.inbetween((), str(EXAMPLE_BVH), str(EXAMPLE_BVH))
    video, files = _replay(turns, SimpleNamespace(index=1))
    assert video == str(turns[1].files.video) and str(turns[1].files.bvh) in files
    assert _replay(turns, SimpleNamespace(index=0)) == ({"__type__": "update"},) * 2  # no motion: kept


def test_the_page_has_the_new_controls(chat):
    from motiongpt.webui.app import build_app

    demo = build_app(chat)
    ids = {c.get("props", {}).get("elem_id") for c in demo.config["components"]}
    for elem_id in (
        "upload_end",
        "inbetween_btn",
        "auto_length",
        "example_0",
        "example_2",
        "seconds",
        "chat",
    ):
        assert elem_id in ids, elem_id
    prompt = next(c for c in demo.config["components"] if c.get("props", {}).get("elem_id") == "prompt")
    assert prompt["props"]["max_length"] == 600
