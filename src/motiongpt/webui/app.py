"""The web UI (gradio): talk to the model, watch each motion, download it as .npy, .bvh and .mp4.

    motiongpt webui                          # http://127.0.0.1:7860 with the bundled model
    motiongpt webui --model runs/lm-instruct/motiongpt --port 8000

Offline: gradio's analytics (a version check and telemetry) are switched off before it is imported,
``share`` is never used, and the page's assets are served by the app itself.
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
import signal
import socket
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402  (after the analytics switch)

from motiongpt.errors import USER_ERRORS, InvalidRequestError, user_message  # noqa: E402
from motiongpt.lm.inputs import MAX_PROMPT_CHARS  # noqa: E402
from motiongpt.lm.pipeline import MotionGPT  # noqa: E402
from motiongpt.webui.batching import MAX_BATCH, BatchingPipeline  # noqa: E402
from motiongpt.webui.session import MAX_SECONDS, VIDEO_SIZE, MotionChat, Turn  # noqa: E402

log = logging.getLogger(__name__)

MODES = ("Text → motion", "Chat")
# the timeline table starts with this example: (prompt, seconds) rows, played one after another
TIMELINE_EXAMPLE = (("a person walks forward", 3.0), ("a person turns left", 1.5), ("a person waves", 2.0))
EXAMPLES = ("a person jumps over an obstacle", "a person walks forward and waves", "a person dances happily")
INTRO = """# MotionGPT
**Text → motion** turns a description into a motion. **Chat** talks about the motions so far
("now do it faster", "describe it"). Upload your own **.bvh** (any common rig) or **.npy** joints to
have it described or continued. A **Timeline** plays several prompts one after another as one motion.
Each motion comes as a skeleton video, joints (.npy, frames × 22 × 3) and a .bvh for Blender, Maya or
Unity."""


def _guarded(fn: Callable[..., tuple], n_outputs: int) -> Callable[..., tuple]:
    """``fn`` as an event handler: a user error becomes a one-line error message and the page is
    left as it was (no output is cleared or marked failed)."""

    @functools.wraps(fn)
    def handler(*args: Any) -> tuple:
        try:
            return fn(*args)
        except USER_ERRORS as e:
            gr.Warning(user_message(e), title=ERROR_TITLE)
            return tuple(gr.skip() for _ in range(n_outputs))

    return handler


def _seed(text: str) -> int | None:
    """The seed box: empty -> None (random), else a whole number."""
    text = (text or "").strip()
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        raise InvalidRequestError(f"seed must be a whole number or empty, got {text!r}") from None


# A user error shows as a warning toast (raising gr.Error would mark every output failed); gradio 6.31's
# toast ignores the title it is given and shows its level, "Warning", so the page's CSS titles it.
ERROR_TITLE = "Could not do that"
# On a narrow window (a phone) the player comes first, above the conversation.
CSS = (
    "@media (max-width: 720px) { #main_row { flex-direction: column-reverse; } }\n"
    ".toast-title.warning { font-size: 0; }\n"
    f'.toast-title.warning::before {{ content: "{ERROR_TITLE}"; font-size: var(--text-md, 14px); }}'
)


def _length(auto: bool, seconds: float) -> float | None:
    """The length controls: Auto -> None (the model chooses, as ``--seconds auto``), else the slider."""
    return None if auto else seconds


def _replay(turns: tuple[Turn, ...], evt: gr.SelectData) -> tuple[Any, Any]:
    """A click on a chat bubble that carries a motion plays that motion (and offers its files)."""
    index = evt.index[0] if isinstance(evt.index, list | tuple) else evt.index
    files = turns[index].files if isinstance(index, int) and 0 <= index < len(turns) else None
    if files is None:
        return gr.skip(), gr.skip()
    return str(files.video), [str(files.npy), str(files.bvh), str(files.video)]


def _view(turns: tuple[Turn, ...]) -> tuple[Any, ...]:
    """(state, chat messages, video, files) for a conversation: the player shows its latest motion."""
    messages = [{"role": t.role, "content": t.display()} for t in turns]
    last = next((t.files for t in reversed(turns) if t.files is not None), None)
    if last is None:
        return turns, messages, None, None
    return turns, messages, str(last.video), [str(last.npy), str(last.bvh), str(last.video)]


def build_app(chat: MotionChat) -> gr.Blocks:
    """The page, wired to ``chat``. Element ids (``#prompt``, ``#send_btn``, ...) are stable for tests."""

    def send(prompt: str, mode: str, auto: bool, seconds: float, seed: str, turns: tuple[Turn, ...]) -> tuple:
        if mode == MODES[0]:
            turns = chat.text_to_motion(turns, prompt, seconds=_length(auto, seconds), seed=_seed(seed))
        elif mode == MODES[1]:
            turns = chat.chat(turns, prompt, seed=_seed(seed), seconds=_length(auto, seconds))
        else:
            raise InvalidRequestError(f"unknown mode {mode!r}; one of {MODES}")
        return (*_view(turns), "")

    def describe(path: str | None, turns: tuple[Turn, ...]) -> tuple:
        return _view(chat.describe(turns, path))

    def continue_it(
        path: str | None, auto: bool, seconds: float, seed: str, turns: tuple[Turn, ...]
    ) -> tuple:
        return _view(chat.continue_motion(turns, path, seconds=_length(auto, seconds), seed=_seed(seed)))

    def inbetween(start: str | None, end: str | None, auto: bool, seconds: float, seed: str,
                  turns: tuple[Turn, ...]) -> tuple:  # fmt: skip
        return _view(chat.inbetween(turns, start, end, seconds=_length(auto, seconds), seed=_seed(seed)))

    def play_timeline(rows: list[list[Any]], seed: str, turns: tuple[Turn, ...]) -> tuple:
        return _view(chat.timeline(turns, rows, seed=_seed(seed)))

    # delete_cache: gradio's own copies of served files older than a day go, checked hourly, so a server
    # left running does not fill the disk (the motion folder itself is left alone).
    with gr.Blocks(title="MotionGPT", analytics_enabled=False, delete_cache=(3600, 86400)) as demo:
        turns = gr.State(())
        gr.Markdown(INTRO)
        with gr.Row(elem_id="main_row"):
            with gr.Column(scale=3):
                chatbot = gr.Chatbot(
                    elem_id="chat", label="Conversation (click a motion to play it again)", height=380
                )
                prompt = gr.Textbox(
                    elem_id="prompt", show_label=False, lines=1, max_lines=4, placeholder=EXAMPLES[0],
                    max_length=MAX_PROMPT_CHARS, info=f"Up to {MAX_PROMPT_CHARS} characters.",
                )  # fmt: skip
                with gr.Row(elem_id="examples"):
                    example_btns = [
                        gr.Button(text, size="sm", variant="secondary", elem_id=f"example_{i}")
                        for i, text in enumerate(EXAMPLES)
                    ]
                with gr.Row():
                    mode = gr.Radio(list(MODES), value=MODES[0], label="Mode", elem_id="mode")
                    send_btn = gr.Button("Send", variant="primary", elem_id="send_btn")
                with gr.Row():
                    auto = gr.Checkbox(True, label="Auto length (the model chooses)", elem_id="auto_length")
                    seconds = gr.Slider(
                        0.2, MAX_SECONDS, value=3.0, step=0.2, elem_id="seconds", label="Length in seconds",
                    )  # fmt: skip
                    seed = gr.Textbox(label="Seed (empty: random)", elem_id="seed", max_lines=1)
                with gr.Group():
                    upload = gr.File(
                        label="Your motion (.bvh or .npy)", file_types=[".bvh", ".npy"], type="filepath",
                        elem_id="upload",
                    )  # fmt: skip
                    with gr.Row():
                        describe_btn = gr.Button("Describe it", elem_id="describe_btn")
                        continue_btn = gr.Button("Continue it", elem_id="continue_btn")
                with gr.Group():
                    upload_end = gr.File(
                        label="In-between: the end motion (the start is the upload above); with no uploads, "
                        "the last two motions of the chat are joined",
                        file_types=[".bvh", ".npy"], type="filepath", elem_id="upload_end",
                    )  # fmt: skip
                    inbetween_btn = gr.Button("In-between", elem_id="inbetween_btn")
                timeline_title = "Timeline: one motion from several prompts"
                with gr.Accordion(timeline_title, open=False, elem_id="timeline_box"):
                    timeline = gr.Dataframe(
                        value=[list(row) for row in TIMELINE_EXAMPLE] + [["", None]] * 3,
                        headers=["Prompt", f"Seconds (up to {MAX_SECONDS:g})"], datatype=["str", "number"],
                        row_count=6, column_count=(2, "fixed"), type="array",
                        interactive=True, elem_id="timeline", show_label=False,
                    )  # fmt: skip
                    timeline_btn = gr.Button("Play timeline", elem_id="timeline_btn")
                clear_btn = gr.Button("New conversation", variant="secondary", elem_id="clear_btn")
            with gr.Column(scale=2):
                video = gr.Video(
                    label="Motion", elem_id="motion_video", interactive=False, autoplay=True, loop=True,
                    width=VIDEO_SIZE, height=VIDEO_SIZE,
                )  # fmt: skip
                files = gr.File(
                    label="Download", elem_id="motion_files", file_count="multiple", interactive=False
                )

        shown = [turns, chatbot, video, files]
        gr.on(
            triggers=[send_btn.click, prompt.submit], fn=_guarded(send, len(shown) + 1), api_name="send",
            inputs=[prompt, mode, auto, seconds, seed, turns], outputs=[*shown, prompt],
        )  # fmt: skip
        for btn in example_btns:
            btn.click(lambda text: text, inputs=btn, outputs=prompt, api_name=False)
        seconds.input(lambda: False, outputs=auto, api_name=False)  # moving the slider picks a length
        chatbot.select(_replay, inputs=turns, outputs=[video, files], api_name=False)
        chatbot.clear(lambda: _view(()), outputs=shown, api_name=False)  # the trash icon: a new conversation
        describe_btn.click(
            _guarded(describe, len(shown)), inputs=[upload, turns], outputs=shown, api_name="describe"
        )
        continue_btn.click(
            _guarded(continue_it, len(shown)), inputs=[upload, auto, seconds, seed, turns], outputs=shown,
            api_name="continue",
        )  # fmt: skip
        inbetween_btn.click(
            _guarded(inbetween, len(shown)), inputs=[upload, upload_end, auto, seconds, seed, turns],
            outputs=shown, api_name="inbetween",
        )  # fmt: skip
        timeline_btn.click(
            _guarded(play_timeline, len(shown)), inputs=[timeline, seed, turns], outputs=shown,
            api_name="timeline",
        )  # fmt: skip
        clear_btn.click(lambda: _view(()), outputs=shown, api_name=False)
    return demo


def launch(
    model_dir: str | os.PathLike,
    host: str = "127.0.0.1",
    port: int = 7860,
    out_dir: str | os.PathLike | None = None,
    open_browser: bool = False,
) -> None:
    """Load the model and serve the UI until interrupted; motion files go to ``out_dir`` (default: a
    new temp folder)."""
    _check_port(host, port)  # before the model is loaded, so a busy port fails at once
    temporary = out_dir is None  # a folder of our own in the temp dir goes when the server stops
    out = Path(out_dir) if out_dir is not None else Path(tempfile.mkdtemp(prefix="motiongpt-webui-"))
    out.mkdir(parents=True, exist_ok=True)
    try:
        # concurrent text -> motion requests share one batched generation; files render side by side
        demo = build_app(MotionChat(BatchingPipeline(MotionGPT.from_pretrained(model_dir)), out))
        if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:  # `kill` stops it as Ctrl+C does
            signal.signal(signal.SIGTERM, _interrupt)
        try:
            demo.queue(default_concurrency_limit=MAX_BATCH).launch(
                server_name=host, server_port=port, share=False, ssr_mode=False, inbrowser=open_browser,
                allowed_paths=[str(out.resolve())], footer_links=["api"], quiet=True,
                prevent_thread_lock=True, css=CSS,
            )  # fmt: skip
        except OSError as e:
            raise InvalidRequestError(f"cannot serve on {host}:{port}: {e}") from None
        log.info("MotionGPT web UI on %s (motion files in %s); Ctrl+C stops it", demo.local_url, out)
        try:
            demo.block_thread()
        finally:
            demo.close(verbose=False)
    finally:
        if temporary:
            shutil.rmtree(out, ignore_errors=True)


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _check_port(host: str, port: int) -> None:
    with socket.socket() as s:
        try:
            s.bind((host, port))
        except OSError as e:
            raise InvalidRequestError(
                f"cannot serve on {host}:{port}: {e.strerror or e}; choose another port with --port"
            ) from None
