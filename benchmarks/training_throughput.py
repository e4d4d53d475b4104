"""Training throughput per stage: examples/s and peak memory, with the data loader timed alone.

    nice -n 19 .venv/bin/python benchmarks/training_throughput.py --data /work/runs/corpus \
        --tokens /work/runs/tokens --threads 2
    python benchmarks/training_throughput.py --data ... --tokens ... --device cuda --steps 20 --warmup 5

Stages (``--stages``): ``tokenizer-small``, ``tokenizer-base`` (``configs/tokenizer/*.yaml``) and the LM
configs ``pretrain``, ``instruct``, ``cpu`` (``configs/lm/*.yaml``), each with its own batch size, model,
fine-tuning mode, precision (on CUDA) and data pipeline, on the real corpus and tokens. Each stage runs in
its own child process, so peak memory is per stage: the child first times ``--loader-batches`` batches of
the training data loader alone (the same dataset, collate and length grouping as ``motiongpt train``;
``loader_examples_per_s`` should be far above ``examples_per_s``, or the loader is the bottleneck), then
``--warmup`` untimed and ``--steps`` timed optimiser steps (forward, backward, gradient clipping, AdamW)
on batches drawn beforehand. Besides wall time it reports the CPU seconds of the timed steps (all threads):
on a machine shared with other jobs ``examples_per_cpu_s`` says more about the code than wall time does.
No validation, logging or checkpoints: an upper bound on what
``motiongpt train`` reaches, and on a loaded machine a lower bound on what the hardware does.

Prints one JSON object; ``load_avg`` is the 1-minute load average before and after each stage.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import resource
import subprocess
import sys
import time
from itertools import islice
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
STAGES = ("tokenizer-small", "tokenizer-base", "pretrain", "instruct", "cpu")


def _sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # Linux: KiB


def _tokenizer_stage(preset: str, data: str) -> tuple[Any, Any, Any, int, dict]:
    """(model, optimizer, loader, batch size, info) of a tokenizer run."""
    import torch
    from torch.utils.data import DataLoader

    from motiongpt.data.humanml3d import HumanML3D
    from motiongpt.tokenizer.config import TrainConfig
    from motiongpt.tokenizer.model import MotionTokenizer, count_parameters
    from motiongpt.tokenizer.train import RandomWindows
    from motiongpt.training import StepLoader, StepSampler

    cfg = TrainConfig.from_yaml(ROOT / "configs" / "tokenizer" / f"{preset}.yaml")
    train = HumanML3D(data, "train", cfg.min_frames, cfg.max_frames)
    mean, std = train.normalizer.mean, train.normalizer.std
    dataset = RandomWindows(train, cfg.window, mean, std, seed=cfg.seed)
    sampler = StepSampler(cfg.max_steps, cfg.batch_size, start=lambda: 0)
    loader: DataLoader = StepLoader(dataset, sampler, cfg.seed)
    model = MotionTokenizer(cfg.model, mean=mean, std=std).train()
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, betas=cfg.betas, weight_decay=cfg.weight_decay)
    info = {"config": f"configs/tokenizer/{preset}.yaml", "params": count_parameters(model),
            "window": cfg.window, "grad_clip": cfg.grad_clip}  # fmt: skip
    return model, opt, loader, cfg.batch_size, info


def _lm_stage(name: str, data: str, tokens: str, batch_size: int) -> tuple[Any, Any, Any, int, dict]:
    """(model, optimizer, loader, batch size, info) of an LM run, built as ``train_lm`` builds it."""
    from motiongpt.data.instructions import load_instructions
    from motiongpt.data.manifest import read_manifest
    from motiongpt.lm.collate import LMCollator
    from motiongpt.lm.lit import LitLM
    from motiongpt.lm.model import MotionLanguageModel
    from motiongpt.lm.tasks import TaskBuilder, TaskSampler
    from motiongpt.lm.train import LengthGrouped, LMTrainConfig, _sentinels, load_clips
    from motiongpt.training import StepLoader, StepSampler

    cfg = LMTrainConfig.from_yaml(ROOT / "configs" / "lm" / f"{name}.yaml")
    if batch_size:
        cfg = dataclasses.replace(cfg, batch_size=batch_size)
    model = MotionLanguageModel(cfg.model).train()
    texts = read_manifest(data).descriptions("train")
    clips = load_clips(data, tokens, "train", cfg)
    builder = TaskBuilder(load_instructions(cfg.templates or None), model.vocab, clips, texts,
                          cfg.canonical_templates, _sentinels(model, cfg.motion_objective))  # fmt: skip
    collate = LMCollator(model, cfg.max_length)
    sampler = StepSampler(cfg.max_steps, cfg.batch_size, cfg.accumulate, start=lambda: 0)
    dataset: Any = TaskSampler(
        builder, cfg.mixture, cfg.max_steps * sampler.per_step, cfg.seed, cfg.uncond_rate
    )
    if cfg.length_group > 1:
        dataset = LengthGrouped(dataset, sampler.per_step, cfg.length_group,
                                lambda ex: len(collate.encode(ex)["input_ids"]), cfg.seed)  # fmt: skip
    loader = StepLoader(dataset, sampler, cfg.seed, collate_fn=collate)
    opt = LitLM(cfg, model).configure_optimizers()["optimizer"]
    info = {"config": f"configs/lm/{name}.yaml", "finetune": cfg.model.finetune,
            "keep_layers": getattr(cfg.model, "keep_layers", None), "length_group": cfg.length_group,
            "precision": cfg.precision, "params": model.num_parameters(),
            "trainable_params": model.num_parameters(trainable_only=True),
            "grad_clip": cfg.grad_clip}  # fmt: skip
    return model, opt, loader, cfg.batch_size * cfg.accumulate, info


def bench_stage(stage: str, args: argparse.Namespace) -> dict:
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    load_before = os.getloadavg()[0]
    t0 = time.perf_counter()
    if stage.startswith("tokenizer-"):
        model, opt, loader, per_step, info = _tokenizer_stage(stage.removeprefix("tokenizer-"), args.data)
        loss_of = lambda batch: model(batch).loss  # noqa: E731
    else:
        model, opt, loader, per_step, info = _lm_stage(stage, args.data, args.tokens, args.lm_batch_size)
        loss_of = lambda batch: model.loss(**batch).loss  # noqa: E731
    setup_s = time.perf_counter() - t0
    rss_setup = _peak_rss_mb()

    n_steps = args.warmup + args.steps
    start = time.perf_counter()
    batches = list(islice(iter(loader), max(args.loader_batches, n_steps)))
    loader_s = (time.perf_counter() - start) / len(batches)

    model.to(args.device)
    params = [p for p in model.parameters() if p.requires_grad]
    bf16 = args.device.startswith("cuda") and "bf16" in info.get("precision", "")
    if args.device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    tokens = 0
    for i in range(n_steps):
        if i == args.warmup:
            _sync(args.device)
            start, cpu_start = time.perf_counter(), time.process_time()
        batch = batches[i]
        batch = (
            {k: v.to(args.device) for k, v in batch.items()}
            if isinstance(batch, dict)
            else batch.to(args.device)
        )
        if isinstance(batch, dict) and i >= args.warmup:
            tokens += int(batch["attention_mask"].sum())
        with torch.autocast(args.device.split(":")[0], dtype=torch.bfloat16, enabled=bf16):
            loss = loss_of(batch)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if info["grad_clip"]:
            torch.nn.utils.clip_grad_norm_(params, info["grad_clip"])
        opt.step()
    _sync(args.device)
    step_s = (time.perf_counter() - start) / args.steps
    cpu_s = (time.process_time() - cpu_start) / args.steps  # CPU seconds of all this process's threads

    result = {
        **info,
        "examples_per_step": per_step,
        "setup_s": round(setup_s, 1),
        "step_s": round(step_s, 3),
        "steps_per_s": round(1 / step_s, 3),
        "examples_per_s": round(per_step / step_s, 2),
        "cpu_s_per_step": round(cpu_s, 3),
        "examples_per_cpu_s": round(per_step / cpu_s, 2),
        "loader_examples_per_s": round(per_step / loader_s, 1),
        "peak_rss_mb_after_setup": rss_setup,
        "peak_rss_mb": _peak_rss_mb(),
        "load_avg": [round(load_before, 2), round(os.getloadavg()[0], 2)],
    }
    if tokens:
        result["tokens_per_s"] = round(tokens / args.steps / step_s, 1)  # non-padding tokens
    if args.device.startswith("cuda"):
        result["cuda_peak_mb"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="a HumanML3D-format corpus")
    parser.add_argument("--tokens", required=True, help="the token folder of `motiongpt tokenize`")
    parser.add_argument("--stages", nargs="+", default=list(STAGES), choices=STAGES)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--steps", type=int, default=2, help="timed optimiser steps per stage")
    parser.add_argument("--warmup", type=int, default=1, help="untimed steps first")
    parser.add_argument("--loader-batches", type=int, default=4, help="batches timed from the loader alone")
    parser.add_argument("--lm-batch-size", type=int, default=0, help="LM batch (0: the config's)")
    parser.add_argument("--threads", type=int, default=0, help="torch intra-op threads (0: torch's default)")
    parser.add_argument("--stage", help=argparse.SUPPRESS)  # internal: run one stage in this process
    args = parser.parse_args()

    if args.stage:
        print(json.dumps(bench_stage(args.stage, args)))
        return
    import torch

    result: dict[str, Any] = {
        "device": torch.cuda.get_device_name() if args.device.startswith("cuda") else platform.machine(),
        "cpus": os.cpu_count(),
        "torch": torch.__version__,
        "threads": args.threads or torch.get_num_threads(),
        "steps": args.steps,
        "warmup": args.warmup,
        "stages": {},
    }
    for stage in args.stages:
        child = subprocess.run(
            [sys.executable, __file__, *sys.argv[1:], "--stage", stage], capture_output=True, text=True
        )
        if child.returncode != 0:
            result["stages"][stage] = {"error": child.stderr.strip().splitlines()[-1:]}
        else:
            result["stages"][stage] = json.loads(child.stdout.strip().splitlines()[-1])
        print(json.dumps({stage: result["stages"][stage]}), file=sys.stderr, flush=True)  # as they come
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
