"""A simple selection (rectangle or ellipse, in image pixels) and the soft mask it stands for. Qt-free."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np

Shape = Literal["rect", "ellipse"]


@dataclass(frozen=True)
class Selection:
    """A rectangle or the ellipse inside it: (x0, y0) - (x1, y1) in image pixels, any corner order."""

    shape: Shape
    x0: float
    y0: float
    x1: float
    y1: float
    feather: float = 8.0  # soft edge width in pixels

    def box(self) -> tuple[float, float, float, float]:
        return min(self.x0, self.x1), min(self.y0, self.y1), max(self.x0, self.x1), max(self.y0, self.y1)

    def is_empty(self) -> bool:
        left, top, right, bottom = self.box()
        return right - left < 1 or bottom - top < 1

    def to_dict(self) -> dict[str, float | str]:
        return {"shape": self.shape, "x0": self.x0, "y0": self.y0, "x1": self.x1, "y1": self.y1,
                "feather": self.feather}


def selection_mask(sel: Selection, height: int, width: int) -> np.ndarray:
    """HxW float32 in [0, 1]: 1 inside the selection, a soft edge of ``feather`` pixels."""
    mask = np.zeros((height, width), np.float32)
    left, top, right, bottom = sel.box()
    if sel.shape == "rect":
        x0, y0 = int(round(max(0, left))), int(round(max(0, top)))
        x1, y1 = int(round(min(width, right))), int(round(min(height, bottom)))
        mask[y0:y1, x0:x1] = 1.0
    else:
        yy, xx = np.mgrid[0:height, 0:width].astype(np.float32) + 0.5
        cx, cy = (left + right) / 2, (top + bottom) / 2
        rx, ry = max((right - left) / 2, 0.5), max((bottom - top) / 2, 0.5)
        mask[((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2 <= 1.0] = 1.0
    if sel.feather > 0:
        mask = cv2.GaussianBlur(mask, (0, 0), sel.feather / 2.0)
    return np.clip(mask, 0.0, 1.0)
