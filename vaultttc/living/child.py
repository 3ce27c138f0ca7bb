"""The program that runs one note's examples, inside the sandbox (see `examples.run_examples`).

Started as `python -I -X utf8 -c <this file's source>` by `sandbox.run_child`, which gives it a
temp working directory, limits and a scrubbed environment; so it is stdlib-only and imports
nothing from vaultttc. It reads one JSON job on stdin and splits in two. The supervisor keeps
stdout, the event stream the parent reads, and never runs example code; it is non-dumpable, so
the runner cannot reach its memory or descriptors. The runner, forked from it, runs the examples
in order in one shared `__main__` namespace: python compiled with `PyCF_ALLOW_TOP_LEVEL_AWAIT`
(`sys.exit(0)` passes, unless `exit_ok` is off, as for a candidate fix, which must not skip its
own checks by leaving early) and padded so that line numbers are the note's own (the note's
lines are in `linecache`, so tracebacks quote them), shells through bash with `-e` and
`pipefail`, REPL transcripts through `doctest` (ELLIPSIS and NORMALIZE_WHITESPACE, the failing
statement's note line). An `isolated` example gets a namespace of its own; a `retry` count
re-runs an example that raised. The supervisor sends the runner one example at a time with a
fresh token and accepts only the one report that carries that example's id and token: a report
for any other example, or one written before its token existed, is a forgery and stops the run;
a runner that ends early leaves the rest unreported (the parent fails or skips them). For each
example the supervisor writes a `start` and a `done` JSON line (with the example's captured fd 1
and fd 2), and at the end an `exit` line with the runner's exit status. A per-example timeout is
faulthandler's watchdog in the runner: it dumps the stack (to stderr) and exits.

Must not: judge results (the parent does), or let an example reach the event stream. It does
not stop an example from changing the interpreter the note's later examples share: that is
the note's own code, in the one namespace its examples share by design.
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import ctypes
import doctest
import faulthandler
import inspect
import json
import linecache
import os
import secrets
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
    requests, reports = os.pipe(), os.pipe()
    sys.stdout.flush()
    pid = os.fork()
    if pid == 0:
        status = 0
        try:
            _runner(job, requests=requests[0], reports=reports[1])
        except BaseException:
            traceback.print_exc()
            status = 70
        finally:
            os._exit(status)
    os.close(requests[0])
    os.close(reports[1])
    ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE: the runner cannot reach us
    send = os.fdopen(requests[1], "w", encoding="utf-8")
    _supervise(job["examples"], send=send, receive=os.fdopen(reports[0], encoding="utf-8"))
    with contextlib.suppress(OSError):
        send.close()  # the runner reads the end of its requests, and ends
    code = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    _send(sys.stdout, {"event": "exit", "code": code})


def _supervise(examples: list[dict[str, Any]], *, send: IO[str], receive: IO[str]) -> None:
    """Hand out one example at a time; pass on only the report that answers it."""
    for item in examples:
        token = secrets.token_hex(16)
        _send(sys.stdout, {"event": "start", "id": item["id"]})
        try:
            _send(send, {"id": item["id"], "token": token})
        except OSError:  # the runner has ended
            return
        report = _genuine(receive.readline(), item["id"], token)
        if report is None:
            return
        if not report:
            _send(sys.stdout, {"event": "forged", "id": item["id"]})
            return
        _send(sys.stdout, {"event": "done", **report})


def _genuine(line: str, ident: int, token: str) -> dict[str, Any] | None:
    """The report without its token; None at the end of the stream; {} for a forgery."""
    if not line:
        return None
    with contextlib.suppress(ValueError, TypeError, AttributeError):
        report = json.loads(line)
        if report.get("id") == ident and report.pop("token", None) == token:
            return {key: report.get(key) for key in ("id", "error", "stdout", "stderr")}
    return {}


def _runner(job: Mapping[str, Any], *, requests: int, reports: int) -> None:
    """Run each example the supervisor asks for, in the note's one namespace; report each."""
    dump = _prepare(job, keep=(requests, reports))
    items = {item["id"]: item for item in job["examples"]}
    namespace = _fresh_main()
    answer = os.fdopen(reports, "w", encoding="utf-8")
    for line in os.fdopen(requests, encoding="utf-8"):
        ask = json.loads(line)
        item = items[ask["id"]]
        # `isolated`: a namespace of its own, not registered as `__main__` for the others.
        own = types.ModuleType("__main__").__dict__ if item.get("isolated") else namespace
        for attempt in range(1 + item.get("retry", 0)):  # `retry:N` re-runs one that raised
            faulthandler.dump_traceback_later(job["timeout_s"], exit=True, file=dump)
            try:
                with _capture() as captured:
                    error = _run_one(item, own, item.get("path", job["path"]))
            finally:
                faulthandler.cancel_dump_traceback_later()
            if error is None:
                break
            if attempt:
                error["message"] += f" (on each of {attempt + 1} attempts)"
        _send(answer, {"id": item["id"], "token": ask["token"], "error": error, **captured})


