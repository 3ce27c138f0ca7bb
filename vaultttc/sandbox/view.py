"""Inside the jail: enter new namespaces, build the child's filesystem view, drop privileges.

Loaded by `jail.py` by path (stdlib only, like the jail). `enter` unshares user (when not
root), mount, PID, network, IPC and UTS namespaces and forks the namespace's pid 1; the
process left outside only waits for it and passes on its exit status. `build` makes a tmpfs
the new root with only what Python needs (the interpreter, its stdlib and site-packages, /usr
and /etc's loader files, all read-only), a fresh /proc, a few /dev nodes, a private /tmp and
/dev/shm, and the paths the caller asked to be writable; then `pivot_root` so the host's
tree is gone. `restrict` sets a run's rlimits and `lock`s it: no capabilities (now or after
exec), no new privileges, and optionally a uid of its own.

Must not: decide limits, uids or paths (they come from the jail's config), or import vaultttc.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import resource
import signal

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from typing import Any

__all__ = [
    "ETC", "SYSTEM", "build", "cell", "enter", "limit_ipc", "lock", "nondumpable", "restrict",
    "sweep_ipc", "visible", "wipe",
]  # fmt: skip

_LIBC = ctypes.CDLL(None, use_errno=True)
_NEWNS, _NEWUTS, _NEWIPC = 0x00020000, 0x04000000, 0x08000000
_NEWUSER, _NEWPID, _NEWNET = 0x10000000, 0x20000000, 0x40000000
_RDONLY, _NOSUID, _NODEV, _NOEXEC, _REMOUNT = 1, 2, 4, 8, 32
_BIND, _REC, _PRIVATE = 4096, 16384, 1 << 18
_KEPT_FLAGS = _NODEV | _NOEXEC | 1024 | 2048 | 4096  # nodev, noexec and the atime flags
_PR_SET_PDEATHSIG, _PR_SET_DUMPABLE, _PR_CAPBSET_DROP = 1, 4, 24
_PR_SET_SECUREBITS, _PR_SET_NO_NEW_PRIVS, _PR_CAP_AMBIENT = 28, 38, 47
_SECUREBITS_LOCKED = 0b11101111  # noroot, no-setuid-fixup, no-ambient-raise; all locked
SYSTEM = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
ETC = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "nsswitch.conf")
_DEVICES = ("null", "zero", "full", "random", "urandom")
_ROOT = "/tmp"  # mount point of the new root: any directory would do; covered, never used


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def _mount(
    source: str | None, target: str, fstype: str | None, *, flags: int, data: str | None = None
) -> None:
    encoded = [None if s is None else s.encode() for s in (source, target, fstype, data)]
    _check(_LIBC.mount(encoded[0], encoded[1], encoded[2], flags, encoded[3]), "mount " + target)


def enter(*, user: bool) -> None:
    """Unshare the namespaces and return in the new PID namespace's pid 1 (a forked child).

    The process that called stays outside, waits for the child, and exits with its status
    (re-raising the signal that killed it); it never returns.
    """
    uid, gid = os.getuid(), os.getgid()
    flags = _NEWNS | _NEWPID | _NEWNET | _NEWIPC | _NEWUTS | (_NEWUSER if user else 0)
    _check(_LIBC.unshare(flags), "unshare")
    if user:
        _write("/proc/self/setgroups", "deny")
        _write("/proc/self/uid_map", f"0 {uid} 1")
        _write("/proc/self/gid_map", f"0 {gid} 1")
    _pid1()


def cell(*, tmp_mb: int, shm_mb: int) -> None:
    """Inside the jail's namespaces: new mount, PID and IPC ones for one run, returning in their
    pid 1 (a forked child, waited for as in `enter`) with its own /proc, /tmp and /dev/shm."""
    _check(_LIBC.unshare(_NEWNS | _NEWPID | _NEWIPC), "unshare")
    _pid1()
    _mount(None, "/", None, flags=_REC | _PRIVATE)
    for path, size in (("/tmp", tmp_mb), ("/dev/shm", shm_mb)):
        data = f"mode=1777,size={max(1, size)}m"
        _mount("tmpfs", path, "tmpfs", flags=_NOSUID | _NODEV, data=data)
    _mount("proc", "/proc", "proc", flags=_NOSUID | _NODEV | _NOEXEC)
    limit_ipc(shm_mb=shm_mb)


def _pid1() -> None:
    """Fork the new PID namespace's pid 1 and return in it; the caller waits and exits."""
    pid = os.fork()
    if pid == 0:
        _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        return
    for fd in (0, 1):  # the child holds the pipes; the caller sees EOF when the child ends
        os.close(fd)
    status = os.waitpid(pid, 0)[1]
    code = os.waitstatus_to_exitcode(status)
    if code < 0:
        signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
    os._exit(code & 255)


