"""Beam search and MCTS over recorded samples (the real replay provider continues a prefix
with the rest of a recorded sample that starts with it): steps, budgets, prefixes, choices."""

from __future__ import annotations

import json
from pathlib import Path

from helpers import Expect, run
from hypothesis import given
from hypothesis import strategies as st

from vaultttc.engine.sampling import Lane, Sampler
from vaultttc.engine.tasks import Outcome, Settings, Task
from vaultttc.providers.replay import ReplayProvider
from vaultttc.strategies import get_strategy
from vaultttc.strategies.shared.search import split_steps

QUESTION = "Yesterday was April 30, 2021. What is the date today in MM/DD/YYYY?"
RIGHT = "Yesterday was 04/30/2021.\n\nOne day later is May 1.\n\nThe answer is 05/01/2021."
WRONG = "Yesterday was 04/30/2021.\n\nOne day earlier is April 29.\n\nThe answer is 04/29/2021."
ODD = "Today is a Friday.\n\nSo the answer is 04/30/2021."


def replay(tmp_path: Path, samples: list[str]) -> ReplayProvider:
    path = tmp_path / "pool.jsonl"
    path.write_text(json.dumps({"question": QUESTION, "samples": samples}) + "\n")
    return ReplayProvider(path)


def search(
    strategy: str,
    provider: ReplayProvider,
    *,
    verifier: Expect | None = None,
    samples: int = 8,
    budget: int | None = None,
    **knobs: int,
) -> tuple[Outcome, Sampler]:
    draw = Sampler(Lane(provider), max_samples=budget or samples)
    settings = Settings(strategy=strategy, samples=samples, **knobs)  # type: ignore[arg-type]
    task = Task(id="d", question=QUESTION)
    return run(get_strategy(strategy).run(task, settings, sampler=draw, verifier=verifier)), draw


@given(st.text(alphabet="ab \n", max_size=40), st.booleans())
def test_steps_join_back_to_the_continuation(text: str, code: bool) -> None:
    steps = split_steps(text, code=code)
    assert "".join(steps) == text
    assert all(s.strip() for s in steps[1:])


def test_prose_steps_are_paragraphs_and_code_steps_are_lines() -> None:
    assert split_steps("a\nb\n\nc\n\n", code=False) == ["a\nb\n\n", "c\n\n"]
    assert split_steps("    x = 1\n\n    return x\n", code=True) == [
        "    x = 1\n\n",
        "    return x\n",
    ]


def test_beam_extends_the_best_partial_and_finds_the_verified_answer(tmp_path: Path) -> None:
    provider = replay(tmp_path, [WRONG, ODD, RIGHT, WRONG])
    outcome, draw = search(
        "beam", provider, verifier=Expect("05/01/2021."), samples=8, beam_width=2, depth=3
    )
    assert (outcome.answer, outcome.status) == ("05/01/2021", "verified")
    assert outcome.samples_used == draw.drawn <= 8
    assert outcome.strategy == "beam" and "rollouts" in outcome.note


def test_beam_without_a_verifier_votes_among_its_rollouts(tmp_path: Path) -> None:
    provider = replay(tmp_path, [RIGHT, RIGHT, ODD, RIGHT])
    outcome, draw = search("beam", provider, samples=6, beam_width=2, depth=2)
    assert (outcome.answer, outcome.status, outcome.evidence) == ("05/01/2021", "consensus", "vote")
    assert draw.drawn <= 6


def test_beam_continues_partials_as_prefixes(tmp_path: Path) -> None:
    provider = replay(tmp_path, [RIGHT, WRONG])
    seen: list[str] = []
    complete = provider.complete

    async def spy(request):  # type: ignore[no-untyped-def]
        seen.append(request.prefix)
        return await complete(request)

    provider.complete = spy  # type: ignore[method-assign]
    search("beam", provider, samples=6, beam_width=1, depth=3)
    assert seen[0] == "" and "Yesterday was 04/30/2021.\n\n" in seen[1:]
    assert any(
        p.endswith("One day later is May 1.\n\n") or p.endswith("April 29.\n\n") for p in seen
    )


def test_mcts_spends_exactly_its_budget_and_picks_the_verified_rollout(tmp_path: Path) -> None:
    provider = replay(tmp_path, [WRONG, ODD, RIGHT, WRONG, ODD])
    outcome, draw = search(
        "mcts", provider, verifier=Expect("05/01/2021."), samples=9, beam_width=2, depth=3
    )
    assert draw.drawn == 9 == outcome.samples_used
    assert (outcome.answer, outcome.status) == ("05/01/2021", "verified")
    assert "9 iterations" in outcome.note


def test_mcts_fails_honestly_when_no_rollout_passes(tmp_path: Path) -> None:
    provider = replay(tmp_path, [WRONG, ODD])
    outcome, _ = search("mcts", provider, verifier=Expect("05/01/2021."), samples=4)
    assert outcome.status == "failed" and outcome.confidence <= 0.01


def test_search_stops_at_the_sample_budget_and_says_so(tmp_path: Path) -> None:
    provider = replay(tmp_path, [WRONG, RIGHT])
    outcome, draw = search("mcts", provider, samples=10, budget=3)
    assert draw.drawn == 3 and "budget" in outcome.note
