"""Regions: a style for each part of the photo (Gatys et al. 2017, "Controlling Perceptual Factors in Neural
Style Transfer"), or the photo kept as it is.

A region is a soft mask over the photo with its own painting, or none ("keep the photo here"). Its style is
matched with guided Gram matrices: at each style layer the Gram is taken over the region's mask carried to
that layer (``masks.layer_masks``) and divided by the mask's sum, and compared with the painting's Gram (over
a mask on the painting too, when one is given, so "the painting's sky for the photo's sky" works). The part
of the photo no region covers takes the run's own paintings the same way. Where soft masks overlap, each
pixel's shares are divided by their sum; a feathered edge blends two styles.

Each region's loss is weighted by its share of the picture (the mask's mean), so a region over the whole
photo is the plain Gatys loss and the weights mean what they mean without regions. A kept region adds a
pixel term towards the photo under its mask: the style of the regions around it would otherwise leak in
through the receptive fields of the deep layers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from studio.engines.errors import StudioInputError
from studio.engines.features.losses import energy, gram
from studio.engines.features.vgg import FeatureNetwork
from studio.engines.masks import layer_masks, resize_mask
from studio.engines.pixels import resize_to
from studio.engines.style.tiles import grams_of

MAX_REGIONS = 16
# A region whose mask has less than this mean over the photo holds no pixels worth a style: refused.
_EMPTY = 1e-3
# The mask of a region must have the photo's aspect ratio within this fraction (it is resized to the photo).
_ASPECT_TOLERANCE = 0.02


@dataclass(frozen=True)
class Region:
    """One region of a style run: ``mask`` (HxW float in [0, 1], the photo's aspect ratio, any size) over the
    photo; ``style`` (an RGB painting in [0, 1]) or None to keep the photo there; ``style_mask`` (HxW over the
    painting) picks the part of the painting to take. ``name`` says which region an error is about."""

    mask: np.ndarray
    style: np.ndarray | None
    style_mask: np.ndarray | None = None
    name: str = "region"

    @property
    def keeps_photo(self) -> bool:
        return self.style is None


def _check_mask(mask: np.ndarray, what: str, shape: tuple[int, ...]) -> None:
    m = np.asarray(mask)
    if m.ndim != 2 or m.size == 0:
        raise StudioInputError(f"{what} is not a one-channel mask (its shape is {m.shape}).")
    if not np.issubdtype(m.dtype, np.floating) or not np.isfinite(m).all() or m.min() < 0 or m.max() > 1:
        raise StudioInputError(f"{what} must hold values between 0 and 1.")
    h, w = shape[:2]
    if abs((m.shape[1] / m.shape[0]) / (w / h) - 1) > _ASPECT_TOLERANCE:
        raise StudioInputError(f"{what} is {m.shape[1]}x{m.shape[0]}, which is not the shape of the picture it "
                               f"covers ({w}x{h}); make it at that size.")
    if float(m.mean()) < _EMPTY:
        raise StudioInputError(f"{what} is empty: it covers none of the picture.")


def check_regions(regions: Sequence[Region], content_shape: tuple[int, ...]) -> None:
    """Raise StudioInputError with one sentence for a region that cannot run."""
    if len(regions) > MAX_REGIONS:
        raise StudioInputError(f"{len(regions)} regions is more than the {MAX_REGIONS} a run paints.")
    for r in regions:
        _check_mask(r.mask, f"The mask of {r.name}", content_shape)
        if r.style is None:
            if r.style_mask is not None:
                raise StudioInputError(f"{r.name} keeps the photo, so it takes no mask on a painting.")
            continue
        if r.style.ndim != 3 or r.style.shape[2] != 3:
            raise StudioInputError(f"The painting of {r.name} is not an RGB image (its shape is {r.style.shape}).")
        if r.style_mask is not None:
            _check_mask(r.style_mask, f"The painting mask of {r.name}", r.style.shape)


def shares(masks: Sequence[np.ndarray], hw: tuple[int, int]) -> tuple[list[np.ndarray], np.ndarray]:
    """Each region's share of every pixel at size ``hw``, and the share left for the run's own paintings:
    where the masks add up to more than 1 they are divided by their sum, so the shares always add up to 1."""
    resized = [resize_mask(np.asarray(m, dtype=np.float32), hw) for m in masks]
    if not resized:
        return [], np.ones(hw, np.float32)
    total = np.sum(resized, axis=0)
    scale = np.where(total > 1, 1.0 / np.maximum(total, 1e-6), 1.0).astype(np.float32)
    out = [m * scale for m in resized]
    rest = np.clip(1.0 - total * scale, 0.0, 1.0).astype(np.float32)
    return out, rest


def guided_gram(features: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Gram (C, C) of features (1, C, h, w) over ``mask`` (h, w): sum_p m_p f_p f_p^T / sum_p m_p."""
    _, _, h, w = features.shape
    weight = mask.to(features.dtype).clamp_min(0)
    total = weight.sum().clamp_min(1e-8)
    return gram(features * weight.sqrt()[None, None]) * (h * w / total)


@dataclass
class GuidedTarget:
    """One part of the picture at one scale: its share there, carried to each style layer, and the Gram
    matrices its paintings' features have (over the painting masks)."""

    masks: dict[str, torch.Tensor]  # layer -> (h, w) share
    area: dict[str, float]  # layer -> the share's mean
    grams: dict[str, tuple[torch.Tensor, torch.Tensor]]  # layer -> (target Gram, its energy)


def guided_target(net: FeatureNetwork, share: torch.Tensor, paintings: Sequence[torch.Tensor],
                  painting_masks: Sequence[torch.Tensor | None], blend: Sequence[float], layers: Sequence[str],
                  pooling: str, core_side: int | None = None) -> GuidedTarget:
    """The target of one part: ``share`` (H, W) at the scale's size, its paintings (1x3xhxw tensors, blended
    by ``blend``) and their masks (each (h, w) at the painting's size, or None for the whole painting); a
    painting larger than a tile of ``core_side`` is measured in tiles."""
    masks = layer_masks(share, net, layers, inside_edges=True)
    grams: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
    with torch.no_grad():
        per_painting = []
        for p, pm in zip(paintings, painting_masks, strict=True):
            pmasks = layer_masks(pm, net, layers, inside_edges=True) if pm is not None else None
            per_painting.append(grams_of(net, p, list(layers), pooling, pmasks, core_side))
        for n in layers if per_painting else ():
            g = sum(b * pp[n] for b, pp in zip(blend, per_painting, strict=True))
            assert isinstance(g, torch.Tensor)
            grams[n] = (g, energy(g))
    return GuidedTarget(masks=masks, area={n: float(m.mean()) for n, m in masks.items()}, grams=grams)


@dataclass
class ScaledRegions:
    """The regions at one scale of a run, as tensors: each region's share of the pixels (H, W), its painting
    (1x3xhxw, at the size the run's own paintings take; None keeps the photo) and the painting's mask (h, w),
    and the share left for the run's own paintings."""

    shares: list[torch.Tensor]
    paintings: list[torch.Tensor | None]
    painting_masks: list[torch.Tensor | None]
    rest: torch.Tensor

    @property
    def rest_area(self) -> float:
        return float(self.rest.mean())


def painting_shape(painting_hw: tuple[int, int], long_side: int, style_scale: float) -> tuple[int, int]:
    """(h, w) a painting takes at a scale whose long side is ``long_side``: ``style_scale`` times that side."""
    k = style_scale * long_side / max(painting_hw)
    return max(1, round(painting_hw[0] * k)), max(1, round(painting_hw[1] * k))


def _tensor(a: np.ndarray, device: torch.device) -> torch.Tensor:
    t = torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))
    return (t.permute(2, 0, 1)[None] if t.ndim == 3 else t).to(device)


def at_scale(regions: Sequence[Region], hw: tuple[int, int], style_scale: float,
             device: torch.device) -> ScaledRegions:
    """``regions`` at a scale of size ``hw``."""
    region_shares, rest = shares([r.mask for r in regions], hw)
    paintings: list[torch.Tensor | None] = []
    painting_masks: list[torch.Tensor | None] = []
    for r in regions:
        if r.style is None:
            paintings.append(None)
            painting_masks.append(None)
            continue
        phw = painting_shape(r.style.shape[:2], max(hw), style_scale)
        paintings.append(_tensor(resize_to(r.style, phw), device))
        painting_masks.append(None if r.style_mask is None else _tensor(resize_mask(r.style_mask, phw), device))
    return ScaledRegions(shares=[_tensor(m, device) for m in region_shares], paintings=paintings,
                         painting_masks=painting_masks, rest=_tensor(rest, device))
