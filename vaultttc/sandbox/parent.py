"""Running untrusted code: subprocesses with a timeout, memory and process limits, no keys.

Every child starts from a small stdlib-only jail program (`sandbox/jail.py`, run by path as
`python -I -S`) with a scrubbed environment (PATH, LANG, HOME/TMPDIR = its working directory,
and only the variables the caller allows; secret-looking names are refused). Where the OS
allows it cheaply (root with `unshare`), the jail gets new network, PID and mount namespaces:
no network (only a downed loopback), no view of host processes, empty tmpfs over /tmp,
/var/tmp, /dev/shm, /root and /home (the interpreter and the working directory are bound
back), and killing it kills every process it started, even ones that called `setsid`. As root
the code runs under a fresh unprivileged uid, so `RLIMIT_NPROC` (ignored for root) stops fork
bombs, the host's files are read-only to it, and /proc/<pid>/environ of vaultttc is
unreadable. Without root or `unshare` it degrades to rlimits and a process group in the
caller's uid (see `isolation()`). Python candidates run in batches: one jail forks one child
per candidate (`exec` of the source in a clean namespace), so thousands of candidates cost
milliseconds each. This module is the parent side: it builds the jail's config, starts it,
enforces the wall-clock budget and output cap, and reads its results.

This module only runs what it is given: it never decides whether running is allowed (the
verifiers require consent) and never reads or passes the caller's API keys.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
import weakref
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from vaultttc.errors import ConfigError

if TYPE_CHECKING:
    from vaultttc.sandbox.jail import Config, Limits

__all__ = [
    "DEFAULT_MAX_OUTPUT",
    "Isolation",
    "SandboxResult",
    "arun_child",
    "arun_python",
    "arun_python_batch",
    "isolation",
]

DEFAULT_MAX_OUTPUT = 256 * 1024
_SECRET = re.compile(r"KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|AUTH|COOKIE|SESSION", re.I)
_UNSHARE = ["--net", "--pid", "--fork", "--kill-child", "--mount", "--mount-proc"]
_BATCH_MAX = 1000
_JAIL = str(Path(__file__).with_name("jail.py"))
_uid_blocks = itertools.count()
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class SandboxResult:
    """What one sandboxed run did. `returncode` is negative for a signal, None when killed."""

    returncode: int | None
    stdout: str
    stderr: str
    timed_out: bool = False
    truncated: bool = False
    duration_s: float = 0.0

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out


@dataclass(frozen=True, slots=True)
class Isolation:
    """The isolation this machine gives: namespaces (no network, private /tmp) and uid drop."""

    namespaces: bool
    separate_uid: bool


@cache
def isolation() -> Isolation:
    """Probe once: root drops to a fresh uid; `unshare` adds net/pid/mount namespaces."""
    root = os.geteuid() == 0
    unshare = shutil.which("unshare")
    works = False
    if root and unshare:
        probe = subprocess.run(
            [unshare, *_UNSHARE, "true"], capture_output=True, timeout=10, check=False
        )
        works = probe.returncode == 0
    return Isolation(namespaces=works, separate_uid=root and (works or _others_can_run_python()))


def _others_can_run_python() -> bool:
    """Without a mount namespace a dropped uid needs every directory up to the stdlib open."""
    for start in (os.path.realpath(sys.executable), os.path.realpath(sys.base_prefix)):
        path = Path(start)
        for directory in [path, *path.parents]:
            if not directory.stat().st_mode & stat.S_IXOTH:
                return False
    return True


def _env(allow: Collection[str]) -> dict[str, str]:
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONIOENCODING": "utf-8",
    }
    for name in allow:
        if _SECRET.search(name):
            raise ConfigError(f"refusing to pass {name} into the sandbox: it looks like a secret")
        if name in os.environ:
            env[name] = os.environ[name]
    return env


def _uid_block() -> int | None:
    """A fresh range of `_BATCH_MAX` uids for one jail; unique per process and concurrent jail."""
    if not isolation().separate_uid:
        return None
    return 100_000 + (os.getpid() % 20_000) * 100_000 + (next(_uid_blocks) % 100) * _BATCH_MAX


def _limits(timeout_s: float, memory_mb: int, max_output: int) -> Limits:
    return {
        "timeout_s": timeout_s,
        "memory_mb": memory_mb,
        "max_output": max_output,
        "fsize": max(16 * 1024 * 1024, 4 * max_output),
        "nproc": 64,
    }


def _keep(extra: Sequence[str] = ()) -> list[str]:
    """Paths that must stay visible under hidden /root, /home and /tmp: the interpreter."""
    paths = {sys.base_prefix, sys.prefix, os.path.dirname(os.path.realpath(sys.executable))}
    paths |= {os.path.dirname(os.path.realpath(a)) for a in extra if os.path.isfile(a)}
    return sorted({os.path.realpath(p) for p in paths})


def _command(config: Config) -> list[str]:
    prefix = ["unshare", *_UNSHARE] if config["ns"] else []
    return [*prefix, sys.executable, "-I", "-S", _JAIL, json.dumps(config)]


_slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
    weakref.WeakKeyDictionary()
)


def _slot() -> asyncio.Semaphore:
    """One jail per core at a time, so wall-clock timeouts measure the code, not the queue."""
    loop = asyncio.get_running_loop()
    if loop not in _slots:
        _slots[loop] = asyncio.Semaphore(os.cpu_count() or 1)
    return _slots[loop]


def _kill(proc: asyncio.subprocess.Process) -> None:
    """Kill the child's whole session (in namespaces, unshare's death takes the rest along)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


