"""Post-processing of a harmonized image: chroma denoising in CIELAB and the feathered blend.

The optimisation leaves colour speckles (high-frequency a*/b* noise) that the painting does not
have. The chroma channels are smoothed with a guided filter (He et al. 2010; written here with box
filters, since OpenCV's ximgproc is not in the headless wheel) whose guide is the result's own
lightness: chroma edges that follow lightness edges stay, isolated colour noise goes.
"""

from __future__ import annotations

import cv2
import numpy as np

from studio.engines.masks import feather


def _box(a: np.ndarray, r: int) -> np.ndarray:
    return cv2.boxFilter(a, -1, (2 * r + 1, 2 * r + 1), normalize=True, borderType=cv2.BORDER_REFLECT)


def guided_filter(guide: np.ndarray, src: np.ndarray, radius: int, eps: float) -> np.ndarray:
    """Grey-guide guided filter: ``guide`` HxW, ``src`` HxW or HxWxC (float32)."""
    g = guide.astype(np.float32)
    s = src.astype(np.float32)
    if s.ndim == 3:
        return np.stack([guided_filter(g, s[..., k], radius, eps) for k in range(s.shape[2])], axis=-1)
    mg, ms = _box(g, radius), _box(s, radius)
    cov = _box(g * s, radius) - mg * ms
    var = _box(g * g, radius) - mg * mg
    a = cov / (var + eps)
    b = ms - a * mg
    return (_box(a, radius) * g + _box(b, radius)).astype(np.float32)


def denoise_chroma(image: np.ndarray, mask: np.ndarray | None = None, radius: int = 4,
                   eps: float = 0.01) -> np.ndarray:
    """Smooth the a*/b* channels of ``image`` (RGB float32 [0, 1]) guided by its lightness; only
    inside ``mask`` (HxW in [0, 1]) when given."""
    rgb = np.clip(image, 0, 1).astype(np.float32)
    lab = cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB)
    guide = lab[..., 0] / 100.0
    ab = lab[..., 1:] / 127.0
    smooth = guided_filter(guide, ab, radius, eps) * 127.0
    out_lab = lab.copy()
    out_lab[..., 1:] = smooth
    out = np.clip(cv2.cvtColor(out_lab, cv2.COLOR_LAB2RGB), 0, 1).astype(np.float32)
    if mask is None:
        return out
    m = np.asarray(mask, dtype=np.float32)[..., None]
    return (out * m + rgb * (1 - m)).astype(np.float32)


def blend(painting: np.ndarray, result: np.ndarray, tight_mask: np.ndarray, feather_px: float) -> np.ndarray:
    """``result`` inside the tight mask, feathered by ``feather_px``, over the ``painting``."""
    m = feather(tight_mask, feather_px)[..., None]
    return np.clip(result * m + painting * (1 - m), 0, 1).astype(np.float32)
