"""The program that runs one note's examples, inside the sandbox (see `examples.run_examples`).

Started as `python -I -X utf8 -c <this file's source>` by `sandbox.run_child`, which gives it a
temp working directory, limits and a scrubbed environment; so it is stdlib-only and imports
nothing from vaultttc. It reads one JSON job on stdin and runs the examples in order in one
shared `__main__` namespace: python compiled with `PyCF_ALLOW_TOP_LEVEL_AWAIT` and padded so
that line numbers are the note's own (the note's lines are in `linecache`, so tracebacks quote
them), shells through bash with `-e` and `pipefail`. For each example it writes a `start` and a
`done` JSON line to the original stdout, with the example's captured fd 1 and fd 2. A per-example
timeout is faulthandler's watchdog: it dumps the stack (to the original stderr) and exits.

Must not: judge results (the parent does), or let an example's output reach the JSON stream.
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import faulthandler
import inspect
import json
import linecache
import os
import shutil
import subprocess
import sys
import tempfile
import traceback
import types
from collections.abc import Iterator, Mapping
from typing import IO, Any

__all__ = ["main"]

MAX_CAPTURE = 200_000
_LOOPS: list[asyncio.AbstractEventLoop] = []


def main() -> None:
    job = json.loads(sys.stdin.buffer.read())
    proto, dump = _prepare(job)
    namespace = _fresh_main()
    for item in job["examples"]:
        _send(proto, {"event": "start", "id": item["id"]})
        faulthandler.dump_traceback_later(job["timeout_s"], exit=True, file=dump)
        try:
            with _capture() as captured:
                error = _run_one(item, namespace, job["path"])
        finally:
            faulthandler.cancel_dump_traceback_later()
        _send(proto, {"event": "done", "id": item["id"], "error": error, **captured})


def _prepare(job: Mapping[str, Any]) -> tuple[IO[str], IO[str]]:
    """Keep the real stdout for events and stderr for stack dumps; stdin reads nothing."""
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    proto = os.fdopen(os.dup(1), "w", encoding="utf-8")
    dump = os.fdopen(os.dup(2), "w", encoding="utf-8")
    path, lines = job["path"], job["lines"]
    linecache.cache[path] = (sum(map(len, lines)), None, lines, path)
    return proto, dump


def _fresh_main() -> dict[str, Any]:
    module = types.ModuleType("__main__")
    sys.modules["__main__"] = module
    return module.__dict__


def _send(proto: IO[str], event: Mapping[str, Any]) -> None:
    proto.write(json.dumps(event) + "\n")
    proto.flush()


@contextlib.contextmanager
def _capture() -> Iterator[dict[str, str]]:
    """Capture fds 1 and 2, so that shells and C code are caught along with print()."""
    captured: dict[str, str] = {}
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        _flush()
        saved = os.dup(1), os.dup(2)
        os.dup2(out.fileno(), 1)
        os.dup2(err.fileno(), 2)
        try:
            yield captured
        finally:
            sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
            _flush()
            for fd, copy in zip((1, 2), saved, strict=True):
                os.dup2(copy, fd)
                os.close(copy)
            captured.update(stdout=_read(out), stderr=_read(err))


def _flush() -> None:
    for stream in (sys.__stdout__, sys.__stderr__):
        if stream is not None:
            with contextlib.suppress(ValueError, OSError):
                stream.flush()


def _read(file: IO[bytes]) -> str:
    file.seek(0)
    text = file.read(MAX_CAPTURE + 1).decode("utf-8", "replace")
    return text if len(text) <= MAX_CAPTURE else text[:MAX_CAPTURE] + "\n… (truncated)"


def _run_one(
    item: Mapping[str, Any], namespace: dict[str, Any], path: str
) -> dict[str, Any] | None:
    if item["kind"] == "shell":
        return _run_shell(item)
    error = _run_python(item["code"], item["first"], namespace, path=path)
    if error is not None:
        own = range(item["first"] + 1, item["first"] + len(item["code"].splitlines()) + 1)
        lines = error.pop("lines")
        error["line"] = next((n for n in reversed(lines) if n in own), error["line"])
    return error


def _run_python(
    code: str, first: int, namespace: dict[str, Any], *, path: str
) -> dict[str, Any] | None:
    # Padding with newlines puts every statement, and a SyntaxError, on the note's own line.
    source = "\n" * first + code
    flags = ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
    try:
        compiled = compile(source, path, "exec", flags=flags, dont_inherit=True)
        result = eval(compiled, namespace)
        if compiled.co_flags & inspect.CO_COROUTINE:
            _event_loop().run_until_complete(result)
    except SystemExit as exc:
        return None if exc.code in (None, 0) else _describe(exc, path)
    except BaseException as exc:
        return _describe(exc, path)
    return None


def _event_loop() -> asyncio.AbstractEventLoop:
    """One loop for the whole note, so that objects bound to it survive between examples."""
    if not _LOOPS:
        _LOOPS.append(asyncio.new_event_loop())
    asyncio.set_event_loop(_LOOPS[0])  # again each time: an example's asyncio.run() unsets it
    return _LOOPS[0]


def _describe(exc: BaseException, path: str) -> dict[str, Any]:
    """The error as the parent reports it, the traceback starting at the note's first frame."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename != path:
        tb = tb.tb_next
    lines = [frame.lineno for frame in traceback.extract_tb(tb) if frame.filename == path]
    if not lines and isinstance(exc, SyntaxError) and exc.filename == path and exc.lineno:
        lines = [exc.lineno]
    return {
        "message": traceback.format_exception_only(type(exc), exc)[-1].strip(),
        "line": lines[-1] if lines else None,
        "lines": lines,
        "name": exc.name if isinstance(exc, NameError) else None,
        "traceback": "".join(traceback.format_exception(type(exc), exc, tb)),
    }


def _run_shell(item: Mapping[str, Any]) -> dict[str, Any] | None:
    """bash (`sh` examples under `bash --posix`); an ERR trap reports the failing line."""
    padding = "\n" * item["first"]
    with tempfile.TemporaryFile() as errline:
        fd = errline.fileno()
        bash = shutil.which("bash")
        if bash:
            posix = [] if item["lang"] == "bash" else ["--posix"]
            trap = f"trap 'echo $LINENO >&{fd}' ERR; set -eo pipefail"
            argv = [bash, *posix, "-c", trap + padding + item["code"]]
        else:
            argv = ["sh", "-e", "-c", padding + item["code"]]
        code = subprocess.run(argv, stdin=subprocess.DEVNULL, pass_fds=(fd,), check=False)
        errline.seek(0)
        line = errline.read().decode().split()
    if code.returncode == 0:
        return None
    rc = code.returncode
    how = f"killed by signal {-rc}" if rc < 0 else f"exit status {rc}"
    return {
        "message": f"{item['lang']} example failed ({how})",
        "line": int(line[0]) if line and line[0].isdigit() else None,
        "name": None,
        "traceback": "",
    }


if __name__ == "__main__":
    main()
