"""The link between the judge and the candidate: what crosses it, and what a proxy can do.

Both ends run in this process here (the candidate's end serves in a thread), so the rules are
tested without a sandbox: plain values cross by value, everything else stays a proxy that
equals only itself, the judge's end answers only calls, and malformed data is refused.
"""

from __future__ import annotations

import collections
import datetime
import math
import socket
import threading
from collections.abc import Iterator
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest

from vaultttc.sandbox import wire

Point = collections.namedtuple("Point", "x y")
PLAIN: list[Any] = [
    None, True, 0, -7, 10**5000, 1.5, float("inf"), "é\n", b"\x00\xff", bytearray(b"ab"),
    3 + 4j, [1, [2, [3]]], (1, (2,)), {1, 2}, frozenset({"a"}), {1: {"k": (2, 3)}}, range(1, 9, 2),
    Fraction(1, 3), Decimal("0.1"), datetime.date(2024, 2, 29), datetime.timedelta(hours=5),
    datetime.datetime(2024, 1, 2, 3, 4, 5), collections.deque([1, 2], maxlen=3),
    collections.Counter("abca"), collections.OrderedDict(b=1, a=2),
    collections.defaultdict(list, {1: [2]}), Point(1, 2),
]  # fmt: skip


class Always:
    def __eq__(self, other: object) -> bool:
        return True

    def __hash__(self) -> int:
        return 0


class Box:
    def __init__(self) -> None:
        self.items: list[int] = []

    def add(self, x: int) -> None:
        self.items.append(x)

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[int]:
        return iter(self.items)


def candidate_namespace() -> dict[str, Any]:
    def double_all(xs: list[int]) -> None:
        xs[:] = [2 * x for x in xs]

    def apply(f: Any, x: Any) -> Any:
        return f(f(x))

    def boom() -> None:
        raise KeyError("missing")

    def peek(f: Any) -> Any:
        return f.__globals__  # a callback of the judge's: only callable

    def always() -> Always:
        return Always()

    return {"Box": Box, "double_all": double_all, "apply": apply, "boom": boom, "peek": peek,
            "always": always, "value": 42}  # fmt: skip


@pytest.fixture
def judge() -> Iterator[wire.Link]:
    ours, theirs = socket.socketpair()
    served = wire.Link(theirs, names=candidate_namespace(), serves=frozenset(wire.ASKS) | {"get"})
    thread = threading.Thread(target=served.serve, daemon=True)
    thread.start()
    yield wire.Link(ours, names=None, serves=frozenset({"call"}))
    ours.close()
    thread.join(timeout=10)
    theirs.close()


@pytest.mark.parametrize("value", PLAIN, ids=lambda v: type(v).__name__)
def test_plain_values_cross_by_value(value: Any) -> None:
    link = wire.Link(socket.socket(), names={}, serves=frozenset(wire.ASKS))
    back = link.decode(link.encode(value))
    assert type(back).__name__ == type(value).__name__
    if isinstance(value, float) and math.isnan(value):
        assert math.isnan(back)
    else:
        assert back == value
        assert type(value) is int or repr(back) == repr(value)


@pytest.mark.parametrize(
    "data",
    [{"~": "zz", "v": 1}, {"~": "t", "v": 5}, {"~": "i", "v": "nothex"}, {"~": "y", "v": 12345},
     {"v": 1}, {"~": "d", "v": [[[1], 2]]}, {"~": "nt", "v": ["P", ["1bad"], [1]]},
     {"~": "t", "v": [], "extra": 1}],
)  # fmt: skip
def test_malformed_data_is_refused(data: Any) -> None:
    link = wire.Link(socket.socket(), names=None, serves=frozenset({"call"}))
    with pytest.raises(wire.WireError):
        link.decode(data)


def test_the_candidates_objects_are_proxies_that_compare_by_identity(judge: wire.Link) -> None:
    made = judge.get("always")()
    assert isinstance(made, wire.Proxy)
    assert made != 1
    assert made == made  # identity is all a proxy's equality is
    assert judge.compared
    with pytest.raises(TypeError):
        made < 1  # noqa: B015
    assert 1 not in [made]


def test_proxies_are_called_read_iterated_and_measured(judge: wire.Link) -> None:
    box = judge.get("Box")()
    box.add(3)
    box.add(4)
    assert (len(box), list(box), box.items, bool(box)) == (2, [3, 4], [3, 4], True)
    assert judge.get("value") == 42


def test_plain_arguments_the_candidate_changes_are_copied_back(judge: wire.Link) -> None:
    xs = [1, 2, 3]
    judge.get("double_all")(xs)
    assert xs == [2, 4, 6]


def test_the_judges_callables_cross_call_only(judge: wire.Link) -> None:
    assert judge.get("apply")(lambda v: v * 3, 2) == 18
    with pytest.raises(PermissionError):
        judge.get("peek")(lambda: None)


def test_the_judges_other_objects_do_not_cross(judge: wire.Link) -> None:
    with pytest.raises(TypeError, match="cannot be handed to the candidate"):
        judge.get("apply")(lambda v: v, Always())


def test_exceptions_come_back_as_builtins_by_name_never_as_system_exit(judge: wire.Link) -> None:
    with pytest.raises(KeyError):
        judge.get("boom")()
    with pytest.raises(NameError):
        judge.get("nothing_by_this_name")
    link = wire.Link(socket.socket(), names=None, serves=frozenset({"call"}))
    with pytest.raises(wire.CandidateError):
        link._reply({"e": ["SystemExit", "0"]})