async def _drain(
    stream: asyncio.StreamReader, into: bytearray, *, cap: int, on_overflow: Callable[[], None]
) -> None:
    while chunk := await stream.read(65536):
        if len(into) + len(chunk) > cap:
            into += chunk[: cap - len(into)]
            on_overflow()
            return
        into += chunk


async def _feed(stdin: asyncio.StreamWriter, data: bytes) -> None:
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        stdin.write(data)
        await stdin.drain()
        stdin.close()


async def _spawn(
    cmd: list[str], stdin: bytes, *, timeout_s: float, cap: int
) -> tuple[int | None, bytes, bytes, bool, bool]:
    """Run `cmd` in its own session; kill the session on timeout, overflow or cancellation.

    Returns (returncode, stdout, stderr, timed_out, truncated); output read before a timeout
    is kept.
    """
    async with _slot():
        proc = await asyncio.create_subprocess_exec(
            *cmd,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=_env(()),
            start_new_session=True,
        )
        assert proc.stdin and proc.stdout and proc.stderr
        out, err, overflow = bytearray(), bytearray(), []

        def overflowed() -> None:
            overflow.append(True)
            _kill(proc)

        feed = asyncio.ensure_future(_feed(proc.stdin, stdin))
        reads = [
            asyncio.ensure_future(_drain(proc.stdout, out, cap=cap, on_overflow=overflowed)),
            asyncio.ensure_future(_drain(proc.stderr, err, cap=cap, on_overflow=overflowed)),
        ]
        timed_out = False
        try:
            await asyncio.wait_for(asyncio.gather(*reads, proc.wait()), timeout_s)
        except TimeoutError:
            timed_out = True
        finally:
            _kill(proc)
            for task in (feed, *reads):
                task.cancel()
            await asyncio.gather(feed, *reads, return_exceptions=True)
            await proc.wait()
        return proc.returncode, bytes(out), bytes(err), timed_out, bool(overflow)


def _decode(data: bytes) -> str:
    return data.decode("utf-8", "replace")


