"""The vault's calibration state in `.vaultttc/calibration.jsonl`: it round-trips, survives bad
lines and other writers, and `settle` records labelled outcomes and calibrates unchecked ones."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vaultttc.engine.calibration import MIN_OUTCOMES, PRIOR_WEIGHT, Labelled, prior_confidence
from vaultttc.engine.tasks import Evidence, Outcome, Signal, Status
from vaultttc.notes.compose import Answered
from vaultttc.vault.calibration_store import CalibrationStore, parse_line

labelled = st.builds(
    Labelled,
    provider=st.sampled_from(["local", "replay:/tmp/é.jsonl", "openai-compatible"]),
    model=st.text(min_size=1, max_size=12),
    task=st.sampled_from(["question", "code"]),
    kind=st.sampled_from(["single", "trace", "vote", "weighted-vote", "selection"]),
    raw=st.floats(min_value=0, max_value=30, allow_nan=False),
    label=st.booleans(),
    key=st.text(max_size=20),
)


@given(st.lists(labelled, max_size=12))
def test_outcomes_round_trip_through_the_file(tmp_path_factory: Any, items: list[Labelled]) -> None:
    path = Path(tmp_path_factory.mktemp("cal")) / ".vaultttc" / "calibration.jsonl"
    CalibrationStore(path).record(items)
    assert CalibrationStore(path).outcomes() == items


def test_a_line_that_is_not_an_outcome_is_skipped_and_a_half_written_one_waits(
    tmp_path: Path,
) -> None:
    path = tmp_path / "calibration.jsonl"
    good = Labelled("p", "m", "question", "vote", 0.9, True, "q1")
    CalibrationStore(path).record([good])
    with path.open("a", encoding="utf-8") as f:
        f.write('not json\n{"label": "yes"}\n{"provider": "p", "model": "m"')
    store = CalibrationStore(path)
    assert store.outcomes() == [good]
    with path.open("a", encoding="utf-8") as f:
        f.write(', "task": "question", "kind": "vote", "raw": 0.5, "label": false}\n')
    assert [o.raw for o in store.outcomes()] == [0.9, 0.5]
    assert parse_line("[]") is None


def test_a_store_sees_what_another_writer_appended(tmp_path: Path) -> None:
    path = tmp_path / "calibration.jsonl"
    daemon, cli = CalibrationStore(path), CalibrationStore(path)
    cli.record([Labelled("p", "m", "question", "single", 1.0, True, "a")])
    daemon.record([Labelled("p", "m", "question", "single", 1.0, False, "b")])
    assert [o.key for o in daemon.outcomes()] == ["a", "b"] == [o.key for o in cli.outcomes()]


def _outcome(status: Status, evidence: Evidence, signal: Signal | None) -> Outcome:
    return Outcome(
        task_id="q", answer="42", status=status, confidence=0.5, strategy="self-consistency",
        evidence=evidence, samples_used=5, provider="p", model="m", signal=signal,
    )  # fmt: skip


def _job(qid: str) -> Any:
    return SimpleNamespace(question=SimpleNamespace(id=qid), hash=f"h-{qid}")


def test_settle_records_labelled_outcomes_and_calibrates_unchecked_ones(tmp_path: Path) -> None:
    store = CalibrationStore(tmp_path / "calibration.jsonl")
    wrong = Signal("vote", 0.97, label=False)
    jobs = [_job(f"l{i}") for i in range(MIN_OUTCOMES)]
    checked = {
        j.question.id: Answered("x", "y", _outcome("failed", "reference", wrong)) for j in jobs
    }
    settled = store.settle(jobs, checked)
    assert settled == checked  # a checked answer keeps its verifier's confidence
    assert len(store.outcomes()) == MIN_OUTCOMES
    assert store.outcomes()[0] == Labelled("p", "m", "question", "vote", 0.97, False, "l0:h-l0")

    open_ = Signal("vote", 0.97)
    unchecked = {
        "u": Answered("x", "y", _outcome("consensus", "vote", open_)),
        "j": Answered("x", "y", _outcome("consensus", "judge", open_)),
        "e": Answered("x", "y", None, error="ProviderError: down"),
    }
    after = store.settle([_job("u"), _job("j"), _job("e")], unchecked, record=False)
    got = after["u"].outcome
    learned = PRIOR_WEIGHT * prior_confidence(open_) / (MIN_OUTCOMES + PRIOR_WEIGHT)
    assert got is not None and got.confidence == pytest.approx(learned, abs=1e-3)
    assert after["j"] == unchecked["j"] and after["e"] == unchecked["e"]
    assert len(store.outcomes()) == MIN_OUTCOMES


def test_a_dry_run_teaches_nothing(tmp_path: Path) -> None:
    store = CalibrationStore(tmp_path / "calibration.jsonl")
    answered = {
        "q": Answered("x", "y", _outcome("verified", "reference", Signal("single", 1.0, True)))
    }
    store.settle([_job("q")], answered, record=False)
    assert store.outcomes() == [] and not store.path.exists()


def test_code_checked_by_its_examples_takes_the_vaults_examples_map(tmp_path: Path) -> None:
    store = CalibrationStore(tmp_path / "calibration.jsonl")
    taught = Signal("examples", 0.8, label=False, task="code")
    jobs = [_job(f"l{i}") for i in range(MIN_OUTCOMES)]
    store.settle(jobs, {j.question.id: Answered("x", "y", _outcome("failed", "tests", taught))
                        for j in jobs})  # fmt: skip
    open_ = Signal("examples", 0.8, task="code")
    checked = {"u": Answered("x", "y", _outcome("verified", "examples", open_))}
    got = store.settle([_job("u")], checked, record=False)["u"].outcome
    # every twin that passed its examples like this failed its tests: the prior's 0.8 shrinks
    learned = PRIOR_WEIGHT * 0.8 / (MIN_OUTCOMES + PRIOR_WEIGHT)
    assert got is not None and got.status == "verified"
    assert got.confidence == pytest.approx(learned, abs=1e-3)


def test_a_failed_answer_keeps_its_verifiers_confidence(tmp_path: Path) -> None:
    store = CalibrationStore(tmp_path / "calibration.jsonl")
    taught = Signal("single", 1.0, label=True, task="code")
    jobs = [_job(f"l{i}") for i in range(MIN_OUTCOMES)]
    store.settle(jobs, {j.question.id: Answered("x", "y", _outcome("verified", "tests", taught))
                        for j in jobs})  # fmt: skip
    crashed = dataclasses.replace(
        _outcome("failed", "none", Signal("single", 1.0, task="code")), confidence=0.0
    )
    got = store.settle([_job("c")], {"c": Answered("x", "y", crashed)}, record=False)
    assert got["c"].outcome == crashed  # not the vault's 0.9 for programs that run
