"""The inference API: ``MotionGPT`` bundles the motion tokenizer and the language model.

>>> mg = MotionGPT.from_pretrained("checkpoints/motiongpt")
>>> motion = mg.generate_motion("a person walks forward", seconds=4, seed=0)
>>> motion.joints.shape, motion.seconds            # (80, 22, 3), 4.0
>>> motion.save_bvh("walk.bvh"); mg.caption(motion)

Each method takes one input and returns one result; its ``*_batch`` twin (``generate_motion_batch``,
``caption_batch``, ...) takes a list and returns a list (one batched decoding run).

Bundle folder: ``config.yaml`` (:class:`PipelineConfig`), ``tokenizer/`` (``MotionTokenizer``, with the
dataset mean/std) and ``lm/`` (``MotionLanguageModel``: a full model or a LoRA adapter).

Prompts come from the instruction templates the LM was trained on (``motiongpt.data.instructions``):
``prompt_style="canonical"`` uses each task's first prompt (stage-2 pretraining saw only those),
``"instruct"`` its second, an explicit instruction (instruction tuning samples all of them). Tasks:
``t2m`` / ``t2m_seconds`` (text to motion, with a length), ``m2t`` (caption), ``pred`` (the model
continues a motion), ``inbetween`` (the middle between a start and an end, asked for with
``<motion_mask>`` tokens, one per token to fill).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from motiongpt import bundled_model
from motiongpt._io import atomic_dir
from motiongpt.config import YamlConfig, check_choice, check_numbers
from motiongpt.data.tasks import UNCONDITIONAL_TASK, task_names
from motiongpt.errors import CheckpointError, ConfigError, InvalidMotionError, InvalidRequestError
from motiongpt.lm.generation import (
    GREEDY,
    Sampling,
    generate_motion_ids,
    generate_text,
    motion_token_limits,
    seconds_to_tokens,
)
from motiongpt.lm.inference_cache import load_for_inference, load_lean_for_inference
from motiongpt.lm.inputs import as_batch, check_characters, check_text, one_input, per_item
from motiongpt.lm.model import MotionLanguageModel
from motiongpt.lm.scoring import best_by_caption
from motiongpt.lm.tasks import inbetween_gap, inbetween_text, seconds_text
from motiongpt.lm.timeline import MAX_SEGMENT_SECONDS, check_timeline, plan_seams
from motiongpt.motion.motion import Motion  # re-exported: ``from motiongpt.lm.pipeline import Motion``
from motiongpt.motion.skeleton import FPS
from motiongpt.motion.validate import check_features

log = logging.getLogger(__name__)

CONFIG_NAME = "config.yaml"
BUNDLED = "default"  # the name of the model shipped inside the package (``from_pretrained()``)
MAX_CANDIDATES = 32  # text -> motion samples to choose from, at most
PromptStyle = Literal["canonical", "instruct"]

#: The tasks :meth:`MotionGPT.prompt` asks for (the registry's prompted tasks, motiongpt.data.tasks).
TASKS = task_names(prompted=True)


@dataclass(frozen=True)
class PipelineConfig(YamlConfig):
    """How the bundle prompts and samples (the models carry their own configs).

    ``guidance`` is the classifier-free guidance scale of the motions the model writes (1 = off; needs
    an LM trained with ``uncond_rate`` > 0): each token is drawn from ``u + guidance * (c - u)``, ``c``
    and ``u`` the logits given the prompt and given the unconditional prompt (text -> motion) or the
    conversation up to the user's previous turn (a chat reply; :meth:`MotionGPT.chat`).

    ``candidates``: text -> motion samples this many motions per text and keeps the one the model's own
    motion -> text reading finds most likely to be described by the text (:mod:`motiongpt.lm.scoring`);
    1 keeps the first sample, as does a batch asking for a motion longer than the model reads
    (``allow_long``).
    """

    prompt_style: PromptStyle = "instruct"
    temperature: float = 1.0  # motion sampling; 0 = greedy
    top_k: int = 50
    top_p: float = 1.0
    guidance: float = 1.0
    candidates: int = 1

    def __post_init__(self) -> None:
        check_choice("prompt_style", self.prompt_style, PromptStyle)
        check_numbers(self, floats=("guidance",), positive=("guidance",))
        try:
            Sampling(temperature=float(self.temperature), top_k=int(self.top_k), top_p=float(self.top_p))
            check_candidates(self.candidates)
        except (InvalidRequestError, TypeError, ValueError) as e:
            raise ConfigError(str(e)) from None

    @property
    def sampling(self) -> Sampling:
        return Sampling(temperature=float(self.temperature), top_k=int(self.top_k), top_p=float(self.top_p))

    @classmethod
    def from_bundle(cls, directory: str | os.PathLike) -> PipelineConfig:
        """A bundle folder's settings: its ``config.yaml``, or the defaults where it has none;
        CheckpointError naming a file that is not a valid config."""
        path = Path(directory) / CONFIG_NAME
        if not path.is_file():
            return cls()
        try:
            return cls.from_yaml(path)
        except ConfigError as e:
            raise CheckpointError(f"{path}: {e}") from None


# --- Motion and Reply ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Reply:
    """A chat answer: its text (motion tokens left out) and the motions it holds, in order."""

    text: str
    motions: tuple[Motion, ...] = ()

    @property
    def motion(self) -> Motion | None:
        return self.motions[0] if self.motions else None


# --- the pipeline -------------------------------------------------------------------------------------
@contextlib.contextmanager
def _quiet_loading() -> Iterator[None]:
    """While a model loads: no transformers weight-loading bar, info lines or deprecation notices,
    unless motiongpt's own logging is at DEBUG (``motiongpt -v``). Restores what it changed."""
    if log.isEnabledFor(logging.DEBUG):
        yield
        return
    from transformers.utils import logging as hf_logging

    bar, level = hf_logging.is_progress_bar_enabled(), hf_logging.get_verbosity()
    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings(
                "ignore", message=r".*is_gradient_checkpointing.*", category=FutureWarning
            )
            yield
    finally:
        hf_logging.set_verbosity(level)
        if bar:
            hf_logging.enable_progress_bar()


