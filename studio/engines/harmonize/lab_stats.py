"""CIELAB statistics of a pasted object: a channel shifted and scaled to a reference's mean and spread
(Reinhard et al. 2001). The colour-transfer quick mode matches all three channels to the painting around the
object; pass 2 of the paper's method starts from the object's lightness matched to the painting patches it is
mapped to."""

from __future__ import annotations

import cv2
import numpy as np

#: the most a channel's spread is multiplied by (a flat object is not given the painting's contrast)
MAX_SCALE = 2.0


def to_lab(rgb: np.ndarray) -> np.ndarray:
    """HxWx3 RGB in [0, 1] as CIELAB (L in 0..100)."""
    return cv2.cvtColor(np.clip(rgb, 0, 1).astype(np.float32), cv2.COLOR_RGB2LAB)


def to_rgb(lab: np.ndarray) -> np.ndarray:
    """HxWx3 CIELAB as RGB in [0, 1]."""
    return np.clip(cv2.cvtColor(lab.astype(np.float32), cv2.COLOR_LAB2RGB), 0, 1).astype(np.float32)


def channel_map(values: np.ndarray, reference: np.ndarray) -> tuple[float, float]:
    """The scale and offset that give ``values`` the mean and standard deviation of ``reference`` (the scale at
    most ``MAX_SCALE``); (1, 0) when either is empty."""
    if values.size == 0 or reference.size == 0:
        return 1.0, 0.0
    scale = min(MAX_SCALE, float(reference.std()) / max(float(values.std()), 1e-3))
    return scale, float(reference.mean()) - scale * float(values.mean())


def match_channel(values: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """``values`` shifted and scaled to the mean and standard deviation of ``reference`` (``channel_map``)."""
    scale, offset = channel_map(values, reference)
    return (values * scale + offset).astype(values.dtype)
