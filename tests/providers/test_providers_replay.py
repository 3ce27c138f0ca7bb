"""The replay provider: recorded samples played back by question and sample index."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from helpers import shared

from vaultttc.engine.sampling import Lane, Sampler
from vaultttc.errors import ConfigError, ProviderError
from vaultttc.providers.base import Completion, Message, Request
from vaultttc.providers.replay import ReplayProvider


def write(tmp_path: Path, *rows: dict[str, object]) -> Path:
    path = tmp_path / "replay.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def ask(provider: ReplayProvider, request: Request) -> Completion:
    return asyncio.run(provider.complete(request))


def test_sample_i_answers_request_i_whatever_the_prompt_around_the_question(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        {"question": "How many  divisors\ndoes 360 have?", "samples": ["24", "23", "twenty-four"]},
    )
    replay = ReplayProvider(path)
    prompt = "Answer carefully.\n\nQuestion: How many divisors does\n360 have?\nAnswer:"
    assert [ask(replay, Request(prompt=prompt, sample_index=i)).text for i in range(3)] == [
        "24",
        "23",
        "twenty-four",
    ]
    with pytest.raises(ProviderError, match="sample 3 requested but only 3 are recorded"):
        ask(replay, Request(prompt=prompt, sample_index=3))


def test_concurrent_samples_come_back_in_recorded_order(tmp_path: Path) -> None:
    samples = [f"answer {i}" for i in range(10)]
    replay = ReplayProvider(write(tmp_path, {"question": "Q?", "samples": samples}))
    got = asyncio.run(Sampler(Lane(replay), max_samples=10).sample(Request(prompt="Q?"), 10))
    assert [c.text for c in got] == samples


def test_the_longest_recorded_question_in_the_prompt_wins(tmp_path: Path) -> None:
    replay = ReplayProvider(
        write(
            tmp_path,
            {"question": "What is 2+2?", "samples": ["short"]},
            {"question": "What is 2+2? Explain step by step.", "samples": ["long"]},
        )
    )
    assert ask(replay, Request(prompt="Q: What is 2+2? Explain step by step.")).text == "long"
    assert ask(replay, Request(prompt="Q: What is 2+2? Quickly.")).text == "short"


def test_questions_in_earlier_messages_are_found(tmp_path: Path) -> None:
    replay = ReplayProvider(write(tmp_path, {"question": "Name a prime.", "samples": ["7"]}))
    request = Request(prompt="Check your answer.", messages=(Message("user", "Name a prime."),))
    assert ask(replay, request).text == "7"


def test_an_unrecorded_question_is_a_clear_error(tmp_path: Path) -> None:
    replay = ReplayProvider(write(tmp_path, {"question": "Q?", "samples": ["a"]}))
    with pytest.raises(ProviderError, match="no recorded question occurs in the prompt"):
        ask(replay, Request(prompt="Something else entirely"))


def test_per_sample_usage_in_either_form(tmp_path: Path) -> None:
    replay = ReplayProvider(
        write(
            tmp_path,
            {
                "question": "A?",
                "samples": ["x", "y"],
                "usage": [{"input_tokens": 3, "output_tokens": 4}, {"output_tokens": 9}],
            },
            {
                "question": "B?",
                "samples": [{"text": "z", "thinking": "hmm", "usage": {"thinking_tokens": 2}}],
            },
        )
    )
    a1 = ask(replay, Request(prompt="A?", sample_index=1))
    b0 = ask(replay, Request(prompt="B?"))
    assert (a1.text, a1.usage.output_tokens, a1.usage.input_tokens) == ("y", 9, 0)
    assert (b0.text, b0.thinking, b0.usage.thinking_tokens, b0.cost_usd) == ("z", "hmm", 2, 0.0)


def test_a_prefix_continues_the_first_recorded_sample_that_starts_with_it(tmp_path: Path) -> None:
    replay = ReplayProvider(
        write(
            tmp_path,
            {
                "question": "Q?",
                "samples": ["Step 1: a. Step 2: b.", "Step 1: c. Step 2: d.", "Other. Step 2: e."],
            },
        )
    )
    assert (
        ask(replay, Request(prompt="Q?", prefix="Step 1: ", sample_index=1)).text == "c. Step 2: d."
    )
    # from index 2 onward, cycling: sample 2 does not match, sample 0 does
    assert (
        ask(replay, Request(prompt="Q?", prefix="Step 1: ", sample_index=2)).text == "a. Step 2: b."
    )
    # no sample starts with the prefix: sample i (cycling) whole, never an error
    assert (
        ask(replay, Request(prompt="Q?", prefix="Nope", sample_index=4)).text
        == "Step 1: c. Step 2: d."
    )


def test_bad_lines_name_the_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"question": "Q?", "samples": ["a"]}\n{"question": "R?"}\n')
    with pytest.raises(ConfigError, match=r"bad\.jsonl:2: 'samples' must be"):
        ReplayProvider(path)
    path.write_text("not json\n")
    with pytest.raises(ConfigError, match=r"bad\.jsonl:1: not JSON"):
        ReplayProvider(path)


def test_the_cache_identity_follows_the_file_contents(tmp_path: Path) -> None:
    path = write(tmp_path, {"question": "Q?", "samples": ["a"]})
    before = ReplayProvider(path).cache_identity()
    write(tmp_path, {"question": "Q?", "samples": ["b"]})
    assert ReplayProvider(path).cache_identity() != before


@pytest.mark.parametrize("pool", ["vcot_gpt35_date_np.jsonl", "codet_humaneval_codegen16b.jsonl"])
def test_every_question_of_a_real_pool_finds_its_own_samples(pool: str) -> None:
    path = shared("benchmarks", "pools", pool)
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    replay = ReplayProvider(path)
    for row in rows:
        prompt = f"Solve this.\n\n{row['question']}\n\nThink step by step."
        index = len(row["samples"]) - 1
        assert ask(replay, Request(prompt=prompt, sample_index=index)).text == row["samples"][index]


def test_recorded_confidences_are_played_back_as_trace_confidences(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        {"question": "Q1?", "samples": ["a", "b", "c"], "confidences": [7.5, None, 2]},
        {"question": "Q2?", "samples": [{"text": "x", "confidence": 3.25}, "y"]},
        {"question": "Q3?", "samples": ["z"]},
    )
    replay = ReplayProvider(path)
    got = [ask(replay, Request(prompt="Q1?", sample_index=i)).trace_confidence for i in range(3)]
    assert got == [7.5, None, 2.0]
    assert ask(replay, Request(prompt="Q2?")).trace_confidence == 3.25
    assert ask(replay, Request(prompt="Q2?", sample_index=1)).trace_confidence is None
    assert ask(replay, Request(prompt="Q3?")).trace_confidence is None
    assert replay.capabilities.logprobs > 0


@pytest.mark.parametrize(
    ("confidences", "message"),
    [([1.0], "one entry per sample"), ("high", "must be a list"), ([True, 1], "number or null")],
)
def test_bad_confidences_name_the_line(tmp_path: Path, confidences: object, message: str) -> None:
    path = write(tmp_path, {"question": "Q?", "samples": ["a", "b"], "confidences": confidences})
    with pytest.raises(ConfigError, match=message):
        ReplayProvider(path)
