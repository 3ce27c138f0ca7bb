"""Inside the jail: the runs of a batch, and what is left of each swept away when it ends.

Loaded by `jail.py` by path (stdlib only). A run is one source, `exec`ed as `__main__` in a
forked child, and with a judge job the judge (`judge.py`) beside it, which runs the job over a
socket and writes its report on a pipe only it holds. `run_one` makes one run and returns its
result once it ended or its time was up, with nothing of it left (`sweep`).

With namespaces ("user", "root") the runs go to cells (`slots.py`: new mount, PID and IPC
namespaces inside the jail's, each with its own /proc, /tmp and /dev/shm), several at once,
one run at a time in each; runs going at once cannot see, signal or leave anything for one
another, and each cell is swept between its runs. Otherwise `schedule` runs them here: under
bubblewrap (no capability to unshare) one at a time, the jail sweeping the whole namespace
after each; without namespaces up to `parallel` at once, the run's process groups (and uids,
as root) killed after it. Results come in input order: looping candidates cost one timeout,
not one each.

Must not: import anything but the stdlib and its stdlib-only siblings, or decide policy.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import select
import signal
import socket
import sys
import time
import traceback

from vaultttc.sandbox import children

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: importing typing would slow every jail's start-up
    from collections.abc import Callable
    from typing import Any

    from vaultttc.sandbox.shapes import Config


__all__ = [
    "cells",
    "fork",
    "patience_of",
    "result",
    "run_one",
    "schedule",
    "status",
    "sweep",
    "uids",
]


def cells(config: Config) -> bool:
    """Whether each run gets its own namespaces (the jail holds the capability to make them)."""
    return config["ns"] in ("user", "root")


def fork(body: Callable[[], None]) -> int:
    """Fork a child that runs `body` in a process group of its own and then exits."""
    sys.stdout.flush()
    pid = os.fork()
    if pid == 0:
        status = 1
        try:
            os.setpgid(0, 0)
            body()
            status = 0
        except SystemExit as e:
            status = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
            if not isinstance(e.code, int | None):
                print(e.code, file=sys.stderr)
        except BaseException as e:
            with contextlib.suppress(BaseException):
                traceback.print_exception(type(e), e, e.__traceback__ and e.__traceback__.tb_next)
        finally:
            with contextlib.suppress(BaseException):
                sys.stdout.flush()
                sys.stderr.flush()
            os._exit(status & 255)
    with contextlib.suppress(OSError):
        os.setpgid(pid, pid)
    return pid


def _workdir(base: str, name: str, uid: int | None) -> str:
    path = os.path.join(base, name)
    os.mkdir(path, 0o700)
    if uid is not None:
        os.chown(path, uid, uid)
    return path


class _Run:
    """One run going: what is watched, and what is read back when it ends."""

    def __init__(self, index: int, uids: list[int | None], *, deadline: float) -> None:
        self.index, self.uids, self.deadline = index, uids, deadline
        self.began = time.monotonic()
        self.out, self.err = os.memfd_create("out"), os.memfd_create("err")
        self.pids: list[int] = []  # the processes to sweep; the last one is watched
        self.dirs: list[str] = []
        self.report: int | None = None  # the judge's pipe, while open
        self.data = bytearray()
        self.ended = False


def _start(config: Config, run: _Run, given: tuple[str, Any], *, base: str) -> None:
    """Fork the run: the judge (when there is a job) and the candidate, in `base`."""
    judged = "judge" in config
    readable, writable = os.pipe() if judged else (-1, -1)
    names = (f"c{run.index}", f"t{run.index}")
    run.dirs = [_workdir(base, n, u) for n, u in zip(names, run.uids, strict=True)]
    run.pids = _forked(config, run, (*given, writable))  # it closes `writable` once handed on
    if judged:
        run.report = readable


def _forked(config: Config, run: _Run, parts: tuple[str, Any, int]) -> list[int]:
    """Start the judge (when there is a job), then the candidate; their pids, the one whose end
    is the run's end last (the judge, when there is one)."""
    source, data, report = parts
    fds: tuple[int, ...] = (run.out, run.err)
    pids = []
    if report >= 0:
        ours, theirs = socket.socketpair()
        pids.append(fork(lambda: children.judge(config, data, uid=run.uids[1], cwd=run.dirs[1],
                                                link=theirs.fileno(), report=report)))  # fmt: skip
        theirs.close()
        os.close(report)
        fds = (*fds, ours.fileno())
    pids.append(
        fork(lambda: children.candidate(config, source, uid=run.uids[0], cwd=run.dirs[0], fds=fds))
    )
    if report >= 0:
        ours.close()
        pids.reverse()  # the judge is watched: its report is the run's outcome
    return pids


