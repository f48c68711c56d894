"""The kept session: what the app writes as the artist works, so a quit, a crash or a kill loses nothing.

One folder (``paths.session_dir()``) holds ``session.json`` (each tab's state and history, as
``studio.session_codec`` encodes them) and ``arrays/`` (one ``.npy`` file per image or array the
states and results use, named once and never rewritten). A writer thread does the disk work, so a
16-megapixel result never stalls the window: the UI thread only hands it the newest document. Every
file is written to a temporary name and moved into place, and ``session.json`` is written after the
arrays it names, so what is on disk is always one whole session. Arrays no session names any more
are deleted.

``open`` marks the folder in use; ``close`` (a clean quit) removes the mark. A mark found at start
means the last session ended without a quit (a crash, a kill, a power cut): the app says so.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
import uuid
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from studio.engines.files import atomic_write, atomic_write_text

log = logging.getLogger("studio.session")

SESSION_FILE = "session.json"
ARRAYS = "arrays"
OPEN_MARK = "open"
VERSION = 1
MAX_SESSION_BYTES = 64 * 1024 * 1024  # the JSON describes states; arrays are apart
MAX_ARRAY_BYTES = 4 * 1024**3  # a 16-megapixel float32 RGB result is 190 MB


class UnreadableSession(Exception):
    """A session document that is there but cannot be read (one sentence)."""


def _load_array(path: Path, size: int) -> np.ndarray:
    """A kept ``.npy``: its header says a plain numeric array no larger than the file (a header may declare any
    shape; that is checked before anything is allocated), then the array."""
    try:
        with open(path, "rb") as f:
            major, _minor = np.lib.format.read_magic(f)
            read_header = np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
            shape, _fortran, dtype = read_header(f)
        count = int(np.prod(shape, dtype=object)) if shape else 1
        if dtype.kind not in "biuf" or dtype.hasobject or count == 0 or count * dtype.itemsize > size:
            raise ValueError("its header is not that of an array studio writes")
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise ValueError(f"{path.name} is not an array studio wrote") from exc


@dataclass(frozen=True)
class Previous:
    """What ``open`` found of the last session."""

    doc: dict[str, Any] | None  # the last written session document, or None
    clean: bool  # False: the last session ended without a quit
    saved_at: float | None  # when it was last written (epoch seconds)
    problem: str | None = None  # why a session that was there could not be read (it was set aside), or None


class SessionStore:
    """The session folder, written by one background thread."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.arrays = self.folder / ARRAYS
        self._lock = threading.Condition()
        self._names: dict[int, tuple[weakref.ref, str]] = {}  # id(array) -> (array, its name)
        self._pending: dict[str, np.ndarray] = {}  # named, not yet on disk
        self._doc: dict[str, Any] | None = None  # the newest document, not yet written
        self._busy = False
        self._closed = False
        self._error: str | None = None
        self._thread: threading.Thread | None = None

    # start and end ----------------------------------------------------------------------------
    def open(self) -> Previous:
        """Read the last session, mark the folder in use and start the writer."""
        self.arrays.mkdir(parents=True, exist_ok=True)
        mark = self.folder / OPEN_MARK
        clean = not mark.exists()
        try:
            doc, saved_at = self._read_doc()
            problem = None
        except UnreadableSession as exc:
            aside = self.set_aside()
            doc, saved_at, problem = None, None, f"{exc}" + (f" It was set aside as {aside}." if aside else "")
            log.warning("the last session: %s", problem)
        if mark.exists() and not mark.is_file():
            raise OSError(f"{mark} is not a file")  # the caller says the session cannot be kept
        atomic_write_text(mark, json.dumps({"pid": os.getpid(), "since": time.time()}))
        self._thread = threading.Thread(target=self._write_loop, name="studio-session", daemon=True)
        self._thread.start()
        return Previous(doc, clean or doc is None, saved_at, problem)

    def set_aside(self) -> str:
        """Move the session document out of the writer's way (one that could not be read or restored), so the
        next save does not overwrite it; the name it now has ("" when there was none to move)."""
        path = self.folder / SESSION_FILE
        if not path.is_file():
            with contextlib.suppress(OSError):
                path.unlink()  # a FIFO or a link to a device: nothing to keep
            return ""
        aside = path.with_name(f"session-{time.strftime('%Y%m%d-%H%M%S')}.unreadable.json")
        try:
            os.replace(path, aside)
        except OSError:
            return ""
        return aside.name

    def close(self, timeout_s: float = 30.0) -> bool:
        """Write what is queued, stop the writer and mark a clean end. False if it could not finish."""
        done = self.flush(timeout_s)
        with self._lock:
            self._closed = True
            self._lock.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
        if done:
            (self.folder / OPEN_MARK).unlink(missing_ok=True)
        return done

    def flush(self, timeout_s: float = 30.0) -> bool:
        """Wait until everything handed over is on disk."""
        deadline = time.monotonic() + timeout_s
        with self._lock:
            while self._doc is not None or self._busy:
                left = deadline - time.monotonic()
                if left <= 0 or self._thread is None or not self._thread.is_alive():
                    return False
                self._lock.wait(left)
        return True

    @property
    def error(self) -> str | None:
        """The last sentence the writer could not help (a full disk), or None."""
        return self._error

    # arrays -----------------------------------------------------------------------------------
    def name_of(self, array: np.ndarray) -> str:
        """The stored name of ``array`` (the same object always gets the same name); a new one is
        queued for writing. States never change an array in place, so a name is never rewritten."""
        with self._lock:
            known = self._names.get(id(array))
            if known is not None and known[0]() is array:
                return known[1]
            name = uuid.uuid4().hex
            self._remember(array, name)
            self._pending[name] = array
            return name

    def array(self, name: str) -> np.ndarray:
        """An array by its name: queued ones from memory, the others from disk (checked before read)."""
        with self._lock:
            if name in self._pending:
                return self._pending[name]
        if len(name) != 32 or not all(c in "0123456789abcdef" for c in name):
            raise ValueError(f"{name!r} is not an array name studio writes")
        path = self.arrays / f"{name}.npy"
        if not path.is_file():
            raise ValueError(f"{path.name} is missing or not a regular file")
        size = path.stat().st_size
        if size > MAX_ARRAY_BYTES:
            raise ValueError(f"{path.name} is {size / 1e9:.1f} GB, more than a kept array can be")
        array = _load_array(path, size)
        with self._lock:
            self._remember(array, name)
        return array

    def _remember(self, array: np.ndarray, name: str) -> None:
        key = id(array)
        try:
            ref = weakref.ref(array, lambda _r, k=key: self._names.pop(k, None))
        except TypeError:  # pragma: no cover - ndarrays take weak references
            return
        self._names[key] = (ref, name)

    # documents --------------------------------------------------------------------------------
    def save(self, doc: dict[str, Any]) -> None:
        """Hand over the newest session document (it names its arrays in ``doc["arrays"]``)."""
        with self._lock:
            self._doc = dict(doc, version=VERSION, saved_at=time.time())
            self._lock.notify_all()

    def _read_doc(self) -> tuple[dict[str, Any] | None, float | None]:
        """The last session document; ``UnreadableSession`` (one sentence) when one is there but cannot be read."""
        path = self.folder / SESSION_FILE
        if not os.path.lexists(path):
            return None, None
        if not path.is_file():
            raise UnreadableSession(f"The last session ({SESSION_FILE}) is not a regular file.")
        size = path.stat().st_size
        if size > MAX_SESSION_BYTES:
            raise UnreadableSession(f"The last session is {size / 1024**2:.0f} MB, more than a session can be.")
        try:
            doc = json.loads(path.read_text("utf-8"))
        except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
            reason = "it nests too deeply" if isinstance(exc, RecursionError) else str(exc).rstrip(".")
            raise UnreadableSession(f"The last session could not be read ({reason}).") from None
        if not isinstance(doc, dict) or doc.get("version") != VERSION:
            raise UnreadableSession("The last session is not one this version of studio reads.")
        saved = doc.get("saved_at")
        return doc, float(saved) if isinstance(saved, int | float) else None

    def _write_loop(self) -> None:
        while True:
            with self._lock:
                while self._doc is None and not self._closed:
                    self._lock.wait()
                if self._doc is None:
                    return
                doc, self._doc = self._doc, None
                self._busy = True
                needed = set(doc.get("arrays", ()))
                todo = {n: a for n, a in self._pending.items() if n in needed}
            try:
                for name, array in todo.items():
                    atomic_write(self.arrays / f"{name}.npy", lambda f, a=array: np.save(f, a, allow_pickle=False))
                    with self._lock:
                        self._pending.pop(name, None)
                atomic_write_text(self.folder / SESSION_FILE, json.dumps(doc, separators=(",", ":")))
                self._error = None
                self._collect(needed)
            except Exception as exc:  # noqa: BLE001 - the app goes on; the next save tries again
                self._error = str(exc)
                log.warning("keeping the session: %s", exc)
            finally:
                with self._lock:
                    self._busy = False
                    self._lock.notify_all()

    def _collect(self, written: set[str]) -> None:
        """Delete the array files neither the written session nor a queued one names."""
        with self._lock:
            keep = written | set(self._pending)
            if self._doc is not None:
                keep |= set(self._doc.get("arrays", ()))
            gone = []
            for path in self.arrays.glob("*.npy"):
                if path.stem not in keep:
                    gone.append(path)
            forgotten = {path.stem for path in gone}
            for key, (_ref, name) in list(self._names.items()):
                if name in forgotten:
                    del self._names[key]  # named again (and written again) if a state still uses it
        for path in gone:
            path.unlink(missing_ok=True)
        for path in self.arrays.glob(".*.tmp"):
            if time.time() - path.stat().st_mtime > 3600:
                path.unlink(missing_ok=True)

    def disk_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.arrays.glob("*.npy"))
