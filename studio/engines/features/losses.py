"""Loss terms of Gatys style transfer, normalised so their weights mean the same at any size.

- content: squared feature error divided by the content features' energy;
- style: squared Gram error divided by the target Gram's energy, per layer;
- total variation: squared neighbour differences relative to those of the content image;
- range: squared distance of the pixels outside [0, 1] to the range, averaged over all pixels.
"""

from __future__ import annotations

from typing import Any

import torch


class _Gram(torch.autograd.Function):
    """M^T M / n with a one-product backward: dM = M (dG + dG^T) / n. Autograd's own backward
    of ``m.t() @ m`` makes two (n, C) products and adds them, a third of a style loss's cost
    at the first layers."""

    @staticmethod
    def forward(ctx: Any, m: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        ctx.save_for_backward(m)
        return (m.t() @ m).div_(m.shape[0])

    @staticmethod
    def backward(ctx: Any, d_gram: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        (m,) = ctx.saved_tensors
        return m @ ((d_gram + d_gram.t()) / m.shape[0])


def gram(features: torch.Tensor) -> torch.Tensor:
    """Gram matrix (C, C) of features (1, C, H, W), divided by H*W.

    Works without a copy on channels_last tensors: (H*W, C) is then a contiguous view.
    """
    _, c, h, w = features.shape
    m = features.permute(0, 2, 3, 1).reshape(h * w, c)
    if torch.is_grad_enabled() and m.requires_grad:
        return _Gram.apply(m)
    return (m.t() @ m) / (h * w)


def energy(t: torch.Tensor) -> torch.Tensor:
    return t.pow(2).mean().clamp_min(1e-12)


def content_loss(features: torch.Tensor, target: torch.Tensor, target_energy: torch.Tensor) -> torch.Tensor:
    return (features - target).pow(2).mean() / target_energy


def style_loss(features: torch.Tensor, target_gram: torch.Tensor, target_energy: torch.Tensor) -> torch.Tensor:
    return (gram(features) - target_gram).pow(2).mean() / target_energy


def range_loss(image: torch.Tensor) -> torch.Tensor:
    """Mean squared excursion of the pixel values outside [0, 1] (0 when every pixel is in range)."""
    return (image - image.clamp(0, 1)).pow(2).mean()


def tv_raw(image: torch.Tensor) -> torch.Tensor:
    dx = image[..., :, 1:] - image[..., :, :-1]
    dy = image[..., 1:, :] - image[..., :-1, :]
    return dx.pow(2).mean() + dy.pow(2).mean()


def tv_loss(image: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    return tv_raw(image) / reference.clamp_min(1e-4)  # a flat photo must not blow the term up
