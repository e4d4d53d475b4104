"""Web UI latency with the bundled model on CPU: what a user waits for, from pressing Enter to the video.

Three figures for a 4 s motion:

- ``session``: ``MotionChat.text_to_motion`` in-process, split into generation and the three files
  (.npy, .bvh, .mp4 skeleton video), medians over ``--runs``;
- ``http``: the same request through the running gradio app on 127.0.0.1 with ``gradio_client``
  (queueing, serialisation and file transfer included), one at a time, medians over ``--runs``;
- ``concurrent``: ``--concurrent N`` users sending at once (default 8) to the app as ``motiongpt webui``
  serves it (``BatchingPipeline``: the requests share batched generations, files render side by side),
  each request timed from its submission to its result; p50 and p95 (nearest rank: with 8 requests the
  slowest one), and the sizes of the batched generations. ``--unbatched`` also serves the same requests
  one at a time (the page before batching) for comparison.

    .venv/bin/python benchmarks/webui.py [--runs 5] [--threads 2] [--concurrent 8] [--unbatched]

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
PROMPT = "a person walks forward and then turns around"
SECONDS = 4.0
CONCURRENT_PROMPTS = (
    "a person walks forward", "a person runs in a circle", "a person jumps up and down",
    "a person waves with the right hand", "a person bows", "a person dances happily",
    "a person walks backwards slowly", "a person kicks with the left leg",
)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5, help="sequential requests (0: skip those figures)")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = torch default)")
    parser.add_argument("--concurrent", type=int, default=8, help="users at once (0: skip)")
    parser.add_argument("--unbatched", action="store_true", help="also time them served one at a time")
    args = parser.parse_args()

    import torch

    from motiongpt.cli import DEFAULT_MODEL
    from motiongpt.lm.pipeline import MotionGPT
    from motiongpt.render import render_video
    from motiongpt.webui.batching import MAX_BATCH, BatchingPipeline
    from motiongpt.webui.session import MotionChat

    if args.threads:
        torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    pipeline = MotionGPT.from_pretrained(DEFAULT_MODEL)
    load_s = time.perf_counter() - t0
    out = Path(tempfile.mkdtemp(prefix="motiongpt-bench-webui-"))
    result: dict[str, Any] = {
        "device": "cpu", "torch": torch.__version__, "threads": torch.get_num_threads(),
        "cpus": os.cpu_count(), "load_average": [round(x, 2) for x in os.getloadavg()], "prompt": PROMPT,
        "seconds": SECONDS, "model_load_s": round(load_s, 2),
    }  # fmt: skip

    if args.runs:
        chat = MotionChat(pipeline, out)
        parts: dict[str, list[float]] = {"generate": [], "npy_bvh": [], "video": [], "total": []}
        for seed in range(args.runs):
            t0 = time.perf_counter()
            motion = pipeline.generate_motion(PROMPT, seconds=SECONDS, seed=seed)
            t1 = time.perf_counter()
            motion.save_npy(out / f"{seed}.npy")
            motion.save_bvh(out / f"{seed}.bvh")
            t2 = time.perf_counter()
            render_video(motion.joints, out / f"{seed}.mp4", title=PROMPT)
            t3 = time.perf_counter()
            parts["generate"].append(t1 - t0)
            parts["npy_bvh"].append(t2 - t1)
            parts["video"].append(t3 - t2)
            t0 = time.perf_counter()
            chat.text_to_motion((), PROMPT, seconds=SECONDS, seed=seed)
            parts["total"].append(time.perf_counter() - t0)
        result["session_median_s"] = {k: _median(v) for k, v in parts.items()}
        with _served(MotionChat(pipeline, out), 1, out) as user:
            client, http = user(), []
            for seed in range(args.runs):
                t0 = time.perf_counter()
                client.predict(PROMPT, "Text → motion", False, SECONDS, str(seed), api_name="/send")
                http.append(time.perf_counter() - t0)
        result["http_median_s"], result["http_min_s"] = _median(http), round(min(http), 3)

    if args.concurrent:
        prompts = [CONCURRENT_PROMPTS[i % len(CONCURRENT_PROMPTS)] for i in range(args.concurrent)]
        batcher = BatchingPipeline(pipeline)
        with _served(MotionChat(batcher, out), MAX_BATCH, out) as user:
            result["concurrent"] = _concurrent(user, prompts) | {"batch_sizes": batcher.batch_sizes}
        if args.unbatched:
            with _served(MotionChat(pipeline, out), 1, out) as user:
                result["concurrent_unbatched"] = _concurrent(user, prompts)
    print(json.dumps(result, indent=2))


def _client(url: str, out: Path) -> Any:
    """A user: a client with its own session (so its own conversation state)."""
    from gradio_client import Client

    # a long read timeout: on a loaded CPU the server can be slow to send while it renders
    return Client(url, verbose=False, download_files=out / "client", httpx_kwargs={"timeout": 600})


@contextlib.contextmanager
def _served(chat: Any, concurrency: int, out: Path):
    """The app on 127.0.0.1 (a free port) with ``concurrency`` workers; yields a function making users."""
    from motiongpt.webui.app import build_app

    demo = build_app(chat)
    demo.queue(default_concurrency_limit=concurrency).launch(
        server_name="127.0.0.1", server_port=None, prevent_thread_lock=True, quiet=True,
        allowed_paths=[str(out)], ssr_mode=False,
    )  # fmt: skip
    try:
        yield lambda: _client(demo.local_url, out)
    finally:
        with contextlib.redirect_stdout(sys.stderr):  # gradio says goodbye on stdout
            demo.close()


def _concurrent(new_user: Any, prompts: list[str]) -> dict[str, Any]:
    """Send every prompt at once, one thread and session per user (Auto length off, 4 s, no seed); each
    user's wait from sending to the result, p50 and p95."""
    from concurrent.futures import ThreadPoolExecutor

    clients = [new_user() for _ in prompts]  # connected before the clock starts

    def user(k: int) -> tuple[float, bool]:
        client, prompt = clients[k], prompts[k]
        t0 = time.perf_counter()
        try:
            reply = client.predict(prompt, "Text → motion", False, SECONDS, "", api_name="/send")
            messages, files = reply[0], reply[2]
            ok = len(messages) == 2 and any(str(f).endswith(".npy") for f in files)
            if not ok:
                print(f"request without a motion: {str(reply)[:300]}", file=sys.stderr)
        except Exception as e:  # noqa: BLE001 (counted and reported)
            print(f"request failed: {type(e).__name__}: {e}", file=sys.stderr)
            ok = False
        return time.perf_counter() - t0, ok

    t0 = time.perf_counter()
    with ThreadPoolExecutor(len(prompts)) as pool:
        done = list(pool.map(user, range(len(prompts))))
    waits = sorted(w for w, _ in done)
    return {
        "requests": len(prompts), "failed": sum(not ok for _, ok in done),
        "wall_s": round(time.perf_counter() - t0, 2), "p50_s": _median(waits),
        "p95_s": round(waits[math.ceil(0.95 * len(waits)) - 1], 3), "max_s": round(waits[-1], 3),
        "waits_s": [round(w, 2) for w in waits],
    }  # fmt: skip


def _median(xs: list[float]) -> float:
    return round(statistics.median(xs), 3)


if __name__ == "__main__":
    main()
