"""The SQLite completion cache: keys, re-runs, concurrent processes, corrupt files, secrets."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from stub_server import StubServer, stub_fixture  # noqa: F401

from vaultttc.engine.sampling import Lane, Sampler
from vaultttc.providers.base import Completion, Message, Request, Usage
from vaultttc.providers.registry import build_provider
from vaultttc.providers.replay import ReplayProvider
from vaultttc.vault.cache import CacheWarning, SqliteCache, cache_key

REQUEST = Request(prompt="Q?", system="s", max_tokens=100, sample_index=2)
ANSWER = Completion(
    text="42",
    model="m",
    provider="p",
    thinking="t",
    cost_usd=0.5,
    usage=Usage(1, 2, 3, 4, 5),
    latency_s=1.5,
    finish_reason="stop",
    sample_index=2,
)


def replay(tmp_path: Path, sample: str = "a") -> ReplayProvider:
    path = tmp_path / "r.jsonl"
    path.write_text(f'{{"question": "Q?", "samples": ["{sample}", "b", "c"]}}\n')
    return ReplayProvider(path)


def test_a_stored_completion_comes_back_whole(tmp_path: Path) -> None:
    provider = replay(tmp_path)
    with SqliteCache(tmp_path / ".vaultttc" / "cache.sqlite") as cache:
        assert cache.get(provider, REQUEST) is None
        cache.put(provider, REQUEST, ANSWER)
        assert cache.get(provider, REQUEST) == ANSWER
        assert len(cache) == 1


CHANGES = [
    {"sample_index": 3},
    {"prompt": "Q? "},
    {"system": None},
    {"max_tokens": 101},
    {"thinking_budget": 1024},
    {"effort": "high"},
    {"temperature": 0.5},
    {"seed": 1},
    {"stop": ("\n",)},
    {"prefix": "Step"},
    {"messages": (Message("user", "hi"),)},
]


@pytest.mark.parametrize("change", CHANGES)
def test_every_request_field_is_part_of_the_key(tmp_path: Path, change: dict[str, Any]) -> None:
    provider = replay(tmp_path)
    with SqliteCache(tmp_path / "cache.sqlite") as cache:
        cache.put(provider, REQUEST, ANSWER)
        assert cache.get(provider, dataclasses.replace(REQUEST, **change)) is None


class Named:
    """Just what a key reads from a provider."""

    name, model = "openai-compatible", "Qwen/Qwen3-8B"

    def cache_identity(self) -> str:
        return "chat-completions base_url=http://gpu:8000/v1 logprobs=20"


def version_1_key(request: Request) -> str:
    """The key as the first caches were written: the request through `dataclasses.asdict`."""
    payload = {"v": 1, "provider": Named.name, "identity": Named().cache_identity(),
               "model": Named.model, "request": dataclasses.asdict(request)}  # fmt: skip
    text = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@pytest.mark.parametrize("change", [{}, *CHANGES, {"prompt": "Wie viele Teiler hat 360? 약수"}])
def test_existing_caches_keep_their_keys(change: dict[str, Any]) -> None:
    request = dataclasses.replace(REQUEST, **change)
    assert cache_key(Named(), request) == version_1_key(request)  # type: ignore[arg-type]


def test_a_key_is_pinned() -> None:
    """A change to both formulas above would still move every stored completion's key."""
    expected = "ea020de25ea67a46d7bd5e74692031960d7bc67618c0dffb934472b7ff6c6e64"
    assert cache_key(Named(), REQUEST) == expected  # type: ignore[arg-type]


def test_the_provider_identity_is_part_of_the_key(tmp_path: Path) -> None:
    with SqliteCache(tmp_path / "cache.sqlite") as cache:
        cache.put(replay(tmp_path, "a"), REQUEST, ANSWER)
        assert cache.get(replay(tmp_path, "a"), REQUEST) == ANSWER
        assert cache.get(replay(tmp_path, "changed"), REQUEST) is None  # same file, new text


def test_the_file_is_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "cache.sqlite"
    SqliteCache(path).close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


WRITER = textwrap.dedent("""
    import sys
    import time
    from pathlib import Path
    from vaultttc.vault.cache import SqliteCache
    from vaultttc.providers.base import Completion, Request
    from vaultttc.providers.replay import ReplayProvider

    cache_path, replay_path, tag = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
    provider = ReplayProvider(replay_path)
    cache = SqliteCache(cache_path)
    (cache_path.parent / f"ready-{tag}").touch()
    while len(list(cache_path.parent.glob("ready-*"))) < 2:  # start writing together
        time.sleep(0.005)
    for i in range(150):
        request = Request(prompt=f"Q? {tag}", sample_index=i)
        cache.put(provider, request, Completion(text=f"{tag}{i}", model="m", provider="p"))
        assert cache.get(provider, request).text == f"{tag}{i}"
    cache.close()
""")


def test_two_processes_can_write_at_once(tmp_path: Path) -> None:
    provider = replay(tmp_path)
    cache_path = tmp_path / "cache.sqlite"
    SqliteCache(cache_path).close()
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(cache_path), str(tmp_path / "r.jsonl"), tag],
            stderr=subprocess.PIPE,
        )
        for tag in ("x", "y")
    ]
    for w in writers:
        _, err = w.communicate(timeout=120)
        assert w.returncode == 0, err.decode()
    with SqliteCache(cache_path) as cache:
        assert len(cache) == 300
        got = cache.get(provider, Request(prompt="Q? y", sample_index=149))
        assert got is not None and got.text == "y149"
    with sqlite3.connect(cache_path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_a_corrupt_file_is_moved_aside_with_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "cache.sqlite"
    garbage = b"this is not a database\x00" * 200
    path.write_bytes(garbage)
    with pytest.warns(CacheWarning, match="moved it to cache.sqlite.corrupt-"):
        cache = SqliteCache(path)
    provider = replay(tmp_path)
    cache.put(provider, REQUEST, ANSWER)
    assert cache.get(provider, REQUEST) == ANSWER
    cache.close()
    (aside,) = tmp_path.glob("cache.sqlite.corrupt-*")
    assert aside.read_bytes() == garbage


def test_a_rerun_makes_no_provider_calls_and_keys_never_reach_the_file(
    tmp_path: Path, stub: StubServer
) -> None:
    secret = "sk-ant-very-secret-key-1234"
    path = tmp_path / "cache.sqlite"

    async def run() -> Sampler:
        provider = build_provider("anthropic", base_url=stub.url, env={"ANTHROPIC_API_KEY": secret})
        with SqliteCache(path) as cache:
            sampler = Sampler(Lane(provider, cache), max_samples=4)
            await sampler.sample(Request(prompt="Q?", thinking_budget=2000), 4)
        await provider.aclose()
        return sampler

    first = asyncio.run(run())
    requests_after_first = stub.count()
    second = asyncio.run(run())
    assert first.calls == 4 and second.calls == 0 and second.all_cached
    assert stub.count() == requests_after_first
    assert second.usage == first.usage and second.cost_usd == 0.0
    for file in tmp_path.iterdir():
        assert secret.encode() not in file.read_bytes()
