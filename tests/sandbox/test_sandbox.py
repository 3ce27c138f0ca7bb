"""The sandbox against hostile code: every run ends, fails cleanly, and leaves nothing behind."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import uuid
from pathlib import Path

import pytest

from vaultttc.errors import ConfigError
from vaultttc.sandbox import detect
from vaultttc.sandbox import parent as sandbox
from vaultttc.sandbox.detect import Isolation, NoIsolation, isolation, unsandboxed
from vaultttc.sandbox.parent import arun_python
from vaultttc.sandbox.sync import run_child, run_python, run_python_batch

LIMITS = {"timeout_s": 2.0, "memory_mb": 256}
needs_namespaces = pytest.mark.skipif(
    not isolation().namespaces, reason=f"no namespaces here: {isolation().reason}"
)
needs_uid = pytest.mark.skipif(not isolation().separate_uid, reason="needs root to drop uid")


def processes_mentioning(marker: str) -> list[int]:
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if marker.encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                found.append(int(pid))
        except OSError:
            pass
    return found


def processes_of(uid: int) -> list[int]:
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if os.stat(f"/proc/{pid}").st_uid == uid:
                found.append(int(pid))
        except OSError:
            pass
    return found


def test_ordinary_code_runs_and_its_output_comes_back() -> None:
    result = run_python("import math\nprint(math.factorial(5))\n", **LIMITS)
    assert result.ok
    assert result.stdout == "120\n"


def test_a_failing_program_reports_its_exit_code_and_traceback() -> None:
    result = run_python("raise ValueError('boom')\n", **LIMITS)
    assert not result.ok
    assert result.returncode == 1
    assert "ValueError: boom" in result.stderr


def test_sys_exit_code_is_the_return_code() -> None:
    assert run_python("import sys\nsys.exit(3)\n", **LIMITS).returncode == 3


def test_an_infinite_loop_times_out() -> None:
    result = run_python("while True:\n    pass\n", timeout_s=1.0, memory_mb=256)
    assert result.timed_out
    assert not result.ok
    assert result.returncode is None


def test_a_memory_hog_fails_with_memory_error() -> None:
    result = run_python("chunks = []\nwhile True:\n    chunks.append(bytearray(10**7))\n", **LIMITS)
    assert not result.ok
    assert "MemoryError" in result.stderr


@needs_uid
def test_a_fork_bomb_fails_and_leaves_no_process_behind() -> None:
    bomb = (
        "import os\nprint(os.getuid(), flush=True)\n"
        "while True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"
    )
    result = run_python(bomb, **LIMITS)
    assert not result.ok
    uid = int(result.stdout.split()[0])
    assert uid != 0
    assert processes_of(uid) == []


def test_a_background_process_that_escapes_its_session_is_killed() -> None:
    marker = f"vaultttc-escapee-{uuid.uuid4().hex}"
    code = (
        "import subprocess, sys\n"
        f"subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)', '{marker}'],"
        " start_new_session=True)\n"
    )
    result = run_python(code, **LIMITS)
    assert result.ok, result.stderr
    assert processes_mentioning(marker) == []


def test_api_keys_in_the_parent_environment_never_reach_the_code(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    secret = f"sk-ant-{uuid.uuid4().hex}"
    monkeypatch.setenv("ANTHROPIC_API_KEY", secret)
    monkeypatch.setenv("HF_TOKEN", secret)
    snoop = (
        "import os\nprint(dict(os.environ))\n"
        f"for pid in ('1', '{os.getpid()}', str(os.getppid())):\n"
        "    try:\n        print(open(f'/proc/{pid}/environ').read())\n"
        "    except OSError as e:\n        print('denied', e)\n"
        "print(os.environ['ANTHROPIC_API_KEY'])\n"
    )
    result = run_python(snoop, **LIMITS)
    assert not result.ok
    assert "KeyError" in result.stderr
    assert secret not in result.stdout + result.stderr


def test_secret_looking_variables_cannot_be_let_in() -> None:
    with pytest.raises(ConfigError, match="OPENAI_API_KEY"):
        run_python("pass", env_allow=["OPENAI_API_KEY"], **LIMITS)


def test_allowed_plain_variables_are_passed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VAULTTTC_TEST_COLOUR", "teal")
    code = "import os\nprint(os.environ.get('VAULTTTC_TEST_COLOUR'))\n"
    assert run_python(code, **LIMITS).stdout == "None\n"
    assert run_python(code, env_allow=["VAULTTTC_TEST_COLOUR"], **LIMITS).stdout == "teal\n"


@needs_namespaces
def test_there_is_no_network() -> None:
    server = socket.create_server(("127.0.0.1", 0))
    server.setblocking(False)
    port = server.getsockname()[1]
    try:
        code = f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=1)\n"
        result = run_python(code, **LIMITS)
        assert not result.ok
        assert "Error" in result.stderr
        with pytest.raises(BlockingIOError):
            server.accept()
    finally:
        server.close()


@needs_uid
def test_writes_outside_the_working_directory_fail_or_stay_inside() -> None:
    victim = Path(__file__).parent / f"victim-{uuid.uuid4().hex}.txt"
    stray = Path("/tmp") / f"vaultttc-stray-{uuid.uuid4().hex}"
    try:
        result = run_python(f"open({str(victim)!r}, 'w').write('owned')\n", **LIMITS)
        assert not result.ok
        # Denied by the throwaway uid, or not even there when the repo lives under /tmp,
        # which the sandbox replaces with a private tmpfs.
        assert "PermissionError" in result.stderr or "FileNotFoundError" in result.stderr
        assert not victim.exists()
        result = run_python(f"open({str(stray)!r}, 'w').write('x')\n", **LIMITS)
        if isolation().namespaces:
            assert not stray.exists()  # it went to a private /tmp that vanished with the run
    finally:
        victim.unlink(missing_ok=True)
        stray.unlink(missing_ok=True)


def test_output_is_capped() -> None:
    result = run_python("print('x' * 10**6)\n", max_output=1000, **LIMITS)
    assert result.truncated
    assert len(result.stdout) == 1000


def test_a_batch_keeps_order_and_isolates_bad_candidates() -> None:
    sources = [
        "print('a')",
        "while True: pass",
        "import os\nwhile True:\n    try: os.fork()\n    except OSError: pass",
        "print('d')",
        "x = bytearray(10**10)",
        "print(open('mine.txt', 'w').write('abc'))",
    ]
    results = run_python_batch(sources, timeout_s=1.0, memory_mb=256, workers=2)
    assert [r.ok for r in results] == [True, False, False, True, False, True]
    assert [r.stdout for r in results[::3]] == ["a\n", "d\n"]
    assert results[1].timed_out


def test_candidates_of_one_batch_do_not_share_files() -> None:
    results = run_python_batch(
        ["open('note.txt', 'w').write('first')", "import os\nprint(os.listdir('.'))"], **LIMITS
    )
    assert results[1].stdout == "[]\n"


@needs_namespaces
def test_candidates_going_at_once_each_have_namespaces_of_their_own() -> None:
    """Eight candidates, each leaving a file, a SysV segment and a sleeping process, then looking
    for the others' while they still run or after they ran: each sees only its own (its cell's
    pid 1, itself and its own sleeper), whether it shares a cell with another run or not."""
    look = """
