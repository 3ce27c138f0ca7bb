"""What isolation this machine gives untrusted code (probed once), and the unsandboxed gate.

`isolation()` starts the real jail in `probe` mode once per process: as root with new
namespaces and a uid of its own per run, else as an ordinary user with an unprivileged user
namespace; it also looks for a cgroup v2 that can bound a run's memory as a whole. When no
namespaces can be made, code runs only under `unsandboxed()` — the CLI enters it for
`--allow-exec=unsandboxed`, never by default — and `refusal()` says why not otherwise.
`describe()` is what `vaultttc doctor` prints.

Must not: decide whether running is allowed at all (consent is the verifiers' and the living
runner's), or read anything of the caller's environment but what the probe needs.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

from vaultttc.errors import VaultTTCError
from vaultttc.sandbox import cgroup

__all__ = [
    "Isolation",
    "NoIsolation",
    "describe",
    "interpreter_paths",
    "isolation",
    "refusal",
    "unsandboxed",
]

JAIL = str(Path(__file__).with_name("jail.py"))
Mode = Literal["root-namespaces", "user-namespaces", "none"]
_ACKNOWLEDGED: ContextVar[bool] = ContextVar("vaultttc_unsandboxed", default=False)
_PROBE_UID = 99_999


class NoIsolation(VaultTTCError):
    """Code was to run where the OS gives no isolation, without `--allow-exec=unsandboxed`."""


@dataclass(frozen=True, slots=True)
class Isolation:
    """`mode`: how runs are isolated; `separate_uid`: each run gets a uid of its own (root);
    `cgroup`: where a run's whole tree gets a memory limit (None: per-process limits);
    `reason`: why namespaces are not available ("" when they are)."""

    mode: Mode
    separate_uid: bool
    cgroup: Path | None = None
    reason: str = ""

    @property
    def namespaces(self) -> bool:
        return self.mode != "none"

    @property
    def ns(self) -> Literal["user", "root"] | None:
        return {"root-namespaces": "root", "user-namespaces": "user"}.get(self.mode)  # type: ignore[return-value]


def interpreter_paths(extra: Sequence[str] = ()) -> list[str]:
    """What a sandboxed Python needs to see: its prefixes, its binary's directory, `extra`'s."""
    paths = {sys.base_prefix, sys.prefix, os.path.dirname(os.path.realpath(sys.executable))}
    paths |= {os.path.dirname(os.path.realpath(a)) for a in extra if _is_file(a)}
    return sorted({os.path.realpath(p) for p in paths})


def _is_file(arg: str) -> bool:
    return len(arg) < 4096 and "\n" not in arg and os.path.isfile(arg)


def probe(ns: Literal["user", "root"] | None, group: Path | None = None) -> str | None:
    """Run the jail's probe; None when it worked, else the reason it did not."""
    config = {
        "mode": "probe", "ns": ns, "uid": _PROBE_UID if ns == "root" else None, "env": {},
        "keep": interpreter_paths(),
        "limits": {"timeout_s": 10.0, "memory_mb": 1024, "max_output": 4096,
                   "fsize": 1 << 20, "nproc": 4, "tmp_mb": 4},
    }  # fmt: skip
    if group is not None:
        config["cgroup"] = str(group)
    try:
        done = subprocess.run(
            [sys.executable, "-I", "-S", JAIL, json.dumps(config)],
            capture_output=True, timeout=30, check=False, env={"PATH": os.defpath},
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as exc:
        return str(exc)
    if done.stdout.decode(errors="replace").strip() == "ok":
        return None
    lines = done.stderr.decode(errors="replace").strip().splitlines()
    return lines[-1] if lines else f"the probe exited with status {done.returncode}"


@cache
def isolation() -> Isolation:
    """Probe once: namespaces (root: with a uid per run), and a cgroup for the memory tree."""
    root = os.geteuid() == 0
    reasons = []
    for ns in ("root", "user") if root else ("user",):
        why = probe(ns)
        if why is None:
            mode: Mode = "root-namespaces" if ns == "root" else "user-namespaces"
            return Isolation(mode, separate_uid=ns == "root", cgroup=_cgroup(ns))
        reasons.append(f"{ns} namespaces: {why}")
    separate = root and _others_can_run_python()
    return Isolation("none", separate_uid=separate, cgroup=_cgroup(None), reason="; ".join(reasons))


def _cgroup(ns: Literal["user", "root"] | None) -> Path | None:
    """A cgroup v2 parent where the jail could join a group of its own (checked by a probe)."""
    parent = cgroup.usable_parent()
    if parent is None:
        return None
    with cgroup.run_group(parent, memory_mb=256, pids=16) as group:
        return parent if probe(ns, group) is None else None


def _others_can_run_python() -> bool:
    """Without a mount namespace a dropped uid needs every directory up to the stdlib open."""
    for start in (os.path.realpath(sys.executable), os.path.realpath(sys.base_prefix)):
        path = Path(start)
        for directory in [path, *path.parents]:
            if not directory.stat().st_mode & stat.S_IXOTH:
                return False
    return True


@contextlib.contextmanager
def unsandboxed(allowed: bool = True) -> Iterator[None]:
    """Within this block, code may run even where no isolation is available."""
    token = _ACKNOWLEDGED.set(allowed)
    try:
        yield
    finally:
        _ACKNOWLEDGED.reset(token)


def acknowledged() -> bool:
    return _ACKNOWLEDGED.get()


def refusal() -> str | None:
    """Why code may not run here now (no isolation, not acknowledged), or None."""
    found = isolation()
    if found.namespaces or acknowledged():
        return None
    return (
        "this machine gives untrusted code no isolation (" + (found.reason or "no namespaces")
        + "); run with --allow-exec=unsandboxed to run it anyway, with your files and keys"
        " in its reach"
    )  # fmt: skip


def describe(found: Isolation | None = None) -> list[str]:
    """What `vaultttc doctor` says about running code here, one fact per line."""
    found = found or isolation()
    if found.namespaces:
        who = (
            "as root: a fresh uid per run" if found.separate_uid else "as you, in a user namespace"
        )
        lines = [
            f"isolation: {found.mode} ({who})",
            "  namespaces: mount, PID, network, IPC, UTS: no network, no other process in sight",
            "  files: the interpreter, its stdlib and site-packages, /usr and the loader's files"
            " in /etc, read-only; a private /tmp and /dev/shm; nothing else of the host",
            "  privileges: none (no capabilities, no new privileges); whatever a run starts or"
            " leaves behind ends with it",
        ]  # fmt: skip
    else:
        uid = ", as a fresh uid" if found.separate_uid else ", as you"
        lines = [
            f"isolation: none ({found.reason})",
            "  code runs only with --allow-exec=unsandboxed: time, memory and process limits"
            f" and a process group{uid}; it can read your files and reach the network",
        ]  # fmt: skip
    if found.cgroup is not None:
        lines.append(f"memory: the whole run's tree, by a cgroup v2 under {found.cgroup}")
    else:
        lines.append(
            "memory: no usable cgroup v2; a run's processes and threads are capped so that"
            " their number times the per-process limit stays within its budget"
        )
    return lines
