"""Which files are notes: the one rule that scan, run, the daemon and the pytest plugin share.

A note is a `.md` file whose vault-relative path has no hidden part (`.obsidian/`, `.trash/`,
`.vaultttc/`, `.git/` and every other dot-folder; dot-files such as an editor's `.#note.md`
lock) and lies under no folder the vault config excludes. Temp files of vaultttc's saves
(`.<name>.<random>.vaultttc-tmp`) are hidden and do not end in `.md`. Pure: paths are strings,
relative to the vault root and `/`-separated; walking the disk is `vault.files.walk_notes`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

__all__ = ["TEMP_SUFFIX", "NoteRule"]

TEMP_SUFFIX = ".vaultttc-tmp"


@dataclass(frozen=True, slots=True)
class NoteRule:
    """The rule for one vault: `exclude` holds vault-relative folders (config `exclude`)."""

    exclude: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "exclude", tuple(e.strip("/") for e in self.exclude if e))

    def enters(self, folder: str) -> bool:
        """Whether a walk descends into the vault-relative `folder` ("" is the root)."""
        return _enters(self.exclude, folder)

    def is_note(self, rel: str) -> bool:
        """Whether the vault-relative path `rel` names a note."""
        if not rel.endswith(".md") or rel.startswith(("../", "/")) or rel == "..":
            return False
        folder, _, name = rel.rpartition("/")
        return not name.startswith(".") and _enters(self.exclude, folder)


@functools.lru_cache(maxsize=4096)
def _enters(exclude: tuple[str, ...], folder: str) -> bool:
    # memoised: a walk asks once per note about the note's folder, and a vault has few folders
    if not folder:
        return True
    if any(p.startswith(".") for p in folder.split("/")):
        return False
    return not any(folder == e or folder.startswith(e + "/") for e in exclude)
