"""Where one text -> 4 s motion goes: phases and top torch ops of ``MotionGPT.generate_motion``. Prints JSON.

Run: ``nice -n 19 .venv/bin/python benchmarks/profile_generate.py [--model DIR] [--repeat 5] [--threads 1]``.

The model is loaded as ``MotionGPT.from_pretrained`` prepares it (the bundled one by default) and sampled
as its ``config.yaml`` says (classifier-free guidance included). Library functions are wrapped, without
changing them, so that every call is timed (this process's CPU time and wall time) and named in the
profiler under its phase:

- ``prompt_tokenize``: the prompts' text -> ids (``MotionLanguageModel.encode_prompts``);
- ``lm_prompt``: the pass over the prompt (the prefill of a decoder-only model, through
  ``LlamaStep.prefill`` where decoding uses it; for an encoder-decoder the encoder and the first
  decoder step);
- ``lm_step``: each cached forward of one new token (the transformers forward, or
  ``motiongpt.lm.llama_step.LlamaStep.step`` where decoding uses it; per call in ``lm_step_cpu_ms``);
- ``constraints``: the logits processor (decoding states and masks of allowed tokens);
- ``sampling``: guidance mix and the top-k / top-p draw;
- ``vq_decode``: the motion tokenizer's decoder and de-normalisation;
- ``features_to_joints``: 263-d features -> joint positions;
- ``other``: the rest of ``generate_motion`` (the decoding loop's own Python, sequence bookkeeping, checks).

Phase figures are medians over ``--repeat`` generations after one warm-up (seeds 0, 1, ...). Then one more
generation runs under ``torch.profiler``; ``top_ops`` lists its torch ops by self time. The profiler's
times are wall-clock per op, so on a machine shared with other jobs they include time the process waited
for a core; the phase CPU times do not, and their shares are the figures to read there.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PROMPT = "a person walks forward and then turns around"
PHASES = (
    "prompt_tokenize", "lm_prompt", "lm_step", "constraints", "sampling", "vq_decode", "features_to_joints"
)  # fmt: skip


class PhaseTimer:
    """Per-phase CPU / wall seconds and call counts of the current generation."""

    def __init__(self) -> None:
        self.cpu: dict[str, float] = defaultdict(float)
        self.wall: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self.step_cpu: list[float] = []
        self._depth = 0

    def reset(self) -> None:
        self.__init__()

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        import torch

        if self._depth:  # a phase inside another (e.g. a mask inside sampling) counts to the outer one
            yield
            return
        self._depth += 1
        cpu, wall = time.process_time(), time.perf_counter()
        try:
            with torch.profiler.record_function(f"phase::{name}"):
                yield
        finally:
            self._depth -= 1
            dc = time.process_time() - cpu
            self.cpu[name] += dc
            self.wall[name] += time.perf_counter() - wall
            self.calls[name] += 1
            if name == "lm_step":
                self.step_cpu.append(dc)


def _wrap(timer: PhaseTimer, name: str | Callable[..., str], fn: Callable) -> Callable:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with timer.phase(name(*args, **kwargs) if callable(name) else name):
            return fn(*args, **kwargs)

    return wrapper


def _prompt_or_step(*args: Any, **kwargs: Any) -> str:
    ids = kwargs.get("decoder_input_ids", kwargs.get("input_ids"))
    return "lm_prompt" if ids is None or ids.shape[1] > 1 else "lm_step"


@contextlib.contextmanager
def instrument(mg: Any, timer: PhaseTimer) -> Iterator[None]:
    """Wrap the library calls of one ``MotionGPT`` so that ``timer`` sees each phase (undone on exit)."""
    import motiongpt.lm.generation as generation
    from motiongpt.lm import llama_step
    from motiongpt.motion.features import features_to_joints

    patches: list[tuple[Any, str, Any]] = []

    def patch(obj: Any, attr: str, name: str | Callable[..., str]) -> None:
        original = getattr(obj, attr)
        own = obj.__dict__.get(attr, _MISSING) if hasattr(obj, "__dict__") else original
        patches.append((obj, attr, own))
        setattr(obj, attr, _wrap(timer, name, original))

    backbone = mg.lm.backbone
    patch(mg.lm, "encode_prompts", "prompt_tokenize")
    patch(backbone, "forward", _prompt_or_step)
    if mg.lm.is_encoder_decoder:
        encoder = backbone.get_encoder()
        patch(encoder, "forward", "lm_prompt")
    patch(llama_step.LlamaStep, "prefill", "lm_prompt")  # the lean prompt pass and step, where used
    patch(llama_step.LlamaStep, "step", "lm_step")
    patch(generation.MotionLogitsProcessor, "states", "constraints")
    patch(generation.MotionLogitsProcessor, "allowed", "constraints")
    patch(generation.MotionLogitsProcessor, "motion_slice_mask", "constraints")
    patch(generation, "_guided", "sampling")
    patch(generation, "_pick", "sampling")
    patch(mg.tokenizer, "decode", "vq_decode")
    patch(mg.tokenizer, "denormalize", "vq_decode")
    # features_to_joints is imported by name where Motion lives: wrap it in every motiongpt module.
    for module in [m for n, m in sys.modules.items() if n.startswith("motiongpt") and m is not None]:
        if getattr(module, "features_to_joints", None) is features_to_joints:
            patch(module, "features_to_joints", "features_to_joints")
    try:
        yield
    finally:
        for obj, attr, old in reversed(patches):
            if old is _MISSING:
                delattr(obj, attr)
            else:
                setattr(obj, attr, old)


_MISSING = object()


def load(model: str | None) -> Any:
    from motiongpt.lm.pipeline import MotionGPT

    return MotionGPT.from_pretrained(model)


def profile(mg: Any, seconds: float, repeat: int, top: int, prompt: str = PROMPT) -> dict:
    """Phase medians over ``repeat`` generations (after one warm-up) and one profiled generation."""
    import torch

    timer = PhaseTimer()
    runs: list[dict[str, Any]] = []
    with instrument(mg, timer):
        for seed in range(repeat + 1):
            timer.reset()
            cpu, wall = time.process_time(), time.perf_counter()
            motion = mg.generate_motion(prompt, seconds=seconds, seed=seed)
            runs.append({
                "total_cpu": time.process_time() - cpu, "total_wall": time.perf_counter() - wall,
                "cpu": dict(timer.cpu), "wall": dict(timer.wall), "calls": dict(timer.calls),
                "step_cpu": list(timer.step_cpu),
            })  # fmt: skip
        runs = runs[1:]  # warm-up
        timer.reset()
        with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
            mg.generate_motion(prompt, seconds=seconds, seed=repeat + 1)
    n_tokens = len(motion.tokens)

    def med(values: list[float]) -> float:
        return statistics.median(values) if values else 0.0

    total_cpu = med([r["total_cpu"] for r in runs])
    phases: dict[str, dict[str, float]] = {}
    for name in PHASES:
        cpu = med([r["cpu"].get(name, 0.0) for r in runs])
        phases[name] = {
            "calls": runs[-1]["calls"].get(name, 0),
            "cpu_ms": round(cpu * 1e3, 2),
            "wall_ms": round(med([r["wall"].get(name, 0.0) for r in runs]) * 1e3, 1),
            "share_of_cpu": round(cpu / total_cpu, 3) if total_cpu else None,
        }
    other = med([r["total_cpu"] - sum(r["cpu"].values()) for r in runs])
    phases["other"] = {"cpu_ms": round(other * 1e3, 2), "share_of_cpu": round(other / total_cpu, 3)}
    steps = [s for r in runs for s in r["step_cpu"]]
    lm_cpu = med([r["cpu"].get("lm_prompt", 0.0) + r["cpu"].get("lm_step", 0.0) for r in runs])

    events = [e for e in prof.key_averages() if not e.key.startswith("phase::")]
    events.sort(key=lambda e: e.self_cpu_time_total, reverse=True)
    profiled_total = sum(e.self_cpu_time_total for e in events) or 1.0
    top_ops = [
        {
            "op": e.key,
            "calls": e.count,
            "self_ms": round(e.self_cpu_time_total / 1e3, 2),
            "share_of_op_time": round(e.self_cpu_time_total / profiled_total, 3),
        }
        for e in events[:top]
    ]
    phase_events = {e.key[len("phase::") :]: e for e in prof.key_averages() if e.key.startswith("phase::")}
    return {
        "motion_tokens": n_tokens,
        "rows_per_step": 2 if mg.cfg.guidance != 1.0 else 1,
        "total_cpu_ms": round(total_cpu * 1e3, 1),
        "total_wall_ms": round(med([r["total_wall"] for r in runs]) * 1e3, 1),
        "lm_cpu_ms_per_motion_token": round(lm_cpu * 1e3 / n_tokens, 2),
        "lm_step_cpu_ms": {
            "median": round(med(steps) * 1e3, 3),
            "min": round(min(steps) * 1e3, 3) if steps else None,
        },
        "phases": phases,
        "profiled_run_ms_per_phase": {k: round(e.cpu_time_total / 1e3, 2) for k, e in phase_events.items()},
        "profiled_ops_ms": round(profiled_total / 1e3, 1),
        "top_ops": top_ops,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="a MotionGPT folder (default: the bundled model)")
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--repeat", type=int, default=5, help="timed generations after one warm-up")
    parser.add_argument("--top", type=int, default=25, help="how many torch ops to list")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (0 = torch's default)")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    mg = load(args.model)
    load_s = time.perf_counter() - t0
    result = profile(mg, args.seconds, max(args.repeat, 1), args.top)
    print(json.dumps({
        "task": f"text -> {args.seconds:g} s motion, batch 1, CPU",
        "model": args.model or "bundled", "guidance": mg.cfg.guidance,
        "torch_threads": torch.get_num_threads(),
        "repeat": max(args.repeat, 1), "load_wall_s": round(load_s, 1),
        "load_average": [round(x, 1) for x in os.getloadavg()], **result,
    }, indent=2))  # fmt: skip


if __name__ == "__main__":
    main()
