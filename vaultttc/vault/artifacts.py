"""Files vaultttc owns outright (the dashboard, its pictures, `.obsidian/types.json` after a
merge): written atomically, and only when their bytes change, so a daemon that keeps them
current causes no churn in a synced vault. Notes are never written here (see vault.files).
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from vaultttc.vault.files import replace_atomically

__all__ = ["write_if_changed"]


def write_if_changed(path: Path, data: bytes) -> bool:
    """Replace `path` with `data` (temp file, fsync, rename; the mode kept); False when the
    file already held exactly these bytes."""
    with contextlib.suppress(OSError):
        if path.read_bytes() == data:
            return False
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = None
    with contextlib.suppress(OSError):
        mode = path.stat().st_mode & 0o7777
    replace_atomically(path, data, mode=mode if mode is not None else 0o644)
    return True
