"""vaultttc: test-time compute for Markdown knowledge vaults.

The public API, named in `__all__`: parse a note, plan and apply its edits, run paths as
`vaultttc run` does, the provider interface, and the error root. The package is a functional
core (`notes`, `engine`, `strategies`, `verifiers`) with IO at the edges (`vault`,
`providers`, `sandbox`, `living`, `watch`, `cli`).

Names load on first use (PEP 562), so `import vaultttc` and every command stay cheap; this
module must not import a submodule at import time.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vaultttc.errors import NoteError, VaultTTCError
    from vaultttc.notes.edits import WriteBack, apply_edits, plan_edits, rewrite
    from vaultttc.notes.model import Note
    from vaultttc.notes.parse import parse_note
    from vaultttc.providers.base import Completion, Provider, Request
    from vaultttc.vault.session import run_paths

__version__ = "0.1.0"

__all__ = [
    "Completion",
    "Note",
    "NoteError",
    "Provider",
    "Request",
    "VaultTTCError",
    "WriteBack",
    "apply_edits",
    "parse_note",
    "plan_edits",
    "rewrite",
    "run_paths",
]

_HOMES = {
    "Completion": "vaultttc.providers.base",
    "Note": "vaultttc.notes.model",
    "NoteError": "vaultttc.errors",
    "Provider": "vaultttc.providers.base",
    "Request": "vaultttc.providers.base",
    "VaultTTCError": "vaultttc.errors",
    "WriteBack": "vaultttc.notes.edits",
    "apply_edits": "vaultttc.notes.edits",
    "parse_note": "vaultttc.notes.parse",
    "plan_edits": "vaultttc.notes.edits",
    "rewrite": "vaultttc.notes.edits",
    "run_paths": "vaultttc.vault.session",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'vaultttc' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*__all__, "__version__"])
