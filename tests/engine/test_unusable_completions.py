"""A cut-off or empty completion is an error, never an answer, and is never cached."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from helpers import QUESTION, Scripted, ask, run

from vaultttc.engine.sampling import CostMeter, Lane, Sampler, unusable
from vaultttc.errors import ProviderError
from vaultttc.providers.base import Completion, Request
from vaultttc.vault.cache import SqliteCache


class CutOff(Scripted):
    """Every reply ends without a stop reason, as a stream cut mid-way does."""

    async def complete(self, request: Request) -> Completion:
        done = await super().complete(request)
        return replace(done, finish_reason="truncated")


@pytest.mark.parametrize(
    ("provider", "why"),
    [(CutOff(["The answer is: 4"]), "cut off"), (Scripted(["   \n"]), "empty")],
)
def test_the_only_sample_unusable_is_an_error_and_nothing_is_cached(
    tmp_path: Path, provider: Scripted, why: str
) -> None:
    cache = SqliteCache(tmp_path / "cache.sqlite")
    sampler = Sampler(Lane(provider, cache), max_samples=1, meter=CostMeter())
    with pytest.raises(ProviderError, match=why):
        run(sampler.one(Request(prompt=QUESTION.question)))
    assert cache.get(provider, Request(prompt=QUESTION.question)) is None


def test_a_question_whose_every_reply_is_empty_is_left_unanswered(tmp_path: Path) -> None:
    import json

    from click.testing import CliRunner

    from vaultttc.cli.main import cli

    note = tmp_path / "n.md"
    note.write_text("> [!question] What is 2 plus 2?\n")
    replay = tmp_path / "r.jsonl"
    replay.write_text(json.dumps({"question": "What is 2 plus 2?", "samples": [""] * 4}) + "\n")
    argv = ["run", str(tmp_path), "--provider", f"replay:{replay}", "--strategy", "direct"]
    result = CliRunner().invoke(cli, argv, catch_exceptions=False)
    assert result.exit_code == 3
    assert note.read_text() == "> [!question] What is 2 plus 2?\n"
    outcome, _ = ask("self-consistency", ["", "", ""], samples=3)
    assert outcome.answer == ""  # nothing a vote could write


def test_unusable_says_why() -> None:
    ok = Completion(text="42", model="m", provider="p")
    assert unusable(ok) is None
    assert "cut off" in (unusable(replace(ok, finish_reason="truncated")) or "")
    assert "empty" in (unusable(replace(ok, text=" ")) or "")