def _write(path: str, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)


def build(keep: Iterable[str], writable: Iterable[str], *, tmp_mb: int, shm_mb: int) -> None:
    """Pivot into a new root holding only `keep` (read-only) and `writable` (read-write)."""
    _mount(None, "/", None, flags=_REC | _PRIVATE)
    sources = [(p, False) for p in visible(keep)] + [(p, True) for p in writable]
    fds = [(path, os.open(path, os.O_PATH), rw) for path, rw in sources]
    devices = [
        (d, os.open("/dev/" + d, os.O_PATH)) for d in _DEVICES if os.path.exists("/dev/" + d)
    ]
    etc = [(n, os.open("/etc/" + n, os.O_PATH)) for n in ETC if os.path.exists("/etc/" + n)]
    _mount("tmpfs", _ROOT, "tmpfs", flags=_NOSUID | _NODEV, data="mode=755,size=4m")
    _scratch("/tmp", tmp_mb)
    _dev(devices)
    _scratch("/dev/shm", shm_mb)
    for path, fd, rw in sorted(fds, key=lambda item: item[0]):
        if os.path.islink(path) and path in SYSTEM:
            os.symlink(os.readlink(path), _ROOT + path)
            os.close(fd)
        else:
            _bind(fd, _ROOT + path, rw=rw)
    os.makedirs(_ROOT + "/etc", exist_ok=True)
    for name, fd in etc:
        _bind(fd, f"{_ROOT}/etc/{name}", rw=False)
    _write(_ROOT + "/etc/passwd", "root:x:0:0::/tmp:/bin/sh\nnobody:x:65534:65534::/:/bin/sh\n")
    _write(_ROOT + "/etc/group", "root:x:0:\nnogroup:x:65534:\n")
    os.makedirs(_ROOT + "/var", exist_ok=True)
    os.symlink("/tmp", _ROOT + "/var/tmp")
    os.makedirs(_ROOT + "/proc")
    _mount("proc", _ROOT + "/proc", "proc", flags=_NOSUID | _NODEV | _NOEXEC)
    _pivot(_ROOT)


def visible(keep: Iterable[str]) -> list[str]:
    """The read-only paths of a view: the system's and `keep`, none inside another one."""
    paths = sorted({os.path.normpath(p) for p in (*SYSTEM, *keep) if os.path.lexists(p)})
    shown: list[str] = []
    for path in paths:
        if not any(path.startswith(s.rstrip("/") + "/") for s in shown if not os.path.islink(s)):
            shown.append(path)
    return shown