import ctypes, os, subprocess, sys, time
me = {i}
libc = ctypes.CDLL(None)
libc.shmget(0x7B000000 + me, 4096, 0o1000 | 0o666)
open(f'/tmp/left-{{me}}', 'w').write('x')
open(f'/dev/shm/left-{{me}}', 'w').write('x')
child = subprocess.Popen([sys.executable, '-c', 'import signal; signal.pause()'])
time.sleep(0.5)
others = [n for n in range(8) if n != me and libc.shmget(0x7B000000 + n, 0, 0) >= 0]
files = sorted(os.listdir('/tmp') + os.listdir('/dev/shm'))
print(others, [f for f in files if f.startswith('left-')])
pids = sorted(int(p) for p in os.listdir('/proc') if p.isdigit())
print(pids == sorted({{1, os.getpid(), child.pid}}))
"""
    results = run_python_batch([look.format(i=i) for i in range(8)], timeout_s=10, memory_mb=256)
    for i, result in enumerate(results):
        seen, pids = result.stdout.splitlines()
        assert seen == f"[] ['left-{i}', 'left-{i}']", result.stderr
        assert pids == "True", result.stdout  # the cell's pid 1, itself and its sleeper


def test_cancelling_a_run_kills_its_process() -> None:
    marker = f"vaultttc-cancel-{uuid.uuid4().hex}"
    code = f"import time\nprint({marker!r}, flush=True)\ntime.sleep(30)\n"

    async def go() -> None:
        task = asyncio.ensure_future(arun_python(code, timeout_s=30, memory_mb=256))
        await asyncio.sleep(0.5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(go())
    assert [pid for pid in processes_mentioning(marker) if pid != os.getpid()] == []


def test_the_blocking_form_works_inside_a_running_loop() -> None:
    async def go() -> str:
        return run_python("print(1)", **LIMITS).stdout

    assert asyncio.run(go()) == "1\n"


def test_run_child_runs_a_command_with_stdin_in_its_directory(tmp_path: Path) -> None:
    (tmp_path / "data.txt").write_text("hello")
    script = "import sys; print(open('data.txt').read(), sys.stdin.read())"
    result = run_child(
        [sys.executable, "-I", "-c", script], stdin="from stdin", cwd=tmp_path, **LIMITS
    )
    assert result.ok, result.stderr
    assert result.stdout == "hello from stdin\n"


def test_run_child_deletes_the_temp_directory_it_made() -> None:
    result = run_child([sys.executable, "-I", "-c", "import os; print(os.getcwd())"], **LIMITS)
    assert result.ok, result.stderr
    assert not Path(result.stdout.strip()).exists()


def test_run_child_kills_the_whole_tree_on_timeout() -> None:
    marker = f"vaultttc-tree-{uuid.uuid4().hex}"
    script = (
        "import subprocess, sys, time\n"
        f"subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)', '{marker}'],"
        " start_new_session=True)\ntime.sleep(60)\n"
    )
    result = run_child([sys.executable, "-I", "-c", script], timeout_s=1.0, memory_mb=512)
    assert result.timed_out
    assert processes_mentioning(marker) == []


def test_run_child_scrubs_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-never-seen")
    result = run_child(["env"], **LIMITS)
    assert result.ok
    assert "sk-never-seen" not in result.stdout
    assert {line.split("=")[0] for line in result.stdout.splitlines()} <= {
        "PATH",
        "LANG",
        "LC_ALL",
        "PYTHONDONTWRITEBYTECODE",
        "PYTHONIOENCODING",
        "HOME",
        "TMPDIR",
        *sandbox._THREADS,
    }


def test_run_child_reports_a_missing_command() -> None:
    result = run_child(["vaultttc-no-such-command"], **LIMITS)
    assert result.returncode == 127
    assert "vaultttc-no-such-command" in result.stderr


def without_isolation(monkeypatch: pytest.MonkeyPatch) -> None:
    none = Isolation("none", separate_uid=False, reason="pretended for the test")
    monkeypatch.setattr(sandbox, "isolation", lambda: none)
    monkeypatch.setattr(detect, "isolation", lambda: none)


def test_without_isolation_nothing_runs_unless_acknowledged(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    without_isolation(monkeypatch)
    marker = tmp_path / "ran.txt"
    with pytest.raises(NoIsolation, match="--allow-exec=unsandboxed"):
        run_python(f"open({str(marker)!r}, 'w').write('ran')", **LIMITS)
    with pytest.raises(NoIsolation, match="pretended for the test"):
        run_child(["touch", str(marker)], **LIMITS)
    assert not marker.exists()


def test_without_isolation_but_acknowledged_the_limits_still_hold(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    without_isolation(monkeypatch)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-fallback-secret")
    sources = [
        "print('fine')",
        "while True: pass",
        "x = bytearray(10**10)",
        "import os\nprint(os.environ.get('ANTHROPIC_API_KEY'))",
    ]
    with unsandboxed():
        results = run_python_batch(sources, timeout_s=1.0, memory_mb=256)
        child = run_child([sys.executable, "-I", "-c", "print('child')"], **LIMITS)
    assert [r.ok for r in results] == [True, False, False, True]
    assert results[1].timed_out
    assert results[3].stdout == "None\n"
    assert child.stdout == "child\n"


def test_every_jail_of_a_batch_hashes_alike() -> None:
    """Behaviour votes compare reprs made in different jails: a set of strings must print the
    same in each (the jails share a hash seed), or equal programs would not agree."""
    words = ", ".join(repr(f"w{i}") for i in range(40))
    results = run_python_batch([f"print({{{words}}})"] * 24, timeout_s=10, memory_mb=256,
                               workers=3)  # fmt: skip
    assert all(r.ok for r in results), results[0].stderr
    assert len({r.stdout for r in results}) == 1
