"""The note model: blocks and their exact lines, ids, and clear errors for bad notes.

Parse cases are data: `tests/data/parse/NAME.md` is a note and `NAME.json` what parsing it must
give. The JSON names only what the case is about: `questions` and `examples` are the note's
lists in order, each item with the fields that matter (`lines` are 1-based first and last
lines, `test_line` and `check_line` the test and check fences' first code lines,
`body_contains` words the body holds);
`language`, `changelog` and `frontmatter` (`key_lines`, and the `data` keys given) likewise.
Every case also checks that an answer region comes after its question.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

import pytest
from helpers import DATA

from vaultttc.errors import NoteError
from vaultttc.notes.model import Example, Note, Question
from vaultttc.notes.parse import parse_note
from vaultttc.vault.files import decode

BAD = DATA / "bad"
PARSE = DATA / "parse"
T = TypeVar("T")


def parse(text: str) -> Note:
    return parse_note(text, "n.md")


def _question(q: Question) -> dict[str, Any]:
    answer = q.answer
    return {
        "title": q.title,
        "kind": q.kind,
        "body": q.body,
        "fields": dict(q.fields),
        "prefix": q.prefix,
        "lines": [q.span.first_line, q.span.last_line],
        "first_line": q.span.first_line,
        "stub": q.stub.code if q.stub is not None else None,
        "test_line": q.test.code_line + 1 if q.test is not None else None,
        "check_line": q.check.code_line + 1 if q.check is not None else None,
        "answer": None
        if answer is None
        else {
            "id": answer.id,
            "hash": answer.hash,
            "lines": [answer.span.first_line, answer.span.last_line],
        },
    }


def _example(e: Example) -> dict[str, Any]:
    return {
        "line": e.line,
        "code": e.fence.code,
        "lang": e.fence.lang,
        "skip": e.skip,
        "output": e.output.code if e.output is not None else None,
    }


def _note(note: Note, expected: dict[str, Any]) -> dict[str, Any]:
    """The parts of `note` that `expected` names, in its shape (see the module docstring)."""
    log, front = note.changelog, note.frontmatter
    view: dict[str, Any] = {
        "language": note.language,
        "questions": _each(note.questions, expected.get("questions", []), _question),
        "examples": _each(note.examples, expected.get("examples", []), _example),
        "changelog": None
        if log is None
        else {
            "columns": list(log.columns),
            "insert_at": log.insert_at,
            "heading_first_line": log.heading.first_line,
        },
        "frontmatter": None
        if front is None
        else {
            "key_lines": {k.name: [k.span.first_line, k.span.last_line] for k in front.keys},
            "data": {k: front.data.get(k) for k in expected.get("frontmatter", {}).get("data", {})},
        },
    }
    return {key: view[key] for key in expected}


def _each(items: tuple[T, ...], wanted: list[dict[str, Any]],
          view: Callable[[T], dict[str, Any]]) -> list[dict[str, Any]]:  # fmt: skip
    """Each item's view cut to the keys its expectation names; a surplus item shows them all."""
    views = [view(item) for item in items]
    return [_pick(v, wanted[i] if i < len(wanted) else v) for i, v in enumerate(views)]


def _pick(view: dict[str, Any], wanted: dict[str, Any]) -> dict[str, Any]:
    picked = {key: view[key] for key in wanted if key != "body_contains"}
    if "body_contains" in wanted:
        picked["body_contains"] = [w for w in wanted["body_contains"] if w in view["body"]]
    return picked


@pytest.mark.parametrize("case", sorted(p.stem for p in PARSE.glob("*.md")))
def test_parse_case(case: str) -> None:
    note = parse((PARSE / f"{case}.md").read_bytes().decode("utf-8"))
    expected = json.loads((PARSE / f"{case}.json").read_text(encoding="utf-8"))
    assert _note(note, expected) == expected
    for question in note.questions:  # an answer region belongs to the block before it
        assert question.answer is None or question.answer.span.start >= question.span.end


def test_every_parse_case_has_its_expectation() -> None:
    notes = sorted(p.stem for p in PARSE.glob("*.md"))
    assert notes == sorted(p.stem for p in PARSE.glob("*.json")) and notes


def test_question_ids_are_stable_across_edits_elsewhere_and_unique() -> None:
    one = parse("# A\n\n> [!question] Same?\n\n> [!question] Same?\n> id:: mine\n")
    two = parse(
        "# A changed\n\nnew prose\n\n> [!question] Same?\n\n> [!question] Same?\n> id:: mine\n"
    )
    assert [q.id for q in one.questions] == [q.id for q in two.questions]
    assert one.questions[1].id == "mine"
    three = parse("> [!question] Same?\n\n> [!question] Same?\n")
    assert len({q.id for q in three.questions}) == 2


def test_question_hash_changes_with_the_question_only() -> None:
    base = parse("# A\n\n> [!question] Q?\n> expect:: 1\n").questions[0].hash
    assert parse("# B\n\n> [!question] Q?\n> expect:: 1\n").questions[0].hash == base
    assert parse("# A\n\n> [!question] Q?\n> expect:: 2\n").questions[0].hash != base


BAD_CASES = {
    "unclosed-frontmatter.md": (1, "never closed"),
    "malformed-yaml.md": (3, "malformed frontmatter"),
    "frontmatter-not-mapping.md": (2, "not a mapping"),
    "not-utf8.md": (4, "not valid UTF-8"),
    "binary.md": (0, "binary file"),
    "unclosed-fence.md": (5, "unclosed code fence"),
    "answer-without-end.md": (5, "no `%% vaultttc:end %%`"),
    "unknown-field.md": (7, "unknown question field `strategey::`"),
    "repeated-field.md": (7, "question field `expect::` given twice"),
    "empty-question.md": (3, "a question callout with no question in it"),
    "end-without-begin.md": (5, "with no `%% vaultttc:begin"),
}


@pytest.mark.parametrize("name", sorted(BAD_CASES))
def test_bad_notes_get_one_line_errors_naming_file_and_line(name: str) -> None:
    line, words = BAD_CASES[name]
    with pytest.raises(NoteError) as info:
        parse_note(decode((BAD / name).read_bytes(), name), name)
    error = info.value
    assert (error.path, error.line) == (name, line)
    assert words in str(error)
    assert "\n" not in str(error)
    assert str(error).startswith(f"{name}:{line}: " if line else f"{name}: ")


def test_every_bad_case_is_covered() -> None:
    assert sorted(p.name for p in BAD.iterdir()) == sorted(BAD_CASES)
