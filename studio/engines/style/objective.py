"""What one scale of a style run optimises: the weighted loss (``Objective``) and one optimiser step of the
image on it (``Stepper``: L-BFGS, preconditioned or on the pixels, or Adam)."""

from __future__ import annotations

from collections.abc import Callable

import torch

from studio.engines.events import JobControl
from studio.engines.features.losses import content_loss, energy, gram, range_loss, style_loss, tv_loss, tv_raw
from studio.engines.features.vgg import FeatureNetwork
from studio.engines.style.params import StyleParams
from studio.engines.style.precondition import SpectralBoost
from studio.engines.style.regions import ScaledRegions, guided_gram, guided_target

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
# change, float32): 1.2 KB a pixel for the full 50. A picture too large for them within HISTORY_FRACTION of
# the memory remembers fewer (never under MIN_HISTORY); 0.18 is the share the full history has of the
# memory at the largest picture a run fits (StyleParams: 1.2 of 5 KB a pixel, in 0.75 of the memory), so
# every size that fits today keeps all 50.
MAX_HISTORY = 50
MIN_HISTORY = 5
HISTORY_FRACTION = 0.18


def history_steps(numel: int, memory: int) -> int:
    """How many L-BFGS steps a run over ``numel`` optimised values remembers within ``memory`` bytes."""
    per_step = 2 * 4 * max(1, numel)
    return int(max(MIN_HISTORY, min(MAX_HISTORY, HISTORY_FRACTION * memory // per_step)))


def device_memory(device: torch.device) -> int:
    """Bytes of memory the optimised image's device has (the machine's for the CPU)."""
    if device.type == "cuda":
        return int(torch.cuda.get_device_properties(device).total_memory)
    from studio.engines.limits import machine_memory

    return machine_memory()


# A part of the picture with less than this share of a layer's positions adds no style term there.
_NO_AREA = 1e-4


class Objective:
    """The weighted loss at one scale; rebuilt in place when live parameters change.

    The optimised loss weighs the content ``content_factor`` times the user's weight (coarse scales
    hold it more); the reported terms use the user's own weights, so they read the same at every scale.
    """

    def __init__(self, net: FeatureNetwork, content: torch.Tensor, styles: list[torch.Tensor],
                 params: StyleParams, content_factor: float = 1.0, regions: ScaledRegions | None = None) -> None:
        self.net = net
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
        with torch.no_grad():
            need_c = [name for name in params.content_layers if name not in self._content_feats]
            if need_c:
                self._content_feats.update(self.net(self.content, need_c, pooling=params.pooling))
            need_s = [name for name in params.style_layers if name not in self._style_grams]
            if need_s:
                per_style = [self.net(s, need_s, pooling=params.pooling) for s in self.styles]
                for name in need_s:
                    self._style_grams[name] = [gram(f[name]) for f in per_style]
                if self.regions is not None:
                    self._guide(need_s, params.pooling)
        blend = params.style_blend or (1.0,) * len(self.styles)
        total = float(sum(blend)) or 1.0
        self.blend = [b / total for b in blend]
        lw = params.style_layer_weights or (1.0,) * len(params.style_layers)
        lw_total = float(sum(lw)) or 1.0
        self.layer_weights = {name: w / lw_total for name, w in zip(params.style_layers, lw, strict=True)}
        self.targets = {}
        for name in params.style_layers if self.styles else ():
            g = sum(b * t for b, t in zip(self.blend, self._style_grams[name], strict=True))
            self.targets[name] = (g, energy(g))
        self.content_targets = {name: (self._content_feats[name], energy(self._content_feats[name]))
                                for name in params.content_layers}
        self.layers = sorted(set(params.content_layers) | set(params.style_layers))
        n_regions = 0 if self.regions is None else len(self.regions.shares)
        self.region_weights = list(params.region_weights or (1.0,) * n_regions)

    def _guide(self, layers: list[str], pooling: str) -> None:
        """The shares of the rest and of each region at ``layers``, and the regions' painting Grams there."""
        assert self.regions is not None
        r = self.regions
        rest = guided_target(self.net, r.rest, [], [], [], layers, pooling)
        per_region = [guided_target(self.net, share, [] if p is None else [p], [] if p is None else [pm],
                                    [] if p is None else [1.0], layers, pooling)
                      for share, p, pm in zip(r.shares, r.paintings, r.painting_masks, strict=True)]
        for name in layers:
            self._masks[name] = [rest.masks[name]] + [t.masks[name] for t in per_region]
            self._areas[name] = [rest.area[name]] + [t.area[name] for t in per_region]
        for i, t in enumerate(per_region):
            if r.paintings[i] is not None:
                self._region_grams.setdefault(i, {}).update(t.grams)

    def _guided_style(self, feats: dict[str, torch.Tensor], zero: torch.Tensor) -> torch.Tensor:
        """The style term with regions: each part's guided Gram against its own target, weighted by its
        share of the layer's positions and its region's weight."""
        s = zero
        for name in self.params.style_layers:
            f = feats[name]
            masks, areas = self._masks[name], self._areas[name]
            parts = [(masks[0], areas[0], 1.0, *self.targets[name])] if name in self.targets else []
            parts += [(masks[i + 1], areas[i + 1], self.region_weights[i], *self._region_grams[i][name])
                      for i in range(len(masks) - 1) if i in self._region_grams]
            for mask, area, weight, target, target_energy in parts:
                if area < _NO_AREA or weight <= 0:
                    continue
                loss = (guided_gram(f, mask) - target).pow(2).mean() / target_energy
                s = s + self.layer_weights[name] * weight * area * loss
        return s

    def _keep(self, x: torch.Tensor, zero: torch.Tensor) -> torch.Tensor:
        """The pull of the kept regions' pixels towards the photo's."""
        if self.regions is None:
            return zero
        k = zero
        for i, (share, painting) in enumerate(zip(self.regions.shares, self.regions.paintings, strict=True)):
            if painting is None and self.region_weights[i] > 0:
                k = k + self.region_weights[i] * (share[None, None] * (x - self.content).pow(2)).mean()
        return k

    def __call__(self, x: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        p = self.params
        feats = self.net(x, self.layers, check=self.check, pooling=p.pooling) if self.layers else {}
        zero = x.new_zeros(())
        c = sum((content_loss(feats[n], t, e) for n, (t, e) in self.content_targets.items()), zero)
        c = c / max(1, len(self.content_targets))
        if self.regions is None:
            s = sum((self.layer_weights[n] * style_loss(feats[n], g, e) for n, (g, e) in self.targets.items()),
                    zero)
        else:
            s = self._guided_style(feats, zero)
        tv = tv_loss(x, self.tv_ref)
        wc = p.content_weight * self.content_factor
        rng = _RANGE_WEIGHT * (wc + p.style_weight) * range_loss(x)
        keep = _KEEP_WEIGHT * (wc + p.style_weight) * self._keep(x, zero)
        total = wc * c + p.style_weight * s + p.tv_weight * tv + rng + keep
        terms = {"content": float(p.content_weight * c.detach()), "style": float(p.style_weight * s.detach()),
                 "tv": float(p.tv_weight * tv.detach()), "range": float(rng.detach())}
        if self.regions is not None and any(pt is None for pt in self.regions.paintings):
            terms["keep"] = float(keep.detach())
        terms["total"] = sum(terms.values())
        return total, terms


class Stepper:
    """One optimiser iteration of ``image`` per ``step()``. L-BFGS keeps its history across steps; the
    closure is memoised, so the evaluation torch's LBFGS makes at the start of each step
    reuses the one its line search already made at the same point.

    With ``params.precondition`` L-BFGS optimises ``z`` where ``image = K z`` (``SpectralBoost``);
    ``image`` always holds the point last evaluated, and the accepted point after ``step()``."""

    def __init__(self, image: torch.Tensor, objective: Objective, params: StyleParams, control: JobControl,
                 first_step: float | None = None) -> None:
        self.image = image
        self.boost = (SpectralBoost(_BOOST_GAIN, _BOOST_PERIOD)
                      if params.optimizer == "lbfgs" and params.precondition else None)
        self.x = image if self.boost is None else self.boost.inverse(image.detach()).requires_grad_(True)
        self.first_step = first_step
        self.objective = objective
        self.control = control
        self.kind = params.optimizer
        self.evals = 0
        self.terms: dict[str, float] = {}
        self._memo: tuple[torch.Tensor, torch.Tensor, torch.Tensor, dict[str, float]] | None = None
        self.history = history_steps(self.x.numel(), device_memory(self.x.device)) if self.kind == "lbfgs" else 0
        if self.kind == "lbfgs":
            self.opt: torch.optim.Optimizer = torch.optim.LBFGS(
                [self.x], lr=1.0, max_iter=1, max_eval=40, history_size=self.history, tolerance_grad=1e-9,
                tolerance_change=1e-12, line_search_fn="strong_wolfe")
        else:
            self.opt = torch.optim.Adam([self.x], lr=params.learning_rate)

    def _closure(self) -> torch.Tensor:
        self.control.check()
        x = self.x
        if self._memo is not None and torch.equal(self._memo[0], x.detach()):
            _, loss, grad, terms = self._memo
            x.grad = grad.clone()
            self.terms = terms
            return loss
        self.opt.zero_grad(set_to_none=True)
        image = self.image
        if self.boost is not None:
            with torch.no_grad():
                image.copy_(self.boost.apply(x.detach()))
            image.grad = None
        loss, terms = self.objective(image)
        loss.backward()
        self.evals += 1
        if self.boost is not None:
            assert image.grad is not None
            x.grad = self.boost.apply(image.grad)  # K is symmetric: dL/dz = K dL/dimage
        assert x.grad is not None
        self._memo = (x.detach().clone(), loss.detach(), x.grad.detach().clone(), terms)
        self.terms = terms
        return loss.detach()

    def step(self) -> dict[str, float]:
        sized = self.kind == "lbfgs" and self.first_step is not None
        if sized:
            # torch's first L-BFGS step is t = min(1, 1/|g|_1) * lr along -g, which moves a pixel by
            # about 1/N and costs several evaluations of extrapolation; make it first_step * -g.
            self._closure()
            assert self.x.grad is not None and self.first_step is not None
            self.opt.param_groups[0]["lr"] = self.first_step * max(1.0, float(self.x.grad.abs().sum()))
            self.first_step = None
        self.opt.step(self._closure)
        if sized:
            self.opt.param_groups[0]["lr"] = 1.0
        if self.kind == "lbfgs":
            # The losses of the accepted point (memoised: the next step starts from it anyway).
            self._closure()
        return self.terms

    def scale(self) -> float | None:
        """L-BFGS's current inverse-curvature scale (its H0 = scale * I), if it has one."""
        if self.kind != "lbfgs":
            return None
        h = self.opt.state.get(self.x, {}).get("H_diag")
        return float(h) if isinstance(h, int | float | torch.Tensor) else None
