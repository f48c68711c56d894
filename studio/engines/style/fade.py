"""Fade: the stylised picture mixed back with the photo, by a strength, in colour and tone or in luminance only.

Cheap (no network), so the app applies it live to a finished result without a new run, and the engine
applies the same function to its result so the CLI and recipes give the same picture.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from studio.engines.color import rgb_to_yiq, yiq_to_rgb

FadeMode = Literal["rgb", "luminance"]


def fade(stylised: np.ndarray, photo: np.ndarray, strength: float, mode: FadeMode = "rgb") -> np.ndarray:
    """``strength`` 1: the stylised picture; 0: the photo (``luminance``: only the brightness is mixed back,
    the colours stay the stylised picture's). Both HxWx3 float32 in [0, 1], of one size."""
    if stylised.shape != photo.shape:
        raise ValueError(f"fade needs pictures of one size, got {stylised.shape} and {photo.shape}")
    s = float(np.clip(strength, 0.0, 1.0))
    if s >= 1.0:
        return stylised
    if mode == "luminance":
        a, b = rgb_to_yiq(stylised), rgb_to_yiq(photo)
        a[..., 0] = s * a[..., 0] + (1 - s) * b[..., 0]
        return np.clip(yiq_to_rgb(a), 0.0, 1.0).astype(np.float32)
    return (s * stylised + (1 - s) * photo).astype(np.float32)


def fade_to_photo(stylised: np.ndarray, photo: np.ndarray, strength: float, mode: FadeMode = "rgb") -> np.ndarray:
    """``fade`` with the photo at any size (brought to the stylised picture's, as the engine does)."""
    if photo.shape[:2] != stylised.shape[:2]:
        import cv2

        interp = cv2.INTER_AREA if stylised.shape[0] < photo.shape[0] else cv2.INTER_CUBIC
        photo = np.clip(cv2.resize(photo, (stylised.shape[1], stylised.shape[0]), interpolation=interp), 0, 1)
    return fade(stylised, photo.astype(np.float32), strength, mode)

