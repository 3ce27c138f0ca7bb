"""The run's IO shell: an author's edit made while vaultttc is answering always survives."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

from vaultttc.engine.runner import LanePool, RunOptions
from vaultttc.errors import ProviderError, Redactor
from vaultttc.notes.parse import parse_note
from vaultttc.providers.base import Capabilities, Completion, Pricing, Provider, Request
from vaultttc.providers.replay import ReplayProvider
from vaultttc.vault.session import RunContext, Vault, VaultSession, vaults_for

NOTE = """---
title: Concurrent edit
---
# Arithmetic

> [!question] What is 6 times 7?
> expect:: 42

> [!question] What is 10 minus 3?
> expect:: 7

## Changelog

| Date | Change |
|---|---|
"""
REPLAY = (
    '{"question": "What is 6 times 7?", "samples": ["6*7 = 42. The answer is 42."]}\n'
    '{"question": "What is 10 minus 3?", "samples": ["10-3 = 7. The answer is 7."]}\n'
)


class EditingProvider:
    """Replays samples, but the author saves the note while the first sample is drawn."""

    def __init__(self, inner: Provider, note: Path, edit: str) -> None:
        self.inner, self.note, self.edit, self.edited = inner, note, edit, False

    name = property(lambda self: self.inner.name)
    model = property(lambda self: self.inner.model)
    pricing = property(lambda self: Pricing())
    capabilities = property(lambda self: Capabilities(max_concurrency=1))

    def cache_identity(self) -> str:
        return self.inner.cache_identity()

    async def complete(self, request: Request) -> Completion:
        if not self.edited:
            self.edited = True
            self.note.write_text(self.note.read_text().replace(*self.edit.split("|")))
        return await self.inner.complete(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


def _session(vault: Vault, provider: EditingProvider) -> VaultSession:
    context = RunContext(options=RunOptions(cli={"strategy": "direct", "samples": 1}), env={})
    pool = LanePool(lambda name, model: provider)
    return VaultSession(vault, pool, VaultSession.open(vault, context).templates, context)


def _run(tmp_path: Path, edit: str) -> tuple[str, Path]:
    note = tmp_path / "n.md"
    note.write_text(NOTE)
    replay = tmp_path / "r.jsonl"
    replay.write_text(REPLAY)
    [vault] = vaults_for([tmp_path])
    provider = EditingProvider(ReplayProvider(replay), note, edit)
    report = asyncio.run(_session(vault, provider).run(note))
    assert report.error is None, report.error
    return note.read_text(), note


def test_an_edit_elsewhere_during_the_run_is_kept_and_answers_still_land(tmp_path: Path) -> None:
    text, _ = _run(tmp_path, "# Arithmetic|# Arithmetic, edited while vaultttc worked")
    assert "# Arithmetic, edited while vaultttc worked" in text
    written = parse_note(text, "n.md")
    assert all(q.answer is not None for q in written.questions)


def test_a_question_edited_during_the_run_keeps_the_authors_text_and_is_stale(
    tmp_path: Path,
) -> None:
    text, _ = _run(tmp_path, "What is 6 times 7?|What is 6 times 8?")
    written = parse_note(text, "n.md")
    changed, other = written.questions
    assert changed.title == "What is 6 times 8?"
    assert changed.answer is None, "an answer to the old question was written"
    assert other.answer is not None
    assert written.frontmatter is not None
    assert written.frontmatter.data["verification_status"] == "stale"


class LeakyProvider(EditingProvider):
    """A server that echoes the caller's key back in its error message, as real ones do."""

    async def complete(self, request: Request) -> Completion:
        raise ProviderError(f"HTTP 401: Invalid API key provided: {SECRET} (sk-proj-ab***yz)")


SECRET = "sk-live-SECRET-1234567890"


def test_a_key_echoed_in_a_provider_error_never_reaches_the_note_or_the_report(
    tmp_path: Path,
) -> None:
    note = tmp_path / "n.md"
    note.write_text(NOTE)
    replay = tmp_path / "r.jsonl"
    replay.write_text(REPLAY)
    [vault] = vaults_for([tmp_path])
    provider = LeakyProvider(ReplayProvider(replay), note, "|")
    options = RunOptions(cli={"strategy": "direct"}, redact=Redactor({"MY_API_KEY": SECRET}))
    context = RunContext(options=options, env={})
    templates = _session(vault, provider).templates
    session = VaultSession(vault, LanePool(lambda n, m: provider), templates, context)
    report = asyncio.run(session.run(note))
    assert note.read_text() == NOTE  # an error is not a verdict: nothing is written
    errors = [q.error or "" for q in report.questions]
    assert errors and all("HTTP 401" in e and "[redacted]" in e for e in errors)
    assert all(SECRET not in e and "sk-proj" not in e for e in errors)
    assert {q.status for q in report.questions} == {"unanswered"}


class EchoingProvider(EditingProvider):
    """A server whose successful reply quotes the caller's key, as a confused model might."""

    async def complete(self, request: Request) -> Completion:
        done = await super().complete(request)
        return replace(done, text=f"{done.text} (my key is {SECRET})")


def test_a_key_echoed_in_a_successful_reply_never_reaches_the_cache_or_the_note(
    tmp_path: Path,
) -> None:
    from vaultttc.vault.cache import SqliteCache

    note = tmp_path / "n.md"
    note.write_text(NOTE)
    replay = tmp_path / "r.jsonl"
    replay.write_text(REPLAY)
    [vault] = vaults_for([tmp_path])
    provider = EchoingProvider(ReplayProvider(replay), note, "|")
    options = RunOptions(cli={"strategy": "direct"}, redact=Redactor({"MY_API_KEY": SECRET}))
    cache = SqliteCache(tmp_path / "cache.sqlite")
    pool = LanePool(lambda n, m: provider, cache, redact=options.redact)
    session = VaultSession(vault, pool, _session(vault, provider).templates,
                           RunContext(options=options, env={}))  # fmt: skip
    asyncio.run(session.run(note))
    assert SECRET not in note.read_text()
    assert SECRET.encode() not in (tmp_path / "cache.sqlite").read_bytes()
