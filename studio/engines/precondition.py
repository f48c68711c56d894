"""A spectral preconditioner for optimising pixels: L-BFGS runs on ``z`` with the image ``x = K z``,
where ``K`` multiplies the image's spectrum by ``1 + gain * exp(-(f * period)^2)`` (f in cycles per
pixel). Low frequencies, the painting's large brush structures, then take steps up to (1 + gain)^2
times larger than the fine texture's, which otherwise (stiff total-variation and range terms, and
L-BFGS's single scalar initial curvature) hold the whole image to small steps.

``K`` is a real, even filter, so it is symmetric: the gradient with respect to ``z`` is ``K`` applied
to the image gradient. It is invertible (its response is at least 1), so any image has its ``z``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class SpectralBoost:
    gain: float = 10.0  # extra gain at frequency 0
    period: float = 64.0  # pixels: the boost falls to 1/e of ``gain`` at 1/period cycles per pixel

    def response(self, height: int, width: int, device: torch.device) -> torch.Tensor:
        return _response(self.gain, self.period, height, width, str(device))

    def apply(self, t: torch.Tensor) -> torch.Tensor:
        """``K t`` for a (..., H, W) float tensor."""
        return self._filter(t, inverse=False)

    def inverse(self, t: torch.Tensor) -> torch.Tensor:
        """``K^-1 t``: the ``z`` whose image is ``t``."""
        return self._filter(t, inverse=True)

    def _filter(self, t: torch.Tensor, inverse: bool) -> torch.Tensor:
        if t.device.type in _NO_FFT:
            return self._filter(t.cpu(), inverse).to(t.device)
        h, w = t.shape[-2:]
        work = t if t.dtype in (torch.float32, torch.float64) else t.float()
        try:
            r = self.response(h, w, t.device)
            spectrum = torch.fft.rfft2(work)
            spectrum = spectrum / r if inverse else spectrum * r
            out = torch.fft.irfft2(spectrum, s=(h, w))
        except (NotImplementedError, RuntimeError, TypeError):
            if t.device.type == "cpu":
                raise
            _NO_FFT.add(t.device.type)  # an older MPS build without complex tensors: filter on the CPU
            return self._filter(t, inverse)
        return out.to(t.dtype)


_NO_FFT: set[str] = set()


@functools.lru_cache(maxsize=8)
def _response(gain: float, period: float, height: int, width: int, device: str) -> torch.Tensor:
    fy = torch.fft.fftfreq(height, device=device)[:, None]
    fx = torch.fft.rfftfreq(width, device=device)[None, :]
    return 1.0 + gain * torch.exp(-(fy**2 + fx**2) * period**2)
