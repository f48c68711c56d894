"""The two passes of Deep Painterly Harmonization (Luan et al. 2018): the objectives ``run_harmonize``
optimises. Pass 1 matches every feature patch of the composite to its nearest painting patch
(independent mapping); pass 2 makes that mapping spatially consistent and adds histogram losses, and starts
from the composite with the object's lightness set to that of the painting patches it is mapped to
(``tone_start``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from studio.engines.features.vgg import FeatureNetwork
from studio.engines.harmonize.histogram import histogram_target
from studio.engines.harmonize.lab_stats import channel_map, to_lab, to_rgb
from studio.engines.harmonize.losses import (
    CONTENT_LAYER,
    PASS1_CONTENT_WEIGHT,
    PASS1_STYLE_LAYERS,
    PASS1_STYLE_WEIGHT,
    PASS1_TV_WEIGHT,
    PASS2_CONTENT_LAYERS,
    PASS2_HIST_LAYERS,
    PASS2_STYLE_LAYERS,
    REFERENCE_LAYER,
    LayerTerm,
    Objective,
    content_term,
    gram_masked,
    histogram_term,
    pass2_weights,
    style_term,
)
from studio.engines.harmonize.patch_match import (
    gather_positions,
    mapped_region,
    nearest_patches,
    refine_mapping,
    to_coords,
    upsample_region,
)
from studio.engines.masks import layer_masks

#: how much colour counts when a patch of the composite is matched to the painting (``nearest_patches``'
#: colour_weight, on CIELAB / 100). The paper's VGG-19 features carry colour; studio's edge-tuned VGG16-hed
#: features hardly do, and without it a black eagle matched the painting's orange beard and turned brown.
COLOUR_WEIGHT = 2.0


def lab_colours(image: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    """(3, h, w): the CIELAB colour / 100 of ``image`` (1, 3, H, W) in [0, 1], averaged over each position of a
    feature map of ``shape`` and its 3x3 neighbours (a patch's colour)."""
    rgb = image[0].permute(1, 2, 0).detach().clamp(0, 1).cpu().numpy().astype(np.float32)
    lab = torch.from_numpy(cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB) / 100.0).permute(2, 0, 1)[None]
    small = F.adaptive_avg_pool2d(lab, shape)
    return F.avg_pool2d(small, 3, stride=1, padding=1, count_include_pad=False)[0].to(image.device)


def build_pass1(net: FeatureNetwork, painting: torch.Tensor, composite: torch.Tensor,
                loose: torch.Tensor, check: Callable[[], None] | None = None) -> Objective:
    """Pass 1 (independent mapping). Tensors (1, 3, H, W) in [0, 1]; ``composite`` and ``loose``
    (H, W) are the crop being optimised, ``painting`` the whole painting."""
    layers = PASS1_STYLE_LAYERS
    masks = layer_masks(loose, net, layers)
    with torch.no_grad():
        pf = net(painting, layers)
        cf = net(composite, layers)
    terms: list[LayerTerm] = [content_term(CONTENT_LAYER, cf[CONTENT_LAYER][0].clone(), PASS1_CONTENT_WEIGHT)]
    for name in layers:
        m = masks[name]
        colours = (lab_colours(composite, tuple(cf[name].shape[-2:])),
                   lab_colours(painting, tuple(pf[name].shape[-2:])))
        idx = nearest_patches(cf[name][0], pf[name][0], query_mask=(m > 0.01).float(), check=check, colours=colours,
                              colour_weight=COLOUR_WEIGHT)
        match = gather_positions(pf[name][0], idx, tuple(m.shape))
        area = m.sum().clamp_min(1e-6)
        target = gram_masked(match, m) / area
        terms.append(style_term(name, target, m, float(area), PASS1_STYLE_WEIGHT))
    return Objective(net=net, terms=terms, masks=masks, pixel_mask=loose, tv_weight=PASS1_TV_WEIGHT)


@dataclass
class Pass2Mapping:
    """The consistent mapping at the reference layer and the painting region per layer."""

    coords: torch.Tensor  # (h, w, 2) painting (y, x) per output position at relu4_1
    regions: dict[str, torch.Tensor]  # per layer: painting positions the mapping uses (0/1)


