"""Run a Python snippet through the real vaultttc API as root or as an ordinary user.

Tests of the sandbox run each hostile payload twice: as root (when the test runner is root)
and as an ordinary user (uid 65534, dropped to here when the runner is root; the runner's own
uid otherwise). The ordinary user needs to reach the interpreter, which may live under a
directory only root can enter (pyenv under /root): the launcher then runs it in a private
mount namespace where that directory is a tmpfs with only the interpreter bound back — the
user sees exactly its files, nothing else of /root. Run as a script, this module is that
launcher: `python users.py UID CODE`.
"""

from __future__ import annotations

import ctypes
import json
import os
import stat
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

NOBODY = 65534
HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


def who_runs() -> list[str]:
    """The users a payload runs as here: "root" only when the runner is root."""
    return ["root", "user"]


def skip_reason(who: str) -> str | None:
    if who == "root" and os.geteuid() != 0:
        return "the test runner is not root: the root mode cannot be tried here"
    return None


def run_as(who: str, code: str, *, env: dict[str, str] | None = None, timeout: float = 300) -> Any:
    """Run `code` (which prints one JSON document) as `who`; its parsed output."""
    home = tempfile.mkdtemp(prefix="vaultttc-user-")
    os.chmod(home, 0o777)
    full = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": home,
            "PYTHONPATH": f"{ROOT}:{HERE}", **(env or {})}  # fmt: skip
    if who == "user" and os.geteuid() == 0:
        argv = [sys.executable, "-I", str(HERE / "users.py"), str(NOBODY), code]
    else:
        argv = [sys.executable, "-c", code]
    try:
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=timeout, env=full, cwd=home, check=False
        )
    finally:
        subprocess.run(["rm", "-rf", home], check=False)
    if done.returncode != 0 or not done.stdout.strip():
        raise AssertionError(f"the payload run failed ({done.returncode}):\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _closed_ancestor(path: str) -> Path | None:
    """The outermost directory on the way to `path` that other users cannot enter."""
    for directory in reversed([Path(path), *Path(path).parents]):
        if not directory.stat().st_mode & stat.S_IXOTH:
            return directory
    return None


def _launch(uid: int, code: str) -> None:
    """As root: a private mount namespace where the interpreter is reachable, then `uid`."""
    libc = ctypes.CDLL(None, use_errno=True)
    needed = sorted({os.path.realpath(p) for p in (sys.base_prefix, sys.prefix)})
    closed = {p: _closed_ancestor(p) for p in needed}
    if any(closed.values()):
        if libc.unshare(0x00020000) != 0:  # CLONE_NEWNS
            raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNS)")
        libc.mount(None, b"/", None, 16384 | (1 << 18), None)  # MS_REC | MS_PRIVATE
        fds = {p: os.open(p, os.O_PATH) for p, c in closed.items() if c is not None}
        for directory in {c for c in closed.values() if c is not None}:
            libc.mount(b"tmpfs", str(directory).encode(), b"tmpfs", 0, b"mode=755,size=1m")
        for path, fd in fds.items():
            os.makedirs(path, exist_ok=True)
            if libc.mount(f"/proc/self/fd/{fd}".encode(), path.encode(), None, 4096 | 16384, None):
                raise OSError(ctypes.get_errno(), "bind " + path)
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)
    os.execve(sys.executable, [sys.executable, "-c", code], dict(os.environ))


if __name__ == "__main__":
    _launch(int(sys.argv[1]), sys.argv[2])
