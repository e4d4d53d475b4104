"""Start-up and end-to-end time of the main command, as a user runs it. Prints one JSON object.

    nice -n 19 .venv/bin/python benchmarks/startup.py [--runs 3] [--seconds 4]

Every measurement is a fresh process, timed from here: wall seconds, and CPU seconds (user + system of
the process and what it waited for, e.g. ffmpeg), from ``getrusage(RUSAGE_CHILDREN)``:

- ``first_run``: ``motiongpt generate PROMPT --seconds 4`` once before the others (it may build the
  inference cache under ``$MOTIONGPT_CACHE``, default ``~/.cache/motiongpt``);
- ``help``: ``motiongpt --help``;
- ``generate``: the same command again, and ``generate_no_video`` with ``--no-video``;
- ``phases``: one process that does what ``generate`` does, step by step, and times each step inside:
  ``import`` (the CLI module, then the pipeline), ``load`` (``MotionGPT.from_pretrained()``),
  ``generation`` (``generate_motion``), ``files`` (.npy and .bvh) and ``video`` (the .mp4).

Medians over ``--runs``. On a machine shared with other work the wall figures measure the share this
process got more than the code; the CPU seconds do not, and on an idle 2-core machine the wall time of
a step is about its CPU seconds (less where torch uses both cores).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROMPT = "a person walks forward slowly"

# The child of ``phases``: mirrors cli.generate (check, load, generate, write files, render).
PHASES = """
import json, sys, time
def mark():
    return time.perf_counter(), time.process_time()
out = {}
w0, c0 = mark()
import motiongpt.cli
from motiongpt.lm.pipeline import MotionGPT
w1, c1 = mark(); out["import"] = (w1 - w0, c1 - c0)
mg = MotionGPT.from_pretrained()
w2, c2 = mark(); out["load"] = (w2 - w1, c2 - c1)
motion = mg.generate_motion(sys.argv[1], seconds=float(sys.argv[2]), seed=0)
w3, c3 = mark(); out["generation"] = (w3 - w2, c3 - c2)
motion.save_npy(sys.argv[3] + ".npy"); motion.save_bvh(sys.argv[3] + ".bvh")
w4, c4 = mark(); out["files"] = (w4 - w3, c4 - c3)
from motiongpt.render import render_video
render_video(motion.joints, sys.argv[3] + ".mp4", title=sys.argv[1])
w5, c5 = mark(); out["video"] = (w5 - w4, c5 - c4)
print(json.dumps(out))
"""


def _cli() -> list[str]:
    script = Path(sys.executable).with_name("motiongpt")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "motiongpt"]


def _timed(cmd: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Run ``cmd``; (wall s, CPU s of it and its children, stdout). Raises if it fails."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, proc.stdout


def _summary(rows: list[tuple[float, float]]) -> dict[str, float | list[float]]:
    walls, cpus = [r[0] for r in rows], [r[1] for r in rows]
    return {
        "wall_s": round(statistics.median(walls), 3),
        "cpu_s": round(statistics.median(cpus), 3),
        "wall_s_each": [round(w, 3) for w in walls],
        "cpu_s_each": [round(c, 3) for c in cpus],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="Timed runs of each command (median).")
    parser.add_argument("--seconds", type=float, default=4.0, help="Length of the generated motion.")
    args = parser.parse_args()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    cli = _cli()
    tmp = Path(tempfile.mkdtemp(prefix="motiongpt-startup-"))
    load_before = os.getloadavg()
    try:
        gen = [*cli, "generate", PROMPT, "--seconds", f"{args.seconds:g}", "--seed", "0"]
        first = _timed([*gen, "--out", str(tmp / "first")], env)
        rows: dict[str, list[tuple[float, float]]] = {
            "help": [], "generate": [], "generate_no_video": [],
        }  # fmt: skip
        phases: dict[str, list[tuple[float, float]]] = {}
        for i in range(args.runs):  # interleaved, so that a change in the machine's load hits all alike
            rows["help"].append(_timed([*cli, "--help"], env)[:2])
            rows["generate"].append(_timed([*gen, "--out", str(tmp / f"g{i}")], env)[:2])
            no_video = [*gen, "--no-video", "--out", str(tmp / f"n{i}")]
            rows["generate_no_video"].append(_timed(no_video, env)[:2])
            wall, cpu, stdout = _timed(
                [sys.executable, "-c", PHASES, PROMPT, f"{args.seconds:g}", str(tmp / f"p{i}")], env
            )
            for name, (w, c) in json.loads(stdout.strip().splitlines()[-1]).items():
                phases.setdefault(name, []).append((w, c))
            phases.setdefault("process", []).append((wall, cpu))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    result = {
        "command": " ".join(["motiongpt", *gen[len(cli) :]]),
        "runs": args.runs,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "loadavg_1min_before": round(load_before[0], 2),
            "loadavg_1min_after": round(os.getloadavg()[0], 2),
        },
        "first_run": {"wall_s": round(first[0], 3), "cpu_s": round(first[1], 3)},
        **{name: _summary(r) for name, r in rows.items()},
        "phases": {name: _summary(r) for name, r in phases.items()},
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
