"""Scaling on paper: hours for stages 1-3 from measured per-GPU throughput, on 1, 8 and 64 GPUs (DDP).

    python benchmarks/scaling.py                       # the defaults: H200 figures of docs/results.md
    python benchmarks/scaling.py --lm-step-s 0.16 --lm-epochs 50 --efficiency 1=1 8=0.9 64=0.75

Nothing is measured here: it multiplies out the assumptions, all of which are printed with the result.

- Work is fixed in examples seen, not in steps: under DDP each GPU keeps its batch, so N GPUs take N
  times fewer steps of an N times larger global batch (the learning rate may need retuning for that);
  ``efficiency[N]`` is the fraction of N times one GPU's throughput that is reached (gradient all-reduce,
  stragglers, input pipeline).
- Stage 1 (tokenizer): ``--tok-windows`` windows of 64 frames on HumanML3D, by default the 300k steps at
  batch 256 of ``configs/tokenizer/base.yaml`` (T2M-GPT's schedule); a corpus ``k`` times larger is given
  ``k`` times the windows (the same number of passes over the data).
- Stages 2 and 3 (LM): ``--lm-epochs`` passes each over one example per clip (14,616 clips for HumanML3D),
  at ``--lm-step-s`` seconds per step of ``--lm-batch`` examples on one GPU.
- Not counted: start-up, validation, checkpoints, data preparation, evaluation.
"""

from __future__ import annotations

import argparse
import json

HUMANML3D_CLIPS = 14_616
HUMANML3D_HOURS = 28.6


def hours(examples: float, per_s_one_gpu: float, gpus: int, efficiency: float) -> float:
    return round(examples / (per_s_one_gpu * gpus * efficiency) / 3600, 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tok-steps-s", type=float, default=52.8, help="tokenizer steps/s on one GPU (base)")
    parser.add_argument("--tok-batch", type=int, default=64, help="batch of that measurement")
    parser.add_argument("--tok-windows", type=float, default=300_000 * 256, help="windows seen on HumanML3D")
    parser.add_argument("--lm-step-s", type=float, default=0.16, help="LM seconds per step on one GPU")
    parser.add_argument("--lm-batch", type=int, default=32)
    parser.add_argument("--lm-epochs", type=float, default=50, help="passes per LM stage (2 and 3 each)")
    parser.add_argument("--scales", type=float, nargs="+", default=[1, 10], help="corpus sizes / HumanML3D")
    parser.add_argument("--efficiency", nargs="+", default=["1=1.0", "8=0.9", "64=0.75"],
                        help="GPUS=FRACTION of linear scaling")  # fmt: skip
    args = parser.parse_args()
    efficiency = {int(k): float(v) for k, v in (e.split("=") for e in args.efficiency)}

    tok_per_s = args.tok_steps_s * args.tok_batch  # windows/s on one GPU
    lm_per_s = args.lm_batch / args.lm_step_s  # examples/s on one GPU
    table = []
    for scale in args.scales:
        tok_work = args.tok_windows * scale
        lm_work = args.lm_epochs * HUMANML3D_CLIPS * scale  # per stage
        for gpus, eff in efficiency.items():
            stage1 = hours(tok_work, tok_per_s, gpus, eff)
            stage_lm = hours(lm_work, lm_per_s, gpus, eff)
            table.append({
                "corpus": f"{scale:g}x HumanML3D ({HUMANML3D_CLIPS * scale:,.0f} clips, "
                          f"{HUMANML3D_HOURS * scale:,.0f} h)",
                "gpus": gpus,
                "stage1_tokenizer_h": stage1,
                "stage2_pretrain_h": stage_lm,
                "stage3_instruct_h": stage_lm,
                "total_h": round(stage1 + 2 * stage_lm, 2),
            })  # fmt: skip
    print(json.dumps({
        "assumptions": {
            "tokenizer_windows_per_s_1gpu": round(tok_per_s, 1),
            "tokenizer_windows_humanml3d": args.tok_windows,
            "lm_examples_per_s_1gpu": round(lm_per_s, 1),
            "lm_epochs_per_stage": args.lm_epochs,
            "ddp_efficiency": efficiency,
        },
        "table": table,
    }, indent=2))  # fmt: skip


if __name__ == "__main__":
    main()
