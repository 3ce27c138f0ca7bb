"""The jail: the program every sandboxed run starts from (the parent side is `sandbox.parent`).

Started as `python -I -S jail.py CONFIG_JSON`, inside `unshare` namespaces where the machine
allows it. In `exec` mode it sets up (private mounts, the working tree handed to the sandbox
uid, limits) and execs the caller's argv. In `batch` mode it reads a JSON list of Python
sources on stdin, forks one child per source (own uid, process group and temp directory, the
source `exec`-ed as `__main__`) and writes one JSON result per line. It runs as root inside the
namespaces (pid 1) and drops each child to its own uid, so killing "everything that uid can
signal" sweeps whatever the child left behind.

Must not: import anything but the stdlib (it runs with `-I -S`, and its start-up is paid once
per batch and once per `run_child`, so keep imports few and cheap — `typing` only for the
checker), import vaultttc, or decide policy: limits, uids, env and mounts come from the config.
"""

from __future__ import annotations

import builtins
import contextlib
import ctypes
import json
import os
import resource
import select
import shutil
import signal
import sys
import tempfile
import time
import traceback

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: importing typing would slow every jail's start-up
    from typing import Literal, NoReturn, NotRequired, TypedDict

    class Limits(TypedDict):
        timeout_s: float
        memory_mb: int
        max_output: int
        fsize: int
        nproc: int

    class Config(TypedDict):
        mode: Literal["exec", "batch"]
        ns: bool
        uid: int | None
        env: dict[str, str]
        limits: Limits
        keep: list[str]
        cwd: NotRequired[str]
        argv: NotRequired[list[str]]


__all__ = ["main"]

_HIDDEN = {
    "/tmp": b"mode=1777",
    "/var/tmp": b"mode=1777",
    "/dev/shm": b"mode=1777",
    "/root": b"mode=755",
    "/home": b"mode=755",
}
_MS_BIND, _MS_REC = 4096, 16384


def main(argv: list[str]) -> None:
    """Run the config in `argv[1]`: a batch of sources on stdin, or one command."""
    config: Config = json.loads(argv[1])
    if config["mode"] == "batch":
        batch(config)
    else:
        execute(config)


def private_mounts(keep: list[str]) -> None:
    """Fresh tmpfs over temp dirs and home dirs; bind back the paths the run needs."""
    libc = ctypes.CDLL(None, use_errno=True)
    fds = {path: os.open(path, os.O_RDONLY) for path in keep if os.path.exists(path)}
    for target, mode in _HIDDEN.items():
        if os.path.isdir(target) and not os.path.islink(target):
            libc.mount(b"tmpfs", target.encode(), b"tmpfs", 0, b"size=256m," + mode)
    for path, fd in sorted(fds.items()):
        if any(path.startswith(t + "/") for t in _HIDDEN):
            os.makedirs(path, exist_ok=True)
            source = f"/proc/self/fd/{fd}".encode()
            if libc.mount(source, path.encode(), None, _MS_BIND | _MS_REC, None):
                raise OSError(ctypes.get_errno(), "bind mount failed: " + path)
        os.close(fd)


def own_processes() -> int:
    """How many processes this uid runs now (RLIMIT_NPROC counts them all)."""
    me = os.getuid()
    n = 0
    for pid in os.listdir("/proc"):
        with contextlib.suppress(OSError):
            n += pid.isdigit() and os.stat("/proc/" + pid).st_uid == me
    return n


def drop(uid: int | None, limits: Limits) -> None:
    """Become `uid` (when given) and set the run's rlimits."""
    if uid is not None:
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
    nproc = limits["nproc"] + (0 if uid is not None else own_processes())
    cpu = int(limits["timeout_s"]) + 2
    mem = limits["memory_mb"] * 1024 * 1024
    for res, val in (
        (resource.RLIMIT_AS, mem),
        (resource.RLIMIT_CPU, cpu),
        (resource.RLIMIT_FSIZE, limits["fsize"]),
        (resource.RLIMIT_CORE, 0),
        (resource.RLIMIT_NOFILE, 256),
        (resource.RLIMIT_NPROC, nproc),
    ):
        _limit(res, val)


def _limit(res: int, val: int) -> None:
    """Set both limits; where the hard one cannot be lowered or raised, the soft one only."""
    try:
        resource.setrlimit(res, (val, val))
    except (ValueError, OSError):
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(res, (val, resource.getrlimit(res)[1]))


def sweep(uid: int | None, *, ns: bool) -> None:
    """Kill what a run left behind (all of the namespace, or all of its uid) and reap it."""
    if ns:
        with contextlib.suppress(OSError):
            os.kill(-1, signal.SIGKILL)
    elif uid is not None:
        pid = os.fork()
        if pid == 0:
            try:
                os.setuid(uid)
                os.kill(-1, signal.SIGKILL)
            finally:
                os._exit(0)
    while True:
        try:
            if os.waitpid(-1, os.WNOHANG)[0] == 0 and not ns:
                break
        except ChildProcessError:
            break


