"""Vault settings from `.vaultttc/config.toml`, and resolution of per-question settings.

`parse_config(text, path)` is pure; `load_config(root)` reads the one file. Resolution follows
one order everywhere: CLI flag > question field > note `ttc:` > vault config > defaults
(`tech_stack.framework` takes part in provider choice only; see providers.registry).
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from vaultttc.engine.tasks import Settings
from vaultttc.errors import ConfigError

__all__ = ["CONFIG_DIR", "VaultConfig", "load_config", "parse_config", "resolve_settings"]

CONFIG_DIR = ".vaultttc"
_INT_KEYS = ("samples", "thinking_budget", "max_tokens", "beam_width", "depth")
_FLOAT_KEYS = ("max_cost_usd", "threshold", "timeout_s")
_STR_KEYS = ("strategy", "provider", "model", "effort", "verify")
_ALIASES = {"beam": "beam_width", "timeout": "timeout_s", "latency": "latency_critical"}


@dataclass(frozen=True, slots=True)
class VaultConfig:
    """What a vault's config.toml says. `defaults` are Settings-shaped overrides."""

    defaults: Mapping[str, Any] = field(default_factory=dict)
    execute: bool = False
    exclude: tuple[str, ...] = ()
    base_url: str | None = None
    gguf: str | None = None
    concurrency: int | None = None
    prices: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    debounce_s: float = 2.5
    rescan_s: float = 300.0
    raw: Mapping[str, Any] = field(default_factory=dict)


def parse_config(text: str, path: str = "config.toml") -> VaultConfig:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    known = {f.name for f in fields(Settings)}
    defaults = {k: v for k, v in data.items() if _ALIASES.get(k, k) in known}
    exclude = data.get("exclude", [])
    if not isinstance(exclude, list) or not all(isinstance(e, str) for e in exclude):
        raise ConfigError(f"{path}: `exclude` must be a list of folder names")
    return VaultConfig(
        defaults=_coerce(defaults, source=path),
        execute=bool(data.get("execute", False)),
        exclude=tuple(e.strip("/") for e in exclude),
        base_url=data.get("base_url"),
        gguf=data.get("gguf"),
        concurrency=data.get("concurrency"),
        prices=data.get("prices", {}),
        debounce_s=float(data.get("debounce", 2.5)),
        rescan_s=float(data.get("rescan", 300.0)),
        raw=data,
    )


def load_config(root: Path) -> VaultConfig:
    path = root / CONFIG_DIR / "config.toml"
    if not path.is_file():
        return VaultConfig()
    return parse_config(path.read_text(encoding="utf-8"), str(path))


def _coerce(values: Mapping[str, Any], *, source: str) -> dict[str, Any]:
    """Typed Settings overrides from strings, numbers and booleans; errors name the source."""
    out: dict[str, Any] = {}
    for raw_key, value in values.items():
        key = _ALIASES.get(raw_key, raw_key)
        if value is None or value == "":
            continue
        try:
            if key in _INT_KEYS:
                out[key] = int(value)
                if out[key] < 1:
                    raise ConfigError(f"{source}: `{raw_key}` must be at least 1, not {value!r}")
            elif key in _FLOAT_KEYS:
                out[key] = float(value)
            elif key in _STR_KEYS:
                out[key] = str(value).strip()
            elif key in ("execute", "latency_critical"):
                out[key] = value if isinstance(value, bool) else str(value).lower() in _TRUE
        except ValueError:
            raise ConfigError(f"{source}: `{raw_key}` must be a number, not {value!r}") from None
    return out


_TRUE = frozenset({"true", "yes", "1", "on"})


def resolve_settings(
    *,
    cli: Mapping[str, Any],
    fields_: Mapping[str, str],
    ttc: Mapping[str, Any],
    config: VaultConfig,
    source: str = "note",
) -> Settings:
    """One question's settings: CLI > question field > note `ttc:` > config > defaults."""
    merged: dict[str, Any] = {}
    layers = (
        (config.defaults, "config.toml"),
        (ttc, f"{source} ttc"),
        (fields_, source),
        (cli, "command line"),
    )
    for layer, name in layers:
        merged.update(_coerce(layer, source=name))
    if config.execute and "execute" not in merged:
        merged["execute"] = True
    return replace(Settings(), **merged)
