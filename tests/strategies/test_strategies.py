"""Strategies with scripted samples: the registry, prompts, direct/thinking/effort, auto and
best-of-n. Samples come from a scripted provider (recorded requests, per-index replies); code
candidates run in the real sandbox through the real python verifier."""

from __future__ import annotations

from typing import Any

import pytest
from helpers import QUESTION, Expect, Scripted, ask, run, sampler

from vaultttc.engine.confidence import JUDGE_CAP
from vaultttc.engine.tasks import Settings, Task
from vaultttc.errors import ConfigError
from vaultttc.providers.base import Capabilities, Pricing
from vaultttc.strategies import STRATEGIES, STRATEGY_NAMES, get_strategy
from vaultttc.strategies.auto import route
from vaultttc.strategies.shared.prompts import answer_request
from vaultttc.verifiers.python import PythonVerifier

STUB = 'def add_one(x):\n    """Return x plus one."""\n'
CODE = Task(
    id="c1",
    question="Implement `add_one`.",
    kind="code",
    stub=STUB,
    tests="assert add_one(1) == 2\n",
    entry_point="add_one",
)


def test_the_registry_knows_every_strategy_by_name_and_alias() -> None:
    assert set(STRATEGIES) == {
        "auto",
        "direct",
        "thinking",
        "effort",
        "best-of-n",
        "self-consistency",
        "adaptive-consistency",
        "beam",
        "mcts",
    }
    assert STRATEGY_NAMES == STRATEGIES
    assert [get_strategy(n).name for n in STRATEGIES] == list(STRATEGIES)
    assert get_strategy("Best_Of_N").name == "best-of-n"
    with pytest.raises(ConfigError, match=r"unknown strategy 'magic'.*self-consistency"):
        get_strategy("magic")


def test_prompts_hold_the_question_verbatim_for_chat_and_base_models() -> None:
    chat = answer_request(QUESTION, Capabilities(chat=True), max_tokens=50)
    base = answer_request(QUESTION, Capabilities(chat=False), max_tokens=50)
    assert QUESTION.question in chat.prompt and "The answer is" in chat.prompt
    assert base.prompt == f"Question: {QUESTION.question}\nAnswer:"
    assert answer_request(CODE, Capabilities(chat=False), max_tokens=50).prompt == STUB
    code_chat = answer_request(CODE, Capabilities(chat=True), max_tokens=50).prompt
    assert STUB.rstrip() in code_chat and "assert add_one(1) == 2" in code_chat


def test_direct_draws_one_sample_and_reports_what_it_cost() -> None:
    outcome, provider = ask("direct", ["Six sevens.\nThe answer is: 42"], samples=8)
    assert (outcome.answer, outcome.status, outcome.samples_used) == ("42", "unverified", 1)
    assert len(provider.requests) == 1 and outcome.usage.output_tokens == 5
    assert 0 < outcome.confidence < 1 and outcome.strategy == "direct"


def test_direct_with_a_verifier_is_verified_or_failed() -> None:
    good, _ = ask("direct", ["The answer is: 42"], verifier=Expect("42"))
    bad, _ = ask("direct", ["The answer is: 41"], verifier=Expect("42"))
    assert (good.status, good.evidence, good.passed) == ("verified", "reference", 1)
    assert (bad.status, bad.passed) == ("failed", 0) and bad.confidence < good.confidence


def test_thinking_sends_the_budget_and_never_lets_thinking_into_the_answer() -> None:
    provider = Scripted(
        ["The answer is: 42"], caps=Capabilities(thinking=True), thinking="maybe it is 99"
    )
    outcome, _ = ask("thinking", [], provider=provider, thinking_budget=3000, max_tokens=500)
    [request] = provider.requests
    assert (request.thinking_budget, request.max_tokens) == (3000, 500)
    assert outcome.answer == "42" and "99" not in f"{outcome.answer}{outcome.note}"


def test_thinking_without_the_capability_asks_step_by_step_within_the_budget() -> None:
    outcome, provider = ask("thinking", ["Step one.\n\nThe answer is: 42"], thinking_budget=700)
    [request] = provider.requests
    assert request.thinking_budget is None and request.max_tokens == 700
    assert "step by step" in request.prompt and outcome.answer == "42"
    assert "step-by-step prompt with 700 tokens" in outcome.note


