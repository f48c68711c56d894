"""Painting the regions of a style run by hand: the masks a brush, an eraser, a rectangle, an ellipse or a
free-hand lasso make, and how they combine. Qt-free: the Style tab's canvas tool turns the mouse into these
calls, and the document (``PaintedRegion``) holds the result as an 8-bit mask at the photo's size.

A brush dab is a disc of ``radius`` pixels whose edge falls off over ``(1 - hardness) * radius`` pixels; a
stroke is the dabs along its points, joined. A selection (rectangle, ellipse, lasso) replaces the mask, adds
to it (Shift) or takes away from it (Alt), with the Translate tab's ``studio.selection`` for the first two.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Literal

import cv2
import numpy as np

from studio.selection import Selection, selection_mask

Mode = Literal["replace", "add", "subtract"]
#: brush radius bounds, in photo pixels
MIN_RADIUS, MAX_RADIUS = 1.0, 500.0
#: the colours region overlays cycle through (RGB)
COLOURS: tuple[tuple[int, int, int], ...] = ((240, 90, 60), (60, 150, 255), (90, 210, 110), (240, 200, 40),
                                             (200, 90, 230), (40, 210, 210), (250, 140, 200), (160, 120, 80))


@dataclass(frozen=True, eq=False)
class PaintedRegion:
    """One region of the Style tab: its mask (uint8 HxW at the photo's size, 255 = fully in the region), its
    painting (a ``studio.imageio.LoadedImage``; None keeps the photo there), its weight and whether its
    overlay shows. Masks compare by identity: an edit makes a new one."""

    name: str
    mask: np.ndarray
    painting: Any | None = None
    weight: float = 1.0
    visible: bool = True
    colour: int = 0  # index into COLOURS

    @property
    def keeps_photo(self) -> bool:
        return self.painting is None

    def is_empty(self) -> bool:
        return not bool((self.mask > 0).any())

    def with_mask(self, mask: np.ndarray) -> PaintedRegion:
        return replace(self, mask=mask)

    def float_mask(self) -> np.ndarray:
        return self.mask.astype(np.float32) / 255.0


def new_region(existing: tuple[PaintedRegion, ...], hw: tuple[int, int], painting: Any | None = None) \
        -> PaintedRegion:
    """An empty region over a photo of ``hw``, named and coloured after the ones already there."""
    used = {r.colour for r in existing}
    colour = next((i for i in range(len(COLOURS)) if i not in used), len(existing) % len(COLOURS))
    names = {r.name for r in existing}
    n = len(existing) + 1
    while f"Region {n}" in names:
        n += 1
    return PaintedRegion(name=f"Region {n}", mask=np.zeros(hw, np.uint8), painting=painting, colour=colour)


def _soften(layer: np.ndarray, radius: float, hardness: float) -> np.ndarray:
    soft = (1.0 - float(np.clip(hardness, 0.0, 1.0))) * radius
    return cv2.GaussianBlur(layer, (0, 0), soft / 2.0) if soft >= 0.5 else layer


def stroke_layer(points: list[tuple[float, float]] | tuple[tuple[float, float], ...], radius: float,
                 hardness: float, hw: tuple[int, int]) -> np.ndarray:
    """The coverage (float32 HxW in [0, 1]) of a brush stroke through ``points`` (x, y in photo pixels)."""
    r = float(np.clip(radius, MIN_RADIUS, MAX_RADIUS))
    layer = np.zeros(hw, np.float32)
    pts = [(int(round(x)), int(round(y))) for x, y in points]
    for p in pts:
        cv2.circle(layer, p, max(1, int(round(r))), 1.0, -1, lineType=cv2.LINE_AA)
    for p, q in zip(pts, pts[1:], strict=False):
        cv2.line(layer, p, q, 1.0, max(1, int(round(2 * r))), lineType=cv2.LINE_AA)
    return np.clip(_soften(layer, r, hardness), 0.0, 1.0)


def lasso_layer(points: list[tuple[float, float]] | tuple[tuple[float, float], ...], hw: tuple[int, int],
                feather: float = 2.0) -> np.ndarray:
    """The coverage of the free-hand outline through ``points`` (closed from the last point to the first)."""
    layer = np.zeros(hw, np.float32)
    if len(points) >= 3:
        poly = np.array([[round(x), round(y)] for x, y in points], np.int32)
        cv2.fillPoly(layer, [poly], 1.0, lineType=cv2.LINE_AA)
    if feather > 0:
        layer = cv2.GaussianBlur(layer, (0, 0), feather / 2.0)
    return np.clip(layer, 0.0, 1.0)


def shape_layer(selection: Selection, hw: tuple[int, int]) -> np.ndarray:
    """The coverage of a rectangle or ellipse (``studio.selection``, as the Translate tab draws them)."""
    return selection_mask(selection, hw[0], hw[1])


def combine(mask: np.ndarray, layer: np.ndarray, mode: Mode) -> np.ndarray:
    """``mask`` (uint8) with ``layer`` (coverage in [0, 1]) put in place of it, added to it or taken from it."""
    m = mask.astype(np.float32) / 255.0
    if mode == "replace":
        out = layer
    elif mode == "add":
        out = np.maximum(m, layer)
    else:
        out = m * (1.0 - layer)
    return (np.clip(out, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def invert(mask: np.ndarray) -> np.ndarray:
    return (255 - mask).astype(np.uint8)


def mode_for(shift: bool, alt: bool) -> Mode:
    """What a selection drawn with these modifier keys does: Shift adds, Alt subtracts, else it replaces."""
    return "subtract" if alt else "add" if shift else "replace"
