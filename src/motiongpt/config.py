"""YAML-backed frozen dataclass configs, one per stage, overridable with ``key=value`` strings."""

from __future__ import annotations

import dataclasses
import os
import typing
from importlib.resources import files
from pathlib import Path
from typing import Any, Self, get_args, get_origin

import yaml

from motiongpt._io import atomic_write_text
from motiongpt.errors import ConfigError


def preset(relative: str) -> Path:
    """A config preset installed with the package: ``motiongpt/configs/<relative>``, which links to the
    repository's ``configs/<relative>`` (a checkout and a wheel read the same file)."""
    return Path(str(files("motiongpt") / "configs" / relative))


class YamlConfig:
    """Mixin for ``@dataclass(frozen=True)`` configs: ``from_yaml``, ``to_yaml``, ``with_overrides``.

    Nested dataclass fields are supported; unknown keys are an error, not silently dropped.
    """

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        if not isinstance(data, dict):
            raise ConfigError(f"{cls.__name__}: expected a mapping, got {type(data).__name__}")
        hints = typing.get_type_hints(cls)
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ConfigError(f"{cls.__name__}: unknown keys {unknown}; allowed: {sorted(names)}")
        kwargs = {}
        for key, value in data.items():
            sub = hints[key]
            if isinstance(sub, type) and dataclasses.is_dataclass(sub) and isinstance(value, dict):
                value = sub.from_dict(value)
            elif get_origin(sub) is tuple and isinstance(value, list):
                value = tuple(value)
            kwargs[key] = value
        try:
            return cls(**kwargs)
        except TypeError as e:
            raise ConfigError(f"{cls.__name__}: {e}") from None

    @classmethod
    def from_yaml(cls, path: str | os.PathLike) -> Self:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"config file not found: {path}")
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as e:
            raise ConfigError(f"{path}: invalid YAML: {e}") from None
        return cls.from_dict(data)

    def to_dict(self) -> dict[str, Any]:
        return _plain(dataclasses.asdict(self))  # type: ignore[call-overload]

    def to_yaml(self, path: str | os.PathLike) -> None:
        atomic_write_text(path, yaml.safe_dump(self.to_dict(), sort_keys=False))

    def with_overrides(self, overrides: list[str] | None) -> Self:
        """Return a copy with ``["a=1", "sub.b=x"]`` applied; values are parsed as YAML scalars."""
        data = self.to_dict()
        for item in overrides or []:
            if "=" not in item:
                raise ConfigError(f"override must look like key=value, got {item!r}")
            key, raw = item.split("=", 1)
            node = data
            parts = key.strip().split(".")
            for part in parts[:-1]:
                if not isinstance(node.get(part), dict):
                    raise ConfigError(f"override {item!r}: {part!r} is not a section")
                node = node[part]
            if parts[-1] not in node:
                raise ConfigError(f"override {item!r}: unknown key {key!r}; allowed: {sorted(node)}")
            node[parts[-1]] = yaml.safe_load(raw)
        return type(self).from_dict(data)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def check_choice(name: str, value: Any, allowed: typing.Any) -> None:
    """Raise ConfigError unless ``value`` is one of the ``Literal`` ``allowed`` options."""
    options = get_args(allowed) if get_origin(allowed) is typing.Literal else tuple(allowed)
    if value not in options:
        raise ConfigError(f"{name} must be one of {list(options)}, got {value!r}")


def check_numbers(
    cfg: object,
    ints: tuple[str, ...] = (),
    floats: tuple[str, ...] = (),
    *,
    positive: tuple[str, ...] = (),
    non_negative: tuple[str, ...] = (),
    lenient_ints: bool = False,
    prefix: str = "",
) -> None:
    """Check and normalise the numeric fields of a frozen config, or raise ConfigError naming the field.

    ``ints`` must be integers (``lenient_ints``: also ``"64"`` or ``64.0``); ``floats`` numbers, numeric
    strings included (YAML 1.1 reads ``2e-4`` as a string); booleans are neither. Then the fields in
    ``positive`` must be > 0 and those in ``non_negative`` >= 0. ``prefix`` names a nested config.
    """
    for name in ints + floats:
        value = getattr(cfg, name)
        is_int = name in ints
        number = _as_number(value, int if is_int else float, strict=is_int and not lenient_ints)
        if number is None:
            kind = "an integer" if is_int else "a number"
            raise ConfigError(f"{prefix}{name} must be {kind}, got {value!r}")
        object.__setattr__(cfg, name, number)
    for names, bound in ((positive, "> 0"), (non_negative, ">= 0")):
        for name in names:
            value = getattr(cfg, name)
            if value < 0 or (value == 0 and bound == "> 0"):
                raise ConfigError(f"{prefix}{name} must be {bound}, got {value!r}")


def _as_number(value: Any, kind: type, strict: bool) -> int | float | None:
    """``value`` as ``kind`` (int or float), or None where it is not one; ``strict``: only a real int."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    if strict:
        return value if isinstance(value, int) else None
    try:
        number = kind(value)
    except ValueError:
        return None
    return number if kind is float or float(value) == number else None


__all__ = ["YamlConfig", "check_choice", "check_numbers", "preset"]