def status(pid: int) -> int | None:
    """The exit code of a child that has ended (None when it still runs or is gone)."""
    with contextlib.suppress(ChildProcessError):
        done, code = os.waitpid(pid, os.WNOHANG)
        return os.waitstatus_to_exitcode(code) if done else None
    return None


def _pidfd(pid: int) -> int | None:
    try:
        return os.pidfd_open(pid)
    except OSError:  # before Linux 5.3: polled
        return None


def _exited(pid: int) -> bool:
    return bool(os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT))


def uids(config: Config, index: int) -> list[int | None]:
    """The candidate's and the judge's uids for run `index` (None: no uid of their own)."""
    block = config["uid"]
    return [None, None] if block is None else [block + 2 * index, block + 2 * index + 1]


def run_one(config: Config, index: int, given: tuple[str, Any], *, base: str) -> dict[str, object]:
    """Make run `index` of `given` (source, judge's data) and return its result once it ended
    or its time was up, everything it left behind swept away."""
    going = {index: _launch(config, index, given, base=base)}
    one = going[index][0]
    while not one.ended and time.monotonic() < one.deadline:
        _wait(going, wake=None)
    return _end(config, *going[index])


def _launch(
    config: Config, index: int, given: tuple[str, Any], *, base: str
) -> tuple[_Run, int | None]:
    """Start run `index` on its time budget: the run, and a pidfd on its watched process."""
    one = _Run(
        index, uids(config, index), deadline=time.monotonic() + config["limits"]["timeout_s"]
    )
    _start(config, one, given, base=base)
    return one, _pidfd(one.pids[-1])


def _end(config: Config, one: _Run, pidfd: int | None) -> dict[str, object]:
    """The ended (or timed-out) run's result, its pidfd closed."""
    if pidfd is not None:
        os.close(pidfd)
    return _finish(config, one)


def schedule(
    config: Config, sources: list[str], data: list[Any], *, base: str,
    emit: Callable[[dict[str, object]], None],
) -> None:  # fmt: skip
    """Without cells (`slots.schedule` has them): run every source and `emit` each result in
    order, up to `config["parallel"]` at once without namespaces, one at a time in them.

    A run starts when none has started in the last `patience` seconds: quick runs go one after
    another (the jails already keep every core busy, and a wall-clock timeout should measure the
    code, not its neighbours), slow or looping ones do not hold up the rest."""
    parallel = max(1, int(config.get("parallel", 1))) if not config["ns"] else 1
    patience = patience_of(config)
    waiting, shown = list(range(len(sources))), 0
    going: dict[int, tuple[_Run, int | None]] = {}
    done: dict[int, dict[str, object]] = {}
    while waiting or going:
        while waiting and len(going) < parallel and _quiet(going, patience):
            i = waiting.pop(0)
            going[i] = _launch(config, i, (sources[i], data[i]), base=base)
        _wait(going, wake=patience if waiting and len(going) < parallel else None)
        for i, (one, pidfd) in list(going.items()):
            if one.ended or time.monotonic() >= one.deadline:
                del going[i]
                done[i] = _end(config, one, pidfd)
        while shown in done:
            emit(done.pop(shown))
            shown += 1


def patience_of(config: Config) -> float:
    """How long the youngest run goes on before another may start beside it."""
    return min(0.25, config["limits"]["timeout_s"] / 8)


def _quiet(going: dict[int, tuple[_Run, int | None]], patience: float) -> bool:
    """No run has started within the last `patience` seconds."""
    now = time.monotonic()
    return all(now - run.began >= patience for run, _ in going.values())


