"""A cgroup v2 per sandboxed run, where the machine delegates one: memory bounded for the tree.

`usable_parent` finds the cgroup v2 directory this process lives in when it may create
children there with the memory and pids controllers already enabled for them (a delegated
one, or the root of a container's cgroup namespace); `run_group` makes
one child per jail with `memory.max` and `pids.max` set, and on leaving kills whatever is
still in it and removes it. Where none is usable the run falls back to per-process limits
(see `sandbox.parent`).

Must not: move processes itself (the jail joins its group), or decide the limits.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import time
from collections.abc import Iterator
from pathlib import Path

__all__ = ["run_group", "usable_parent"]

_names = itertools.count()


def _mount() -> Path | None:
    with contextlib.suppress(OSError), open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            if right.split()[:1] == ["cgroup2"]:
                return Path(left.split()[4])
    return None


def usable_parent(root: Path | None = None) -> Path | None:
    """Our own cgroup v2 directory, when children with memory and pids limits can be made."""
    mount = root or _mount()
    if mount is None:
        return None
    here = mount
    with contextlib.suppress(OSError), open("/proc/self/cgroup") as f:
        for line in f:
            if line.startswith("0::"):
                here = mount / line.strip()[3:].lstrip("/")
    try:
        probe = _make(here, memory_bytes=64 * 1024 * 1024, pids=16)
    except OSError:
        return None
    _remove(probe)
    return here


def _make(parent: Path, *, memory_bytes: int, pids: int) -> Path:
    enabled = (parent / "cgroup.subtree_control").read_text().split()
    if not {"memory", "pids"} <= set(enabled):  # enabling them is the machine owner's call
        raise PermissionError("the memory and pids controllers are not enabled for children")
    path = parent / f"vaultttc-{os.getpid()}-{next(_names)}"
    path.mkdir()
    try:
        (path / "memory.max").write_text(str(memory_bytes))
        with contextlib.suppress(OSError):
            (path / "memory.swap.max").write_text("0")
        (path / "pids.max").write_text(str(pids))
    except OSError:
        path.rmdir()
        raise
    return path


def _remove(path: Path) -> None:
    """Kill what is left in the group and remove it (give the kernel a moment to empty it)."""
    with contextlib.suppress(OSError):
        (path / "cgroup.kill").write_text("1")
    for _ in range(200):
        try:
            path.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.01)


@contextlib.contextmanager
def run_group(parent: Path | None, *, memory_mb: int, pids: int) -> Iterator[Path | None]:
    """A fresh cgroup under `parent` for one jail (None when there is no parent to use)."""
    if parent is None:
        yield None
        return
    path = _make(parent, memory_bytes=memory_mb * 1024 * 1024, pids=pids)
    try:
        yield path
    finally:
        _remove(path)
