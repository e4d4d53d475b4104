"""Instruction templates: the packaged YAML loads, validates and fills; bad files fail clearly."""

from __future__ import annotations

import random

import pytest

from motiongpt.data.instructions import REQUIRED_TASKS, fill, load_instructions, placeholders_in
from motiongpt.errors import ConfigError


def test_packaged_templates_load_with_every_task():
    ins = load_instructions()
    assert set(REQUIRED_TASKS) <= set(ins.tasks)
    for name in ("t2m", "m2t", "t2m_seconds", "pred", "inbetween", "edit_style"):
        assert len(ins[name].prompts) >= 20, name  # many paraphrases per main task
    for task in ins.tasks.values():
        for p in task.prompts:
            assert placeholders_in(p) == task.prompt_placeholders
        for a in task.answers:
            assert (
                task.answer_placeholders
                <= placeholders_in(a)
                <= task.answer_placeholders | task.prompt_placeholders
            )
    assert ins["t2m"].answer_kind == "motion" and ins["m2t"].answer_kind == "text"
    assert ins.style_phrase("tired") in ins.style_phrases["tired"]
    assert ins.style_phrase("not-in-list") == "in a not in list way"


def test_fill_and_sample():
    ins = load_instructions()
    rng = random.Random(0)
    p, a = ins["t2m_seconds"].sample(rng)
    text = fill(p, {"Caption": "a man waves", "Second": "3.2"})
    assert "a man waves" in text and "3.2" in text and "Placeholder" not in text
    assert ins["t2m"].sample(rng, canonical=True) == ("<Caption_Placeholder>", "<Motion_Placeholder>")
    with pytest.raises(KeyError, match="Caption"):
        fill("<Caption_Placeholder>", {})


def _write(tmp_path, text):
    (tmp_path / "t.yaml").write_text(text, encoding="utf-8")
    return tmp_path


GOOD = """
t2m:
  answer_kind: motion
  prompt_placeholders: [Caption]
  answer_placeholders: [Motion]
  prompts: ["Do <Caption_Placeholder>"]
  answers: ["<Motion_Placeholder>"]
"""


def test_validation_errors_name_the_problem(tmp_path):
    assert "t2m" in load_instructions(_write(tmp_path, GOOD), required=("t2m",)).tasks
    with pytest.raises(ConfigError, match=r"lack tasks \['m2t'\]"):
        load_instructions(_write(tmp_path, GOOD), required=("t2m", "m2t"))
    bad_prompt = GOOD.replace("Do <Caption_Placeholder>", "Do it")
    with pytest.raises(ConfigError, match=r"task 't2m': prompt 'Do it' uses placeholders \[\]"):
        load_instructions(_write(tmp_path, bad_prompt), required=("t2m",))
    bad_answer = GOOD.replace('answers: ["<Motion_Placeholder>"]', 'answers: ["<Second_Placeholder>"]')
    with pytest.raises(ConfigError, match="must contain"):
        load_instructions(_write(tmp_path, bad_answer), required=("t2m",))
    unknown = GOOD.replace("[Caption]", "[Captoin]")
    with pytest.raises(ConfigError, match="unknown placeholder names"):
        load_instructions(_write(tmp_path, unknown), required=("t2m",))
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_instructions(_write(tmp_path, "t2m: [unclosed"), required=())
    with pytest.raises(ConfigError, match="not found"):
        load_instructions(tmp_path / "nope")


def test_template_answer_kind_must_match_the_task_registry(tmp_path):
    from motiongpt.data.tasks import TASKS

    ins = load_instructions()
    for name in REQUIRED_TASKS:
        assert ins[name].answer_kind == TASKS[name].answer, name
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "m2t:\n  answer_kind: motion\n  prompt_placeholders: [Motion]\n  answer_placeholders: [Motion]\n"
        "  prompts: ['<Motion_Placeholder>']\n  answers: ['<Motion_Placeholder>']\n"
    )
    with pytest.raises(ConfigError, match="'m2t': answer_kind must be 'text'"):
        load_instructions(bad, required=())
