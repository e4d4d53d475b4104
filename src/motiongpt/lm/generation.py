"""Constrained decoding: every motion the model writes is a valid token sequence of the asked length.

:class:`MotionLogitsProcessor` (a transformers ``LogitsProcessor``, usable with ``model.generate``) reads
the ids written so far and masks the scores:

- outside a motion segment: motion tokens are forbidden (``mode="text"``), ``<som>`` is forced
  (``mode="motion"``), or text and ``<som>`` are allowed (``mode="chat"``);
- inside a segment with ``n`` codes: only codes while ``n < min``; codes or ``<eom>`` while
  ``min <= n < max``; only ``<eom>`` at ``n == max``. ``min == max`` gives an exact length;
- after ``<eom>`` in ``mode="motion"``, and after eos, only padding.

:func:`generate` is our own KV-cached loop around the backbone (both families). It applies the same
processor and, while every row is inside a motion segment and the model is a plain transformers model
(LoRA merged), computes logits only over the K + 2 motion rows of the output layer instead of the
whole vocabulary, and appends the final, forced ``<eom>`` without a forward pass. For a Llama-family
model prepared for inference (the default backbone) the prompt pass and every step run through
:mod:`motiongpt.lm.llama_step` instead of the transformers forward, and identical prompt rows (the
unconditional rows of guidance) are read once (``LEAN_STEP = False`` switches both off, except for
the inference-only model of :mod:`motiongpt.lm.lean`, which has no other forward).
"""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
import math
import numbers
from collections.abc import Iterator, Sequence
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

from motiongpt.errors import InvalidRequestError
from motiongpt.lm import llama_step
from motiongpt.lm.model import MotionLanguageModel
from motiongpt.lm.vocab import MotionVocab
from motiongpt.motion.skeleton import FPS
from motiongpt.tokenizer.config import DEFAULT_FRAMES_PER_TOKEN

Mode = Literal["motion", "text", "chat"]
TEXT, NEED, ANY, END, DONE = 0, 1, 2, 3, 4  # per-row decoding states
LEAN_STEP = True  # decoder-only prompt pass and steps through llama_step.LlamaStep where it applies


@dataclasses.dataclass(frozen=True)
class Sampling:
    """Decoding parameters. ``do_sample=False`` (or ``temperature=0``) is greedy."""

    do_sample: bool = True
    temperature: float = 1.0
    top_k: int = 50  # 0 = off
    top_p: float = 1.0  # 1 = off

    def __post_init__(self) -> None:
        if self.temperature < 0:
            raise InvalidRequestError(f"temperature must be >= 0, got {self.temperature}")
        if self.top_k < 0:
            raise InvalidRequestError(f"top_k must be >= 0, got {self.top_k}")
        if not 0 < self.top_p <= 1:
            raise InvalidRequestError(f"top_p must be in (0, 1], got {self.top_p}")

    @property
    def greedy(self) -> bool:
        return not self.do_sample or self.temperature == 0


GREEDY = Sampling(do_sample=False)


def seconds_to_tokens(
    seconds: float, frames_per_token: int = DEFAULT_FRAMES_PER_TOKEN, fps: int = FPS
) -> int:
    """``seconds * fps / frames_per_token`` rounded half up; ValueError when that is under one token."""
    if isinstance(seconds, bool) or not isinstance(seconds, numbers.Real) or not math.isfinite(seconds):
        raise InvalidRequestError(f"seconds must be a finite number, got {seconds!r}")
    n = math.floor(float(seconds) * fps / frames_per_token + 0.5)
    if n < 1:
        raise InvalidRequestError(
            f"seconds={seconds} is shorter than one motion token ({frames_per_token / fps:.2f} s)"
        )
    return n


