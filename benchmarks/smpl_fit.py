"""SMPL fitting (``motiongpt.motion.smpl_fit``) on corpus motions, with stand-in body models (SMPL's own files
may not be shipped; ``smpl_standin.py``): the mean joint error in mm and the seconds per clip.

Bodies: ``own`` has the clip's first frame as its rest pose, so an exact fit exists and what is left is the
fit's own error; ``h3d`` is a T-pose with HumanML3D's bone lengths (the corpus's too) but generic joint
placement (hips straight out from the pelvis, collars straight out from spine3), unlike the motion's body:
fitted with the mean shape (``betas = 0``) and with ``--fit-shape`` (the stand-in's shape directions grow
the body, the legs and the arms), what a body unlike the motion's costs.

    nice -n 19 .venv/bin/python benchmarks/smpl_fit.py --data /work/runs/corpus --clips 5
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
from smpl_standin import write_standin_smpl  # beside this script

from motiongpt.motion.smpl_fit import fit_smpl


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="corpus folder (new_joints/, <split>.txt)")
    parser.add_argument("--split", default="test")
    parser.add_argument("--clips", type=int, default=5)
    parser.add_argument("--iterations", type=int, default=300)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="smpl-fit-"))
    write_standin_smpl(tmp / "h3d")
    runs = {"own": ("own", False), "h3d_mean_shape": ("h3d", False), "h3d_fit_shape": ("h3d", True)}
    names = (args.data / f"{args.split}.txt").read_text().split()[: args.clips]
    rows: dict[str, list[tuple[float, float, int]]] = {k: [] for k in runs}
    for name in names:
        joints = np.load(args.data / "new_joints" / f"{name}.npy")
        write_standin_smpl(tmp / "own", rest=joints[0].astype(np.float64))
        for key, (body, shape) in runs.items():
            start = time.perf_counter()
            fit = fit_smpl(joints, tmp / body, fit_betas=shape, iterations=args.iterations)
            rows[key].append((fit.error_mm, time.perf_counter() - start, len(joints)))
    report = {
        "clips": len(names), "frames": int(sum(r[2] for r in rows["own"])), "iterations": args.iterations,
        "runs": {k: {"error_mm_mean": round(float(np.mean([r[0] for r in v])), 2),
                     "error_mm_worst_clip": round(float(np.max([r[0] for r in v])), 2),
                     "seconds_per_clip": round(float(np.mean([r[1] for r in v])), 1)}
                 for k, v in rows.items()},
    }  # fmt: skip
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
