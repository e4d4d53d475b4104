"""Timelines of prompts (``MotionGPT.generate_timeline``): length, seams, root continuity, actions.

Builds ``--timelines`` random timelines of ``--segments`` segments each (prompts from the action
paraphrase set, ``motiongpt.eval.action``; seconds uniform in [--min-seconds, --max-seconds]), generates
them with the given bundle (default: the bundled model) and prints JSON:

- ``length``: the largest |total - sum of seconds| against one motion token (0.2 s) per segment;
- ``seams``: the fastest joint's frame-to-frame speed (m/s) around every seam, against the fastest
  inside the segments of the same timeline and against the 99th percentile of the real corpus's speeds;
- ``root``: the root's speed around every seam against the corpus's 99th percentile (no jump);
- ``actions`` (with ``--classifier``): how often each segment, cut out of its timeline, is classified as
  its prompt's action, beside a single-prompt generation of the same prompt and length.

    .venv/bin/python benchmarks/timeline.py --data /work/runs/corpus --classifier /work/runs/action
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

import numpy as np

from motiongpt.motion.skeleton import FPS


def speeds(joints: np.ndarray) -> np.ndarray:
    """Fastest joint's speed between consecutive frames (m/s): ``(T, 22, 3) -> (T - 1,)``."""
    return np.linalg.norm(np.diff(joints, axis=0), axis=-1).max(-1) * FPS


def root_speeds(joints: np.ndarray) -> np.ndarray:
    return np.linalg.norm(np.diff(joints[:, 0], axis=0), axis=-1) * FPS


def corpus_percentiles(data: Path, split: str, limit: int) -> dict[str, float]:
    """99th percentiles of the joint and root speeds over the real clips of ``split``."""
    names = (data / f"{split}.txt").read_text().split()[:limit]
    joint, root = [], []
    for name in names:
        path = data / "new_joints" / f"{name}.npy"
        if path.is_file():
            j = np.load(path).astype(np.float32)
            joint.append(speeds(j))
            root.append(root_speeds(j))
    return {
        "clips": len(joint),
        "joint_speed_p99": float(np.percentile(np.concatenate(joint), 99)),
        "root_speed_p99": float(np.percentile(np.concatenate(root), 99)),
    }


def seam_report(motion, bounds: list[tuple[int, int]]) -> dict[str, float]:
    """Speeds near the seams (the 4 frame steps around each) and inside the segments."""
    speed, root = speeds(motion.joints), root_speeds(motion.joints)
    near = np.zeros(len(speed), bool)
    for _, seam in bounds[:-1]:
        near[max(0, seam - 3) : seam + 1] = True
    return {
        "seam_joint_speed_max": float(speed[near].max()),
        "inside_joint_speed_max": float(speed[~near].max()),
        "seam_root_speed_max": float(root[near].max()),
        "inside_root_speed_max": float(root[~near].max()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None, help="MotionGPT folder (default: bundled)")
    parser.add_argument("--data", type=Path, default=None, help="corpus for the real speed percentiles")
    parser.add_argument("--classifier", type=Path, default=None, help="action classifier folder")
    parser.add_argument("--timelines", type=int, default=4)
    parser.add_argument("--segments", type=int, default=3)
    parser.add_argument("--min-seconds", type=float, default=1.5)
    parser.add_argument("--max-seconds", type=float, default=4.0)
    parser.add_argument("--corpus-clips", type=int, default=400, help="test clips for the percentiles")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--join-seconds", type=float, default=0.4, help="re-written on each side of a seam")
    args = parser.parse_args()

    from motiongpt.eval.action import load_prompts
    from motiongpt.lm.pipeline import MotionGPT
    from motiongpt.lm.timeline import segment_frames

    model_dir = args.model or Path(__file__).resolve().parents[1] / "src" / "motiongpt" / "assets" / "model"
    classifier = None
    if args.classifier is not None:
        from motiongpt.eval.action import ActionClassifier

        classifier = ActionClassifier.from_pretrained(args.classifier)
    prompts = load_prompts()
    if classifier is not None:
        prompts = {a: p for a, p in prompts.items() if a in classifier.cfg.classes}
    rng = random.Random(args.seed)
    timelines = []
    for _ in range(args.timelines):
        actions = rng.sample(sorted(prompts), args.segments)
        seconds = [round(rng.uniform(args.min_seconds, args.max_seconds), 1) for _ in actions]
        timelines.append([(a, rng.choice(prompts[a]), s) for a, s in zip(actions, seconds, strict=True)])

    model = MotionGPT.from_pretrained(model_dir)
    rows, hits_tl, hits_single, elapsed = [], [], [], 0.0
    for i, tl in enumerate(timelines):
        segments = [(p, s) for _, p, s in tl]
        start = time.perf_counter()
        motion = model.generate_timeline(segments, seed=i, join_seconds=args.join_seconds)
        elapsed += time.perf_counter() - start
        bounds = segment_frames([s for _, s in segments], model.frames_per_token)
        row = {
            "segments": [[a, p, s] for a, p, s in tl],
            "seconds": motion.seconds,
            "asked_seconds": round(sum(s for _, s in segments), 2),
            **seam_report(motion, bounds),
        }
        if classifier is not None:
            pieces = [motion.features[a:b] for a, b in bounds]
            texts, lengths = [p for p, _ in segments], [s for _, s in segments]
            single = model.generate_motion_batch(texts, seconds=lengths, seed=i)
            got_tl = classifier.predict(pieces)
            got_single = classifier.predict([m.features for m in single])
            hits_tl += [g == a for g, (a, _, _) in zip(got_tl, tl, strict=True)]
            hits_single += [g == a for g, (a, _, _) in zip(got_single, tl, strict=True)]
            row["classified_in_timeline"], row["classified_alone"] = got_tl, got_single
        rows.append(row)

    real = corpus_percentiles(args.data, "test", args.corpus_clips) if args.data is not None else None
    worst_length = max(abs(r["seconds"] - r["asked_seconds"]) / len(r["segments"]) for r in rows)
    seam_max = max(r["seam_joint_speed_max"] for r in rows)
    summary = {
        "model": str(model_dir),
        "timelines": len(rows),
        "segments_per_timeline": args.segments,
        "join_seconds": args.join_seconds,
        "length_error_per_segment_max_s": round(worst_length, 3),
        "length_within_one_token": worst_length <= 0.2 + 1e-6,
        "seams_within_inside_range": all(
            r["seam_joint_speed_max"] <= r["inside_joint_speed_max"] for r in rows
        ),
        "seam_joint_speed_max": seam_max,
        "seam_root_speed_max": max(r["seam_root_speed_max"] for r in rows),
        "seconds_per_timeline": elapsed / len(rows),
    }
    if real is not None:
        summary["real"] = real
        summary["seams_below_real_p99"] = seam_max <= real["joint_speed_p99"]
        summary["root_below_real_p99"] = summary["seam_root_speed_max"] <= real["root_speed_p99"]
    if classifier is not None:
        summary["action_accuracy_in_timeline"] = float(np.mean(hits_tl))
        summary["action_accuracy_alone"] = float(np.mean(hits_single))
        summary["chance"] = 1.0 / len(classifier.cfg.classes)
    print(json.dumps({"summary": summary, "timelines": rows}, indent=2))


if __name__ == "__main__":
    main()
