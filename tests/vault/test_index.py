"""The note index shared by scan, run and watch: unchanged notes are skipped, changed ones never."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pytest

from vaultttc.engine.runner import RunOptions
from vaultttc.vault.index import RACY_NS, index_path, trusted
from vaultttc.vault.scan import scan_paths
from vaultttc.vault.session import RunContext, run_paths

NOTE = """---
title: Index
---
> [!question] What is 6 times 7?
> expect:: 42

> [!question] What is 10 minus 3?
> expect:: 7
"""
REPLAY = [
    {"question": "What is 6 times 7?", "samples": ["6*7 = 42. The answer is 42."]},
    {"question": "What is 10 minus 3?", "samples": ["10-3 = 7. The answer is 7."]},
    {"question": "What is 7 times 6?", "samples": ["7*6 = 42. The answer is 42."]},
]


def _asked(vault: Path, replay: Path, **options: bool) -> list[int]:
    cli = {"provider": f"replay:{replay}", "strategy": "direct", "samples": 1}
    context = RunContext(options=RunOptions(cli=cli, **options), env={})
    report = asyncio.run(run_paths([vault], context))
    assert all(n.error is None for n in report.notes), [n.error for n in report.notes]
    return [q.line for n in report.notes for q in n.questions]  # the questions asked


def _age_index(vault: Path) -> None:
    """As if the last run had been an hour after the notes' last change (out of the window in
    which a same-jiffy edit could hide)."""
    data = json.loads(index_path(vault).read_text("utf-8"))
    for entry in data["notes"].values():
        entry["seen_ns"] += 3600 * 10**9
    index_path(vault).write_text(json.dumps(data), "utf-8")


def _same_size_edit(note: Path, old: str, new: str) -> None:
    """An edit that keeps the size and puts the mtime back: only the ctime moves."""
    assert len(old) == len(new)
    st = note.stat()
    note.write_text(note.read_text().replace(old, new))
    os.utime(note, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert (note.stat().st_size, note.stat().st_mtime_ns) == (st.st_size, st.st_mtime_ns)


@pytest.fixture
def vault(tmp_path: Path) -> tuple[Path, Path]:
    root = tmp_path / "vault"
    root.mkdir()
    (root / "n.md").write_text(NOTE)
    replay = tmp_path / "replay.jsonl"
    replay.write_text("".join(json.dumps(r) + "\n" for r in REPLAY))
    return root, replay


def test_a_second_run_asks_nothing_and_an_edit_keeping_size_and_mtime_is_still_asked(
    vault: tuple[Path, Path],
) -> None:
    root, replay = vault
    assert len(_asked(root, replay)) == 2
    assert _asked(root, replay) == []  # the answered note, parsed once more, is recorded idle
    _age_index(root)
    assert _asked(root, replay) == []  # trusted by its stamp: not read
    _same_size_edit(root / "n.md", "6 times 7", "7 times 6")
    assert _asked(root, replay) == [7]  # the first question, below the frontmatter vaultttc grew
    assert "vaultttc: 1 answered (1 verified)" in (root / "n.md").read_text()


def test_force_and_checking_the_author_are_not_skipped_by_an_idle_entry(
    vault: tuple[Path, Path],
) -> None:
    root, replay = vault
    _asked(root, replay)
    _asked(root, replay)
    _age_index(root)
    assert len(_asked(root, replay, force=True)) == 2


def test_scan_sees_a_same_size_edit_with_the_mtime_put_back(vault: tuple[Path, Path]) -> None:
    root, _ = vault
    kinds = [b["kind"] for b in scan_paths([root]).entries[0]["blocks"]]
    assert kinds == ["question", "question"]
    _age_index(root)
    assert scan_paths([root]).reused == 1
    _same_size_edit(root / "n.md", "[!question] What is 6", "[!note]     What is 6")
    result = scan_paths([root])
    assert result.reused == 0
    assert [b["kind"] for b in result.entries[0]["blocks"]] == ["question"]


def _stat(size: int, mtime: int, ctime: int, *, ino: int = 7) -> os.stat_result:
    fields = (0o100644, ino, 0, 1, 0, 0, size, 0, 0, 0, 0.0, 0.0, 0.0, 0, mtime, ctime)
    return os.stat_result(fields)


@pytest.mark.parametrize(
    ("entry", "st", "expected"),
    [
        ({"size": 5, "mtime_ns": 1, "ctime_ns": 2, "ino": 7, "seen_ns": 2 + RACY_NS + 1},
         _stat(5, 1, 2), True),
        ({"size": 5, "mtime_ns": 1, "ctime_ns": 2, "ino": 7, "seen_ns": 2 + RACY_NS},
         _stat(5, 1, 2), False),  # seen within the timestamp window of the last change: racy
        ({"size": 5, "mtime_ns": 1, "ctime_ns": 2, "ino": 7, "seen_ns": 10 * RACY_NS},
         _stat(5, 1, 3), False),  # ctime moved: mtime put back after an edit
        ({"size": 5, "mtime_ns": 1, "ctime_ns": 2, "ino": 7, "seen_ns": 10 * RACY_NS},
         _stat(5, 1, 2, ino=8), False),  # replaced by another file
        ({"size": 5, "mtime_ns": 1, "ctime_ns": 2, "ino": 7}, _stat(5, 1, 2), False),
    ],
)  # fmt: skip
def test_an_entry_is_trusted_by_its_stamp_only_when_nothing_can_hide(
    entry: dict[str, int], st: os.stat_result, expected: bool
) -> None:
    assert trusted(entry, st) is expected
