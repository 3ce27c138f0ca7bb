"""`vaultttc scan`: every note's blocks and errors, read-only, with an index for warm runs.

`describe(note)` is pure. `scan_paths` is the IO shell: it walks the vault, reuses the index
entries (`vault.index`, shared with `run` and `watch`) of notes whose stat stamp is trusted or
whose content hash is unchanged, parses the rest on all cores, and rewrites the index. It never
writes a note.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vaultttc.config import load_config
from vaultttc.errors import NoteError
from vaultttc.notes.model import Note
from vaultttc.vault.files import decode, digest, find_vault_root, note_stats
from vaultttc.vault.index import Entry, load_index, save_index, stamp, trusted

__all__ = ["ScanResult", "describe", "scan_paths"]

_SHOWN = ("path", "language", "blocks", "error")  # what scan reports of an index entry


@dataclass(frozen=True, slots=True)
class ScanResult:
    entries: list[Entry]
    reused: int

    @property
    def errors(self) -> int:
        return sum(1 for e in self.entries if e["error"])


def describe(note: Note) -> list[Entry]:
    """The blocks of a note as scan reports them, in document order, 1-based lines."""
    blocks: list[Entry] = []
    for q in note.questions:
        mark: dict[str, Any] = {"authored": True} if q.authored else {}
        first, last = q.span.first_line, q.span.last_line
        blocks.append(_block(q.kind, first, last, id=q.id, fields=q.fields, **mark))
        if q.answer is not None:
            span = q.answer.span
            blocks.append(_block("answer", span.first_line, span.last_line, id=q.answer.id))
    for a in note.orphan_answers:
        blocks.append(_block("answer", a.span.first_line, a.span.last_line, id=a.id))
    for ex in note.examples:
        span = ex.fence.span
        extra = {"skip": ex.skip} if ex.skip else {}
        blocks.append(
            _block("example", span.first_line, span.last_line, language=ex.fence.lang, **extra)
        )
    if note.changelog is not None:
        end = note.changelog.table or note.changelog.heading
        blocks.append(_block("changelog", note.changelog.heading.first_line, end.last_line))
    return sorted(blocks, key=lambda b: b["first_line"])


def _block(kind: str, first: int, last: int, **extra: Any) -> Entry:
    return {"kind": kind, "first_line": first, "last_line": last, **extra}


def _scan_one(args: tuple[str, str, bytes | None]) -> Entry:
    from vaultttc.notes.parse import parse_note  # a warm scan never imports the parser

    path, rel, data = args
    try:
        raw = Path(path).read_bytes() if data is None else data
        note = parse_note(decode(raw, rel), rel)
    except (NoteError, OSError) as exc:
        return {"path": rel, "blocks": [], "error": _message(exc, rel), "hash": None}
    return {"path": rel, "language": note.language, "blocks": describe(note), "error": None,
            "hash": digest(raw)}  # fmt: skip


def _message(exc: Exception, rel: str) -> str:
    if isinstance(exc, NoteError):
        return str(exc)
    return f"{rel}: cannot be read ({exc.__class__.__name__}: {exc})"


def scan_paths(paths: Iterable[Path], *, workers: int | None = None) -> ScanResult:
    """Scan files and folders; folders use (and refresh) their vault index."""
    entries: list[Entry] = []
    reused = 0
    for path in paths:
        if path.is_dir():
            result = _scan_vault(find_vault_root(path), path, workers=workers)
            entries.extend(result.entries)
            reused += result.reused
        else:
            entries.append(_strip(_scan_one((str(path), str(path), None))))
    return ScanResult(entries, reused)


def _scan_vault(root: Path, folder: Path, *, workers: int | None) -> ScanResult:
    """Scan `folder` (the vault root or a folder in it) with the vault's config and index."""
    config = load_config(root)
    old = load_index(root)
    seen_ns = time.time_ns()  # before any stat: an entry never looks older than it is
    stats: dict[str, tuple[str, os.stat_result]] = {}
    cut = len(str(root)) + 1
    inside = folder.resolve().relative_to(root)
    for name, st in note_stats(root, root / inside, exclude=config.exclude):
        stats[name[cut:].replace(os.sep, "/")] = (name, st)
    prefix = "" if inside == Path(".") else inside.as_posix() + "/"
    fresh: dict[str, Entry] = {k: v for k, v in old.items() if not k.startswith(prefix)}
    todo: list[tuple[str, str, bytes | None]] = []
    for rel, (path, st) in stats.items():
        known = old.get(rel)
        if known and "blocks" in known and trusted(known, st):
            fresh[rel] = known
            continue
        data = Path(path).read_bytes() if known and known.get("size") == st.st_size else None
        if known and "blocks" in known and data is not None and digest(data) == known["hash"]:
            fresh[rel] = {**known, **stamp(st, seen_ns=seen_ns)}  # touched only
        else:
            todo.append((path, rel, data))
    for entry in _parse_all(todo, workers=workers):
        rel = entry["path"]
        fresh[rel] = {**entry, **stamp(stats[rel][1], seen_ns=seen_ns)}
    if fresh != old:
        save_index(root, fresh)
    entries = [_strip(fresh[rel]) for rel in sorted(fresh) if rel in stats]
    return ScanResult(entries, len(stats) - len(todo))


def _parse_all(todo: list[tuple[str, str, bytes | None]], *, workers: int | None) -> list[Entry]:
    count = workers if workers is not None else (os.cpu_count() or 1)
    if count <= 1 or len(todo) < 64:
        return [_scan_one(item) for item in todo]
    from concurrent.futures import ProcessPoolExecutor  # a cold scan's cost, not a warm one's

    with ProcessPoolExecutor(max_workers=count) as pool:
        return list(pool.map(_scan_one, todo, chunksize=max(16, len(todo) // (count * 8))))


def _strip(entry: Entry) -> Entry:
    return {k: entry[k] for k in _SHOWN if k in entry}
