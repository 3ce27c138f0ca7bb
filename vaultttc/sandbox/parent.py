"""Running untrusted code: the parent side of the jail (`sandbox/jail.py`, the child).

Every run starts the stdlib-only jail program (`python -I -S jail.py CONFIG`) in a session of
its own with a scrubbed environment (PATH, LANG, HOME/TMPDIR = its working directory, and
only the variables the caller allows; secret-looking names are refused). Where the OS allows
(`detect.isolation()`: as root, or as an ordinary user through an unprivileged user
namespace, or under bubblewrap) the jail lives in new mount, PID, network, IPC and UTS
namespaces with a filesystem of only the interpreter, read-only, and a private /tmp: no
network, no host process, file or IPC object in reach, and killing it kills everything it
started. Memory is
bounded for the whole tree: by a cgroup v2 where one is usable, else by capping the run's
processes so that their number times the per-process address-space limit stays within the
run's budget. Where the OS gives no isolation, nothing runs unless the caller is inside
`detect.unsandboxed()` (`--allow-exec=unsandboxed`); then only rlimits and a process group
(and a fresh uid as root) hold, and vaultttc makes itself non-dumpable so that its own
/proc/<pid>/environ and memory stay unreadable. Python candidates run in batches: one jail
forks one child per candidate, so thousands of candidates cost milliseconds each. This module
builds the jail's config, starts it, enforces the wall-clock budget and output cap, and reads
its results.

This module only runs what it is given: it never decides whether running is allowed (the
verifiers require consent) and never reads or passes the caller's API keys.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import itertools
import json
import os
import re
import shutil
import signal
import sys
import tempfile
import time
import weakref
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vaultttc.errors import ConfigError
from vaultttc.sandbox import cgroup
from vaultttc.sandbox.detect import NoIsolation, command, interpreter_paths, isolation, refusal
from vaultttc.sandbox.preload import preloads

if TYPE_CHECKING:
    from vaultttc.sandbox.judge import Job
    from vaultttc.sandbox.shapes import Config, Limits

__all__ = [
    "DEFAULT_MAX_OUTPUT",
    "SandboxResult",
    "arun_child",
    "arun_python",
    "arun_python_batch",
    "workers_for",
]

DEFAULT_MAX_OUTPUT = 256 * 1024
PROCESSES = 4  # per candidate run: processes and threads of its tree
_SECRET = re.compile(r"KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|AUTH|COOKIE|SESSION", re.I)
_BATCH_MAX = 1000
PARALLEL = 8  # runs of one batch going at once in one jail (each in its own cell)
_THREADS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")
_uid_blocks = itertools.count()


@dataclass(frozen=True, slots=True)
class SandboxResult:
    """What one sandboxed run did. `returncode` is negative for a signal, None when killed.

    `report` is the judge's report for a judged run (None when the judge did not finish)."""

    returncode: int | None
    stdout: str
    stderr: str
    timed_out: bool = False
    truncated: bool = False
    duration_s: float = 0.0
    report: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out


def _env(allow: Collection[str]) -> dict[str, str]:
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONIOENCODING": "utf-8",
        **dict.fromkeys(_THREADS, "1"),  # threads count against the run's process cap
    }
    for name in allow:
        if _SECRET.search(name):
            raise ConfigError(f"refusing to pass {name} into the sandbox: it looks like a secret")
        if name in os.environ:
            env[name] = os.environ[name]
    return env


def _require() -> None:
    """Refuse to run without isolation unless acknowledged; then protect this process."""
    reason = refusal()
    if reason is not None:
        raise NoIsolation(reason)
    if not isolation().namespaces:
        _nondumpable()


@cache
def _nondumpable() -> None:
    """Same-uid code can no longer read this process's environ or memory, or ptrace it."""
    ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE


def _uid_block() -> int | None:
    """A fresh range of uids for one jail (two per source); unique per process and jail."""
    if not isolation().separate_uid:
        return None
    block = 2 * _BATCH_MAX
    return 100_000 + (os.getpid() % 20_000) * 100_000 + (next(_uid_blocks) % 50) * block


