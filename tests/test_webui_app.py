"""The web page's wiring without a browser or a model: event guards, the seed box, and ``motiongpt webui``
failures that happen before any model is loaded."""

from __future__ import annotations

import socket
import subprocess

import pytest

from conftest import MOTIONGPT_CLI
from motiongpt.errors import InvalidRequestError
from motiongpt.webui.app import _guarded, _seed


def test_an_event_that_fails_shows_the_message_and_changes_nothing():
    def fails(prompt):
        raise InvalidRequestError(f"bad prompt {prompt!r}")

    with pytest.warns(UserWarning, match="bad prompt 'x'"):  # gradio's message outside a page
        result = _guarded(fails, 3)("x")
    assert result == tuple({"__type__": "update"} for _ in range(3))  # gr.skip(): outputs kept as they are
    assert _guarded(lambda prompt: (prompt, 1), 2)("y") == ("y", 1)


def test_seed_box():
    assert _seed("") is None and _seed("  ") is None and _seed(None) is None
    assert _seed(" 7 ") == 7
    with pytest.raises(InvalidRequestError, match="seed must be a whole number"):
        _seed("1.5")


def test_a_busy_port_is_a_one_line_error(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = subprocess.run(
            [*MOTIONGPT_CLI, "webui", "--port", str(port), "--model", str(tmp_path / "nowhere")],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.strip() == (
        f"error: cannot serve on 127.0.0.1:{port}: Address already in use; choose another port with --port"
    )


def test_a_missing_model_folder_is_a_one_line_error(tmp_path):
    done = subprocess.run(
        [*MOTIONGPT_CLI, "webui", "--port", "0", "--model", str(tmp_path / "nowhere")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2 and "nowhere" in done.stderr and "Traceback" not in done.stderr


def test_timeline_table_rows():
    from motiongpt.webui.session import timeline_rows

    rows = [["a person walks forward", 3], [" a person waves ", "1.5"], ["", None], [None, float("nan")]]
    rows.append(["", ""])
    assert timeline_rows(rows) == [("a person walks forward", 3.0), ("a person waves", 1.5)]
    for rows, message in [
        ([["a walk", 3], ["", 2]], "row 2: no prompt"),
        ([["a walk", None]], "row 1: give its length in seconds"),
        ([["a walk", "three"]], "row 1: seconds must be a number, got 'three'"),
        ([["a walk", 1], ["a wave", 12]], r"row 2: seconds must be in \(0, 9.8\]"),
        ([["", None]] * 3, "the timeline is empty"),
        (None, "the timeline is empty"),
    ]:
        with pytest.raises(InvalidRequestError, match=message):
            timeline_rows(rows)


def test_the_timeline_button_sends_the_table_and_seed_to_the_session():
    from motiongpt.webui.app import TIMELINE_EXAMPLE, build_app
    from motiongpt.webui.session import Turn

    class Chat:  # records what the page hands over; answers with a text turn
        def timeline(self, turns, rows, seed=None):
            self.seen = (rows, seed)
            return (*turns, Turn("assistant", "done"))

    chat = Chat()
    demo = build_app(chat)
    (event,) = [f for f in demo.fns.values() if f.api_name == "timeline"]
    table = next(c for c in event.inputs if c.elem_id == "timeline")
    assert [tuple(r) for r in table.value["data"][: len(TIMELINE_EXAMPLE)]] == list(TIMELINE_EXAMPLE)
    rows = [["a person walks forward", 2.0], ["a person waves", 1.0]]
    turns, messages, video, files = event.fn(rows, " 5 ", ())
    assert chat.seen == (rows, 5) and messages == [{"role": "assistant", "content": "done"}]
    with pytest.warns(UserWarning, match="seed must be a whole number"):
        assert event.fn(rows, "x", turns) == tuple({"__type__": "update"} for _ in range(4))
