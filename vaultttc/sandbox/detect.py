"""What isolation this machine gives untrusted code (probed once), and the unsandboxed gate.

`isolation()` starts the real jail in `probe` mode once per process: as root with new
namespaces and a uid of its own per run, else as an ordinary user with an unprivileged user
namespace, else under bubblewrap where it is installed (it may be allowed namespaces that
other programs are not); it also looks for a cgroup v2 that can bound a run's memory as a
whole. `command` is how the jail is started in the mode found. When no
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
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal

from vaultttc.errors import VaultTTCError
from vaultttc.sandbox import cgroup
from vaultttc.sandbox.view import ETC, SYSTEM, visible

__all__ = [
    "Isolation",
    "NoIsolation",
    "command",
    "describe",
    "interpreter_paths",
    "isolation",
    "refusal",
    "unsandboxed",
]

JAIL = str(Path(__file__).with_name("jail.py"))
Mode = Literal["root-namespaces", "user-namespaces", "bubblewrap", "none"]
Ns = Literal["user", "root", "bwrap"]
_MODES: dict[Ns, Mode] = {"root": "root-namespaces", "user": "user-namespaces",
                          "bwrap": "bubblewrap"}  # fmt: skip
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
    def ns(self) -> Ns | None:
        return next((ns for ns, mode in _MODES.items() if mode == self.mode), None)


def interpreter_paths(extra: Sequence[str] = ()) -> list[str]:
    """What a sandboxed Python needs to see: its prefixes, its binary's directory, `extra`'s."""
    paths = {sys.base_prefix, sys.prefix, os.path.dirname(os.path.realpath(sys.executable))}
    paths |= {os.path.dirname(os.path.realpath(a)) for a in extra if _is_file(a)}
    return sorted({os.path.realpath(p) for p in paths})


def _is_file(arg: str) -> bool:
    return len(arg) < 4096 and "\n" not in arg and os.path.isfile(arg)


def command(config: Mapping[str, Any]) -> list[str]:
    """The argv that starts the jail with `config` (inside bubblewrap in that mode)."""
    # -I's isolation but for -E: its environment is ours alone (`parent._communicate`), and it
    # must honour PYTHONHASHSEED, or a set's repr would differ from one jail to the next
    jail = [sys.executable, "-P", "-s", "-S", JAIL, json.dumps(config)]
    return [*_bwrap(config), "--", *jail] if config["ns"] == "bwrap" else jail


def _bwrap(config: Mapping[str, Any]) -> list[str]:
    """bubblewrap's half of the jail: the namespaces and the view `view.build` makes itself."""
    size = str(config["limits"]["tmp_mb"] * 1024 * 1024)
    args = [
        "bwrap", "--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent",
        "--as-pid-1", "--proc", "/proc", "--dev", "/dev", "--size", size, "--tmpfs", "/tmp",
        "--size", size, "--tmpfs", "/dev/shm", "--dir", "/var", "--symlink", "/tmp", "/var/tmp",
    ]  # fmt: skip
    for path in visible([*config["keep"], os.path.dirname(JAIL)]):
        linked = os.path.islink(path) and path in SYSTEM
        args += ["--symlink", os.readlink(path), path] if linked else ["--ro-bind", path, path]
    for name in ETC:
        args += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
    if "cwd" in config:
        args += ["--bind", config["cwd"], config["cwd"]]
    return [*args, "--remount-ro", "/"]


def probe(ns: Ns | None, group: Path | None = None) -> str | None:
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
            command(config),
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
    tries: list[Ns] = ["root", "user"] if root else ["user"]
    for ns in [*tries, "bwrap"]:
        why = probe(ns) if ns != "bwrap" or shutil.which("bwrap") else "not installed"
        if why is None:
            return Isolation(_MODES[ns], separate_uid=ns == "root", cgroup=_cgroup(ns))
        reasons.append(f"{'bubblewrap' if ns == 'bwrap' else ns + ' namespaces'}: {why}")
    separate = root and _others_can_run_python()
    return Isolation("none", separate_uid=separate, cgroup=_cgroup(None), reason="; ".join(reasons))


def _cgroup(ns: Ns | None) -> Path | None:
    """A cgroup v2 parent where the jail could join a group of its own (checked by a probe)."""
    parent = cgroup.usable_parent()
    if parent is None:
        return None
    try:
        with cgroup.run_group(parent, memory_mb=256, pids=16) as group:
            return parent if probe(ns, group) is None else None
    except OSError:
        return None


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
        who = {
            "root-namespaces": "as root: a fresh uid per run",
            "user-namespaces": "as you, in a user namespace",
            "bubblewrap": "as you, under bubblewrap",
        }[found.mode]
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
