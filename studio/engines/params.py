"""The base of every engine's parameters dataclass, and building one from a plain dict (a recipe, a
settings file, a checkpoint) with type checks.

A recipe is a user's file: a hand-edited or foreign one must give one clear sentence naming the
value, not a traceback deep inside an engine. Unknown keys are ignored (a newer studio may have
written them); lists become tuples.
"""

from __future__ import annotations

import functools
import types
import typing
from dataclasses import asdict, fields, replace
from typing import Any, ClassVar, Literal, Self, TypeVar

from studio.engines.errors import StudioInputError

T = TypeVar("T")


def _describe(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is Literal:
        return " or ".join(repr(a) for a in typing.get_args(tp))
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(a) for a in typing.get_args(tp))
    if origin is tuple:
        return f"a list of {_describe(typing.get_args(tp)[0])}s"
    return {bool: "true or false", int: "a whole number", float: "a number", str: "text",
            type(None): "null"}.get(tp, str(tp))


def _coerce(value: Any, tp: Any) -> tuple[bool, Any]:
    """(ok, value converted to ``tp``)."""
    origin = typing.get_origin(tp)
    if origin is Literal:
        return (value in typing.get_args(tp)), value
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(tp):
            ok, v = _coerce(value, arg)
            if ok:
                return True, v
        return False, value
    if origin is tuple:
        if not isinstance(value, list | tuple):
            return False, value
        item = typing.get_args(tp)[0]
        out = []
        for v in value:
            ok, c = _coerce(v, item)
            if not ok:
                return False, value
            out.append(c)
        return True, tuple(out)
    if tp is type(None):
        return value is None, value
    if tp is bool:
        return isinstance(value, bool), value
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool), value
    if tp is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return ok, float(value) if ok else value
    if tp is str:
        return isinstance(value, str), value
    return True, value


@functools.cache
def _type_hints(cls: type) -> dict[str, Any]:
    """``typing.get_type_hints`` of a parameters class, once (it evaluates every annotation: 1 ms a call, which a
    kept session of 3,000 results made 6 s)."""
    return typing.get_type_hints(cls)


def params_from_dict(cls: type[T], d: dict[str, Any], what: str = "recipe") -> T:
    """``cls(**d)`` for the keys ``cls`` knows, each checked against its field's type."""
    if not isinstance(d, dict):
        raise StudioInputError(f"the {what}'s parameters are not a table of names and values")
    hints = _type_hints(cls)
    kw: dict[str, Any] = {}
    for f in fields(cls):  # type: ignore[arg-type]
        if f.name not in d:
            continue
        ok, value = _coerce(d[f.name], hints[f.name])
        if not ok:
            raise StudioInputError(f"the {what}'s value {f.name} must be {_describe(hints[f.name])}, "
                                   f"got {d[f.name]!r}")
        kw[f.name] = value
    return cls(**kw)


class Params:
    """The base of every engine's (frozen) parameters dataclass: ``to_dict`` (tuples as lists, ready for
    JSON), ``from_dict`` (unknown keys ignored, lists become tuples, a wrongly typed value is one sentence
    naming it) and ``with_changes``. ``SOURCE`` names where such a dict comes from, for the message."""

    SOURCE: ClassVar[str] = "recipe"
    #: the range of each numeric field (``studio.engines.limits``), checked whenever one is made
    LIMITS: ClassVar[dict[str, Any]] = {}
    #: for an engine with a feature network: the source ``weights="auto"`` tries first (None: the best installed)
    AUTO_FIRST: ClassVar[str | None] = None

    def __post_init__(self) -> None:
        from studio.engines.limits import check_limits

        check_limits(self)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)  # type: ignore[call-overload]
        return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Self:
        return params_from_dict(cls, d, what=cls.SOURCE)

    def with_changes(self, **changes: Any) -> Self:
        return replace(self, **changes)  # type: ignore[type-var]
