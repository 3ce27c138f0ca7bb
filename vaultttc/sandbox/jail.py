"""The jail: the program every sandboxed run starts from (the parent side is `sandbox.parent`).

Started as `python -I -S jail.py CONFIG_JSON` in a session of its own. With namespaces
(`ns` "user" as an ordinary user, "root" as root) it first enters new user (when not root),
mount, PID, network, IPC and UTS namespaces and a filesystem view of its own (`view.py`),
and stays that namespace's pid 1: when it ends, everything a run started ends with it.
Under bubblewrap (`ns` "bwrap") bwrap has made the same namespaces and view around it. In
`exec` mode it hands the working tree to the run's uid, locks itself down and execs the
caller's argv. In `batch` mode it reads a JSON list of Python sources on stdin and runs each
in a forked child (own process group, uid when root, temp directory, the source `exec`-ed as
`__main__`), writing one JSON result per line. With a `judge` job, each source gets a second
child beside it: the judge (`judge.py`), which runs the tests against the candidate over a
socket and writes its report on a pipe only it holds. After each source the jail kills what
it left (every process, SysV IPC object and temp file). `probe` mode only checks that all of
this works here.

Must not: import anything but the stdlib and its stdlib-only siblings (loaded by path; keep
imports few and cheap: start-up is paid once per batch and per `run_child`), import the rest
of vaultttc, or decide policy: limits, uids, env and mounts come from the config.
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
import tempfile
import time
import traceback

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: importing typing would slow every jail's start-up
    from collections.abc import Callable
    from typing import Any, Literal, NoReturn, NotRequired, TypedDict

    from vaultttc.sandbox.judge import Job

    class Limits(TypedDict):
        timeout_s: float
        memory_mb: int  # address space of each process
        max_output: int
        fsize: int
        nproc: int  # processes and threads of one run's tree
        tmp_mb: int  # size of the private /tmp and of /dev/shm, each

    class Config(TypedDict):
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


__all__ = ["main"]

_HERE = os.path.dirname(os.path.abspath(__file__))


def main(argv: list[str]) -> None:
    """Run the config in `argv[1]`: a batch of sources on stdin, one command, or a probe."""
    config: Config = json.loads(argv[1])
    if "cgroup" in config:
        with open(os.path.join(config["cgroup"], "cgroup.procs"), "w") as procs:
            procs.write("0")
    _load("values", "wire", "judge", "view")
    from vaultttc.sandbox import view

    if config["ns"] in ("user", "root"):  # under bubblewrap, bwrap has done all this
        view.enter(user=config["ns"] == "user")
        writable = [config["cwd"]] if config["mode"] == "exec" else []
        size = config["limits"]["tmp_mb"]
        view.build(config["keep"], writable, tmp_mb=size, shm_mb=size)
        view.limit_ipc(shm_mb=size)
    view.nondumpable()
    {"batch": batch, "exec": execute, "probe": probe}[config["mode"]](config)


def _load(*names: str) -> None:
    """Load stdlib-only siblings by path under their own names, so their imports work.

    The jail runs with `-I -S`: vaultttc is not importable, so the packages are stand-ins.
    """
    import importlib.util
    import types

    for package in ("vaultttc", "vaultttc.sandbox"):
        if package not in sys.modules:
            sys.modules[package] = types.ModuleType(package)
            sys.modules[package].__path__ = []
    for name in names:
        full = "vaultttc.sandbox." + name
        if full in sys.modules:
            continue
        spec = importlib.util.spec_from_file_location(full, os.path.join(_HERE, name + ".py"))
        assert spec is not None and spec.loader is not None
        module = sys.modules[full] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        setattr(sys.modules["vaultttc.sandbox"], name, module)


def _drop(uid: int | None, config: Config, *, nproc: int) -> None:
    from vaultttc.sandbox import view

    view.restrict(uid, config["limits"], nproc=nproc)


def sweep(config: Config, uids: list[int | None], pids: list[int]) -> None:
    """Kill what a run left behind (all of the namespace, or its uids and groups) and reap it.

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
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, 0 if config["ns"] else os.WNOHANG)[0]:
            pass  # in namespaces every orphan is this process's child: reap them all
    if config["ns"]:
        view.sweep_ipc()
        view.wipe("/tmp", "/dev/shm")


def _kill_uid(uid: int) -> None:
    os.setuid(uid)
    os.kill(-1, signal.SIGKILL)


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
    _keep_fds(os.open(os.devnull, os.O_RDONLY), *fds)
    os.chdir(cwd)
    _drop(uid, config, nproc=config["limits"]["nproc"])
    os.environ.clear()
    os.environ.update(config["env"], HOME=cwd, TMPDIR=cwd)
    sys.argv = ["<candidate>"]
    namespace = {"__name__": "__main__", "__builtins__": builtins}
    exec(compile(source, "<candidate>", "exec"), namespace)
    if "judge" in config:
        from vaultttc.sandbox import judge

        alarm = config["judge"]["budget"] if config["judge"]["mode"] == "probe" else None
        judge.serve(namespace, socket.socket(fileno=3), alarm=alarm)


def judge_child(config: Config, *, uid: int | None, cwd: str, link: int, report: int) -> None:
    """In the judge's child: run the job's tests against the candidate, write the report."""
    from vaultttc.sandbox import judge, view

    null = os.open(os.devnull, os.O_RDWR)
    _keep_fds(null, null, null, link, report)
    os.chdir(cwd)
    _drop(uid, config, nproc=1)
    view.nondumpable()
    outcome = judge.judge(config["judge"], socket.socket(fileno=3))
    os.write(4, json.dumps(outcome).encode())


