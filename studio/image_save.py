"""Writing images: PNG (with its recipe as text chunks), JPEG, WebP and TIFF, always atomically, and the
reader/writer pair the engines that read folders or write samples are given.

Saving is atomic (``studio.engines.files.atomic_write``): a temporary file in the target folder, then
``os.replace``; on any failure an existing file is left untouched.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from studio.engines.errors import StudioInputError
from studio.engines.files import atomic_write
from studio.engines.image_files import ImageFiles
from studio.engines.pixels import to_uint8
from studio.imageio import PathLike, composite_on, load_image, quoted

WRITE_FORMATS: dict[str, str] = {
    ".png": "PNG",
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".webp": "WEBP",
    ".tif": "TIFF",
    ".tiff": "TIFF",
}


def check_output_path(path: PathLike, *, overwrite: bool = True) -> Path:
    """Fail early, before a long run, if ``path`` cannot be written as an image."""
    p = Path(path)
    ext = p.suffix.lower()
    if p.is_dir():
        raise StudioInputError(f"{quoted(p)} is a folder, not an image file name.")
    if ext not in WRITE_FORMATS:
        what = f"the extension {ext!r}" if ext else "no extension"
        raise StudioInputError(f"{quoted(p)} has {what}; use .png, .jpg, .jpeg, .webp, .tif or .tiff.")
    folder = p.parent
    if not folder.exists():
        raise StudioInputError(f"{quoted(p)}: the folder {quoted(folder)} does not exist.")
    if not folder.is_dir():
        raise StudioInputError(f"{quoted(p)}: {quoted(folder)} is not a folder.")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise StudioInputError(f"{quoted(p)}: the folder {quoted(folder)} is not writable.")
    if not overwrite and p.exists():
        raise StudioInputError(f"{quoted(p)} already exists and overwriting was not allowed.")
    return p


def _as_pil(image: np.ndarray, fmt: str) -> Image.Image:
    a = to_uint8(image)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    if a.ndim == 3 and a.shape[2] == 4 and fmt == "JPEG":
        rgb = composite_on(a[:, :, :3] / 255.0, a[:, :, 3] / 255.0)
        a = to_uint8(rgb)
    if not (a.ndim == 2 or (a.ndim == 3 and a.shape[2] in (3, 4))) or a.size == 0:
        raise StudioInputError(
            f"An image of shape {tuple(np.shape(image))} cannot be saved; expected HxWx3 or HxWx4."
        )
    return Image.fromarray(np.ascontiguousarray(a))


def _save_options(fmt: str, metadata: dict[str, str] | None, quality: int) -> dict[str, object]:
    if fmt == "PNG":
        options: dict[str, object] = {"compress_level": 6}
        if metadata:
            info = PngInfo()
            for key, value in metadata.items():
                info.add_itxt(str(key), str(value))
            options["pnginfo"] = info
        return options
    if fmt == "JPEG":
        return {"quality": quality, "subsampling": 0 if quality >= 90 else 2, "optimize": True}
    if fmt == "WEBP":
        return {"quality": quality, "method": 4}
    return {"compression": "tiff_lzw"}


def save_image(
    path: PathLike,
    image: np.ndarray,
    *,
    metadata: dict[str, str] | None = None,
    quality: int = 95,
    overwrite: bool = True,
) -> Path:
    """Write ``image`` (float in [0, 1] or uint8; HxWx3 or HxWx4) atomically; format from the extension.

    PNG keeps ``metadata`` as iTXt chunks; JPEG drops alpha by compositing on white. On any
    failure the temporary file is removed and an existing file at ``path`` is left untouched.
    """
    p = check_output_path(path, overwrite=overwrite)
    if not 1 <= quality <= 100:
        raise StudioInputError(f"The quality must be between 1 and 100, not {quality}.")
    fmt = WRITE_FORMATS[p.suffix.lower()]
    pil = _as_pil(image, fmt)
    options = _save_options(fmt, metadata, quality)
    atomic_write(p, lambda f: pil.save(f, format=fmt, **options))
    return p


def _read_rgb(path: PathLike, *, max_side: int | None = None, max_pixels: int | None = None) -> np.ndarray:
    kwargs: dict[str, int] = {} if max_pixels is None else {"max_pixels": max_pixels}
    return load_image(path, max_side=max_side, **kwargs).rgb


#: what the engines that read folders or write samples are given (``studio.engines.image_files``)
IMAGE_FILES = ImageFiles(read=_read_rgb, write=lambda path, image: save_image(path, image))
