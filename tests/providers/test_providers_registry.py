"""Provider choice, configuration status, building, and prices."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from stub_server import StubServer, stub_fixture  # noqa: F401

from vaultttc.config import config_from_mapping
from vaultttc.errors import ConfigError, ProviderNotConfigured
from vaultttc.providers.base import Pricing, Provider, Request
from vaultttc.providers.pricing import parse_price_overrides, price_for
from vaultttc.providers.registry import (
    build_provider,
    choose_provider_name,
    describe_providers,
    render_providers,
)

ALL_KEYS = {
    "ANTHROPIC_API_KEY": "sk-ant",
    "OPENAI_API_KEY": "sk-oai",
    "OPENAI_BASE_URL": "http://gpu-box:8000/v1",
}
COMPAT_MODEL = {"providers": {"openai-compatible": {"model": "qwen3-8b"}}}


def choose(**kw: Any) -> str:
    kw.setdefault("env", ALL_KEYS)
    kw.setdefault("config", COMPAT_MODEL)
    return choose_provider_name(**kw)


def test_first_match_wins_in_the_documented_order() -> None:
    framework = "vLLM / Anthropic SDK / OpenAI SDK"
    config = {**COMPAT_MODEL, "provider": "openai"}
    assert (
        choose(
            cli="anthropic",
            question_field="openai",
            note_ttc="local",
            tech_stack_framework=framework,
            config=config,
        )
        == "anthropic"
    )
    assert (
        choose(
            question_field="openai", note_ttc="local", tech_stack_framework=framework, config=config
        )
        == "openai"
    )
    assert choose(note_ttc="local", tech_stack_framework=framework, config=config) == "local"
    assert choose(tech_stack_framework=framework, config=config) == "openai-compatible"
    assert choose(config=config) == "openai"
    assert choose() == "local"


def test_a_framework_entry_counts_only_when_its_provider_is_configured() -> None:
    framework = ["FastAPI", "vLLM", "Anthropic SDK", "OpenAI SDK"]
    assert choose(tech_stack_framework=framework, env={"OPENAI_API_KEY": "k"}) == "openai"
    assert (
        choose(
            tech_stack_framework=framework, env={"OPENAI_API_KEY": "k", "ANTHROPIC_API_KEY": "k"}
        )
        == "anthropic"
    )
    assert choose(tech_stack_framework="Ollama, llama.cpp", env={}) == "local"


@pytest.mark.parametrize(
    ("source", "name", "fix"),
    [
        ("cli", "anthropic", "set ANTHROPIC_API_KEY"),
        ("question_field", "openai", "set OPENAI_API_KEY"),
        ("note_ttc", "vLLM", "set OPENAI_BASE_URL"),
    ],
)
def test_a_named_provider_that_is_not_configured_says_what_to_set(
    source: str, name: str, fix: str
) -> None:
    with pytest.raises(ProviderNotConfigured, match=fix):
        choose_provider_name(**{source: name}, env={}, config={})


def test_the_vault_default_is_checked_too() -> None:
    with pytest.raises(ProviderNotConfigured, match=r"vault config.*set OPENAI_API_KEY"):
        choose_provider_name(config={"provider": "openai"}, env={})


def test_openai_compatible_needs_a_v1_url_and_a_model() -> None:
    with pytest.raises(ProviderNotConfigured, match="must end in /v1"):
        choose_provider_name(
            cli="openai-compatible", base_url="http://box:8000", env={}, config=COMPAT_MODEL
        )
    with pytest.raises(ProviderNotConfigured, match="set the served model"):
        choose_provider_name(cli="openai-compatible", base_url="http://box:8000/v1", env={})
    assert (
        choose_provider_name(
            cli="openai-compatible", base_url="http://box:8000/v1", model="m", env={}
        )
        == "openai-compatible"
    )


def test_unknown_provider_names_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="unknown provider 'gemini'"):
        choose_provider_name(cli="gemini", env={})


def test_describe_lists_every_provider_and_what_to_set() -> None:
    statuses = {s.name: s for s in describe_providers({}, {})}
    assert list(statuses) == ["local", "anthropic", "openai", "openai-compatible", "replay"]
    assert (statuses["anthropic"].configured, statuses["anthropic"].detail) == (
        False,
        "set ANTHROPIC_API_KEY",
    )
    assert statuses["openai"].detail == "set OPENAI_API_KEY"
    assert "OPENAI_BASE_URL" in statuses["openai-compatible"].detail
    assert statuses["local"].configured  # llama_cpp and the Gemma package are installed here
    configured = {s.name: s for s in describe_providers(ALL_KEYS, COMPAT_MODEL)}
    assert all(s.configured for s in configured.values())
    assert configured["anthropic"].model == "claude-sonnet-5-5"
    table = render_providers(list(statuses.values()))
    assert "anthropic" in table and "set ANTHROPIC_API_KEY" in table
    assert "sk-" not in render_providers(list(configured.values()))


@pytest.mark.parametrize(("section", "shown"), [({}, 256), ({"max_concurrency": 64}, 64)])
def test_providers_shows_the_servers_concurrency_limit(section: dict[str, Any], shown: int) -> None:
    config = {"providers": {"openai-compatible": {"model": "qwen3-8b", **section}}}
    statuses = describe_providers({"OPENAI_BASE_URL": "http://gpu:8000/v1"}, config)
    compat = next(s for s in statuses if s.name == "openai-compatible")
    assert compat.detail == f"server http://gpu:8000/v1, up to {shown} requests in flight"
    provider = build_provider(
        "openai-compatible", config=config, env={"OPENAI_BASE_URL": "http://gpu:8000/v1"}
    )
    assert provider.capabilities.max_concurrency == shown  # what the lanes are bounded by


def test_build_gives_each_provider_with_its_model_and_no_key_in_its_identity(
    tmp_path: Path,
) -> None:
    replay = tmp_path / "r.jsonl"
    replay.write_text('{"question": "Q?", "samples": ["a"]}\n')
    config = config_from_mapping(
        {
            **COMPAT_MODEL,
            "providers": {**COMPAT_MODEL["providers"], "anthropic": {"model": "claude-haiku-5-5"}},
        }
    )
    built = {
        name: build_provider(name, config=config, env=ALL_KEYS)
        for name in ("local", "anthropic", "openai", "openai-compatible", f"replay:{replay}")
    }
    assert {n: p.model for n, p in built.items()} == {
        "local": "gemma-3-270m-q4_k_m",
        "anthropic": "claude-haiku-5-5",
        "openai": "gpt-6.1-sol",
        "openai-compatible": "qwen3-8b",
        f"replay:{replay}": "replay-r",
    }
    for p in built.values():
        assert isinstance(p, Provider)
        assert "sk-" not in p.cache_identity()

    async def close() -> None:
        for p in built.values():
            await p.aclose()

    asyncio.run(close())


def test_compatible_servers_get_the_openai_key_only_with_openai_base_url(stub: StubServer) -> None:
    async def auth(base_url: str | None, env: dict[str, str]) -> str:
        p = build_provider("openai-compatible", base_url=base_url, config=COMPAT_MODEL, env=env)
        try:
            await p.complete(Request(prompt="q"))
        finally:
            await p.aclose()
        return stub.requests[-1].headers["authorization"]

    paired = {"OPENAI_BASE_URL": stub.openai_url, "OPENAI_API_KEY": "sk-paired"}
    assert asyncio.run(auth(None, paired)) == "Bearer sk-paired"
    other = {"OPENAI_API_KEY": "sk-for-openai-only"}
    assert asyncio.run(auth(stub.openai_url, other)) == "Bearer not-needed"


def test_prices_known_dated_unknown_free_and_overridden() -> None:
    assert price_for("anthropic", "claude-sonnet-5-5") == Pricing(2.0, 10.0, 0.10, 2.5)
    assert price_for("openai", "gpt-5-2025-08-07").input == 1.25
    ceiling = price_for("anthropic", "claude-unreleased-9")
    assert ceiling.output >= max(
        price_for("anthropic", m).output for m in ("claude-opus-5-5", "claude-fable-5-1")
    )
    assert price_for("openai-compatible", "qwen3-8b") == Pricing()
    assert price_for("local", "gemma") == Pricing()
    overrides = parse_price_overrides({"prices": {"qwen3-8b": {"input": 0.1, "output": 0.2}}})
    assert price_for("openai-compatible", "qwen3-8b", overrides) == Pricing(0.1, 0.2, 0.1, 0.1)


@pytest.mark.parametrize(
    "bad",
    [
        {"prices": {"m": {"input": 1}}},
        {"prices": {"m": {"input": "cheap", "output": 1}}},
        {"prices": {"m": {"input": -1, "output": 1}}},
    ],
)
def test_bad_price_tables_are_config_errors(bad: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match=r'\[prices\."m"\]'):
        parse_price_overrides(bad)
