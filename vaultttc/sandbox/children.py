"""Inside the jail: what a run's two processes do once forked, the candidate and its judge.

Loaded by `jail.py` by path (stdlib only). `candidate` runs the source as `__main__` in the
candidate's process and then, for a judged run, serves the judge over the link; `judge` runs
the judge's job (`judge.py`) against it and writes the report, part by part, on a pipe only
it holds. Each first keeps only the descriptors it is given (`keep_fds`) and locks itself
down (`view.restrict`).

Must not: import anything but the stdlib and its stdlib-only siblings, or decide policy.
"""

from __future__ import annotations

import builtins
import json
import os
import socket
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from vaultttc.sandbox.shapes import Config

__all__ = ["candidate", "judge", "keep_fds"]


def keep_fds(*fds: int) -> None:
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

    keep_fds(os.open(os.devnull, os.O_RDONLY), *fds)
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


def judge(config: Config, data: Any, *, uid: int | None, cwd: str, link: int, report: int) -> None:
    """In the judge's child: run the job (with this run's `data`) against the candidate,
    writing each part of the report as a JSON line as soon as it is known."""
    from vaultttc.sandbox import judge, view

    null = os.open(os.devnull, os.O_RDWR)
    keep_fds(null, null, null, link, report)
    os.chdir(cwd)
    view.restrict(uid, config["limits"], nproc=1)
    view.nondumpable()
    with open(4, "wb", closefd=False) as out:
        for part in judge.judge(config["judge"], socket.socket(fileno=3), data=data):
            out.write(json.dumps(part).encode() + b"\n")
            out.flush()
