"""Prompts: every `Request` a strategy sends is built here from a `Task`.

Chat models get an instruction around the question (and, for code, the stub in a fence and the
visible tests); base models (`Capabilities.chat` False) get a plain completion prompt
("Question: …\\nAnswer:") or, for code, the stub itself so the model continues it. Every prompt
contains `task.question` verbatim (for code tasks the stub verbatim): the replay provider finds
recorded samples by that text. Pure; nothing here draws samples.
"""

from __future__ import annotations

from vaultttc.engine.tasks import Task
from vaultttc.providers.base import Capabilities, Request

__all__ = ["answer_request", "classify_request", "code_prompt", "question_prompt"]

_FINAL = 'End with a final line of the form "The answer is: <answer>".'
_STEPS = "Think step by step, one step per paragraph, before you answer."


def question_prompt(task: Task, caps: Capabilities, *, steps: bool = False) -> str:
    """The prompt for a question block."""
    if not caps.chat:
        lead = " Let's think step by step.\n" if steps else ""
        return f"Question: {task.question}\nAnswer:{lead}"
    how = f"{_STEPS}\n{_FINAL}" if steps else _FINAL
    return f"{task.question}\n\n{how}"


def code_prompt(task: Task, caps: Capabilities, *, steps: bool = False) -> str:
    """The prompt for a code task: the stub to continue (base) or to complete (chat)."""
    stub = task.stub or ""
    if not caps.chat:
        return stub
    lang = task.language
    parts = [task.question, ""]
    if steps:
        parts += [_STEPS, ""]
    parts += [
        f"Complete this {lang} code. Reply with the whole program in one ```{lang} fence.",
        "",
        f"```{lang}",
        stub.rstrip("\n"),
        "```",
    ]
    if task.tests:
        parts += ["", "It must pass these tests:", f"```{lang}", task.tests.rstrip("\n"), "```"]
    return "\n".join(parts)


def answer_request(
    task: Task,
    caps: Capabilities,
    *,
    max_tokens: int,
    steps: bool = False,
    thinking_budget: int | None = None,
    effort: str | None = None,
    prefix: str = "",
) -> Request:
    """A request for one full answer (or, with `prefix`, the continuation of a partial one)."""
    prompt = (
        code_prompt(task, caps, steps=steps)
        if task.kind == "code"
        else question_prompt(task, caps, steps=steps)
    )
    if prefix and caps.chat and not caps.prefill:
        # No assistant prefill: show the partial answer and ask for the rest of it only.
        prompt += f"\n\nContinue this partial answer exactly where it stops:\n\n{prefix}"
        prefix = ""
    return Request(
        prompt=prompt,
        max_tokens=max_tokens,
        thinking_budget=thinking_budget,
        effort=effort,
        prefix=prefix,
        stop=_stops(task, caps, steps=steps),
    )


# A base model does not know when to stop: it answers, then writes the next question (or the
# next function). These end a completion where its answer ends; chat models stop themselves.
_QUESTION_STOPS = ("\nQuestion:",)
_CODE_STOPS = ("\ndef ", "\nclass ", "\nif __name__", "\nprint(", "\nassert ", "\n```")


def _stops(task: Task, caps: Capabilities, *, steps: bool) -> tuple[str, ...]:
    if caps.chat:
        return ()
    if task.kind == "code":
        return _CODE_STOPS
    return _QUESTION_STOPS if steps else (*_QUESTION_STOPS, "\n\n")


def classify_request(task: Task, caps: Capabilities) -> Request:
    """The router's one cheap call: is this task easy or hard for the model?"""
    body = task.question + (f"\n\n{task.stub}" if task.stub else "")
    if caps.chat:
        prompt = (
            "How hard is the following task for you? Reply with exactly one word: "
            f"easy or hard.\n\nTask:\n{body}"
        )
    else:
        prompt = f"Task:\n{body}\n\nDifficulty (easy or hard):"
    return Request(prompt=prompt, max_tokens=8, temperature=0.0, stop=() if caps.chat else ("\n",))
