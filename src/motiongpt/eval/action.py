"""An action classifier for generated motions (the "action accuracy" of Action2Motion / ACTOR).

Trained on the Bandai Namco content labels of a corpus (``corpus.json``), it tells which action a
motion shows, independently of the text evaluator: text -> motion is then scored by how often the
generated motion is classified as its prompt's action. Labels that no one can tell apart from motion
alone are merged into one action (``ACTIONS``: ``bye``/``byebye`` -> ``goodbye``, the two dances ->
``dance``); CMU clips carry no label and are left out.

The model is small on purpose: per clip, the normalised features are pooled over time (mean, standard
deviation and mean absolute frame-to-frame change, ``3 F`` values), then an MLP. Pooling makes it
indifferent to length (generated motions have the test clips' lengths), and it trains in seconds.

Folder (``save_pretrained``): ``config.yaml`` (:class:`ActionClassifierConfig`, with the class names)
and ``model.safetensors`` (weights and the feature mean/std as buffers).
"""

from __future__ import annotations

import logging
import os
import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from motiongpt._io import atomic_dir
from motiongpt.config import YamlConfig, check_numbers
from motiongpt.errors import CheckpointError, CorpusError, MetricInputError
from motiongpt.motion.normalizer import NormalizerBuffers

log = logging.getLogger(__name__)

CONFIG_NAME = "config.yaml"
WEIGHTS_NAME = "model.safetensors"

#: Bandai Namco content label -> action class. Labels not listed are their own action.
ACTIONS = {"bye": "goodbye", "byebye": "goodbye", "dance-long": "dance", "dance-short": "dance"}


def action_of(content: str | None) -> str | None:
    """The action class of a content label (``None`` for unlabelled clips)."""
    return None if content is None else ACTIONS.get(content, content)


@dataclass(frozen=True)
class ActionClassifierConfig(YamlConfig):
    """The classifier and how it is trained."""

    classes: tuple[str, ...] = ()
    feature_dim: int = 263
    hidden: int = 256
    dropout: float = 0.2
    lr: float = 1e-3
    weight_decay: float = 1e-4
    epochs: int = 60
    batch_size: int = 64
    crop_min: float = 0.6  # training crops keep 60-100 % of a clip
    seed: int = 1234

    def __post_init__(self) -> None:
        object.__setattr__(self, "classes", tuple(str(c) for c in self.classes))
        ints = ("feature_dim", "hidden", "epochs", "batch_size", "seed")
        floats = ("dropout", "lr", "weight_decay", "crop_min")
        check_numbers(self, ints, floats, positive=("feature_dim", "hidden", "epochs", "batch_size", "lr"),
                      non_negative=("dropout", "weight_decay", "crop_min", "seed"))  # fmt: skip


def pooled(features: np.ndarray) -> np.ndarray:
    """``(T, F)`` normalised features -> ``(3F,)``: mean, std and mean |frame change| over time."""
    x = np.asarray(features, dtype=np.float32)
    if x.ndim != 2 or len(x) < 2:
        raise MetricInputError(f"a motion to classify must be (T >= 2, F), got shape {x.shape}")
    return np.concatenate([x.mean(0), x.std(0), np.abs(np.diff(x, axis=0)).mean(0)])


