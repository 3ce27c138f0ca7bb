"""The example vault: `vaultttc scan vault_example --json` reports every block at the right lines,
the vault shows each feature it is meant to show, its examples pass, and every question in it
has recorded samples for the replay provider.

Expected blocks are derived here from the notes' own lines with a deliberately small line
scanner (quote markers, fence markers, `%%` comments, headings, table rows) — never by calling
vaultttc's parser — so a parser bug cannot hide behind an expectation computed by itself.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from helpers import DATA, REPO

from vaultttc.living.examples import run_examples
from vaultttc.vault.files import read_note

VAULT = REPO / "vault_example"
REPLAY = DATA / "replay" / "vault_example.jsonl"
EXCLUDED = "Templates"

_QUOTES = re.compile(r"^(?:[ \t]*>[ \t]?)*")
_QUESTION = re.compile(r"^\[!question\][+-]?\s*(.*)$", re.IGNORECASE)
_FIELD = re.compile(r"^([A-Za-z_][\w-]*)::\s*(.*?)\s*$")
_FENCE = re.compile(r"^(`{3,}|~{3,})\s*(.*)$")


@dataclass(frozen=True)
class Line:
    depth: int  # how many `>` quote markers
    text: str  # the line without quote markers and leading indentation


@dataclass
class Expected:
    blocks: list[dict[str, Any]] = field(default_factory=list)
    titles: list[tuple[str, str]] = field(default_factory=list)  # (title, kind)


def notes() -> list[Path]:
    """Every note vaultttc should read: all `.md` files outside the excluded template folder."""
    return sorted(p for p in VAULT.rglob("*.md") if p.relative_to(VAULT).parts[0] != EXCLUDED)


def _split(raw: str) -> Line:
    quotes = _QUOTES.match(raw)
    assert quotes is not None
    return Line(quotes.group(0).count(">"), raw[quotes.end() :].strip())


def _body_start(lines: list[str]) -> int:
    if lines and lines[0].strip() == "---":
        return next(i for i in range(1, len(lines)) if lines[i].strip() == "---") + 1
    return 0


def _fences(lines: list[Line], start: int) -> Iterator[tuple[int, int, str]]:
    """(first index, last index, info) of each fence outside `%% … %%` comments."""
    i = start
    while i < len(lines):
        text = lines[i].text
        if text.startswith("%%"):
            if "%%" not in text[2:]:
                i = next(j for j in range(i + 1, len(lines)) if "%%" in lines[j].text)
        elif match := _FENCE.match(text):
            marker, info = match.groups()
            close = next(
                j
                for j in range(i + 1, len(lines))
                if lines[j].text.startswith(marker) and not lines[j].text.strip(marker[0])
            )
            yield i, close, info.strip()
            i = close
        i += 1


def _callout_end(lines: list[Line], start: int) -> int:
    depth = lines[start].depth
    end = start
    while end + 1 < len(lines) and lines[end + 1].depth >= depth:
        end += 1
    return end


def expected_blocks(text: str) -> Expected:
    """What scan should report for one note, in 1-based lines, from the text alone."""
    raw = text.splitlines()
    lines = [_split(r) for r in raw]
    start = _body_start(raw)
    fences = list(_fences(lines, start))
    out = Expected()
    owned: set[int] = set()
    for i in range(start, len(lines)):
        match = _QUESTION.match(lines[i].text) if lines[i].depth else None
        if match is None:
            continue
        end = _callout_end(lines, i)
        fields = {
            m.group(1).lower(): m.group(2)
            for m in (_FIELD.match(lines[j].text) for j in range(i + 1, end + 1))
            if m
        }
        kind, end = _code_task(fences, lines, end, owned=owned)
        out.titles.append((match.group(1).strip(), kind))
        out.blocks.append(_block(kind, i, end, fields=fields))
    for first, last, info in fences:
        words = info.split()
        if first not in owned and words and words[0].lower() in ("python", "py"):
            out.blocks.append(_block("example", first, last, language="python"))
    out.blocks.extend(_changelog(lines, start))
    out.blocks.sort(key=lambda b: b["first_line"])
    return out


def _next_fence(
    fences: list[tuple[int, int, str]], lines: list[Line], end: int
) -> tuple[tuple[int, int, str] | None, list[str]]:
    """The fence right after line `end` (only blank lines between), and its info words."""
    after = [f for f in fences if f[0] > end]
    if after and not any(lines[j].text for j in range(end + 1, after[0][0])):
        return after[0], after[0][2].split()
    return None, []


def _code_task(
    fences: list[tuple[int, int, str]], lines: list[Line], end: int, *, owned: set[int]
) -> tuple[str, int]:
    """A python stub fence right after the callout (blank lines between) makes it a code task,
    and a `python test` fence right after the stub is its tests; a `python check` fence right
    after the callout, or after those fences, is the question's check. All belong to it."""
    kind = "question"
    fence, words = _next_fence(fences, lines, end)
    if fence and words[:1] == ["python"] and not {"test", "check"} & set(words):
        owned.add(fence[0])
        kind, end = "code", fence[1]
        fence, words = _next_fence(fences, lines, end)
        if fence and "test" in words:
            owned.add(fence[0])
            end = fence[1]
            fence, words = _next_fence(fences, lines, end)
    if fence and words == ["python", "check"]:
        owned.add(fence[0])
        end = fence[1]
    return kind, end


