"""Every row of ``tests/adversarial.py`` at every entry point: the CLI, the Python API and the web UI.

Each must end in one line naming what is wrong: the CLI exits with code 2 and prints one ``error:`` line
(no traceback); the API raises a ``MotionGPTError`` (or ``FileNotFoundError``) whose message is one line;
the web page's event handlers show one message and change nothing. No output file is left behind.

The CLI is run in-process here (typer's runner: the same ``app`` a user's command runs, without a
minute of start-up per row on the loaded CI machine); ``test_cli_subprocess_*`` run rows as a user's
shell does, a few by default and the whole table under the ``slow`` marker. A tiny random bundle stands
in for the model, so the rows that get past the checks reach real generation code.
"""

from __future__ import annotations

import os
import subprocess
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from adversarial import BAD, Bad
from conftest import EXAMPLE_BVH, MOTIONGPT_CLI
from motiongpt.errors import USER_ERRORS, user_message

pytest_plugins = ["test_lm_fixtures"]
pytestmark = pytest.mark.usefixtures("one_thread")
WALK = "a person walks forward"


@pytest.fixture(scope="module")
def bundle(tiny_dirs, tmp_path_factory) -> Path:
    from test_lm_fixtures import save_tiny_bundle

    return save_tiny_bundle(tmp_path_factory.mktemp("bundle") / "mg", tiny_dirs["causal"], finetune="lora")


@pytest.fixture(scope="module")
def mg(bundle):
    from motiongpt.lm.pipeline import MotionGPT

    return MotionGPT.from_pretrained(bundle)


def _input(bad: Bad, tmp: Path) -> Any:
    value = bad.make(tmp)
    if bad.kind == "array":  # the CLI and the web UI get an array as the .npy file a user would have
        np.save(tmp / "upload.npy", value, allow_pickle=False)
    return value


def _seconds_number(text: str) -> Any:
    try:
        return float(text)
    except ValueError:
        return text  # what a caller passing the text through would give


def _no_outputs(*folders: Path) -> None:
    left = [p for folder in folders if folder.exists() for p in folder.rglob("*") if p.is_file()]
    assert not left, f"partial outputs left: {left}"


def _one_line(message: str, bad: Bad) -> None:
    import re

    assert message and "\n" not in message.strip(), f"{bad.name}: not one line: {message!r}"
    assert "Traceback" not in message
    assert re.search(bad.match, message), f"{bad.name}: {message!r} does not match {bad.match!r}"


# --- the CLI ------------------------------------------------------------------------------------------
def _cli_args(bad: Bad, value: Any, tmp: Path, bundle: Path) -> list[list[str]]:
    """The commands a user could type with this input (each one a separate run)."""
    out = tmp / "out"
    model = ["--model", str(bundle)]
    gen = ["--no-video", "--out", str(out / "m")]
    if bad.kind == "prompt":
        return [["generate", value, *model, *gen]]
    if bad.kind in ("array", "file"):
        src = str(tmp / "upload.npy") if bad.kind == "array" else str(value)
        model_commands = [["caption", src, *model], ["continue", src, *model, *gen]]
        if bad.model_only:
            return model_commands
        return [*model_commands, ["convert", src, str(out / "converted.bvh")],
                ["render", src, str(out / "video.mp4")]]  # fmt: skip
    if bad.kind == "seconds":
        return [["generate", WALK, "--seconds", value, *model, *gen],
                ["demo", "--task", "t2m", "--example", str(_example(tmp)), "--out", str(out), "--seconds",
                 value, *model]]  # fmt: skip
    if bad.kind == "task":
        return [["demo", "--task", value, "--example", str(_example(tmp)), "--out", str(out), *model],
                ["eval", "--task", value, "--json", str(out / "metrics.json")]]  # fmt: skip
    if bad.kind == "timeline":
        spec = tmp / "spec.txt"
        spec.write_bytes(f"1 {WALK}\n{value}\n".encode("utf-8", "surrogateescape"))
        return [["timeline", str(spec), *model, "--out", str(out / "t")]]
    assert bad.kind == "model"
    return [["generate", WALK, "--model", str(value), *gen],
            ["caption", str(EXAMPLE_BVH), "--model", str(value)]]  # fmt: skip


def _example(tmp: Path) -> Path:
    path = tmp / "example.txt"
    path.write_text(f"{WALK}\n")
    return path


