"""Training examples for the language model: clips + motion tokens + captions -> (prompt, answer) pairs.

A task builder turns one ``TokenClip`` (or a text, or a pair of clips) into an ``Example``: a prompt and
its answer, as strings in which motions are written ``<som><motion_id_3>...<eom>`` by ``MotionVocab``.
Templates come from ``motiongpt.data.instructions`` (YAML data); the builders only fill placeholders.
The tasks are registered in ``motiongpt.data.tasks.TASKS`` (pool, builder method, answer kind); the
clips are read by ``motiongpt.data.humanml3d.read_token_clips``.

Tasks (names as in the templates):

- ``t2m``, ``t2m_frames``, ``t2m_seconds``, ``t2m_random``: caption (and length) -> motion. The length in
  the prompt is the target's: ``4 N`` frames, ``0.2 N`` seconds for ``N`` tokens at 20 fps.
- ``m2t``, ``m2t_seconds``, ``m2t_frames``, ``m2t_words``: motion -> caption, duration, frame count, or
  a caption of a given number of words (the count of the caption given as answer).
- ``t2t_rephrase`` (one caption -> another caption of the same clip), ``t2t_steps`` / ``t2t_count`` (a
  CMU description -> its actions as a numbered list / their number).
- ``pred``: the first 20% of the tokens -> the remaining 80%.
- ``inbetween``: the motion with its middle 50% replaced by ``<motion_mask>`` -> the middle.
- ``edit_style``, ``edit_faster``, ``edit_slower``, ``edit_other_side``: two-turn conversations over a
  pair of Bandai Namco clips: turn 1 generates clip A from its caption, turn 2 edits it into clip B (same
  content and another style; the same style and a faster / slower gait: walk -> run -> dash; the same
  style and the mirrored action: wave-left-hand -> wave-right-hand).
- ``chat_describe`` (after a t2m turn, "describe it" -> the caption) and ``chat_greet`` (a greeting,
  alone or after a motion turn -> a short text reply): chat turns that must be answered in words;
  ``chat_new_request`` (after a t2m turn, a new request -> its motion, not an edit of the first).
- ``motion_lm``, ``text_lm`` (stage-2 unsupervised data): a motion token sequence or a text, either
  whole (next-token prediction; decoder-only models) or span-corrupted with sentinel tokens (T5).

``TaskSampler`` draws examples from these sources by ratio; item ``i`` depends only on ``(seed, i)``, so
a run resumed at step ``s`` sees the same examples as an uninterrupted one.
"""

from __future__ import annotations

import itertools
import logging
import os
import random
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from motiongpt.data.captions import CONTENT_SYNONYMS, mirror_label, split_description, varied_caption
from motiongpt.data.humanml3d import TokenClip
from motiongpt.data.instructions import InstructionSet, fill
from motiongpt.data.tasks import POOLS, TASKS, UNCONDITIONAL_TASK, task_names
from motiongpt.errors import ConfigError
from motiongpt.lm.vocab import MotionVocab
from motiongpt.motion.skeleton import FPS
from motiongpt.tokenizer.config import DEFAULT_FRAMES_PER_TOKEN as FRAMES_PER_TOKEN

log = logging.getLogger(__name__)

PRED_GIVEN = 0.2  # prediction sees the first 20% of the tokens
INBETWEEN_GIVEN = 0.25  # in-between sees the first and the last 25%
SPEED_ORDER = ("walk", "run", "dash")  # Bandai Namco contents, slowest first

Kind = Literal["motion", "text", "lm"]
PAIR_TASKS = task_names(pool_item="pair")
#: Caption-conditioned tasks whose caption classifier-free guidance drops (``TaskSampler.uncond_rate``).
GUIDED_TASKS = task_names(guided=True)


def unconditional_prompt(templates: InstructionSet) -> str:
    """The prompt without a caption that guidance contrasts with (the first ``t2m_random`` prompt)."""
    return templates[UNCONDITIONAL_TASK].prompts[0]


@dataclass(frozen=True)
class Example:
    """One training example.

    Attributes:
        task: the task name.
        prompt: the user's last message (empty for ``kind="lm"`` next-token examples).
        answer: what the model must produce.
        kind: ``"motion"`` or ``"text"`` answers are chat turns; ``"lm"`` is raw language-model data
            (no chat template; for decoder-only models the loss covers the whole text).
        history: earlier ``(prompt, answer)`` turns of a conversation, oldest first.
        references: every acceptable text answer (all captions of the clip), for caption metrics.
    """

    task: str
    prompt: str
    answer: str
    kind: Kind = "text"
    history: tuple[tuple[str, str], ...] = ()
    references: tuple[str, ...] = ()


