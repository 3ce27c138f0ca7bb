"""The completion cache: `.vaultttc/cache.sqlite`, so re-running an unchanged note is free.

A completion is stored under the sha256 of everything that determined it: the provider's name,
its `cache_identity()` (base URL, GGUF, replay file digest), the model, and every field of the
`Request` including `sample_index`. Only that hash, the provider name, the model and the
completion are written; API keys never reach this file.

The database runs in WAL mode with a busy timeout, so a daemon and a CLI run (separate
processes) can read and write it at once. A file that is not a readable database is moved
aside (`cache.sqlite.corrupt-<time>`) with a `CacheWarning` and a fresh one is started; a
cache that is busy or unwritable degrades to a miss with a warning, never a failed run.
This module knows nothing about strategies or notes.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import sqlite3
import threading
import time
import warnings
from pathlib import Path
from types import TracebackType

from vaultttc.providers.base import Completion, Provider, Request, Usage

__all__ = ["CacheWarning", "SqliteCache", "cache_key"]

_VERSION = 1
_SCHEMA = """CREATE TABLE IF NOT EXISTS completions (
    key TEXT PRIMARY KEY, provider TEXT NOT NULL, model TEXT NOT NULL,
    created REAL NOT NULL, data TEXT NOT NULL)"""


class CacheWarning(UserWarning):
    """The cache could not be used as it was (moved aside, busy, unwritable)."""


def cache_key(provider: Provider, request: Request) -> str:
    """The key of one request to one provider (pure apart from `cache_identity()`)."""
    return _key((provider.name, provider.cache_identity(), provider.model), request)


@functools.lru_cache(maxsize=1024)
def _key(who: tuple[str, str, str], request: Request) -> str:
    # Memoised: a miss computes the key for `get` and again for `put`, and the JSON below is the
    # one `dataclasses.asdict(request)` gives (existing caches keep their keys) at a fraction of
    # its cost, which deep-copies every field.
    payload = {
        "v": _VERSION,
        "provider": who[0],
        "identity": who[1],
        "model": who[2],
        "request": _request_fields(request),
    }
    text = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _request_fields(request: Request) -> dict[str, object]:
    fields = {name: getattr(request, name) for name in _REQUEST_FIELDS}
    fields["messages"] = [{"role": m.role, "content": m.content} for m in request.messages]
    return fields


_REQUEST_FIELDS = tuple(f.name for f in dataclasses.fields(Request))
_COMPLETION_FIELDS = tuple(f.name for f in dataclasses.fields(Completion) if f.name != "cached")
_USAGE_FIELDS = tuple(f.name for f in dataclasses.fields(Usage))


def _encode(completion: Completion) -> str:
    data = {name: getattr(completion, name) for name in _COMPLETION_FIELDS}
    data["usage"] = {name: getattr(completion.usage, name) for name in _USAGE_FIELDS}
    return json.dumps(data, ensure_ascii=False)


def _decode(text: str) -> Completion | None:
    try:
        data = json.loads(text)
        data["usage"] = Usage(**data["usage"])
        return Completion(**data)
    except (ValueError, TypeError, KeyError):
        return None  # written by another version: a miss


class SqliteCache:
    """`Cache` over one SQLite file; safe across threads and processes."""

    def __init__(self, path: Path, *, timeout_s: float = 30.0) -> None:
        self._path = path
        self._timeout = timeout_s
        self._lock = threading.Lock()
        self._conn = self._connect()

    @property
    def path(self) -> Path:
        return self._path

    def get(self, provider: Provider, request: Request) -> Completion | None:
        key = cache_key(provider, request)
        row = self._run("SELECT data FROM completions WHERE key = ?", (key,))
        return _decode(str(row[0])) if row else None

    def put(self, provider: Provider, request: Request, completion: Completion) -> None:
        self._run(
            "INSERT OR REPLACE INTO completions (key, provider, model, created, data) "
            "VALUES (?, ?, ?, ?, ?)",
            (
                cache_key(provider, request),
                provider.name,
                provider.model,
                time.time(),
                _encode(completion),
            ),
        )

    def __len__(self) -> int:
        row = self._run("SELECT COUNT(*) FROM completions", ())
        return int(str(row[0])) if row else 0

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> SqliteCache:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- the file ---------------------------------------------------------------------------

    def _run(self, sql: str, args: tuple[object, ...]) -> tuple[object, ...] | None:
        with self._lock:
            try:
                row: tuple[object, ...] | None = self._conn.execute(sql, args).fetchone()
                return row
            except sqlite3.OperationalError as exc:  # busy, locked, read-only, disk full
                warnings.warn(
                    f"cache {self._path}: {exc}; continuing without it", CacheWarning, stacklevel=3
                )
                return None
            except sqlite3.DatabaseError as exc:  # not a database, malformed image
                self._conn.close()
                self._conn = self._move_aside_and_reopen(exc)
                return None

    def _connect(self) -> sqlite3.Connection:
        try:
            return self._open()
        except sqlite3.OperationalError:
            raise
        except sqlite3.DatabaseError as exc:
            return self._move_aside_and_reopen(exc)

    def _open(self) -> sqlite3.Connection:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(
            self._path, timeout=self._timeout, isolation_level=None, check_same_thread=False
        )
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute(_SCHEMA)
            conn.execute("SELECT COUNT(*) FROM completions WHERE key = ''").fetchone()
        except sqlite3.DatabaseError:
            conn.close()
            raise
        return conn

    def _move_aside_and_reopen(self, exc: Exception) -> sqlite3.Connection:
        aside = self._path.with_name(f"{self._path.name}.corrupt-{time.time_ns()}")
        for suffix in ("", "-wal", "-shm"):
            source = Path(str(self._path) + suffix)
            if source.exists():
                os.replace(source, Path(str(aside) + suffix))
        warnings.warn(
            f"cache {self._path} was not a readable database ({exc}); moved it to "
            f"{aside.name} and started a fresh one",
            CacheWarning,
            stacklevel=4,
        )
        return self._open()
