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
