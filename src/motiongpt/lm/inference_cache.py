"""The inference-ready language model, cached on disk.

A bundle's LM saved as fine-tuned blocks or a LoRA adapter is loaded for inference the long way: the
base model (float32), a second tokenizer, embeddings resized for the motion tokens, the saved weights
read over them and LoRA merged. :func:`load_for_inference` does that once and writes the result as one
plain transformers folder (``config.json``, float32 ``model.safetensors``, the tokenizer, and the LM's
``config.yaml`` with ``finetune: full``) under ``$MOTIONGPT_CACHE`` (default ``~/.cache/motiongpt``)
``/inference/<key>``; later loads read that folder: the same weights, so the same outputs.

The key covers the LM folder and its base model (each file's name, size and modification time) and the
motiongpt, torch and transformers versions: a changed checkpoint gets a new entry, and the entry left
behind by the same folder (or by a folder that no longer exists) is removed. An entry is written
atomically; a cache that cannot be written (a read-only home) or read (a damaged entry) is passed over,
and the model is loaded the long way.

:func:`load_lean_for_inference` reads an entry of a Llama-family model without transformers
(``lm/lean.py``); ``MotionGPT.from_pretrained`` tries it first.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import shutil
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from motiongpt._io import atomic_dir
from motiongpt.errors import CheckpointError, ConfigError
from motiongpt.lm.backbone import cache_root, load_backbone, resolve_backbone
from motiongpt.lm.config import LMConfig
from motiongpt.lm.model import CONFIG_NAME, MotionLanguageModel

log = logging.getLogger(__name__)

FORMAT = 1  # bump when what an entry holds changes
SOURCE_NAME = "source.txt"  # the LM folder an entry was made from (to find stale entries)


def _package_version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "?"


def _files(directory: Path) -> list[tuple[str, int, int]]:
    files = sorted(p for p in directory.iterdir() if p.is_file())
    return [(p.name, (s := p.stat()).st_size, s.st_mtime_ns) for p in files]


def cache_key(lm_dir: Path, cfg: LMConfig) -> str:
    """The entry name of ``lm_dir``: changes with any of its files, its base model's, or the versions."""
    base = resolve_backbone(cfg.backbone)
    parts: list[object] = [FORMAT, str(lm_dir.resolve()), _files(lm_dir), _files(base)]
    parts += [_package_version(p) for p in ("motiongpt", "torch", "transformers")]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:24]


def _load_entry(entry: Path, cfg: LMConfig) -> MotionLanguageModel:
    """The merged model from a cache entry (a ``finetune: full`` folder), with the LM's own config."""
    import torch

    backbone, tokenizer = load_backbone(entry, dtype=getattr(torch, cfg.dtype))  # float32, ...
    model = MotionLanguageModel(dataclasses.replace(cfg, finetune="full"), backbone, tokenizer)
    model.cfg = cfg
    return model.eval()


def _write_entry(entry: Path, model: MotionLanguageModel, cfg: LMConfig, lm_dir: Path) -> None:
    source = str(lm_dir.resolve())
    with atomic_dir(entry) as tmp:
        model.base_model.save_pretrained(tmp)  # config.json + model.safetensors, the merged weights
        model.tokenizer.save_pretrained(tmp)
        dataclasses.replace(cfg, finetune="full").to_yaml(tmp / CONFIG_NAME)
        (tmp / SOURCE_NAME).write_text(source + "\n")
    for other in entry.parent.iterdir():  # entries of this folder before it changed, or of gone folders
        if other != entry and other.is_dir() and (other / SOURCE_NAME).is_file():
            other_source = (other / SOURCE_NAME).read_text().strip()
            if other_source == source or not Path(other_source).is_dir():
                shutil.rmtree(other, ignore_errors=True)


def load_for_inference(lm_dir: str | os.PathLike, half_gemv: bool = True) -> MotionLanguageModel:
    """``MotionLanguageModel.from_pretrained(lm_dir).optimize_for_inference(half_gemv)``, read from
    the cache when it holds ``lm_dir`` (else loaded and, for blocks and LoRA checkpoints, cached)."""
    lm_dir = Path(lm_dir)
    try:
        cfg = LMConfig.from_yaml(lm_dir / CONFIG_NAME)
        cached = cfg.finetune != "full"  # a full model is one folder already
        entry = cache_root() / "inference" / cache_key(lm_dir, cfg) if cached else None
    except (OSError, ConfigError, CheckpointError):  # from_pretrained says what is wrong
        entry = None
    if entry is not None and (entry / SOURCE_NAME).is_file():
        try:
            return _load_entry(entry, cfg).optimize_for_inference(half_gemv=half_gemv)
        except Exception as e:  # a damaged entry (safetensors raises its own error types)
            log.debug("inference cache %s unreadable (%s); loading %s", entry, e, lm_dir)
            shutil.rmtree(entry, ignore_errors=True)
    model = MotionLanguageModel.from_pretrained(lm_dir).merge_lora()
    if entry is not None:
        try:
            _write_entry(entry, model, cfg, lm_dir)
            log.debug("inference cache: wrote %s", entry)
        except OSError as e:
            log.debug("inference cache: cannot write %s (%s)", entry, e)
    return model.optimize_for_inference(half_gemv=half_gemv)


def load_lean_for_inference(lm_dir: str | os.PathLike) -> MotionLanguageModel | None:
    """What :func:`load_for_inference` gives, for a Llama-family LM, without importing transformers:
    read by ``lm/lean.py`` from the cache entry (or, for a full model, the folder itself). None where
    that path does not apply (no entry yet, another backbone, a chat template, a damaged entry...),
    with a debug line saying why; the caller then uses :func:`load_for_inference`."""
    from motiongpt.lm.lean import load_lean

    lm_dir = Path(lm_dir)
    try:
        cfg = LMConfig.from_yaml(lm_dir / CONFIG_NAME)
        folder = lm_dir if cfg.finetune == "full" else cache_root() / "inference" / cache_key(lm_dir, cfg)
        if cfg.finetune != "full" and not (folder / SOURCE_NAME).is_file():
            raise ValueError("the inference cache has no entry for it yet (the first load writes one)")
        model = load_lean(folder, cfg)
    except Exception as e:  # NotLean, a damaged entry or folder: the transformers path says what is wrong
        log.debug("lean inference path not taken for %s (%s); loading with transformers", lm_dir, e)
        return None
    log.debug("lean inference path: %s read from %s without transformers", lm_dir, folder)
    return model


__all__ = ["cache_key", "load_for_inference", "load_lean_for_inference"]