def consistent_mapping(net: FeatureNetwork, painting: torch.Tensor, intermediate: torch.Tensor,
                       tight: torch.Tensor, painting_feats: dict[str, torch.Tensor],
                       check: Callable[[], None] | None = None) -> Pass2Mapping:
    """Match the pass-1 result to the painting at relu4_1, make the mapping spatially consistent,
    and propagate the painting region it uses to the lower layers."""
    with torch.no_grad():
        xf = net(intermediate, [REFERENCE_LAYER])[REFERENCE_LAYER][0]
    pref = painting_feats[REFERENCE_LAYER][0]
    h, w = xf.shape[-2:]
    h2, w2 = pref.shape[-2:]
    tmask = F.interpolate((tight > 0.1).float()[None, None], size=(h, w), mode="nearest")[0, 0]
    query = F.max_pool2d(tmask[None, None], 5, stride=1, padding=2)[0, 0]
    colours = (lab_colours(intermediate, (h, w)), lab_colours(painting, (h2, w2)))
    idx = nearest_patches(xf, pref, query_mask=query, check=check, colours=colours, colour_weight=COLOUR_WEIGHT)
    coords = to_coords(idx.clamp_min(0), h, w, w2)
    guide = F.interpolate(painting, size=(h2, w2), mode="bilinear", align_corners=False)[0]
    coords = refine_mapping(coords, guide, tmask, radius=2)
    region = mapped_region(coords, tmask, (h2, w2), ring=1)
    regions = {}
    for name, f in painting_feats.items():
        regions[name] = region if name == REFERENCE_LAYER else upsample_region(region, tuple(f.shape[-2:]))
    return Pass2Mapping(coords=coords, regions=regions)


def build_pass2(net: FeatureNetwork, painting: torch.Tensor, composite: torch.Tensor, intermediate: torch.Tensor,
                tight: torch.Tensor, loose: torch.Tensor, tau: float, noise: float,
                tv_factor: float = 1.0, check: Callable[[], None] | None = None) -> tuple[Objective, Pass2Mapping]:
    """Pass 2 (consistent mapping). ``composite``, ``intermediate`` (the pass-1 result), ``tight`` and
    ``loose`` are the crop being optimised; ``painting`` the whole painting."""
    layers = PASS2_STYLE_LAYERS
    masks = layer_masks(loose, net, layers)
    with torch.no_grad():
        pf = net(painting, layers)
        cf = net(composite, list(PASS2_CONTENT_LAYERS))
    mapping = consistent_mapping(net, painting, intermediate, tight, pf, check)
    wts = pass2_weights(tau, noise, tv_factor)
    terms: list[LayerTerm] = [content_term(name, cf[name][0], wts.content, mask=masks[name], normalise=True)
                              for name in PASS2_CONTENT_LAYERS]
    for name in layers:
        f = pf[name][0]
        c = f.shape[0]
        region = mapping.regions[name]
        target = gram_masked(f, region) / (region.sum().clamp_min(1.0) * c)
        m = masks[name]
        terms.append(style_term(name, target, m, float(m.sum().clamp_min(1e-6)) * c, wts.style, normalise=True))
        if name in PASS2_HIST_LAYERS:
            terms.append(histogram_term(name, histogram_target(f, region), (m > 0.1).float(), wts.histogram))
    obj = Objective(net=net, terms=terms, masks=masks, pixel_mask=loose, tv_weight=wts.tv, tv_normalise=True)
    return obj, mapping


def tone_start(image: torch.Tensor, tight: torch.Tensor, painting: torch.Tensor, region: torch.Tensor,
               amount: float = 1.0) -> torch.Tensor:
    """Pass 2's starting image: ``image`` (1, 3, H, W) in [0, 1] with the CIELAB lightness of the object (inside
    ``tight``, (H, W), blended by its softness) shifted and scaled to the mean and spread of the ``painting``'s
    (1, 3, H2, W2) lightness over ``region`` (the painting positions pass 2's mapping uses, at any resolution),
    by ``amount`` (0: not at all, 1: fully; a run gives its style strength, so a strength under 1 keeps some of
    the object's own lightness and 0 all of it).

    Pass 2's relu1_1 Gram matrix pulls the object towards that tone anyway, but slowly: in the paper's 1000
    iterations it gets there (case 19's white figure came out a painted cream, lightness 61 in its result,
    where the mapped patches have 59), in studio's tens it had moved from 79 only to 71 and stayed a pale
    ghost. The colours (a*, b*) are left to the optimisation, so an object keeps its own where the painting
    allows them (case 14's red truck)."""
    weight = tight.detach().float().clamp(0, 1).cpu().numpy()
    inside = weight > 0.5
    pic = painting[0].detach().permute(1, 2, 0).float().cpu().numpy()
    where = region.detach().float().cpu().numpy()
    if where.shape != pic.shape[:2]:
        where = cv2.resize(where, (pic.shape[1], pic.shape[0]), interpolation=cv2.INTER_NEAREST)
    reference = to_lab(pic)[..., 0][where > 0.5]
    if not inside.any() or reference.size == 0:
        return image
    rgb = image[0].detach().permute(1, 2, 0).float().cpu().numpy()
    lab = to_lab(rgb)
    # one map for the object's lightness, fitted on its inside and applied to its soft edge too
    scale, offset = channel_map(lab[..., 0][inside], reference)
    k = min(max(float(amount), 0.0), 1.0)
    lab[..., 0] = np.clip(lab[..., 0] * (1 - k + k * scale) + k * offset, 0, 100)
    out = to_rgb(lab) * weight[..., None] + rgb * (1 - weight[..., None])
    return torch.from_numpy(out).permute(2, 0, 1)[None].to(image)
