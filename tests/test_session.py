"""The kept session on disk: the codec builds states back exactly and only from known types; the store
writes atomically, names each array once, deletes what no session names, and tells a crash from a quit."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from studio.engines.style.params import StyleParams
from studio.session import SESSION_FILE, SessionStore
from studio.session_codec import Decoder, SessionFormatError, encode


@dataclass(frozen=True, eq=False)
class Layer:
    rgb: np.ndarray
    where: tuple[float, float] = (0.0, 0.0)


@dataclass(frozen=True, eq=False)
class State:
    params: StyleParams
    layer: Layer | None = None
    path: Path = Path("/tmp/x.png")
    names: tuple[str, ...] = ()
    weights: dict = field(default_factory=dict)


def _round_trip(obj, types):
    arrays: dict[str, np.ndarray] = {}

    def put(a):
        name = f"{len(arrays):032x}"
        arrays[name] = a.copy()
        return name

    data = json.loads(json.dumps(encode(obj, put)))
    return Decoder(types, arrays.__getitem__).decode(data), arrays


def test_a_state_comes_back_with_its_arrays_tuples_paths_and_parameters():
    rgb = np.random.default_rng(1).random((5, 7, 3), dtype=np.float32)
    state = State(StyleParams(style_weight=1234.0, size=320), Layer(rgb, (3.5, -2.0)), Path("/a/b.png"),
                  ("one", "two"), {"inf": math.inf, "n": 3})
    back, arrays = _round_trip(state, [State, Layer, StyleParams])
    assert isinstance(back, State) and back.params == state.params
    assert back.params.style_weight == 1234.0 and back.params.size == 320
    assert np.array_equal(back.layer.rgb, rgb) and back.layer.where == (3.5, -2.0)
    assert back.path == Path("/a/b.png") and back.names == ("one", "two")
    assert back.weights == {"inf": math.inf, "n": 3}
    assert len(arrays) == 1


def test_the_decoder_builds_only_the_types_it_is_given():
    data = {"dataclass": "os.system", "fields": {"map": {}}}
    with pytest.raises(SessionFormatError, match="does not know"):
        Decoder([State], lambda n: np.zeros(1)).decode(data)
    deep = [1]
    for _ in range(40):
        deep = [deep]
    with pytest.raises(SessionFormatError, match="deeply"):
        Decoder([], lambda n: np.zeros(1)).decode(deep)
    with pytest.raises(SessionFormatError, match="not valid"):
        Decoder([StyleParams], lambda n: np.zeros(1)).decode(
            {"params": "studio.engines.style.params.StyleParams", "fields": {"map": {"size": {"float": "nan"}}}})


def test_an_unknown_object_is_refused_when_kept():
    with pytest.raises(SessionFormatError, match="cannot be kept"):
        encode({"f": object()}, lambda a: "x")


def _doc(store: SessionStore, arrays: list[np.ndarray]) -> dict:
    return {"workspaces": {}, "arrays": sorted(store.name_of(a) for a in arrays)}


def test_the_store_writes_arrays_once_and_deletes_those_no_session_names(tmp_path):
    store = SessionStore(tmp_path / "s")
    prev = store.open()
    assert prev.doc is None and prev.clean
    a, b = np.ones((4, 4), np.float32), np.zeros((2, 2), np.uint8)
    assert store.name_of(a) == store.name_of(a) != store.name_of(b)
    store.save(_doc(store, [a, b]))
    assert store.flush(10)
    files = sorted(p.stem for p in (tmp_path / "s" / "arrays").glob("*.npy"))
    assert files == sorted([store.name_of(a), store.name_of(b)])
    mtime = (tmp_path / "s" / "arrays" / f"{store.name_of(a)}.npy").stat().st_mtime_ns
    store.save(_doc(store, [a]))  # b is no longer used
    assert store.flush(10)
    assert [p.stem for p in (tmp_path / "s" / "arrays").glob("*.npy")] == [store.name_of(a)]
    assert (tmp_path / "s" / "arrays" / f"{store.name_of(a)}.npy").stat().st_mtime_ns == mtime  # not rewritten
    assert not list((tmp_path / "s").rglob("*.tmp"))
    assert store.close()
    again = SessionStore(tmp_path / "s")
    prev = again.open()
    assert prev.clean and prev.doc is not None and prev.saved_at
    assert np.array_equal(again.array(prev.doc["arrays"][0]), a)
    again.close()


def test_a_session_that_ended_without_a_quit_is_told_apart(tmp_path):
    store = SessionStore(tmp_path / "s")
    store.open()
    store.save({"workspaces": {}, "arrays": []})
    assert store.flush(10)
    # no close(): as after a kill
    prev = SessionStore(tmp_path / "s").open()
    assert prev.doc is not None and not prev.clean


def test_a_damaged_session_file_starts_afresh_and_array_names_are_checked(tmp_path):
    folder = tmp_path / "s"
    folder.mkdir()
    (folder / SESSION_FILE).write_text("{not json")
    store = SessionStore(folder)
    prev = store.open()
    assert prev.doc is None and prev.problem is not None and "could not be read" in prev.problem
    aside = [p.name for p in folder.glob("session-*.unreadable.json")]
    assert len(aside) == 1 and aside[0] in prev.problem  # set aside, so the next save does not overwrite it
    assert (folder / aside[0]).read_text() == "{not json"
    with pytest.raises(ValueError, match="not an array name"):
        store.array("../../etc/passwd")
    store.close()


def test_a_session_file_that_is_a_fifo_or_a_device_is_never_read(tmp_path):
    import os

    for kind in ("fifo", "device"):
        folder = tmp_path / kind
        folder.mkdir()
        if kind == "fifo":
            os.mkfifo(folder / SESSION_FILE)  # reading it would wait forever
        else:
            os.symlink("/dev/zero", folder / SESSION_FILE)  # size 0, endless to read
        store = SessionStore(folder)
        prev = store.open()
        assert prev.doc is None and prev.problem == "The last session (session.json) is not a regular file."
        store.close()


def test_a_kept_array_is_checked_by_its_header_before_it_is_allocated(tmp_path):
    import os
    import struct

    store = SessionStore(tmp_path / "s")
    store.open()
    arrays = tmp_path / "s" / "arrays"

    def header_only(name: str, shape: tuple, descr: str = "<f4") -> str:
        text = f"{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape!r}, }}"
        text += " " * (((len(text) + 11 + 63) // 64) * 64 - len(text) - 11) + "\n"
        (arrays / f"{name}.npy").write_bytes(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text.encode()
                                            + b"\0" * 64)
        return name

    for name in (header_only("a" * 32, (200000, 200000, 3)),  # 447 GiB declared in 192 bytes
                 header_only("b" * 32, (4,), "<U8")):  # text, not numbers
        with pytest.raises(ValueError, match=f"{name}.npy is not an array studio wrote"):
            store.array(name)
    np.save(arrays / ("c" * 32 + ".npy"), np.zeros((0, 3), np.float32))
    with pytest.raises(ValueError, match="is not an array studio wrote"):
        store.array("c" * 32)
    os.mkfifo(arrays / ("d" * 32 + ".npy"))
    with pytest.raises(ValueError, match="is missing or not a regular file"):
        store.array("d" * 32)
    np.save(arrays / ("e" * 32 + ".npy"), np.ones((2, 3), np.float32))
    assert store.array("e" * 32).shape == (2, 3)
    store.close()