def _run_cli_in_process(args: list[str]) -> tuple[int, str]:
    from typer.testing import CliRunner

    from motiongpt.cli import app

    result = CliRunner().invoke(app, args)
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"{args[0]}: {type(result.exception).__name__}: {result.exception}"
    )
    return result.exit_code, result.stderr


def _check_cli(bad: Bad, code: int, stderr: str, args: list[str], tmp: Path) -> None:
    assert code == 2, f"{bad.name}: `motiongpt {args[0]}` exit code {code}: {stderr[-500:]}"
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, f"{bad.name}: `motiongpt {args[0]}` printed {stderr!r}"
    assert "Traceback" not in stderr
    _one_line(errors[0], bad)
    _no_outputs(tmp / "out")


@pytest.mark.parametrize("bad", [b for b in BAD if "cli" in b.surfaces], ids=lambda b: b.name)
def test_cli(bad: Bad, tmp_path: Path, bundle: Path) -> None:
    value = _input(bad, tmp_path)
    for args in _cli_args(bad, value, tmp_path, bundle):
        code, stderr = _run_cli_in_process(args)
        _check_cli(bad, code, stderr, args, tmp_path)


def _run_cli_subprocess(args: list[str], cwd: Path) -> tuple[int, str]:
    env = dict(
        os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", OMP_NUM_THREADS="1", MPLBACKEND="Agg"
    )
    # argv as a shell passes it: bytes, so a non-UTF-8 prompt reaches the command as the user typed it
    argv = [os.fsencode(a) for a in [*MOTIONGPT_CLI, *args]]
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, timeout=600)
    return done.returncode, done.stderr.decode("utf-8", "replace")


# argv bytes that are not UTF-8 reach the command only through a real process; one file row beside it
SUBPROCESS_DEFAULT = ("prompt non-UTF-8", "bvh is a directory")