def _workdir(base: str, name: str, uid: int | None) -> str:
    path = os.path.join(base, name)
    os.mkdir(path, 0o700)
    if uid is not None:
        os.chown(path, uid, uid)
    return path


def wait(pid: int, timeout: float) -> bool:
    """True when `pid` exits within `timeout` seconds (it is not reaped here)."""
    try:
        fd = os.pidfd_open(pid)
    except OSError:  # before Linux 5.3
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not os.waitid(
            os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT
        ):
            time.sleep(0.002)
        return time.monotonic() < deadline
    try:
        return bool(select.select([fd], [], [], max(0.0, timeout))[0])
    finally:
        os.close(fd)


def status(pid: int) -> int | None:
    """The exit code of a child that has ended (None when it still runs or is gone)."""
    with contextlib.suppress(ChildProcessError):
        done, code = os.waitpid(pid, os.WNOHANG)
        return os.waitstatus_to_exitcode(code) if done else None
    return None


def captured(fd: int, cap: int) -> tuple[str, bool]:
    """At most `cap` bytes of a captured stream (a memfd), and whether there was more."""
    data = os.pread(fd, cap + 1, 0)
    os.close(fd)
    return data[:cap].decode("utf-8", "replace"), len(data) > cap


def read_report(fd: int, deadline: float) -> Any:
    """The judge's report from its pipe, or None when it did not finish by `deadline`."""
    data = bytearray()
    while (left := deadline - time.monotonic()) > 0 and select.select([fd], [], [], left)[0]:
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            break
        data += chunk
    else:
        os.close(fd)
        return None
    os.close(fd)
    with contextlib.suppress(ValueError):
        return json.loads(data)
    return None


def run_one(config: Config, index: int, source: str, *, base: str) -> dict[str, object]:
    """Run one source (and its judge, when the config has one); its result as JSON data."""
    block = config["uid"]
    uids: list[int | None] = [None, None]
    if block is not None:
        uids = [block + 2 * index, block + 2 * index + 1]
    dirs = [_workdir(base, f"{kind}{index}", uid) for kind, uid in zip("ct", uids, strict=True)]
    out, err = os.memfd_create("stdout"), os.memfd_create("stderr")
    began = time.monotonic()
    deadline = began + config["limits"]["timeout_s"]
    if "judge" in config:
        pids, report = _judged(
            config, source, uids=uids, dirs=dirs, fds=(out, err), deadline=deadline
        )
        done = report is not None or time.monotonic() < deadline  # a killed judge: no timeout
    else:
        pids = [fork(lambda: candidate(config, source, uid=uids[0], cwd=dirs[0], fds=(out, err)))]
        done = wait(pids[0], deadline - time.monotonic())
    rc = status(pids[-1])
    duration = time.monotonic() - began
    sweep(config, uids, pids)
    if not config["ns"]:
        import shutil

        for path in dirs:
            shutil.rmtree(path, ignore_errors=True)
    cap = config["limits"]["max_output"]
    (stdout, cut_out), (stderr, cut_err) = captured(out, cap), captured(err, cap)
    result: dict[str, object] = {"rc": rc, "out": stdout, "err": stderr, "timed_out": not done,
              "truncated": cut_out or cut_err, "duration": duration}  # fmt: skip
    if "judge" in config:
        result["report"] = report
    return result


def _judged(
    config: Config, source: str, *, uids: list[int | None], dirs: list[str],
    fds: tuple[int, int], deadline: float,
) -> tuple[list[int], Any]:  # fmt: skip
    """Start the judge, then the candidate beside it; (their pids, the judge's report)."""
    ours, theirs = socket.socketpair()
    readable, writable = os.pipe()
    judge = fork(lambda: judge_child(config, uid=uids[1], cwd=dirs[1], link=theirs.fileno(),
                                     report=writable))  # fmt: skip
    theirs.close()
    os.close(writable)  # before the candidate forks: it must never hold the report's pipe
    pid = fork(lambda: candidate(config, source, uid=uids[0], cwd=dirs[0],
                                 fds=(*fds, ours.fileno())))  # fmt: skip
    ours.close()
    return [judge, pid], read_report(readable, deadline)


def batch(config: Config) -> None:
    """Run every source read from stdin, printing one JSON result line each, in order."""
    sources = json.loads(sys.stdin.read())
    base = "/tmp" if config["ns"] else tempfile.mkdtemp(prefix="vaultttc-")
    if not config["ns"]:
        os.chmod(base, 0o711)
    try:
        for i, source in enumerate(sources):
            print(json.dumps(run_one(config, i, source, base=base)), flush=True)
    finally:
        if not config["ns"]:
            import shutil

            shutil.rmtree(base, ignore_errors=True)


def execute(config: Config) -> NoReturn:
    """Hand `cwd` to the run's uid, lock down, then exec the argv (exit 127 when that fails)."""
    cwd, argv, uid = config["cwd"], config["argv"], config["uid"]
    if uid is not None:
        for root, dirs, files in os.walk(cwd):
            for name in [root] + [os.path.join(root, n) for n in dirs + files]:
                os.lchown(name, uid, uid)
    os.chdir(cwd)
    _drop(uid, config, nproc=config["limits"]["nproc"])
    env = dict(config["env"], HOME=cwd, TMPDIR=cwd)
    try:
        os.execvpe(argv[0], argv, env)
    except OSError as e:
        print(f"cannot run {argv[0]}: {e}", file=sys.stderr)
        os._exit(127)


def probe(config: Config) -> None:
    """Check that a locked-down child can run here: print "ok" when it could."""
    pid = fork(lambda: _drop(config["uid"], config, nproc=1))
    ok = wait(pid, 10.0) and status(pid) == 0
    print("ok" if ok else "the locked-down child failed", flush=True)


if __name__ == "__main__":
    main(sys.argv)
