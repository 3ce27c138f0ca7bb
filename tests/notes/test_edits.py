"""Data-driven write-back cases: tests/data/edits/<case>/{input.md, writeback.json, expected.md}.

Each case plans and applies a write-back and compares bytes with `expected.md`; applying the
same write-back to the result must change nothing (idempotence). Regenerate goldens with
VAULTTTC_REGEN=1 and review the diff by eye before committing.
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest
from helpers import DATA

from vaultttc.notes.edits import AnswerUpdate, ChangelogEntry, WriteBack, apply_edits, plan_edits
from vaultttc.notes.model import Note
from vaultttc.notes.parse import parse_note
from vaultttc.notes.render import Templates
from vaultttc.vault.files import decode, encode

CASES = DATA / "edits"
TEMPLATES = Templates()


def _writeback(note: Note, spec: dict[str, Any]) -> WriteBack:
    answers = tuple(
        AnswerUpdate(note.questions[a["question"]].id, a["hash"], a["callout"])
        for a in spec.get("answers", [])
    )
    log = spec.get("changelog")
    return WriteBack(
        frontmatter=tuple((k, v) for k, v in spec.get("frontmatter", [])),
        answers=answers,
        changelog=ChangelogEntry(**log) if log else None,
    )


def write_back(data: bytes, spec: dict[str, Any]) -> bytes:
    note = parse_note(decode(data, "case.md"), "case.md")
    edits = plan_edits(note, _writeback(note, spec), templates=TEMPLATES)
    return encode(apply_edits(note.text, edits, newline=note.newline), bom=note.bom)


@pytest.mark.parametrize("case", sorted(p.name for p in CASES.iterdir()))
def test_write_back_case(case: str) -> None:
    folder = CASES / case
    data = (folder / "input.md").read_bytes()
    spec = json.loads((folder / "writeback.json").read_text(encoding="utf-8"))
    result = write_back(data, spec)
    expected = folder / "expected.md"
    if os.environ.get("VAULTTTC_REGEN"):
        expected.write_bytes(result)
    assert result == expected.read_bytes()
    assert write_back(result, spec) == result, "applying the same write-back twice changed it"


def test_empty_write_back_returns_every_case_byte_for_byte() -> None:
    for folder in CASES.iterdir():
        data = (folder / "input.md").read_bytes()
        assert write_back(data, {}) == data, folder.name
