"""Text -> 4 s motion on CPU: ms per motion token at batch 1, motions per second at batch 16. Prints JSON.

Models, each measured in its own subprocess (so peak RSS is its own), in one run:

- ``bundled``: the bundled default model as ``MotionGPT.from_pretrained`` loads it, sampled as its
  ``config.yaml`` says (classifier-free guidance included: two rows per sample; ``candidates``
  samples per motion asked for, and the pass that reads them to choose one);
- ``t5-base``: a MotionGPT-shaped model: flan-t5-base-shaped T5 (d_model 768, 12 + 12 layers, gated-GELU
  d_ff 2048) with random weights and the same text tokenizer (SmolLM2's, so its vocabulary is 49,152 + 515
  rows), with the paper-sized motion tokenizer (``configs/tokenizer/base.yaml``, random weights); no
  guidance (one row per motion), as MotionGPT samples;
- ``smollm2`` (only with ``--kinds``): the previous bundle's shape, all 30 blocks of SmolLM2-135M-Instruct.

Every model is prepared as ``MotionGPT.from_pretrained`` prepares one (LoRA merged, float16 copies of
the block weights for one- and two-row products, logits over the 514 motion rows only) and decoded by
the same loop (``motiongpt.lm.generation.decode``). For the bundled model (a Llama-family decoder) the
loop runs the prompt pass and every token after it through ``motiongpt.lm.llama_step`` (fused float16
FBGEMM products, a preallocated cache) and reads identical prompt rows (guidance's unconditional ones) once;
``generic_step`` is the same model with that switched off (the transformers forward for every token
and every row), timed in the same rounds. Batch 16 is 16 different texts.

Each round (after one warm-up round) times every variant once, so load from other processes hits all
alike: batch 1 is ``--runs`` rounds of one 4 s motion (seeds 0, 1, ...), batch 16 ``--runs16`` rounds of
16 motions in one call. Figures are medians over rounds of this process's CPU time and, beside it, wall
time. On a machine shared with other jobs a niced process gets a varying share of the cores, which wall
time measures rather than the code; with ``--threads 1`` CPU time is the work done, so the speed-ups
(``*_speedup``: the t5-base figure over the bundled one) are taken from CPU time.
``lm_ms_per_motion_token`` is the decoding call (prompt pass, every step, sampling) per motion token;
``ms_per_motion_token`` the whole text -> motion call (also the VQ decoder and features -> joints).

    nice -n 19 .venv/bin/python benchmarks/inference.py [--runs 5] [--runs16 2] [--threads 1]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KINDS = ("bundled", "t5-base", "smollm2")
DEFAULT_KINDS = ("bundled", "t5-base")
PROMPT = "a person walks forward and then turns around"
BATCH_PROMPTS = (  # 16 different texts (only the unconditional prompt of guidance repeats)
    PROMPT, "a person jumps", "someone waves with the right hand", "a man runs in a circle and stops",
    "a person bows deeply", "a person kicks with the left leg", "someone sits down on a chair",
    "a person walks backwards slowly", "a man throws a ball", "a person dances happily",
    "someone crouches and then stands up", "a person turns around twice", "a woman jogs in place",
    "a person claps the hands", "someone steps to the right", "a person stretches both arms up",
)  # fmt: skip
SECONDS = 4.0
BATCH = 16


def _build(kind: str):
    import torch

    from motiongpt.lm.backbone import load_backbone
    from motiongpt.lm.config import LMConfig
    from motiongpt.lm.model import MotionLanguageModel
    from motiongpt.lm.pipeline import MotionGPT
    from motiongpt.tokenizer.config import TrainConfig
    from motiongpt.tokenizer.model import MotionTokenizer

    if kind == "bundled":
        # through transformers (lean=False): the generic_step variant needs its forward; decoding is the
        # same LlamaStep as the lean load's (lm/lean.py)
        return MotionGPT.from_pretrained(ROOT / "src/motiongpt/assets/model", lean=False)
    torch.manual_seed(0)
    vq = MotionTokenizer(TrainConfig.from_yaml(ROOT / "configs/tokenizer/base.yaml").model).eval()
    cfg = LMConfig.from_yaml(ROOT / "configs/lm/model-smollm2.yaml")
    if kind == "smollm2":
        lm = MotionLanguageModel(cfg)
    else:
        from transformers import T5Config, T5ForConditionalGeneration

        _, tok = load_backbone(cfg.backbone)
        t5 = T5ForConditionalGeneration(T5Config(
            vocab_size=len(tok), d_model=768, d_kv=64, d_ff=2048, num_layers=12, num_decoder_layers=12,
            num_heads=12, feed_forward_proj="gated-gelu", decoder_start_token_id=tok.pad_token_id,
            pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id,
        ))  # fmt: skip
        tok.padding_side = "right"
        lm = MotionLanguageModel(
            LMConfig(backbone="t5-base-shaped", finetune="full", chat_template=False), t5, tok
        )
    return MotionGPT(lm, vq)


@contextlib.contextmanager
def _timed_decoding(spent: list[float]) -> Iterator[None]:
    """Add the CPU seconds of every ``generation.decode`` call (the LM's part) to ``spent[0]``."""
    from motiongpt.lm import generation

    decode = generation.decode

    def timed(*args, **kwargs):
        start = time.process_time()
        try:
            return decode(*args, **kwargs)
        finally:
            spent[0] += time.process_time() - start

    generation.decode = timed
    try:
        yield
    finally:
        generation.decode = decode


def _one(kind: str, runs: int, runs16: int) -> dict:
    import torch

    from motiongpt.lm import generation

    t0 = time.perf_counter()
    mg = _build(kind)
    mg.lm.optimize_for_inference(half_gemv=True)  # what MotionGPT.from_pretrained does
    load_s = time.perf_counter() - t0
    n_tokens = round(SECONDS * 20 / 4)
    variants = {"default": True} | ({"generic_step": False} if kind == "bundled" else {})
    texts = [BATCH_PROMPTS[i % len(BATCH_PROMPTS)] for i in range(BATCH)]
    keys = ("cpu", "wall", "lm_cpu")
    b1 = {v: {k: [] for k in keys} for v in variants}
    b16 = {v: {k: [] for k in keys} for v in variants}

    def timed_call(store: dict, text, seed: int, record: bool) -> None:
        lm = [0.0]
        with _timed_decoding(lm):
            cpu, wall = time.process_time(), time.perf_counter()
            call = mg.generate_motion_batch if isinstance(text, list) else mg.generate_motion
            out = call(text, seconds=SECONDS, seed=seed)
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        motions = out if isinstance(out, list) else [out]
        assert all(m.n_frames == n_tokens * 4 for m in motions)
        if record:
            for key, value in zip(keys, (cpu, wall, lm[0]), strict=True):
                store[key].append(value)

    lean = generation.LEAN_STEP
    try:
        # Interleaved (round r of every variant, then round r + 1); round 0 is a warm-up.
        for seed in range(max(runs, runs16) + 1):
            for name, on in variants.items():
                generation.LEAN_STEP = on
                if seed <= runs:
                    timed_call(b1[name], PROMPT, seed, record=seed > 0)
                if seed <= runs16:
                    timed_call(b16[name], texts, seed, record=seed > 0)
    finally:
        generation.LEAN_STEP = lean

    def summary(store: dict, n_motions: int) -> dict:
        cpu, wall, lm = (statistics.median(store[k]) for k in keys)
        return {
            "ms_per_motion_token": round(cpu * 1e3 / (n_tokens * n_motions), 2),
            "lm_ms_per_motion_token": round(lm * 1e3 / (n_tokens * n_motions), 2),
            "motions_per_s": round(n_motions / cpu, 2),
            "cpu_s": round(cpu, 3),
            "wall_s": round(wall, 2),
            "lm_share": round(lm / cpu, 3),
        }

    params = sum(p.numel() for p in mg.lm.parameters() if p.dtype.is_floating_point)
    prompt = mg.prompt("t2m_seconds", Caption=PROMPT, Second=f"{SECONDS:.1f}")
    return {
        "model": kind,
        "guidance": mg.cfg.guidance,
        "candidates": mg.cfg.candidates,
        "lm_params_M": round(params / 1e6, 1),
        "prompt_tokens": int(mg.lm.encode_prompts([prompt])["input_ids"].shape[1]),
        "motion_tokens": n_tokens,
        "batch_1": {name: summary(b1[name], 1) for name in variants},
        f"batch_{BATCH}": {name: summary(b16[name], BATCH) for name in variants},
        "load_wall_s": round(load_s, 1),
        "peak_rss_MB": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "torch_threads": torch.get_num_threads(),
        "runs": runs,
        "runs16": runs16,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="timed rounds at batch 1 (after a warm-up)")
    parser.add_argument("--runs16", type=int, default=2, help=f"timed rounds at batch {BATCH}")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads (0 = torch's default; 1 is steadier on a shared 2-core machine)",
    )
    parser.add_argument("--kinds", nargs="+", choices=list(KINDS), default=list(DEFAULT_KINDS))
    parser.add_argument("--only", choices=list(KINDS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    if args.only:
        print(json.dumps(_one(args.only, max(args.runs, 1), max(args.runs16, 1))))
        return
    load_before = [round(x, 1) for x in os.getloadavg()]
    results = []
    for kind in args.kinds:
        cmd = [sys.executable, __file__, "--only", kind, "--runs", str(args.runs), "--runs16",
               str(args.runs16), "--threads", str(args.threads)]  # fmt: skip
        res = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if res.returncode != 0:
            results.append({"model": kind, "error": res.stderr.strip().splitlines()[-1:]})
            continue
        results.append(json.loads(res.stdout.strip().splitlines()[-1]))
    import platform

    import torch

    by = {r["model"]: r for r in results if "error" not in r}
    speedups = {}
    if "bundled" in by and "t5-base" in by:
        for batch in ("batch_1", f"batch_{BATCH}"):
            base = by["t5-base"][batch]["default"]["cpu_s"]
            for name, figures in by["bundled"][batch].items():
                speedups[f"{batch}_{name}"] = round(base / figures["cpu_s"], 2)
    print(json.dumps({
        "task": f"text -> {SECONDS:.0f} s motion, CPU, sampling (top_k 50), exact length",
        "bundled_vs_motiongpt_shaped_speedup": speedups.get("batch_1_default"),
        "speedups_vs_motiongpt_shaped_cpu_time": speedups,
        "cpu_count": os.cpu_count(), "torch": torch.__version__, "machine": platform.machine(),
        "load_average_before_after": [load_before, [round(x, 1) for x in os.getloadavg()]],
        "results": results,
    }, indent=2))  # fmt: skip


if __name__ == "__main__":
    main()
