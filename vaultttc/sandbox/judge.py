"""The judge: a task's tests run in a process of their own, against the candidate over a link.

A judged run is two processes the jail forks side by side, joined by a socket (`wire.Link`):
the candidate's, which runs its program and then `serve`s, and the judge's, which runs
`judge`: the stub's imports (executed here, from the note), then the names the tests take
from the candidate (the entry point and the tests' other free names, as `wire.Proxy`s or
plain values), then each test statement or docstring example on its own, and returns a
report the jail passes on. Every comparison, assertion and `repr` of a plain value happens
here, with this process's own builtins; the candidate can answer calls, not change how they
are judged, and it never holds the channel the report goes out on. In probe mode (behaviour
voting) the judge records the `repr` of each probe call's result instead; in check mode it
runs a question's `python check` fence once, on the run's `answer` and `completion` (strings
the parent handed it, not the candidate), with the candidate's names at hand as for tests.
After tests or a check, when the job has probe calls, it makes them too: one run gives the
verdict and the program's behaviour. The report comes in parts (`judge` yields them; the
jail writes one JSON line each and merges them), the verdict first, so probes that run out
of time cannot take the verdict with them.

Must not: import anything but the stdlib and its stdlib-only siblings (`wire`, `values`: the
jail loads them by path), or run the candidate's code.
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import io
import socket
import traceback

from vaultttc.sandbox import wire

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any, Literal, NotRequired, TypedDict

    class Job(TypedDict):
        mode: Literal["tests", "probe", "check"]
        tests: list[tuple[str, str, str, bool]]  # (kind "stmt"/"example", source, want, counts)
        prelude: list[str]  # the stub's import statements, run in the judge
        names: list[str]  # what the tests take from the candidate
        calls: list[str]  # probe mode, and check mode for code: the calls to record
        budget: float  # seconds per probe call
        check: NotRequired[str]  # check mode: the `python check` fence, run on each run's data


__all__ = ["judge", "serve"]

_ENDED = "the program ended before its tests"


def serve(namespace: dict[str, Any], sock: socket.socket, *, alarm: float | None) -> None:
    """In the candidate's process, after its program ran: answer the judge until it is done."""
    link = wire.Link(sock, names=namespace, serves=frozenset(wire.ASKS) | {"get", "alarm", "calls"})
    if alarm:
        link.alarm = alarm
    link.send({"ready": True})
    link.serve()


def judge(job: Job, sock: socket.socket, *, data: Any = None) -> Iterator[dict[str, Any]]:
    """In the judge's process: run the job's tests, probes or check and yield the report's
    parts (the report is their union).

    A check gets this run's `data`: the candidate's (answer, completion), as the parent gave
    them (never as the candidate's process holds them). The tests' or the check's verdict is
    the first part; the probes' results (code, with calls in the job) the second."""
    link = wire.Link(sock, names=None, serves=frozenset({"call"}))
    namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": builtins}
    for statement in job["prelude"]:
        with contextlib.suppress(Exception):
            exec(compile(statement, "<stub>", "exec"), namespace)
    ended = _ready(link)
    ready = ended is None
    for name in job["names"] if ready else ():
        with contextlib.suppress(NameError):
            namespace[name] = link.get(name)
    probes = dict(namespace)  # the probes see the candidate's names, not the tests' or check's
    if job["mode"] == "tests":
        yield _tests(job["tests"], namespace, link, ended=ended)
    elif job["mode"] == "check":
        answer, completion = data
        namespace.update(answer=answer, completion=completion, score=None)
        ended = ended and ended.replace("its tests", "its check")
        yield _check(job.get("check", ""), namespace, ended=ended)
    if job["mode"] != "probe":  # the verdict is out; probes follow when the job has calls
        if not job["calls"]:
            return
        ready = ready and _alarm(link, job["budget"])
    yield {"probes": _probes(job["calls"], probes, link, budget=job["budget"], ready=ready)}


def _ready(link: wire.Link) -> str | None:
    """None once the candidate's program has run to its end and serves; else what happened."""
    try:
        if link.recv() == {"ready": True}:
            return None
    except (wire.Gone, OSError):
        return _ENDED
    except wire.WireError:
        pass
    return "the program wrote something else than the tests' replies on their channel"


def _tests(
    tests: list[tuple[str, str, str, bool]], namespace: dict[str, Any], link: wire.Link, *,
    ended: str | None,
) -> dict[str, Any]:  # fmt: skip
    passed = counted = broken = 0
    failures: list[str] = []
    for kind, source, want, counts in tests:
        link.compared = False
        try:
            if ended is not None:
                raise wire.Gone(ended)
            if kind == "example":
                _example(source, want, namespace)
            else:
                exec(compile(source, "<tests>", "exec"), namespace)
            ok = True
        except BaseException as exc:  # whatever a test raises fails it
            ok, broken = False, broken + 1
            failures.append(_failure(source, exc, compared=link.compared))
        counted += counts
        passed += counts and ok
    return {"passed": passed, "counted": counted, "broken": broken, "failures": failures,
            "ended": ended}  # fmt: skip


