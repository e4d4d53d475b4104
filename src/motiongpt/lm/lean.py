"""Inference without transformers: a Llama-family LM folder read straight into :class:`LlamaStep`.

``load_lean(directory, cfg)`` turns a folder in the transformers format (``config.json``, one
``model.safetensors``, ``tokenizer.json``) — the inference cache entry of a blocks or LoRA checkpoint,
or a full checkpoint — into a ``MotionLanguageModel`` whose backbone is :class:`LeanLlama` and whose
tokenizer is a :class:`~motiongpt.lm.text_tokenizer.LeanTokenizer`. Nothing imports transformers,
``torch._dynamo`` or ``torch.distributed`` (importing transformers' Llama code was ~2 s of the CLI's
start-up). The weights are memory-mapped from the safetensors file: the embeddings and the output rows
are read where they are used (a motion reads only the motion rows of the output layer), and the block
matrices once, when they are packed as float16 for the step; there is no float32 copy of the blocks.

The same weights, packing and step as a transformers model prepared by ``optimize_for_inference``, so
the same tokens for the same seed (``tests/test_lm_lean.py``). It only decodes (``generation.decode``
runs every prompt pass and step through ``backbone.llama_step``); training, LoRA, encoder-decoder and
other backbones, chat templates, and models it does not know raise :class:`NotLean` here and take the
transformers path.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import torch
from torch import nn

from motiongpt.lm.config import LMConfig
from motiongpt.lm.llama_step import LlamaShape, LlamaStep, _fp16_ops, default_rotary
from motiongpt.lm.text_tokenizer import LeanTokenizer, NotLean
from motiongpt.lm.vocab import MotionVocab

log = logging.getLogger(__name__)

WEIGHTS = "model.safetensors"
_ROPE_KEYS = {"rope_type", "rope_theta"}


def _frozen(weight: torch.Tensor) -> nn.Parameter:
    return weight if isinstance(weight, nn.Parameter) else nn.Parameter(weight, requires_grad=False)


class _Head(nn.Linear):
    """An ``nn.Linear`` without bias around a given weight ``(V, D)``. Built without initialising a
    weight: even on ``meta`` that imports ``torch._dynamo`` (about a second)."""

    def __init__(self, weight: torch.Tensor) -> None:
        nn.Module.__init__(self)
        self.out_features, self.in_features = weight.shape
        self.weight = _frozen(weight)
        self.register_parameter("bias", None)


class LeanLlama(nn.Module):
    """An inference-only Llama decoder: embeddings, the output layer and a :class:`LlamaStep`.

    It has what decoding and ``MotionLanguageModel`` read of a transformers model (``config``,
    ``get_input_embeddings``, ``get_output_embeddings``) and no forward pass of its own.
    """

    inference_only = True  # MotionLanguageModel: no resizing, cutting, LoRA or training

    def __init__(self, step: LlamaStep, head: torch.Tensor, n_vocab: int) -> None:
        super().__init__()
        D = step.embed.shape[1]
        self.config = SimpleNamespace(
            is_encoder_decoder=False, decoder_start_token_id=None, num_hidden_layers=len(step.blocks),
            vocab_size=n_vocab,
        )  # fmt: skip
        self.embed_tokens = nn.Embedding(n_vocab, D, _weight=_frozen(step.embed), _freeze=True)
        tied = head.data_ptr() == step.embed.data_ptr()
        self.lm_head = _Head(self.embed_tokens.weight if tied else head)
        self.norm = _frozen(step.norm)
        self.llama_step = step

    def get_input_embeddings(self) -> nn.Module:
        return self.embed_tokens

    def get_output_embeddings(self) -> nn.Module:
        return self.lm_head

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError(
            "this language model was loaded for inference only (lm/lean.py): it decodes through "
            "motiongpt.lm.generation; load it with MotionLanguageModel.from_pretrained for a forward pass"
        )

    def train(self, mode: bool = True) -> LeanLlama:
        if mode:
            raise TypeError("a model loaded for inference only (lm/lean.py) cannot be trained")
        return super().train(False)


def _shape(config: dict[str, Any], keep_layers: int) -> tuple[LlamaShape, Any, bool]:
    """``config.json`` -> (shape, rotary, tied); NotLean for anything the step does not compute."""
    if config.get("architectures") != ["LlamaForCausalLM"] or config.get("model_type") != "llama":
        raise NotLean(f"architecture {config.get('architectures')} is not LlamaForCausalLM")
    if config.get("hidden_act", "silu") != "silu" or config.get("attention_bias") or config.get("mlp_bias"):
        raise NotLean("an activation other than SiLU or biases in the blocks")
    if config.get("pretraining_tp", 1) != 1 or config.get("rope_scaling"):
        raise NotLean("pretraining_tp or rope_scaling is set")
    rope = config.get("rope_parameters") or {"rope_theta": config.get("rope_theta", 10000.0)}
    if rope.get("rope_type", "default") != "default" or set(rope) - _ROPE_KEYS:
        raise NotLean(f"rotary embedding {rope} is not the default one")
    n_heads, n_layers = int(config["num_attention_heads"]), int(config["num_hidden_layers"])
    head_dim = config.get("head_dim") or config["hidden_size"] // n_heads
    shape = LlamaShape(
        n_layers=min(keep_layers, n_layers) if keep_layers else n_layers,
        n_heads=n_heads,
        n_kv=int(config.get("num_key_value_heads") or n_heads),
        head_dim=int(head_dim),
        eps=float(config.get("rms_norm_eps", 1e-6)),
    )
    rotary = default_rotary(float(rope["rope_theta"]), int(head_dim))
    return shape, rotary, bool(config.get("tie_word_embeddings"))


def _tensors(path: Path) -> dict[str, torch.Tensor]:
    """Every tensor of a safetensors file, memory-mapped (float32; other dtypes are converted)."""
    from safetensors import safe_open

    out = {}
    with safe_open(str(path), framework="pt") as f:
        for name in f.keys():
            t = f.get_tensor(name)
            out[name] = t if t.dtype == torch.float32 else t.float()
    return out


def _has_chat_template(directory: Path) -> bool:
    if (directory / "chat_template.jinja").is_file():
        return True
    try:
        return bool(json.loads((directory / "tokenizer_config.json").read_text()).get("chat_template"))
    except (OSError, ValueError):
        return False


def load_lean(directory: str | Path, cfg: LMConfig) -> Any:
    """The ``MotionLanguageModel`` of a transformers-format Llama folder without transformers (see the
    module docstring), for inference; NotLean where this path does not apply."""
    from motiongpt.lm.model import MotionLanguageModel

    directory = Path(directory)
    if cfg.dtype != "float32":
        raise NotLean(f"dtype {cfg.dtype!r} (the step reads float32 weights)")
    if not _fp16_ops():
        raise NotLean("this torch has no FBGEMM fp16 ops (not x86)")
    try:
        config = json.loads((directory / "config.json").read_text())
    except (OSError, ValueError) as e:
        raise NotLean(f"cannot read config.json: {e}") from None
    if not (directory / WEIGHTS).is_file():
        raise NotLean(f"no single {WEIGHTS} (sharded or other weights)")
    if cfg.chat_template and _has_chat_template(directory):
        raise NotLean("the prompts use the tokenizer's chat template (rendered by transformers)")
    shape, rotary, tied = _shape(config, cfg.keep_layers)
    tokenizer = LeanTokenizer.from_dir(directory)
    try:
        vocab = MotionVocab.bind(tokenizer, cfg.codebook_size)
    except ValueError as e:
        raise NotLean(f"the tokenizer has no motion tokens ({e})") from None
    tensors = _tensors(directory / WEIGHTS)
    prefix = "model."
    layers = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix + "layers.")}
    try:
        embed, norm = tensors[prefix + "embed_tokens.weight"], tensors[prefix + "norm.weight"]
        head = embed if tied else tensors["lm_head.weight"]
        step = LlamaStep(shape, embed, norm, layers, rotary)
    except KeyError as e:
        raise NotLean(f"{WEIGHTS} has no tensor {e}") from None
    if embed.shape[0] < vocab.id_range.stop:
        raise NotLean(f"embedding has {embed.shape[0]} rows, the motion tokens need {vocab.id_range.stop}")
    backbone = LeanLlama(step, head, embed.shape[0])
    return MotionLanguageModel(cfg, backbone, tokenizer).eval()


__all__ = ["LeanLlama", "NotLean", "load_lean"]
