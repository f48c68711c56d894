"""Masks over an image (the pasted object of a harmonization, a style region): binarising, dilating, feathering,
resizing, and one mask per VGG layer.

The per-layer masks follow the painterly harmonization paper's code: at each pooling the mask is resized to half size
(rounded up, as the network's ceil-mode pooling), at each 3x3 convolution it is averaged over
3x3 neighbours (a slight blur that follows the growing receptive field).
"""

from __future__ import annotations

from collections.abc import Iterable

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from studio.engines.features.vgg import FeatureNetwork


def binarize(mask: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """float32 HxW of 0/1."""
    return (np.asarray(mask, dtype=np.float32) > threshold).astype(np.float32)


def loose_region(tight: np.ndarray, given: np.ndarray | None, radius: float) -> np.ndarray:
    """Where a harmonization may change the painting (0/1): the given loose mask with the object in it, or the
    object widened by ``radius`` pixels when none is given."""
    if given is None:
        return dilate(tight, round(radius))
    return np.maximum(binarize(given), binarize(tight))


def dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    """Binary dilation by a disc of ``radius`` pixels (float32 0/1)."""
    m = binarize(mask)
    if radius <= 0:
        return m
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    return cv2.dilate(m, k).astype(np.float32)


def feather(mask: np.ndarray, sigma: float) -> np.ndarray:
    """Soft edge: the mask blurred by a Gaussian of ``sigma`` pixels (no change for sigma <= 0)."""
    m = np.asarray(mask, dtype=np.float32)
    if sigma <= 0:
        return m.copy()
    return np.clip(cv2.GaussianBlur(m, (0, 0), sigma), 0.0, 1.0).astype(np.float32)


def resize_mask(mask: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    h, w = hw
    if mask.shape[:2] == (h, w):
        return np.asarray(mask, dtype=np.float32)
    interp = cv2.INTER_AREA if h < mask.shape[0] else cv2.INTER_LINEAR
    return np.clip(cv2.resize(np.asarray(mask, dtype=np.float32), (w, h), interpolation=interp), 0, 1)


def bounding_box(mask: np.ndarray, margin: int, threshold: float = 0.01) -> tuple[int, int, int, int]:
    """(y0, y1, x0, x1) of the pixels above ``threshold``, grown by ``margin`` and clipped to the image."""
    ys, xs = np.nonzero(np.asarray(mask) > threshold)
    h, w = mask.shape[:2]
    if len(ys) == 0:
        return 0, h, 0, w
    return (max(0, int(ys.min()) - margin), min(h, int(ys.max()) + 1 + margin),
            max(0, int(xs.min()) - margin), min(w, int(xs.max()) + 1 + margin))


def layer_masks(mask: torch.Tensor, net: FeatureNetwork, layers: Iterable[str],
                inside_edges: bool = False) -> dict[str, torch.Tensor]:
    """The mask (H, W) carried through the network to each of ``layers``: (h, w) tensors.

    Halved (bilinear, sizes rounded up) at each pooling, 3x3-averaged at each convolution: outside the picture
    counts as 0 (the paper's code), or with ``inside_edges`` only the picture is averaged, so a mask of ones
    stays ones (a style region that reaches the picture's edge covers it there).
    """
    wanted = set(layers)
    out: dict[str, torch.Tensor] = {}
    if not wanted:
        return out
    m = mask.float()[None, None]
    for s in net.truncated_specs(wanted):
        if s.kind == "conv":
            m = F.avg_pool2d(m, 3, stride=1, padding=1, count_include_pad=not inside_edges)
        elif s.kind == "pool":
            h, w = m.shape[-2:]
            m = F.interpolate(m, size=((h + 1) // 2, (w + 1) // 2), mode="bilinear", align_corners=False)
        if s.name in wanted:
            out[s.name] = m[0, 0].clone()
    return out