def _limits(timeout_s: float, memory_mb: int, max_output: int, *, processes: int) -> Limits:
    """Per-process limits: with a cgroup for the tree each process may use the whole budget;
    without, `processes` of them at most, each a `processes`-th of it."""
    whole = isolation().cgroup is not None
    return {
        "timeout_s": timeout_s,
        "memory_mb": memory_mb if whole else max(16, memory_mb // processes),
        "max_output": max_output,
        "fsize": max(16 * 1024 * 1024, 4 * max_output),
        "nproc": processes,
        "tmp_mb": max(8, memory_mb // 8),
    }


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
    """Kill the jail's session (in namespaces, its pid 1 takes every process along)."""
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
    config: Config, stdin: bytes, *, timeout_s: float, cap: int, memory_mb: int
) -> tuple[int | None, bytes, bytes, bool, bool]:
    """Run the jail in its own session (and cgroup, where usable); kill it on timeout,
    overflow or cancellation.

    Returns (returncode, stdout, stderr, timed_out, truncated); output read before a timeout
    is kept.
    """
    _require()
    at_once = config.get("parallel", 1)  # runs going at once, each with the whole budget
    pids = at_once * (config["limits"]["nproc"] + 4) + 16  # + judges, cells, the jail's own
    memory = at_once * memory_mb + 64
    async with _slot():
        with cgroup.run_group(isolation().cgroup, memory_mb=memory, pids=pids) as group:
            if group is not None:
                config["cgroup"] = str(group)
            return await _communicate(command(config), stdin, timeout_s=timeout_s, cap=cap)


async def _communicate(
    cmd: list[str], stdin: bytes, *, timeout_s: float, cap: int
) -> tuple[int | None, bytes, bytes, bool, bool]:
    proc = await asyncio.create_subprocess_exec(
        *cmd,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**_env(()), "PYTHONHASHSEED": "0"},  # probes' reprs alike across jails
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


def workers_for(count: int, most: int) -> int:
    """How many jails a batch of `count` sources is worth: at most `most`, 8+ sources each."""
    return max(1, min(most, count // 8))


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
    judge: Job | None = None,
    judge_data: Sequence[Any] | None = None,
) -> list[SandboxResult]:
    """Run each source as its own `__main__` program, each with the full per-run limits.

    Sources share one jail per `workers` chunk (started once), each forked into a fresh
    process group, temp directory (and uid, as root), up to `PARALLEL` at once, each in
    namespaces of its own where the OS allows. With a `judge` job, each gets a judge process
    beside it that runs the job against it (with its item of `judge_data`, when given); its
    report is the result's `report`. Results come back in input order.
    """
    size = min(_BATCH_MAX, max(1, -(-len(sources) // max(1, workers))))
    data = list(judge_data) if judge_data is not None else [None] * len(sources)
    chunks = [(list(sources[i : i + size]), data[i : i + size])
              for i in range(0, len(sources), size)]  # fmt: skip
    limits = _limits(timeout_s, memory_mb, max_output, processes=PROCESSES)
    parts = await asyncio.gather(
        *(
            _batch(chunk, items, env=_env(env_allow), limits=limits, judge=judge, memory=memory_mb)
            for chunk, items in chunks
        )
    )
    return [result for part in parts for result in part]


async def _batch(
    sources: list[str], data: list[Any], *, env: dict[str, str], limits: Limits,
    judge: Job | None, memory: int,
) -> list[SandboxResult]:  # fmt: skip
    config: Config = {
        "mode": "batch",
        "ns": isolation().ns,
        "uid": _uid_block(),
        "env": env,
        "limits": limits,
        "keep": interpreter_paths(),
        "parallel": min(PARALLEL, len(sources)) if isolation().ns != "bwrap" else 1,
        "preload": preloads(sources, judge),
    }
    if judge is not None:
        config["judge"] = judge
    budget = len(sources) * (limits["timeout_s"] + 1.0) + 10.0
    cap = len(sources) * (2 * limits["max_output"] + 4096) + 65536
    given = json.dumps({"sources": sources, "data": data}).encode()
    rc, out, err, _, _ = await _spawn(config, given, timeout_s=budget, cap=cap, memory_mb=memory)
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
        report=data.get("report"),
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
    processes: int = PROCESSES,
) -> SandboxResult:
    """Run any command under the same jail: limits, scrubbed env, namespaces, no network.

    With `cwd` given, that directory tree is the one writable place outside the private
    /tmp (as root it is handed to the run's uid) and is kept. Without `cwd`, a temp
    directory is made and deleted afterwards. `processes` caps the command's tree.
    """
    made = cwd is None
    workdir = Path(tempfile.mkdtemp(prefix="vaultttc-")) if cwd is None else Path(cwd).resolve()
    uid = _uid_block()
    config: Config = {
        "mode": "exec",
        "ns": isolation().ns,
        "uid": uid,
        "cwd": str(workdir),
        "argv": list(argv),
        "env": _env(env_allow),
        "keep": interpreter_paths(argv),
        "limits": _limits(timeout_s, memory_mb, max_output, processes=processes),
    }
    data = stdin.encode() if isinstance(stdin, str) else (stdin or b"")
    start = time.monotonic()
    try:
        rc, out, err, timed_out, cut = await _spawn(
            config, data, timeout_s=timeout_s, cap=max_output, memory_mb=memory_mb
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
    import subprocess

    script = "import os,sys;os.setgid(int(sys.argv[1]));os.setuid(int(sys.argv[1]));os.kill(-1,9)"
    subprocess.run([sys.executable, "-I", "-S", "-c", script, str(uid)], check=False, env={})
