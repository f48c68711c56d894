"""Histogram loss (Risser, Wilmot and Barnes 2017), as used by Deep Painterly Harmonization.

Per channel, the target histogram of the painting's features (over the painting region the
mapping uses) is scaled to the number of output positions; the output's activations inside its
mask are sorted, and the k-th smallest is remapped to the value at cumulative count k of the target
histogram (linearly inside a bin). The loss is the squared distance between the activations and
their remapped values; its gradient is ``O - R``, so it pulls each activation towards its match.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

NBINS = 256


@dataclass(frozen=True)
class HistogramTarget:
    """Per-channel histograms (C, nbins) of target features, with their value ranges (C,)."""

    hist: torch.Tensor
    low: torch.Tensor
    high: torch.Tensor

    @property
    def nbins(self) -> int:
        return int(self.hist.shape[1])


def histogram_target(features: torch.Tensor, mask: torch.Tensor, nbins: int = NBINS) -> HistogramTarget:
    """Histograms of ``features`` (C, H, W) over the positions where ``mask`` (H, W) > 0.5."""
    c = features.shape[0]
    sel = mask.reshape(-1) > 0.5
    vals = features.reshape(c, -1)[:, sel].float()
    if vals.shape[1] == 0:
        raise ValueError("the histogram target region is empty")
    low = vals.min(dim=1).values
    high = vals.max(dim=1).values
    flat = high == low
    low = torch.where(flat, low - 1, low)
    high = torch.where(flat, high + 1, high)
    b = ((vals - low[:, None]) / (high - low)[:, None] * nbins).long().clamp(0, nbins - 1)
    hist = torch.zeros(c, nbins, device=features.device)
    hist.scatter_add_(1, b, torch.ones_like(vals))
    return HistogramTarget(hist=hist, low=low, high=high)


def histogram_remap(features: torch.Tensor, mask: torch.Tensor, target: HistogramTarget) -> torch.Tensor:
    """``features`` (C, H, W) with the values inside ``mask`` (H, W) > 0.5 remapped per channel so
    their histogram matches ``target``'s (scaled to the mask's count); values outside are kept."""
    c = features.shape[0]
    sel = torch.nonzero(mask.reshape(-1) > 0.5).flatten()
    out = features.detach().reshape(c, -1).clone().float()
    n = sel.numel()
    if n == 0:
        return out.reshape(features.shape)
    vals = out[:, sel]
    order = vals.argsort(dim=1)
    hist = target.hist * (n / target.hist.sum(dim=1, keepdim=True).clamp_min(1.0))
    cum = hist.cumsum(dim=1)  # (C, nbins)
    rank = torch.arange(n, device=features.device, dtype=cum.dtype).expand(c, n).contiguous()
    # the bin whose cumulative range [cum - hist, cum) holds each rank
    bins = torch.searchsorted(cum.contiguous(), rank, right=True).clamp(max=target.nbins - 1)
    h = hist.gather(1, bins)
    start = cum.gather(1, bins) - h
    ratio = ((rank - start) / (h + 1e-8)).clamp(0.0, 1.0)
    step = (target.high - target.low) / target.nbins
    remapped = target.low[:, None] + (bins.to(ratio.dtype) + ratio) * step[:, None]
    new_vals = torch.empty_like(vals)
    new_vals.scatter_(1, order, remapped)
    out[:, sel] = new_vals
    return out.reshape(features.shape)


def histogram_loss(features: torch.Tensor, mask: torch.Tensor, target: HistogramTarget) -> torch.Tensor:
    """Mean squared distance between ``features`` and their histogram-remapped values (differentiable
    in ``features``; the remapped values are constants)."""
    remapped = histogram_remap(features, mask, target)
    return (features - remapped).pow(2).sum() / features.numel()
