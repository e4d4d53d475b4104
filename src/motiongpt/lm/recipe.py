"""A training recipe: LM training configs run one after the other, each part starting from the last.

A recipe file (``configs/lm/cpu-recipe.yaml``) names its parts, relative to itself, and the sampling
settings of the bundle it makes::

    parts:
      - cpu.yaml           # from the backbone
      - cpu-variety.yaml   # continues from the part above
    guidance: 2.5          # written into the last part's bundle (config.yaml)

``motiongpt train recipe RECIPE --data ... --tokens ... --out RUN`` trains part ``i`` into
``RUN/{i}-{name}`` with ``init`` the bundle of part ``i - 1``. It can be stopped anywhere and run again
with the same command: finished parts (listed in ``RUN/recipe.json``) are skipped and the part in
progress resumes from its newest checkpoint.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from motiongpt._io import atomic_write_text
from motiongpt.errors import ConfigError

log = logging.getLogger(__name__)

PROGRESS_NAME = "recipe.json"  # {"finished": {part folder: global step}}
#: PipelineConfig fields a recipe may set
BUNDLE_SETTINGS = ("guidance", "temperature", "top_k", "top_p", "candidates")


@dataclass(frozen=True)
class Recipe:
    """Parts (LMTrainConfig YAML files, in order) and the settings of the bundle the last one makes."""

    parts: tuple[Path, ...]
    bundle: dict[str, Any]

    @classmethod
    def from_yaml(cls, path: str | os.PathLike) -> Recipe:
        path = Path(path)
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except OSError as e:
            raise ConfigError(f"recipe {path}: cannot read it: {e.strerror or e}") from None
        except yaml.YAMLError as e:
            raise ConfigError(f"recipe {path}: invalid YAML: {e}") from None
        parts = data.get("parts") if isinstance(data, dict) else None
        if not isinstance(parts, list) or not parts or not all(isinstance(p, str) for p in parts):
            raise ConfigError(f"recipe {path}: expected 'parts:', a list of LM config files")
        unknown = sorted(set(data) - {"parts", *BUNDLE_SETTINGS})
        if unknown:
            allowed = ", ".join(("parts", *BUNDLE_SETTINGS))
            raise ConfigError(f"recipe {path}: unknown keys {unknown}; allowed: {allowed}")
        files = tuple(path.parent / p for p in parts)
        missing = [str(p) for p in files if not p.is_file()]
        if missing:
            raise ConfigError(f"recipe {path}: part configs not found: {', '.join(missing)}")
        return cls(parts=files, bundle={k: data[k] for k in BUNDLE_SETTINGS if k in data})

    def folders(self) -> list[str]:
        """The run folder name of each part: ``1-cpu``, ``2-cpu-variety``, ..."""
        return [f"{i}-{p.stem}" for i, p in enumerate(self.parts, 1)]


def _read_progress(out: Path) -> dict[str, int]:
    path = out / PROGRESS_NAME
    if not path.is_file():
        return {}
    try:
        finished = json.loads(path.read_text(encoding="utf-8"))["finished"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ConfigError(f"{path}: unreadable recipe progress ({e}); remove it to start over") from None
    return {str(k): int(v) for k, v in finished.items()}


def _set_bundle_settings(bundle: Path, settings: dict[str, Any]) -> None:
    from motiongpt.lm.pipeline import CONFIG_NAME, PipelineConfig

    cfg = PipelineConfig.from_yaml(bundle / CONFIG_NAME)
    dataclasses.replace(cfg, **settings).to_yaml(bundle / CONFIG_NAME)  # checked by __post_init__


def train_recipe(
    recipe: Recipe,
    data: str | os.PathLike,
    tokens: str | os.PathLike,
    out: str | os.PathLike,
    *,
    init: str | os.PathLike | None = None,
    tokenizer: str | os.PathLike | None = None,
    text_source: str | os.PathLike | None = None,
    overrides: list[str] | None = None,
    **trainer: Any,
) -> Path:
    """Train every unfinished part of ``recipe`` into ``out``; return the last part's bundle folder.

    ``init`` and ``tokenizer`` apply to the first part (later parts start from the bundle before them);
    ``overrides`` (``key=value``) apply to every part; ``trainer`` (accelerator, devices, num_nodes,
    progress_bar, callbacks) goes to :func:`motiongpt.lm.train.train_lm`.
    """
    from motiongpt.lm.train import LMTrainConfig, train_lm
    from motiongpt.training import is_launch_zero

    out = Path(out)
    configs = [LMTrainConfig.from_yaml(p).with_overrides(overrides) for p in recipe.parts]  # checked up front
    finished = _read_progress(out)
    previous = Path(init) if init is not None else None
    bundle: Path | None = None
    for i, (name, cfg) in enumerate(zip(recipe.folders(), configs, strict=True)):
        run = out / name
        bundle = run / "motiongpt"
        if name in finished:
            log.info("recipe: %s finished at step %d; skipped", name, finished[name])
        else:
            log.info("recipe: part %d/%d, %s", i + 1, len(configs), name)
            result = train_lm(
                cfg, data, tokens, run, init=previous, tokenizer=tokenizer if i == 0 else None,
                text_source=text_source, resume=(run / "config.yaml").is_file(), **trainer,
            )  # fmt: skip
            if not (bundle / "lm").is_dir():  # every rank: the next part starts from this bundle
                raise ConfigError(f"{name}: no bundle was exported (no motion tokenizer); pass --tokenizer")
            finished[name] = result.global_step
            if is_launch_zero():  # DDP: every process runs every part; rank 0 writes what they share
                atomic_write_text(out / PROGRESS_NAME, json.dumps({"finished": finished}, indent=1) + "\n")
        previous = bundle
    assert bundle is not None  # a recipe has at least one part
    if recipe.bundle and is_launch_zero():
        _set_bundle_settings(bundle, recipe.bundle)
    return bundle


__all__ = ["PROGRESS_NAME", "Recipe", "train_recipe"]