def _prepare(job: Mapping[str, Any], *, keep: tuple[int, ...]) -> IO[str]:
    """Stdin and stdout read and write nothing (the events are not ours); stderr for dumps."""
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    os.close(devnull)
    os.closerange(3, min(keep))
    os.closerange(min(keep) + 1, max(keep))
    os.closerange(max(keep) + 1, 1024)
    dump = os.fdopen(os.dup(2), "w", encoding="utf-8")
    for path, lines in job["sources"].items():
        linecache.cache[path] = (sum(map(len, lines)), None, lines, path)
    return dump


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
    if item["kind"] == "doctest":
        return _run_doctest(item, namespace, path=path)
    exit_ok = item.get("exit_ok", True)
    error = _run_python(item["code"], item["first"], namespace, path=path, exit_ok=exit_ok)
    if error is not None:
        own = range(item["first"] + 1, item["first"] + len(item["code"].splitlines()) + 1)
        lines = error.pop("lines")
        error["line"] = next((n for n in reversed(lines) if n in own), error["line"])
    return error


def _run_python(
    code: str, first: int, namespace: dict[str, Any], *, path: str, exit_ok: bool = True
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
        return None if exit_ok and exc.code in (None, 0) else _describe(exc, path)
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


class _Transcript(doctest.DocTestRunner):
    """Keeps the first failing statement of a REPL transcript, at the note's own line."""

    def __init__(self, first: int) -> None:
        flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
        super().__init__(verbose=False, optionflags=flags)
        self.first = first
        self.errors: list[dict[str, Any]] = []

    def report_failure(self, out: Any, test: Any, example: Any, got: str) -> None:  # noqa: PLR0917 - doctest's signature
        diff = doctest.OutputChecker().output_difference(example, got, self.optionflags)
        line = self.first + example.lineno + 1
        self._keep(f"doctest: output differs for the statement at line {line}", line, diff)

    def report_unexpected_exception(  # noqa: PLR0917 - doctest's signature
        self, out: Any, test: Any, example: Any, exc_info: Any
    ) -> None:
        exc = exc_info[1]
        message = traceback.format_exception_only(type(exc), exc)[-1].strip()
        trace = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        name = exc.name if isinstance(exc, NameError) else None
        self._keep(message, self.first + example.lineno + 1, trace, name=name)

    def _keep(self, message: str, line: int, details: str, *, name: str | None = None) -> None:
        self.errors.append({"message": message, "line": line, "name": name, "traceback": details})


def _run_doctest(
    item: Mapping[str, Any], namespace: dict[str, Any], *, path: str
) -> dict[str, Any] | None:
    """Each `>>>` statement in the note's namespace, its expected output compared."""
    test = doctest.DocTestParser().get_doctest(item["code"], {}, path, path, item["first"])
    test.globs = namespace  # get_doctest copies; the note's examples share one namespace
    runner = _Transcript(item["first"])
    runner.run(test, out=lambda _text: None, clear_globs=False)
    if not runner.errors:
        return None
    error = runner.errors[0]
    error["traceback"] = "\n".join(e["traceback"].rstrip() for e in runner.errors)
    return error


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
