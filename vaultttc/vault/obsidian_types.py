"""Register the properties vaultttc writes in `.obsidian/types.json`, keeping everything else.

Obsidian keeps each property's type there (`{"types": {"name": "number", …}}`); with ours
registered, `confidence_score` sorts as a number and `last_reinforced` as a date in the
properties panel and in Bases. Only a vault that has `.obsidian/` gets it; a type the user
already chose for one of our keys is kept (their edit wins); other keys and entries are kept
as they are. `merge_types` is pure; `register_types` reads and writes the file atomically.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from vaultttc.errors import ConfigError
from vaultttc.vault.artifacts import write_if_changed

__all__ = ["OUR_TYPES", "merge_types", "register_types"]

OUR_TYPES = {"confidence_score": "number", "last_reinforced": "date",
             "verification_status": "text"}  # fmt: skip


def merge_types(current: Mapping[str, Any]) -> dict[str, Any]:
    """`current` with our properties' types added where absent; nothing else changes."""
    merged = dict(current)
    types = merged.get("types")
    types = dict(types) if isinstance(types, Mapping) else {}
    for name, kind in OUR_TYPES.items():
        types.setdefault(name, kind)
    merged["types"] = types
    return merged


def register_types(root: Path) -> bool:
    """Merge our types into `root/.obsidian/types.json`; False when there is no `.obsidian/`
    or nothing changed. An unreadable file is an error naming it, and is left alone."""
    folder = root / ".obsidian"
    if not folder.is_dir():
        return False
    path = folder / "types.json"
    try:
        current = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: not JSON vaultttc can merge into ({exc}); left alone") from None
    if not isinstance(current, dict):
        raise ConfigError(f"{path}: not a JSON object; left alone")
    merged = merge_types(current)
    if merged == current:
        return False
    text = json.dumps(merged, indent=2, ensure_ascii=False) + "\n"
    return write_if_changed(path, text.encode("utf-8"))
