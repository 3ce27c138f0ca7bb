"""The batch state file: `.vaultttc/batches.json`, the batches submitted and not yet collected.

One record per batch the provider accepted: its id, provider and model (to poll it with the
same provider), how many requests it holds and their custom_ids (completion-cache keys, so a
result finds its request), when it was submitted, which notes asked, and the command-line
settings they were asked with (`cli`: provider, model, strategy, samples — so `vaultttc batch
collect` plans the same requests; never consent to run code). A record is removed
once its batch has been collected. Written atomically (a temporary file, then a rename), so
a crash leaves the old state or the new one; changed only by `update_batches`, which reads,
changes and writes it under an exclusive lock (`.vaultttc/batches.lock`), so two runs (a
`run --batch` beside the daemon's re-verify pass) never lose each other's records: a lost
record is a paid batch nobody collects. Holds no prompt, answer or key.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

from vaultttc.config import CONFIG_DIR
from vaultttc.errors import ConfigError

__all__ = [
    "STATE_FILE",
    "BatchRecord",
    "load_batches",
    "save_batches",
    "state_path",
    "update_batches",
]

STATE_FILE = "batches.json"
LOCK_FILE = "batches.lock"  # never deleted: unlinking a lock file races with its next holder
_VERSION = 1


@dataclass(frozen=True, slots=True)
class BatchRecord:
    id: str
    provider: str
    model: str
    requests: int
    custom_ids: tuple[str, ...]
    submitted_at: str  # ISO 8601, UTC
    notes: tuple[str, ...]  # vault-relative paths of the notes that asked
    cli: Mapping[str, str | int] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        data = asdict(self)
        data["custom_ids"], data["notes"] = list(self.custom_ids), list(self.notes)
        data["cli"] = dict(self.cli)
        return data


def state_path(root: Path) -> Path:
    return root / CONFIG_DIR / STATE_FILE


def load_batches(root: Path) -> list[BatchRecord]:
    """The vault's uncollected batches; none when the file does not exist."""
    path = state_path(root)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return [_record(row) for row in data["batches"]]
    except FileNotFoundError:
        return []
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(
            f"{path}: not a batch state file vaultttc can read ({exc}); move it aside to "
            "start over (its batches can no longer be collected)"
        ) from exc


def save_batches(root: Path, records: Iterable[BatchRecord]) -> None:
    """Replace the state file with `records` (the file is removed when there are none)."""
    path = state_path(root)
    rows = [r.to_json() for r in records]
    if not rows:
        path.unlink(missing_ok=True)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    text = json.dumps({"version": _VERSION, "batches": rows}, indent=2, ensure_ascii=False)
    temporary.write_text(text + "\n", encoding="utf-8")
    os.replace(temporary, path)


@contextlib.contextmanager
def _locked(root: Path) -> Iterator[None]:
    """Hold the state file's exclusive lock (waiting for it: its holders only read and write
    a small file); the kernel drops it however its holder exits."""
    path = root / CONFIG_DIR / LOCK_FILE
    path.parent.mkdir(exist_ok=True)  # in the vault, never creating one
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def update_batches(
    root: Path, change: Callable[[list[BatchRecord]], list[BatchRecord]]
) -> list[BatchRecord]:
    """Apply `change` to the records as they are on disk now, under the lock, save and return
    the result: what other runs added or removed since this one read the file is kept.
    `change` must be pure (it runs under the lock: calling this again from it would wait on
    itself); the lock is held for a read and an atomic write only, so a caller on an event
    loop blocks it no longer than a save would."""
    with _locked(root):
        records = change(load_batches(root))
        save_batches(root, records)
        return records


def _record(row: dict[str, object]) -> BatchRecord:
    custom_ids, notes, cli = row["custom_ids"], row["notes"], row.get("cli") or {}
    if not isinstance(custom_ids, list) or not isinstance(notes, list):
        raise TypeError("custom_ids and notes must be lists")
    if not isinstance(cli, dict):
        raise TypeError("cli must be a mapping")
    return BatchRecord(
        id=str(row["id"]),
        provider=str(row["provider"]),
        model=str(row["model"]),
        requests=int(str(row["requests"])),
        custom_ids=tuple(str(c) for c in custom_ids),
        submitted_at=str(row["submitted_at"]),
        notes=tuple(str(n) for n in notes),
        cli={str(k): v for k, v in cli.items() if isinstance(v, str | int)},
    )
