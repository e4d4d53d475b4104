"""Does the chat follow intent? Replays benchmarks/chat_intent.yaml and prints JSON.

For each case: the first request (if any) becomes a motion by text -> motion (``seconds``, ``seed``);
the user's turn is then sent to ``MotionGPT.chat`` with that motion as the assistant's earlier answer.
A case passes when the reply is of the expected kind (a motion, or text without one) and, for motions,
its property holds: ``faster`` / ``slower`` compare the mean joint speed with the first motion's
(ratio > 1.1 / < 0.9), ``action`` / ``same_action`` use the evaluation's action classifier.

    python benchmarks/chat_intent.py --action-classifier runs/action [--model DIR] [--seeds 0 1 2]
        [--guidance G]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import yaml

from motiongpt.eval.action import ActionClassifier
from motiongpt.lm.pipeline import MotionGPT

CASES = Path(__file__).with_name("chat_intent.yaml")
SPEED_RATIO = 1.1


def mean_speed(joints: np.ndarray) -> float:
    """Mean joint speed in m/s of ``(T, 22, 3)`` joints at 20 fps."""
    return float(np.linalg.norm(np.diff(joints, axis=0), axis=-1).mean() * 20)


def run_case(
    mg: MotionGPT, case: dict, classifier: ActionClassifier, seed: int, seconds: float, guidance: float | None
) -> dict:
    messages, first = [], None
    if case.get("first"):
        first = mg.generate_motion(case["first"], seconds=seconds, seed=seed)
        messages = [{"role": "user", "content": case["first"]}, {"role": "assistant", "content": first}]
    reply = mg.chat([*messages, {"role": "user", "content": case["turn"]}], seed=seed, guidance=guidance)
    kind = "motion" if reply.motion is not None else "text"
    out = {"kind": kind, "text": reply.text[:80], "kind_ok": kind == case["expect"]}
    prop = case.get("property")
    if prop and kind == "motion":
        m = reply.motion
        if prop in ("faster", "slower"):
            ratio = mean_speed(m.joints) / max(mean_speed(first.joints), 1e-6)
            holds = ratio > SPEED_RATIO if prop == "faster" else ratio < 1 / SPEED_RATIO
            out |= {"speed_ratio": round(ratio, 3), "property_ok": holds}
        else:
            want = case["action"] if prop == "action" else classifier.predict([first.features])[0]
            got = classifier.predict([m.features])[0]
            out |= {"action": got, "wanted": want, "property_ok": got == want}
    elif prop:
        out["property_ok"] = False
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--model", type=Path, default=Path(__file__).resolve().parents[1] / "src/motiongpt/assets/model"
    )
    p.add_argument("--action-classifier", type=Path, required=True)
    p.add_argument("--cases", type=Path, default=CASES)
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--seconds", type=float, default=3.0, help="length of the first motion")
    p.add_argument("--guidance", type=float, help="guidance of the chat's motions (default: the bundle's)")
    args = p.parse_args()
    mg = MotionGPT.from_pretrained(args.model)
    classifier = ActionClassifier.from_pretrained(args.action_classifier)
    cases = yaml.safe_load(args.cases.read_text(encoding="utf-8"))
    results = []
    for seed in args.seeds:
        for case in cases:
            reply = run_case(mg, case, classifier, seed, args.seconds, args.guidance)
            results.append({"seed": seed, **case, **reply})
    kind_ok = [r["kind_ok"] for r in results]
    edits = [r.get("property_ok", False) for r in results if r.get("property")]
    print(json.dumps({
        "model": str(args.model), "cases": len(cases), "seeds": args.seeds, "guidance": args.guidance,
        "right_kind": round(float(np.mean(kind_ok)), 3),
        "property_holds": round(float(np.mean(edits)), 3) if edits else None,
        "by_expected_kind": {k: round(float(np.mean([r["kind_ok"] for r in results if r["expect"] == k])), 3)
                             for k in ("text", "motion")},
        "results": results,
    }, indent=2))  # fmt: skip


if __name__ == "__main__":
    main()
