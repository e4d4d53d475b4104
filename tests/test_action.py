"""The action classifier of the evaluation and the paraphrase prompt set."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
import yaml

from conftest import MOTIONGPT_CLI, write_tiny_corpus
from motiongpt.data.captions import CONTENT_PHRASES
from motiongpt.errors import CheckpointError, MetricInputError
from motiongpt.eval.action import (
    PARAPHRASES,
    TEMPLATED,
    ActionClassifier,
    action_of,
    load_prompts,
    prompt_action_accuracy,
    train_action_classifier,
)

pytest_plugins = ["test_lm_fixtures"]


def labelled_corpus(root: Path, n_clips: int = 24) -> Path:
    """A tiny corpus whose two actions differ in how much the features move: calm 'bow', busy 'kick'."""
    write_tiny_corpus(root, n_clips=n_clips)
    rng = np.random.default_rng(1)
    clips = {}
    for i in range(n_clips):
        name = f"{i:06d}"
        content = "bow" if i % 2 else "kick"
        scale = 0.05 if content == "bow" else 1.0
        t = np.arange(int(rng.integers(48, 90)))[:, None] / 20.0
        feats = (scale * np.sin(2 * np.pi * rng.uniform(0.5, 2.0, (1, 263)) * t)).astype(np.float32)
        np.save(root / "new_joint_vecs" / f"{name}.npy", feats)
        clips[name] = {"content": content, "style": "normal", "templated": True}
    (root / "corpus.json").write_text(json.dumps({"clips": clips}), encoding="utf-8")
    return root


def test_action_groups():
    assert action_of("byebye") == action_of("bye") == "goodbye"
    assert action_of("dance-long") == "dance" and action_of("kick") == "kick" and action_of(None) is None


def test_classifier_learns_and_round_trips(tmp_path):
    corpus = labelled_corpus(tmp_path / "corpus")
    result = train_action_classifier(corpus, tmp_path / "action")
    assert result["classes"] == ["bow", "kick"] and result["test_accuracy"] == 1.0
    model = ActionClassifier.from_pretrained(tmp_path / "action")
    calm, busy = np.full((40, 263), 0.01, np.float32), np.zeros((40, 263), np.float32)
    busy[::2] = 1.0  # jumps every frame
    assert model.predict([calm, busy]) == ["bow", "kick"]
    assert model.accuracy([calm, busy], ["bow", "bow"]) == 0.5
    with pytest.raises(MetricInputError, match="T >= 2"):
        model.predict([np.zeros((1, 263))])
    (tmp_path / "action" / "model.safetensors").write_bytes(b"broken")
    with pytest.raises(CheckpointError, match="cannot read"):
        ActionClassifier.from_pretrained(tmp_path / "action")


def test_paraphrases_avoid_the_caption_templates():
    prompts = load_prompts()
    assert sum(len(v) for v in prompts.values()) >= 48
    known = {action_of(c) for c in CONTENT_PHRASES}
    assert set(prompts) <= known
    phrases = {p for ps in CONTENT_PHRASES.values() for p in ps}
    for action, texts in prompts.items():
        for text in texts:
            hits = [p for p in phrases if p in text]
            assert not hits, (action, text, hits)
    assert PARAPHRASES.is_file()


def test_templated_prompts_are_the_caption_templates_of_every_action():
    prompts = load_prompts(TEMPLATED)
    assert set(prompts) == {action_of(c) for c in CONTENT_PHRASES}
    phrases = {p for ps in CONTENT_PHRASES.values() for p in ps}
    for texts in prompts.values():
        assert len(texts) == 3 and all(t.removeprefix("a person ") in phrases for t in texts)
    assert prompts["goodbye"][0] == "a person waves goodbye"  # bye and byebye are one action


def test_prompt_action_accuracy_counts_hits(tmp_path):
    corpus = labelled_corpus(tmp_path / "corpus")
    train_action_classifier(corpus, tmp_path / "action")
    classifier = ActionClassifier.from_pretrained(tmp_path / "action")

    def generate(texts, lengths):  # a "model" that moves a lot only when asked to kick
        return [np.full((n, 263), 0.01, np.float32) if "bow" in t else np.tile([[0.0], [1.0]], (n // 2, 263))
                for t, n in zip(texts, lengths, strict=True)]  # fmt: skip

    prompts = {"bow": ["a bow please", "bow deeply"], "kick": ["kick it", "a bow-less kick"]}
    out = prompt_action_accuracy(generate, prompts, classifier, samples=2, frames=40)
    assert out["per_action"] == {"bow": 1.0, "kick": 0.5} and out["action_accuracy"] == 0.75
    assert out["confused_with"] == {"kick": "bow"}  # "a bow-less kick" gets the bow motion
    with pytest.raises(MetricInputError, match="not classes"):
        prompt_action_accuracy(generate, {"dance": ["x"]}, classifier)


@pytest.mark.slow
def test_cli_train_action_and_eval_actions(tmp_path, tiny_dirs):
    from test_lm_fixtures import save_tiny_bundle

    corpus = labelled_corpus(tmp_path / "corpus")
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([*MOTIONGPT_CLI, "train", "action", "--data", str(corpus), "--out", "act"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "act" / "model.safetensors").is_file()
    bundle = save_tiny_bundle(tmp_path / "bundle", tiny_dirs["causal"])
    (tmp_path / "prompts.yaml").write_text(
        yaml.safe_dump({"bow": ["bow"], "kick": ["kick"]}), encoding="utf-8"
    )
    args = ["eval", "--task", "actions", "--model", str(bundle), "--action-classifier", "act", "--prompts",
            "prompts.yaml", "--quick"]  # fmt: skip
    done = subprocess.run([*MOTIONGPT_CLI, *args],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout)
    assert result["prompts"] == 2 and 0.0 <= result["action_accuracy"] <= 1.0 and result["chance"] == 0.5
    done = subprocess.run([*MOTIONGPT_CLI, "eval", "--task", "actions", "--model", str(bundle)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 2 and "--action-classifier" in done.stderr and "Traceback" not in done.stderr


def test_independent_paraphrase_set_covers_every_action():
    from motiongpt.eval.action import INDEPENDENT_PARAPHRASES

    prompts = load_prompts(INDEPENDENT_PARAPHRASES)
    assert set(prompts) == {action_of(c) for c in CONTENT_PHRASES}
    assert all(len(v) == 3 for v in prompts.values())
    texts = [t for v in prompts.values() for t in v]
    assert len(set(texts)) == len(texts) == 69


def test_val_measures_score_a_model_on_val_and_both_paraphrase_sets(tmp_path, tiny_dirs):
    from conftest import tiny_evaluator_config, toy_word_vectors
    from motiongpt.eval.action import ActionClassifierConfig
    from motiongpt.eval.evaluator import T2MEvaluator
    from motiongpt.eval.run import val_measures
    from motiongpt.lm.pipeline import MotionGPT
    from test_lm_fixtures import save_tiny_bundle

    corpus = labelled_corpus(tmp_path / "corpus", n_clips=200)  # 33 val clips: one batch of R-precision
    evaluator = T2MEvaluator(tiny_evaluator_config())
    evaluator.set_word_vectors(toy_word_vectors(["unk", "sos", "eos", "bow", "kick"], 8))
    classes = tuple(sorted({action_of(c) for c in CONTENT_PHRASES}))  # every action of the paraphrase sets
    classifier = ActionClassifier(ActionClassifierConfig(classes=classes), np.zeros(263), np.ones(263))
    model = MotionGPT.from_pretrained(save_tiny_bundle(tmp_path / "bundle", tiny_dirs["causal"]))

    out = val_measures(corpus, evaluator, classifier)(model)
    rates = ("r_precision_top3", "action_accuracy", "paraphrases", "independent")
    assert set(out) == {*rates, "fid", "diversity"}
    assert all(0.0 <= out[k] <= 1.0 for k in rates) and out["fid"] >= 0.0 and out["diversity"] > 0.0
    assert set(val_measures(corpus, evaluator)(model)) == {"r_precision_top3", "fid", "diversity"}
