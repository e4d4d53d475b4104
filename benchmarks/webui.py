"""Web UI latency with the bundled model on CPU: what a user waits for, from pressing Enter to the video.

Two figures, medians over ``--runs`` requests of a 4 s motion:

- ``session``: ``MotionChat.text_to_motion`` in-process, split into generation and the three files
  (.npy, .bvh, .mp4 skeleton video);
- ``http``: the same request through the running gradio app on 127.0.0.1 with ``gradio_client``
  (queueing, serialisation and file transfer included).

    .venv/bin/python benchmarks/webui.py [--runs 5] [--threads 2]

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
PROMPT = "a person walks forward and then turns around"
SECONDS = 4.0


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = torch default)")
    args = parser.parse_args()

    import torch
    from gradio_client import Client

    from motiongpt.cli import DEFAULT_MODEL
    from motiongpt.lm.pipeline import MotionGPT
    from motiongpt.render import render_video
    from motiongpt.webui.app import build_app
    from motiongpt.webui.session import MotionChat

    if args.threads:
        torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    pipeline = MotionGPT.from_pretrained(DEFAULT_MODEL)
    load_s = time.perf_counter() - t0
    out = Path(tempfile.mkdtemp(prefix="motiongpt-bench-webui-"))
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

    demo = build_app(chat)
    demo.queue(default_concurrency_limit=1).launch(
        server_name="127.0.0.1", server_port=None, prevent_thread_lock=True, quiet=True,
        allowed_paths=[str(out)], ssr_mode=False,
    )  # fmt: skip
    try:
        client = Client(demo.local_url, verbose=False, download_files=out / "client")
        http = []
        for seed in range(args.runs):
            t0 = time.perf_counter()
            client.predict(PROMPT, "Text → motion", SECONDS, str(seed), api_name="/send")
            http.append(time.perf_counter() - t0)
    finally:
        with contextlib.redirect_stdout(sys.stderr):  # gradio says goodbye on stdout
            demo.close()

    def median(xs: list[float]) -> float:
        return round(statistics.median(xs), 3)

    print(json.dumps({
        "device": "cpu", "torch": torch.__version__, "threads": torch.get_num_threads(), "runs": args.runs,
        "prompt": PROMPT, "seconds": SECONDS, "model_load_s": round(load_s, 2),
        "session_median_s": {k: median(v) for k, v in parts.items()},
        "http_median_s": median(http), "http_min_s": round(min(http), 3),
    }, indent=2))  # fmt: skip


if __name__ == "__main__":
    main()
