"""Vault settings from `.vaultttc/config.toml`, typed once, and resolution of per-question settings.

`parse_config(text, path)` and `config_from_mapping(data)` are pure; `load_config(root)` reads
the one file. Everything downstream reads the typed `VaultConfig` (no raw TOML is passed
around): question defaults, execution, exclusions, the daemon's timings, prices and one
`ProviderConfig` per `[providers.NAME]` table. Per-question resolution follows one order:
CLI flag > question field > note `ttc:` > vault config > defaults (`tech_stack.framework` takes
part in provider choice only; see providers.registry). Must not read the environment.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from vaultttc.engine.tasks import Settings
from vaultttc.errors import ConfigError
from vaultttc.providers.base import Pricing
from vaultttc.providers.pricing import parse_price_overrides

__all__ = [
    "CONFIG_DIR",
    "ProviderConfig",
    "VaultConfig",
    "config_from_mapping",
    "load_config",
    "parse_config",
    "resolve_settings",
]

CONFIG_DIR = ".vaultttc"
_INT_KEYS = ("samples", "thinking_budget", "max_tokens", "beam_width", "depth")
_FLOAT_KEYS = ("max_cost_usd", "threshold", "timeout_s")
_STR_KEYS = ("strategy", "provider", "model", "effort", "verify")
_ALIASES = {"beam": "beam_width", "timeout": "timeout_s", "latency": "latency_critical"}
_TRUE = frozenset({"true", "yes", "1", "on"})


@dataclass(frozen=True, slots=True)
class ProviderConfig:
    """One `[providers.NAME]` table. None means "not set here" (the provider's default)."""

    model: str | None = None
    base_url: str | None = None
    max_concurrency: int | None = None
    timeout_s: float | None = None
    max_retries: int | None = None
    gguf: str | None = None  # local
    n_ctx: int | None = None
    n_threads: int | None = None
    max_tokens: int | None = None
    server: str | None = None  # openai-compatible
    n_per_request: bool | None = None
    api_key_env: str | None = None
    cache_min_tokens: int | None = None  # anthropic


@dataclass(frozen=True, slots=True)
class VaultConfig:
    """What a vault's config.toml says. `defaults` are Settings-shaped overrides."""

    defaults: Mapping[str, Any] = field(default_factory=dict)
    provider: str | None = None
    providers: Mapping[str, ProviderConfig] = field(default_factory=dict)
    prices: Mapping[str, Pricing] = field(default_factory=dict)
    execute: bool = False
    exclude: tuple[str, ...] = ()
    concurrency: int | None = None
    debounce_s: float = 2.5
    rescan_s: float = 300.0
    check_authored: bool = False
    max_cost_usd_per_run: float | None = None
    daily_budget_usd: float | None = None
    reverify_after: str | None = None  # the daemon re-verifies answers older than this age
    reverify_at: str = "03:00"  # local time of day the daemon's re-verification starts
    reverify_batch: bool = False  # through the provider's batch API, where it has one

    def provider_config(self, name: str) -> ProviderConfig:
        """The `[providers.NAME]` table (`replay:PATH` reads `[providers.replay]`)."""
        return self.providers.get(name.split(":", 1)[0], ProviderConfig())


# Top-level keys besides the question defaults (Settings' fields and `_ALIASES`).
_VAULT_KEYS = frozenset({
    "provider", "providers", "prices", "execute", "check_authored", "max_cost_usd_per_run",
    "daily_budget_usd", "exclude", "concurrency", "debounce", "rescan", "reverify_after",
    "reverify_at", "reverify_batch", "base_url", "gguf",
})  # fmt: skip


def _unknown_key(data: Mapping[str, Any], text: str, path: str) -> ConfigError | None:
    """A key no setting reads (a typo would otherwise be ignored without a word), at its line."""
    known = {f.name for f in fields(Settings)} | set(_ALIASES) | _VAULT_KEYS
    where = [(k, known, "") for k in data if k not in known]
    tables = data.get("providers")
    named = {f.name for f in fields(ProviderConfig)}
    for name, table in tables.items() if isinstance(tables, Mapping) else ():
        if isinstance(table, Mapping):
            where += [(k, named, f"providers.{name}") for k in table if k not in named]
    if not where:
        return None
    key, choices, table = where[0]
    line = _key_line(text, key, table)
    close = difflib.get_close_matches(key, sorted(choices), n=1)
    hint = f" (did you mean `{close[0]}`?)" if close else ""
    if not close and table and key in known:
        hint = " (it is a top-level setting, not a provider's)"
    at = f"{path}:{line}" if line else path
    return ConfigError(f"{at}: {f'[{table}] ' if table else ''}unknown setting `{key}`{hint}")


_HEADER = re.compile(r"\s*\[+([^\]]*)\]+\s*(?:#.*)?$")


def _key_line(text: str, key: str, table: str) -> int | None:
    """The line where `key` is set in `table` ("" for the top level), by the table headers
    above it (a dotted `providers.local.key = …` line is found at the top level too)."""
    here = ""
    for n, row in enumerate(text.splitlines(), 1):
        if (header := _HEADER.match(row)) is not None:
            here = re.sub(r"[\s\"']", "", header.group(1))
            continue
        dotted = re.sub(r"[\s\"']", "", row.split("=", 1)[0]) if "=" in row else ""
        if (dotted, here) in ((key, table), (f"{table}.{key}".strip("."), "")):
            return n
    return None


def parse_config(text: str, path: str = "config.toml") -> VaultConfig:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    unknown = _unknown_key(data, text, path)
    if unknown is not None:
        raise unknown
    return config_from_mapping(data, source=path)


def load_config(root: Path) -> VaultConfig:
    path = root / CONFIG_DIR / "config.toml"
    if not path.is_file():
        return VaultConfig()
    return parse_config(path.read_text(encoding="utf-8"), str(path))


def config_from_mapping(data: Mapping[str, Any], *, source: str = "config.toml") -> VaultConfig:
    """The typed config of a parsed config.toml; every error names `source`."""
    known = {f.name for f in fields(Settings)}
    defaults = {k: v for k, v in data.items() if _ALIASES.get(k, k) in known}
    exclude = data.get("exclude", [])
    if not isinstance(exclude, list) or not all(isinstance(e, str) for e in exclude):
        raise ConfigError(f"{source}: `exclude` must be a list of folder names")
    try:
        prices = parse_price_overrides(data)
        return VaultConfig(
            defaults=_coerce(defaults, source=source),
            provider=_text(data.get("provider")),
            providers=_providers(data),
            prices=prices,
            execute=bool(data.get("execute", False)),
            check_authored=bool(data.get("check_authored", False)),
            max_cost_usd_per_run=_number(
                data.get("max_cost_usd_per_run"), float, "max_cost_usd_per_run"
            ),
            daily_budget_usd=_number(data.get("daily_budget_usd"), float, "daily_budget_usd"),
            exclude=tuple(e.strip("/") for e in exclude),
            concurrency=_number(data.get("concurrency"), int, "concurrency"),
            debounce_s=_number(data.get("debounce", 2.5), float, "debounce") or 2.5,
            rescan_s=_number(data.get("rescan", 300.0), float, "rescan") or 300.0,
            **_reverify(data),
        )
    except ConfigError as exc:
        message = str(exc)
        raise ConfigError(
            message if message.startswith(source) else f"{source}: {message}"
        ) from None


def _reverify(data: Mapping[str, Any]) -> dict[str, Any]:
    """`reverify_after = "30d"`, `reverify_at = "03:00"`, `reverify_batch = true`, checked."""
    from vaultttc.vault.stale import parse_age  # the one age syntax, `--stale-after`'s too

    after = _text(data.get("reverify_after"))
    if after is not None:
        parse_age(after, where="`reverify_after`")
    at = str(data.get("reverify_at", "03:00")).strip()
    hour, _, minute = at.partition(":")
    if not (hour.isdigit() and minute.isdigit() and int(hour) < 24 and int(minute) < 60):
        raise ConfigError(f'`reverify_at` must be a time of day like "03:00", not {at!r}')
    batch = data.get("reverify_batch", False)
    batch = batch if isinstance(batch, bool) else str(batch).lower() in _TRUE
    return {
        "reverify_after": after,
        "reverify_at": f"{int(hour):02d}:{minute}",
        "reverify_batch": batch,
    }


def _providers(data: Mapping[str, Any]) -> dict[str, ProviderConfig]:
    tables = data.get("providers") or {}
    if not isinstance(tables, Mapping):
        raise ConfigError("[providers] must hold one table per provider")
    out: dict[str, ProviderConfig] = {}
    for name, table in tables.items():
        if not isinstance(table, Mapping):
            raise ConfigError(f"[providers.{name}] must be a table")
        out[str(name)] = _provider(table, name=str(name))
    # Top-level `base_url` and `gguf` are shorthands for the only provider each can mean.
    compat, local = (
        out.get("openai-compatible", ProviderConfig()),
        out.get("local", ProviderConfig()),
    )
    if data.get("base_url") and compat.base_url is None:
        out["openai-compatible"] = replace(compat, base_url=str(data["base_url"]))
    if data.get("gguf") and local.gguf is None:
        out["local"] = replace(local, gguf=str(data["gguf"]))
    return out


def _provider(table: Mapping[str, Any], *, name: str) -> ProviderConfig:
    values: dict[str, Any] = {}
    for f in fields(ProviderConfig):
        raw = table.get(f.name)
        if raw is None:
            continue
        kind = str(f.type).removesuffix(" | None")
        where = f"[providers.{name}] {f.name}"
        if kind == "bool":
            values[f.name] = raw if isinstance(raw, bool) else str(raw).lower() in _TRUE
        elif kind in ("int", "float"):
            values[f.name] = _number(raw, int if kind == "int" else float, where)
        else:
            values[f.name] = str(raw)
    return ProviderConfig(**values)


def _number(value: Any, kind: type[int] | type[float], where: str) -> Any:
    if value is None:
        return None
    try:
        return kind(value)
    except (TypeError, ValueError):
        raise ConfigError(f"`{where}` must be a number, not {value!r}") from None


def _text(value: Any) -> str | None:
    return str(value).strip() or None if value is not None else None


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


def resolve_settings(
    *,
    cli: Mapping[str, Any],
    fields_: Mapping[str, str],
    ttc: Mapping[str, Any],
    config: VaultConfig,
    source: str = "note",
    ttc_source: str | None = None,
) -> Settings:
    """One question's settings: CLI > question field > note `ttc:` > config > defaults. Errors
    name `source` (the question), or `ttc_source` (where the note's `ttc:` is) for its own."""
    merged: dict[str, Any] = {}
    layers = (
        (config.defaults, "config.toml"),
        (ttc, ttc_source or f"{source}: ttc"),
        (fields_, source),
        (cli, "command line"),
    )
    for layer, name in layers:
        merged.update(_coerce(layer, source=name))
    if config.execute and "execute" not in merged:
        merged["execute"] = True
    return replace(Settings(), **merged)
