"""Inside the jail: the runs of a batch, several at once, each in a cell of its own.

Loaded by `jail.py` by path (stdlib only). A run is one source, `exec`ed as `__main__` in a
forked child, and with a judge job the judge (`judge.py`) beside it, which runs the job over a
socket and writes its report on a pipe only it holds. `schedule` keeps up to `parallel` runs
going, results in input order: looping candidates cost one timeout, not one each.

With namespaces ("user", "root") every run is a cell: a supervisor unshares new mount, PID and
IPC namespaces inside the jail's and becomes their pid 1, with a fresh /proc, /tmp and
/dev/shm; the run's processes, SysV IPC objects and temp files die with its cell, and runs
going at once cannot see, signal or leave anything for one another. Under bubblewrap (no
capability to unshare) runs go one at a time and the jail sweeps the whole namespace after
each; without namespaces, the run's process groups (and uids, as root) are killed after it.

Must not: import anything but the stdlib and its stdlib-only siblings, or decide policy.
"""

from __future__ import annotations

import builtins
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

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: importing typing would slow every jail's start-up
    from collections.abc import Callable
    from typing import Any, Literal, NotRequired, TypedDict

    from vaultttc.sandbox.judge import Job

    class Limits(TypedDict):
        timeout_s: float
        memory_mb: int  # address space of each process
        max_output: int
        fsize: int
        nproc: int  # processes and threads of one run's tree
        tmp_mb: int  # size of the private /tmp and of /dev/shm, each

    class Config(TypedDict):  # the jail's config (`jail.py`)
        mode: Literal["exec", "batch", "probe"]
        ns: Literal["user", "root", "bwrap"] | None
        uid: int | None
        env: dict[str, str]
        limits: Limits
        keep: list[str]
        cgroup: NotRequired[str]
        cwd: NotRequired[str]
        argv: NotRequired[list[str]]
        judge: NotRequired[Job]
        parallel: NotRequired[int]  # batch mode: runs at once (with cells, or without ns)


__all__ = ["cells", "fork", "schedule", "status", "sweep"]


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


def _keep_fds(*fds: int) -> None:
    """Make `fds` this process's 0, 1, 2, 3… and close every other descriptor."""
    import fcntl

    moved = [fcntl.fcntl(fd, fcntl.F_DUPFD, 1024) for fd in fds]
    for target, fd in enumerate(moved):
        os.dup2(fd, target)
    os.closerange(len(fds), 65536)


def candidate(
    config: Config, source: str, *, uid: int | None, cwd: str, fds: tuple[int, ...]
) -> None:
    """In the candidate's child: run `source` as `__main__`, then serve the judge if any."""
    from vaultttc.sandbox import view

    _keep_fds(os.open(os.devnull, os.O_RDONLY), *fds)
    os.chdir(cwd)
    view.restrict(uid, config["limits"], nproc=config["limits"]["nproc"])
    os.environ.clear()
    os.environ.update(config["env"], HOME=cwd, TMPDIR=cwd)
    sys.argv = ["<candidate>"]
    namespace = {"__name__": "__main__", "__builtins__": builtins}
    exec(compile(source, "<candidate>", "exec"), namespace)
    if "judge" in config:
        from vaultttc.sandbox import judge

        alarm = config["judge"]["budget"] if config["judge"]["mode"] == "probe" else None
        judge.serve(namespace, socket.socket(fileno=3), alarm=alarm)


def judge_child(
    config: Config, data: Any, *, uid: int | None, cwd: str, link: int, report: int
) -> None:
    """In the judge's child: run the job (with this run's `data`) against the candidate,
    then write the report."""
    from vaultttc.sandbox import judge, view

    null = os.open(os.devnull, os.O_RDWR)
    _keep_fds(null, null, null, link, report)
    os.chdir(cwd)
    view.restrict(uid, config["limits"], nproc=1)
    view.nondumpable()
    outcome = judge.judge(config["judge"], socket.socket(fileno=3), data=data)
    os.write(4, json.dumps(outcome).encode())


def _workdir(base: str, name: str, uid: int | None) -> str:
    path = os.path.join(base, name)
    os.mkdir(path, 0o700)
    if uid is not None:
        os.chown(path, uid, uid)
    return path


class _Run:
    """One run going: what the jail watches, and what it reads back when it ends."""

    def __init__(self, index: int, uids: list[int | None], *, deadline: float) -> None:
        self.index, self.uids, self.deadline = index, uids, deadline
        self.began = time.monotonic()
        self.out, self.err, self.rc = (os.memfd_create(n) for n in ("out", "err", "rc"))
        self.pids: list[int] = []  # the processes to sweep; the last one is watched
        self.dirs: list[str] = []
        self.report: int | None = None  # the judge's pipe, while open
        self.data = bytearray()
        self.ended = False