def _wait(going: dict[int, tuple[_Run, int | None]], *, wake: float | None) -> None:
    """Until a run ends, a judge's report comes in, the first deadline passes or, with `wake`,
    the youngest run has gone on for that long."""
    watched: dict[int, tuple[_Run, bool]] = {}
    polled = False
    for run, pidfd in going.values():
        if run.report is not None:
            watched[run.report] = (run, True)
        if pidfd is not None:
            watched[pidfd] = (run, False)
        else:
            polled = True
            run.ended = run.ended or _exited(run.pids[-1])
    ends = [run.deadline for run, _ in going.values()]
    if wake is not None:
        ends.append(max(run.began for run, _ in going.values()) + wake)
    left = min(ends) - time.monotonic()
    if any(run.ended for run, _ in going.values()):
        left = 0.0
    ready = select.select(list(watched), [], [], max(0.0, min(left, 0.005) if polled else left))
    for fd in ready[0]:
        run, report = watched[fd]
        if report:
            _drain(run)
        else:
            run.ended = True


def _drain(run: _Run) -> None:
    assert run.report is not None
    chunk = os.read(run.report, 1 << 20)
    run.data += chunk
    if not chunk:
        os.close(run.report)
        run.report = None


def _finish(config: Config, run: _Run) -> dict[str, object]:
    """The run's result, once it ended or its time is up; nothing of it is left running."""
    duration = time.monotonic() - run.began
    rc = status(run.pids[0])
    sweep(config, run.uids, run.pids)
    if not config["ns"]:
        import shutil

        for path in run.dirs:
            shutil.rmtree(path, ignore_errors=True)
    report = None
    if run.report is not None:  # the judge ended or ran out of time: read what it wrote
        with contextlib.suppress(OSError):
            os.set_blocking(run.report, False)
            while run.report is not None:
                _drain(run)
        if run.report is not None:
            os.close(run.report)
        run.report = None
    if "judge" in config and run.data:
        report = _merged(run.data)
    cap = config["limits"]["max_output"]
    (stdout, cut_out), (stderr, cut_err) = captured(run.out, cap), captured(run.err, cap)
    return result(config, rc, (stdout, stderr), timed_out=not run.ended and report is None,
                  truncated=cut_out or cut_err, duration=duration, report=report)  # fmt: skip


def result(
    config: Config, rc: int | None, output: tuple[str, str], *, timed_out: bool,
    truncated: bool, duration: float, report: dict[str, Any] | None,
) -> dict[str, object]:  # fmt: skip
    """One run's result line, as the parent reads it (`parent._from_line`)."""
    line: dict[str, object] = {"rc": rc, "out": output[0], "err": output[1],
                               "timed_out": timed_out, "truncated": truncated,
                               "duration": duration}  # fmt: skip
    if "judge" in config:
        line["report"] = report
    return line


def _merged(data: bytes | bytearray) -> dict[str, Any] | None:
    """The judge's report: the union of its complete parts (a line cut short by a kill is
    not one), None when there is none."""
    report: dict[str, Any] = {}
    for line in data.split(b"\n"):
        with contextlib.suppress(ValueError):
            part = json.loads(line)
            if type(part) is dict:
                report.update(part)
    return report or None


def captured(fd: int, cap: int) -> tuple[str, bool]:
    """At most `cap` bytes of a captured stream (a memfd), and whether there was more."""
    data = os.pread(fd, cap + 1, 0)
    os.close(fd)
    return data[:cap].decode("utf-8", "replace"), len(data) > cap


def sweep(config: Config, uids: list[int | None], pids: list[int]) -> None:
    """Kill what a run left behind (all of the namespace or cell it ran in, or its uids and
    groups) and reap it.

    In namespaces its SysV IPC objects and temp files go too; without them only what the
    run's process groups (or, as root, its uids) still hold can be reached.
    """
    from vaultttc.sandbox import view

    if config["ns"]:
        with contextlib.suppress(OSError):
            os.kill(-1, signal.SIGKILL)
    for pid in pids:
        with contextlib.suppress(OSError):
            os.killpg(pid, signal.SIGKILL)
    for uid in uids if not config["ns"] else ():
        if uid is not None:
            pids.append(fork(functools.partial(_kill_uid, uid)))
    for pid in pids:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)
    if config["ns"]:  # one run at a time here: every orphan is our child; reap them all
        with contextlib.suppress(ChildProcessError):
            while os.waitpid(-1, 0)[0]:
                pass
        view.sweep_ipc()
        view.wipe("/tmp", "/dev/shm")


def _kill_uid(uid: int) -> None:
    os.setuid(uid)
    os.kill(-1, signal.SIGKILL)
