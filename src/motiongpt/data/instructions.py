"""Instruction templates as data: ``load_instructions()`` reads ``data/instructions/*.yaml``.

Each YAML file maps task names to a template block::

    t2m_seconds:
      answer_kind: motion                 # "motion" or "text": what the answer is
      prompt_placeholders: [Caption, Second]
      answer_placeholders: [Motion]
      prompts: ["Show me <Second_Placeholder> seconds of this: <Caption_Placeholder>", ...]
      answers: ["<Motion_Placeholder>", ...]

Every prompt must contain exactly the declared prompt placeholders (each at least once, no others); every
answer must contain the declared answer placeholders and may also use the prompt's. The first prompt and
answer of a task are its canonical form (stage-2 pretraining uses them). The reserved key
``style_phrases`` maps a style label to phrases for ``<Style_Placeholder>``.

Filling is plain string substitution: ``template.fill(prompt, {"Caption": "a man walks"})``. The task
builders in ``motiongpt.lm.tasks`` choose what goes in.
"""

from __future__ import annotations

import os
import random
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml

from motiongpt.data.tasks import TASKS, task_names
from motiongpt.errors import ConfigError

AnswerKind = Literal["motion", "text"]

#: Every task the library builds examples for from templates (the registry's templated tasks); a
#: template set must define all of them.
REQUIRED_TASKS = task_names(templated=True)

#: Placeholder names (``<Name_Placeholder>`` in the text) and what fills them.
PLACEHOLDERS = {
    "Caption": "a caption of the target motion",
    "Motion": "a motion as <som><motion_id_i>...<eom>",
    "Frame": "a length in frames at 20 fps",
    "Second": "a length in seconds",
    "Word": "the number of words of the answer caption",
    "Text": "a source description (caption or CMU trial description)",
    "Steps": "a numbered list of actions",
    "Count": "a number of actions",
    "Style": "a phrase naming a motion style",
}

_PATTERN = re.compile(r"<([A-Za-z]+)_Placeholder>")
_RESERVED = ("style_phrases",)
DEFAULT_DIR = Path(__file__).resolve().parent / "instructions"


def placeholders_in(text: str) -> set[str]:
    """Placeholder names used in ``text``, e.g. ``{"Caption", "Second"}``."""
    return set(_PATTERN.findall(text))


def fill(template: str, values: Mapping[str, str]) -> str:
    """Replace every ``<Name_Placeholder>`` in ``template`` with ``values[Name]``.

    Raises:
        KeyError: ``template`` uses a placeholder that ``values`` lacks (a bug in the caller).
    """

    def sub(m: re.Match[str]) -> str:
        name = m.group(1)
        if name not in values:
            raise KeyError(f"no value for <{name}_Placeholder> in template {template!r}")
        return str(values[name])

    return _PATTERN.sub(sub, template)


@dataclass(frozen=True)
class TaskTemplates:
    """The prompts and answers of one task.

    Attributes:
        name: task name, e.g. ``"t2m_seconds"``.
        answer_kind: ``"motion"`` or ``"text"``.
        prompt_placeholders: names every prompt contains.
        answer_placeholders: names every answer contains.
        prompts: prompt templates; ``prompts[0]`` is the canonical one.
        answers: answer templates; ``answers[0]`` is the canonical one.
    """

    name: str
    answer_kind: AnswerKind
    prompt_placeholders: frozenset[str]
    answer_placeholders: frozenset[str]
    prompts: tuple[str, ...]
    answers: tuple[str, ...]

    def sample(self, rng: random.Random | None, canonical: bool = False) -> tuple[str, str]:
        """A (prompt, answer) template pair: the canonical one, or a random one drawn with ``rng``.

        Random answers are the canonical answer half of the time (for motion tasks that is the bare
        motion, which is what generation with a forced ``<som>`` produces) and any answer otherwise.
        """
        if canonical or rng is None:
            return self.prompts[0], self.answers[0]
        prompt = rng.choice(self.prompts)
        answer = self.answers[0] if rng.random() < 0.5 else rng.choice(self.answers)
        return prompt, answer


@dataclass(frozen=True)
class InstructionSet:
    """All task templates plus the style phrases.

    Attributes:
        tasks: task name -> ``TaskTemplates``.
        style_phrases: style label -> phrases for ``<Style_Placeholder>``.
    """

    tasks: Mapping[str, TaskTemplates]
    style_phrases: Mapping[str, tuple[str, ...]]

    def __getitem__(self, task: str) -> TaskTemplates:
        if task not in self.tasks:
            raise KeyError(f"unknown task {task!r}; known: {sorted(self.tasks)}")
        return self.tasks[task]

    def style_phrase(self, style: str, rng: random.Random | None = None) -> str:
        """A phrase for ``style`` (the label with dashes as spaces when none is listed)."""
        phrases = self.style_phrases.get(style)
        if not phrases:
            return "in a " + style.replace("-", " ") + " way"
        return phrases[0] if rng is None else rng.choice(phrases)


