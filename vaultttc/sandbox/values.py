"""Plain values that cross a `wire.Link` by value although they are not JSON types.

The stdlib value types (Fraction, Decimal, dates and times, deque, Counter, OrderedDict,
defaultdict, namedtuples) as a tag and plain parts, and back as the receiver's own instances;
the copy-back of a call's changes to plain mutable arguments; exceptions rebuilt by name.

Must not: import anything but the stdlib (the jail loads it by path), or build anything but
the types named here.
"""

from __future__ import annotations

import builtins
import contextlib

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["MUTABLE", "error", "parts", "rebuild", "restore"]

MUTABLE = (list, dict, set, bytearray)


class CandidateError(Exception):
    """An exception of a type the receiving side does not rebuild, by name and message."""


def error(name: str, text: str = "") -> Exception:
    """The builtin exception `name` (an Exception, never SystemExit and the like), else a
    CandidateError naming it."""
    found = getattr(builtins, name, None)
    if isinstance(found, type) and issubclass(found, Exception):
        with contextlib.suppress(Exception):
            return found(text)
    return CandidateError(f"{name}: {text}" if text else name)


def restore(original: Any, value: Any) -> None:
    if type(original) is list and type(value) is list:
        original[:] = value
    elif type(original) in (dict, set) and type(value) is type(original):
        original.clear()
        original.update(value)
    elif type(original) is bytearray and type(value) is bytearray:
        original[:] = value


def parts(value: Any) -> tuple[str, Any] | None:
    """(tag, plain parts) for the stdlib value types that cross by value."""
    module = type(value).__module__
    if module == "fractions" and type(value).__name__ == "Fraction":
        return "frac", [value.numerator, value.denominator]
    if module == "decimal" and type(value).__name__ == "Decimal":
        return "dec", str(value)
    if module == "datetime" and type(value).__name__ in ("date", "datetime", "time"):
        return type(value).__name__, value.isoformat()
    if module == "datetime" and type(value).__name__ == "timedelta":
        return "td", [value.days, value.seconds, value.microseconds]
    if module == "collections":
        return _collection(value)
    fields = getattr(type(value), "_fields", None)
    if isinstance(value, tuple) and type(fields) is tuple and all(type(f) is str for f in fields):
        return "nt", [type(value).__name__, list(fields), list(value)]
    return None


def _collection(value: Any) -> tuple[str, Any] | None:
    name = type(value).__name__
    if name == "deque":
        return "deque", [list(value), value.maxlen]
    if name in ("Counter", "OrderedDict"):
        return name, list(map(list, value.items()))
    if name == "defaultdict":
        factory = value.default_factory
        known = factory in (int, float, str, list, dict, set, tuple, bool)
        return "dd", [factory.__name__ if known else None, list(map(list, value.items()))]
    return None


def rebuild(tag: str, parts: Any) -> Any:
    """The receiver's own instance of a stdlib value type, from its plain parts."""
    if tag == "frac":
        from fractions import Fraction

        return Fraction(*parts)
    if tag == "dec":
        from decimal import Decimal

        return Decimal(parts)
    if tag in ("date", "datetime", "time", "td"):
        import datetime

        if tag == "td":
            return datetime.timedelta(*parts)
        return getattr(datetime, tag).fromisoformat(parts)
    import collections

    if tag == "deque":
        return collections.deque(*parts)
    if tag in ("Counter", "OrderedDict"):
        return getattr(collections, tag)({key: value for key, value in parts})
    if tag == "dd":
        factory = getattr(builtins, parts[0]) if parts[0] else None
        return collections.defaultdict(factory, {key: value for key, value in parts[1]})
    if tag == "nt":
        return _namedtuple(parts[0], tuple(parts[1]))(*parts[2])
    raise ValueError(f"unknown value type {tag!r}")


def _namedtuple(name: str, fields: tuple[str, ...], _made: dict[Any, Any] = {}) -> Any:  # noqa: B006
    if (name, fields) not in _made:
        import collections

        _made[name, fields] = collections.namedtuple(name, fields)
    return _made[name, fields]