def seconds_text(n_tokens: int, frames_per_token: int = FRAMES_PER_TOKEN) -> str:
    """``N`` tokens as seconds at 20 fps (the ``<Second_Placeholder>`` text of training and inference),
    e.g. ``16 -> "3.2"``."""
    return f"{n_tokens * frames_per_token / FPS:.1f}"


def frames_text(n_tokens: int, frames_per_token: int = FRAMES_PER_TOKEN) -> str:
    """``N`` tokens as frames (the ``<Frame_Placeholder>`` text), e.g. ``16 -> "64"``."""
    return str(n_tokens * frames_per_token)


def pred_split(n_tokens: int) -> int:
    """Tokens given to prediction: the first 20% (at least 1, leaving at least 1 to predict)."""
    return min(max(1, int(n_tokens * PRED_GIVEN)), n_tokens - 1)


def inbetween_span(n_tokens: int) -> tuple[int, int]:
    """``(start, end)`` of the masked middle: tokens ``[start, end)``; the first and last 25% stay."""
    head = max(1, int(n_tokens * INBETWEEN_GIVEN))
    return head, max(head + 1, n_tokens - head)


def inbetween_gap(n_given: int) -> int:
    """Tokens of the masked middle for ``n_given`` given ones (head + tail) at the training ratio (the
    first and last ``INBETWEEN_GIVEN`` given: at 25% each, a middle as long as both together)."""
    return round(n_given * (1 - 2 * INBETWEEN_GIVEN) / (2 * INBETWEEN_GIVEN))


def inbetween_text(vocab: MotionVocab, head: np.ndarray, tail: np.ndarray, n_mask: int) -> str:
    """The in-between motion text of training and inference: ``<som>`` head ``<motion_mask>`` x
    ``n_mask`` tail ``<eom>``."""
    start = vocab.motion_to_text(head)[: -len(vocab.eom_token)]
    end = vocab.motion_to_text(tail)[len(vocab.som_token) :]
    return start + vocab.mask_token * n_mask + end


def masked_motion_text(vocab: MotionVocab, tokens: np.ndarray, start: int, end: int) -> str:
    """``tokens`` with ``[start, end)`` masked: ``<som>`` head, ``end - start`` masks, tail ``<eom>``."""
    return inbetween_text(vocab, tokens[:start], tokens[end:], end - start)


def action_steps(description: str) -> list[str]:
    """The actions a CMU description lists, in order (``"playground - climb, hang"`` -> climb, hang)."""
    return split_description(description)[1]


