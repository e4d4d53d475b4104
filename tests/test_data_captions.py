"""Caption text: Bandai Namco templates, CMU sentence wrapping, and HumanML3D-style POS tokens."""

from __future__ import annotations

import re

import pytest

from motiongpt.data.captions import (
    CONTENT_PHRASES,
    STYLE_PHRASES,
    bandai_captions,
    cmu_group,
    cmu_sentence,
    cmu_window_captions,
    third_person,
)
from motiongpt.data.pos import pos_tag

BANDAI_CONTENTS = (
    "walk run dash walk-back walk-left walk-right bow bye guide byebye respond call punch kick slash "
    "dance-long dance-short walk-turn-left walk-turn-right wave-both-hands wave-left-hand wave-right-hand "
    "raise-up-both-hands raise-up-left-hand raise-up-right-hand"
).split()
BANDAI_STYLES = (
    "normal happy sad angry proud not-confident masculinity feminine childish old tired active musical giant "
    "chimpira elderly exhausted masculine youthful"
).split()


def test_every_bandai_label_has_templates() -> None:
    assert set(BANDAI_CONTENTS) <= set(CONTENT_PHRASES)
    assert set(BANDAI_STYLES) <= set(STYLE_PHRASES)


def test_bandai_captions_are_seeded_distinct_and_varied() -> None:
    caps = bandai_captions("wave-left-hand", "elderly", "bn2_wave-left-hand_elderly_001", seed=0)
    assert len(caps) == 3 == len(set(caps))
    assert caps == bandai_captions("wave-left-hand", "elderly", "bn2_wave-left-hand_elderly_001", seed=0)
    assert all("#" not in c and "left" in c for c in caps)
    many = {c for i in range(40) for c in bandai_captions("walk", "tired", f"clip{i}", seed=0)}
    assert len(many) > 20  # many phrasings per content and style
    with pytest.raises(KeyError, match="moonwalk"):
        bandai_captions("moonwalk", "normal", "x")


def test_cmu_sentences_keep_the_real_words() -> None:
    desc = "playground - forward jumps, turn around"
    assert cmu_sentence(desc) == "a person is on a playground: forward jumps, then turns around"
    assert cmu_sentence("walk on uneven terrain") == "a person walks on uneven terrain"
    assert cmu_sentence("run/jog") == "a person runs or jogs"
    assert cmu_sentence("swordplay") == "a person performs swordplay"
    assert cmu_sentence("bend over, scoop up") == "a person bends over, then scoops up"
    assert (
        third_person("carry") == "carries"
        and third_person("punch") == "punches"
        and third_person("go") == "goes"
    )
    assert cmu_group(desc) == "playground" and cmu_group("run/jog") == "run"


def test_cmu_activities_split_across_windows_only_when_counts_match() -> None:
    desc = "playground - forward jumps, turn around"
    caps, split = cmu_window_captions(desc, 2)
    assert split and caps == [
        "a person is on a playground: forward jumps",
        "a person is on a playground: turns around",
    ]
    caps, split = cmu_window_captions(desc, 3)
    assert not split and caps == [cmu_sentence(desc)] * 3
    assert cmu_window_captions("walk", 1) == (["a person walks"], False)


def test_pos_tokens_follow_humanml3d() -> None:
    tags = pos_tag(["a person walks forward.", "someone waves the left hand", "a person walks forward."])
    assert tags[0] == ("a/DET", "person/NOUN", "walk/VERB", "forward/ADV")
    assert tags[2] == tags[0]
    assert "left/ADJ" in tags[1] or "left/NOUN" in tags[1]  # "left" is never lemmatised to "leave"
    assert all(re.fullmatch(r"[a-z]+/[A-Z]+", t) for tok in tags for t in tok)
    assert pos_tag([]) == []


def test_gerund_spelling() -> None:
    from motiongpt.data.captions import gerund

    cases = {"walk": "walking", "wave": "waving", "run": "running", "jog": "jogging", "put": "putting",
             "tie": "tying", "see": "seeing", "side-step": "side-stepping", "bow": "bowing"}  # fmt: skip
    assert {v: gerund(v) for v in cases} == cases


def test_varied_captions_cover_every_label_and_vary_their_shape() -> None:
    import numpy as np

    from motiongpt.data.captions import CONTENT_SYNONYMS, EXTRA_SUBJECTS, varied_caption

    assert set(CONTENT_SYNONYMS) == set(CONTENT_PHRASES)
    rng = np.random.default_rng(0)
    caps = [varied_caption("walk-left", "tired", rng) for _ in range(300)]
    assert all("left" in c for c in caps)  # the side is never lost
    assert len(set(caps)) > 100
    assert any(c.split(" ", 1)[0].endswith("ing") for c in caps)  # "stepping to the left"
    assert any(" is " in c for c in caps)  # "a man is stepping to the left"
    assert any(c.startswith(("step ", "sidestep ", "move ", "shuffle ", "walk ")) for c in caps)  # imperative
    assert any(c.startswith(EXTRA_SUBJECTS) for c in caps)
    assert any(a in c for c in caps for a in ("wearily", "tired"))  # the style is kept in most
    assert not any(c.startswith(("a person wals", "puting")) for c in caps)
    again = np.random.default_rng(0)
    assert caps == [varied_caption("walk-left", "tired", again) for _ in range(300)]
    with pytest.raises(KeyError, match="cartwheel"):
        varied_caption("cartwheel", None, rng)


def test_varied_vocabulary_stays_out_of_the_paraphrase_set() -> None:
    """The evaluation's paraphrases use no multi-word phrase the training vocabulary can produce."""
    from motiongpt.data.captions import CONTENT_SYNONYMS, verb_forms
    from motiongpt.eval.action import load_prompts

    phrases = {form for ps in CONTENT_SYNONYMS.values() for p in ps if " " in p for form in verb_forms(p)}
    for texts in load_prompts().values():
        for text in texts:
            assert not [p for p in phrases if p in text], text
