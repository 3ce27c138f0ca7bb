"""The jail: the program every sandboxed run starts from (the parent side is `sandbox.parent`).

Started as `python -I -S jail.py CONFIG_JSON` in a session of its own. With namespaces
(`ns` "user" as an ordinary user, "root" as root) it first enters new user (when not root),
mount, PID, network, IPC and UTS namespaces and a filesystem view of its own (`view.py`),
and stays that namespace's pid 1: when it ends, everything a run started ends with it.
Under bubblewrap (`ns` "bwrap") bwrap has made the same namespaces and view around it. In
`exec` mode it hands the working tree to the run's uid, locks itself down and execs the
caller's argv. In `batch` mode it reads a JSON list of Python sources (and, for a judge job,
each one's data for the judge) on stdin and hands them to `runs.py`, which runs each in forked
children (own process group, uid when root, temp directory, the source `exec`-ed as
`__main__`; a judge beside it when the config has a job), several at once, each in namespaces
of its own where the jail can make them, and leaves nothing of a run behind when it ends
(processes, SysV IPC objects, temp files); the jail writes one JSON result per line, in
order. `probe` mode only checks that all of this works here.

Must not: import anything but the stdlib and its stdlib-only siblings (loaded by path; keep
imports few and cheap: start-up is paid once per batch and per `run_child`), import the rest
of vaultttc, or decide policy: limits, uids, env and mounts come from the config.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: importing typing would slow every jail's start-up
    from typing import NoReturn

    from vaultttc.sandbox.shapes import Config


__all__ = ["main"]

_HERE = os.path.dirname(os.path.abspath(__file__))


def main(argv: list[str]) -> None:
    """Run the config in `argv[1]`: a batch of sources on stdin, one command, or a probe."""
    config: Config = json.loads(argv[1])
    if "cgroup" in config:
        with open(os.path.join(config["cgroup"], "cgroup.procs"), "w") as procs:
            procs.write("0")
    _load("values", "proxy", "wire", "judge", "view", "children", "runs", "slots")
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


def batch(config: Config) -> None:
    """Run every source read from stdin (with its judge's data, when given), printing one JSON
    result line each, in order."""
    from vaultttc.sandbox import runs, slots

    for name in config.get("preload", []):  # stdlib modules every run would import itself
        __import__(name)
    given = json.loads(sys.stdin.read())
    sources, data = given["sources"], given.get("data") or [None] * len(given["sources"])
    base = "/tmp" if config["ns"] else tempfile.mkdtemp(prefix="vaultttc-")
    if not config["ns"]:
        os.chmod(base, 0o711)

    def emit(result: dict[str, object]) -> None:
        print(json.dumps(result), flush=True)

    try:
        if runs.cells(config):
            slots.schedule(config, sources, data, emit=emit)
        else:
            runs.schedule(config, sources, data, base=base, emit=emit)
    finally:
        if not config["ns"]:
            import shutil

            shutil.rmtree(base, ignore_errors=True)


def execute(config: Config) -> NoReturn:
    """Hand `cwd` to the run's uid, lock down, then exec the argv (exit 127 when that fails)."""
    from vaultttc.sandbox import view

    cwd, argv, uid = config["cwd"], config["argv"], config["uid"]
    if uid is not None:
        for root, dirs, files in os.walk(cwd):
            for name in [root] + [os.path.join(root, n) for n in dirs + files]:
                os.lchown(name, uid, uid)
    os.chdir(cwd)
    view.restrict(uid, config["limits"], nproc=config["limits"]["nproc"])
    env = dict(config["env"], HOME=cwd, TMPDIR=cwd)
    try:
        os.execvpe(argv[0], argv, env)
    except OSError as e:
        print(f"cannot run {argv[0]}: {e}", file=sys.stderr)
        os._exit(127)


def probe(config: Config) -> None:
    """Check that a locked-down child, and a run's cell where runs get one, can be made here:
    print "ok" when they could."""
    from vaultttc.sandbox import runs, view

    size = config["limits"]["tmp_mb"]
    checks = {"the locked-down child": lambda: view.restrict(config["uid"], config["limits"],
                                                             nproc=1)}  # fmt: skip
    if runs.cells(config):
        checks["a run's own namespaces"] = lambda: view.cell(tmp_mb=size, shm_mb=size)
    for what, body in checks.items():  # (detect's own timeout covers a child that hangs)
        pid = runs.fork(body)
        if os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) != 0:
            print(f"{what} failed", flush=True)
            return
    print("ok", flush=True)


if __name__ == "__main__":
    main(sys.argv)
