"""What one scale of a style run optimises: the weighted loss (``Objective``) and one optimiser step of the
image on it (``Stepper``: L-BFGS, preconditioned or on the pixels, or Adam)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from studio.engines.events import JobControl
from studio.engines.features.losses import content_loss, energy, gram, range_loss, tv_loss, tv_raw
from studio.engines.features.vgg import FeatureNetwork
from studio.engines.lbfgs import LBFGS, History
from studio.engines.style.params import StyleParams
from studio.engines.style.precondition import SpectralBoost
from studio.engines.style.regions import ScaledRegions, guided_gram, guided_target
from studio.engines.style.tiles import (
    Part,
    Tile,
    features_at,
    geometry,
    gram_core_side,
    grams_of,
    layer_strides,
    needs_tiles,
    partial_gram,
    plan,
    summed_grams,
    tile_features,
    tiles_for,
)

# The range term keeps the pixels in [0, 1] while they are optimised; its weight is this times the
# content + style weights, so it holds the same whatever their scale. Without it ~4 % of the pixels
# ended outside the range and the clamped export was a different picture from the one optimised: at
# 180 s its full-size style distance was 2.3x the unclamped image's (0.0064 vs 0.0028, style_schedule.py).
_RANGE_WEIGHT = 20.0
# L-BFGS's preconditioner (precondition.SpectralBoost): frequencies below 1 / period cycles per pixel
# take steps up to (1 + gain)^2 times larger. Chosen with benchmarks/style_schedule.py at 60 and 180 s:
# gain 3 / period 32 left the content further from the photo at 180 s than plain L-BFGS, gain 20 at
# 60 s; period 128 did worse than 64 (see the README).
_BOOST_GAIN = 10.0
_BOOST_PERIOD = 64.0
# A region that keeps the photo pulls its pixels towards the photo's with this times the content + style
# weights (regions.py says why the content loss alone is not enough).
_KEEP_WEIGHT = 50.0
# L-BFGS remembers up to this many steps, each as two copies of the optimised image (its step and gradient
# change). In float32 the full 50 take 1.2 KB a pixel; a picture whose full history would take more than
# HISTORY_FRACTION of the memory keeps it in float16 (``lbfgs.History``: half the bytes, 5e-4 relative
# rounding), as many steps as fit in HALF_HISTORY_FRACTION (never under MIN_HISTORY). Every picture that runs
# in one pass keeps all 50 in float32 (0.18 is the share they take of the memory at the largest such
# picture, 2.5 MP on 24 GB: 0.12); 4000x3000 keeps 6 in float16, 0.86 GB, so that its whole run stays under
# 6 GB on a machine of 24 GB (benchmarks/bench_tiles.py: 5.34 GB with 3 steps remembered, each 0.14 GB; with
# 16, as before, about 7.1 GB). Fewer steps cost little in the few iterations a print-size render runs:
# Tübingen x The Starry Night rendered at 1024 px from its 512 px result, 5 half-precision steps against 50 in
# float32: within 0.7 % of the loss for 12 iterations, 8 % above after 20, the pictures alike by eye.
MAX_HISTORY = 50
MIN_HISTORY = 5
HISTORY_FRACTION = 0.18
HALF_HISTORY_FRACTION = 0.035


def history_plan(numel: int, memory: int) -> tuple[int, torch.dtype]:
    """How many L-BFGS steps a run over ``numel`` optimised values remembers within ``memory`` bytes, and
    in which precision."""
    if MAX_HISTORY * History.bytes_per_step(numel, torch.float32) <= HISTORY_FRACTION * memory:
        return MAX_HISTORY, torch.float32
    steps = int(HALF_HISTORY_FRACTION * memory // History.bytes_per_step(max(1, numel), torch.float16))
    return max(MIN_HISTORY, min(MAX_HISTORY, steps)), torch.float16


def device_memory(device: torch.device) -> int:
    """Bytes of memory the optimised image's device has (the machine's for the CPU)."""
    if device.type == "cuda":
        return int(torch.cuda.get_device_properties(device).total_memory)
    from studio.engines.limits import machine_memory

    return machine_memory()


@dataclass(frozen=True)
class _StylePart:
    """One Gram matrix of a style layer (``tiles.Part``), its weight in the style term and its target."""

    part: Part
    coefficient: float
    target: torch.Tensor
    energy: torch.Tensor


# A part of the picture with less than this share of a layer's positions adds no style term there.
_NO_AREA = 1e-4


class Objective:
    """The weighted loss at one scale; rebuilt in place when live parameters change.

    The optimised loss weighs the content ``content_factor`` times the user's weight (coarse scales
    hold it more); the reported terms use the user's own weights, so they read the same at every scale.
    """

    def __init__(self, net: FeatureNetwork, content: torch.Tensor, styles: list[torch.Tensor],
                 params: StyleParams, content_factor: float = 1.0, regions: ScaledRegions | None = None,
                 core_side: int | None = None) -> None:
        self.net = net
        # tiles (``tiles.py``) of this core side for every picture larger than one of them; None: never
        self.core_side = core_side
        self.tiles: list[Tile] | None = None
        # the wider tiles of the passes without gradients (``gram_core_side``): the first pass of a tiled
        # evaluation, the content's features and the paintings' Grams
        self.gram_side: int | None = None
        self.gram_tiles: list[Tile] | None = None
        self.tile_margin = 0
        self.regions = regions
        self._masks: dict[str, list[torch.Tensor]] = {}  # layer -> share of the rest, then of each region
        self._areas: dict[str, list[float]] = {}  # layer -> the means of those shares
        self._region_grams: dict[int, dict[str, tuple[torch.Tensor, torch.Tensor]]] = {}
        self.content_factor = content_factor
        self.content = content
        self.styles = styles
        self._style_grams: dict[str, list[torch.Tensor]] = {}
        self._content_feats: dict[str, torch.Tensor] = {}
        self.params = params
        self.check: Callable[[], None] | None = None  # raises to interrupt an evaluation
        self.tv_ref = tv_raw(content).detach()
        self.set_params(params)

    def set_params(self, params: StyleParams) -> None:
        self.params = params
        layers = sorted(set(params.content_layers) | set(params.style_layers))
        geo = geometry(self.net, layers) if layers else None
        hw = (self.content.shape[-2], self.content.shape[-1])
        self.tile_margin = 0 if geo is None else geo.margin
        self.tiles = (plan(hw, self.core_side, geo) if self.core_side is not None and geo is not None
                      and needs_tiles(hw, self.core_side, geo) else None)
        self.gram_side = None if self.core_side is None or geo is None else gram_core_side(self.core_side, geo)
        self.gram_tiles = None if self.tiles is None or self.gram_side is None else tiles_for(hw, self.gram_side, geo)
        with torch.no_grad():
            need_c = [name for name in params.content_layers if name not in self._content_feats]
            if need_c:
                self._content_feats.update(
                    self.net(self.content, need_c, pooling=params.pooling) if self.gram_tiles is None else
                    features_at(self.net, self.content, self.gram_tiles, need_c, params.pooling))
            need_s = [name for name in params.style_layers if name not in self._style_grams]
            if need_s:
                per_style = [grams_of(self.net, s, need_s, params.pooling, core_side=self.gram_side,
                                      check=self.check) for s in self.styles]
                for name in need_s:
                    self._style_grams[name] = [g[name] for g in per_style]
                if self.regions is not None:
                    self._guide(need_s, params.pooling)
        blend = params.style_blend or (1.0,) * len(self.styles)
        total = float(sum(blend)) or 1.0
        self.blend = [b / total for b in blend]
        lw = params.layer_weights()
        lw_total = float(sum(lw)) or 1.0
        self.layer_weights = {name: w / lw_total for name, w in zip(params.style_layers, lw, strict=True)}
        self.targets = {}
        for name in params.style_layers if self.styles else ():
            g = sum(b * t for b, t in zip(self.blend, self._style_grams[name], strict=True))
            self.targets[name] = (g, energy(g))
        self.content_targets = {name: (self._content_feats[name], energy(self._content_feats[name]))
                                for name in params.content_layers}
        self.layers = layers
        n_regions = 0 if self.regions is None else len(self.regions.shares)
        self.region_weights = list(params.region_weights or (1.0,) * n_regions)
        self._parts = self._style_parts()

    def _guide(self, layers: list[str], pooling: str) -> None:
        """The shares of the rest and of each region at ``layers``, and the regions' painting Grams there."""
        assert self.regions is not None
        r = self.regions
        rest = guided_target(self.net, r.rest, [], [], [], layers, pooling)
        per_region = [guided_target(self.net, share, [] if p is None else [p], [] if p is None else [pm],
                                    [] if p is None else [1.0], layers, pooling, core_side=self.gram_side)
                      for share, p, pm in zip(r.shares, r.paintings, r.painting_masks, strict=True)]
        for name in layers:
            self._masks[name] = [rest.masks[name]] + [t.masks[name] for t in per_region]
            self._areas[name] = [rest.area[name]] + [t.area[name] for t in per_region]
        for i, t in enumerate(per_region):
            if r.paintings[i] is not None:
                self._region_grams.setdefault(i, {}).update(t.grams)

    def _style_parts(self) -> dict[str, list[_StylePart]]:
        """Each style layer's Gram matrices and what each is matched to: the whole picture's against the blended
        paintings; with regions, the rest's and each region's (over their shares), weighted by the share of the
        layer's positions they hold and by the region's weight."""
        parts: dict[str, list[_StylePart]] = {}
        for name in self.params.style_layers:
            lw = self.layer_weights[name]
            if self.regions is None:
                parts[name] = [_StylePart(Part(None, 1.0), lw, *self.targets[name])] if name in self.targets else []
                continue
            masks, areas = self._masks[name], self._areas[name]
            candidates = [(masks[0], areas[0], 1.0, *self.targets[name])] if name in self.targets else []
            candidates += [(masks[i + 1], areas[i + 1], self.region_weights[i], *self._region_grams[i][name])
                           for i in range(len(masks) - 1) if i in self._region_grams]
            parts[name] = [_StylePart(Part(mask, float(mask.clamp_min(0).sum())), lw * weight * area, target, e)
                           for mask, area, weight, target, e in candidates if area >= _NO_AREA and weight > 0]
        return parts

    def _style_of(self, grams: dict[str, list[torch.Tensor]], zero: torch.Tensor) -> torch.Tensor:
        """The style term from each layer's Gram matrices (one for each of its ``_parts``)."""
        s = zero
        for name, parts in self._parts.items():
            for part, g in zip(parts, grams[name], strict=True):
                s = s + part.coefficient * (g - part.target).pow(2).mean() / part.energy
        return s

    def _grams(self, feats: dict[str, torch.Tensor]) -> dict[str, list[torch.Tensor]]:
        """The Gram matrices of the ``_parts`` of the whole picture's features."""
        return {name: [gram(feats[name]) if pt.part.weights is None else guided_gram(feats[name], pt.part.weights)
                       for pt in parts] for name, parts in self._parts.items()}

    def _keep(self, x: torch.Tensor, zero: torch.Tensor) -> torch.Tensor:
        """The pull of the kept regions' pixels towards the photo's."""
        if self.regions is None:
            return zero
        k = zero
        for i, (share, painting) in enumerate(zip(self.regions.shares, self.regions.paintings, strict=True)):
            if painting is None and self.region_weights[i] > 0:
                k = k + self.region_weights[i] * (share[None, None] * (x - self.content).pow(2)).mean()
        return k

    def _pixel_terms(self, x: torch.Tensor, zero: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The terms computed on the pixels themselves: total variation, range and the kept regions' pull."""
        p = self.params
        wc = p.content_weight * self.content_factor
        tv = tv_loss(x, self.tv_ref)
        rng = _RANGE_WEIGHT * (wc + p.style_weight) * range_loss(x)
        keep = _KEEP_WEIGHT * (wc + p.style_weight) * self._keep(x, zero)
        return tv, rng, keep

    def _combine(self, c: torch.Tensor, s: torch.Tensor, tv: torch.Tensor, rng: torch.Tensor,
                 keep: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        p = self.params
        total = p.content_weight * self.content_factor * c + p.style_weight * s + p.tv_weight * tv + rng + keep
        terms = {"content": float(p.content_weight * c.detach()), "style": float(p.style_weight * s.detach()),
                 "tv": float(p.tv_weight * tv.detach()), "range": float(rng.detach())}
        if self.regions is not None and any(pt is None for pt in self.regions.paintings):
            terms["keep"] = float(keep.detach())
        terms["total"] = sum(terms.values())
        return total, terms

    def __call__(self, x: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        """The loss of ``x`` in one pass of the whole picture (differentiable) and its terms."""
        p = self.params
        feats = self.net(x, self.layers, check=self.check, pooling=p.pooling) if self.layers else {}
        zero = x.new_zeros(())
        c = sum((content_loss(feats[n], t, e) for n, (t, e) in self.content_targets.items()), zero)
        c = c / max(1, len(self.content_targets))
        s = self._style_of(self._grams(feats), zero)
        return self._combine(c, s, *self._pixel_terms(x, zero))

    def evaluate(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, dict[str, float]]:
        """(loss, its gradient with respect to ``x``, the terms): in one pass, or tile by tile when the
        picture is larger than a tile (``tiles.py``), with the same result up to float rounding."""
        if self.tiles is None:
            xg = x.detach().requires_grad_(True)
            loss, terms = self(xg)
            loss.backward()
            assert xg.grad is not None
            return loss.detach(), xg.grad, terms
        return self._evaluate_tiled(x.detach())

    def _evaluate_tiled(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, dict[str, float]]:
        assert self.tiles is not None and self.gram_tiles is not None
        p = self.params
        zero = x.new_zeros(())
        hw = (x.shape[-2], x.shape[-1])
        style_layers = [n for n, parts in self._parts.items() if parts]
        strides = layer_strides(self.net, self.layers)
        # pass 1: the Gram matrices, summed tile by tile; the style term and its gradient for each of them
        sums = summed_grams(self.net, x, self.gram_tiles, {n: [pt.part for pt in self._parts[n]] for n in style_layers},
                            p.pooling, self.check)
        grams = {n: [g.requires_grad_(True) for g in sums.get(n, [])] for n in self._parts}
        s = self._style_of(grams, zero)
        if s.requires_grad:
            s.backward()
        d_grams = {n: [g.grad for g in gs] for n, gs in grams.items()}
        # pass 2: each tile again, back-propagating its share of the style gradient and its content term
        grad = torch.zeros_like(x)
        c = 0.0
        wc = p.content_weight * self.content_factor
        n_content = max(1, len(self.content_targets))
        for tile, crop, cores in tile_features(self.net, x, self.tiles, self.layers, p.pooling, self.check, grad=True):
            tile_loss = zero
            for n in style_layers:
                rows, cols = tile.core_slice(strides[n], hw)
                positions = math.ceil(hw[0] / strides[n]) * math.ceil(hw[1] / strides[n])
                for pt, dg in zip(self._parts[n], d_grams[n], strict=True):
                    w = None if pt.part.weights is None else pt.part.weights[rows, cols]
                    if dg is not None:
                        share = partial_gram(cores[n], pt.part, w, positions)
                        tile_loss = tile_loss + p.style_weight * (dg * share).sum()
            for n, (t, e) in self.content_targets.items():
                rows, cols = tile.core_slice(strides[n], hw)
                part_c = (cores[n] - t[..., rows, cols]).pow(2).sum() / (t.numel() * e * n_content)
                c += float(part_c.detach())
                tile_loss = tile_loss + wc * part_c
            if tile_loss.requires_grad:
                tile_loss.backward()
                assert crop.grad is not None
                y0, y1, x0, x1 = tile.crop
                grad[..., y0:y1, x0:x1] += crop.grad
        tv, rng, keep = self._pixel_terms_into(x, grad)
        total, terms = self._combine(torch.tensor(c), s.detach(), tv, rng, keep)
        return total.detach(), grad, terms

    @torch.no_grad()
    def _pixel_terms_into(self, x: torch.Tensor, grad: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``_pixel_terms`` of ``x``, with their gradient added to ``grad`` in place: written out, so a picture
        too large for one pass holds one image-sized temporary at a time rather than autograd's dozen."""
        p = self.params
        wc = p.content_weight * self.content_factor
        ref = self.tv_ref.clamp_min(1e-4)
        tv = x.new_zeros(())
        for axis in (-1, -2):
            n = x.shape[axis]
            d = x.narrow(axis, 1, n - 1) - x.narrow(axis, 0, n - 1)
            tv = tv + d.pow(2).sum() / d.numel()
            d.mul_(2.0 * p.tv_weight / (d.numel() * ref))
            grad.narrow(axis, 1, n - 1).add_(d)
            grad.narrow(axis, 0, n - 1).sub_(d)
            del d
        tv = tv / ref
        outside = x.clamp(0, 1)
        torch.sub(x, outside, out=outside)
        k = _RANGE_WEIGHT * (wc + p.style_weight)
        rng = k * outside.pow(2).sum() / x.numel()
        grad.add_(outside, alpha=2.0 * k / x.numel())
        del outside
        keep = x.new_zeros(())
        kept = [] if self.regions is None else [
            (share, self.region_weights[i]) for i, (share, painting) in
            enumerate(zip(self.regions.shares, self.regions.paintings, strict=True))
            if painting is None and self.region_weights[i] > 0]
        if kept:
            k = _KEEP_WEIGHT * (wc + p.style_weight)
            d = x - self.content
            for share, weight in kept:
                pulled = d * share[None, None]
                keep = keep + k * weight * (pulled * d).sum() / x.numel()
                grad.add_(pulled, alpha=2.0 * k * weight / x.numel())
        return tv, rng, keep


class Stepper:
    """One optimiser iteration of ``image`` per ``step()``: L-BFGS (``studio.engines.lbfgs``, in bounded memory,
    keeping its history across steps) or Adam.

    With ``params.precondition`` L-BFGS optimises ``z`` where ``image = K z`` (``SpectralBoost``);
    ``image`` holds the point being evaluated during ``step()``, and the accepted point after it, also when it
    is interrupted (L-BFGS goes back to its accepted point; it never accepts a non-finite loss)."""

    def __init__(self, image: torch.Tensor, objective: Objective, params: StyleParams, control: JobControl,
                 first_step: float | None = None, first_move: float | None = None) -> None:
        self.image = image
        self.boost = (SpectralBoost(_BOOST_GAIN, _BOOST_PERIOD)
                      if params.optimizer == "lbfgs" and params.precondition else None)
        self.x = image if self.boost is None else self.boost.inverse(image.detach()).contiguous().requires_grad_(True)
        if not self.x.is_contiguous():
            raise ValueError("the optimised image must be contiguous (L-BFGS works on a flat view of it)")
        self.first_step = first_step
        self.first_move = first_move
        self.objective = objective
        self.control = control
        self.kind = params.optimizer
        self.evals = 0
        self.terms: dict[str, float] = {}
        self.history, self.history_dtype = (history_plan(self.x.numel(), device_memory(self.x.device))
                                            if self.kind == "lbfgs" else (0, torch.float32))
        if self.kind == "lbfgs":
            self.lbfgs = LBFGS(self.x.detach().view(-1), self._evaluate_flat, self.history, self.history_dtype,
                               tolerance_grad=1e-9, tolerance_change=1e-12)
        else:
            self.opt = torch.optim.Adam([self.x], lr=params.learning_rate)

    def _evaluate(self) -> tuple[torch.Tensor, torch.Tensor, dict[str, float]]:
        """The loss, its gradient with respect to ``x`` and the terms at ``x`` (``image`` set from it)."""
        self.control.check()
        image = self.image
        if self.boost is not None:
            with torch.no_grad():
                image.copy_(self.boost.apply(self.x.detach()))
        loss, grad, terms = self.objective.evaluate(image)
        self.evals += 1
        # K is symmetric: dL/dz = K dL/dimage
        return loss, grad if self.boost is None else self.boost.apply(grad), terms

    def _evaluate_flat(self, flat: torch.Tensor) -> tuple[float, torch.Tensor, dict[str, float]]:
        loss, grad, terms = self._evaluate()  # ``flat`` is a view of ``x``
        return float(loss), grad.reshape(-1), terms

    def _closure(self) -> torch.Tensor:
        loss, grad, self.terms = self._evaluate()
        self.x.grad = grad
        return loss

    def step(self) -> dict[str, float]:
        if self.kind != "lbfgs":
            self.opt.zero_grad(set_to_none=True)
            self.opt.step(self._closure)
            return self.terms
        # the first step: ``first_step`` times -g, or a mean move of ``first_move``, else torch's 1 / |g|_1
        try:
            self.lbfgs.step(first_step=self.first_step, first_move=self.first_move)
        finally:
            if self.boost is not None:  # the accepted point's image (the line search's last may be another)
                with torch.no_grad():
                    self.image.copy_(self.boost.apply(self.x.detach()))
        self.terms = self.lbfgs.aux or self.terms
        return self.terms

    def scale(self) -> float | None:
        """L-BFGS's current inverse-curvature scale (its H0 = scale * I), if it has one."""
        if self.kind != "lbfgs" or self.lbfgs.iterations == 0:
            return None
        return self.lbfgs.h_diag