@pytest.mark.parametrize("name", SUBPROCESS_DEFAULT)
def test_cli_subprocess_sample(name: str, tmp_path: Path, bundle: Path) -> None:
    bad = next(b for b in BAD if b.name == name)
    value = _input(bad, tmp_path)
    args = _cli_args(bad, value, tmp_path, bundle)[0]
    code, stderr = _run_cli_subprocess(args, tmp_path)
    _check_cli(bad, code, stderr, args, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("bad", [b for b in BAD if "cli" in b.surfaces], ids=lambda b: b.name)
def test_cli_subprocess_every_row(bad: Bad, tmp_path: Path, bundle: Path) -> None:
    value = _input(bad, tmp_path)
    for args in _cli_args(bad, value, tmp_path, bundle):
        code, stderr = _run_cli_subprocess(args, tmp_path)
        _check_cli(bad, code, stderr, args, tmp_path)


# --- the Python API -----------------------------------------------------------------------------------
def _api_calls(bad: Bad, value: Any, mg: Any, tmp: Path) -> list[Any]:
    from motiongpt.demo import run_demo
    from motiongpt.lm.pipeline import Motion, MotionGPT
    from motiongpt.lm.timeline import parse_timeline

    if bad.kind == "prompt":
        return [lambda: mg.generate_motion(value), lambda: mg.generate_motion_batch([WALK, value]),
                lambda: mg.chat([{"role": "user", "content": value}])]  # fmt: skip
    if bad.kind in ("array", "file"):
        calls = [lambda: mg.caption(value), lambda: mg.predict(value),
                 lambda: mg.inbetween(value, EXAMPLE_BVH)]  # fmt: skip
        if bad.kind == "array":
            calls.append(lambda: mg.encode(Motion.from_joints(value)))
        else:
            calls.append(lambda: mg.encode(Motion.from_file(value)))
        return calls
    if bad.kind == "seconds":
        seconds = _seconds_number(value)
        return [lambda: mg.generate_motion(WALK, seconds=seconds),
                lambda: mg.generate_timeline([(WALK, seconds)]),
                lambda: mg.predict(EXAMPLE_BVH, seconds=seconds)]  # fmt: skip
    if bad.kind == "task":
        return [lambda: mg.prompt(value),
                lambda: run_demo(lambda: mg, value, _example(tmp), tmp / "out", progress=False)]  # fmt: skip
    if bad.kind == "timeline":
        return [lambda: mg.generate_timeline(parse_timeline(f"1 {WALK}\n{value}"))]
    assert bad.kind == "model"
    return [lambda: MotionGPT.from_pretrained(value)]


@pytest.mark.parametrize("bad", [b for b in BAD if "api" in b.surfaces], ids=lambda b: b.name)
def test_api(bad: Bad, tmp_path: Path, mg: Any) -> None:
    value = _input(bad, tmp_path)
    for call in _api_calls(bad, value, mg, tmp_path):
        with pytest.raises(USER_ERRORS) as info:
            call()
        _one_line(user_message(info.value), bad)
    _no_outputs(tmp_path / "out")


# --- the web UI ---------------------------------------------------------------------------------------
def _handlers(chat: Any) -> dict[str, Any]:
    """The page's event functions by API name (``send``, ``describe``, ...), as gradio calls them."""
    from motiongpt.webui.app import build_app

    demo = build_app(chat)
    return {f.api_name: f.fn for f in demo.fns.values() if f.api_name}


def _web_calls(bad: Bad, value: Any, h: dict[str, Any], tmp: Path) -> list[Any]:
    from motiongpt.webui.app import MODES

    text, chat_mode = MODES
    if bad.kind == "prompt":
        return [lambda: h["send"](value, text, True, 3.0, "", ()),
                lambda: h["send"](value, chat_mode, True, 3.0, "", ())]  # fmt: skip
    if bad.kind in ("array", "file"):
        path = str(tmp / "upload.npy") if bad.kind == "array" else str(value)
        return [lambda: h["describe"](path, ()), lambda: h["continue"](path, True, 3.0, "", ()),
                lambda: h["inbetween"](path, str(EXAMPLE_BVH), True, 3.0, "", ())]  # fmt: skip
    if bad.kind == "seconds":  # the slider sends a number (Auto off); a table cell holds what was typed
        seconds = _seconds_number(value)
        return [lambda: h["send"](WALK, text, False, seconds, "", ()),
                lambda: h["timeline"]([[WALK, value]], "", ())]  # fmt: skip
    if bad.kind == "task":  # the page's one choice of task: the mode
        return [lambda: h["send"](WALK, value, True, 3.0, "", ())]
    if bad.kind == "timeline":
        seconds, prompt = ([*value.split(maxsplit=1), ""])[:2]
        return [lambda: h["timeline"]([[WALK, 1], [prompt, seconds]], "", ())]
    raise AssertionError(bad.kind)


def _shown(handler: Any) -> str:
    """Run an event function; return the one message the page shows. It must keep the page as it was."""
    from motiongpt.webui.app import gr

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            outputs = handler()
        except gr.Error as e:  # a modal error: the page keeps its outputs
            return str(e.message if hasattr(e, "message") else e)
    messages = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
    kept = [isinstance(o, dict) and o.get("__type__") == "update" and len(o) == 1 for o in outputs]
    assert all(kept), outputs  # gr.skip() for every output: the page keeps what it showed
    assert len(messages) == 1, messages
    return messages[0]


@pytest.mark.parametrize(
    "bad", [b for b in BAD if "web" in b.surfaces and b.kind != "model"], ids=lambda b: b.name
)
def test_web(bad: Bad, tmp_path: Path, mg: Any) -> None:
    from motiongpt.webui.session import MotionChat

    value = _input(bad, tmp_path)
    h = _handlers(MotionChat(mg, tmp_path / "out"))
    for handler in _web_calls(bad, value, h, tmp_path):
        _one_line(_shown(handler), bad)
    _no_outputs(tmp_path / "out")


@pytest.mark.parametrize("bad", [b for b in BAD if b.kind == "model"], ids=lambda b: b.name)
def test_web_server_refuses_a_bad_model_before_serving(bad: Bad, tmp_path: Path) -> None:
    from motiongpt.webui.app import launch

    value = _input(bad, tmp_path)
    with pytest.raises(USER_ERRORS) as info:
        launch(value, port=0, out_dir=tmp_path / "out")
    _one_line(user_message(info.value), bad)
    _no_outputs(tmp_path / "out")


def test_the_table_covers_the_issue() -> None:
    kinds = {b.kind for b in BAD}
    assert kinds == {"prompt", "array", "file", "seconds", "task", "timeline", "model"}
    names = " ".join(b.name for b in BAD)
    words = ("empty", "whitespace", "10000", "non-UTF-8", "NaN", "inf", "1e30", "0 frames", "1 frame",
             "3 frames", "corrupt", "truncated", "directory", "unknown", "above the limit", "complex")
    for word in words:
        assert word in names, word
