"""Fidelity over 276 real notes from two public vaults (../shared/corpora).

A no-op write-back returns every note byte for byte, and setting `confidence_score` changes or
adds exactly one frontmatter line and nothing else.
"""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest
from helpers import SHARED, shared

from vaultttc.notes.edits import WriteBack, apply_edits, plan_edits
from vaultttc.notes.parse import parse_note
from vaultttc.notes.render import Templates
from vaultttc.vault.files import decode, encode

CORPORA = SHARED / "corpora"
NOTES = sorted(p for p in CORPORA.rglob("*.md") if p.name != "README.md")
TEMPLATES = Templates()


def _write(data: bytes, values: tuple[tuple[str, str], ...]) -> tuple[bytes, bool]:
    note = parse_note(decode(data, "n.md"), "n.md")
    edits = plan_edits(note, WriteBack(frontmatter=values), templates=TEMPLATES)
    text = apply_edits(note.text, edits, newline=note.newline)
    return encode(text, bom=note.bom), note.frontmatter is not None


def test_the_corpora_are_there() -> None:
    shared("corpora")  # a clear failure without ../shared, where NOTES is empty
    assert len(NOTES) == 276


@pytest.mark.parametrize("path", NOTES, ids=lambda p: str(p.relative_to(CORPORA)))
def test_no_op_is_byte_identical_and_one_key_is_one_line(path: Path) -> None:
    data = path.read_bytes()
    assert _write(data, ())[0] == data
    result, had_frontmatter = _write(data, (("confidence_score", "0.42"),))
    before = data.decode("utf-8").splitlines(keepends=True)
    after = result.decode("utf-8").splitlines(keepends=True)
    changed = [line for line in difflib.ndiff(before, after) if line[:1] in "+-"]
    added = [line[2:].rstrip("\r\n") for line in changed if line.startswith("+")]
    if had_frontmatter:
        assert len(added) == 1 and added[0].startswith("confidence_score:"), changed
        assert len(changed) <= 2
        assert after.index(added[0] + after[0][3:]) < after.index(after[0], 1)
    else:
        assert added == ["---", "confidence_score: 0.42", "---"]
        assert len(changed) == 3
