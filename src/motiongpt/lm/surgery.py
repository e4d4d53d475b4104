"""Changes to a pretrained backbone before training: the motion rows of the vocabulary, the first
``keep_layers`` blocks kept, which weights train (``finetune="blocks"``) and the LoRA wrapper
(``finetune="lora"``). ``MotionLanguageModel`` applies them in that order."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from motiongpt.errors import ConfigError
from motiongpt.lm.backbone import cut_config, is_encoder_decoder
from motiongpt.lm.config import LMConfig
from motiongpt.lm.vocab import MotionVocab

# Attention projections LoRA targets by default, per family (first match wins).
_DEFAULT_TARGETS = (("q_proj", "v_proj"), ("q", "v"), ("c_attn",), ("query_key_value",), ("Wqkv",))


def _init_new_rows(weight: torch.Tensor, rows: range, n_old: int, noise: float, gen: torch.Generator) -> None:
    """Set ``weight[rows]`` to the mean of rows ``[0, n_old)`` plus N(0, (noise * their std)^2)."""
    old = weight.data[:n_old].float()
    mean, std = old.mean(0), old.std()
    new = mean + noise * std * torch.randn(len(rows), weight.shape[1], generator=gen)
    weight.data[rows.start : rows.stop] = new.to(weight.dtype)


def add_motion_tokens(backbone: Any, tokenizer: Any, cfg: LMConfig) -> MotionVocab:
    """Add the motion tokens to ``tokenizer`` (if absent), resize the backbone and initialise new rows."""
    had_tokens = True
    try:
        vocab = MotionVocab.bind(tokenizer, cfg.codebook_size)
    except ValueError:
        had_tokens = False
        vocab = MotionVocab(cfg.codebook_size).add_to(tokenizer)
    n_emb = backbone.get_input_embeddings().weight.shape[0]
    needed = vocab.id_range.stop
    if had_tokens and n_emb >= needed:
        return vocab  # a checkpoint that already holds trained rows
    if n_emb < needed:
        backbone.resize_token_embeddings(max(needed, len(tokenizer)), mean_resizing=False)
    gen = torch.Generator().manual_seed(cfg.init_seed)
    n_old = min(vocab.offset, n_emb)
    emb_in = backbone.get_input_embeddings().weight
    _init_new_rows(emb_in, vocab.id_range, n_old, cfg.new_token_noise, gen)
    out = backbone.get_output_embeddings()
    if out is not None and out.weight.data_ptr() != emb_in.data_ptr():
        _init_new_rows(out.weight, vocab.id_range, n_old, cfg.new_token_noise, gen)
    return vocab


def keep_layers(backbone: Any, n: int) -> None:
    """Keep only the first ``n`` transformer blocks of a decoder-only backbone (in place)."""
    inner = backbone.base_model  # e.g. LlamaModel
    layers = getattr(inner, "layers", None)
    if is_encoder_decoder(backbone) or not isinstance(layers, nn.ModuleList):
        raise ConfigError("keep_layers needs a decoder-only backbone whose blocks are a `layers` list")
    if n >= len(layers):
        return
    inner.layers = layers[:n]
    cut_config(backbone.config, n)


def train_blocks(backbone: Any, vocab: MotionVocab) -> None:
    """``finetune="blocks"``: every weight trains, but of the token embeddings (and an untied output
    layer) only the motion rows: a gradient hook zeroes the other rows' gradients."""
    rows = torch.zeros(backbone.get_input_embeddings().weight.shape[0], 1)
    rows[vocab.id_range.start : vocab.id_range.stop] = 1.0
    for p in backbone.parameters():
        p.requires_grad_(True)
    for weight in embedding_weights(backbone):
        weight.register_hook(lambda g, rows=rows: g * rows.to(g.device, g.dtype))


def embedding_weights(backbone: Any) -> list[nn.Parameter]:
    """The input embedding weight and, when untied, the output layer's."""
    emb_in, emb_out = backbone.get_input_embeddings(), backbone.get_output_embeddings()
    out = [emb_in.weight]
    if emb_out is not None and emb_out.weight.data_ptr() != emb_in.weight.data_ptr():
        out.append(emb_out.weight)
    return out


def _module_names(model: nn.Module) -> set[str]:
    return {name.rsplit(".", 1)[-1] for name, _ in model.named_modules()}


def _lora_targets(backbone: nn.Module, cfg: LMConfig) -> list[str]:
    names = _module_names(backbone)
    if cfg.lora_targets:
        missing = [t for t in cfg.lora_targets if t not in names]
        if missing:
            raise ConfigError(f"lora_targets {missing} are not modules of the backbone {cfg.backbone!r}")
        return list(cfg.lora_targets)
    for targets in _DEFAULT_TARGETS:
        if all(t in names for t in targets):
            return list(targets)
    raise ConfigError(f"cannot guess LoRA targets for backbone {cfg.backbone!r}; set lora_targets")


def _embedding_names(backbone: nn.Module) -> tuple[str, str | None]:
    """Module names of the input embedding and, when untied, of the output embedding."""
    emb_in, emb_out = backbone.get_input_embeddings(), backbone.get_output_embeddings()
    names = {id(m): n for n, m in backbone.named_modules()}
    in_name = names[id(emb_in)].rsplit(".", 1)[-1]
    untied = emb_out is not None and emb_out.weight.data_ptr() != emb_in.weight.data_ptr()
    return in_name, names[id(emb_out)].rsplit(".", 1)[-1] if untied else None


def wrap_lora(backbone: Any, cfg: LMConfig, vocab: MotionVocab) -> Any:
    from peft import LoraConfig, TaskType, get_peft_model

    ids = list(vocab.id_range)
    in_name, out_name = _embedding_names(backbone)
    token_indices = {in_name: ids} | ({out_name: ids} if out_name else {})
    peft_cfg = LoraConfig(
        r=cfg.lora_r,
        lora_alpha=cfg.lora_alpha,
        lora_dropout=cfg.lora_dropout,
        target_modules=_lora_targets(backbone, cfg),
        trainable_token_indices=token_indices,
        task_type=TaskType.SEQ_2_SEQ_LM if is_encoder_decoder(backbone) else TaskType.CAUSAL_LM,
    )
    return get_peft_model(backbone, peft_cfg)


__all__ = ["add_motion_tokens", "embedding_weights", "keep_layers", "train_blocks", "wrap_lora"]