def _changelog(lines: list[Line], start: int) -> list[dict[str, Any]]:
    for i in range(start, len(lines)):
        if lines[i].text.startswith("#") and "changelog" in lines[i].text.lower():
            rows = [j for j in range(i + 1, len(lines)) if lines[j].text.startswith("|")]
            last = rows[0]
            while last + 1 in rows:
                last += 1
            return [_block("changelog", i, last)]
    return []


def _block(kind: str, first: int, last: int, **extra: Any) -> dict[str, Any]:
    return {"kind": kind, "first_line": first + 1, "last_line": last + 1, **extra}


def _project(block: dict[str, Any], keys: set[str]) -> dict[str, Any]:
    return {k: v for k, v in block.items() if k in keys}


def _console_script() -> str:
    beside = Path(sys.executable).with_name("vaultttc")
    found = str(beside) if beside.exists() else shutil.which("vaultttc")
    assert found, "the `vaultttc` console script is not installed"
    return found


@pytest.fixture(scope="module")
def scan(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path]:
    """`vaultttc scan COPY --json` on a fresh copy (scan writes `.vaultttc/index.json`)."""
    copy = tmp_path_factory.mktemp("vault") / "vault_example"
    shutil.copytree(VAULT, copy, ignore=shutil.ignore_patterns("index*", "cache.sqlite*", "log"))
    proc = subprocess.run(
        [_console_script(), "scan", str(copy), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return proc, copy


def _entries(scan: tuple[subprocess.CompletedProcess[str], Path]) -> dict[str, dict[str, Any]]:
    proc, _ = scan
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["errors"] == 0
    return {entry["path"]: entry for entry in report["notes"]}


def test_scan_lists_every_note_and_no_template(
    scan: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    entries = _entries(scan)
    assert sorted(entries) == [p.relative_to(VAULT).as_posix() for p in notes()]
    assert all(entry["error"] is None for entry in entries.values())
    assert (scan[1] / ".vaultttc" / "index.json").is_file()


@pytest.mark.parametrize("path", notes(), ids=lambda p: p.relative_to(VAULT).as_posix())
def test_scan_reports_each_block_at_its_lines(
    scan: tuple[subprocess.CompletedProcess[str], Path], path: Path
) -> None:
    entry = _entries(scan)[path.relative_to(VAULT).as_posix()]
    expected = expected_blocks(path.read_text(encoding="utf-8")).blocks
    keys = {"kind", "first_line", "last_line", "language", "fields"}
    assert [_project(b, keys) for b in entry["blocks"]] == expected


def test_scan_shows_every_feature_the_vault_is_meant_to_show(
    scan: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    entries = _entries(scan)
    blocks = [b for e in entries.values() for b in e["blocks"]]
    questions = [b for b in blocks if b["kind"] == "question"]
    assert any("expect" in q["fields"] for q in questions)
    assert any(not q["fields"] for q in questions), "an open-ended question"
    assert any(
        q["fields"].get("strategy") == "self-consistency" and q["fields"].get("samples") == "4"
        for q in questions
    )
    assert any(b["kind"] == "code" for b in blocks)
    checked = {
        p.relative_to(VAULT).parts[-2]
        for p in notes()
        if "\n```python check\n" in p.read_text(encoding="utf-8")
    }
    assert {"Puzzles", "Data"} <= checked, "a puzzle-like and a data-like question with a check"
    assert any(not e["blocks"] for e in entries.values()), "a note with no blocks at all"
    assert any({b["kind"] for b in e["blocks"]} == {"changelog"} for e in entries.values()), (
        "a seed-shaped prose note with nothing for vaultttc to answer or run"
    )
    ids = [b["id"] for b in blocks if b["kind"] in ("question", "code")]
    assert len(ids) == len(set(ids))


def test_fences_inside_comments_are_not_examples(
    scan: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    commented = {
        p.relative_to(VAULT).as_posix(): p.read_text(encoding="utf-8").splitlines()
        for p in notes()
        if re.search(r"^%%\n[^%]*^```python$[^%]*^%%$", p.read_text("utf-8"), re.M | re.S)
    }
    assert commented, "some note keeps a python fence inside a %% comment"
    for rel, lines in commented.items():
        inside = [i + 1 for i, line in enumerate(lines) if line.startswith("raise RuntimeError")]
        assert inside
        listed = _entries(scan)[rel]["blocks"]
        assert not any(b["first_line"] <= n <= b["last_line"] for b in listed for n in inside)


def test_vault_has_enough_notes_in_nested_folders() -> None:
    found = notes()
    nested = {p.parent for p in found if len(p.relative_to(VAULT).parts) >= 3}
    assert len(found) >= 8
    assert len(nested) >= 2
    assert (VAULT / EXCLUDED).is_dir() and list((VAULT / EXCLUDED).glob("*.md"))
    assert EXCLUDED in (VAULT / ".vaultttc" / "config.toml").read_text(encoding="utf-8")


def test_every_question_has_recorded_samples() -> None:
    recorded: dict[str, list[str]] = {}
    for line in REPLAY.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        recorded[row["question"]] = row["samples"]
    pairs = [t for p in notes() for t in expected_blocks(p.read_text("utf-8")).titles]
    titles = dict(pairs)
    assert titles and len(titles) == len(pairs), "replay keys questions by title: keep them unique"
    for title, kind in titles.items():
        samples = recorded.get(title)
        assert samples is not None, f"no replay samples for {title!r}"
        assert len(samples) >= 8 and all(isinstance(s, str) and s.strip() for s in samples)
        if kind == "code":
            assert all("```python\n" in s and "def " in s for s in samples), title
    assert set(recorded) <= set(titles), "recorded questions that no note asks"


@pytest.mark.parametrize("path", notes(), ids=lambda p: p.relative_to(VAULT).as_posix())
def test_examples_in_the_vault_pass(path: Path) -> None:
    note = read_note(path, display=path.relative_to(VAULT).as_posix()).note
    report = run_examples(note, allowed=True)
    failure = report.first_failure
    assert failure is None, f"{failure.message} (line {failure.line})\n{failure.details}"
    assert {r.status for r in report.results} <= {"passed"}
    assert len(report.results) == len(note.examples)
