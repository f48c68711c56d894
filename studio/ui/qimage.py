"""numpy arrays <-> QImage for display (the only place pixels cross into Qt)."""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QImage


def as_uint8(image: np.ndarray) -> np.ndarray:
    """Float [0, 1] or uint8, HxW / HxWx3 / HxWx4 -> contiguous uint8."""
    if image.dtype != np.uint8:
        image = np.clip(np.asarray(image, dtype=np.float32) * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(image)


def to_qimage(image: np.ndarray, alpha: np.ndarray | None = None) -> QImage:
    """A QImage that owns a copy of the pixels. ``alpha`` (HxW, float or uint8) adds transparency."""
    arr = as_uint8(image)
    if arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    if alpha is not None and arr.shape[2] == 3:
        a = as_uint8(alpha)
        if a.ndim == 3:
            a = a[:, :, 0]
        arr = np.concatenate([arr, a[:, :, None]], axis=2)
    arr = np.ascontiguousarray(arr)
    h, w, c = arr.shape
    fmt = QImage.Format.Format_RGBA8888 if c == 4 else QImage.Format.Format_RGB888
    return QImage(arr.data, w, h, w * c, fmt).copy()


def from_qimage(image: QImage) -> np.ndarray:
    """RGB uint8 HxWx3 copy of a QImage (used by tests and the clipboard round trip)."""
    img = image.convertToFormat(QImage.Format.Format_RGB888)
    w, h = img.width(), img.height()
    ptr = img.constBits()
    arr = np.frombuffer(ptr, dtype=np.uint8, count=img.bytesPerLine() * h).reshape(h, img.bytesPerLine())
    return arr[:, : w * 3].reshape(h, w, 3).copy()
