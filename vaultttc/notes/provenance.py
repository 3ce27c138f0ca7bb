"""What vaultttc changed in a note, recorded so `vaultttc clean` can take the note back.

The first answer region vaultttc writes into a note records, in its begin marker, what the
author had: `was=` the owned frontmatter keys' own lines (or that a key, or the whole
frontmatter, was absent) and `log=` whether vaultttc created the changelog section or its
table. Later regions carry the same record forward; each region also records `gap=` which
blank lines around it vaultttc added. Values are percent-encoded JSON, so a marker stays one
line of `key=value` words. Pure.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote, unquote

from vaultttc.errors import NoteError
from vaultttc.notes.model import Note

__all__ = ["OWNED_KEYS", "Provenance", "blank_needed", "check_owned_keys", "decode", "provenance"]

OWNED_KEYS = ("confidence_score", "verification_status", "last_reinforced")
Provenance = tuple[tuple[str, str], ...]


def blank_needed(lines: Sequence[str], at: int) -> bool:
    """Whether a block inserted before line `at` needs a blank line after it."""
    return at < len(lines) and bool(lines[at].strip())


def provenance(note: Note, lines: Sequence[str], *, writes_changelog: bool) -> Provenance:
    """The `was=` and `log=` record for the regions written into `note` now."""
    regions = [q.answer for q in note.questions if q.answer] + list(note.orphan_answers)
    if regions:  # the first write recorded the author's note; older markers recorded nothing
        return tuple((k, v) for k, v in regions[0].attrs if k in ("was", "log"))
    was: dict[str, Any]
    if note.frontmatter is None:
        was = {"_new": True}
    else:
        was = {}  # a key that is not here was absent
        for name in OWNED_KEYS:
            key = note.frontmatter.key(name)
            if key is not None:
                was[name] = "\n".join(lines[key.span.start : key.span.end])
    log = ""
    if writes_changelog and note.changelog is None:
        log = "section"
    elif writes_changelog and note.changelog is not None and note.changelog.table is None:
        log = "table" + ("a" if blank_needed(lines, note.changelog.insert_at) else "")
    return (("was", encode(was)), ("log", log))


def encode(value: Any) -> str:
    return quote(json.dumps(value, separators=(",", ":"), ensure_ascii=False), safe="")


def decode(value: str | None) -> Any:
    """The value `encode` wrote; None for a missing or unreadable one."""
    if not value:
        return None
    try:
        return json.loads(unquote(value))
    except ValueError:
        return None


def check_owned_keys(note: Note) -> None:
    """A key vaultttc writes that stands on two lines is ambiguous: leave the note alone."""
    keys = note.frontmatter.keys if note.frontmatter else ()
    for name in OWNED_KEYS:
        lines = [k.span.first_line for k in keys if k.name == name]
        if len(lines) > 1:
            raise NoteError(
                note.path, lines[1], f"`{name}` is set on lines {lines[0]} and {lines[1]}; "
                "keep one, then run again (the note was left alone)",
            )  # fmt: skip
