"""Settings that name a URL, key or model resolve alike for every provider: flag > environment >
vault config > default (the bug this guards: Anthropic read config before the environment and
OpenAI ignored OPENAI_BASE_URL). Requests go through the real SDKs to the stub server."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from stub_server import StubServer, stub_fixture  # noqa: F401

from vaultttc.config import ProviderConfig, parse_config
from vaultttc.errors import ConfigError
from vaultttc.providers.base import Request
from vaultttc.providers.registry import PROVIDERS, build_provider, canonical_name

DEAD = "http://127.0.0.1:9"  # discard port: nothing answers there
KEYS = {"ANTHROPIC_API_KEY": "sk-ant-test", "OPENAI_API_KEY": "sk-openai-test"}


def answer(name: str, *, config: dict[str, Any], env: dict[str, str], **flags: Any) -> str:
    async def go() -> str:
        provider = build_provider(name, config=config, env=env, **flags)
        try:
            done = await provider.complete(Request(prompt="What is 6*7?", max_tokens=50))
            return done.text
        finally:
            await provider.aclose()

    return asyncio.run(go())


def section(name: str, url: str) -> dict[str, Any]:
    return {"providers": {name: {"base_url": url, "max_retries": 0, "timeout_s": 5}}}


@pytest.mark.parametrize(
    ("name", "env_name", "url"),
    [
        ("anthropic", "ANTHROPIC_BASE_URL", "url"),
        ("openai", "OPENAI_BASE_URL", "openai_url"),
    ],
)
def test_the_environment_beats_the_vault_config_and_the_flag_beats_both(
    stub: StubServer, *, name: str, env_name: str, url: str
) -> None:
    live = getattr(stub, url)
    env = {**KEYS, env_name: live}
    assert answer(name, config=section(name, DEAD), env=env).startswith("stub")
    env = {**KEYS, env_name: DEAD}
    assert answer(name, config=section(name, DEAD), env=env, base_url=live).startswith("stub")
    assert answer(name, config=section(name, live), env=KEYS).startswith("stub")


def test_config_is_parsed_once_into_typed_provider_tables() -> None:
    config = parse_config(
        'provider = "openai"\nbase_url = "http://box:8000/v1"\ngguf = "/m.gguf"\n'
        '[providers.openai-compatible]\nmodel = "qwen3-8b"\nmax_concurrency = "64"\n'
        'n_per_request = true\n[prices."qwen3-8b"]\ninput = 0.1\noutput = 0.2\n'
    )
    compat = config.provider_config("openai-compatible")
    assert compat == ProviderConfig(
        model="qwen3-8b", base_url="http://box:8000/v1", max_concurrency=64, n_per_request=True
    )
    assert config.provider_config("local").gguf == "/m.gguf"
    assert config.provider == "openai"
    assert config.prices["qwen3-8b"].input == 0.1


@pytest.mark.parametrize(
    "text",
    [
        '[providers.openai]\nmax_concurrency = "many"\n',
        "providers = 3\n",
        '[prices."m"]\ninput = 1\n',
    ],
)
def test_a_bad_provider_setting_is_one_error_naming_the_file(text: str) -> None:
    with pytest.raises(ConfigError, match=r"^config\.toml: "):
        parse_config(text)


def test_every_provider_is_one_row_of_the_table_and_its_aliases_name_it() -> None:
    assert [s.name for s in PROVIDERS] == [
        "local",
        "anthropic",
        "openai",
        "openai-compatible",
        "replay",
    ]
    for spec in PROVIDERS:
        for alias in spec.aliases:
            assert canonical_name(alias) == spec.name
    assert canonical_name("vLLM, OpenAI-compatible") == "openai-compatible"
    assert canonical_name("Claude via OpenAI SDK") == "anthropic"
