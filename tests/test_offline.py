"""No network at run time: generate, caption and eval --quick with the bundled model, run as a user runs them,
in processes whose sockets may reach loopback only. A guard (installed through ``sitecustomize``) refuses
and records every other connection or name lookup; the commands must succeed and record nothing."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from conftest import EXAMPLE_BVH, MOTIONGPT_CLI, needs_bundled_model

pytestmark = [pytest.mark.slow, needs_bundled_model]

GUARD = """
import ipaddress, os, socket

_LOG = os.environ["NET_GUARD_LOG"]


def _local(host):
    if host in ("localhost", "", None):
        return True
    try:
        return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
    except ValueError:
        return False


def _refuse(what):
    with open(_LOG, "a") as f:
        f.write(f"{what}\\n")
    raise OSError(f"network blocked by the test guard: {what}")


def _check(sock, address):
    if sock.family in (socket.AF_INET, socket.AF_INET6) and not _local(address[0]):
        _refuse(f"connect {address}")


for _name in ("connect", "connect_ex"):
    _orig = getattr(socket.socket, _name)

    def _guarded(self, address, _orig=_orig):
        _check(self, address)
        return _orig(self, address)

    setattr(socket.socket, _name, _guarded)

_sendto = socket.socket.sendto


def _guarded_sendto(self, data, *args):
    _check(self, args[-1])
    return _sendto(self, data, *args)


socket.socket.sendto = _guarded_sendto
_getaddrinfo = socket.getaddrinfo


def _guarded_getaddrinfo(host, *args, **kwargs):
    if not _local(host):
        _refuse(f"lookup {host}")
    return _getaddrinfo(host, *args, **kwargs)


socket.getaddrinfo = _guarded_getaddrinfo
"""


@pytest.fixture
def offline_env(tmp_path: Path) -> dict[str, str]:
    guard = tmp_path / "guard"
    guard.mkdir()
    (guard / "sitecustomize.py").write_text(GUARD)
    unset = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "MOTIONGPT_MODEL")  # offline without being told
    env = {k: v for k, v in os.environ.items() if k not in unset}
    env.update(PYTHONPATH=str(guard), NET_GUARD_LOG=str(tmp_path / "attempts.log"), OMP_NUM_THREADS="1",
               GRADIO_ANALYTICS_ENABLED="False")  # fmt: skip
    return env


def _run(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["nice", "-n", "19", *MOTIONGPT_CLI, *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=900)  # fmt: skip


def test_the_guard_blocks_the_network(offline_env: dict[str, str], tmp_path: Path) -> None:
    import sys

    # never a packet: the script stops before connecting unless the guard is in place to refuse it
    code = "import socket\nassert socket.socket.connect.__name__ == '_guarded'\ntry:\n" \
           "    socket.create_connection(('192.0.2.1', 80), timeout=1)\n" \
           "except OSError as e:\n    print(e)"  # fmt: skip
    r = subprocess.run([sys.executable, "-c", code], env=offline_env, capture_output=True, text=True,
                       timeout=60)  # fmt: skip
    assert "blocked by the test guard" in r.stdout
    assert "192.0.2.1" in (tmp_path / "attempts.log").read_text()


def test_generate_caption_and_eval_quick_need_no_network(offline_env: dict[str, str], tmp_path: Path,
                                                          tiny_corpus: Path) -> None:  # fmt: skip
    from motiongpt.eval.evaluator import EvaluatorConfig, T2MEvaluator

    r = _run(offline_env, tmp_path, "generate", "a person walks forward", "--seconds", "2", "--seed", "0",
             "--out", "walk", "--no-video")  # fmt: skip
    assert r.returncode == 0, r.stderr[-2000:]
    assert (tmp_path / "walk.npy").is_file() and (tmp_path / "walk.bvh").is_file()
    r = _run(offline_env, tmp_path, "caption", str(EXAMPLE_BVH))
    assert r.returncode == 0 and len(r.stdout.split()) >= 3, r.stderr[-2000:]
    cfg = EvaluatorConfig(dim_text_hidden=16, dim_movement_hidden=16, dim_movement_latent=16,
                          dim_motion_hidden=16, dim_coemb=16)  # fmt: skip
    T2MEvaluator(cfg).save_pretrained(tmp_path / "ev")
    r = _run(offline_env, tmp_path, "eval", "--task", "t2m", "--data", str(tiny_corpus), "--evaluator",
             str(tmp_path / "ev"), "--quick", "--replications", "1")  # fmt: skip
    assert r.returncode == 0, r.stderr[-2000:]
    attempts = tmp_path / "attempts.log"
    assert not attempts.exists(), f"network was tried: {attempts.read_text()}"
