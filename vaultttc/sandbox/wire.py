"""Values between two sandboxed processes: the judge's link to the candidate and back.

The judge (`judge.py`, the tests) and the candidate program run in separate processes joined
by a socket. What crosses it is plain data only, re-built by the receiver from JSON: None,
bools, numbers, strings, bytes, lists, tuples, dicts, sets, and a few stdlib value types
(Fraction, Decimal, dates and times, deque, Counter, OrderedDict, defaultdict, namedtuples,
which the receiver makes from its own classes). Anything else stays where it is and is seen
on the other side as a `Proxy`: calling it, reading its attributes or items, iterating it or
asking its length, truth or repr is a request the owner answers with more plain values.
Comparisons and membership are never asked: a proxy equals only itself, so whatever decides
`f(x) == y` runs in the judge, on values the candidate committed to before seeing `y`.
The judge's side of a link answers only calls of the callables it handed over. `calls` makes
many calls of one callable in one request (probes: each call on its own alarm, each result
or exception coming back as it would from its own `call`), so forty probes cost one round
trip, not forty.

Must not: import anything but the stdlib and `values` (the jail loads both by path), or build
anything from the data but the types named above.
"""

from __future__ import annotations

import contextlib
import io
import json
import select
import signal
import socket
import sys
import time
import weakref

from vaultttc.sandbox import values
from vaultttc.sandbox.proxy import Proxy, proxy_class
from vaultttc.sandbox.values import CandidateError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping, Sequence
    from typing import Any

__all__ = ["ASKS", "CandidateError", "Gone", "Link", "Proxy", "WireError"]

MAX_FRAME = 64 * 1024 * 1024
_DEPTH = 100
ASKS = ("call", "getattr", "setattr", "getitem", "setitem", "delitem", "len", "iter", "next",
         "bool", "repr", "str", "enter", "exit", "isinstance")  # fmt: skip
_SCALARS = (type(None), bool, str, float)
_TAGGED: dict[type, str] = {tuple: "t", set: "s", frozenset: "fs", dict: "d", bytes: "b",
                            bytearray: "ba", complex: "c", range: "r"}  # fmt: skip


class WireError(Exception):
    """The other side sent something that is not a well-formed message."""


class Gone(Exception):
    """The other side closed the link (its program ended or was killed)."""


