"""The vault's own conventions, read from its notes: how its changelog sections look.

A note without a changelog section gets one in the shape most of the vault's notes use (the
heading line and the table's columns, e.g. `## 🕓 Changelog` with `날짜 | 변경`); the default
applies only in a vault that has none. Read from the raw text with two small patterns (no
parse): this runs once per session, and only when a note needs a new section.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from vaultttc.notes.edits import ChangelogStyle

__all__ = ["changelog_style", "style_of"]

_HEADING = re.compile(r"^(#{1,6}[ \t]+[^\n]*changelog[^\n]*?)[ \t]*$", re.IGNORECASE | re.MULTILINE)
_DELIMITER = re.compile(r"^\s*\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*$")


def style_of(text: str) -> ChangelogStyle | None:
    """The changelog heading and table columns of one note's text, if it has both."""
    match = _HEADING.search(text)
    if match is None:
        return None
    after = text[match.end() :].split("\n", 12)[1:12]
    for row, delimiter in itertools.pairwise(after):
        if row.strip().startswith("|") and _DELIMITER.match(delimiter):
            columns = tuple(c.strip() for c in row.strip().strip("|").split("|"))
            return ChangelogStyle(match.group(1).strip(), columns)
        if row.strip().startswith("#"):
            break
    return None


def changelog_style(notes: Iterable[Path]) -> ChangelogStyle | None:
    """The most common changelog shape among `notes`; None when none has a changelog table."""
    seen: Counter[ChangelogStyle] = Counter()
    for path in notes:
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        style = style_of(text.replace("\r\n", "\n").replace("\r", "\n"))
        if style is not None:
            seen[style] += 1
    return seen.most_common(1)[0][0] if seen else None