class ActionClassifier(NormalizerBuffers, nn.Module):
    """Pooled-feature MLP over ``cfg.classes``; ``mean``/``std`` normalise raw features (buffers)."""

    def __init__(self, cfg: ActionClassifierConfig, mean: np.ndarray, std: np.ndarray) -> None:
        super().__init__()
        if len(cfg.classes) < 2:
            raise ValueError(f"need at least two classes, got {cfg.classes}")
        self.cfg = cfg
        self.init_normalizer(cfg.feature_dim, mean, np.maximum(np.asarray(std, np.float32), 1e-6))
        self.mlp = nn.Sequential(
            nn.Linear(3 * cfg.feature_dim, cfg.hidden), nn.ReLU(), nn.Dropout(cfg.dropout),
            nn.Linear(cfg.hidden, len(cfg.classes)),
        )  # fmt: skip

    def embed(self, motions: Sequence[np.ndarray]) -> torch.Tensor:
        """Raw features ``[(T_i, F)]`` -> pooled ``(B, 3F)``."""
        normed = [self.normalize(torch.from_numpy(np.array(m))).numpy() for m in motions]  # (T_i, F) each
        return torch.from_numpy(np.stack([pooled(x) for x in normed]))

    def forward(self, pooled_x: torch.Tensor) -> torch.Tensor:
        """``(B, 3F)`` -> logits ``(B, C)``."""
        return self.mlp(pooled_x)

    @torch.no_grad()
    def predict(self, motions: Sequence[np.ndarray]) -> list[str]:
        """Raw features ``[(T_i, F)]`` -> the action of each."""
        if not motions:
            return []
        self.eval()
        return [self.cfg.classes[i] for i in self(self.embed(motions)).argmax(-1).tolist()]

    def accuracy(self, motions: Sequence[np.ndarray], actions: Sequence[str]) -> float:
        """Share of ``motions`` classified as their ``actions``."""
        if len(motions) != len(actions) or not motions:
            raise MetricInputError(
                f"need as many actions as motions (> 0), got {len(actions)}, {len(motions)}"
            )
        return float(np.mean([p == a for p, a in zip(self.predict(motions), actions, strict=True)]))

    def save_pretrained(self, directory: str | os.PathLike) -> Path:
        from safetensors.torch import save_file

        directory = Path(directory)
        with atomic_dir(directory) as tmp:
            self.cfg.to_yaml(tmp / CONFIG_NAME)
            state = {k: v.contiguous() for k, v in self.state_dict().items()}
            save_file(state, str(tmp / WEIGHTS_NAME), metadata={"format": "pt"})
            os.chmod(tmp / WEIGHTS_NAME, 0o644)
        return directory

    @classmethod
    def from_pretrained(cls, directory: str | os.PathLike) -> ActionClassifier:
        from safetensors.torch import load_file

        directory = Path(directory)
        if not (directory / CONFIG_NAME).is_file() or not (directory / WEIGHTS_NAME).is_file():
            raise CheckpointError(f"{directory}: not an action classifier folder ({CONFIG_NAME} and "
                                  f"{WEIGHTS_NAME} are needed)")  # fmt: skip
        cfg = ActionClassifierConfig.from_yaml(directory / CONFIG_NAME)
        try:
            state = load_file(str(directory / WEIGHTS_NAME))
        except Exception as e:  # safetensors raises its own error types on corrupt files
            raise CheckpointError(f"{directory / WEIGHTS_NAME}: cannot read: {e}") from None
        model = cls(cfg, np.zeros(cfg.feature_dim), np.ones(cfg.feature_dim))
        try:
            model.load_state_dict(state)
        except RuntimeError as e:
            raise CheckpointError(f"{directory / WEIGHTS_NAME}: does not fit the config: {e}") from None
        return model.eval()


# --- training -----------------------------------------------------------------------------------------
def labelled_clips(data: str | os.PathLike, split: str) -> tuple[list[np.ndarray], list[str]]:
    """Raw features and action labels of the labelled clips of a corpus split."""
    from motiongpt.data import HumanML3D
    from motiongpt.data.manifest import read_manifest

    manifest = read_manifest(data)
    ds = HumanML3D(data, split)
    feats, labels = [], []
    for i, name in enumerate(ds.names):
        action = action_of(manifest.entry(name).content)
        if action is not None:
            feats.append(ds[i].features)
            labels.append(action)
    return feats, labels


def _crop(x: np.ndarray, rng: random.Random, keep_min: float) -> np.ndarray:
    n = max(2, int(len(x) * rng.uniform(keep_min, 1.0)))
    start = rng.randrange(len(x) - n + 1)
    return x[start : start + n]


