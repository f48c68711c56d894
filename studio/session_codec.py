"""Workspace states as JSON plus arrays: how the kept session writes a tab's inputs and settings.

A state is a tree of frozen dataclasses (parameters, loaded images, layers, selections), tuples,
numbers, strings, paths and numpy arrays. ``encode`` turns it into JSON-able data and hands each
array to ``put_array`` (which names it); ``decode`` builds it again, but only from the dataclasses
it is given (an allow-list: a session file names a type, it never chooses code to run). A parameters
dataclass (one with ``to_dict``/``from_dict``) goes through those, so its ranges are checked again
and a field added in a later version takes its default.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable
from pathlib import Path, PurePath
from typing import Any

import numpy as np

MAX_DEPTH = 24  # states nest a few levels; a deeper file is not one of ours


class SessionFormatError(ValueError):
    """The kept data does not describe a state this version can build."""


def type_name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def encode(obj: Any, put_array: Callable[[np.ndarray], str], depth: int = 0) -> Any:
    """JSON-able data for ``obj``; arrays go to ``put_array`` (which returns their name)."""
    if depth > MAX_DEPTH:
        raise SessionFormatError("the state nests too deeply to keep")
    if obj is None or isinstance(obj, bool | str):
        return obj
    if isinstance(obj, int | np.integer):
        return int(obj)
    if isinstance(obj, float | np.floating):
        value = float(obj)
        return value if math.isfinite(value) else {"float": repr(value)}
    if isinstance(obj, np.ndarray):
        return {"array": put_array(obj)}
    if isinstance(obj, PurePath):
        return {"path": str(obj)}
    if isinstance(obj, tuple):
        return {"tuple": [encode(v, put_array, depth + 1) for v in obj]}
    if isinstance(obj, list):
        return [encode(v, put_array, depth + 1) for v in obj]
    if isinstance(obj, dict):
        if not all(isinstance(k, str) for k in obj):
            raise SessionFormatError("a mapping with keys that are not text cannot be kept")
        return {"map": {k: encode(v, put_array, depth + 1) for k, v in obj.items()}}
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        cls = type(obj)
        if hasattr(obj, "to_dict") and hasattr(cls, "from_dict"):
            return {"params": type_name(cls), "fields": encode(obj.to_dict(), put_array, depth + 1)}
        values = {f.name: encode(getattr(obj, f.name), put_array, depth + 1)
                  for f in dataclasses.fields(obj) if f.init}
        return {"dataclass": type_name(cls), "fields": {"map": values}}
    raise SessionFormatError(f"a {type(obj).__name__} cannot be kept in the session")


class Decoder:
    """Builds states from ``encode``'s data, with only the dataclasses in ``types``."""

    def __init__(self, types: Iterable[type], get_array: Callable[[str], np.ndarray]) -> None:
        self.types = {type_name(t): t for t in types}
        self.get_array = get_array

    def decode(self, data: Any, depth: int = 0) -> Any:
        if depth > MAX_DEPTH:
            raise SessionFormatError("the kept state nests too deeply")
        if data is None or isinstance(data, bool | int | float | str):
            return data
        if isinstance(data, list):
            return [self.decode(v, depth + 1) for v in data]
        if not isinstance(data, dict) or len(data) not in (1, 2):
            raise SessionFormatError("the kept state has an entry of an unknown form")
        if "float" in data:
            text = data["float"]
            if text not in ("inf", "-inf", "nan"):
                raise SessionFormatError(f"{text!r} is not a number studio writes")
            return float(text)
        if "array" in data:
            return self.get_array(str(data["array"]))
        if "path" in data:
            return Path(str(data["path"]))
        if "tuple" in data:
            return tuple(self.decode(v, depth + 1) for v in self._list(data["tuple"]))
        if "map" in data:
            return {str(k): self.decode(v, depth + 1) for k, v in self._map(data["map"]).items()}
        kind = "params" if "params" in data else "dataclass" if "dataclass" in data else None
        if kind is None:
            raise SessionFormatError("the kept state has an entry of an unknown form")
        cls = self.types.get(str(data[kind]))
        if cls is None:
            raise SessionFormatError(f"the kept state names {data[kind]!r}, which this version does not know")
        fields = self.decode(data.get("fields"), depth + 1)
        if not isinstance(fields, dict):
            raise SessionFormatError(f"the kept {cls.__name__} has no fields")
        if kind == "params":
            try:
                return cls.from_dict(fields)
            except (TypeError, ValueError) as exc:
                raise SessionFormatError(f"the kept {cls.__name__} is not valid: {exc}") from exc
        known = {f.name for f in dataclasses.fields(cls) if f.init}
        try:
            return cls(**{k: v for k, v in fields.items() if k in known})
        except (TypeError, ValueError) as exc:
            raise SessionFormatError(f"the kept {cls.__name__} is not valid: {exc}") from exc

    @staticmethod
    def _list(value: Any) -> list:
        if not isinstance(value, list):
            raise SessionFormatError("the kept state has a malformed list")
        return value

    @staticmethod
    def _map(value: Any) -> dict:
        if not isinstance(value, dict):
            raise SessionFormatError("the kept state has a malformed mapping")
        return value