class Link:
    """One end of the socket: encodes, sends, receives, and answers the other side's asks.

    `names` is what the other side may look up by name (the candidate's namespace); `serves`
    the requests this end answers. `ask` waits for its reply, answering nested requests (a
    callback that calls back) meanwhile.
    """

    def __init__(
        self, sock: socket.socket, *, names: Mapping[str, Any] | None, serves: frozenset[str]
    ) -> None:
        self.sock = sock
        self.names = names
        self.serves = serves
        self.compared = False
        self.alarm: float | None = None  # seconds each answered request may take
        self._own: dict[int, Any] = {}
        self._proxies: weakref.WeakValueDictionary[int, Proxy] = weakref.WeakValueDictionary()
        self._depth = 0
        self._deadline: float | None = None

    # --- values --------------------------------------------------------------------------

    def encode(self, value: Any, depth: int = 0) -> Any:
        kind = type(value)
        if kind in _SCALARS or (kind is int and value.bit_length() < 4096):
            return value
        if isinstance(value, Proxy) and value._vt_link is self:
            return {"~": "y", "v": value._vt_id}
        if depth > _DEPTH:
            return self._handle(value)
        if kind is list:
            return [self.encode(v, depth + 1) for v in value]
        tag = _TAGGED.get(kind)
        if tag is not None:
            return {"~": tag, "v": self._parts(tag, value, depth)}
        special = values.parts(value)
        if special is not None:
            return {"~": special[0], "v": self.encode(special[1], depth + 1)}
        if kind is int:
            return {"~": "i", "v": hex(value)}
        return self._handle(value)

    def _parts(self, tag: str, value: Any, depth: int) -> Any:
        if tag == "d":
            return [
                [self.encode(k, depth + 1), self.encode(v, depth + 1)] for k, v in value.items()
            ]
        if tag in ("b", "ba"):
            return bytes(value).hex()
        if tag == "c":
            return [value.real, value.imag]
        if tag == "r":
            return [value.start, value.stop, value.step]
        return [self.encode(v, depth + 1) for v in value]

    def _handle(self, value: Any) -> Any:
        if "getattr" not in self.serves and not callable(value):
            raise TypeError(
                f"a {type(value).__name__} cannot be handed to the candidate: only plain values,"
                " callables and the candidate's own objects"
            )
        self._own[id(value)] = value
        return {"~": "p", "v": id(value), "n": type(value).__name__[:80]}

    def decode(self, data: Any) -> Any:
        if data is None or type(data) in (bool, int, float, str):
            return data
        if type(data) is list:
            return [self.decode(v) for v in data]
        if type(data) is not dict or set(data) - {"~", "v", "n"}:
            raise WireError("malformed value")
        tag, raw = data.get("~"), data.get("v")
        try:
            return self._build(tag, raw, data.get("n"))
        except WireError:
            raise
        except Exception as exc:  # anything the data makes a constructor raise is malformed
            raise WireError(f"malformed {tag!r} value: {type(exc).__name__}") from None

    def _build(self, tag: Any, raw: Any, name: Any) -> Any:
        if tag == "y":
            return self._own[raw]
        if tag == "p":
            return self._proxy(int(raw), str(name or "object"))
        if tag == "i":
            return int(raw, 16)
        if tag == "d":
            return {self.decode(k): self.decode(v) for k, v in raw}
        simple: dict[str, Callable[[Any], Any]] = {
            "t": lambda r: tuple(self.decode(r)), "s": lambda r: set(self.decode(r)),
            "fs": lambda r: frozenset(self.decode(r)), "b": bytes.fromhex,
            "ba": lambda r: bytearray.fromhex(r), "c": lambda r: complex(*r),
            "r": lambda r: range(*r),
        }  # fmt: skip
        if tag in simple and type(raw) in (list, str):
            return simple[tag](raw)
        return values.rebuild(str(tag), self.decode(raw))

    def _proxy(self, ident: int, name: str) -> Proxy:
        proxy = self._proxies.get(ident)
        if proxy is None:
            proxy = proxy_class(name)()
            object.__setattr__(proxy, "_vt_link", self)
            object.__setattr__(proxy, "_vt_id", ident)
            self._proxies[ident] = proxy
        return proxy

    # --- messages ------------------------------------------------------------------------

    def send(self, message: Mapping[str, Any]) -> None:
        data = json.dumps(message, separators=(",", ":")).encode()
        if len(data) > MAX_FRAME:
            raise WireError("message too large")
        self.sock.sendall(len(data).to_bytes(4, "big") + data)

    def recv(self) -> dict[str, Any]:
        size = int.from_bytes(self._exactly(4), "big")
        if size > MAX_FRAME:
            raise WireError("message too large")
        try:
            message = json.loads(self._exactly(size))
        except ValueError:
            raise WireError("not JSON") from None
        if type(message) is not dict:
            raise WireError("not a message")
        return message

    def _exactly(self, size: int) -> bytes:
        chunks, left = [], size
        while left:
            if self._deadline is not None:
                wait = self._deadline - time.monotonic()
                if wait <= 0 or not select.select([self.sock], [], [], wait)[0]:
                    raise TimeoutError("no reply in time")
            chunk = self.sock.recv(min(left, 1 << 20))
            if not chunk:
                raise Gone("the other side has ended")
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)

    def call(self, target: Proxy, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> Any:
        """Call `target`; plain mutable arguments get the candidate's changes copied back."""
        result, changed = self._ask("call", target, list(args), kwargs=dict(kwargs))
        for key, value in changed:
            original = args[key] if type(key) is int and key < len(args) else kwargs.get(key)
            values.restore(original, value)
        return result

    def calls(
        self, target: Proxy, calls: Sequence[tuple[list[Any], dict[str, Any]]]
    ) -> list[tuple[Any, Exception | None]]:
        """Call `target` once per (args, kwargs) in one request: per call, (result, None) or
        (None, the exception it raised, as `call` would raise it)."""
        found = self.ask("calls", target, [[list(a), dict(k)] for a, k in calls])
        if type(found) is not list or len(found) != len(calls):
            raise WireError("not one reply per call")
        return [_outcome(item) for item in found]

    def ask(self, op: str, target: Proxy | None, *args: Any) -> Any:
        return self._ask(op, target, list(args), kwargs={})[0]

    def _ask(
        self, op: str, target: Proxy | None, args: list[Any], *, kwargs: dict[str, Any]
    ) -> tuple[Any, list[tuple[Any, Any]]]:
        if self._depth > _DEPTH:
            raise WireError("calls nested too deep")
        self.send({"q": op, "t": None if target is None else target._vt_id,
                   "a": self.encode(args), "k": self.encode(kwargs)})  # fmt: skip
        self._depth += 1
        try:
            while True:
                message = self.recv()
                if "q" in message:
                    self.answer(message)
                    continue
                return self._reply(message)
        finally:
            self._depth -= 1

    def _reply(self, message: dict[str, Any]) -> tuple[Any, list[tuple[Any, Any]]]:
        out = message.get("o")
        if type(out) is str and out:
            sys.stdout.write(out)
        if "e" in message:
            raise values.error(*(str(part) for part in list(message["e"])[:2]))
        changed = [(self.decode(k), self.decode(v)) for k, v in message.get("m", [])]
        return self.decode(message.get("r")), changed

    def get(self, name: str) -> Any:
        """The other side's value for `name` (NameError when it has none)."""
        return self.ask("get", None, name)

    def answer(self, message: Mapping[str, Any]) -> None:
        """Perform one request of the other side and send back its reply."""
        op = message.get("q")
        if op not in self.serves:
            self.send({"e": ["PermissionError", f"{op!r} is not answered here"]})
            return
        buffer = io.StringIO()
        try:
            target = None if message.get("t") is None else self._own[message["t"]]
            args, kwargs = self.decode(message.get("a", [])), self.decode(message.get("k", {}))
            alarm = None if op == "calls" else self.alarm  # `calls` times each call itself
            with contextlib.redirect_stdout(buffer), _alarm(alarm):
                reply = self._perform(str(op), target, args, kwargs=kwargs)
        except BaseException as exc:  # every failure becomes the caller's error
            reply = {"e": [type(exc).__name__, _text(exc)]}
        reply["o"] = buffer.getvalue()[: MAX_FRAME // 4]
        self.send(reply)

    def _perform(
        self, op: str, target: Any, args: list[Any], *, kwargs: dict[str, Any]
    ) -> dict[str, Any]:
        if op == "alarm":  # the judge sets the seconds each request may take from now on
            self.alarm = float(args[0]) if args and args[0] else None
            return {"r": None}
        if op == "get":
            if self.names is None or args[0] not in self.names:
                raise NameError(f"name {args[0]!r} is not defined by the candidate")
            return {"r": self.encode(self.names[args[0]])}
        if op == "calls":
            return {"r": [self._each(target, *call) for call in args[0]]}
        if op == "call":
            result = target(*args, **kwargs)
            pairs = [*enumerate(args), *kwargs.items()]
            moved = [[k, self.encode(v)] for k, v in pairs if type(v) in values.MUTABLE]
            return {"r": self.encode(result), "m": moved}
        return {"r": self.encode(_OPERATIONS[op](target, *args))}

    def _each(self, target: Any, args: list[Any], kwargs: dict[str, Any]) -> list[Any]:
        """One call of a `calls` request, on its own alarm: ["r", result] or ["e", type, text]."""
        try:
            with _alarm(self.alarm):
                return ["r", self.encode(target(*args, **kwargs))]
        except BaseException as exc:  # every failure is that call's error
            return ["e", type(exc).__name__, _text(exc)]

    def serve(self) -> None:
        """Answer requests until the other side closes the link."""
        with contextlib.suppress(Gone, OSError):
            while True:
                self.answer(self.recv())

    def deadline(self, seconds: float | None) -> None:
        """Replies must arrive within `seconds` from now (None: wait as long as it takes)."""
        self._deadline = None if seconds is None else time.monotonic() + seconds


def _outcome(item: Any) -> tuple[Any, Exception | None]:
    if type(item) is list and len(item) == 2 and item[0] == "r":
        return item[1], None
    if type(item) is list and len(item) == 3 and item[0] == "e":
        return None, values.error(str(item[1]), str(item[2])[:2000])
    raise WireError("malformed reply to a call")


def _text(exc: BaseException) -> str:
    try:
        return str(exc)[:2000]
    except Exception:  # a message that cannot be shown is left out
        return ""


@contextlib.contextmanager
def _alarm(seconds: float | None) -> Iterator[None]:
    """Interrupt the request with TimeoutError after `seconds` (the per-probe budget)."""
    if not seconds:
        yield
        return

    def expired(signum: int, frame: Any) -> None:
        raise TimeoutError("timed out")

    signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


_OPERATIONS: dict[str, Callable[..., Any]] = {
    "getattr": getattr, "setattr": setattr, "getitem": lambda o, k: o[k],
    "setitem": lambda o, k, v: o.__setitem__(k, v), "delitem": lambda o, k: o.__delitem__(k),
    "len": len, "iter": iter, "next": next, "bool": bool, "repr": repr, "str": str,
    "enter": lambda o: o.__enter__(), "exit": lambda o: o.__exit__(None, None, None),
    "isinstance": lambda o, x: isinstance(x, o),
}  # fmt: skip
