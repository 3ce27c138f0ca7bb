"""An object that lives on the other side of a link (`wire.Link`), as this side sees it.

Loaded by `jail.py` by path (stdlib only). Every use of a `Proxy` but comparison is a request
its link sends to the owner: calling it, reading or setting its attributes and items,
iterating it, asking its length, truth or repr. A proxy equals only itself: `__eq__` notes
that a comparison was tried (`Link.compared`) and answers NotImplemented, so nothing the
candidate does decides `f(x) == y`. `proxy_class` names the subclass after the remote type,
so messages name the candidate's type.

Must not: import anything but the stdlib, or hold anything but its link and the owner's id.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any, Literal, Protocol

    class Link(Protocol):  # what a proxy needs of its link (`wire.Link`)
        compared: bool

        def ask(self, op: str, target: Proxy | None, *args: Any) -> Any: ...

        def call(self, target: Proxy, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> Any: ...


__all__ = ["Proxy", "proxy_class"]


class Proxy:
    """An object that lives on the other side of a link."""

    __slots__ = ("__weakref__", "_vt_id", "_vt_link")
    _vt_link: Link
    _vt_id: int

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_vt_"):
            raise AttributeError(name)
        return self._vt_link.ask("getattr", self, name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name.startswith("_vt_"):
            object.__setattr__(self, name, value)
        else:
            self._vt_link.ask("setattr", self, name, value)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._vt_link.call(self, args, kwargs)

    def __getitem__(self, key: Any) -> Any:
        return self._vt_link.ask("getitem", self, key)

    def __setitem__(self, key: Any, value: Any) -> None:
        self._vt_link.ask("setitem", self, key, value)

    def __delitem__(self, key: Any) -> None:
        self._vt_link.ask("delitem", self, key)

    def __len__(self) -> int:
        return int(self._vt_link.ask("len", self))

    def __iter__(self) -> Any:
        return self._vt_link.ask("iter", self)

    def __next__(self) -> Any:
        return self._vt_link.ask("next", self)

    def __bool__(self) -> bool:
        return self._vt_link.ask("bool", self) is True

    def __repr__(self) -> str:
        return str(self._vt_link.ask("repr", self))

    def __str__(self) -> str:
        return str(self._vt_link.ask("str", self))

    def __enter__(self) -> Any:
        return self._vt_link.ask("enter", self)

    def __exit__(self, *exc: object) -> Literal[False]:
        self._vt_link.ask("exit", self)
        return False  # the candidate never swallows the judge's exceptions

    def __instancecheck__(self, obj: Any) -> bool:
        return self._vt_link.ask("isinstance", self, obj) is True

    def __eq__(self, other: object) -> bool:
        self._vt_link.compared = True
        return NotImplemented

    __hash__ = object.__hash__


def proxy_class(name: str, _made: dict[str, type[Proxy]] = {}) -> type[Proxy]:  # noqa: B006
    """A Proxy subclass named after the remote type, so messages name the candidate's type."""
    if name not in _made:
        safe = name if name.isidentifier() else "object"
        _made[name] = type(safe, (Proxy,), {"__slots__": (), "__module__": "candidate"})
    return _made[name]
