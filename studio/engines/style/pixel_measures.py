"""Measures of a stylised picture that no network computes, so the engine can never have optimised them.

A figure computed with the feature network the engine optimises flatters the engine (its own VGG said
studio was closer to the photo than the classic where the eye and another network said the opposite);
these look only at pixels, at a fixed analysis size, so pictures of any size compare:

- ``outline_agreement``: how well the photo's large shapes survive: the correlation of the gradient
  magnitudes of the result and the photo, both blurred to the scale of the subject's outlines (a town
  lost in texture scores low, a recognisable one high; colour changes do not matter).
- ``ripple``: how busy the result is: the share of its luminance detail (what a blur of 8 pixels of the
  analysis size removes) that a blur of one pixel already removes, where speckle and the finest ripples sit.
- ``photo_texture``: how much of the photo's own finest texture shows through: the correlation of the finest
  luminance band (a difference of Gaussians of 0.5 and 1.5 pixels, at the result's own size) of the result and
  the photo. A painting's strokes lay down their own fine texture (the classic neural-style outputs: 0.02 to
  0.06); a picture that kept the photo's pixels under the strokes scores high and looks embossed and busy.
- ``palette_distance``: how far the result's colours are from the painting's: the sliced Wasserstein distance of
  their CIELAB colour distributions (in Lab units: 1 is every pixel's colour moved by one unit); a pale wash
  over a painting of deep blues, or the photo's own colours showing through, scores high.
- ``stroke_coherence``: how much the result's strokes run in one direction over a few pixels rather than curl
  into short ripples: the structure tensor's coherence ((l1 - l2) / (l1 + l2) of its eigenvalues, over a
  neighbourhood of 6 pixels at 512 px), averaged with the detail's energy as weight. Brushwork that follows
  shapes scores high (The Scream 0.76, its classic neural-style rendering of Tübingen 0.72); wormy ripples
  and speckle score low (studio's 512 px default 0.66 on that pair: the gap of issue 20).
"""

from __future__ import annotations

import cv2
import numpy as np

from studio.engines.pixels import resize_long_side

ANALYSIS_SIDE = 256  # long side the measures look at: pictures of any size are compared at this one


def _grey(img: np.ndarray, side: int) -> np.ndarray:
    return resize_long_side(img, side) @ np.array([0.299, 0.587, 0.114], np.float32)


def _derivatives(grey: np.ndarray, sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """The x and y derivatives of ``grey`` blurred by ``sigma`` pixels."""
    g = cv2.GaussianBlur(grey, (0, 0), sigma)
    return cv2.Sobel(g, cv2.CV_32F, 1, 0, ksize=3), cv2.Sobel(g, cv2.CV_32F, 0, 1, ksize=3)


def _gradient(grey: np.ndarray, sigma: float) -> np.ndarray:
    gx, gy = _derivatives(grey, sigma)
    return np.sqrt(gx * gx + gy * gy)


def outline_agreement(result: np.ndarray, photo: np.ndarray, sigma: float = 2.0) -> float:
    """Correlation (-1..1) of the blurred gradient magnitudes of ``result`` and ``photo`` (RGB [0, 1])."""
    a = _gradient(_grey(result, ANALYSIS_SIDE), sigma)
    b = _gradient(_grey(photo, ANALYSIS_SIDE), sigma)
    if a.shape != b.shape:
        b = cv2.resize(b, (a.shape[1], a.shape[0]), interpolation=cv2.INTER_AREA)
    a, b = a - a.mean(), b - b.mean()
    return float((a * b).sum() / max(np.sqrt((a * a).sum() * (b * b).sum()), 1e-12))


def ripple(result: np.ndarray) -> float:
    """Share (0..1) of the luminance detail energy at the finest scale (see the module docstring)."""
    g = _grey(result, ANALYSIS_SIDE)
    fine = g - cv2.GaussianBlur(g, (0, 0), 1.0)
    detail = g - cv2.GaussianBlur(g, (0, 0), 8.0)
    return float((fine * fine).mean() / max((detail * detail).mean(), 1e-12))


def _band(grey: np.ndarray, fine: float, coarse: float) -> np.ndarray:
    return cv2.GaussianBlur(grey, (0, 0), fine) - cv2.GaussianBlur(grey, (0, 0), coarse)


def photo_texture(result: np.ndarray, photo: np.ndarray) -> float:
    """Correlation (-1..1) of the finest luminance band of ``result`` and ``photo`` (RGB [0, 1]), at the
    result's size (see the module docstring)."""
    side = max(result.shape[:2])
    a = _band(_grey(result, side), 0.5, 1.5)
    b = _band(_grey(photo, side), 0.5, 1.5)
    if a.shape != b.shape:
        b = cv2.resize(b, (a.shape[1], a.shape[0]), interpolation=cv2.INTER_AREA)
    return float((a * b).sum() / max(np.sqrt((a * a).sum() * (b * b).sum()), 1e-12))


COHERENCE_SIDE = 512  # long side stroke_coherence looks at (a stroke of a 512 px picture is a few pixels wide)


def stroke_coherence(result: np.ndarray, gradient_sigma: float = 1.0, neighbourhood: float = 6.0) -> float:
    """Energy-weighted mean coherence (0..1) of the structure tensor of ``result`` (RGB [0, 1]) at
    ``COHERENCE_SIDE`` (see the module docstring): 1 where all detail runs one way, 0 where it has no direction."""
    gx, gy = _derivatives(_grey(result, COHERENCE_SIDE), gradient_sigma)
    jxx, jyy, jxy = (cv2.GaussianBlur(a, (0, 0), neighbourhood) for a in (gx * gx, gy * gy, gx * gy))
    spread = np.sqrt((jxx - jyy) ** 2 + 4 * jxy * jxy)  # l1 - l2
    return float(spread.sum() / max(float((jxx + jyy).sum()), 1e-12))


_PALETTE_DIRECTIONS = 64
_PALETTE_QUANTILES = np.linspace(0.005, 0.995, 200, dtype=np.float32)


def _lab(img: np.ndarray) -> np.ndarray:
    """The CIELAB colours of ``img``'s pixels, at most at the analysis size (never enlarged: no new colours)."""
    small = resize_long_side(img, min(ANALYSIS_SIDE, max(img.shape[:2])))
    return cv2.cvtColor(np.clip(small, 0, 1), cv2.COLOR_RGB2LAB).reshape(-1, 3)


def palette_distance(result: np.ndarray, painting: np.ndarray) -> float:
    """Sliced Wasserstein distance (CIELAB units) of the colours of ``result`` and ``painting`` (RGB [0, 1]):
    the mean over fixed directions of the mean gap between the two pictures' quantiles along them."""
    a, b = _lab(result), _lab(painting)
    d = np.random.default_rng(0).normal(size=(_PALETTE_DIRECTIONS, 3)).astype(np.float32)
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    qa = np.quantile(a @ d.T, _PALETTE_QUANTILES, axis=0)
    qb = np.quantile(b @ d.T, _PALETTE_QUANTILES, axis=0)
    return float(np.abs(qa - qb).mean())
