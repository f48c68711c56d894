"""Pixel arrays: 8-bit conversion and resizing, shared by the engines, image I/O and export."""

from __future__ import annotations

import cv2
import numpy as np

from studio.engines.errors import StudioInputError


def to_uint8(image: np.ndarray) -> np.ndarray:
    """Float in [0, 1] (clipped, NaN -> 0), uint16 or bool to uint8; uint8 passes through."""
    a = np.asarray(image)
    if a.dtype == np.uint8:
        return a
    if a.dtype == np.bool_:
        return a.astype(np.uint8) * 255
    if a.dtype == np.uint16:
        return ((a.astype(np.uint32) + 128) // 257).astype(np.uint8)
    if np.issubdtype(a.dtype, np.floating):
        f = np.nan_to_num(a.astype(np.float32), nan=0.0, posinf=1.0, neginf=0.0)
        return (np.clip(f, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    if np.issubdtype(a.dtype, np.integer):
        return np.clip(a, 0, 255).astype(np.uint8)
    raise StudioInputError(f"An image of dtype {a.dtype} cannot be converted to 8 bits.")


def resize_long_side(rgb: np.ndarray, long_side: int) -> np.ndarray:
    """Resize so the long side is ``long_side``: area averaging to shrink, bicubic to enlarge."""
    if long_side < 1:
        raise StudioInputError(f"The long side must be at least 1 pixel, not {long_side}.")
    a = np.asarray(rgb, dtype=np.float32)
    h, w = a.shape[:2]
    scale = long_side / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    if size == (w, h):
        return np.clip(a, 0.0, 1.0)
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    out = cv2.resize(np.ascontiguousarray(a), size, interpolation=interpolation)
    if a.ndim == 3 and out.ndim == 2:
        out = out[:, :, None]
    return np.clip(out, 0.0, 1.0)


def resize_to(rgb: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    """Resize to (height, width) ``hw``: area averaging to shrink, bicubic to enlarge; float32 in [0, 1]."""
    h, w = hw
    interp = cv2.INTER_AREA if h < rgb.shape[0] else cv2.INTER_CUBIC
    return np.clip(cv2.resize(rgb, (w, h), interpolation=interp), 0, 1).astype(np.float32)