def span_corrupt(
    units: Sequence[str],
    sentinels: Sequence[str],
    rng: random.Random,
    noise: float = 0.15,
    mean_span: float = 3.0,
) -> tuple[str, str]:
    """T5-style span corruption of a unit sequence (motion tokens, or words joined by spaces).

    Returns ``(corrupted input, target)``: each dropped span is replaced by the next sentinel in the input,
    and the target lists ``sentinel span`` pairs followed by a closing sentinel.
    """
    n = len(units)
    n_noise = max(1, round(n * noise))
    n_spans = max(1, min(len(sentinels) - 1, round(n_noise / mean_span), n_noise))
    starts = sorted(rng.sample(range(n), n_spans)) if n_spans <= n else list(range(n))
    span_len = max(1, n_noise // n_spans)
    drop: list[tuple[int, int]] = []
    for s in starts:
        e = min(n, s + span_len)
        if drop and s < drop[-1][1]:
            continue
        drop.append((s, e))
    joiner = "" if units and units[0].startswith("<") else " "
    src, tgt, pos = [], [], 0
    for k, (s, e) in enumerate(drop):
        src += list(units[pos:s]) + [sentinels[k]]
        tgt += [sentinels[k]] + list(units[s:e])
        pos = e
    src += list(units[pos:])
    tgt.append(sentinels[len(drop)])
    return joiner.join(src), joiner.join(tgt)


# --- builders -----------------------------------------------------------------------------------------


@dataclass
class TaskBuilder:
    """Builds ``Example`` s of every task from clips and texts.

    Args:
        templates: the instruction set.
        vocab: motion token strings.
        clips: the clips of one split.
        texts: extra motion descriptions (CMU) for ``t2t_steps``, ``t2t_count`` and ``text_lm``.
        canonical: always use each task's first prompt and answer (stage 2) instead of random ones.
        sentinels: span-corruption sentinel strings (``<extra_id_0>``...); empty = next-token examples.
        caption_variety: share of text->motion prompts of labelled (Bandai Namco) clips whose caption is
            drawn afresh in wider wording (:func:`motiongpt.data.captions.varied_caption`) instead of
            from the clip's templated captions.
        frames_per_token: the motion tokenizer's downsampling (the token file records it): the frame and
            second counts the prompts and answers state.
        action_balance: ``a`` in [0, 1]: clips of the ``captioned`` pool are drawn with weight
            ``n ** -a``, ``n`` the number of clips with the same content label (unlabelled clips form one
            group), so an action's share goes from ``n`` (0, uniform) towards equal shares (1).
    """

    templates: InstructionSet
    vocab: MotionVocab
    clips: Sequence[TokenClip]
    texts: Sequence[str] = ()
    canonical: bool = False
    sentinels: Sequence[str] = ()
    caption_variety: float = 0.0
    frames_per_token: int = FRAMES_PER_TOKEN
    action_balance: float = 0.0
    _eligible: dict[str, list] = field(default_factory=dict, init=False, repr=False)
    _cum_weights: dict[str, list[float]] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        clips = list(range(len(self.clips)))
        min2 = [i for i in clips if self.clips[i].n_tokens >= 2]
        min3 = [i for i in clips if self.clips[i].n_tokens >= 3]
        rephrase = [i for i in clips if len(set(self.clips[i].captions)) >= 2]
        captions = sorted({c for clip in self.clips for c in clip.captions if not clip.templated})
        self._eligible = {
            "captioned": [i for i in clips if self.clips[i].captions],
            "motion": clips,
            "pred": min2,
            "inbetween": min3,
            "t2t_rephrase": rephrase,
            "steps": [t for t in self.texts if len(action_steps(t)) >= 2],
            "lm_text": list(self.texts) + captions,
            "edit_style": _style_pairs(self.clips),
            "edit_faster": _speed_pairs(self.clips, faster=True),
            "edit_slower": _speed_pairs(self.clips, faster=False),
            "edit_other_side": _side_pairs(self.clips),
        }
        assert set(self._eligible) == set(POOLS), "every pool of the task registry is filled"
        if self.action_balance:
            group_size = Counter(c.content for c in self.clips)
            captioned = self._eligible["captioned"]
            weights = [group_size[self.clips[i].content] ** -self.action_balance for i in captioned]
            self._cum_weights["captioned"] = list(itertools.accumulate(weights))

    # what each task draws from (``spec.pool``) and which method builds it (``spec.builder``): the
    # task registry, motiongpt.data.tasks.TASKS
    @property
    def tasks(self) -> tuple[str, ...]:
        return tuple(TASKS)

    def available(self, task: str) -> int:
        """How many distinct items ``task`` draws from (0: it cannot be built from this data)."""
        if task not in TASKS:
            raise ValueError(f"unknown task {task!r}; known: {list(TASKS)}")
        return len(self._eligible[TASKS[task].pool])

    def sample(self, task: str, rng: random.Random) -> Example:
        """A random example of ``task`` (raises ValueError if the data has none)."""
        if not self.available(task):
            raise ValueError(f"task {task!r} has no data here")
        spec = TASKS[task]
        pool = self._eligible[spec.pool]
        cum = self._cum_weights.get(spec.pool)
        item = rng.choices(pool, cum_weights=cum)[0] if cum else rng.choice(pool)
        build = getattr(self, spec.builder)
        if spec.pool_item == "text":
            return build(item, rng)
        if spec.pool_item == "pair":
            a, b = item
            return build(task, self.clips[a], self.clips[b], rng)
        return build(self.clips[item], rng)

    def build(self, task: str, clip: TokenClip, rng: random.Random) -> Example:
        """An example of a single-clip task from a given clip."""
        if task not in TASKS:
            raise ValueError(f"unknown task {task!r}; known: {list(TASKS)}")
        if TASKS[task].pool_item != "clip":
            raise ValueError(f"task {task!r} is not built from one clip")
        return getattr(self, TASKS[task].builder)(clip, rng)

    # helpers
    def _pair(self, task: str, rng: random.Random, values: dict[str, str]) -> tuple[str, str]:
        prompt, answer = self.templates[task].sample(rng, self.canonical)
        return fill(prompt, values), fill(answer, values)

    def _caption(self, clip: TokenClip, rng: random.Random) -> str:
        """A caption for a prompt about ``clip``: one of its own, or (``caption_variety``) a varied one."""
        if clip.content in CONTENT_SYNONYMS and self.caption_variety and rng.random() < self.caption_variety:
            return varied_caption(clip.content, clip.style, np.random.default_rng(rng.getrandbits(64)))
        return rng.choice(clip.captions)

    def _motion(self, tokens: np.ndarray) -> str:
        return self.vocab.motion_to_text(tokens)

    def _ex(
        self, task: str, clip: TokenClip | None, rng: random.Random, values: dict[str, str], **kw
    ) -> Example:
        prompt, answer = self._pair(task, rng, values)
        kind = self.templates[task].answer_kind
        refs = clip.captions if (clip is not None and kind == "text" and "Caption" in values) else ()
        return Example(task, prompt, answer, kind, references=tuple(refs), **kw)

    # text -> motion
    def _t2m(self, clip: TokenClip, rng: random.Random) -> Example:
        return self._ex(
            "t2m", clip, rng, {"Caption": self._caption(clip, rng), "Motion": self._motion(clip.tokens)}
        )

    def _t2m_frames(self, clip: TokenClip, rng: random.Random) -> Example:
        v = {"Caption": self._caption(clip, rng), "Motion": self._motion(clip.tokens),
             "Frame": frames_text(clip.n_tokens, self.frames_per_token)}  # fmt: skip
        return self._ex("t2m_frames", clip, rng, v)

    def _t2m_seconds(self, clip: TokenClip, rng: random.Random) -> Example:
        v = {"Caption": self._caption(clip, rng), "Motion": self._motion(clip.tokens),
             "Second": seconds_text(clip.n_tokens, self.frames_per_token)}  # fmt: skip
        return self._ex("t2m_seconds", clip, rng, v)

    def _t2m_random(self, clip: TokenClip, rng: random.Random) -> Example:
        return self._ex("t2m_random", clip, rng, {"Motion": self._motion(clip.tokens)})

    # motion -> text
    def _m2t(self, clip: TokenClip, rng: random.Random) -> Example:
        return self._ex(
            "m2t", clip, rng, {"Caption": rng.choice(clip.captions), "Motion": self._motion(clip.tokens)}
        )

    def _m2t_seconds(self, clip: TokenClip, rng: random.Random) -> Example:
        fpt = self.frames_per_token
        v = {"Motion": self._motion(clip.tokens), "Second": seconds_text(clip.n_tokens, fpt)}
        return self._ex("m2t_seconds", clip, rng, v)

    def _m2t_frames(self, clip: TokenClip, rng: random.Random) -> Example:
        v = {"Motion": self._motion(clip.tokens), "Frame": frames_text(clip.n_tokens, self.frames_per_token)}
        return self._ex("m2t_frames", clip, rng, v)

    def _m2t_words(self, clip: TokenClip, rng: random.Random) -> Example:
        caption = rng.choice(clip.captions)
        v = {"Motion": self._motion(clip.tokens), "Caption": caption, "Word": str(len(caption.split()))}
        return self._ex("m2t_words", clip, rng, v)

    # text -> text
    def _t2t_rephrase(self, clip: TokenClip, rng: random.Random) -> Example:
        a, b = rng.sample(sorted(set(clip.captions)), 2)
        return self._ex("t2t_rephrase", clip, rng, {"Text": a, "Caption": b})

    def _t2t_steps(self, text: str, rng: random.Random) -> Example:
        steps = "\n".join(f"{i}. {s}" for i, s in enumerate(action_steps(text), 1))
        return self._ex("t2t_steps", None, rng, {"Text": text, "Steps": steps})

    def _t2t_count(self, text: str, rng: random.Random) -> Example:
        return self._ex("t2t_count", None, rng, {"Text": text, "Count": str(len(action_steps(text)))})

    # motion -> motion
    def _pred(self, clip: TokenClip, rng: random.Random) -> Example:
        k = pred_split(clip.n_tokens)
        prompt, answer = self.templates["pred"].sample(rng, self.canonical)
        given, rest = self._motion(clip.tokens[:k]), self._motion(clip.tokens[k:])
        return Example("pred", fill(prompt, {"Motion": given}), fill(answer, {"Motion": rest}), "motion")

    def _inbetween(self, clip: TokenClip, rng: random.Random) -> Example:
        s, e = inbetween_span(clip.n_tokens)
        prompt, answer = self.templates["inbetween"].sample(rng, self.canonical)
        given = masked_motion_text(self.vocab, clip.tokens, s, e)
        return Example("inbetween", fill(prompt, {"Motion": given}),
                       fill(answer, {"Motion": self._motion(clip.tokens[s:e])}), "motion")  # fmt: skip

    # multi-turn editing
    def _edit(self, task: str, a: TokenClip, b: TokenClip, rng: random.Random) -> Example:
        first = self._t2m(a, rng)
        prompt, answer = self.templates[task].sample(rng, self.canonical)
        values = {"Motion": self._motion(b.tokens)}
        if task == "edit_style":
            values["Style"] = self.templates.style_phrase(
                b.style or "normal", None if self.canonical else rng
            )
        return Example(task, fill(prompt, values), fill(answer, values), "motion",
                       history=((first.prompt, first.answer),))  # fmt: skip

    # chat turns answered in words
    def _chat_describe(self, clip: TokenClip, rng: random.Random) -> Example:
        first = self._t2m(clip, rng)
        return self._ex("chat_describe", clip, rng, {"Caption": rng.choice(clip.captions)},
                        history=((first.prompt, first.answer),))  # fmt: skip

    def _chat_greet(self, clip: TokenClip, rng: random.Random) -> Example:
        """A greeting, alone or after a motion turn (the clip only fills that earlier turn)."""
        first = self._t2m(clip, rng)
        history = ((first.prompt, first.answer),) if rng.random() < 0.3 else ()
        return self._ex("chat_greet", None, rng, {}, history=history)

    def _chat_new_request(self, clip: TokenClip, rng: random.Random) -> Example:
        """After a motion turn about another clip, a new request ("Now a person kicks.") -> its motion."""
        first = self._t2m(self.clips[rng.choice(self._eligible["captioned"])], rng)
        values = {"Caption": self._caption(clip, rng), "Motion": self._motion(clip.tokens)}
        return self._ex("chat_new_request", clip, rng, values, history=((first.prompt, first.answer),))

    # unsupervised data
    def _motion_lm(self, clip: TokenClip, rng: random.Random) -> Example:
        if self.sentinels:
            units = [f"<motion_id_{int(i)}>" for i in clip.tokens]
            src, tgt = span_corrupt(units, self.sentinels, rng)
            return Example("motion_lm", self.vocab.som_token + src + self.vocab.eom_token, tgt, "lm")
        return Example("motion_lm", "", self._motion(clip.tokens), "lm")

    def _text_lm(self, text: str, rng: random.Random) -> Example:
        if self.sentinels and len(text.split()) >= 2:
            src, tgt = span_corrupt(text.split(), self.sentinels, rng)
            return Example("text_lm", src, tgt, "lm")
        return Example("text_lm", "", text, "lm")


def _style_pairs(clips: Sequence[TokenClip]) -> list[tuple[int, int]]:
    """Index pairs (a, b): same source and content, different style."""
    groups: dict[tuple, list[int]] = {}
    for i, c in enumerate(clips):
        if c.content and c.style:
            groups.setdefault((c.source, c.content), []).append(i)
    return [(a, b) for ids in groups.values() for a in ids for b in ids if clips[a].style != clips[b].style]


def _side_pairs(clips: Sequence[TokenClip]) -> list[tuple[int, int]]:
    """Index pairs (a, b): same source and style, b's action a's mirrored (wave-left-hand -> -right-)."""
    by: dict[tuple, list[int]] = {}
    for i, c in enumerate(clips):
        if c.content and c.style:
            by.setdefault((c.source, c.style, c.content), []).append(i)
    pairs = []
    for (src, style, content), ids in by.items():
        other = mirror_label(content)
        if other != content:
            pairs += [(a, b) for a in ids for b in by.get((src, style, other), [])]
    return pairs


def _speed_pairs(clips: Sequence[TokenClip], faster: bool) -> list[tuple[int, int]]:
    """Index pairs (a, b): same source and style, b's gait one step faster (or slower) than a's."""
    by: dict[tuple, list[int]] = {}
    for i, c in enumerate(clips):
        if c.content in SPEED_ORDER and c.style:
            by.setdefault((c.source, c.style, c.content), []).append(i)
    pairs = []
    for (src, style, content), ids in by.items():
        rank = SPEED_ORDER.index(content) + (1 if faster else -1)
        if 0 <= rank < len(SPEED_ORDER):
            for b in by.get((src, style, SPEED_ORDER[rank]), []):
                pairs += [(a, b) for a in ids]
    return pairs


# --- mixing -------------------------------------------------------------------------------------------


class TaskSampler:
    """A map-style dataset of ``length`` examples mixing tasks by ``ratios``.

    Item ``i`` draws its task with probability ``ratio / sum(ratios)`` and then its data, all from an RNG
    seeded by ``(seed, i)``: deterministic, resumable, and the same in every dataloader worker. Tasks the
    data cannot build (no Bandai pairs, no texts) are dropped with a warning and the rest renormalised.
    With ``uncond_rate`` > 0 that share of the :data:`GUIDED_TASKS` examples get the unconditional
    prompt instead of theirs (the same answer), so the model also learns p(motion) for guidance.
    """

    def __init__(
        self,
        builder: TaskBuilder,
        ratios: Mapping[str, float],
        length: int,
        seed: int = 0,
        uncond_rate: float = 0.0,
    ) -> None:
        if length < 1:
            raise ValueError(f"length must be >= 1, got {length}")
        unknown = sorted(set(ratios) - set(builder.tasks))
        if unknown:
            raise ConfigError(f"mixture has unknown tasks {unknown}; known: {list(builder.tasks)}")
        bad = {k: v for k, v in ratios.items() if not isinstance(v, int | float) or v < 0}
        if bad:
            raise ConfigError(f"mixture ratios must be numbers >= 0, got {bad}")
        missing = [t for t, r in ratios.items() if r > 0 and not builder.available(t)]
        if missing:
            log.warning("no data for tasks %s in this corpus: they are left out of the mixture", missing)
        self.ratios = {t: float(r) for t, r in ratios.items() if r > 0 and t not in missing}
        if not self.ratios:
            raise ConfigError(f"no task of the mixture {dict(ratios)} can be built from this data")
        total = sum(self.ratios.values())
        self.tasks = list(self.ratios)
        self.cum = np.cumsum([self.ratios[t] / total for t in self.tasks])
        if not 0.0 <= uncond_rate < 1.0:
            raise ConfigError(f"uncond_rate must be in [0, 1), got {uncond_rate}")
        self.builder, self.length, self.seed, self.uncond_rate = builder, length, seed, uncond_rate
        self.uncond_prompt = unconditional_prompt(builder.templates) if uncond_rate else ""

    def __len__(self) -> int:
        return self.length

    def task_of(self, rng: random.Random) -> str:
        return self.tasks[
            min(int(np.searchsorted(self.cum, rng.random(), side="right")), len(self.tasks) - 1)
        ]

    def __getitem__(self, i: int) -> Example:
        if not 0 <= i < self.length:
            raise IndexError(i)
        rng = random.Random(self.seed * 1_000_003 + i)
        ex = self.builder.sample(self.task_of(rng), rng)
        if self.uncond_rate and ex.task in GUIDED_TASKS and rng.random() < self.uncond_rate:
            return Example(UNCONDITIONAL_TASK, self.uncond_prompt, ex.answer, ex.kind)
        return ex


# --- data loading -------------------------------------------------------------------------------------


def read_text_source(source: str | os.PathLike, exclude: Sequence[str] = ()) -> list[str]:
    """Motion descriptions from ``CMU data.csv``: the csv itself, or the shared data folder holding
    ``cmu-mocap/cmu-mocap.tar.xz`` (unpacked once into the corpus cache). Descriptions in ``exclude``
    (those of held-out clips) and duplicates are dropped."""
    from motiongpt.data.sources import CMU_ARCHIVE, default_cache_dir, read_cmu_descriptions, unpack

    path = Path(source)
    if path.is_dir():
        csv_path = path / "CMU data.csv"
        if not csv_path.is_file():
            csv_path = unpack(path / CMU_ARCHIVE, default_cache_dir()) / "cmu-mocap" / "CMU data.csv"
    else:
        csv_path = path
    texts = read_cmu_descriptions(csv_path).values()
    drop = {_norm(t) for t in exclude}
    out = list(dict.fromkeys(t for t in texts if t and _norm(t) not in drop))
    log.info("text source %s: %d descriptions (%d held out)", csv_path, len(out), len(drop))
    return out


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text.strip().lower())


__all__ = ["Example", "TaskBuilder", "TaskSampler", "TokenClip", "read_text_source"]
