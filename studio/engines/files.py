"""The one atomic write and the one file hash that every part of studio uses.

A file is written to a temporary name in its own folder (``.NAME.<random>.tmp``), flushed to disk, then
moved over the target with ``os.replace``: a reader sees the old file or the new one, never half of one.
On any failure, or an interruption, the temporary file is removed and the target is left as it was.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from studio.engines.errors import StudioInputError

PathLike = str | os.PathLike[str]
#: the temporary names studio's own writers use (``.NAME.<8 hex>.tmp``)
TEMP_SUFFIX = ".tmp"


def os_reason(exc: OSError) -> str:
    """What went wrong, for a sentence: "Permission denied", "No space left on device"."""
    return exc.strerror or str(exc).strip().rstrip(".") or type(exc).__name__


def temp_path(target: Path) -> Path:
    return target.with_name(f".{target.name}.{secrets.token_hex(4)}{TEMP_SUFFIX}")


def _create_temp(target: Path) -> tuple[int, Path]:
    """A new file next to ``target`` (same folder, so os.replace is atomic), with normal permissions."""
    for _ in range(100):
        tmp = temp_path(target)
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name next to {target}")


def check_parent_folder(path: PathLike) -> None:
    """One sentence, before any work, when the folder a file is to be written into does not exist."""
    p = Path(path)
    if not p.parent.is_dir():
        raise StudioInputError(f"{str(p)!r}: the folder {str(p.parent)!r} does not exist.")


def atomic_write(path: PathLike, write: Callable[[BinaryIO], object]) -> Path:
    """Call ``write(file)`` on a temporary file next to ``path``, then move it into place.

    An existing file keeps its permission bits. An OSError becomes one sentence naming the file.
    """
    p = Path(path)
    tmp: Path | None = None
    try:
        fd, tmp = _create_temp(p)
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        if p.exists():
            with contextlib.suppress(OSError):
                os.chmod(tmp, p.stat().st_mode & 0o7777)
        os.replace(tmp, p)
    except BaseException as exc:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        if isinstance(exc, OSError):
            raise StudioInputError(f"{str(p)!r} could not be written: {os_reason(exc)}.") from exc
        raise
    return p


def atomic_write_bytes(path: PathLike, data: bytes) -> Path:
    return atomic_write(path, lambda f: f.write(data))


def atomic_write_text(path: PathLike, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_copy(src: PathLike, dest: PathLike) -> Path:
    """Copy ``src`` to ``dest`` atomically."""
    def copy(f: BinaryIO) -> None:
        with open(src, "rb") as g:
            for block in iter(lambda: g.read(1 << 20), b""):
                f.write(block)

    return atomic_write(dest, copy)


def read_json(path: PathLike, max_bytes: int = 1024 * 1024) -> object:
    """The JSON of a small file beside a model (a card, a config): one sentence when it is larger than
    ``max_bytes`` (checked before it is read), unreadable, nested past Python's recursion or not JSON."""
    import json

    p = Path(path)
    size = p.stat().st_size
    if size > max_bytes:
        raise StudioInputError(f"{str(p)!r} is {size:,} bytes; a file of settings is at most {max_bytes:,}.")
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as exc:
        reason = "it nests too deeply" if isinstance(exc, RecursionError) else str(exc).rstrip(".")
        raise StudioInputError(f"{str(p)!r} is not valid JSON: {reason}.") from None


def file_sha256(path: PathLike) -> str:
    """Hex SHA-256 of a file's bytes; an unreadable file is one sentence naming it."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    except OSError as exc:
        raise StudioInputError(f"{str(path)!r} cannot be read: {os_reason(exc)}.") from exc
    return digest.hexdigest()


def remove_stale_temporaries(folder: PathLike, older_than_s: float = 3600.0) -> int:
    """Delete the temporary files of ``atomic_write`` (``.NAME.<hex>.tmp``) under ``folder`` that are older
    than ``older_than_s``: a kill leaves them; a write in progress is never that old. Returns the count."""
    import re
    import time

    root = Path(folder)
    if not root.is_dir():
        return 0
    pattern = re.compile(r"^\..+\.[0-9a-f]{6,}\.tmp$")
    now = time.time()
    gone = 0
    for p in root.rglob(".*.tmp"):
        try:
            if pattern.match(p.name) and p.is_file() and now - p.stat().st_mtime > older_than_s:
                p.unlink()
                gone += 1
        except OSError:
            continue
    return gone

