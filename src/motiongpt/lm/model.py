"""``MotionLanguageModel``: a backbone LM whose vocabulary also holds the K + 3 motion tokens.

A plain ``nn.Module`` holding the Hugging Face backbone (T5 or a causal LM, optionally wrapped by peft
LoRA), its tokenizer and the bound :class:`MotionVocab`. ``forward(input_ids, attention_mask, labels)``
returns the backbone's output (``.loss``, ``.logits``).

Prompt/answer layout. The model owns the text contract between training and inference:
:meth:`MotionLanguageModel.encode` turns ``(prompt, answer, history)`` into token ids for the training
collator (``lm/collate.py``) and, without an answer, for generation (:meth:`encode_prompts`), so both
read the same ids:

- encoder-decoder: encoder ``prompt</s>``; decoder labels ``answer</s>``.
- causal: ``format_prompt(prompt) + answer + eos``; the prompt is the tokenizer's chat template with one
  user turn when it has one (``LMConfig.chat_template``), else ``prompt + "\\n"``; labels are -100 on
  the prompt. Earlier turns (``history``) are laid out by :meth:`format_conversation`.
- special tokens: a prompt laid out by the chat template already holds them; otherwise the tokenizer
  adds its own (:meth:`tokenize_prompt`). Raw language-model data (:meth:`encode_raw`) gets none but
  T5's ``</s>``.

Checkpoint folder (``save_pretrained``): ``config.yaml`` (LMConfig), the tokenizer files, and one of
the whole backbone (``config.json`` + ``model.safetensors``, ``finetune="full"``); only the LoRA
adapter with the motion-token rows (``adapter_config.json`` + ``adapter_model.safetensors``, a few MB);
or the transformer blocks and the motion-token rows (``blocks.safetensors``, ``finetune="blocks"``).
The last two re-load the base from ``LMConfig.backbone`` (cut to ``keep_layers``).

Training loss (:meth:`MotionLanguageModel.loss`): cross-entropy over the answer tokens. Where the label is a
motion code or ``<eom>`` (inside a motion) the softmax runs over the K + 2 motion rows only, which is
what constrained decoding samples from; elsewhere (text, ``<som>``, eos) over the whole vocabulary.
For a decoder-only backbone this also skips most of the output layer's cost.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from motiongpt._io import atomic_dir, atomic_path
from motiongpt.errors import CheckpointError, ConfigError, InvalidRequestError
from motiongpt.lm.backbone import is_encoder_decoder, load_backbone
from motiongpt.lm.config import LMConfig
from motiongpt.lm.surgery import add_motion_tokens, embedding_weights, keep_layers, train_blocks, wrap_lora
from motiongpt.lm.text_tokenizer import TextTokenizer
from motiongpt.lm.vocab import MotionVocab

log = logging.getLogger(__name__)

CONFIG_NAME = "config.yaml"
ADAPTER_CONFIG = "adapter_config.json"
BLOCKS_FILE = "blocks.safetensors"
_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
IGNORE = -100  # label of positions without loss


@dataclass(frozen=True)
class Encoded:
    """A tokenised example (unpadded lists).

    Attributes:
        input_ids: causal: prompt + answer + eos; encoder-decoder: the prompt (encoder input).
        labels: causal: :data:`IGNORE` on the prompt, then the answer ids; encoder-decoder: the answer
            ids; empty without an answer (inference).
        n_prompt: how many ids of ``input_ids`` are the prompt.
    """

    input_ids: list[int]
    labels: list[int]
    n_prompt: int

    def as_dict(self) -> dict[str, list[int]]:
        return {"input_ids": self.input_ids, "labels": self.labels}


@dataclass
class LMOutput:
    """What ``MotionLanguageModel.loss`` returns.

    Attributes:
        loss: mean cross-entropy over the answer tokens (see the module docstring).
        motion_logits: ``(M, K + 2)`` logits over the motion rows at the M positions whose label is a
            code or ``<eom>``.
        motion_labels: ``(M,)`` those labels as columns of ``motion_logits`` (code i -> i, eom -> K + 1).
    """

    loss: torch.Tensor
    motion_logits: torch.Tensor
    motion_labels: torch.Tensor


class _HalfGemvLinear(nn.Module):
    """An ``nn.Linear`` whose calls with a few rows use a float16 copy of its weight (inference only).

    Decoding at batch 1 multiplies every weight matrix by one vector per token (two with guidance); on
    CPU that is bound by memory traffic, and the float16 kernel reads half the bytes and runs ~3x
    faster than float32 (measured on this project's CPU). Inputs and outputs stay float32 (norms,
    residuals and attention too); calls with more rows (prompts, training) use the float32 weight.
    The float16 copy is made at the first such call: a Llama-family model decodes through
    ``lm/llama_step.py`` (its own packed copy) and never makes it.
    """

    max_rows: ClassVar[int] = 2

    enabled: ClassVar[bool] = True  # benchmarks switch the float16 path off to compare

    def __init__(self, linear: nn.Linear) -> None:
        super().__init__()
        self.in_features, self.out_features = linear.in_features, linear.out_features
        self.weight, self.bias = linear.weight, linear.bias
        self._half: tuple[torch.Tensor, torch.Tensor | None] | None = None  # (weight, bias) float16

    def _half_weights(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        half = self._half
        if half is None or half[0].device != self.weight.device:
            bias = None if self.bias is None else self.bias.detach().half()
            half = self._half = (self.weight.detach().half(), bias)
        return half

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rows = x.numel() // self.in_features
        if self.enabled and rows <= self.max_rows and x.dtype == torch.float32:
            weight, bias = self._half_weights()
            y = F.linear(x.reshape(rows, -1).half(), weight, bias)  # (rows, out)
            return y.float().reshape(*x.shape[:-1], self.out_features)
        return F.linear(x, self.weight, self.bias)


# --- the model ----------------------------------------------------------------------------------------
class MotionLanguageModel(nn.Module):
    """Backbone LM + tokenizer + bound :class:`MotionVocab`.

    Args:
        cfg: the model config; the backbone is loaded from ``cfg.backbone`` unless given.
        backbone, tokenizer: an already loaded HF model and tokenizer to use instead (both or neither);
            or the inference-only ``LeanLlama`` and ``LeanTokenizer`` of ``lm/lean.py``. The tokenizer
            is used only through :class:`~motiongpt.lm.text_tokenizer.TextTokenizer`.
    """

    def __init__(self, cfg: LMConfig, backbone: Any = None, tokenizer: Any = None) -> None:
        super().__init__()
        if not isinstance(cfg, LMConfig):
            raise TypeError(f"cfg must be an LMConfig, got {type(cfg).__name__}")
        if (backbone is None) != (tokenizer is None):
            raise ValueError("pass both backbone and tokenizer, or neither")
        if backbone is None:
            backbone, tokenizer = load_backbone(cfg.backbone, _DTYPES[cfg.dtype], cfg.keep_layers)
        self.cfg = cfg
        self.tokenizer: TextTokenizer = tokenizer
        if getattr(backbone, "inference_only", False):  # lm/lean.py: already cut, holds the motion rows
            self.vocab = MotionVocab.bind(tokenizer, cfg.codebook_size)
            self.backbone = backbone
            return
        if cfg.keep_layers and not hasattr(backbone, "peft_config"):
            keep_layers(backbone, cfg.keep_layers)
        self.vocab = add_motion_tokens(backbone, tokenizer, cfg)
        if cfg.finetune == "lora" and not hasattr(backbone, "peft_config"):
            backbone = wrap_lora(backbone, cfg, self.vocab)
        elif cfg.finetune == "blocks":
            train_blocks(backbone, self.vocab)
        self.backbone = backbone

    # --- properties -------------------------------------------------------------------------------
    @property
    def is_encoder_decoder(self) -> bool:
        return is_encoder_decoder(self.base_model)

    @property
    def base_model(self) -> Any:
        """The transformers model, without a peft wrapper."""
        bb = self.backbone
        return bb.get_base_model() if hasattr(bb, "peft_config") else bb

    @property
    def inference_only(self) -> bool:
        """Loaded by ``lm/lean.py``: decodes, but has no forward pass, training or saving."""
        return bool(getattr(self.backbone, "inference_only", False))

    @property
    def is_lora(self) -> bool:
        return hasattr(self.backbone, "peft_config")

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def num_parameters(self, trainable_only: bool = False) -> int:
        return sum(p.numel() for p in self.parameters() if p.requires_grad or not trainable_only)

    # --- text layout ------------------------------------------------------------------------------
    def _uses_chat_template(self) -> bool:
        return (
            self.cfg.chat_template
            and not self.is_encoder_decoder
            and bool(getattr(self.tokenizer, "chat_template", None))
        )

    def format_prompt(self, prompt: str) -> str:
        """The exact text the model reads before its answer (see the module docstring)."""
        if self.is_encoder_decoder:
            return prompt
        if self._uses_chat_template():
            return self.tokenizer.apply_chat_template(
                [{"role": "user", "content": prompt}], add_generation_prompt=True, tokenize=False
            )
        return prompt + "\n"

    def format_conversation(self, history: Sequence[tuple[str, str]], prompt: str) -> str:
        """The text before the answer of a multi-turn exchange (earlier ``(user, assistant)`` turns).

        With a chat template: the turns as user/assistant messages; otherwise the turns joined as
        ``user\nassistant\n`` lines in front of the last prompt, then :meth:`format_prompt`.
        """
        if not history:
            return self.format_prompt(prompt)
        if self._uses_chat_template():
            messages = []
            for p, a in history:
                messages += [{"role": "user", "content": p}, {"role": "assistant", "content": a}]
            messages.append({"role": "user", "content": prompt})
            return self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        return self.format_prompt("".join(f"{p}\n{a}\n" for p, a in history) + prompt)

    def tokenize_prompt(self, text: str) -> list[int]:
        """The ids of a prompt already laid out (:meth:`format_prompt` / :meth:`format_conversation`).

        The one special-token rule: a chat template's text already holds its special tokens, so the
        tokenizer adds none; otherwise (plain layout, T5) it adds its own (T5's ``</s>``).
        """
        special = self.is_encoder_decoder or not self._uses_chat_template()
        return self.tokenizer(text, add_special_tokens=special).input_ids

    def _answer_ids(self, answer: str) -> list[int]:
        """``answer</s>`` (T5) or ``answer`` + eos (causal), no other special tokens."""
        if self.is_encoder_decoder:
            return self.tokenizer(answer).input_ids  # ends with </s>
        return self.tokenizer(answer, add_special_tokens=False).input_ids + [self.tokenizer.eos_token_id]

    def _check_prompt(self, prompt: str, ids: list[int]) -> None:
        if len(ids) > self.cfg.max_prompt_tokens:
            raise InvalidRequestError(
                f"prompt is {len(ids)} tokens, more than max_prompt_tokens={self.cfg.max_prompt_tokens}: "
                f"{prompt[:60]!r}..."
            )

    def encode(
        self,
        prompt: str,
        answer: str | None = None,
        history: Sequence[tuple[str, str]] = (),
        check: bool = True,
    ) -> Encoded:
        """The ids of the user's ``prompt`` after earlier ``(user, assistant)`` turns and, for training,
        of its ``answer``: the one text layout training and inference share (see the module docstring).

        ``check`` (inference): InvalidRequestError on an empty prompt or one over ``max_prompt_tokens``;
        the training collator passes False and cuts long examples itself.
        """
        if check and (not isinstance(prompt, str) or not prompt.strip()):
            raise InvalidRequestError(f"prompt must be a non-empty string, got {prompt!r}")
        p = self.tokenize_prompt(self.format_conversation(history, prompt))
        if check:
            self._check_prompt(prompt, p)
        if answer is None:
            return Encoded(p, [], len(p))
        a = self._answer_ids(answer)
        if self.is_encoder_decoder:
            return Encoded(p, a, len(p))
        return Encoded(p + a, [IGNORE] * len(p) + a, len(p))

    def encode_raw(self, text: str, target: str) -> Encoded:
        """Raw language-model data (stage-2 unsupervised examples), no chat layout.

        Encoder-decoder: ``text</s>`` -> ``target</s>``. Causal: ``text + target + eos`` with the loss on
        ``target + eos``; with an empty ``text``, next-token prediction over the whole ``target``.
        """
        a = self._answer_ids(target)
        if self.is_encoder_decoder:
            p = self.tokenizer(text).input_ids
            return Encoded(p, a, len(p))
        p = self.tokenizer(text, add_special_tokens=False).input_ids if text else []
        return Encoded(p + a, [IGNORE] * len(p) + a, len(p))

    def encode_example(self, prompt: str, answer: str) -> dict[str, list[int]]:
        """One training example: ``{"input_ids", "labels"}`` (unpadded lists), ``encode(prompt, answer)``.

        Causal: ``input_ids = prompt + answer + eos`` and ``labels`` are -100 on the prompt. Encoder-
        decoder: ``input_ids = prompt``, ``labels = answer``. Pad with :meth:`pad` or your own collate
        (labels with -100, input_ids with ``tokenizer.pad_token_id``, causal on the left).
        """
        return self.encode(prompt, answer).as_dict()

    def encode_prompts(self, prompts: Sequence[str], formatted: bool = False) -> dict[str, torch.Tensor]:
        """Batch of prompts -> padded ``input_ids (B, L)``, ``attention_mask (B, L)`` on the model device.

        ``formatted=True``: the prompts are already laid out (:meth:`format_conversation`).
        Raises InvalidRequestError on an empty prompt or one longer than ``max_prompt_tokens``.
        """
        if isinstance(prompts, str) or not prompts:
            raise InvalidRequestError(f"prompts must be a non-empty list of strings, got {prompts!r}")
        rows = []
        for p in prompts:
            if not formatted:
                rows.append({"input_ids": self.encode(p).input_ids})
                continue
            if not isinstance(p, str) or not p.strip():
                raise InvalidRequestError(f"prompt must be a non-empty string, got {p!r}")
            ids = self.tokenize_prompt(p)
            self._check_prompt(p, ids)
            rows.append({"input_ids": ids})
        return self.pad(rows)

    def pad(self, examples: Sequence[dict[str, list[int]]]) -> dict[str, torch.Tensor]:
        """Pad examples from :meth:`encode_example` / prompts: causal on the left, T5 on the right."""
        if not examples:
            raise ValueError("need at least one example")
        left = not self.is_encoder_decoder
        pad_id = self.tokenizer.pad_token_id
        out: dict[str, torch.Tensor] = {}
        for key, fill in (("input_ids", pad_id), ("labels", IGNORE)):
            if key not in examples[0]:
                continue
            seqs = [ex[key] for ex in examples]
            width = max(len(s) for s in seqs)
            rows = [
                ([fill] * (width - len(s)) + s) if left else (s + [fill] * (width - len(s))) for s in seqs
            ]
            out[key] = torch.tensor(rows, dtype=torch.long, device=self.device)
            if key == "input_ids":
                mask = [
                    ([0] * (width - len(s)) + [1] * len(s))
                    if left
                    else ([1] * len(s) + [0] * (width - len(s)))
                    for s in seqs
                ]
                out["attention_mask"] = torch.tensor(mask, dtype=torch.long, device=self.device)
        return out

    # --- forward ----------------------------------------------------------------------------------
    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        **kwargs: Any,
    ) -> Any:
        """``input_ids (B, L)``, ``attention_mask (B, L)``, ``labels (B, L')`` -> HF output with ``.loss``."""
        return self.backbone(input_ids=input_ids, attention_mask=attention_mask, labels=labels, **kwargs)

    def loss(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, labels: torch.Tensor) -> LMOutput:
        """The training loss of a batch (``(B, L)`` each; labels -100 where there is no loss): inside a
        motion over the motion rows only (see the module docstring)."""
        if self.is_encoder_decoder or self.is_lora:  # full logits from the backbone (peft wraps the head)
            out = self.backbone(input_ids=input_ids, attention_mask=attention_mask, labels=labels)
            logits = out.logits if self.is_encoder_decoder else out.logits[:, :-1]
            labels = labels if self.is_encoder_decoder else labels[:, 1:]
            inside = self._inside_motion(labels)
            cols = slice(self.vocab.offset, self.vocab.offset + self.vocab.codebook_size + 2)
            return LMOutput(out.loss, logits[inside][:, cols], labels[inside] - self.vocab.offset)
        base = self.base_model
        hidden = base.base_model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        h, y = hidden[:, :-1], labels[:, 1:]  # position t predicts token t + 1; (B, L-1, D), (B, L-1)
        inside = self._inside_motion(y)
        text = (y != IGNORE) & ~inside
        weight = base.get_output_embeddings().weight  # (V, D)
        off, K = self.vocab.offset, self.vocab.codebook_size
        motion_logits = h[inside] @ weight[off : off + K + 2].T  # (M, K + 2)
        motion_labels = y[inside] - off
        total = F.cross_entropy(motion_logits.float(), motion_labels, reduction="sum")
        if bool(text.any()):
            total = total + F.cross_entropy((h[text] @ weight.T).float(), y[text], reduction="sum")
        loss = total / (inside.sum() + text.sum()).clamp(min=1)
        return LMOutput(loss, motion_logits, motion_labels)

    def _inside_motion(self, labels: torch.Tensor) -> torch.Tensor:
        """Where a label is a motion code or ``<eom>`` (what a motion's constrained decoding picks)."""
        off, K = self.vocab.offset, self.vocab.codebook_size
        return ((labels >= off) & (labels < off + K)) | (labels == self.vocab.eom_id)

    def merge_lora(self) -> MotionLanguageModel:
        """Fold LoRA and the trained token rows into the base weights (faster inference; no more training)."""
        if self.is_lora:
            self.backbone = self.backbone.merge_and_unload()
        return self

    def optimize_for_inference(self, half_gemv: bool = True) -> MotionLanguageModel:
        """Merge LoRA and, with ``half_gemv``, give every float32 linear layer of the transformer blocks
        (not the embeddings / output layer) a float16 copy for one-row calls (see ``_HalfGemvLinear``;
        +50% weight memory, ~2x faster decoding at batch 1 on CPU, logits within ~1e-2).
        The model is for inference afterwards: do not train it.
        """
        self.merge_lora().eval()
        base = self.base_model
        if self.inference_only or not half_gemv or next(base.parameters()).dtype != torch.float32:
            return self
        skip = {id(base.get_output_embeddings())}
        for name, module in list(base.named_modules()):
            for child_name, child in list(module.named_children()):
                if type(child) is nn.Linear and id(child) not in skip:
                    setattr(module, child_name, _HalfGemvLinear(child))
        return self

    # --- checkpoints ------------------------------------------------------------------------------
    def save_pretrained(self, directory: str | os.PathLike) -> Path:
        """Write the folder atomically (into ``<dir>.tmp``, then rename); LoRA saves only the adapter."""
        directory = Path(directory)
        if self.inference_only:
            raise CheckpointError(
                "this language model was loaded for inference only (lm/lean.py) and cannot be saved; "
                "load it with MotionLanguageModel.from_pretrained to save it"
            )
        with atomic_dir(directory) as tmp:
            if self.is_lora:
                self.backbone.save_pretrained(tmp, save_embedding_layers=False)
            elif self.cfg.finetune == "blocks":
                self._save_blocks(tmp / BLOCKS_FILE)
            else:
                self.backbone.save_pretrained(tmp)
            self.tokenizer.save_pretrained(tmp)
            finetune = "lora" if self.is_lora else "blocks" if self.cfg.finetune == "blocks" else "full"
            cfg = dataclasses.replace(self.cfg, finetune=finetune)
            cfg.to_yaml(tmp / CONFIG_NAME)
        return directory

    def _blocks_state(self) -> dict[str, torch.Tensor]:
        """The weights ``finetune="blocks"`` saves: all but the token embeddings, plus their motion rows."""
        base = self.base_model
        embeddings = {id(w) for w in embedding_weights(base)}
        names = {id(p): n for n, p in base.named_parameters(remove_duplicate=False)}
        rows = slice(self.vocab.id_range.start, self.vocab.id_range.stop)
        state = {n: p for n, p in base.named_parameters() if id(p) not in embeddings}
        state |= {f"{names[id(w)]}.motion_rows": w[rows] for w in embedding_weights(base)}
        return state

    def _save_blocks(self, path: Path) -> None:
        from safetensors.torch import save_file

        dtype = _DTYPES[self.cfg.export_dtype]
        state = {n: t.detach().to("cpu", dtype).contiguous() for n, t in self._blocks_state().items()}
        with atomic_path(path) as tmp:
            save_file(state, str(tmp), metadata={"format": "pt"})

    def _load_blocks(self, path: Path) -> None:
        from safetensors.torch import load_file

        try:
            saved = load_file(str(path))
        except Exception as e:  # safetensors raises its own error types on corrupt files
            raise CheckpointError(f"{path}: cannot read the weights: {e}") from None
        target = self._blocks_state()
        if set(saved) != set(target):
            diff = sorted(set(saved) ^ set(target))
            raise CheckpointError(f"{path}: weights do not match this model's blocks (differ: {diff[:4]})")
        with torch.no_grad():
            for name, param in target.items():
                if saved[name].shape != param.shape:
                    raise CheckpointError(
                        f"{path}: {name} has shape {tuple(saved[name].shape)}, the model {tuple(param.shape)}"
                    )
                param.copy_(saved[name].to(param.dtype))

    @classmethod
    def from_pretrained(cls, directory: str | os.PathLike, dtype: str | None = None) -> MotionLanguageModel:
        """Load a folder written by :meth:`save_pretrained`; CheckpointError if it is not one."""
        directory = Path(directory)
        if not (directory / CONFIG_NAME).is_file():
            raise CheckpointError(
                f"{directory}: not a motion language model folder ({CONFIG_NAME} is missing)"
            )
        try:
            cfg = LMConfig.from_yaml(directory / CONFIG_NAME)
        except ConfigError as e:
            raise CheckpointError(f"{directory / CONFIG_NAME}: {e}") from None
        if dtype is not None:
            cfg = dataclasses.replace(cfg, dtype=dtype)
        weights = {"lora": ADAPTER_CONFIG, "blocks": BLOCKS_FILE, "full": "config.json"}[cfg.finetune]
        if not (directory / weights).is_file():
            raise CheckpointError(
                f"{directory}: config says finetune={cfg.finetune!r} but {weights} is missing"
            )
        from transformers import AutoTokenizer

        try:
            tokenizer = AutoTokenizer.from_pretrained(directory, local_files_only=True)
        except (OSError, ValueError) as e:
            raise CheckpointError(f"{directory}: cannot read the tokenizer: {e}") from None
        try:
            MotionVocab.bind(tokenizer, cfg.codebook_size)
        except ValueError as e:
            raise CheckpointError(f"{directory}: the tokenizer has no motion tokens ({e})") from None
        if cfg.finetune == "blocks":
            base, base_tok = load_backbone(cfg.backbone, _DTYPES[cfg.dtype], cfg.keep_layers)
            tokenizer.padding_side = base_tok.padding_side
            model = cls(cfg, base, tokenizer)  # cut to keep_layers, resized
            model._load_blocks(directory / BLOCKS_FILE)
        elif cfg.finetune == "lora":
            base, base_tok = load_backbone(cfg.backbone, _DTYPES[cfg.dtype], cfg.keep_layers)
            tokenizer.padding_side = base_tok.padding_side
            model = cls(dataclasses.replace(cfg, finetune="full"), base, tokenizer)  # resized, rows init
            from peft import PeftModel

            try:
                model.backbone = PeftModel.from_pretrained(model.backbone, directory, is_trainable=True)
            except Exception as e:
                raise CheckpointError(f"{directory}: cannot load the LoRA adapter: {e}") from None
            model.cfg = cfg
        else:
            backbone, tokenizer = load_backbone(directory, dtype=_DTYPES[cfg.dtype])
            model = cls(cfg, backbone, tokenizer)
        n_emb = model.base_model.get_input_embeddings().weight.shape[0]
        if n_emb < model.vocab.id_range.stop:
            raise CheckpointError(
                f"{directory}: embedding has {n_emb} rows, the motion tokens need {model.vocab.id_range.stop}"
            )
        return model.eval()


__all__ = ["MotionLanguageModel"]