def child(
    config: Config, source: str, *, cwd: str, fds: tuple[int, int], uid: int | None
) -> NoReturn:
    """In the forked child: redirect, drop, then run `source` as `__main__`; never returns."""
    status = 1
    try:
        os.setpgid(0, 0)
        os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
        os.dup2(fds[0], 1)
        os.dup2(fds[1], 2)
        os.closerange(3, 65536)
        os.chdir(cwd)
        drop(uid, config["limits"])
        os.environ.clear()
        os.environ.update(config["env"], HOME=cwd, TMPDIR=cwd)
        sys.argv = ["<candidate>"]
        code = compile(source, "<candidate>", "exec")
        exec(code, {"__name__": "__main__", "__builtins__": builtins})
        status = 0
    except SystemExit as e:
        status = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        if not isinstance(e.code, int | None):
            print(e.code, file=sys.stderr)
    except BaseException as e:
        with contextlib.suppress(BaseException):
            traceback.print_exception(type(e), e, e.__traceback__ and e.__traceback__.tb_next)
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(status & 255)


def wait(pid: int, timeout: float) -> bool:
    """True when `pid` exits within `timeout` seconds (it is not reaped here)."""
    try:
        fd = os.pidfd_open(pid)
        ready = select.select([fd], [], [], timeout)[0]
        os.close(fd)
        return bool(ready)
    except OSError:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if os.waitpid(pid, os.WNOHANG)[0]:
                return True
            time.sleep(0.002)
        return False


def read(path: str, cap: int) -> tuple[str, bool]:
    """At most `cap` bytes of a captured stream, and whether there was more."""
    with open(path, "rb") as f:
        data = f.read(cap + 1)
    return data[:cap].decode("utf-8", "replace"), len(data) > cap


def start(config: Config, source: str, *, cwd: str, uid: int | None) -> tuple[int, float]:
    """Fork the child for one source, its output going to `cwd`.out/.err; (pid, start time)."""
    out = os.open(cwd + ".out", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    err = os.open(cwd + ".err", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    sys.stdout.flush()
    began = time.monotonic()
    pid = os.fork()
    if pid == 0:
        child(config, source, cwd=cwd, fds=(out, err), uid=uid)
    os.close(out)
    os.close(err)
    with contextlib.suppress(OSError):
        os.setpgid(pid, pid)
    return pid, began


def finish(pid: int, timeout: float) -> tuple[int | None, bool]:
    """Wait for the child, killing its group at the timeout: (exit code or None, done)."""
    done = wait(pid, timeout)
    if not done:
        for kill in (os.killpg, os.kill):
            with contextlib.suppress(OSError):
                kill(pid, signal.SIGKILL)
    try:
        status = os.waitpid(pid, 0)[1]
        return (os.waitstatus_to_exitcode(status) if done else None), done
    except ChildProcessError:
        return None, done


def run_one(config: Config, index: int, source: str, *, base: str) -> dict[str, object]:
    """Run one source in a fresh uid and directory under `base`; its result as JSON data."""
    uid = config["uid"] + index if config["uid"] is not None else None
    cwd = os.path.join(base, str(index))
    os.mkdir(cwd, 0o700)
    if uid is not None:
        os.chown(cwd, uid, uid)
    pid, began = start(config, source, cwd=cwd, uid=uid)
    rc, done = finish(pid, config["limits"]["timeout_s"])
    duration = time.monotonic() - began
    sweep(uid, ns=config["ns"])
    cap = config["limits"]["max_output"]
    stdout, cut_out = read(cwd + ".out", cap)
    stderr, cut_err = read(cwd + ".err", cap)
    shutil.rmtree(cwd, ignore_errors=True)
    for name in (".out", ".err"):
        os.unlink(cwd + name)
    return {
        "rc": rc,
        "out": stdout,
        "err": stderr,
        "timed_out": not done,
        "truncated": cut_out or cut_err,
        "duration": duration,
    }


def batch(config: Config) -> None:
    """Run every source read from stdin, printing one JSON result line each, in order."""
    sources = json.loads(sys.stdin.read())
    if config["ns"]:
        private_mounts(config["keep"])
    base = tempfile.mkdtemp(prefix="vaultttc-")
    os.chmod(base, 0o711)
    try:
        for i, source in enumerate(sources):
            print(json.dumps(run_one(config, i, source, base=base)), flush=True)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def execute(config: Config) -> None:
    """Set up the jail around `cwd`, then exec the argv in it (exit 127 when that fails)."""
    cwd, argv, uid = config["cwd"], config["argv"], config["uid"]
    if config["ns"]:
        private_mounts([*config["keep"], cwd])
    if uid is not None:
        for root, dirs, files in os.walk(cwd):
            for name in [root] + [os.path.join(root, n) for n in dirs + files]:
                os.lchown(name, uid, uid)
    os.chdir(cwd)
    drop(uid, config["limits"])
    env = dict(config["env"], HOME=cwd, TMPDIR=cwd)
    try:
        os.execvpe(argv[0], argv, env)
    except OSError as e:
        print(f"cannot run {argv[0]}: {e}", file=sys.stderr)
        os._exit(127)


if __name__ == "__main__":
    main(sys.argv)
