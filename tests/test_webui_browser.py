"""The web UI end to end, the way a user meets it: ``motiongpt webui`` in a subprocess with the bundled
model, driven by a real Chromium (Debian's package; ``scripts/test.sh`` installs it where it can)."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pytest

from conftest import EXAMPLE_BVH, MOTIONGPT_CLI, needs_bundled_model
from motiongpt.motion.io import load_joints


def _chromium() -> str | None:
    for path in ("/usr/lib/chromium/chromium", shutil.which("chromium"), shutil.which("chromium-browser")):
        if path and os.access(path, os.X_OK):
            return path
    return None


CHROMIUM = _chromium()
TIMEOUT_MS = 120_000  # one model call on a busy 2-core machine, with margin

pytestmark = [
    pytest.mark.slow,
    needs_bundled_model,
    pytest.mark.skipif(importlib.util.find_spec("playwright") is None, reason="playwright is not installed"),
    pytest.mark.skipif(CHROMIUM is None, reason="no Chromium: apt-get install chromium"),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """``motiongpt webui`` on a free port; yields (url, motion folder)."""
    root = tmp_path_factory.mktemp("webui")
    port, out, log = _free_port(), root / "motions", root / "server.log"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False"}
    env.pop("MOTIONGPT_MODEL", None)
    with log.open("w") as log_file:
        proc = subprocess.Popen(
            [*MOTIONGPT_CLI, "webui", "--port", str(port), "--out", str(out)],
            cwd=root, env=env, stdout=log_file, stderr=subprocess.STDOUT,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 180
        while True:
            assert proc.poll() is None, f"the server exited:\n{log.read_text()[-3000:]}"
            assert time.monotonic() < deadline, f"the server did not answer:\n{log.read_text()[-3000:]}"
            try:
                with urllib.request.urlopen(url, timeout=5) as r:
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(1)
        yield url, out
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture
def page(server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.set_default_timeout(TIMEOUT_MS)
        page.hosts = set()  # every host the page sends a request to

        def record(request) -> None:
            if request.url.startswith(("http:", "https:", "ws:", "wss:")):
                page.hosts.add(urlparse(request.url).hostname)

        page.on("request", record)
        page.goto(server[0])
        yield page
        browser.close()


def _download(page, link, dest: Path) -> Path:
    with page.expect_download() as d:
        link.click()
    d.value.save_as(dest)
    return dest


def test_a_users_session(page, server, tmp_path):
    from playwright.sync_api import expect

    bot = page.locator("#chat [data-testid='bot']")
    video = page.locator("#motion_video video")
    links = page.locator("#motion_files a[data-testid='download-link']")

    # 1. Text -> motion, 2 s, seed 0, sent with Enter: a playable video and the three files.
    page.locator("#seconds input[type=number]").fill("2")
    page.locator("#seconds input[type=number]").press("Enter")
    page.locator("#seed textarea, #seed input").first.fill("0")
    page.locator("#prompt textarea").fill("a person jumps over an obstacle")
    page.locator("#prompt textarea").press("Enter")
    expect(bot).to_have_count(1)
    expect(bot.last).to_contain_text("2.0 s motion (40 frames)")
    expect(video).to_have_attribute("src", re.compile(r"/gradio_api/file=.*\.mp4$"))
    page.wait_for_function(
        "() => { const v = document.querySelector('#motion_video video');"
        " return v && v.readyState >= 2 && v.videoWidth > 0; }"
    )  # the browser decodes it
    expect(links).to_have_count(3)
    npy = _download(page, links.nth(0), tmp_path / "jump.npy")
    joints = np.load(npy)
    assert joints.shape == (40, 22, 3) and np.isfinite(joints).all()
    bvh = _download(page, links.nth(1), tmp_path / "jump.bvh")
    assert np.linalg.norm(load_joints(bvh) - joints, axis=-1).mean() < 0.01
    assert len(list(server[1].rglob("*.bvh"))) == 1  # the server kept its own copy in --out
    first_src = video.get_attribute("src")

    # 2. An empty prompt: one clear message, and nothing on the page is lost.
    page.locator("#send_btn").click()
    expect(page.locator("[data-testid='toast-body']").last).to_contain_text("the prompt is empty")
    expect(bot).to_have_count(1)
    expect(video).to_have_attribute("src", first_src)

    # 3. Upload the user's own BVH (CMU rig): describe it, then continue it by 1 s.
    page.locator("#upload input[type=file]").set_input_files(str(EXAMPLE_BVH))
    expect(page.locator("#upload")).to_contain_text(EXAMPLE_BVH.name)
    page.locator("#seconds input[type=number]").fill("1")
    page.locator("#seconds input[type=number]").press("Enter")
    page.locator("#describe_btn").click()
    expect(bot).to_have_count(2)
    expect(page.locator("#chat [data-testid='user']").last).to_contain_text(EXAMPLE_BVH.name)
    caption = bot.last.inner_text().strip()
    assert len(caption.split()) >= 3 and "<motion" not in caption
    page.locator("#continue_btn").click()
    expect(bot).to_have_count(3)
    expect(bot.last).to_contain_text("Continued by")
    expect(video).not_to_have_attribute("src", first_src)

    # 4. Chat about it; then a new conversation empties the page.
    page.get_by_role("radio", name="Chat").check()
    page.locator("#prompt textarea").fill("now do it faster")
    page.locator("#send_btn").click()
    expect(bot).to_have_count(4)
    page.screenshot(path=str(tmp_path / "webui.png"), full_page=True)
    page.locator("#clear_btn").click()
    expect(bot).to_have_count(0)
    expect(links).to_have_count(0)

    assert page.hosts <= {"127.0.0.1"}, f"the page asked other hosts: {page.hosts}"
