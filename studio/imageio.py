"""Loading and saving images safely: every bad file becomes one clear StudioInputError.

Loading decodes with Pillow under our own size limits (the header is read first, huge JPEGs are
decoded directly at a reduced scale), applies the EXIF orientation, converts every common mode
(L, LA, P, 16-bit grey, CMYK, RGBA, ...) to float32 RGB in [0, 1] plus an optional alpha.
Saving is atomic: a temporary file in the target folder, then ``os.replace``.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import struct
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageCms, ImageFile, UnidentifiedImageError

from studio.engines.errors import StudioInputError
from studio.engines.files import file_sha256

PathLike = str | os.PathLike[str]

# Formats we let Pillow open. Deliberately not EPS/PDF/PSD and the like: EPS runs Ghostscript.
_READ_FORMATS: tuple[str, ...] = (
    "PNG",
    "JPEG",
    "MPO",
    "WEBP",
    "TIFF",
    "BMP",
    "GIF",
    "TGA",
    "PPM",
    "AVIF",
    "QOI",
    "JPEG2000",
)
_DRAFTABLE_FORMATS = frozenset({"JPEG", "MPO"})


# Bytes Pillow holds per pixel for a decoded image of each mode (RGB is stored as 4 bytes).
_BYTES_PER_PIXEL: dict[str, int] = {"1": 1, "L": 1, "P": 1, "LA": 4, "PA": 4, "La": 4}
# A non-draftable image may be decoded at full size when that needs at most this many bytes per
# pixel of the hard limit (4 bytes x 400 MP = 1.6 GB by default).
_DECODE_BUDGET_BYTES_PER_PIXEL = 4

# EXIF orientation -> the transpose that shows the image upright (as ImageOps.exif_transpose does).
_ORIENTATION_TRANSPOSE: dict[int, Image.Transpose] = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_EXIF_ORIENTATION_TAG = 0x0112

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: the largest image file opened (before a byte of it is read: hashing a file reads all of it); an uncompressed
#: 16-bit RGBA TIFF at the 400 MP studio opens at all is 3.2 GB
MAX_FILE_BYTES = 4 * 1024**3
#: channels of each PNG colour type (grey, RGB, palette, grey + alpha, RGBA)
_PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
#: Adam7's passes: (first column, first row, column step, row step)
_ADAM7 = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2))

# Image.MAX_IMAGE_PIXELS and ImageFile.LOAD_TRUNCATED_IMAGES are process-wide; we switch them only
# while holding this lock, for the duration of one decode.
_PIL_LOCK = threading.RLock()


@dataclass(frozen=True)
class LoadedImage:
    """A decoded image.

    ``rgb`` is float32 HxWx3 in [0, 1], stored (unpremultiplied) colour; ``alpha`` is float32 HxW
    in [0, 1] or None when the file has no alpha. ``original_size`` is (width, height) after the
    EXIF rotation and before any downscale. ``warnings`` are sentences for the user.
    """

    rgb: np.ndarray
    alpha: np.ndarray | None
    path: Path
    sha256: str
    original_size: tuple[int, int]
    warnings: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        """The shapes every user of an image counts on (a kept session builds one from arrays on disk)."""
        rgb, alpha = self.rgb, self.alpha
        if not (isinstance(rgb, np.ndarray) and rgb.ndim == 3 and rgb.shape[2] == 3 and rgb.size
                and rgb.dtype.kind == "f"):
            raise ValueError(f"an image's colour must be a float HxWx3 array, not {getattr(rgb, 'shape', rgb)!r}")
        if alpha is not None and not (isinstance(alpha, np.ndarray) and alpha.shape == rgb.shape[:2]):
            raise ValueError(f"an image's alpha must be HxW like its colour, not {getattr(alpha, 'shape', alpha)!r}")

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the decoded pixels."""
        return (int(self.rgb.shape[1]), int(self.rgb.shape[0]))


# --------------------------------------------------------------------------------------------
# small helpers


def quoted(path: PathLike) -> str:
    """How a path appears in messages: quoted, as the user gave it."""
    return repr(str(path))


def reason_of(exc: BaseException) -> str:
    return str(exc).strip().rstrip(".") or type(exc).__name__


def _megapixels(pixels: int) -> str:
    mp = pixels / 1e6
    return f"{mp:.0f}" if mp >= 10 else f"{mp:.1f}"


def check_input_file(path: Path) -> None:
    if not path.exists():
        if path.parent != Path("") and not path.parent.exists():
            raise StudioInputError(f"{quoted(path)} does not exist: the folder {quoted(path.parent)} is missing.")
        raise StudioInputError(f"{quoted(path)} does not exist.")
    if path.is_dir():
        raise StudioInputError(f"{quoted(path)} is a folder, not an image file.")
    if not path.is_file():
        raise StudioInputError(f"{quoted(path)} is not a regular file.")
    size = path.stat().st_size
    if size == 0:
        raise StudioInputError(f"{quoted(path)} is empty (0 bytes).")
    if size > MAX_FILE_BYTES:
        raise StudioInputError(f"{quoted(path)} is {size / 1024**3:.1f} GB; studio opens image files of up to "
                               f"{MAX_FILE_BYTES // 1024**3} GB.")


