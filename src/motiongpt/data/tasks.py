"""The task registry: every task the language model trains on, in one place (``TASKS``).

A task is a way to turn corpus data into a (prompt, answer) example. Its :class:`TaskSpec` says what it
draws from (``pool``), which ``TaskBuilder`` method builds it (``motiongpt.lm.tasks``), what its answer
is, and whether it has instruction templates (``data/instructions/*.yaml``), is caption-guided or is
prompted at inference (``MotionGPT.prompt``). Everything else reads this table: the templates a set must
define (:data:`motiongpt.data.instructions.REQUIRED_TASKS`), the task builder's pools and dispatch, the
mixture check of ``LMTrainConfig`` and the pipeline's prompt tasks. Mixtures (ratios) live only in the
training YAML files (``configs/lm/*.yaml``).

Adding a task: a template block in the YAML (when ``templated``), a row here, and its builder method.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

#: What a pool holds: clip indices, texts (CMU descriptions / captions) or pairs of clip indices.
PoolItem = Literal["clip", "text", "pair"]
AnswerKind = Literal["motion", "text", "lm"]

#: The pools a task draws from (filled by ``TaskBuilder`` from its clips and texts) and their items.
POOLS: dict[str, PoolItem] = {
    "captioned": "clip",  # clips with at least one caption
    "motion": "clip",  # every clip
    "pred": "clip",  # clips of >= 2 tokens
    "inbetween": "clip",  # clips of >= 3 tokens
    "t2t_rephrase": "clip",  # clips with >= 2 distinct captions
    "steps": "text",  # descriptions listing >= 2 actions
    "lm_text": "text",  # descriptions and real (not templated) captions
    "edit_style": "pair",  # same content, other style
    "edit_faster": "pair",  # same style, the next faster gait
    "edit_slower": "pair",  # same style, the next slower gait
    "edit_other_side": "pair",  # same style, the mirrored action
}


@dataclass(frozen=True)
class TaskSpec:
    """One task.

    Attributes:
        name: the task name (the template block's key).
        pool: what it draws from, a key of :data:`POOLS`.
        builder: the ``TaskBuilder`` method that builds an example (``motiongpt.lm.tasks``); it takes
            ``(clip, rng)``, ``(text, rng)`` or ``(task, clip_a, clip_b, rng)`` by the pool's items.
        answer: ``"motion"`` / ``"text"`` (a chat turn; equal to the template's ``answer_kind``) or
            ``"lm"`` (raw language-model data, no template).
        guided: caption-conditioned text -> motion whose caption classifier-free guidance drops.
        prompted: ``MotionGPT.prompt`` asks for it at inference.
    """

    name: str
    pool: str
    builder: str
    answer: AnswerKind
    guided: bool = False
    prompted: bool = False

    def __post_init__(self) -> None:
        if self.pool not in POOLS:
            raise ValueError(f"task {self.name!r}: pool must be one of {sorted(POOLS)}, got {self.pool!r}")

    @property
    def templated(self) -> bool:
        """It has instruction templates (every task but the raw language-model data)."""
        return self.answer != "lm"

    @property
    def pool_item(self) -> PoolItem:
        return POOLS[self.pool]


def _spec(name: str, pool: str, answer: AnswerKind, builder: str = "", **flags: bool) -> TaskSpec:
    return TaskSpec(name, pool, builder or f"_{name}", answer, **flags)


#: Every task, by name, in a fixed order.
TASKS: dict[str, TaskSpec] = {
    s.name: s
    for s in (
        _spec("t2m", "captioned", "motion", guided=True, prompted=True),
        _spec("t2m_frames", "captioned", "motion", guided=True),
        _spec("t2m_seconds", "captioned", "motion", guided=True, prompted=True),
        _spec("t2m_random", "motion", "motion", prompted=True),
        _spec("m2t", "captioned", "text", prompted=True),
        _spec("m2t_seconds", "motion", "text"),
        _spec("m2t_frames", "motion", "text"),
        _spec("m2t_words", "captioned", "text"),
        _spec("t2t_rephrase", "t2t_rephrase", "text"),
        _spec("t2t_steps", "steps", "text"),
        _spec("t2t_count", "steps", "text"),
        _spec("pred", "pred", "motion", prompted=True),
        _spec("inbetween", "inbetween", "motion", prompted=True),
        _spec("edit_style", "edit_style", "motion", "_edit"),
        _spec("edit_faster", "edit_faster", "motion", "_edit"),
        _spec("edit_slower", "edit_slower", "motion", "_edit"),
        _spec("edit_other_side", "edit_other_side", "motion", "_edit"),
        _spec("chat_describe", "captioned", "text"),
        _spec("chat_greet", "captioned", "text"),
        _spec("chat_new_request", "captioned", "motion"),
        _spec("motion_lm", "motion", "lm"),
        _spec("text_lm", "lm_text", "lm"),
    )
}

#: The task whose first prompt is the unconditional prompt of guidance, in training and at inference.
UNCONDITIONAL_TASK = "t2m_random"


def task_names(**flags: bool) -> tuple[str, ...]:
    """Task names whose spec has every given attribute value, e.g. ``task_names(prompted=True)``."""
    return tuple(n for n, s in TASKS.items() if all(getattr(s, k) == v for k, v in flags.items()))


__all__ = ["POOLS", "TASKS", "UNCONDITIONAL_TASK", "TaskSpec", "task_names"]
