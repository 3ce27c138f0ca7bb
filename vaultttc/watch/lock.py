"""One daemon per vault: an exclusive lock on `.vaultttc/watch.lock`.

The lock is an `flock` on the file, which the kernel drops when its holder exits however it
exits, so the lock of a killed daemon is simply taken over (the file still names its pid, which
is reported). The file holds the holder's pid so a refused daemon can say who is watching.
The file is never deleted: unlinking a lock file races with a daemon that just opened it.

Must not: signal or kill the holder, or wait for the lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from dataclasses import dataclass
from pathlib import Path

from vaultttc.errors import VaultTTCError

__all__ = ["VaultLock", "VaultLockedError", "pid_alive"]


class VaultLockedError(VaultTTCError):
    """Another daemon watches this vault."""


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # alive, someone else's
    return True


@dataclass(slots=True)
class VaultLock:
    """A held lock. `stale_pid` is the pid a previous, dead holder left in the file."""

    path: Path
    fd: int
    stale_pid: int | None = None

    @classmethod
    def acquire(cls, path: Path, *, label: str = "") -> VaultLock:
        """Take the lock or raise `VaultLockedError` naming the daemon that holds it."""
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_pid(fd)
            os.close(fd)
            who = f"pid {holder}" if holder else "another process"
            raise VaultLockedError(
                f"{label or path.parent.parent} is already watched by vaultttc ({who}); "
                "stop that daemon first, or watch another vault"
            ) from None
        previous = _read_pid(fd)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        stale = previous if previous not in (None, os.getpid()) else None
        return cls(path, fd, stale)

    def release(self) -> None:
        if self.fd < 0:
            return
        with contextlib.suppress(OSError):
            os.ftruncate(self.fd, 0)
        os.close(self.fd)  # closing drops the flock
        self.fd = -1

    def __enter__(self) -> VaultLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None