@contextlib.contextmanager
def _controlled_pil() -> Iterator[None]:
    """Our own size checks replace Pillow's bomb check; truncated files always fail."""
    with _PIL_LOCK:
        old_max, old_truncated = Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES
        Image.MAX_IMAGE_PIXELS = None
        ImageFile.LOAD_TRUNCATED_IMAGES = False
        try:
            yield
        finally:
            Image.MAX_IMAGE_PIXELS = old_max
            ImageFile.LOAD_TRUNCATED_IMAGES = old_truncated


def _read_formats() -> list[str]:
    Image.init()
    return [f for f in _READ_FORMATS if f in Image.OPEN]


# --------------------------------------------------------------------------------------------
# loading


def _png_rows_missing(path: Path) -> bool:
    """Whether a PNG's pixel data ends before its last row. Pillow fills the rows a PNG does not hold with black
    (a file whose compressed data is whole but short); this inflates the data without keeping it, a megabyte
    at a time, and compares its length with what the header's size asks for."""
    with open(path, "rb") as f:
        if f.read(8) != _PNG_SIGNATURE:
            return False
        header = f.read(8)
        if len(header) < 8 or header[4:] != b"IHDR":
            return False
        ihdr = f.read(13)
        if len(ihdr) < 13:
            return False
        w, h, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", ihdr)
        f.read(4)
        bits = _PNG_CHANNELS.get(colour, 4) * depth

        def row_bytes(width: int) -> int:
            return 1 + (width * bits + 7) // 8  # a filter byte, then the row

        passes = _ADAM7 if interlace else ((0, 0, 1, 1),)
        expected = sum(row_bytes(-(-(w - x0) // dx)) * -(-(h - y0) // dy) for x0, y0, dx, dy in passes
                       if w > x0 and h > y0)
        inflate, got = zlib.decompressobj(), 0
        while got < expected:
            head = f.read(8)
            if len(head) < 8:
                break
            length, kind = struct.unpack(">I4s", head)
            if kind == b"IEND":
                break
            if kind != b"IDAT":
                f.seek(length + 4, os.SEEK_CUR)
                continue
            data = f.read(length)
            f.read(4)
            while data and got < expected:
                got += len(inflate.decompress(data, 1 << 20))
                data = inflate.unconsumed_tail
            if inflate.eof:
                break
        return got < expected


def _orientation(img: Image.Image) -> int:
    """The EXIF orientation, read without decoding a pixel: Pillow's ``getexif()`` on a PNG without an
    eXIf chunk before its pixels decodes the whole image to look for one after them (a 2.6 MB PNG of
    30000 x 30000 took 4.2 GB before its size was checked). A PNG's orientation is taken from the chunks
    before its pixels only."""
    try:
        if img.format == "PNG":
            raw = img.info.get("exif")
            if not raw:
                return 1
            exif = Image.Exif()
            exif.load(raw)
            value = int(exif.get(_EXIF_ORIENTATION_TAG, 1))
        else:
            value = int(img.getexif().get(_EXIF_ORIENTATION_TAG, 1))
    except Exception:  # a broken EXIF block must not make the image unreadable
        return 1
    return value if value in _ORIENTATION_TRANSPOSE else 1


def _target_size(
    size: tuple[int, int], max_pixels: int, max_side: int | None
) -> tuple[tuple[int, int], bool]:
    """Decoded size for a header size; and whether the pixel budget (not max_side) decided it."""
    w, h = size
    budget_scale = math.sqrt(max_pixels / (w * h)) if w * h > max_pixels else 1.0
    side_scale = min(1.0, max_side / max(w, h)) if max_side is not None else 1.0
    scale = min(budget_scale, side_scale)
    if scale >= 1.0:
        return (w, h), False
    tw = max(1, min(w, math.floor(w * scale + 1e-6)))
    th = max(1, min(h, math.floor(h * scale + 1e-6)))
    return (tw, th), budget_scale < side_scale


def _normalise_mode(img: Image.Image) -> Image.Image:
    """Bring any Pillow mode to one of L, LA, RGB, RGBA, I, F, CMYK (resizable, convertible)."""
    mode = img.mode
    has_key = "transparency" in img.info
    if mode == "1":
        return img.convert("L")
    if mode == "P":
        return img.convert("RGBA" if has_key else "RGB")
    if mode in ("PA", "RGBa", "RGBX") or (mode == "RGB" and has_key):
        return img.convert("RGBA" if mode != "RGBX" else "RGB")
    if mode == "La" or (mode == "L" and has_key):
        return img.convert("LA")
    if mode.startswith("I;16"):
        return img.convert("I")
    if mode in ("L", "LA", "RGB", "RGBA", "I", "F", "CMYK"):
        return img
    bands = img.getbands()
    return img.convert("RGBA" if "A" in bands else "RGB")


def _is_srgb(profile: ImageCms.ImageCmsProfile) -> bool:
    try:
        description = ImageCms.getProfileDescription(profile)
    except Exception:
        return False
    return "srgb" in description.lower().replace(" ", "")


def _to_srgb(img: Image.Image, path: Path, warnings: list[str]) -> Image.Image:
    """CMYK -> RGB and embedded colour profiles -> sRGB; alpha is kept aside."""
    icc = img.info.get("icc_profile")
    if img.mode not in ("RGB", "RGBA", "CMYK") or (not icc and img.mode != "CMYK"):
        return img
    alpha = img.getchannel("A") if img.mode == "RGBA" else None
    colour = img.convert("RGB") if img.mode == "RGBA" else img
    converted: Image.Image | None = None
    if icc:
        try:
            profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            if img.mode == "CMYK" or not _is_srgb(profile):
                srgb = ImageCms.createProfile("sRGB")
                converted = ImageCms.profileToProfile(colour, profile, srgb, outputMode="RGB")
            else:
                converted = colour
        except Exception as exc:
            warnings.append(
                f"The colour profile embedded in {quoted(path)} could not be applied ({reason_of(exc)}), "
                "so its colours may be slightly off."
            )
    if converted is None:
        converted = colour.convert("RGB")
    if alpha is not None:
        converted = converted.convert("RGB")
        converted.putalpha(alpha)
    return converted


def _to_arrays(img: Image.Image) -> tuple[np.ndarray, np.ndarray | None]:
    mode = img.mode
    if mode in ("I", "F"):
        a = np.asarray(img, dtype=np.float32)
        if mode == "I":
            a = a / 65535.0
        else:
            peak = float(np.nanmax(a)) if a.size else 0.0
            if peak > 1.0:
                a = a / (255.0 if peak <= 255.0 else 65535.0)
        grey = np.clip(np.nan_to_num(a), 0.0, 1.0)
        return np.repeat(grey[:, :, None], 3, axis=2), None
    a = np.asarray(img, dtype=np.float32) / 255.0
    if mode == "L":
        return np.repeat(a[:, :, None], 3, axis=2), None
    if mode == "LA":
        return np.repeat(a[:, :, :1], 3, axis=2), np.ascontiguousarray(a[:, :, 1])
    if mode == "RGB":
        return a, None
    if mode == "RGBA":
        return np.ascontiguousarray(a[:, :, :3]), np.ascontiguousarray(a[:, :, 3])
    raise AssertionError(f"unexpected mode {mode}")  # _normalise_mode/_to_srgb rule this out


def _decode(
    img: Image.Image,
    path: Path,
    *,
    max_pixels: int,
    hard_max_pixels: int,
    max_side: int | None,
    warnings: list[str],
) -> tuple[Image.Image, int, tuple[int, int]]:
    """Check the header size, decode (drafted when possible) and downscale; Pillow errors escape."""
    w, h = img.size
    pixels = w * h
    if pixels <= 0:
        raise StudioInputError(f"{quoted(path)} claims an empty size of {w} × {h} pixels.")
    if pixels > hard_max_pixels:  # from the header, before anything else is read
        raise StudioInputError(
            f"{quoted(path)} is {w} × {h} pixels ({_megapixels(pixels)} megapixels), "
            f"more than the {_megapixels(hard_max_pixels)} megapixels studio will open."
        )
    orientation = _orientation(img)
    upright = (h, w) if orientation in (5, 6, 7, 8) else (w, h)
    frames = getattr(img, "n_frames", 1)
    if isinstance(frames, int) and frames > 1:  # an animated GIF or WebP, a multi-page TIFF
        kind = "pages" if img.format == "TIFF" else "frames"
        warnings.append(f"{quoted(path)} has {frames} {kind}; studio uses the first.")
    target, budget_bound = _target_size((w, h), max_pixels, max_side)
    drafted = False
    if target != (w, h) and img.format in _DRAFTABLE_FORMATS:
        drafted = img.draft(None, target) is not None
    if not drafted:
        needed = pixels * _BYTES_PER_PIXEL.get(img.mode, 4)
        budget = hard_max_pixels * _DECODE_BUDGET_BYTES_PER_PIXEL
        if needed > budget:
            raise StudioInputError(
                f"{quoted(path)} is {upright[0]} × {upright[1]} pixels and would need "
                f"{needed / 1e9:.1f} GB to decode, more than the {budget / 1e9:.1f} GB allowed."
            )
    img.load()
    out = _normalise_mode(img)
    if out.size != target:
        out = out.resize(target, Image.Resampling.LANCZOS, reducing_gap=3.0)
    if budget_bound:
        final = (target[1], target[0]) if orientation in (5, 6, 7, 8) else target
        warnings.append(
            f"{quoted(path)} is {upright[0]} × {upright[1]} pixels ({_megapixels(pixels)} megapixels), "
            f"more than the {_megapixels(max_pixels)}-megapixel working limit, "
            f"so it was loaded downscaled to {final[0]} × {final[1]}."
        )
    return out, orientation, upright


def load_image(
    path: PathLike,
    *,
    max_pixels: int = 40_000_000,
    hard_max_pixels: int = 400_000_000,
    max_side: int | None = None,
) -> LoadedImage:
    """Decode an image file to float32 RGB in [0, 1] (+ alpha), upright, within size limits.

    Above ``hard_max_pixels`` (header size) the file is refused; above ``max_pixels`` it is
    downscaled while decoding (JPEG at reduced DCT scale, never at full size) with a warning.
    ``max_side`` asks for a downscale so the long side is at most that, without a warning.
    Every unreadable file raises StudioInputError with one sentence naming it.
    """
    p = Path(path)
    if max_pixels < 1 or hard_max_pixels < 1:
        raise StudioInputError(f"The pixel limits must be positive, not {max_pixels} and {hard_max_pixels}.")
    if max_side is not None and max_side < 1:
        raise StudioInputError(f"The largest side must be at least 1 pixel, not {max_side}.")
    check_input_file(p)
    sha256 = file_sha256(p)
    warnings: list[str] = []
    with _controlled_pil():
        try:
            with Image.open(p, formats=_read_formats()) as img:
                within = img.size[0] * img.size[1] <= max(hard_max_pixels, max_pixels)  # else _decode refuses it
                if img.format == "PNG" and within and _png_rows_missing(p):
                    raise StudioInputError(f"{quoted(p)} is truncated or corrupt: its pixel data ends before its "
                                           "last row.")
                decoded, orientation, upright = _decode(
                    img,
                    p,
                    max_pixels=max_pixels,
                    hard_max_pixels=max(hard_max_pixels, max_pixels),
                    max_side=max_side,
                    warnings=warnings,
                )
        except StudioInputError:
            raise
        except UnidentifiedImageError as exc:
            raise StudioInputError(
                f"{quoted(p)} is not an image file studio can read "
                "(its contents are not PNG, JPEG, WebP, TIFF, BMP, GIF or a similar format)."
            ) from exc
        except MemoryError as exc:
            raise StudioInputError(f"{quoted(p)} is too large to decode in the available memory.") from exc
        except (OSError, SyntaxError, ValueError, EOFError, struct.error, IndexError, zlib.error) as exc:
            raise StudioInputError(f"{quoted(p)} is truncated or corrupt: {reason_of(exc)}.") from exc
    if orientation in _ORIENTATION_TRANSPOSE:
        decoded = decoded.transpose(_ORIENTATION_TRANSPOSE[orientation])
    decoded = _to_srgb(decoded, p, warnings)
    rgb, alpha = _to_arrays(decoded)
    return LoadedImage(
        rgb=rgb,
        alpha=alpha,
        path=p,
        sha256=sha256,
        original_size=upright,
        warnings=tuple(warnings),
    )


def composite_on(
    rgb: np.ndarray, alpha: np.ndarray | None, background: tuple[float, float, float] = (1.0, 1.0, 1.0)
) -> np.ndarray:
    """Colour over a solid background: ``rgb * alpha + background * (1 - alpha)`` (float32)."""
    colour = np.asarray(rgb, dtype=np.float32)
    if alpha is None:
        return colour.copy()
    a = np.asarray(alpha, dtype=np.float32)
    if a.ndim == 2:
        a = a[:, :, None]
    bg = np.asarray(background, dtype=np.float32).reshape(1, 1, -1)
    return (colour * a + bg * (1.0 - a)).astype(np.float32)


def load_mask(path: PathLike, what: str, max_side: int) -> tuple[np.ndarray, str]:
    """A mask file as float32 HxW in [0, 1] (its alpha when the colour is flat), and its sha256."""
    img = load_image(path, max_side=max_side)
    if img.alpha is not None and float(img.rgb.std()) < 1e-3:
        return img.alpha.astype(np.float32), img.sha256
    rgb = img.rgb
    if float(np.abs(rgb - rgb.mean(axis=2, keepdims=True)).max()) > 0.25:
        raise StudioInputError(f"The {what} {path} is a colour image; a mask must be black and white.")
    return rgb.mean(axis=2).astype(np.float32), img.sha256