class MotionGPT:
    """Text <-> motion with one language model. See the module docstring.

    Args:
        lm: the motion-language model; its codebook size must equal the tokenizer's.
        tokenizer: the motion tokenizer (``MotionTokenizer``: VQ-VAE with the dataset mean/std).
        cfg: prompting and sampling settings.
    """

    def __init__(self, lm: MotionLanguageModel, tokenizer: Any, cfg: PipelineConfig | None = None) -> None:
        if not isinstance(lm, MotionLanguageModel):
            raise TypeError(f"lm must be a MotionLanguageModel, got {type(lm).__name__}")
        if not hasattr(tokenizer, "encode") or not hasattr(tokenizer, "cfg"):
            raise TypeError(f"tokenizer must be a MotionTokenizer, got {type(tokenizer).__name__}")
        k_tok, k_lm = tokenizer.cfg.codebook_size, lm.cfg.codebook_size
        if k_tok != k_lm:
            raise CheckpointError(f"the motion tokenizer has {k_tok} codes but the LM vocab {k_lm}")
        self.tokenizer = tokenizer.eval()
        self.lm = lm.eval()
        self.cfg = cfg or PipelineConfig()
        self.vocab = lm.vocab
        self._templates = _load_templates()

    # --- checkpoints ------------------------------------------------------------------------------
    @classmethod
    def from_pretrained(
        cls,
        directory: str | os.PathLike | None = None,
        merge_lora: bool = True,
        half_gemv: bool = True,
        lean: bool = True,
    ) -> MotionGPT:
        """Load a bundle folder for inference; ``None`` or ``"default"`` (unless a folder of that name
        is in the working directory) loads the model shipped with the package, wherever it is installed.
        Quiet unless motiongpt's logging is at DEBUG.

        ``merge_lora`` folds a LoRA adapter into the weights; ``half_gemv`` (with it) also keeps a
        float16 copy of the transformer's linear weights for batch-1 decoding (about 2x faster on CPU,
        logits within ~1e-2; see ``MotionLanguageModel.optimize_for_inference``).

        ``lean`` (with both): a Llama-family LM is read without transformers (``lm/lean.py``; the same
        tokens, a second less start-up); it can then only generate (no forward pass, training or saving).
        Other models, and ``lean=False``, load through transformers.
        """
        from motiongpt.tokenizer.model import MotionTokenizer

        if directory is None or (str(directory) == BUNDLED and not Path(BUNDLED).is_dir()):
            return cls.from_pretrained(bundled_model(), merge_lora, half_gemv, lean)
        directory = Path(directory)
        if not directory.exists():
            raise CheckpointError(f"model folder {directory} does not exist")
        for part in ("tokenizer", "lm"):
            if not (directory / part).is_dir():
                raise CheckpointError(f"{directory}: not a MotionGPT folder ({part}/ is missing)")
        cfg = PipelineConfig.from_bundle(directory)
        lm = load_lean_for_inference(directory / "lm") if lean and merge_lora and half_gemv else None
        with _quiet_loading() if lm is None else contextlib.nullcontext():  # no transformers to quiet
            tokenizer = MotionTokenizer.from_pretrained(directory / "tokenizer")
            if lm is None and merge_lora:  # inference-ready weights, from the cache after the first load
                lm = load_for_inference(directory / "lm", half_gemv=half_gemv)
            elif lm is None:
                lm = MotionLanguageModel.from_pretrained(directory / "lm")
        return cls(lm, tokenizer, cfg)

    def save_pretrained(self, directory: str | os.PathLike) -> Path:
        """Write the bundle atomically (into ``<dir>.tmp``, then rename)."""
        directory = Path(directory)
        with atomic_dir(directory) as tmp:
            self.tokenizer.save_pretrained(tmp / "tokenizer")
            self.lm.save_pretrained(tmp / "lm")
            self.cfg.to_yaml(tmp / CONFIG_NAME)
        return directory

    # --- prompts ----------------------------------------------------------------------------------
    @property
    def frames_per_token(self) -> int:
        return int(self.tokenizer.cfg.downsample_factor)

    def prompt(self, task: str, **values: str) -> str:
        """The prompt of ``task`` (one of :data:`TASKS`) with its placeholders filled."""
        if task not in TASKS:
            raise InvalidRequestError(f"unknown task {task!r}; known: {list(TASKS)}")
        prompts = self._templates[task].prompts
        instruct = self.cfg.prompt_style == "instruct" and task != UNCONDITIONAL_TASK
        template = prompts[1] if instruct and len(prompts) > 1 else prompts[0]
        for name, value in values.items():
            template = template.replace(f"<{name}_Placeholder>", value)
        if "_Placeholder>" in template:
            raise InvalidRequestError(f"task {task!r}: prompt {template!r} still has a placeholder")
        return template

    def _seconds_text(self, n_tokens: int) -> str:
        return seconds_text(n_tokens, self.frames_per_token)

    def _tokens_for(self, seconds: float | None) -> int | None:
        return None if seconds is None else seconds_to_tokens(seconds, self.frames_per_token, FPS)

    # --- motion <-> tokens ------------------------------------------------------------------------
    def _as_motion(self, motion: Any, name: str = "motion") -> Motion:
        if isinstance(motion, Motion):
            return motion
        if isinstance(motion, str | os.PathLike):
            return Motion.from_file(motion)
        arr = np.asarray(motion)
        if arr.ndim == 3:
            return Motion.from_joints(arr)
        if arr.ndim == 2:
            return Motion.from_features(arr)
        raise InvalidMotionError(
            f"{name} must be a Motion, a path, joints (T, 22, 3) or features (T, 263), got shape {arr.shape}"
        )

    @torch.no_grad()
    def encode(self, motion: Any) -> np.ndarray:
        """A motion -> its codebook indices ``(N,)``, ``N = T // 4``; InvalidMotionError under 4 frames."""
        m = self._as_motion(motion)
        if m.tokens is not None:
            return m.tokens
        feats = m.features
        if feats.shape[0] < self.frames_per_token:
            raise InvalidMotionError(
                f"motion has {feats.shape[0]} feature frames; at least {self.frames_per_token} "
                f"(one token, {self.frames_per_token / FPS:.1f} s) are needed"
            )
        check_features(feats, "motion features")
        x = torch.as_tensor(feats, dtype=torch.float32, device=_device(self.tokenizer))[None]
        idx = self.tokenizer.encode(self.tokenizer.normalize(x))  # (1, N)
        return idx[0].cpu().numpy().astype(np.int64)

    @torch.no_grad()
    def decode(self, indices: Any) -> Motion:
        """Codebook indices ``(N,)`` -> a Motion of ``4N`` frames."""
        idx = torch.as_tensor(np.asarray(indices, dtype=np.int64), device=_device(self.tokenizer))[None]
        feats = self.tokenizer.denormalize(self.tokenizer.decode(idx))[0]  # (4N, F)
        return Motion.from_features(feats.float().cpu().numpy(), tokens=idx[0].cpu().numpy())

    # --- tasks ------------------------------------------------------------------------------------
    def _sampling(self, temperature: float | None, top_k: int | None, top_p: float | None) -> Sampling:
        base = self.cfg.sampling
        return dataclasses.replace(
            base,
            temperature=base.temperature if temperature is None else temperature,
            top_k=base.top_k if top_k is None else top_k,
            top_p=base.top_p if top_p is None else top_p,
        )

    def generate_motion(
        self,
        text: str,
        seconds: float | None = None,
        seed: int | None = None,
        allow_long: bool = False,
        temperature: float | None = None,
        top_k: int | None = None,
        top_p: float | None = None,
        guidance: float | None = None,
        candidates: int | None = None,
    ) -> Motion:
        """Text -> motion. ``seconds`` gives exactly ``round(seconds * FPS / frames_per_token)`` tokens; over
        ``MAX_SECONDS`` (``MAX_FRAMES`` frames, the training maximum; motion.skeleton) needs
        ``allow_long=True``. ``seed`` makes sampling repeatable. ``guidance`` overrides the bundle's
        classifier-free guidance scale (1 = off), ``candidates`` its number of samples to choose from
        (1 = the first; see :class:`PipelineConfig`).
        Several texts: :meth:`generate_motion_batch`.
        """
        one_input(text, "text", "generate_motion")
        one_input(seconds, "length (seconds)", "generate_motion")
        return self.generate_motion_batch([text], seconds, seed, allow_long, temperature, top_k, top_p,
                                          guidance, candidates)[0]  # fmt: skip

    def generate_motion_batch(
        self,
        texts: Sequence[str],
        seconds: float | None | Sequence[float | None] = None,
        seed: int | None = None,
        allow_long: bool = False,
        temperature: float | None = None,
        top_k: int | None = None,
        top_p: float | None = None,
        guidance: float | None = None,
        candidates: int | None = None,
    ) -> list[Motion]:
        """Texts -> one motion each, in one batched decoding run; ``seconds`` is one length for all or
        one per text. Otherwise as :meth:`generate_motion`."""
        texts = as_batch(texts, "text")
        for t in texts:
            check_text(t)
        texts = [t.strip() for t in texts]
        k = check_candidates(self.cfg.candidates if candidates is None else candidates)
        n_tokens = [self._tokens_for(s) for s in per_item(seconds, len(texts), "seconds")]
        motion_token_limits(self.lm, n_tokens, allow_long, self.frames_per_token)  # fail before encoding
        if any(n is not None and n > self.lm.cfg.max_motion_tokens for n in n_tokens):
            k = 1  # a motion longer than the model reads (trains on): nothing to choose by
        prompts = [
            self.prompt("t2m", Caption=t) if n is None
            else self.prompt("t2m_seconds", Caption=t, Second=self._seconds_text(n))
            for t, n in zip(texts, n_tokens, strict=True)
        ]  # fmt: skip
        for p, t in zip(prompts, texts, strict=True):
            self._check_fits(self.lm.format_prompt(p), t, "text")
        ids = generate_motion_ids(
            self.lm, [p for p in prompts for _ in range(k)], [n for n in n_tokens for _ in range(k)],
            self._sampling(temperature, top_k, top_p), seed, allow_long,
            guidance=self.cfg.guidance if guidance is None else guidance,
            uncond_prompt=self.prompt(UNCONDITIONAL_TASK),
        )  # fmt: skip
        if k > 1:
            readings = [self.prompt("m2t", Motion=self.vocab.motion_to_text(i.numpy())) for i in ids]
            ids = [ids[i] for i in best_by_caption(self.lm, readings, texts, k)]
        return [self.decode(i) for i in ids]

    def caption(self, motion: Any) -> str:
        """Motion (a Motion, a ``.bvh`` / ``.npy`` path, joints or features) -> a caption, greedy.
        Several motions: :meth:`caption_batch`."""
        one_input(motion, "motion", "caption")
        return self.caption_batch([motion])[0]

    def caption_batch(self, motions: Sequence[Any]) -> list[str]:
        """Motions -> one caption each (greedy, one batched run; the same as one by one)."""
        motions = as_batch(motions, "motion")
        prompts = [self.prompt("m2t", Motion=self.vocab.motion_to_text(self.encode(m))) for m in motions]
        rows = generate_text(self.lm, prompts, sampling=GREEDY, mode="text")
        return [self._text(row) for row in rows]

    def predict(
        self, motion: Any, seconds: float | None = None, seed: int | None = None, allow_long: bool = False
    ) -> Motion:
        """Continue a motion. Returns the given motion followed by ``seconds`` of continuation
        (decoded together, so the seam is smooth); ``seconds=None`` lets the model choose the length.
        Several motions: :meth:`predict_batch`."""
        one_input(motion, "motion", "predict")
        return self.predict_batch([motion], seconds, seed, allow_long)[0]

    def predict_batch(
        self,
        motions: Sequence[Any],
        seconds: float | None = None,
        seed: int | None = None,
        allow_long: bool = False,
    ) -> list[Motion]:
        """Each motion continued (one batched run), as :meth:`predict`."""
        motions = as_batch(motions, "motion")
        given = [self.encode(m) for m in motions]
        n = self._tokens_for(seconds)
        prompts = [self.prompt("pred", Motion=self.vocab.motion_to_text(g)) for g in given]
        ids = generate_motion_ids(self.lm, prompts, [n] * len(prompts), self.cfg.sampling, seed, allow_long)
        return [self.decode(np.concatenate([g, i.numpy()])) for g, i in zip(given, ids, strict=True)]

    def inbetween(
        self, start: Any, end: Any, seconds: float | None = None, seed: int | None = None
    ) -> Motion:
        """The motion from ``start`` to ``end``: returns start + generated middle + end, decoded together.

        The middle lasts ``seconds`` (default: as long as start and end together, the training ratio).
        Several pairs: :meth:`inbetween_batch`.
        """
        one_input(start, "start motion", "inbetween")
        one_input(end, "end motion", "inbetween")
        return self.inbetween_batch([start], [end], seconds, seed)[0]

    def inbetween_batch(
        self,
        starts: Sequence[Any],
        ends: Sequence[Any],
        seconds: float | None = None,
        seed: int | None = None,
    ) -> list[Motion]:
        """Each ``starts[i]`` to ``ends[i]`` (one batched run), as :meth:`inbetween`."""
        starts, ends = as_batch(starts, "start"), as_batch(ends, "end")
        if len(ends) != len(starts):
            raise InvalidRequestError(f"got {len(starts)} start motions but {len(ends)} end motions")
        heads, tails = [self.encode(s) for s in starts], [self.encode(e) for e in ends]
        n_mid = [self._tokens_for(seconds) or inbetween_gap(len(h) + len(t))
                 for h, t in zip(heads, tails, strict=True)]  # fmt: skip
        motion_token_limits(self.lm, n_mid, allow_long=True, frames_per_token=self.frames_per_token)
        prompts = [self._inbetween_prompt(h, t, n) for h, t, n in zip(heads, tails, n_mid, strict=True)]
        ids = generate_motion_ids(self.lm, prompts, n_mid, self.cfg.sampling, seed, allow_long=True)
        return [
            self.decode(np.concatenate([h, i.numpy(), t])) for h, i, t in zip(heads, ids, tails, strict=True)
        ]

    def _inbetween_prompt(self, head: np.ndarray, tail: np.ndarray, n_mid: int) -> str:
        """The ``inbetween`` prompt: ``<som>`` head, ``n_mid`` ``<motion_mask>``, tail ``<eom>``."""
        return self.prompt("inbetween", Motion=inbetween_text(self.vocab, head, tail, n_mid))

    def generate_timeline(
        self,
        segments: Sequence[tuple[str, float]],
        seed: int | None = None,
        join_seconds: float = 0.4,
        temperature: float | None = None,
        top_k: int | None = None,
        top_p: float | None = None,
        guidance: float | None = None,
    ) -> Motion:
        """A timeline of ``(prompt, seconds)`` segments (each up to ``MAX_SECONDS``, any number) -> a Motion.

        Every segment is written for its prompt (one batched run); then up to ``join_seconds`` on each
        side of every seam are written again as the model's in-between of the tokens around the seam
        (a second batched run), and the whole token sequence is decoded at once, so position and facing
        carry on across seams. ``join_seconds=0`` only decodes the segments together. Segment ``i`` has
        ``round(seconds_i * 5)`` tokens; ``motiongpt.lm.timeline.segment_frames`` gives its frames.
        """
        segments = check_timeline(segments)
        number = isinstance(join_seconds, int | float) and not isinstance(join_seconds, bool)
        if not number or not 0 <= join_seconds <= MAX_SEGMENT_SECONDS:
            raise InvalidRequestError(
                f"join_seconds must be a number in [0, {MAX_SEGMENT_SECONDS}], got {join_seconds!r}"
            )
        texts, seconds = [p for p, _ in segments], [s for _, s in segments]
        parts = self.generate_motion_batch(texts, seconds=seconds, seed=seed, temperature=temperature,
                                           top_k=top_k, top_p=top_p, guidance=guidance)  # fmt: skip
        tokens = np.concatenate([m.tokens for m in parts]).astype(np.int64)  # (N,)
        join = int(round(join_seconds * FPS / self.frames_per_token))
        seams = plan_seams([len(m.tokens) for m in parts], join)
        if seams:
            prompts = [
                self._inbetween_prompt(tokens[s.head : s.start], tokens[s.end : s.tail], s.end - s.start)
                for s in seams
            ]
            ids = generate_motion_ids(
                self.lm, prompts, [s.end - s.start for s in seams],
                self._sampling(temperature, top_k, top_p), None if seed is None else seed + 1,
                allow_long=True,
            )  # fmt: skip
            for s, i in zip(seams, ids, strict=True):
                tokens[s.start : s.end] = i.numpy()
        return self.decode(tokens)

    def chat(
        self,
        messages: Sequence[dict[str, Any]],
        seed: int | None = None,
        seconds: float | None = None,
        guidance: float | None = None,
    ) -> Reply:
        """A conversation ``[{"role": "user"|"assistant", "content": str | Motion | [str | Motion, ...]}]``
        ending with a user turn -> the assistant's :class:`Reply` (text and any motions it wrote).
        ``seconds`` (up to ``MAX_SECONDS``) fixes the length of a motion the reply writes; None: the model
        chooses. A motion the reply writes is sampled with the bundle's classifier-free guidance
        (``guidance`` overrides its scale), contrasting this turn with the user's previous one.
        Several conversations: :meth:`chat_batch`."""
        if isinstance(messages, list | tuple) and messages:
            one_input(messages[0], "conversation (a list of messages)", "chat")
        return self.chat_batch([messages], seed, seconds, guidance)[0]

    def chat_batch(
        self,
        conversations: Sequence[Sequence[dict[str, Any]]],
        seed: int | None = None,
        seconds: float | None = None,
        guidance: float | None = None,
    ) -> list[Reply]:
        """One reply per conversation (one batched run), as :meth:`chat`."""
        n = self._tokens_for(seconds)
        if n is not None:
            motion_token_limits(self.lm, [n], frames_per_token=self.frames_per_token)
        convs = [list(c) for c in as_batch(conversations, "conversations")]
        turns = [self._turns(c) for c in convs]
        texts = [self._layout(t) for t in turns]
        for text, conv in zip(texts, convs, strict=True):
            last = conv[-1]["content"]
            parts = last if isinstance(last, list | tuple) else [last]
            words = " ".join(p for p in parts if isinstance(p, str))
            self._check_fits(text, words.strip(), "the message" if len(conv) == 1 else "the conversation")
        rows = generate_text(
            self.lm, texts, sampling=self.cfg.sampling, seed=seed, mode="chat", formatted=True,
            motion_tokens=n, guidance=self.cfg.guidance if guidance is None else guidance,
            uncond_prompts=[self._unconditional(t) for t in turns],
        )  # fmt: skip
        replies = []
        for row in rows:
            motions = tuple(self.decode(seg) for seg in self.vocab.parse(row) if len(seg))
            replies.append(Reply(self._text(row), motions))
        return replies

    # --- helpers ----------------------------------------------------------------------------------
    def _check_fits(self, formatted: str, user_text: str, what: str) -> None:
        """InvalidRequestError, in the caller's terms (``what`` holding ``user_text``), when the full
        prompt ``formatted`` is over the LM's ``max_prompt_tokens`` (instead of the LM's own message,
        which counts tokens and quotes the prompt with its preamble)."""
        tok, limit = self.lm.tokenizer, self.lm.cfg.max_prompt_tokens
        n = len(self.lm.tokenize_prompt(formatted))
        if n <= limit:
            return
        own = len(tok(user_text, add_special_tokens=False).input_ids) if user_text else 0
        fits = int(len(user_text) * (own - (n - limit)) / own) if own else 0
        if fits <= 0:
            raise InvalidRequestError(f"{what} is too long for the model: start a new conversation")
        raise InvalidRequestError(
            f"{what} is too long for the model ({len(user_text)} characters, about {fits} fit): shorten it"
        )

    def _content(self, content: Any) -> str:
        parts = content if isinstance(content, list | tuple) else [content]
        out = []
        for part in parts:
            if isinstance(part, str):
                check_characters(part, "a message")
                out.append(part)
            elif isinstance(part, bytes | bytearray):
                raise InvalidRequestError(f"a message must be a string or a motion, got bytes {part!r:.40}")
            else:
                out.append(self.vocab.motion_to_text(self.encode(part)))
        return " ".join(p.strip() for p in out if p.strip())

    def _turns(self, messages: list[dict[str, Any]]) -> list[str]:
        """A conversation's turns as texts (motions as motion tokens), checked to alternate user /
        assistant, starting and ending with a user turn that is not empty."""
        if not messages:
            raise InvalidRequestError("messages is empty")
        turns = []
        for i, m in enumerate(messages):
            if not isinstance(m, dict) or m.get("role") not in ("user", "assistant") or "content" not in m:
                raise InvalidRequestError(
                    f"messages[{i}] must be {{'role': 'user'|'assistant', 'content': ...}}, got {m!r}"
                )
            turns.append((m["role"], self._content(m["content"])))
        expected = ["user", "assistant"] * len(turns)
        if [r for r, _ in turns] != expected[: len(turns)] or turns[-1][0] != "user":
            raise InvalidRequestError("messages must alternate user/assistant, starting and ending with user")
        if not turns[-1][1]:
            raise InvalidRequestError("the last user message is empty")
        return [t for _, t in turns]

    def _layout(self, turns: list[str]) -> str:
        """Checked turns (:meth:`_turns`) -> the text the LM reads before its answer."""
        history = [(turns[i], turns[i + 1]) for i in range(0, len(turns) - 1, 2)]
        return self.lm.format_conversation(history, turns[-1])

    def _unconditional(self, turns: list[str]) -> str:
        """What a chat reply's motion is guided away from: the answer to the user's previous turn (the
        conversation up to there), so that the motion follows what this turn asks anew ("now the other
        hand", "slower", a new request); the unconditional prompt for a first turn."""
        if len(turns) >= 3:
            return self._layout(turns[:-2])
        return self.lm.format_prompt(self.prompt(UNCONDITIONAL_TASK))

    def _text(self, row: list[int]) -> str:
        keep = [t for t in row if t not in self.vocab.id_range]
        return self.lm.tokenizer.decode(keep, skip_special_tokens=True).strip()


def check_candidates(k: Any) -> int:
    """``k`` when it is a number of text -> motion samples to choose from, else InvalidRequestError."""
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_CANDIDATES:
        raise InvalidRequestError(f"candidates must be an integer from 1 to {MAX_CANDIDATES}, got {k!r}")
    return k


def _device(module: torch.nn.Module) -> torch.device:
    return next(iter(module.buffers())).device


def _load_templates() -> Any:
    """The packaged instruction templates (the prompts the LM was trained with); ConfigError if they
    cannot be read or lack a prompted task (a broken install)."""
    from motiongpt.data.instructions import load_instructions

    return load_instructions(required=TASKS)


__all__ = ["Motion", "MotionGPT", "PipelineConfig", "Reply", "TASKS"]
