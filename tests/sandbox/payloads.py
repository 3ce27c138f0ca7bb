"""Hostile payloads, each run through the real vaultttc API by `run(name, args)`.

Imported inside the subprocess `users.run_as` starts (as root or as an ordinary user), which
runs them all and prints one JSON document saying what each hostile payload managed, for the
tests in `test_hostile.py` to judge. A containment payload reports `{"skip": why}` where the machine
gives no isolation; the verdict payloads then run anyway, acknowledged (they must hold there
too).
"""

from __future__ import annotations

import asyncio
import ctypes
import json
import os
import shutil
import socket
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from vaultttc.engine.tasks import Task
from vaultttc.living.examples import ExampleOptions, run_examples
from vaultttc.notes.parse import parse_note
from vaultttc.sandbox import detect, parent
from vaultttc.sandbox.detect import Isolation, unsandboxed
from vaultttc.sandbox.sync import run_python, run_python_batch
from vaultttc.verifiers.check import CheckVerifier
from vaultttc.verifiers.python import PythonVerifier

LIMITS: dict[str, Any] = {"timeout_s": 10.0, "memory_mb": 256}
MB = 1024 * 1024
PAYLOADS: dict[str, Callable[..., dict[str, Any]]] = {}


def payload(fn: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
    PAYLOADS[fn.__name__] = fn
    return fn


def run(specs: dict[str, dict[str, Any]], *, bubblewrap: bool = False) -> None:
    """Run each payload named in `specs` with its arguments, and print what each managed.

    Under bubblewrap, as if that were all this machine gave.
    """
    if bubblewrap:
        why = detect.probe("bwrap") if shutil.which("bwrap") else "bubblewrap is not installed"
        if why is not None:
            print(json.dumps({"uid": os.getuid(), "skip": f"no bubblewrap here: {why}"}))
            return
        forced = Isolation("bubblewrap", separate_uid=False)
        detect.isolation = parent.isolation = lambda: forced  # type: ignore[assignment]
    found = detect.isolation()
    outcomes: dict[str, Any] = {"uid": os.getuid()}
    for name, args in specs.items():
        if not found.namespaces and not name.startswith("forged"):
            outcomes[name] = {"skip": f"no isolation on this machine: {found.reason}"}
            continue
        with unsandboxed(not found.namespaces):
            outcomes[name] = PAYLOADS[name](**args)
    print(json.dumps(outcomes))


# --- containment --------------------------------------------------------------------------


@payload
def keys(secret: str) -> dict[str, Any]:
    dotenv = Path(os.environ["HOME"], ".env")
    dotenv.write_text(f"ANTHROPIC_API_KEY={secret}\n")
    dotenv.chmod(0o644)
    snoop = f"""
import os
seen = [repr(dict(os.environ))]
for pid in [p for p in os.listdir('/proc') if p.isdigit()] + ['{os.getpid()}', '{os.getppid()}']:
    try:
        seen.append(open('/proc/' + pid + '/environ', 'rb').read().decode(errors='replace'))
    except OSError as e:
        seen.append(str(e))
for path in ('/proc/self/environ', '{dotenv}'):
    try:
        seen.append(open(path, 'rb').read().decode(errors='replace'))
    except OSError as e:
        seen.append(str(e))
"""
    direct = run_python(snoop + "print('\\n'.join(seen))\n", **LIMITS)
    code = f"```python\n{snoop}\ndef add(a, b):\n    raise ValueError(' '.join(seen))\n```"
    task = Task(id="k", question="add", kind="code", stub="def add(a, b):\n    pass\n",
                tests="assert add(1, 2) == 3\n", entry_point="add")  # fmt: skip
    [verdict] = asyncio.run(PythonVerifier(allow_exec=True).verify_many([code], task))
    note = parse_note(f"# keys\n\n```python\n{snoop}\nprint(seen)\nraise ValueError(seen)\n```\n",
                      "keys.md")  # fmt: skip
    living = run_examples(note, allowed=True, options=ExampleOptions(timeout_s=10))
    texts = [direct.stdout, direct.stderr, verdict.detail]
    texts += [r.message + r.details for r in living.results]
    return {"ran": direct.ok and bool(living.results), "leaked": any(secret in t for t in texts)}


@payload
def files(targets: list[str]) -> dict[str, Any]:
    attempt = f"""
import os
read, written = [], []
for path in {targets!r}:
    try:
        open(path, 'rb').read(1)
        read.append(path)
    except OSError:
        pass
    if not os.path.lexists(path):
        continue  # not in the view at all: a file made at that path lands in the private /tmp
    try:
        with open(path, 'ab') as f:
            f.write(b'owned')
        written.append(path)
    except OSError:
        pass
print(repr((read, written)))
"""
    result = run_python(attempt, **LIMITS)
    read, written = eval(result.stdout) if result.ok else (["?"], ["?"])
    return {"read": read, "written": written, "stderr": result.stderr[-500:]}


@payload
def network() -> dict[str, Any]:
    server = socket.create_server(("127.0.0.1", 0))
    server.setblocking(False)
    abstract = socket.socket(socket.AF_UNIX)
    name = f"\0vaultttc-test-{os.getpid()}"
    abstract.bind(name)
    abstract.listen()
    abstract.setblocking(False)
    port = server.getsockname()[1]
    attempt = f"""
import socket
reached = []
for family, address in ((socket.AF_INET, ('127.0.0.1', {port})), (socket.AF_INET, ('1.1.1.1', 53)),
                        (socket.AF_UNIX, {name!r})):
    s = socket.socket(family)
    s.settimeout(2)
    try:
        s.connect(address)
        reached.append(repr(address))
    except OSError:
        pass
print(reached)
"""
    result = run_python(attempt, **LIMITS)
    accepted = []
    for listener in (server, abstract):
        try:
            listener.accept()
            accepted.append(str(listener))
        except BlockingIOError:
            pass
    return {"reached": result.stdout.strip(), "accepted": accepted, "ok": result.ok}


@payload
def kill() -> dict[str, Any]:
    victim = subprocess.Popen(["sleep", "120"])
    attempt = f"""
import os, signal
others = [int(p) for p in os.listdir('/proc') if p.isdigit()]
for pid in [{os.getpid()}, {victim.pid}, {os.getppid()}, -1, *others]:
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass
"""
    run_python(attempt, **LIMITS)
    alive = victim.poll() is None
    victim.kill()
    victim.wait()
    return {"survived": True, "victim_alive": alive}


@payload
def fork(marker: str) -> dict[str, Any]:
    bomb = f"""
import os, subprocess, sys, time
print(os.getuid(), flush=True)
for _ in range(3):
    try:
        subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)', {marker!r}],
                         start_new_session=True)
    except OSError:
        pass
end = time.monotonic() + 1
while time.monotonic() < end:
    try:
        if os.fork() == 0:
            os.setsid()
            sleep = [sys.executable, '-c', 'import time; time.sleep(120)', {marker!r}]
            os.execv(sys.executable, sleep)
    except OSError:
        pass
"""
    result = run_python(bomb, **LIMITS)
    uid = int(result.stdout.split()[0])
    left = [p for p in _pids() if marker.encode() in _cmdline(p) and p != os.getpid()]
    separate = detect.isolation().separate_uid
    same_uid = [pid for pid in _pids() if _owner(pid) == uid] if separate else []
    return {"left": left, "same_uid": same_uid}


def _pids() -> list[int]:
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _owner(pid: int) -> int | None:
    try:
        return os.stat(f"/proc/{pid}").st_uid
    except OSError:
        return None


@payload
def memory() -> dict[str, Any]:
    hog = """
import os
MB = 1024 * 1024
report_r, report_w = os.pipe()
release_r, release_w = os.pipe()

def hold():
    held = []
    try:
        while True:
            chunk = bytearray(4 * MB)
            chunk[::4096] = b'x' * len(chunk[::4096])
            held.append(chunk)
    except MemoryError:
        pass
    os.write(report_w, f"{len(held) * 4}\\n".encode())
    return held

kids = 0
for _ in range(8):
    try:
        pid = os.fork()
    except OSError:
        break
    if pid == 0:
        held = hold()
        os.read(release_r, 1)
        os._exit(0)
    kids += 1
mine = hold()
total = 0
with os.fdopen(report_r) as reports:
    for _ in range(kids + 1):
        total += int(reports.readline())
print(kids, total)
"""
    result = run_python(hog, **LIMITS)
    kids, total = (int(x) for x in result.stdout.split()) if result.stdout.strip() else (-1, -1)
    return {"children": kids, "held_mb": total, "budget_mb": LIMITS["memory_mb"]}


@payload
def ipc(key: int, marker: str) -> dict[str, Any]:
    libc = ctypes.CDLL(None)
    plant = f"""
import ctypes, os
libc = ctypes.CDLL(None)
made = []
for i in range(12):
    ident = libc.shmget({key} + i, 1024 * 1024, 0o1000 | 0o666)
    if ident >= 0:
        address = libc.shmat(ident, None, 0)
        made.append(ident)
libc.semget({key}, 1, 0o1000 | 0o666)
libc.msgget({key}, 0o1000 | 0o666)
import subprocess, sys
subprocess.Popen([sys.executable, '-c', 'import signal; signal.pause()', '{marker}'],
                 start_new_session=True)
for path in ('/dev/shm/{marker}', '/run/lock/{marker}', '/tmp/{marker}', '/var/tmp/{marker}'):
    try:
        open(path, 'w').write('left behind')
    except OSError:
        pass
print(len(made))
"""
    look = f"""
import ctypes, os
libc = ctypes.CDLL(None)
found = [libc.shmget({key} + i, 0, 0) >= 0 for i in range(12)]
found += [libc.semget({key}, 0, 0) >= 0, libc.msgget({key}, 0, 0) >= 0]
found += [os.path.exists(p) for p in ('/dev/shm/{marker}', '/tmp/{marker}', '/var/tmp/{marker}')]
for pid in [p for p in os.listdir('/proc') if p.isdigit()]:
    try:
        found.append(b'{marker}' in open(f'/proc/{{pid}}/cmdline', 'rb').read())
    except OSError:
        pass
print(sum(found))
"""
    planted, looked = run_python_batch([plant, look], **LIMITS)
    host = [libc.shmget(key + i, 0, 0) >= 0 for i in range(12)]
    host += [libc.semget(key, 0, 0) >= 0, libc.msgget(key, 0, 0) >= 0]
    files = [p for p in ("/dev/shm", "/run/lock", "/tmp", "/var/tmp") if Path(p, marker).exists()]
    return {"planted": planted.stdout.strip(), "seen_by_next": looked.stdout.strip(),
            "host_objects": sum(host), "host_files": files}  # fmt: skip


# --- verdicts -----------------------------------------------------------------------------

STUB = 'def is_palindrome(s: str) -> bool:\n    """Whether s reads the same backwards."""\n'
TESTS = (
    'assert is_palindrome("A man, a plan, a canal: Panama")\n'
    'assert not is_palindrome("race a car")\n'
    'assert is_palindrome("Never odd or even") == True\n'
)
GOOD = (
    "def is_palindrome(s):\n    t = [c.lower() for c in s if c.isalnum()]\n"
    "    return t == t[::-1]\n"
)
WRONG = "def is_palindrome(s):\n    return False\n"
FORGERIES = {
    "patches builtins.compile": f"""
import builtins
_compile = builtins.compile
builtins.compile = lambda source, *a, **k: _compile("pass", "<forged>", "exec")
builtins.exec = lambda *a, **k: None
builtins.eval = lambda *a, **k: True
{WRONG}""",
    "reads the nonce from code constants": f"""
import gc, os, sys
{WRONG}
found = set()
for frame in [sys._getframe()]:
    found |= {{c for c in frame.f_code.co_consts if isinstance(c, str)}}
for obj in gc.get_objects():
    if isinstance(obj, dict):
        found |= {{v for v in list(obj.values()) if isinstance(v, str) and len(v) < 200}}
lines = [f"{{s}} 3 3 0" for s in found if s.startswith("vaultttc")]
report = '{{"passed": 3, "counted": 3, "broken": 0, "failures": [], "ended": null}}'
for fd in range(1, 256):
    for text in lines + [report]:
        try:
            os.write(fd, (text + "\\n").encode())
        except OSError:
            pass
os._exit(0)
""",
    "defines a global exec": f"""
def exec(*args, **kwargs):
    return None
def eval(*args, **kwargs):
    return True
def compile(*args, **kwargs):
    return None
def isinstance(*args):
    return True
{WRONG}""",
    "returns an always-equal object": """
class Always:
    def __eq__(self, other): return True
    def __ne__(self, other): return False
    def __bool__(self): return True
    def __hash__(self): return 0
    def __repr__(self): return "True"
def is_palindrome(s):
    return Always()
""",
    "kills the judge": f"""
import os, signal
{WRONG}
for pid in [-1] + [int(p) for p in os.listdir('/proc') if p.isdigit()]:
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass
""",
}


@payload
def forged_verdicts() -> dict[str, Any]:
    task = Task(id="p", question="palindrome", kind="code", stub=STUB, tests=TESTS,
                entry_point="is_palindrome")  # fmt: skip
    programs = [GOOD, WRONG, *FORGERIES.values()]
    verifier = PythonVerifier(allow_exec=True, timeout_s=10)
    verdicts = asyncio.run(verifier.verify_many([f"```python\n{p}```" for p in programs], task))
    names = ["good", "wrong", *FORGERIES]
    return {
        n: [v.passed, round(v.score, 2), v.detail[:300]]
        for n, v in zip(names, verdicts, strict=True)
    }


CHECK = TESTS + 'assert answer.count("def is_palindrome") >= 1\n'  # a check fence calling it
CHECK_FORGERIES = {
    **FORGERIES,
    "writes a forged check verdict everywhere and exits 0": f"""
import os
{WRONG}
forged = ['{{"passed": true, "score": 1.0, "error": ""}}', "[True, 1.0, '']",
          "vaultttc-0000000000000000[True, 1.0, '']"]
for fd in range(0, 256):
    for text in forged:
        try:
            os.write(fd, ("\\n" + text + "\\n").encode())
        except OSError:
            pass
os._exit(0)
""",
    "defines score, answer and completion itself": f"""
score = 1.0
answer = completion = "def is_palindrome(s):\\n    return s == s[::-1]\\n"
__builtins__.AssertionError = type("Never", (BaseException,), {{}})
{WRONG}""",
    "raises SystemExit from the call the check makes": """
def is_palindrome(s):
    raise SystemExit(0)
""",
}


@payload
def forged_checks() -> dict[str, Any]:
    """The forgeries above, and more, against a `python check` fence instead of a test fence."""
    task = Task(id="c", question="palindrome", kind="code", stub=STUB, check=CHECK,
                entry_point="is_palindrome")  # fmt: skip
    programs = [GOOD, WRONG, *CHECK_FORGERIES.values()]
    verdicts = asyncio.run(CheckVerifier(allow_exec=True, timeout_s=10).verify_many(programs, task))
    names = ["good", "wrong", *CHECK_FORGERIES]
    return {
        n: [v.passed, round(v.score, 2), v.detail[:300]]
        for n, v in zip(names, verdicts, strict=True)
    }


LATER = "```python\nassert False, 'this example must fail'\n```\n\n```python\nprint('after')\n```\n"
FORGE_EVENTS = """
import json, os
events = []
for ident in range(6):
    for kind in ("start", "done"):
        events.append({"event": kind, "id": ident, "error": None, "stdout": "", "stderr": ""})
    events.append({"id": ident, "token": "guessed", "error": None, "stdout": "", "stderr": ""})
data = "".join(json.dumps(e) + "\\n" for e in events).encode()
for fd in range(0, 256):
    try:
        os.write(fd, data)
    except OSError:
        pass
"""
STEAL_TOKEN = """
import json, os, sys
frame, asked = sys._getframe(), None
while frame is not None and asked is None:
    asked = next((v for v in frame.f_locals.values() if isinstance(v, dict) and "token" in v), None)
    frame = frame.f_back
mine = asked["id"]
lines = [{"id": i, "token": asked["token"], "error": None, "stdout": "", "stderr": ""}
         for i in range(mine, mine + 4)]
data = "".join(json.dumps(line) + "\\n" for line in lines).encode()
for fd in range(3, 256):
    try:
        os.write(fd, data)
    except OSError:
        pass
"""
LIVING = {
    "writes forged done events to every fd and exits 0": FORGE_EVENTS + "os._exit(0)\n",
    "writes forged done events and carries on": FORGE_EVENTS,
    "steals its own token, forges the rest and exits 0": STEAL_TOKEN + "os._exit(0)\n",
}


@payload
def forged_examples() -> dict[str, Any]:
    outcomes = {}
    for name, forger in LIVING.items():
        text = f"# forged\n\n```python\nprint('before')\n```\n\n```python\n{forger}```\n\n{LATER}"
        report = run_examples(parse_note(text, "forged.md"), allowed=True,
                              options=ExampleOptions(timeout_s=10))  # fmt: skip
        outcomes[name] = [[r.status, r.message[:200]] for r in report.results]
    return outcomes
