"""The web UI under load: concurrent text -> motion requests to a server on 127.0.0.1 (``gradio_client``)
share batched generations, every request gets its own motion and files, and a request that fails inside
a batch fails alone. A tiny random model keeps it quick; ``benchmarks/webui.py --concurrent 8`` measures
the latency with the bundled model.
"""

from __future__ import annotations

import contextlib
import io
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from motiongpt.errors import InvalidRequestError
from motiongpt.webui.batching import BatchingPipeline
from motiongpt.webui.session import MotionChat, slug

pytest_plugins = ["test_lm_fixtures"]
pytestmark = pytest.mark.usefixtures("one_thread")
N_REQUESTS = 8
SECONDS = 2.0  # 40 frames
BAD = "a person walks " + "walk " * 100  # within 600 characters, not within the tiny model's 128 tokens


@pytest.fixture(scope="module")
def mg(tiny_dirs, tmp_path_factory):
    from motiongpt.lm.pipeline import MotionGPT
    from test_lm_fixtures import save_tiny_bundle

    bundle = save_tiny_bundle(tmp_path_factory.mktemp("bundle") / "mg", tiny_dirs["causal"], finetune="lora")
    return MotionGPT.from_pretrained(bundle)


class _Recorder:
    """Wraps a pipeline and records each ``generate_motion`` / ``generate_motion_batch`` call's texts."""

    def __init__(self, pipeline: Any) -> None:
        self.pipeline, self.calls = pipeline, []
        self.running = 0
        self.most_at_once = 0
        self._count = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.pipeline, name)

    def generate_motion(self, text: Any, **kwargs: Any) -> Any:
        return self._record([text], lambda: self.pipeline.generate_motion(text, **kwargs))

    def generate_motion_batch(self, texts: Any, **kwargs: Any) -> Any:
        return self._record(list(texts), lambda: self.pipeline.generate_motion_batch(texts, **kwargs))

    def _record(self, texts: list[str], call: Any) -> Any:
        with self._count:
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
        try:
            self.calls.append(texts)
            time.sleep(0.05)  # long enough for a second caller to overlap, were the lock missing
            return call()
        finally:
            with self._count:
                self.running -= 1


def test_batcher_joins_concurrent_requests_and_a_bad_one_fails_alone(mg) -> None:
    recorder = _Recorder(mg)
    batcher = BatchingPipeline(recorder, max_batch=8, window_s=0.5)
    prompts = [f"a person walks number {i}" for i in range(6)] + [BAD]
    with ThreadPoolExecutor(len(prompts)) as pool:
        futures = [pool.submit(batcher.generate_motion, p, seconds=SECONDS) for p in prompts]
        results = []
        for f in futures:
            try:
                results.append(f.result(timeout=300))
            except InvalidRequestError as e:
                results.append(e)
    assert isinstance(results[-1], InvalidRequestError) and "too long for the model" in str(results[-1])
    assert all(r.n_frames == 40 and np.isfinite(r.joints).all() for r in results[:-1]), results
    assert max(len(c) for c in recorder.calls) >= 2, recorder.calls  # requests were batched
    assert recorder.most_at_once == 1  # the model never ran twice at once
    # the failed batch was retried one request at a time: the good prompts got motions, the bad one its error
    assert any(c == [BAD] for c in recorder.calls)
    # a seeded request runs alone and repeats
    a = batcher.generate_motion("a person waves", seconds=SECONDS, seed=3)
    b = mg.generate_motion("a person waves", seconds=SECONDS, seed=3)
    assert np.array_equal(a.tokens, b.tokens)
    with pytest.raises(InvalidRequestError, match="empty"):
        batcher.generate_motion("  ")  # refused before it reaches a batch


@pytest.fixture
def server(mg, tmp_path: Path):
    from motiongpt.webui.app import build_app

    recorder = _Recorder(mg)
    batcher = BatchingPipeline(recorder, max_batch=N_REQUESTS, window_s=0.5)
    out = tmp_path / "motions"
    demo = build_app(MotionChat(batcher, out))
    demo.queue(default_concurrency_limit=N_REQUESTS).launch(
        server_name="127.0.0.1", server_port=None, prevent_thread_lock=True, quiet=True,
        allowed_paths=[str(out)], ssr_mode=False,
    )  # fmt: skip
    try:
        yield demo.local_url, recorder, tmp_path / "client"
    finally:
        with contextlib.redirect_stdout(io.StringIO()):
            demo.close()


def test_8_concurrent_requests_over_http_each_get_their_own_motion(server) -> None:
    from gradio_client import Client

    url, recorder, downloads = server
    prompts = [f"a person walks forward, take {i}" for i in range(N_REQUESTS - 1)] + [BAD]
    users = [  # a long read timeout: on a loaded CI machine the server is slow to answer while it renders
        Client(url, verbose=False, download_files=downloads / str(k), httpx_kwargs={"timeout": 600})
        for k in range(len(prompts))
    ]
    t0 = time.perf_counter()  # each user its own session (conversation state), all sending at once
    jobs = [  # prompt, mode, auto length, seconds, seed
        user.submit(p, "Text → motion", False, SECONDS, "", api_name="/send")
        for user, p in zip(users, prompts, strict=True)
    ]
    results = []
    for job in jobs:
        try:
            results.append(job.result(timeout=600))
        except Exception as e:  # noqa: BLE001 (a failed request, as a client sees it: checked below)
            results.append(e)
    elapsed = time.perf_counter() - t0
    for prompt, result in zip(prompts[:-1], results[:-1], strict=True):
        messages, video, files = result[0], result[1], result[2]
        assert [m["role"] for m in messages] == ["user", "assistant"], messages
        assert _text(messages[0]) == prompt  # its own answer, not a neighbour's from the batch
        npy = next(Path(f) for f in files if str(f).endswith(".npy"))
        assert npy.name == f"{slug(prompt)}.npy"
        joints = np.load(npy)
        assert joints.shape == (40, 22, 3) and np.isfinite(joints).all()
        assert Path(video["video"] if isinstance(video, dict) else video).stat().st_size > 0
    bad = results[-1]
    assert isinstance(bad, Exception) or not _has_motion(bad), bad  # the bad one got no motion ...
    assert max(len(c) for c in recorder.calls) >= 2, recorder.calls  # ... and the others were batched
    assert [BAD.strip()] in recorder.calls  # its batch failed and was run again one request at a time
    print(f"{N_REQUESTS} requests in {elapsed:.1f} s; generation calls: {[len(c) for c in recorder.calls]}")


def _text(message: dict) -> str:
    content = message["content"]
    if isinstance(content, list):  # gradio 5+: a list of parts
        content = " ".join(p.get("text", "") if isinstance(p, dict) else str(p) for p in content)
    return str(content)


def _has_motion(result: Any) -> bool:
    if not isinstance(result, list | tuple) or len(result) < 3:
        return False
    files = result[2]
    return isinstance(files, list) and any(str(f).endswith(".npy") for f in files)