async def arun_python_batch(
    sources: Sequence[str],
    *,
    timeout_s: float,
    memory_mb: int,
    env_allow: Collection[str] = (),
    max_output: int = DEFAULT_MAX_OUTPUT,
    workers: int = 1,
) -> list[SandboxResult]:
    """Run each source as its own `__main__` program, each with the full per-run limits.

    Sources share one jail per `workers` chunk (started once), each forked into a fresh
    uid, process group and temp directory. Results come back in input order.
    """
    size = min(_BATCH_MAX, max(1, -(-len(sources) // max(1, workers))))
    chunks = [list(sources[i : i + size]) for i in range(0, len(sources), size)]
    parts = await asyncio.gather(
        *(
            _batch(chunk, env=_env(env_allow), limits=_limits(timeout_s, memory_mb, max_output))
            for chunk in chunks
        )
    )
    return [result for part in parts for result in part]


async def _batch(sources: list[str], *, env: dict[str, str], limits: Limits) -> list[SandboxResult]:
    config: Config = {
        "mode": "batch",
        "ns": isolation().namespaces,
        "uid": _uid_block(),
        "env": env,
        "limits": limits,
        "keep": _keep(),
    }
    budget = len(sources) * (limits["timeout_s"] + 1.0) + 10.0
    cap = len(sources) * (2 * limits["max_output"] + 4096) + 65536
    rc, out, err, _, _ = await _spawn(
        _command(config), json.dumps(sources).encode(), timeout_s=budget, cap=cap
    )
    results = [_from_line(line) for line in out.decode("utf-8", "replace").splitlines()]
    missing = SandboxResult(
        None, "", f"sandbox worker died (exit {rc}): {_decode(err)[-500:]}", timed_out=rc is None
    )
    return (results + [missing] * len(sources))[: len(sources)]


def _from_line(line: str) -> SandboxResult:
    data = json.loads(line)
    return SandboxResult(
        returncode=data["rc"],
        stdout=data["out"],
        stderr=data["err"],
        timed_out=data["timed_out"],
        truncated=data["truncated"],
        duration_s=data["duration"],
    )


async def arun_python(
    source: str,
    *,
    timeout_s: float,
    memory_mb: int,
    env_allow: Collection[str] = (),
    max_output: int = DEFAULT_MAX_OUTPUT,
) -> SandboxResult:
    """Run one Python program (`python -I -S` semantics: stdlib only) in the sandbox."""
    results = await arun_python_batch(
        [source],
        timeout_s=timeout_s,
        memory_mb=memory_mb,
        env_allow=env_allow,
        max_output=max_output,
    )
    return results[0]


async def arun_child(
    argv: Sequence[str],
    *,
    stdin: bytes | str | None = None,
    timeout_s: float,
    memory_mb: int,
    cwd: str | Path | None = None,
    env_allow: Collection[str] = (),
    max_output: int = DEFAULT_MAX_OUTPUT,
) -> SandboxResult:
    """Run any command under the same jail: limits, scrubbed env, fresh uid, no network.

    With `cwd` given, that directory tree is handed to the sandbox uid (chown) and kept; the
    command should keep its files inside it (a private tmpfs hides the rest of /tmp). Without
    `cwd`, a temp directory is made and deleted afterwards.
    """
    made = cwd is None
    workdir = Path(tempfile.mkdtemp(prefix="vaultttc-")) if cwd is None else Path(cwd).resolve()
    uid = _uid_block()
    config: Config = {
        "mode": "exec",
        "ns": isolation().namespaces,
        "uid": uid,
        "cwd": str(workdir),
        "argv": list(argv),
        "env": _env(env_allow),
        "keep": _keep(argv),
        "limits": _limits(timeout_s, memory_mb, max_output),
    }
    data = stdin.encode() if isinstance(stdin, str) else (stdin or b"")
    start = time.monotonic()
    try:
        rc, out, err, timed_out, cut = await _spawn(
            _command(config), data, timeout_s=timeout_s, cap=max_output
        )
    finally:
        if uid is not None and not config["ns"]:
            _sweep_uid(uid)
        if made:
            shutil.rmtree(workdir, ignore_errors=True)
    return SandboxResult(
        returncode=None if timed_out else rc,
        stdout=_decode(out),
        stderr=_decode(err),
        timed_out=timed_out,
        truncated=cut,
        duration_s=time.monotonic() - start,
    )


def _sweep_uid(uid: int) -> None:
    """Without namespaces: kill whatever the run's uid left running (setsid escapees)."""
    script = "import os,sys;os.setgid(int(sys.argv[1]));os.setuid(int(sys.argv[1]));os.kill(-1,9)"
    subprocess.run([sys.executable, "-I", "-S", "-c", script, str(uid)], check=False, env={})
