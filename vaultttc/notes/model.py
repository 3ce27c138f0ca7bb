"""The note model: immutable values for a parsed note (`notes.parse.parse_note` builds them).

Pure: takes text, returns values with exact line spans; never touches the filesystem. Line
numbers in values are 0-based indices into `text.splitlines()` with `end` exclusive, like
markdown-it's `map`; `first_line`/`last_line` properties give 1-based lines for humans.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "AnswerRegion",
    "Changelog",
    "Example",
    "Fence",
    "Frontmatter",
    "FrontmatterKey",
    "Note",
    "Question",
    "Span",
]


@dataclass(frozen=True, slots=True)
class Span:
    start: int
    end: int

    @property
    def first_line(self) -> int:
        return self.start + 1

    @property
    def last_line(self) -> int:
        return self.end


@dataclass(frozen=True, slots=True)
class FrontmatterKey:
    name: str
    span: Span


@dataclass(frozen=True, slots=True)
class Frontmatter:
    """`span` covers both `---` lines; `raw` is the YAML between them, untouched."""

    raw: str
    data: Mapping[str, Any]
    span: Span
    keys: tuple[FrontmatterKey, ...] = ()

    def key(self, name: str) -> FrontmatterKey | None:
        return next((k for k in self.keys if k.name == name), None)


@dataclass(frozen=True, slots=True)
class Fence:
    """A fenced code block. `code` has container prefixes (`> `, list indent) removed;
    `code_line` is the 0-based note line of the first code line."""

    info: str
    lang: str
    code: str
    span: Span
    code_line: int
    prefix: str = ""

    @property
    def words(self) -> tuple[str, ...]:
        return tuple(self.info.split())


@dataclass(frozen=True, slots=True)
class AnswerRegion:
    """`%% vaultttc:begin id=… hash=… verdict=… confidence=… %%` … `%% vaultttc:end %%`.

    `span` includes the markers. `verdict` and `confidence` are what the begin marker records
    (None in regions written before markers carried them: those are read from the callout).
    """

    id: str
    hash: str
    span: Span
    body: str = ""
    verdict: str | None = None
    confidence: float | None = None
    attrs: tuple[tuple[str, str], ...] = ()  # every key=value of the begin marker

    def attr(self, name: str) -> str | None:
        return next((v for k, v in self.attrs if k == name), None)


@dataclass(frozen=True, slots=True)
class Question:
    """A `[!question]` callout, with its stub and test fences when it is a code task, and its
    `python check` fence (right after the callout, or after a code task's fences) if any.

    `span` covers the callout and its fences (the answer region goes right after it);
    `hash` digests everything that determines the answer besides run settings. `authored`:
    the body holds the author's own text (anything besides fields, blank lines and a vaultttc
    answer region): Q&A the author wrote, never asked unless the author is to be checked.
    """

    id: str
    title: str
    body: str
    fields: Mapping[str, str]
    span: Span
    kind: Literal["question", "code"] = "question"
    stub: Fence | None = None
    test: Fence | None = None
    check: Fence | None = None
    answer: AnswerRegion | None = None
    prefix: str = ""
    hash: str = ""
    authored: bool = False

    @property
    def text(self) -> str:
        return f"{self.title}\n{self.body}".strip()


@dataclass(frozen=True, slots=True)
class Example:
    """A runnable fence that is not part of a code task (living documentation).

    `output` is the expected stdout from an `output` fence right after it; `skip` is the reason
    when the info string says `skip` or a `%% vaultttc: skip %%` line precedes the fence.
    `setup` (a `python setup` fence, or `%% vaultttc: setup %%` before it) runs before the
    note's other examples and is no test item; `retry` re-runs it up to that many more times
    when it raises (`retry:N`); `isolated` runs it in a fresh namespace.
    """

    fence: Fence
    output: Fence | None = None
    skip: str | None = None
    setup: bool = False
    retry: int = 0
    isolated: bool = False

    @property
    def line(self) -> int:
        """1-based note line of the first line of code."""
        return self.fence.code_line + 1


@dataclass(frozen=True, slots=True)
class Changelog:
    """The section under a heading containing "Changelog" and its table, if any.

    `table` spans the table rows (header to last row); `insert_at` is the 0-based line
    before which a new row goes (without a table: after the section's last block, where a
    new table goes); `columns` are the header cells.
    """

    heading: Span
    columns: tuple[str, ...]
    table: Span | None
    insert_at: int


@dataclass(frozen=True, slots=True)
class Note:
    path: str
    text: str
    frontmatter: Frontmatter | None
    language: str = "python"
    questions: tuple[Question, ...] = ()
    examples: tuple[Example, ...] = ()
    fences: tuple[Fence, ...] = ()
    changelog: Changelog | None = None
    orphan_answers: tuple[AnswerRegion, ...] = ()
    newline: str = "\n"
    bom: bool = False
    ttc: Mapping[str, Any] = field(default_factory=dict)