# --- the logits processor -----------------------------------------------------------------------------
class MotionLogitsProcessor:
    """Masks scores so that motions are valid and of a length in ``[min_tokens, max_tokens]``.

    Args:
        vocab: the bound motion vocab.
        start: index in ``input_ids`` where the answer starts (the prompt length for a causal model,
            1 for an encoder-decoder's decoder ids); a ``<som>`` appended to the prompt counts as answer.
        min_tokens, max_tokens: ``(B,)`` or ints: codes per motion segment.
        mode: ``"motion"``, ``"text"`` or ``"chat"`` (see the module docstring).
        pad_id: the only token allowed once a row is done.
        eos_id: the end of a text answer (ends a row in text and chat mode).
    """

    def __init__(
        self,
        vocab: MotionVocab,
        start: int,
        min_tokens: torch.Tensor | int,
        max_tokens: torch.Tensor | int,
        mode: Mode,
        pad_id: int,
        eos_id: int | None,
    ) -> None:
        if mode not in ("motion", "text", "chat"):
            raise ValueError(f"mode must be 'motion', 'text' or 'chat', got {mode!r}")
        self.vocab, self.start, self.mode = vocab, start, mode
        self.min_tokens = torch.as_tensor(min_tokens, dtype=torch.long)
        self.max_tokens = torch.as_tensor(max_tokens, dtype=torch.long)
        if (self.min_tokens < 1).any() or (self.max_tokens < self.min_tokens).any():
            raise ValueError(f"need 1 <= min_tokens <= max_tokens, got {self.min_tokens}, {self.max_tokens}")
        self.pad_id, self.eos_id = pad_id, eos_id
        self.K, self.off = vocab.codebook_size, vocab.offset

    def states(self, input_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``input_ids (B, L)`` -> per-row state (TEXT/NEED/ANY/END/DONE) ``(B,)`` and codes in segment."""
        gen = input_ids[:, self.start :]  # (B, G)
        B, G = gen.shape
        pos = torch.arange(G, device=gen.device).expand(B, G)
        none = torch.full((B,), -1, dtype=torch.long, device=gen.device)
        last_som = torch.where(gen == self.vocab.som_id, pos, -1).amax(1) if G else none
        last_eom = torch.where(gen == self.vocab.eom_id, pos, -1).amax(1) if G else none
        in_seg = last_som > last_eom  # (B,)
        is_code = (gen >= self.off) & (gen < self.off + self.K)
        count = (is_code & (pos > last_som[:, None])).sum(1) if G else torch.zeros_like(none)  # (B,)
        mn, mx = self.min_tokens.to(gen.device), self.max_tokens.to(gen.device)
        state = torch.full((B,), TEXT, dtype=torch.long, device=gen.device)
        state = torch.where(in_seg & (count < mn), NEED, state)
        state = torch.where(in_seg & (count >= mn) & (count < mx), ANY, state)
        state = torch.where(in_seg & (count >= mx), END, state)
        done = torch.zeros(B, dtype=torch.bool, device=gen.device)
        if G:
            if self.mode == "motion":
                done |= last_eom >= 0
            if self.eos_id is not None:
                done |= (gen == self.eos_id).any(1) & ~in_seg
        state = torch.where(done, DONE, state)
        return state, count

    def allowed(self, state: torch.Tensor, width: int) -> torch.Tensor:
        """Boolean ``(B, width)`` mask of allowed ids over the full vocabulary."""
        B = state.shape[0]
        ids = torch.arange(width, device=state.device)
        code = (ids >= self.off) & (ids < self.off + self.K)
        owned = (ids >= self.off) & (ids < self.off + len(self.vocab))
        som, eom = ids == self.vocab.som_id, ids == self.vocab.eom_id
        text = ~owned
        if self.mode == "chat":
            text = text | som
        elif self.mode == "motion":
            text = som
        table = torch.stack([text, code, code | eom, eom, ids == self.pad_id])  # (5, V)
        return table[state].reshape(B, width)

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        state, _ = self.states(input_ids)
        return scores.masked_fill(~self.allowed(state, scores.shape[-1]), float("-inf"))

    def motion_slice_mask(self, state: torch.Tensor) -> torch.Tensor:
        """Allowed ``(B, K + 2)`` over the rows ``offset .. offset + K + 1`` (codes, som, eom)."""
        cols = torch.arange(self.K + 2, device=state.device)
        code, eom = cols < self.K, cols == self.K + 1
        table = torch.stack([code, code, code | eom, eom, eom])  # TEXT unused; DONE rows are discarded
        return table[state]


# --- sampling -----------------------------------------------------------------------------------------
def _pick(logits: torch.Tensor, sampling: Sampling, generator: torch.Generator | None) -> torch.Tensor:
    """``logits (B, C)`` (masked with -inf) -> chosen column ``(B,)``."""
    if sampling.greedy:
        return logits.argmax(-1)
    logits = logits.float() / sampling.temperature
    if 0 < sampling.top_k < logits.shape[-1]:
        kth = torch.topk(logits, sampling.top_k, dim=-1).values[:, -1:]  # (B, 1)
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if sampling.top_p < 1:
        sorted_logits, order = torch.sort(logits, descending=True, dim=-1)
        cum = sorted_logits.softmax(-1).cumsum(-1)
        drop = cum - sorted_logits.softmax(-1) > sampling.top_p  # keeps at least the best one
        logits = logits.masked_fill(drop.scatter(-1, order, drop), float("-inf"))
    probs = logits.softmax(-1)
    return torch.multinomial(probs, 1, generator=generator).squeeze(1)


def _guided(logits: torch.Tensor, guidance: float, n: int, in_motion: torch.Tensor) -> torch.Tensor:
    """``logits (B, C)`` -> ``(n, C)``: the rows as they are, or guided from the two halves where
    ``in_motion (n,)`` (inside a motion segment) and conditional elsewhere (a chat reply's text)."""
    if guidance == 1.0:
        return logits
    cond, uncond = logits[:n].float(), logits[n:].float()
    return torch.where(in_motion[:, None], uncond + guidance * (cond - uncond), cond)


# --- the decoding loop --------------------------------------------------------------------------------
@contextlib.contextmanager
def _output_rows(model: Any, rows: slice) -> Iterator[None]:
    """Temporarily replace the output layer by one that holds only ``weight[rows]`` (views, no copy)."""
    head = model.get_output_embeddings()
    # on "meta": no weight initialisation (it cost about 1 ms per step); the weights are views of the head's
    small = nn.Linear(head.weight.shape[1], rows.stop - rows.start, bias=head.bias is not None, device="meta")
    small.weight = nn.Parameter(head.weight[rows], requires_grad=False)
    if head.bias is not None:
        small.bias = nn.Parameter(head.bias[rows], requires_grad=False)
    model.set_output_embeddings(small)
    try:
        yield
    finally:
        model.set_output_embeddings(head)


def _unique_rows(ids: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """``(B, L)`` ids and mask -> the first row of each distinct row ``(U,)`` and, per row, which of
    them it equals ``(B,)``; ``(None, None)`` when all rows differ."""
    key = torch.cat([ids, mask], 1)
    uniq, copies = torch.unique(key, dim=0, return_inverse=True)
    if uniq.shape[0] == key.shape[0]:
        return None, None
    first = torch.full((uniq.shape[0],), key.shape[0], dtype=torch.long, device=ids.device)
    first = first.scatter_reduce(0, copies, torch.arange(key.shape[0], device=ids.device), "amin")
    return first, copies


def _can_slice(model: Any) -> bool:
    head = getattr(model, "get_output_embeddings", lambda: None)()
    return isinstance(head, nn.Linear) and not hasattr(model, "peft_config")


def _cache_kwarg(backbone: Any) -> str:
    """``cache`` (transformers >= 5.2x) or ``past_key_values`` (older), from the model's signature."""
    base = backbone.get_base_model() if hasattr(backbone, "get_base_model") else backbone
    return "cache" if "cache" in inspect.signature(base.forward).parameters else "past_key_values"


@torch.no_grad()
def decode(
    backbone: Any,
    is_encoder_decoder: bool,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    processor: MotionLogitsProcessor,
    max_new_tokens: int,
    sampling: Sampling = GREEDY,
    generator: torch.Generator | None = None,
    decoder_start_id: int = 0,
    answer_prefix: Sequence[int] = (),
    restrict_logits: bool = True,
    guidance: float = 1.0,
) -> list[list[int]]:
    """KV-cached decoding of ``input_ids (B, L)`` (left-padded for a causal model).

    ``answer_prefix`` (e.g. ``[som_id]``) is appended to the prompt (causal) or the decoder start
    (encoder-decoder) and counts as part of the answer. Returns, per row, the answer ids including
    the prefix and up to the row's end (``<eom>`` in motion mode, eos in text/chat mode), without pad.

    ``guidance != 1`` is classifier-free guidance: the second half of the rows holds the unconditional
    prompts of the first half; each step inside a motion segment picks from ``u + guidance * (c - u)``
    of the two halves' logits (text from ``c`` alone) and appends the same token to both (one forward
    pass of 2B rows per token).
    """
    B, device = input_ids.shape[0], input_ids.device
    if guidance != 1.0 and B % 2:
        raise ValueError(f"guidance needs conditional and unconditional rows, got an odd batch of {B}")
    n = B // 2 if guidance != 1.0 else B  # rows that are picked from
    prefix = torch.tensor(list(answer_prefix), dtype=torch.long, device=device).expand(B, -1)
    slice_ok = restrict_logits and _can_slice(backbone)
    rows = slice(processor.off, processor.off + processor.K + 2)
    if is_encoder_decoder:
        encoder_outputs = backbone.get_encoder()(input_ids=input_ids, attention_mask=attention_mask)
        start = torch.full((B, 1), decoder_start_id, dtype=torch.long, device=device)
        seq = torch.cat([start, prefix], 1)  # (B, 1 + P) decoder ids so far
        processor.start = 1
        step_in = seq
    else:
        seq = torch.cat([input_ids, prefix], 1)  # (B, L + P)
        attention_mask = torch.cat([attention_mask, torch.ones_like(prefix)], 1)
        processor.start = input_ids.shape[1]
        step_in = seq
    cache, cache_kw = None, _cache_kwarg(backbone)
    only_step = getattr(backbone, "llama_step", None) is not None  # lm/lean.py: no other forward
    use_step = not is_encoder_decoder and (only_step or (LEAN_STEP and slice_ok))
    lean = llama_step.for_backbone(backbone) if use_step else None
    lean_state, head = None, backbone.get_output_embeddings()
    n_answer_start = processor.start
    for _ in range(max_new_tokens):
        state, _count = processor.states(seq)
        active = state != DONE
        if not active.any():
            break
        in_motion = (state == NEED) | (state == ANY) | (state == END) | ~active
        if slice_ok and bool((state[active] == END).all()):
            nxt = torch.where(active, processor.vocab.eom_id, processor.pad_id)  # forced, no forward
            seq = torch.cat([seq, nxt[:, None]], 1)
            break
        fast = slice_ok and bool(in_motion.all())
        if lean is not None:  # the lean prompt pass and steps (see llama_step)
            if lean_state is None:  # identical prompts (e.g. the unconditional rows) are read once
                first, copies = _unique_rows(seq, attention_mask)
                pick = (lambda t: t) if first is None else (lambda t: t[first])
                lean_state, hidden = lean.prefill(pick(seq), pick(attention_mask), max_new_tokens, copies)
            else:
                hidden = lean.step(lean_state, step_in[:, 0])  # (B, D)
            w, b = (head.weight[rows], None if head.bias is None else head.bias[rows]) if fast else (
                head.weight, head.bias)  # fmt: skip
            step_logits = F.linear(hidden, w, b)  # (B, K + 2) or (B, V)
        else:
            kwargs: dict[str, Any] = {cache_kw: cache, "use_cache": True}
            if is_encoder_decoder:
                kwargs |= {
                    "encoder_outputs": encoder_outputs,
                    "attention_mask": attention_mask,
                    "decoder_input_ids": step_in,
                }
            else:
                position_ids = (attention_mask.cumsum(-1) - 1).clamp(min=0)[:, -step_in.shape[1] :]
                kwargs |= {
                    "input_ids": step_in,
                    "attention_mask": attention_mask,
                    "position_ids": position_ids,
                    "logits_to_keep": 1,
                }
            with _output_rows(backbone, rows) if fast else contextlib.nullcontext():
                out = backbone(**kwargs)
            step_logits = out.logits[:, -1]
            cache = out.cache if cache_kw == "cache" else out.past_key_values
        logits = _guided(step_logits, guidance, n, in_motion[:n])  # (n, K + 2) when fast, else (n, V)
        if fast:
            logits = logits.masked_fill(~processor.motion_slice_mask(state[:n]), float("-inf"))
            nxt = _pick(logits, sampling, generator) + processor.off
        else:
            logits = logits.masked_fill(~processor.allowed(state[:n], logits.shape[-1]), float("-inf"))
            nxt = _pick(logits, sampling, generator)
        nxt = torch.where(active, nxt.repeat(B // n), processor.pad_id)
        seq = torch.cat([seq, nxt[:, None]], 1)
        step_in = nxt[:, None]
        if not is_encoder_decoder:
            attention_mask = torch.cat([attention_mask, torch.ones_like(step_in)], 1)
    return [_trim(row, processor) for row in seq[:, n_answer_start:].tolist()]


def _trim(row: list[int], processor: MotionLogitsProcessor) -> list[int]:
    """Cut a row's answer after its end (``<eom>`` in motion mode, eos otherwise)."""
    ends = {processor.eos_id} if processor.mode != "motion" else {processor.vocab.eom_id}
    for i, tok in enumerate(row):
        if tok in ends:
            return row[: i + 1]
    return row


# --- model-level entry points -------------------------------------------------------------------------
def _generator(seed: int | None, device: torch.device) -> torch.Generator | None:
    return None if seed is None else torch.Generator(device=device).manual_seed(int(seed))


def motion_token_limits(
    model: MotionLanguageModel,
    n_tokens: Sequence[int | None],
    allow_long: bool = False,
    frames_per_token: int | None = None,
) -> tuple[list[int], list[int]]:
    """Per-row ``(min, max)`` codes: exactly ``n`` when given, else the config's range.

    ValueError when ``n`` is over ``max_motion_tokens`` (196 frames) without ``allow_long``, or over
    ``max_long_motion_tokens`` at all; the message gives frames too when ``frames_per_token`` (the motion
    tokenizer's downsampling, which the LM does not know) is given.
    """
    cfg = model.cfg
    cap = cfg.max_long_motion_tokens if allow_long else cfg.max_motion_tokens
    lo, hi = [], []
    for n in n_tokens:
        if n is None:
            lo.append(cfg.min_motion_tokens)
            hi.append(cap)
            continue
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise InvalidRequestError(f"motion length must be a positive number of tokens, got {n!r}")
        if n > cap:
            hint = "; pass allow_long=True to go past it" if not allow_long else ""
            fpt = frames_per_token
            raise InvalidRequestError(
                f"a motion of {n} tokens{f' ({n * fpt} frames)' if fpt else ''} is longer than the cap of "
                f"{cap} tokens{f' ({cap * fpt} frames)' if fpt else ''}{hint}"
            )
        lo.append(n)
        hi.append(n)
    return lo, hi


def _guidance_copies(guidance: float, uncond: str | Sequence[str] | None) -> int:
    """How many copies of the batch decoding needs: 1, or 2 with guidance (conditional, unconditional)."""
    if isinstance(guidance, bool) or not isinstance(guidance, numbers.Real) or not guidance > 0:
        raise InvalidRequestError(f"guidance must be a number > 0, got {guidance!r}")
    if guidance != 1.0 and not uncond:
        raise InvalidRequestError("guidance needs the unconditional prompt the model was trained with")
    return 1 if guidance == 1.0 else 2


@torch.no_grad()
def generate_motion_ids(
    model: MotionLanguageModel,
    prompts: Sequence[str],
    n_tokens: Sequence[int | None] | None = None,
    sampling: Sampling = Sampling(),
    seed: int | None = None,
    allow_long: bool = False,
    guidance: float = 1.0,
    uncond_prompt: str | None = None,
) -> list[torch.Tensor]:
    """Prompts -> one motion per prompt as codebook indices ``(N_i,)`` (int64), ``<som>`` forced first.

    ``n_tokens[i]`` asks for exactly that many codes (``None``: the model decides, within the config's
    range). The result always holds a valid, in-range motion of an allowed length. ``guidance != 1``
    with ``uncond_prompt`` samples with classifier-free guidance (see :func:`decode`).
    """
    n_tokens = list(n_tokens) if n_tokens is not None else [None] * len(prompts)
    if len(n_tokens) != len(prompts):
        raise InvalidRequestError(f"got {len(prompts)} prompts but {len(n_tokens)} lengths")
    copies = _guidance_copies(guidance, uncond_prompt)
    lo, hi = motion_token_limits(model, n_tokens, allow_long)
    rows_in = list(prompts) + ([uncond_prompt] * len(prompts) if copies == 2 else [])
    batch = model.encode_prompts(rows_in)
    vocab, tok = model.vocab, model.tokenizer
    proc = MotionLogitsProcessor(vocab, 0, lo * copies, hi * copies, "motion", tok.pad_token_id,
                                 tok.eos_token_id)  # fmt: skip
    rows = decode(
        model.backbone,
        model.is_encoder_decoder,
        batch["input_ids"],
        batch["attention_mask"],
        proc,
        max_new_tokens=max(hi) + 1,
        sampling=sampling,
        generator=_generator(seed, model.device),
        decoder_start_id=_decoder_start(model),
        answer_prefix=[vocab.som_id],
        guidance=float(guidance),
    )
    out = []
    for row in rows[: len(prompts)]:
        segments = vocab.parse(row)
        assert len(segments) == 1, "the processor allows exactly one motion segment"
        out.append(torch.from_numpy(segments[0]))
    return out


@torch.no_grad()
def generate_text(
    model: MotionLanguageModel,
    prompts: Sequence[str],
    sampling: Sampling = GREEDY,
    seed: int | None = None,
    max_new_tokens: int | None = None,
    mode: Mode = "text",
    formatted: bool = False,
    motion_tokens: int | None = None,
    guidance: float = 1.0,
    uncond_prompts: Sequence[str] | None = None,
) -> list[list[int]]:
    """Prompts -> answer ids per row (``mode="text"``: no motion tokens; ``"chat"``: motions allowed).

    ``formatted=True``: prompts (and ``uncond_prompts``) are already laid out
    (``model.format_conversation``). ``motion_tokens``: every motion an answer writes has exactly that
    many codes (None: the config's range). ``guidance != 1`` guides those motions away from what
    ``uncond_prompts`` (one per prompt) would give (see :func:`decode`); the answers' text is the
    conditional rows' alone.
    """
    copies = _guidance_copies(guidance, uncond_prompts)
    if copies == 2 and len(uncond_prompts) != len(prompts):
        raise ValueError(f"got {len(prompts)} prompts but {len(uncond_prompts)} unconditional prompts")
    rows_in = list(prompts) + (list(uncond_prompts) if copies == 2 else [])
    batch = model.encode_prompts(rows_in, formatted=formatted)
    tok, cfg = model.tokenizer, model.cfg
    lo, hi = (cfg.min_motion_tokens, cfg.max_motion_tokens) if motion_tokens is None else (motion_tokens,) * 2
    proc = MotionLogitsProcessor(model.vocab, 0, [lo] * len(rows_in), [hi] * len(rows_in), mode,
                                 tok.pad_token_id, tok.eos_token_id)  # fmt: skip
    n = max_new_tokens or (cfg.max_text_tokens + (hi + 2 if mode == "chat" else 0))
    rows = decode(
        model.backbone,
        model.is_encoder_decoder,
        batch["input_ids"],
        batch["attention_mask"],
        proc,
        max_new_tokens=n,
        sampling=sampling,
        generator=_generator(seed, model.device),
        decoder_start_id=_decoder_start(model),
        guidance=float(guidance),
    )
    return rows[: len(prompts)]


def _decoder_start(model: MotionLanguageModel) -> int:
    start = getattr(model.base_model.config, "decoder_start_token_id", None)
    return int(start if start is not None else model.tokenizer.pad_token_id)


__all__ = [
    "GREEDY",
    "MotionLogitsProcessor",
    "Sampling",
    "decode",
    "generate_motion_ids",
    "generate_text",
    "seconds_to_tokens",
]
