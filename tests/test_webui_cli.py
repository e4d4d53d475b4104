"""``motiongpt webui`` failures that happen before any model is loaded."""

from __future__ import annotations

import socket
import subprocess

from conftest import MOTIONGPT_CLI


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
