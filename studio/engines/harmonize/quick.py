"""Quick harmonization modes: colour statistics in LAB, Poisson blending, and masked Gatys.

- ``color_transfer``: inside the mask, each CIELAB channel of the pasted object is shifted and
  scaled to the mean and standard deviation of the painting around it (Reinhard et al. 2001), the
  scale bounded (a flat object's contrast is not blown up) and every colour kept inside the gamut of
  the painting around it: lightness within its range, chroma no higher than its most saturated colours.
- ``poisson_blend``: OpenCV's seamlessClone, NORMAL_CLONE (the object's gradients) or MIXED_CLONE
  (the stronger of the object's and the painting's gradients: the painting's texture shows through).
- ``gatys_objective``: Gatys et al. restricted to the mask; content = the composite, style = the
  whole painting's Gram matrices; the pixels outside the loose mask never change.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch

from studio.engines.features.losses import energy, gram
from studio.engines.features.vgg import FeatureNetwork
from studio.engines.harmonize.lab_stats import match_channel, to_lab, to_rgb
from studio.engines.harmonize.losses import LayerTerm, Objective, content_term, gram_masked
from studio.engines.masks import binarize, dilate, layer_masks

GATYS_STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
GATYS_CONTENT_LAYER = "relu4_1"


def color_transfer(painting: np.ndarray, composite: np.ndarray, mask: np.ndarray,
                   context_radius: int | None = None) -> np.ndarray:
    """The composite with the object's LAB statistics matched to the painting's (inside ``mask``).

    The painting's statistics come from the painting outside the mask, within ``context_radius``
    pixels of it (None: a quarter of the image's long side), so the local palette wins.
    """
    m = binarize(mask)
    inside = m > 0.5
    if context_radius is None:
        context_radius = max(8, max(mask.shape) // 4)
    ring = (dilate(m, context_radius) > 0.5) & ~inside
    if ring.sum() < 16:
        ring = ~inside
    src, ref = to_lab(composite), to_lab(painting)
    out = src.copy()
    for k in range(3):
        out[..., k][inside] = match_channel(src[..., k][inside], ref[..., k][ring])
    _into_gamut(out, ref[ring], inside)
    return np.where(inside[..., None], to_rgb(out), composite).astype(np.float32)


#: the painting's gamut around the object: these percentiles of its lightness and chroma
GAMUT_PERCENTILES = (0.5, 99.5)


def _into_gamut(lab: np.ndarray, ring: np.ndarray, inside: np.ndarray) -> None:
    """Bring the colours of ``lab`` (HxWx3 CIELAB) inside ``inside`` into the gamut of the painting's
    ``ring`` colours (Nx3): lightness clipped to their range, chroma scaled down to their highest, and
    each of a*, b* kept within their range (a hue the painting lacks is not invented)."""
    lo, hi = GAMUT_PERCENTILES
    v = lab[inside]
    v[:, 0] = np.clip(v[:, 0], *np.percentile(ring[:, 0], [lo, hi]))
    for k in (1, 2):
        v[:, k] = np.clip(v[:, k], *np.percentile(ring[:, k], [lo, hi]))
    top = float(np.percentile(np.hypot(ring[:, 1], ring[:, 2]), hi))
    chroma = np.hypot(v[:, 1], v[:, 2])
    k = np.minimum(1.0, top / np.maximum(chroma, 1e-6))
    v[:, 1:] *= k[:, None]
    lab[inside] = v


def poisson_blend(painting: np.ndarray, composite: np.ndarray, mask: np.ndarray, mixed: bool = False) -> np.ndarray:
    """Poisson blending of the composite's masked object into the painting (OpenCV seamlessClone)."""
    pad = 8
    m = (binarize(mask) * 255).astype(np.uint8)
    src = (np.clip(composite, 0, 1) * 255 + 0.5).astype(np.uint8)
    dst = (np.clip(painting, 0, 1) * 255 + 0.5).astype(np.uint8)
    src = cv2.copyMakeBorder(src, pad, pad, pad, pad, cv2.BORDER_REFLECT)
    dst = cv2.copyMakeBorder(dst, pad, pad, pad, pad, cv2.BORDER_REFLECT)
    m = cv2.copyMakeBorder(m, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)
    # seamlessClone needs a margin inside the image around the masked region
    m[:pad + 1, :] = 0
    m[-pad - 1:, :] = 0
    m[:, :pad + 1] = 0
    m[:, -pad - 1:] = 0
    ys, xs = np.nonzero(m)
    if len(ys) == 0:
        return np.asarray(composite, dtype=np.float32).copy()
    # seamlessClone centres the mask's bounding box (taken in src) on ``center`` in dst
    x, y, w, h = cv2.boundingRect(m)
    center = (x + w // 2, y + h // 2)
    flags = cv2.MIXED_CLONE if mixed else cv2.NORMAL_CLONE
    out = cv2.seamlessClone(cv2.cvtColor(src, cv2.COLOR_RGB2BGR), cv2.cvtColor(dst, cv2.COLOR_RGB2BGR), m,
                            center, flags)
    out = cv2.cvtColor(out, cv2.COLOR_BGR2RGB)[pad:-pad, pad:-pad]
    return (out.astype(np.float32) / 255.0).astype(np.float32)


def confine(painting: np.ndarray, out: np.ndarray, tight: np.ndarray, loose: np.ndarray) -> np.ndarray:
    """``out``'s changes to ``painting`` kept to the object and the loose mask (``masks.loose_region``): in full
    on the object, fading across the ring to none at the loose mask's edge, whatever its shape (at each ring pixel
    its distance to the loose edge over the sum of that and its distance to the object). OpenCV's Poisson solve
    runs over the object's whole bounding box with only its border held, so it shifted the painting there, up to
    30 levels of 255 on a shared case, outside the loose mask too."""
    inside = binarize(tight) > 0.5
    region = (binarize(loose) > 0.5) | inside
    ring = region & ~inside
    weight = inside.astype(np.float32)
    if ring.any():
        to_object = cv2.distanceTransform((~inside).astype(np.uint8), cv2.DIST_L2, 3)
        to_edge = cv2.distanceTransform(region.astype(np.uint8), cv2.DIST_L2, 3)
        weight[ring] = to_edge[ring] / (to_edge[ring] + to_object[ring])
    return (painting + (out - painting) * weight[..., None]).astype(np.float32)


def gatys_objective(net: FeatureNetwork, painting: torch.Tensor, composite: torch.Tensor, loose: torch.Tensor,
                    style_weight: float) -> Objective:
    """Masked Gatys: tensors (1, 3, H, W) in [0, 1] and the loose mask (H, W) (binary)."""
    layers = (*GATYS_STYLE_LAYERS, GATYS_CONTENT_LAYER)
    masks = layer_masks(loose, net, layers)
    with torch.no_grad():
        pf = net(painting, GATYS_STYLE_LAYERS)
        cf = net(composite, [GATYS_CONTENT_LAYER])[GATYS_CONTENT_LAYER][0]
    terms: list[LayerTerm] = []
    for name in GATYS_STYLE_LAYERS:
        g = gram(pf[name])  # (C, C) / (H*W)
        e = energy(g)
        m = masks[name]
        area = m.sum().clamp_min(1e-6)

        def fn(f: torch.Tensor, g=g, e=e, m=m, area=area) -> torch.Tensor:
            return (gram_masked(f, m) / area - g).pow(2).mean() / e
        terms.append(LayerTerm("style", name, style_weight / len(GATYS_STYLE_LAYERS), fn))
    cm = masks[GATYS_CONTENT_LAYER]
    ce = float((cf * cm[None]).pow(2).mean().clamp_min(1e-12))
    terms.append(content_term(GATYS_CONTENT_LAYER, cf, 1.0 / ce, mask=cm))
    ones = {name: torch.ones_like(m) for name, m in masks.items()}
    return Objective(net=net, terms=terms, masks=ones, pixel_mask=loose)