def train_action_classifier(
    data: str | os.PathLike, out: str | os.PathLike, cfg: ActionClassifierConfig | None = None
) -> dict[str, Any]:
    """Train on the corpus's labelled train clips, keep the epoch best on val, write ``out``; returns
    ``{"val_accuracy", "test_accuracy", "classes", "n_train"}``."""
    from motiongpt.data import HumanML3D

    cfg = cfg or ActionClassifierConfig()
    train_x, train_y = labelled_clips(data, "train")
    if not train_x:
        raise CorpusError(f"{data}: no train clip has a content label (corpus.json) to learn actions from")
    classes = tuple(sorted(set(train_y)))
    cfg = ActionClassifierConfig(**{**cfg.to_dict(), "classes": classes})
    norm = HumanML3D(data, "train").normalizer
    torch.manual_seed(cfg.seed)
    rng = random.Random(cfg.seed)
    model = ActionClassifier(cfg, np.asarray(norm.mean), np.asarray(norm.std))
    val_x, val_y = labelled_clips(data, "val")
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    target = torch.tensor([classes.index(y) for y in train_y])
    best, best_state = -1.0, None
    for _ in range(cfg.epochs):
        model.train()
        order = list(range(len(train_x)))
        rng.shuffle(order)
        for s in range(0, len(order), cfg.batch_size):
            idx = order[s : s + cfg.batch_size]
            x = model.embed([_crop(train_x[i], rng, cfg.crop_min) for i in idx])  # (b, 3F)
            loss = F.cross_entropy(model(x), target[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        acc = model.accuracy(val_x, val_y) if val_x else 0.0
        if acc > best:
            best, best_state = acc, {k: v.clone() for k, v in model.state_dict().items()}
    model.load_state_dict(best_state)
    model.save_pretrained(out)
    test_x, test_y = labelled_clips(data, "test")
    result = {
        "val_accuracy": best,
        "test_accuracy": model.accuracy(test_x, test_y) if test_x else None,
        "classes": list(classes),
        "n_train": len(train_x),
    }
    log.info("action classifier: %d classes, val %.3f, test %s", len(classes), best, result["test_accuracy"])
    return result


# --- action accuracy of prompts -----------------------------------------------------------------------
PARAPHRASES = Path(__file__).resolve().parent / "paraphrases.yaml"
#: A second set, written by an annotator who saw only the action names and one-line descriptions (not the
#: training vocabulary nor the first set): how people type, template phrases included where they came.
INDEPENDENT_PARAPHRASES = PARAPHRASES.with_name("paraphrases_independent.yaml")


#: ``load_prompts(TEMPLATED)``: the caption templates' own wording, the control for the paraphrase sets.
TEMPLATED = "templated"


def templated_prompts(per_action: int = 3) -> dict[str, list[str]]:
    """``{action: ["a person <phrase>", ...]}``: the first ``per_action`` phrases of each action in the
    corpus's caption templates (``motiongpt.data.captions.CONTENT_PHRASES``), as training saw them."""
    from motiongpt.data.captions import CONTENT_PHRASES

    prompts: dict[str, list[str]] = {}
    for content, phrases in CONTENT_PHRASES.items():
        have = prompts.setdefault(str(action_of(content)), [])
        have += [f"a person {p}" for p in phrases[: per_action - len(have)]]
    return prompts


def load_prompts(path: str | os.PathLike | None = None) -> dict[str, list[str]]:
    """``{action: [prompt, ...]}`` from a YAML file (default: the packaged paraphrase set), or the
    templated set for ``TEMPLATED``."""
    import yaml

    if path is not None and str(path) == TEMPLATED and not Path(path).exists():
        return templated_prompts()
    path = Path(path) if path is not None else PARAPHRASES
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as e:
        raise MetricInputError(f"{path}: cannot read the prompt set: {e}") from None
    ok = isinstance(data, dict) and all(
        isinstance(v, list) and v and all(isinstance(p, str) and p.strip() for p in v) for v in data.values()
    )
    if not ok or not data:
        raise MetricInputError(f"{path}: expected a mapping of action names to lists of prompts")
    return {str(k): list(v) for k, v in data.items()}


def prompt_action_accuracy(
    generate_fn: Any,
    prompts: dict[str, list[str]],
    classifier: ActionClassifier,
    samples: int = 3,
    frames: int = 80,
) -> dict[str, Any]:
    """Generate ``samples`` motions of ``frames`` frames per prompt and classify them.

    ``generate_fn(texts, lengths) -> [(T, F) features]`` is the t2m callable of the evaluation. Returns
    the overall accuracy, the accuracy per action, the class most often predicted instead of each action
    (``confused_with``, for actions with a miss), and the share of each prompt's samples that hit.
    """
    unknown = sorted(set(prompts) - set(classifier.cfg.classes))
    if unknown:
        raise MetricInputError(
            f"actions {unknown} are not classes of the classifier {classifier.cfg.classes}"
        )
    texts = [p for ps in prompts.values() for p in ps]
    labels = [a for a, ps in prompts.items() for _ in ps]
    hits = np.zeros(len(texts))
    predicted: dict[str, Counter[str]] = {a: Counter() for a in prompts}
    for _ in range(samples):
        motions = generate_fn(texts, [frames] * len(texts))
        guesses = classifier.predict(motions)
        hits += np.array([p == a for p, a in zip(guesses, labels, strict=True)])
        for p, a in zip(guesses, labels, strict=True):
            predicted[a][p] += 1
    hits /= samples
    per_action = {
        a: float(np.mean([h for h, b in zip(hits, labels, strict=True) if b == a])) for a in prompts
    }
    return {
        "action_accuracy": float(hits.mean()),
        "chance": 1.0 / len(classifier.cfg.classes),
        "per_action": per_action,
        "confused_with": {a: wrong.most_common(1)[0][0] for a, c in predicted.items()
                          if (wrong := Counter({p: n for p, n in c.items() if p != a}))},
        "per_prompt": dict(zip(texts, hits.tolist(), strict=True)),
        "prompts": len(texts),
        "samples": samples,
        "seconds": frames / 20,
    }


__all__ = [
    "ACTIONS",
    "INDEPENDENT_PARAPHRASES",
    "TEMPLATED",
    "ActionClassifier",
    "ActionClassifierConfig",
    "action_of",
    "load_prompts",
    "prompt_action_accuracy",
    "templated_prompts",
    "train_action_classifier",
]
