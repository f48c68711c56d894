"""Framing a photo's face the way a face generator frames its own, before projecting it.

A face generator draws heads at one framing (the built-in one's: the face fills two thirds of the frame, a little
below the centre); a portrait photo shows a head somewhere in a larger picture. Fitting the photo's centre square
asks the generator for a picture it never makes (the astronaut's whole suit and flag as a face), so the fit first
finds the face (scikit-image's LBP frontal-face cascade, which ships with it) and cuts the square in which that
face sits where the generator's faces sit. ``measure_framing`` finds that place on the generator's own samples.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import torch

from studio.engines.pixels import resize_long_side, to_uint8

# The detector looks at the picture with its long side at most this (a face under 1/8 of it is not a portrait)
_DETECT_SIDE = 512
_MIN_FACE = 1 / 8


@dataclass(frozen=True)
class FaceFraming:
    """Where a face's box sits in a generated picture, as fractions of the picture's side."""

    top: float
    left: float
    size: float  # the box's side

    @classmethod
    def from_card(cls, card: dict[str, Any]) -> FaceFraming | None:
        """The ``face_framing`` a generator's model card states (a face generator's), or None: also where the card
        holds something that is no framing (a card comes from a file beside the generator)."""
        f = card.get("face_framing")
        if not isinstance(f, dict):
            return None
        try:
            top, left, size = (float(f[k]) for k in ("top", "left", "size"))
        except (KeyError, TypeError, ValueError):
            return None
        if not (0.05 <= size <= 1.0 and -1.0 <= top <= 1.0 and -1.0 <= left <= 1.0):
            return None
        return cls(top, left, size)


@dataclass(frozen=True)
class FaceBox:
    """A face found in a picture, in its pixels."""

    top: int
    left: int
    side: int


@functools.lru_cache(maxsize=1)
def _detector():
    import skimage.data
    from skimage.feature import Cascade

    return Cascade(skimage.data.lbp_frontal_face_cascade_filename())


def _boxes(rgb: np.ndarray, min_fraction: float, scale_factor: float) -> list[FaceBox]:
    """Every face the cascade finds in ``rgb`` (float [0, 1] or uint8 HxWx3), in its pixels."""
    h, w = rgb.shape[:2]
    k = min(1.0, _DETECT_SIDE / max(h, w))
    a = to_uint8(rgb)
    if k < 1:
        a = to_uint8(resize_long_side(a / np.float32(255), _DETECT_SIDE))
    side = min(a.shape[:2])
    smallest = max(24, int(side * min_fraction))
    found = _detector().detect_multi_scale(img=a[..., :3], scale_factor=scale_factor, step_ratio=1,
                                           min_size=(smallest, smallest), max_size=(side, side))
    return [FaceBox(round(d["r"] / k), round(d["c"] / k), round(d["width"] / k)) for d in found]


def _overlap(a: FaceBox, b: FaceBox) -> float:
    """Intersection over the smaller box's area."""
    dy = min(a.top + a.side, b.top + b.side) - max(a.top, b.top)
    dx = min(a.left + a.side, b.left + b.side) - max(a.left, b.left)
    return max(0, dy) * max(0, dx) / min(a.side, b.side) ** 2


def find_face(rgb: np.ndarray, min_fraction: float = _MIN_FACE, scale_factor: float = 1.2) -> FaceBox | None:
    """The largest face in ``rgb``: the mean of the detections that overlap the largest one (the cascade fires a few
    times around a face at neighbouring sizes), or None where it finds none."""
    boxes = _boxes(rgb, min_fraction, scale_factor)
    if not boxes:
        return None
    big = max(boxes, key=lambda b: b.side)
    near = [b for b in boxes if _overlap(b, big) > 0.5]
    return FaceBox(round(np.mean([b.top for b in near])), round(np.mean([b.left for b in near])),
                   round(np.mean([b.side for b in near])))


def frame_face(rgb: np.ndarray, box: FaceBox, framing: FaceFraming) -> np.ndarray:
    """The square of ``rgb`` in which ``box`` sits as ``framing`` says, its edges repeated where it leaves the
    picture."""
    side = max(1, round(box.side / framing.size))
    y0 = round(box.top - framing.top * side)
    x0 = round(box.left - framing.left * side)
    h, w = rgb.shape[:2]
    pad = (max(0, -y0), max(0, y0 + side - h), max(0, -x0), max(0, x0 + side - w))
    a = np.asarray(rgb)
    if any(pad):
        a = cv2.copyMakeBorder(np.ascontiguousarray(a), *pad, cv2.BORDER_REPLICATE)
    y0, x0 = y0 + pad[0], x0 + pad[2]
    return a[y0:y0 + side, x0:x0 + side]


@torch.no_grad()
def measure_framing(model: torch.nn.Module, nz: int, samples: int = 64, seed: int = 0,
                    upscale: int = 4) -> tuple[FaceFraming, int] | None:
    """Where the faces sit in ``model``'s own pictures (the mean over the ``samples`` in which a face was found,
    each enlarged ``upscale`` times for the detector), and in how many of them one was found."""
    from studio.engines.gan.models import to_uint8_images

    z = torch.randn(samples, nz, generator=torch.Generator().manual_seed(seed))
    found = []
    for img in to_uint8_images(model.eval()(z)):
        s = img.shape[0]
        big = cv2.resize(img, (s * upscale, s * upscale), interpolation=cv2.INTER_CUBIC)
        box = find_face(big, min_fraction=0.25, scale_factor=1.1)
        if box is not None:
            found.append((box.top / big.shape[0], box.left / big.shape[1], box.side / big.shape[0]))
    if not found:
        return None
    top, left, size = np.mean(found, axis=0)
    return FaceFraming(float(top), float(left), float(size)), len(found)