def _start(config: Config, run: _Run, given: tuple[str, Any], *, base: str) -> None:
    """Fork the run: in a cell, its supervisor; else the judge and the candidate themselves."""
    judged = "judge" in config
    readable, writable = os.pipe() if judged else (-1, -1)
    parts = (*given, writable)
    if cells(config):
        run.pids = [fork(functools.partial(_cell, config, run, parts))]
        if judged:
            os.close(writable)  # before anything else forks: only the judge may hold it
    else:  # `_forked` closes it once the judge holds it
        names = (f"c{run.index}", f"t{run.index}")
        run.dirs = [_workdir(base, n, u) for n, u in zip(names, run.uids, strict=True)]
        run.pids = _forked(config, run, parts)
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
        pids.append(fork(lambda: judge_child(config, data, uid=run.uids[1], cwd=run.dirs[1],
                                             link=theirs.fileno(), report=report)))  # fmt: skip
        theirs.close()
        os.close(report)
        fds = (*fds, ours.fileno())
    pids.append(fork(lambda: candidate(config, source, uid=run.uids[0], cwd=run.dirs[0], fds=fds)))
    if report >= 0:
        ours.close()
        pids.reverse()  # the judge is watched: its report is the run's outcome
    return pids


def _cell(config: Config, run: _Run, parts: tuple[str, Any, int]) -> None:
    """The supervisor: pid 1 of the run's own namespaces until its watched child ends; then the
    candidate's exit status goes to the `rc` memfd and the cell ends, with all that is in it."""
    from vaultttc.sandbox import view

    size = config["limits"]["tmp_mb"]
    view.cell(tmp_mb=size, shm_mb=size)
    run.dirs = [_workdir("/tmp", k, u) for k, u in zip("ct", run.uids, strict=True)]
    pids = _forked(config, run, parts)
    code: int | None = os.waitstatus_to_exitcode(os.waitpid(pids[-1], 0)[1])
    if len(pids) == 2:  # the judge ended: the candidate may still be serving it
        code = status(pids[0])
    os.pwrite(run.rc, json.dumps(code).encode(), 0)


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


def schedule(
    config: Config, sources: list[str], data: list[Any], *, base: str,
    emit: Callable[[dict[str, object]], None],
) -> None:  # fmt: skip
    """Run every source, up to `config["parallel"]` at once, and `emit` each result in order.

    A run starts when none has started in the last `patience` seconds: quick runs go one after
    another (the jails already keep every core busy, and a wall-clock timeout should measure the
    code, not its neighbours), slow or looping ones do not hold up the rest."""
    parallel = max(1, int(config.get("parallel", 1))) if cells(config) or not config["ns"] else 1
    block, limit = config["uid"], config["limits"]["timeout_s"]
    patience = min(0.25, limit / 8)
    waiting, shown = list(range(len(sources))), 0
    going: dict[int, tuple[_Run, int | None]] = {}
    done: dict[int, dict[str, object]] = {}
    while waiting or going:
        while waiting and len(going) < parallel and _quiet(going, patience):
            i = waiting.pop(0)
            uids: list[int | None] = (
                [None, None] if block is None else [block + 2 * i, block + 2 * i + 1]
            )
            run = _Run(i, uids, deadline=time.monotonic() + limit)
            _start(config, run, (sources[i], data[i]), base=base)
            going[i] = (run, _pidfd(run.pids[-1]))
        _wait(going, wake=patience if waiting and len(going) < parallel else None)
        for i, (run, pidfd) in list(going.items()):
            if run.ended or time.monotonic() >= run.deadline:
                del going[i]
                if pidfd is not None:
                    os.close(pidfd)
                done[i] = _finish(config, run)
        while shown in done:
            emit(done.pop(shown))
            shown += 1


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
    if cells(config):
        with contextlib.suppress(OSError):
            os.kill(run.pids[0], signal.SIGKILL)  # its cell, and all in it, ends with it
        os.waitpid(run.pids[0], 0)
        rc = json.loads(os.pread(run.rc, 64, 0) or b"null")
    else:
        rc = status(run.pids[0])
        sweep(config, run.uids, run.pids)
        if not config["ns"]:
            import shutil

            for path in run.dirs:
                shutil.rmtree(path, ignore_errors=True)
    os.close(run.rc)
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
        with contextlib.suppress(ValueError):
            report = json.loads(run.data)
    cap = config["limits"]["max_output"]
    (stdout, cut_out), (stderr, cut_err) = captured(run.out, cap), captured(run.err, cap)
    result: dict[str, object] = {"rc": rc, "out": stdout, "err": stderr,
              "timed_out": not run.ended and report is None, "truncated": cut_out or cut_err,
              "duration": duration}  # fmt: skip
    if "judge" in config:
        result["report"] = report
    return result


def captured(fd: int, cap: int) -> tuple[str, bool]:
    """At most `cap` bytes of a captured stream (a memfd), and whether there was more."""
    data = os.pread(fd, cap + 1, 0)
    os.close(fd)
    return data[:cap].decode("utf-8", "replace"), len(data) > cap


def sweep(config: Config, uids: list[int | None], pids: list[int]) -> None:
    """Without cells: kill what a run left behind (all of the namespace, or its uids and
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
    if config["ns"]:  # one run at a time: every orphan is the jail's child; reap them all
        with contextlib.suppress(ChildProcessError):
            while os.waitpid(-1, 0)[0]:
                pass
        view.sweep_ipc()
        view.wipe("/tmp", "/dev/shm")


def _kill_uid(uid: int) -> None:
    os.setuid(uid)
    os.kill(-1, signal.SIGKILL)
