"""Reading the text chunks of a PNG (where studio keeps a result's recipe) without decoding its pixels:
the chunks are walked by hand, each bounded in size, so a hostile file cannot make studio inflate gigabytes."""

from __future__ import annotations

import contextlib
import os
import struct
import zlib
from pathlib import Path

from studio.engines.errors import StudioInputError
from studio.imageio import PathLike, check_input_file, quoted, reason_of

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_MAX_PNG_TEXT_BYTES = 16 * 1024 * 1024



def _png_text_chunk(kind: bytes, data: bytes) -> tuple[str, str] | None:
    key, sep, rest = data.partition(b"\x00")
    if not sep or not key:
        return None
    name = key.decode("latin-1")
    if kind == b"tEXt":
        return name, rest.decode("latin-1")
    if kind == b"zTXt":
        if not rest or rest[0] != 0:
            return None
        return name, _inflate(rest[1:]).decode("latin-1")
    # iTXt: compression flag, method, language\0, translated keyword\0, text
    if len(rest) < 2:
        return None
    compressed, method, rest = rest[0], rest[1], rest[2:]
    _language, _, rest = rest.partition(b"\x00")
    _translated, _, text = rest.partition(b"\x00")
    if compressed:
        if method != 0:
            return None
        text = _inflate(text)
    return name, text.decode("utf-8", errors="replace")


def _inflate(data: bytes) -> bytes:
    d = zlib.decompressobj()
    out = d.decompress(data, _MAX_PNG_TEXT_BYTES)
    if d.unconsumed_tail:
        raise ValueError("text chunk too large")
    return out


def read_png_text(path: PathLike) -> dict[str, str]:
    """The text chunks (tEXt, zTXt, iTXt) of a PNG, without decoding its pixels.

    Returns an empty dict for a file that is not a PNG or has no text; a missing or unreadable
    file raises StudioInputError. Damaged chunks are skipped, reading stops at a truncation.
    """
    p = Path(path)
    check_input_file(p)
    texts: dict[str, str] = {}
    total = 0  # the text read so far, inflated: a few small compressed chunks may each unfold to the limit
    try:
        with open(p, "rb") as f:
            if f.read(8) != _PNG_SIGNATURE:
                return {}
            while True:
                header = f.read(8)
                if len(header) < 8:
                    break
                length, kind = struct.unpack(">I4s", header)
                if kind in (b"tEXt", b"zTXt", b"iTXt") and length <= _MAX_PNG_TEXT_BYTES:
                    data = f.read(length)
                    crc = f.read(4)
                    if len(data) < length or len(crc) < 4:
                        break
                    if struct.unpack(">I", crc)[0] != zlib.crc32(kind + data):
                        continue
                    item = None
                    with contextlib.suppress(ValueError, zlib.error, UnicodeDecodeError):
                        item = _png_text_chunk(kind, data)
                    if item is not None:
                        total += len(item[1])
                        if total > _MAX_PNG_TEXT_BYTES:
                            raise StudioInputError(f"{quoted(p)} holds more than {_MAX_PNG_TEXT_BYTES // 1024**2} MB "
                                                   "of text; studio reads no more of a PNG's text than that.")
                        texts.setdefault(item[0], item[1])
                elif kind == b"IEND":
                    break
                else:
                    f.seek(length + 4, os.SEEK_CUR)
    except OSError as exc:
        raise StudioInputError(f"{quoted(p)} cannot be read: {exc.strerror or reason_of(exc)}.") from exc
    return texts

