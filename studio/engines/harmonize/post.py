"""Post-processing of a harmonized image: chroma denoising in CIELAB and the feathered blend (the
patch synthesis that follows the denoising is in ``synthesis.py``).

The optimisation leaves colour speckles and blotches (a*/b* noise) that the painting does not have.
The chroma channels are smoothed with a guided filter (He et al. 2010; written here with box filters,
since OpenCV's ximgproc is not in the headless wheel). As in the paper's filt_cnn_artifact.m the guide
is the naive composite in colour (radius 2, eps 0.01): chroma edges that follow the pasted object's own
edges stay, colour that wanders across them goes. Without a composite the result's own lightness guides.
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


def guided_filter_color(guide: np.ndarray, src: np.ndarray, radius: int, eps: float) -> np.ndarray:
    """Colour-guide guided filter: ``guide`` HxWx3, ``src`` HxW or HxWxC (float32)."""
    g = guide.astype(np.float64)
    s = src.astype(np.float64)
    if s.ndim == 3:
        return np.stack([guided_filter_color(guide, s[..., k], radius, eps) for k in range(s.shape[2])], axis=-1)
    mg = _box(g, radius)  # (H, W, 3)
    ms = _box(s, radius)
    cov = _box(g * s[..., None], radius) - mg * ms[..., None]  # (H, W, 3)
    sigma = np.empty(g.shape[:2] + (3, 3))
    for i in range(3):
        for j in range(i, 3):
            sigma[..., i, j] = sigma[..., j, i] = _box(g[..., i] * g[..., j], radius) - mg[..., i] * mg[..., j]
    a = np.linalg.solve(sigma + eps * np.eye(3), cov[..., None])[..., 0]  # (H, W, 3)
    b = ms - (a * mg).sum(-1)
    return ((_box(a, radius) * g).sum(-1) + _box(b, radius)).astype(np.float32)


#: the paper's chroma denoising with the composite as guide (filt_cnn_artifact.m: r = 2, eps = 0.1^2)
GUIDED_RADIUS = 2
GUIDED_EPS = 0.01


def denoise_chroma(image: np.ndarray, mask: np.ndarray | None = None, radius: int = 4,
                   eps: float = 0.01, guide: np.ndarray | None = None) -> np.ndarray:
    """Smooth the a*/b* channels of ``image`` (RGB float32 [0, 1]) guided by ``guide`` (RGB, the naive
    composite: the paper's radius 2) or else by its own lightness; only inside ``mask`` (HxW in [0, 1])
    when given."""
    rgb = np.clip(image, 0, 1).astype(np.float32)
    lab = cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB)
    ab = lab[..., 1:] / 127.0
    if guide is None:
        smooth = guided_filter(lab[..., 0] / 100.0, ab, radius, eps) * 127.0
    else:
        smooth = guided_filter_color(np.clip(guide, 0, 1), ab, GUIDED_RADIUS, GUIDED_EPS) * 127.0
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