def _check_task(name: str, block: object, where: str) -> TaskTemplates:
    def err(msg: str) -> ConfigError:
        return ConfigError(f"{where}: task {name!r}: {msg}")

    if not isinstance(block, dict):
        raise err(f"expected a mapping, got {type(block).__name__}")
    keys = {"answer_kind", "prompt_placeholders", "answer_placeholders", "prompts", "answers"}
    missing, unknown = keys - set(block), set(block) - keys
    if missing or unknown:
        raise err(f"missing keys {sorted(missing)}, unknown keys {sorted(unknown)}; expected {sorted(keys)}")
    if block["answer_kind"] not in ("motion", "text"):
        raise err(f"answer_kind must be 'motion' or 'text', got {block['answer_kind']!r}")
    declared: dict[str, frozenset[str]] = {}
    for key in ("prompt_placeholders", "answer_placeholders"):
        names = block[key] or []
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise err(f"{key} must be a list of names, got {names!r}")
        bad = sorted(set(names) - set(PLACEHOLDERS))
        if bad:
            raise err(f"{key} has unknown placeholder names {bad}; known: {sorted(PLACEHOLDERS)}")
        declared[key] = frozenset(names)
    texts: dict[str, tuple[str, ...]] = {}
    for key in ("prompts", "answers"):
        items = block[key]
        if not isinstance(items, list) or not items or not all(isinstance(t, str) and t for t in items):
            raise err(f"{key} must be a non-empty list of non-empty strings")
        if len(set(items)) != len(items):
            dup = sorted({t for t in items if items.count(t) > 1})
            raise err(f"{key} has duplicates: {dup}")
        texts[key] = tuple(items)
    want_p = declared["prompt_placeholders"]
    for text in texts["prompts"]:
        used = placeholders_in(text)
        if used != want_p:
            raise err(
                f"prompt {text!r} uses placeholders {sorted(used)}, but prompt_placeholders declares "
                f"{sorted(want_p)} (every prompt must use exactly these)"
            )
    want_a = declared["answer_placeholders"]
    for text in texts["answers"]:
        used = placeholders_in(text)
        if not want_a <= used or not used <= want_a | want_p:
            raise err(
                f"answer {text!r} uses placeholders {sorted(used)}; it must contain {sorted(want_a)} "
                f"and may add only prompt placeholders {sorted(want_p)}"
            )
    return TaskTemplates(name, block["answer_kind"], want_p, want_a, texts["prompts"], texts["answers"])


def load_instructions(
    source: str | os.PathLike | None = None, required: tuple[str, ...] = REQUIRED_TASKS
) -> InstructionSet:
    """Load and validate the templates in a folder of YAML files (default: the packaged set).

    Args:
        source: a folder of ``*.yaml`` files, or one ``.yaml`` file; ``None`` = ``data/instructions/``.
        required: task names that must be present.

    Raises:
        ConfigError: a file is not valid YAML, a task is defined twice or missing, or a task's
            placeholders are inconsistent; the message names the file and task.
    """
    path = Path(source) if source is not None else DEFAULT_DIR
    if path.is_dir():
        files = sorted(path.glob("*.yaml"))
    elif path.is_file():
        files = [path]
    else:
        raise ConfigError(f"instruction templates not found: {path}")
    if not files:
        raise ConfigError(f"no *.yaml instruction files in {path}")
    tasks: dict[str, TaskTemplates] = {}
    styles: dict[str, tuple[str, ...]] = {}
    for file in files:
        try:
            data = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as e:
            raise ConfigError(f"{file}: invalid YAML: {e}") from None
        if not isinstance(data, dict):
            raise ConfigError(f"{file}: expected a mapping of task names, got {type(data).__name__}")
        for name, block in data.items():
            if name == "style_phrases":
                if not isinstance(block, dict) or not all(
                    isinstance(v, list) and v and all(isinstance(p, str) for p in v) for v in block.values()
                ):
                    raise ConfigError(f"{file}: style_phrases must map a style to a list of phrases")
                styles.update({str(k): tuple(v) for k, v in block.items()})
                continue
            if name in tasks:
                raise ConfigError(f"{file}: task {name!r} is defined twice")
            tasks[name] = _check_task(name, block, str(file))
            spec = TASKS.get(name)
            if spec is not None and tasks[name].answer_kind != spec.answer:
                raise ConfigError(f"{file}: task {name!r}: answer_kind must be {spec.answer!r} (the task "
                                  f"registry, motiongpt.data.tasks), got {tasks[name].answer_kind!r}")
    missing = [t for t in required if t not in tasks]
    if missing:
        raise ConfigError(f"instruction templates in {path} lack tasks {missing}; found {sorted(tasks)}")
    return InstructionSet(tasks, styles)


__all__ = [
    "REQUIRED_TASKS", "InstructionSet", "TaskTemplates", "fill", "load_instructions", "placeholders_in",
]  # fmt: skip
