"""The text tokenizer of an inference-ready LM folder, read with the ``tokenizers`` library directly.

:class:`MotionLanguageModel <motiongpt.lm.model.MotionLanguageModel>` is the one owner of the text
layout (``format_prompt``, ``tokenize_prompt``, ``encode``); what it needs of a tokenizer is the small
:class:`TextTokenizer` protocol, which a transformers tokenizer satisfies and so does
:class:`LeanTokenizer`: the same ``tokenizer.json`` in the same Rust tokenizer, without importing
transformers (about a second of start-up).

:meth:`LeanTokenizer.from_dir` accepts only folders where transformers would use that file as it is:
a generic backend class (``TokenizersBackend`` / ``PreTrainedTokenizerFast``), no settings in
``tokenizer_config.json`` that change encoding or decoding, every named special token already an added
token, a post-processor, no truncation or padding in the file. Anything else raises
:class:`NotLean`, and the caller loads the transformers tokenizer instead.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

TOKENIZER_FILE = "tokenizer.json"
TOKENIZER_CONFIG = "tokenizer_config.json"
_CLASSES = {"TokenizersBackend", "PreTrainedTokenizerFast"}
_SPECIAL = ("bos_token", "eos_token", "unk_token", "pad_token", "sep_token", "cls_token", "mask_token")
# tokenizer_config.json keys that do not change how text is encoded or decoded here
_NEUTRAL = {"backend", "tokenizer_class", "model_max_length", "is_local", "local_files_only",
            "padding_side", "truncation_side", "model_input_names", "name_or_path"}  # fmt: skip
_FALSE_OR_ABSENT = ("clean_up_tokenization_spaces", "split_special_tokens")


class NotLean(ValueError):
    """Why a folder cannot take the lean path; the caller falls back to transformers."""


class TextTokenizer(Protocol):
    """What ``MotionLanguageModel`` and the pipeline use of a text tokenizer (a transformers tokenizer
    has all of it)."""

    pad_token_id: int | None
    eos_token_id: int | None
    unk_token_id: int | None
    chat_template: str | None

    def __call__(self, text: str, add_special_tokens: bool = True) -> Any: ...  # ``.input_ids``: list[int]

    def decode(self, ids: list[int], skip_special_tokens: bool = False) -> str: ...

    def convert_tokens_to_ids(self, tokens: str | list[str]) -> Any: ...


@dataclass(frozen=True)
class _Encoded:
    input_ids: list[int]


def _content(token: Any) -> str | None:
    """A special token as tokenizer_config.json writes it: a string or an AddedToken dict."""
    return token.get("content") if isinstance(token, dict) else token


class LeanTokenizer:
    """A ``tokenizers.Tokenizer`` with the :class:`TextTokenizer` members (inference only).

    Args:
        tokenizer: the Rust tokenizer, as read from ``tokenizer.json``.
        special: the named special tokens (``eos_token``, ``pad_token``, ...) -> their strings.
    """

    chat_template: str | None = None  # folders whose template is used take the transformers path
    padding_side = "left"

    def __init__(self, tokenizer: Any, special: dict[str, str]) -> None:
        self._tok = tokenizer
        for name, token in special.items():
            setattr(self, name, token)
            setattr(self, f"{name}_id", tokenizer.token_to_id(token))
        for name in _SPECIAL:
            if name not in special:
                setattr(self, name, None)
                setattr(self, f"{name}_id", None)

    @classmethod
    def from_dir(cls, directory: str | Path) -> LeanTokenizer:
        """Read ``tokenizer.json`` and ``tokenizer_config.json``; NotLean where transformers would
        encode or decode differently from the file as it is (see the module docstring)."""
        directory = Path(directory)
        try:
            config = json.loads((directory / TOKENIZER_CONFIG).read_text())
            from tokenizers import Tokenizer

            tokenizer = Tokenizer.from_file(str(directory / TOKENIZER_FILE))
        except Exception as e:  # OSError, JSON errors, the Rust parser's own exception type
            raise NotLean(f"cannot read the tokenizer files: {e}") from None
        if config.get("tokenizer_class") not in _CLASSES:
            raise NotLean(f"tokenizer_class {config.get('tokenizer_class')!r} is not {sorted(_CLASSES)}")
        for key in _FALSE_OR_ABSENT:
            if config.get(key):
                raise NotLean(f"tokenizer_config.json sets {key}")
        if config.get("extra_special_tokens"):
            raise NotLean("tokenizer_config.json has extra_special_tokens")
        other = set(config) - _NEUTRAL - set(_SPECIAL) - set(_FALSE_OR_ABSENT)
        other -= {"extra_special_tokens", "chat_template"}
        if other:
            raise NotLean(f"tokenizer_config.json has settings {sorted(other)}")
        if tokenizer.truncation or tokenizer.padding or tokenizer.post_processor is None:
            raise NotLean("tokenizer.json has truncation, padding or no post-processor")
        added = {t.content for t in tokenizer.get_added_tokens_decoder().values()}
        special = {name: _content(config[name]) for name in _SPECIAL if config.get(name) is not None}
        missing = sorted(t for t in special.values() if t not in added)
        if missing:
            raise NotLean(f"special tokens {missing} are not added tokens of tokenizer.json")
        if special.get("pad_token") is None:
            if special.get("eos_token") is None:
                raise NotLean("the tokenizer has neither a pad nor an eos token")
            special["pad_token"] = special["eos_token"]  # as lm.backbone.load_backbone does
        if tokenizer.get_vocab_size() > 100_000:
            raise NotLean("a vocabulary over 100,000 tokens (transformers may patch its pre-tokenizer)")
        tokenizer.encode_special_tokens = False
        return cls(tokenizer, special)

    def __call__(self, text: str, add_special_tokens: bool = True) -> _Encoded:
        if not isinstance(text, str):
            raise TypeError(f"text must be a string, got {type(text).__name__}")
        return _Encoded(self._tok.encode(text, add_special_tokens=add_special_tokens).ids)

    def decode(self, ids: list[int], skip_special_tokens: bool = False) -> str:
        return self._tok.decode(list(ids), skip_special_tokens=skip_special_tokens)

    def convert_tokens_to_ids(self, tokens: str | list[str]) -> Any:
        if isinstance(tokens, str):
            found = self._tok.token_to_id(tokens)
            return self.unk_token_id if found is None else found
        return [self.convert_tokens_to_ids(t) for t in tokens]

    def __len__(self) -> int:
        return self._tok.get_vocab_size(with_added_tokens=True)


__all__ = ["LeanTokenizer", "NotLean", "TextTokenizer"]