def test_effort_goes_to_the_request_or_fails_clearly_before_sampling() -> None:
    caps = Capabilities(efforts=("low", "high"))
    outcome, provider = ask(
        "effort", [], provider=Scripted(["The answer is: 42"], caps=caps), effort="high"
    )
    assert provider.requests[0].effort == "high" and outcome.answer == "42"
    for effort, offered, message in (
        (r"max", caps, r"one of low, high.*not 'max'"),
        ("high", Capabilities(), "has no reasoning effort"),
    ):
        bare = Scripted(["x"], caps=offered)
        with pytest.raises(ConfigError, match=message):
            ask("effort", [], provider=bare, effort=effort)
        assert bare.requests == []


def test_best_of_n_refuses_without_a_verifier_quoting_the_anti_pattern() -> None:
    provider = Scripted(["The answer is: 42"])
    with pytest.raises(ConfigError, match="No verifier in best-of-N"):
        ask("best-of-n", [], provider=provider)
    assert provider.requests == []


def test_best_of_n_picks_a_passing_candidate_even_from_a_minority() -> None:
    replies = ["The answer is: 41", "The answer is: 41", "The answer is: 42", "no idea"]
    outcome, _ = ask("best-of-n", replies, verifier=Expect("42"), samples=4)
    assert (outcome.answer, outcome.status, outcome.passed) == ("42", "verified", 1)
    assert outcome.samples_used == 4 and outcome.confidence == pytest.approx(0.99)


def test_best_of_n_says_when_the_evidence_is_only_a_judges() -> None:
    judge = Expect("42", name="judge", evidence="judge", strength=0.5)
    outcome, _ = ask("best-of-n", ["The answer is: 42"] * 3, verifier=judge, samples=3)
    assert outcome.status == "consensus" and outcome.evidence == "judge"
    assert "judge's grade" in outcome.note and outcome.confidence <= JUDGE_CAP


def test_best_of_n_without_any_pass_fails_and_keeps_the_best_partial() -> None:
    outcome, _ = ask(
        "best-of-n", ["The answer is: 41", "The answer is: 40"], verifier=Expect("42"), samples=2
    )
    assert outcome.status == "failed" and outcome.answer == "41"
    assert outcome.confidence <= 0.01


def test_best_of_n_stops_at_the_sample_budget_and_says_so() -> None:
    outcome, provider = ask(
        "best-of-n", ["The answer is: 42"], verifier=Expect("42"), samples=6, budget=2
    )
    assert outcome.samples_used == 2 and len(provider.requests) == 2
    assert "budget: sample budget of 2 reached" in outcome.note


def test_best_of_n_respects_the_cost_cap() -> None:
    provider = Scripted(["The answer is: 42"], price=Pricing(input=1000.0, output=1000.0))
    draw = sampler(provider, 8, cap_usd=0.01)  # each request's worst case is ~1 cent
    settings = Settings(strategy="best-of-n", samples=8, max_tokens=5)
    outcome = run(
        get_strategy("best-of-n").run(QUESTION, settings, sampler=draw, verifier=Expect("42"))
    )
    assert outcome.samples_used < 8 and outcome.cost_usd <= 0.01
    assert "cost cap of $0.01 reached" in outcome.note


CANDIDATES = [
    "    return x + 1 if x != 0 else 5\n",  # passes the visible test, wrong elsewhere
    "    return x + 1\n",
    "    return 1 + x\n",
    "    y = x\n    return y + 1\n",
    "    return x - 1\n",  # fails the visible test
]


def test_best_of_n_prefers_the_largest_group_that_behaves_alike() -> None:
    verifier = PythonVerifier(allow_exec=True, timeout_s=5)
    outcome, _ = ask("best-of-n", CANDIDATES, task=CODE, verifier=verifier, samples=5)
    assert outcome.status == "verified" and outcome.code is not None
    assert "return x + 1\n" in outcome.code and outcome.passed == 4 and outcome.agreed == 3
    first_pass, _ = ask("best-of-n", CANDIDATES, task=CODE, verifier=verifier, samples=1)
    assert first_pass.code is not None and "else 5" in first_pass.code
    assert first_pass.confidence < outcome.confidence


