"""The jail's config and limits: what the parent writes (`parent.py`) and the jail reads.

Types only, for the annotations of both sides (nothing here exists at run time: importing
typing would slow every jail's start-up).
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Literal, NotRequired, TypedDict

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
        preload: NotRequired[list[str]]  # batch mode: stdlib modules to import before any run