def _bind(fd: int, target: str, *, rw: bool) -> None:
    """Bind the file or directory open as `fd` at `target`; read-only unless `rw`."""
    source = f"/proc/self/fd/{fd}"
    if os.path.isdir(source):
        os.makedirs(target, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        os.close(os.open(target, os.O_CREAT | os.O_WRONLY, 0o644))
    _mount(source, target, None, flags=_BIND | _REC)
    os.close(fd)
    flags = os.statvfs(target).f_flag & _KEPT_FLAGS
    extra = _NOSUID | (0 if rw else _RDONLY)
    _mount(None, target, None, flags=_BIND | _REMOUNT | flags | extra)


def _dev(devices: list[tuple[str, int]]) -> None:
    os.makedirs(_ROOT + "/dev")
    _mount("tmpfs", _ROOT + "/dev", "tmpfs", flags=_NOSUID | _NOEXEC, data="mode=755,size=64k")
    for name, fd in devices:
        target = f"{_ROOT}/dev/{name}"
        os.close(os.open(target, os.O_CREAT | os.O_WRONLY, 0o666))
        _mount(f"/proc/self/fd/{fd}", target, None, flags=_BIND)
        os.close(fd)
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
                         ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2")):  # fmt: skip
        os.symlink(target, f"{_ROOT}/dev/{name}")


def _scratch(path: str, size_mb: int) -> None:
    """A private, size-limited tmpfs at `path` of the new root: what the run may write."""
    os.makedirs(_ROOT + path, exist_ok=True)
    size = f"mode=1777,size={max(1, size_mb)}m"
    _mount("tmpfs", _ROOT + path, "tmpfs", flags=_NOSUID | _NODEV, data=size)


def _pivot(root: str) -> None:
    os.chdir(root)
    os.makedirs(".old")
    _check(_LIBC.pivot_root(b".", b".old"), "pivot_root")
    os.chdir("/")
    _check(_LIBC.umount2(b"/.old", 2), "umount old root")  # MNT_DETACH
    os.rmdir("/.old")
    _mount(None, "/", None, flags=_BIND | _REMOUNT | _RDONLY | _NOSUID | _NODEV)


def limit_ipc(*, shm_mb: int) -> None:
    """Bound SysV shared memory in this IPC namespace; no POSIX message queues."""
    pages = max(1, shm_mb * 1024 * 1024 // os.sysconf("SC_PAGE_SIZE"))
    limits = {"kernel/shmall": pages, "kernel/shmmax": shm_mb * 1024 * 1024, "kernel/shmmni": 64,
              "kernel/msgmni": 16, "fs/mqueue/queues_max": 0}  # fmt: skip
    for name, value in limits.items():
        with contextlib.suppress(OSError):
            _write("/proc/sys/" + name, str(value))


def sweep_ipc() -> None:
    """Remove every SysV shared memory segment, semaphore set and message queue."""
    for kind, remove in (("shm", _LIBC.shmctl), ("sem", _LIBC.semctl), ("msg", _LIBC.msgctl)):
        with contextlib.suppress(OSError), open(f"/proc/sysvipc/{kind}") as f:
            for line in f.readlines()[1:]:
                ident = int(line.split()[1])
                remove(ident, 0, 0, 0) if kind == "sem" else remove(ident, 0, None)


def wipe(*paths: str) -> None:
    """Empty the private temp directories a run could write to."""
    for path in paths:
        with contextlib.suppress(OSError):
            for entry in os.scandir(path):
                _remove(entry.path)


def _remove(path: str) -> None:
    with contextlib.suppress(OSError):
        if os.path.isdir(path) and not os.path.islink(path):
            for entry in os.scandir(path):
                _remove(entry.path)
            os.rmdir(path)
        else:
            os.unlink(path)


def own_processes() -> int:
    """How many processes this uid runs now (RLIMIT_NPROC counts them all)."""
    me = os.getuid()
    n = 0
    for pid in os.listdir("/proc"):
        with contextlib.suppress(OSError):
            n += pid.isdigit() and os.stat("/proc/" + pid).st_uid == me
    return n


def restrict(uid: int | None, limits: Mapping[str, Any], *, nproc: int) -> None:
    """Set the run's rlimits (`nproc` processes of its own), drop every privilege, become `uid`.

    Without a uid of its own the run shares its uid's process count with what already runs.
    """
    allowed = nproc + (0 if uid is not None else own_processes())
    for res, val in (
        (resource.RLIMIT_AS, limits["memory_mb"] * 1024 * 1024),
        (resource.RLIMIT_CPU, int(limits["timeout_s"]) + 2),
        (resource.RLIMIT_FSIZE, limits["fsize"]),
        (resource.RLIMIT_CORE, 0),
        (resource.RLIMIT_NOFILE, 256),
        (resource.RLIMIT_NPROC, allowed),
    ):
        _limit(res, val)
    lock(uid)


def _limit(res: int, val: int) -> None:
    """Set both limits; where the hard one cannot be lowered or raised, the soft one only."""
    try:
        resource.setrlimit(res, (val, val))
    except (ValueError, OSError):
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(res, (val, resource.getrlimit(res)[1]))


def nondumpable() -> None:
    """No ptrace, /proc/<pid>/mem, fd or environ access to this process by its own uid."""
    _LIBC.prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)


def _last_cap() -> int:
    try:
        with open("/proc/sys/kernel/cap_last_cap") as f:
            return int(f.read())
    except (OSError, ValueError):
        return 63


def lock(uid: int | None) -> None:
    """Drop every capability for good (also across exec), then become `uid` when given."""
    for cap in range(_last_cap() + 1):
        _LIBC.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0)
    _LIBC.prctl(_PR_SET_SECUREBITS, _SECUREBITS_LOCKED, 0, 0, 0)
    _LIBC.prctl(_PR_CAP_AMBIENT, 4, 0, 0, 0)  # PR_CAP_AMBIENT_CLEAR_ALL
    if uid is not None:
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
    header = (ctypes.c_uint32 * 2)(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this process
    data = (ctypes.c_uint32 * 6)()
    _check(_LIBC.capset(header, data), "capset")
    _check(_LIBC.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