def test_an_unchecked_pick_nothing_agrees_with_has_the_lowest_agreement_evidence() -> None:
    """Programs that return None on every probe vote for nothing: the pick is the first sample,
    and its evidence is no agreement at all (0), below two programs of three that agree."""
    untested = Task(id="c2", question="Implement `add_one`.", kind="code", stub=STUB,
                    entry_point="add_one")  # fmt: skip
    verifier = PythonVerifier(allow_exec=True, timeout_s=5)
    blank = ["    pass\n", "    return None\n", "    y = x\n"]
    agreeing = ["    return x + 1\n", "    return 1 + x\n", "    return x - 1\n"]
    silent, _ = ask("best-of-n", blank, task=untested, verifier=verifier, samples=3)
    voted, _ = ask("best-of-n", agreeing, task=untested, verifier=verifier, samples=3)
    assert silent.status == voted.status == "unverified"
    assert silent.signal is not None and voted.signal is not None
    assert silent.signal.kind == voted.signal.kind == "selection"
    assert silent.signal.raw == 0.0 < voted.signal.raw
    assert silent.confidence <= voted.confidence


def test_a_checked_pool_nothing_agrees_in_teaches_the_no_agreement_case() -> None:
    """The labelled example a checked pool gives calibration is what an unchecked pool would have
    said: with no program voting for anything, the first on no agreement (0), judged by the
    tests — the case `select` writes at 0, so the vault's map learns it."""
    verifier = PythonVerifier(allow_exec=True, timeout_s=5)
    blank = ["    pass\n", "    return None\n"]
    outcome, _ = ask("best-of-n", blank, task=CODE, verifier=verifier, samples=2)
    assert outcome.status == "failed"
    assert outcome.signal is not None
    signal = outcome.signal
    assert (signal.kind, signal.raw, signal.label) == ("selection", 0.0, False)


def test_best_of_n_without_consent_to_execute_is_unverified() -> None:
    verifier = PythonVerifier(allow_exec=False)
    outcome, _ = ask("best-of-n", CANDIDATES, task=CODE, verifier=verifier, samples=3)
    assert outcome.status == "unverified" and "execution not allowed" in outcome.note


def test_auto_rates_difficulty_once_then_follows_the_decision_table() -> None:
    provider = Scripted(["hard"] + ["The answer is: 42"] * 9)
    outcome, _ = ask("auto", [], provider=provider, verifier=Expect("42"), samples=6)
    assert outcome.strategy == "auto→best-of-n" and outcome.samples_used == 6
    assert "rated hard" in outcome.note and "best-of-5" in outcome.note
    assert provider.requests[0].max_tokens == 8 and QUESTION.question in provider.requests[0].prompt


def test_auto_skips_the_rating_when_latency_is_critical() -> None:
    outcome, provider = ask("auto", ["The answer is: 42"], samples=8, latency_critical=True)
    assert outcome.strategy == "auto→direct" and len(provider.requests) == 1


@pytest.mark.parametrize(
    ("question", "knobs", "verifier", "expected"),
    [
        ("What is 6 times 7?", {}, Expect("42"), ("best-of-n", 4)),
        ("What is 6 times 7?", {"max_cost_usd": 0.1}, None, ("self-consistency", 4)),
        ("What is 6 times 7?", {}, None, ("adaptive-consistency", 4)),
        ("Discuss the ethics of sampling.", {}, None, ("thinking", 7)),
    ],
)
def test_the_decision_table_for_easy_tasks(
    question: str, knobs: dict[str, Any], verifier: Any, *, expected: tuple[str, int]
) -> None:
    task = Task(id="t", question=question)
    chosen = route(
        task, Settings(samples=8, **knobs), verifier=verifier, difficulty="easy", remaining=7
    )
    samples = chosen.settings.samples if expected[0] != "thinking" else 7
    assert (chosen.strategy.name, samples) == expected
    if expected[0] == "thinking":
        assert chosen.settings.thinking_budget == 2000
    hard = route(
        task, Settings(samples=8, **knobs), verifier=verifier, difficulty="hard", remaining=7
    )
    assert hard.strategy.name == chosen.strategy.name
    assert (hard.settings.thinking_budget or 0) >= (chosen.settings.thinking_budget or 0)
    assert hard.settings.samples >= chosen.settings.samples
