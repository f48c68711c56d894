"""Colour helpers: keep the content's colours and transfer only luminance (YIQ)."""

from __future__ import annotations

import numpy as np

_RGB2YIQ = np.array([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]], np.float32)
_YIQ2RGB = np.linalg.inv(_RGB2YIQ).astype(np.float32)


def rgb_to_yiq(rgb: np.ndarray) -> np.ndarray:
    return rgb @ _RGB2YIQ.T


def yiq_to_rgb(yiq: np.ndarray) -> np.ndarray:
    return yiq @ _YIQ2RGB.T


def original_colors(stylized: np.ndarray, content: np.ndarray) -> np.ndarray:
    """The luminance of ``stylized`` with the chroma (I, Q) of ``content``; both HxWx3 in [0, 1]."""
    if stylized.shape != content.shape:
        raise ValueError(f"shapes differ: {stylized.shape} vs {content.shape}")
    out = rgb_to_yiq(content)
    out[..., 0] = rgb_to_yiq(stylized)[..., 0]
    return np.clip(yiq_to_rgb(out), 0.0, 1.0).astype(np.float32)
