"""A spectral preconditioner for optimising pixels: L-BFGS runs on ``z`` with the image ``x = K z``,
where ``K`` multiplies the image's cosine spectrum by ``1 + gain * exp(-(f * period)^2)`` (f in cycles
per pixel). Low frequencies, the painting's large brush structures, then take steps up to
(1 + gain)^2 times larger than the fine texture's, which otherwise (stiff total-variation and range
terms, and L-BFGS's single scalar initial curvature) hold the whole image to small steps.

The cosine transform (not the FFT) keeps the two edges of the image apart, and ``K`` stays
symmetric, so the gradient with respect to ``z`` is ``K`` applied to the image gradient. It is
invertible (its response is at least 1), so any image has its ``z``. Only the cosines whose boost is
above 1e-9 of the gain take part (about 4 * size / period of them on each axis), so applying ``K`` or
its inverse is four thin matrix products, on any device.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class SpectralBoost:
    gain: float = 10.0  # extra gain at frequency 0
    period: float = 64.0  # pixels: the boost falls to 1/e of ``gain`` at 1/period cycles per pixel

    def apply(self, t: torch.Tensor) -> torch.Tensor:
        """``K t`` for a (..., H, W) float tensor."""
        return self._low_pass(t, lambda boost: boost)

    def inverse(self, t: torch.Tensor) -> torch.Tensor:
        """``K^-1 t``: the ``z`` whose image is ``t``."""
        return self._low_pass(t, lambda boost: -boost / (1.0 + boost))

    def _low_pass(self, t: torch.Tensor, gain_of: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
        """``t + C^T (gain_of(boost) * (C t)) C``: a change of the low cosines only (C: the kept ones)."""
        h, w = t.shape[-2:]
        cy, ay = _basis(h, self.period, t.device, t.dtype)
        cx, ax = _basis(w, self.period, t.device, t.dtype)
        boost = self.gain * ay[:, None] * ax[None, :]
        return t + cy.T @ (gain_of(boost) * (cy @ t @ cx.T)) @ cx


@functools.lru_cache(maxsize=16)
def _basis(n: int, period: float, device: torch.device, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """The rows of the orthonormal DCT-II matrix (row k: k / (2n) cycles per pixel) whose decay
    ``exp(-(f * period)^2)`` is above 1e-9, and those decays."""
    f = torch.arange(n, dtype=torch.float64) / (2 * n)
    decay = torch.exp(-(f * period) ** 2)
    m = max(1, int((decay > 1e-9).sum()))
    k = torch.arange(m, dtype=torch.float64)[:, None]
    i = torch.arange(n, dtype=torch.float64)[None, :]
    c = torch.cos(math.pi * (i + 0.5) * k / n) * math.sqrt(2.0 / n)
    c[0] /= math.sqrt(2.0)
    return c.to(device=device, dtype=dtype), decay[:m].to(device=device, dtype=dtype)
