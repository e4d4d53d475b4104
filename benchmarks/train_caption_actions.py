"""Does the model write an action from its own training captions? Real windows vs generated, per action.

    python benchmarks/train_caption_actions.py --model src/motiongpt/assets/model --data corpus \
        --action-classifier runs/action --actions walk-right dash walk-back bow

For each action, the first ``--clips`` train windows: the classifier's verdicts on their first 80 frames
(real) and on a 4 s motion generated from each window's first caption (seed = its index). One JSON line
per action with the verdict counts: where the real windows are classified right but the generated ones
are not, the model has not learned the action even in the wording it was trained on.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

from motiongpt.data import HumanML3D
from motiongpt.data.manifest import read_manifest
from motiongpt.eval.action import ActionClassifier, action_of
from motiongpt.lm.pipeline import MotionGPT
from motiongpt.motion.skeleton import FPS

FRAMES = 80  # 4 s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="default")
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--action-classifier", type=Path, required=True)
    parser.add_argument("--actions", nargs="+", required=True)
    parser.add_argument("--clips", type=int, default=6)
    args = parser.parse_args()

    classifier = ActionClassifier.from_pretrained(args.action_classifier)
    model = MotionGPT.from_pretrained(args.model)
    manifest, train = read_manifest(args.data), HumanML3D(args.data, "train")
    for action in args.actions:
        picked = [i for i, n in enumerate(train.names) if action_of(manifest.entry(n).content) == action]
        items = [train[i] for i in picked[: args.clips]]
        real = classifier.predict([item.features[:FRAMES] for item in items])
        captions = [item.captions[0].text for item in items]
        generated = [model.generate_motion(c, seconds=FRAMES / FPS, seed=i).features
                     for i, c in enumerate(captions)]  # fmt: skip
        print(json.dumps({
            "action": action, "clips": len(items), "real": dict(Counter(real)),
            "generated": dict(Counter(classifier.predict(generated))),
            "first_caption": captions[0] if captions else None,
        }), flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
