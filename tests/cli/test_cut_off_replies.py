"""A reply that reached its token limit is no verdict: `vaultttc run` over the real OpenAI SDK
to the stub server, whose replies end with `finish_reason: "length"`, leaves the note as it was
and says to raise `max_tokens`, unless the reply had already stated its answer in full. The
same rule for programs, for votes and for best-of-n's candidates."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import Scripted, ask
from stub_server import Reply, StubServer, chat_body

from vaultttc.cli.main import cli
from vaultttc.engine.code import finished_before_cut
from vaultttc.engine.extract import stated_before_cut
from vaultttc.engine.tasks import Task, Verdict
from vaultttc.providers.base import Completion, Request

NOTE = "# Sums\n\n> [!question] What is 12 * 12?\n> expect:: 144\n"


def _cut(text: str) -> Reply:
    body = chat_body(text)
    body["choices"][0]["finish_reason"] = "length"
    return Reply(body=body)


def _run(stub: StubServer, vault: Path, *more: str) -> tuple[int, dict[str, object]]:
    argv = ["run", str(vault), "--provider", "openai-compatible", "--base-url", stub.openai_url,
            "--model", "stub-model", "--strategy", "direct", "--json", *more]  # fmt: skip
    result = CliRunner().invoke(cli, argv, catch_exceptions=False)
    [question] = json.loads(result.stdout)["notes"][0]["questions"]
    return result.exit_code, question


def test_a_reply_cut_at_the_token_limit_leaves_the_note_and_says_raise_max_tokens(
    stub: StubServer, tmp_path: Path
) -> None:
    note = tmp_path / "sums.md"
    note.write_text(NOTE, encoding="utf-8")
    stub.enqueue("chat", _cut("12 * 12 is 2"))
    code, question = _run(stub, tmp_path)
    assert (code, question["status"], question["cause"]) == (3, "unanswered", "cut")
    assert "max_tokens" in str(question["fix"]) and "token limit" in str(question["error"])
    assert note.read_text(encoding="utf-8") == NOTE  # no `failed`, no changelog row


def test_a_cut_reply_that_had_stated_its_answer_is_judged(stub: StubServer, tmp_path: Path) -> None:
    note = tmp_path / "sums.md"
    note.write_text(NOTE, encoding="utf-8")
    stub.enqueue("chat", _cut("12 * 12 = 144.\nThe answer is 144.\nTo double-check, 12 * 10 is"))
    code, question = _run(stub, tmp_path)
    assert (code, question["status"], question["answer"]) == (0, "verified", "144")
    assert "verification_status: verified" in note.read_text(encoding="utf-8")


def test_stated_before_cut() -> None:
    assert stated_before_cut("The answer is 144.\nTo check")
    assert stated_before_cut("#### 05/01/2021\nSo") and stated_before_cut("Answer: (B)\nAs")
    assert not stated_before_cut("The answer is 14")  # the answer's own line was cut
    assert not stated_before_cut("12 * 12 is 144\nand 13")  # no explicit answer at all
    assert not stated_before_cut("<think>The answer is 144.\nHmm")  # thinking is no answer
    assert not stated_before_cut("To find the answer: we multiply.\n12 * 12 = 1")  # reasoning
    assert not stated_before_cut("The answer is 12.\nWait, \\boxed{14")  # a later one, cut


STUB = "def double(xs):\n"
CLOSED = "Here:\n```python\ndef double(xs):\n    return [2 * x for x in xs]\n```\nThis wor"


@pytest.mark.parametrize(
    ("text", "finished"),
    [
        (CLOSED, True),  # the fence closed before the prose was cut
        ("```python\ndef double(xs):\n    return [2 * x for", False),  # inside the fence
        ("    out = []\n    for x in xs:\n        out.append(2 *", False),  # inside the body
        ("    return [2 * x for x in xs]\n\n\nprint(double([1, 2", True),  # in what follows
        ("Let me think about how to do", False),  # no program at all
    ],
)
def test_finished_before_cut(text: str, finished: bool) -> None:
    assert finished_before_cut(text, stub=STUB, entry_point="double") is finished
    documented = STUB + '    """Double every item."""\n'  # a stub that parses on its own
    assert finished_before_cut(text, stub=documented, entry_point="double") is finished


CODE = Task(id="d", question="Double every item.", kind="code", stub=STUB, entry_point="double",
            tests="assert double([1, 2]) == [2, 4]\n")  # fmt: skip


class LengthCut(Scripted):
    """Replies listed in `cut` end at the token limit."""

    def __init__(self, replies: list[str], cut: set[int]) -> None:
        super().__init__(replies)
        self.cut = cut

    async def complete(self, request: Request) -> Completion:
        done = await super().complete(request)
        if request.sample_index in self.cut:
            return replace(done, finish_reason="length")
        return done


class Counting:
    """A verifier that passes every program and counts what it was given."""

    name = "python"

    def __init__(self) -> None:
        self.seen: list[str] = []

    async def verify(self, candidate: str, task: Task) -> Verdict:
        self.seen.append(candidate)
        return Verdict(passed=True, score=1.0, strength=0.97, evidence="tests")


def test_best_of_n_never_verifies_a_program_cut_off() -> None:
    whole = "    return [2 * x for x in xs]\n"
    cut = "    return [2 * x for"
    provider = LengthCut([cut, whole, cut], cut={0, 2})
    verifier = Counting()
    outcome, _ = ask("best-of-n", [], provider=provider, task=CODE, verifier=verifier, samples=3)
    assert outcome.status == "verified" and outcome.code is not None and "x in xs" in outcome.code
    assert len(verifier.seen) == 1 and all("x in xs" in s for s in verifier.seen)


def test_a_vote_counts_a_cut_reply_as_no_vote() -> None:
    provider = LengthCut(["The answer is 4", "The answer is 4", "The answer is 5."], cut={0, 1})
    outcome, _ = ask("self-consistency", [], provider=provider, samples=3)
    assert (outcome.answer, outcome.agreed) == ("5", 1)  # the two cut "4"s vote for nothing


@pytest.mark.parametrize("strategy", ["self-consistency", "adaptive-consistency", "beam", "mcts"])
def test_every_strategy_leaves_an_all_cut_question_unanswered_for_the_token_limit(
    strategy: str,
) -> None:
    provider = LengthCut(["The answer is 4"] * 4, cut={0, 1, 2, 3})
    outcome, _ = ask(strategy, [], provider=provider, samples=4)
    assert (outcome.answer, outcome.code) == ("", None)  # the runner reports it unanswered
    assert outcome.cut_off == outcome.samples_used > 0


def test_a_stream_broken_off_is_no_answer_but_no_token_limit_either() -> None:
    class Broken(Scripted):
        async def complete(self, request: Request) -> Completion:
            return replace(await super().complete(request), finish_reason="truncated")

    outcome, _ = ask("self-consistency", [], provider=Broken(["The answer is 4.\nSo"]), samples=2)
    assert outcome.answer == "" and outcome.cut_off == 0  # cause provider, not "raise max_tokens"


def test_best_of_n_whose_every_program_is_cut_answers_nothing() -> None:
    provider = LengthCut(["    return [2 * x for"], cut={0, 1})
    verifier = Counting()
    outcome, _ = ask("best-of-n", [], provider=provider, task=CODE, verifier=verifier, samples=2)
    assert (outcome.code, outcome.cut_off, verifier.seen) == (None, 2, [])
