"""`vaultttc clean PATH` as a library call: every note under PATH taken back to its author's.

The IO shell around `notes.clean`: walks the notes by the vault's rule, reads each, and saves
the cleaned text with the same compare-and-swap as every other write (an edit made meanwhile
is re-planned, never overwritten). `dry_run` writes nothing and returns the diffs.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from vaultttc.errors import VaultTTCError
from vaultttc.notes.clean import clean_text
from vaultttc.vault.files import Loaded, read_note, update_note
from vaultttc.vault.session import display_path, vaults_for

__all__ = ["Cleaned", "clean_paths"]


@dataclass(frozen=True, slots=True)
class Cleaned:
    path: str
    changed: bool = False
    diff: str = ""
    error: str | None = None


def clean_paths(paths: Iterable[Path], *, dry_run: bool) -> list[Cleaned]:
    out: list[Cleaned] = []
    for vault in vaults_for(paths):
        for path in vault.notes:
            display = display_path(path, vault.root)
            try:
                out.append(_clean_one(path, display, dry_run=dry_run))
            except (OSError, VaultTTCError) as exc:
                out.append(Cleaned(display, error=str(exc).replace("\n", " ")))
    return out


def _clean_one(path: Path, display: str, *, dry_run: bool) -> Cleaned:
    def plan(loaded: Loaded) -> str | None:
        return clean_text(loaded.note)

    if dry_run:
        loaded = read_note(path, display=display)
        new = plan(loaded)
        if new is None:
            return Cleaned(display)
        lines = difflib.unified_diff(
            loaded.note.text.splitlines(keepends=True), new.splitlines(keepends=True),
            fromfile=f"a/{display}", tofile=f"b/{display}",
        )  # fmt: skip
        return Cleaned(display, changed=True, diff="".join(lines))
    written = update_note(path, plan, display=display)
    return Cleaned(display, changed=written is not None)