def _check(source: str, namespace: dict[str, Any], *, ended: str | None) -> dict[str, Any]:
    """Run the check once: it passes when it raises nothing; `score`, when it sets a number
    from 0 to 1, is its partial credit (anything else fails it)."""
    if ended is not None:
        return {"passed": False, "score": None, "error": ended}
    passed, error = True, ""
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        try:
            exec(compile(source, "<check>", "exec"), namespace)
        except BaseException as exc:  # a check that raises or exits did not pass
            passed, error = False, _raised(exc)
    score = namespace.get("score")
    if score is None:
        return {"passed": passed, "score": None, "error": error}
    if type(score) not in (int, float, bool) or not 0.0 <= score <= 1.0:
        return {"passed": False, "score": None,
                "error": error or "score must be a number from 0 to 1"}  # fmt: skip
    return {"passed": passed, "score": float(score), "error": error}


def _raised(exc: BaseException) -> str:
    """`check line N: Type: message` for what a check raised."""
    try:
        text = str(exc)[:300]
    except Exception:  # a message that cannot be shown is left out
        text = ""
    frames = traceback.extract_tb(exc.__traceback__)
    lines = [f.lineno for f in frames if f.filename == "<check>"]
    where = f"check line {lines[-1]}: " if lines else ""
    return f"{where}{type(exc).__name__}: {text}".rstrip(": ")


def _failure(source: str, exc: BaseException, *, compared: bool) -> str:
    head = source.strip().splitlines()[0][:160] if source.strip() else ""
    try:
        text = str(exc)[:300]
    except Exception:  # a message that cannot be shown is left out
        text = ""
    hint = " (the candidate returned an object, not a plain value)" if compared else ""
    return f"FAILED {head}: {type(exc).__name__}: {text}{hint}"


def _example(source: str, want: str, namespace: dict[str, Any]) -> None:
    """A docstring example: its output (or its value's repr) must read like `want`."""
    buffer, value = io.StringIO(), None
    with contextlib.redirect_stdout(buffer):
        try:
            value = eval(compile(source, "<example>", "eval"), namespace)
            if value is not None:
                print(repr(value))
        except SyntaxError:
            exec(compile(source, "<example>", "exec"), namespace)
    got = buffer.getvalue().strip()
    if got == want or " ".join(got.split()) == " ".join(want.split()):
        return
    if not want and value is True:
        return  # `>>> f(x) == y` with no output line is meant as an assertion
    with contextlib.suppress(Exception):
        if not isinstance(value, wire.Proxy | None) and ast.literal_eval(want) == value:
            return
    raise AssertionError(f"{source}: expected {want}, got {got}")


def _alarm(link: wire.Link, budget: float) -> bool:
    """Ask the candidate to give each request `budget` seconds from now on, as in probe mode
    (False: it did not say yes; it gets no probes, and the verdict is already out)."""
    link.deadline(budget * 2 + 1.0)
    try:
        return link.ask("alarm", None, budget) is None
    except Exception:  # whatever the candidate did instead of saying yes
        return False
    finally:
        link.deadline(None)


def _probes(
    calls: list[str], namespace: dict[str, Any], link: wire.Link, *, budget: float, ready: bool
) -> list[str] | None:
    """The repr of each call's result ("!Error" for an exception); None: nothing ran.

    Calls of one candidate function with literal arguments (as `engine.probes` writes them)
    go in one request (`wire.Link.calls`); anything else is evaluated call by call."""
    if not ready:
        return None
    batch = _literal_calls(calls, namespace, link)
    if batch is None:
        return _one_by_one(calls, namespace, link, budget=budget)
    target, arguments = batch
    link.deadline(len(calls) * budget * 2 + 1.0)  # its own alarms should have fired by then
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            return [_shown(result, error) for result, error in link.calls(target, arguments)]
    except TimeoutError:  # it ignored its alarms: it is still busy, nothing more can run
        return ["!TimeoutError"] * len(calls)
    except BaseException as exc:  # the request as a whole failed: every call with it
        return ["!" + type(exc).__name__] * len(calls)
    finally:
        link.deadline(None)


def _literal_calls(
    calls: list[str], namespace: dict[str, Any], link: wire.Link
) -> tuple[wire.Proxy, list[tuple[list[Any], dict[str, Any]]]] | None:
    """(the candidate's function, each call's arguments) when every call is `name(literals)`
    of the same function of the candidate's; else None."""
    names, arguments = set(), []
    for source in calls:
        try:
            node = ast.parse(source, mode="eval").body
            if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
                return None
            args = [ast.literal_eval(a) for a in node.args]
            kwargs = {k.arg: ast.literal_eval(k.value) for k in node.keywords if k.arg}
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            return None
        names.add(node.func.id)
        arguments.append((args, kwargs))
    target = namespace.get(names.pop()) if len(names) == 1 else None
    if not isinstance(target, wire.Proxy) or target._vt_link is not link:
        return None
    return target, arguments


def _shown(result: Any, error: Exception | None) -> str:
    """A probe's record: its result's repr, made here, or "!" and its exception's type."""
    if error is not None:
        return "!" + type(error).__name__
    try:
        return repr(result)[:400]
    except BaseException as exc:  # a repr the candidate answers with an error
        return "!" + type(exc).__name__


def _one_by_one(
    calls: list[str], namespace: dict[str, Any], link: wire.Link, *, budget: float
) -> list[str]:
    seen: list[str] = []
    for index, source in enumerate(calls):
        link.deadline(budget * 2 + 1.0)  # the candidate's own alarm should have fired by then
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                seen.append(repr(eval(compile(source, "<probe>", "eval"), namespace))[:400])
        except TimeoutError:  # it ignored its alarm: it is still busy, nothing more can run
            seen += ["!TimeoutError"] * (len(calls) - index)
            break
        except BaseException as exc:  # a probe's exception is its result
            seen.append("!" + type(exc).__name__)
    link.deadline(None)
    return seen
