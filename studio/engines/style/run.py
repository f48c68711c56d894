"""Gatys neural style transfer: coarse-to-fine L-BFGS (or Adam) over the image pixels.

``run_style`` is a generator: it yields ``Info``, ``Progress`` (with a preview every few
iterations) and one ``Finished``. Between iterations it honours ``control.cancel()`` and
applies ``control.update(...)`` of the live fields (weights, layers, blend, colours), which
rebuilds the objective and resets the L-BFGS history without restarting.

Coarse to fine: the image is first optimised at a small size, where one evaluation is cheap
and VGG's receptive fields cover the painting's large brush structures; each larger scale
starts from the previous result plus the content's detail at the new scale (the upsampled
stylisation carries the large structures, the photo's own high frequencies keep it sharp),
so the content washed out by a strongly weighted coarse scale comes back at the finer ones.

L-BFGS is preconditioned (``precondition.SpectralBoost``): it optimises a variable whose low spatial
frequencies reach the image amplified, so the large structures keep moving at every scale instead of
being held to the fine texture's small steps; ``precondition=False`` is plain L-BFGS on the pixels.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from studio.engines.color import original_colors
from studio.engines.cpu_memory import give_back_memory, keep_large_blocks
from studio.engines.device import describe
from studio.engines.errors import StudioInputError
from studio.engines.events import Cancelled, Event, Finished, Info, JobControl, Progress
from studio.engines.features.losses import content_loss, energy, gram, range_loss, style_loss, tv_loss, tv_raw
from studio.engines.features.vgg import FeatureNetwork
from studio.engines.style.params import LIVE_FIELDS, StyleParams
from studio.engines.style.precondition import SpectralBoost

MIN_SCALE_SIDE = 64
# With a time budget (max_seconds), scale i of n gets a share of it proportional to 14**i
# (3 scales: 0.5 %, 7 %, 93 %); time a scale leaves unused flows on to the next. Measured at 512 px
# against a plain single-scale L-BFGS run from the content (benchmarks/bench_style.py, and with a clock
# that counts evaluations, which the machine's load cannot disturb): the final scale's fine texture
# needs most of the budget, while a few cheap coarse iterations already lay down the big structures,
# and the preconditioner keeps moving them at the final scale. With it, growth 14 left the content
# 0.8238 / 0.6746 from the photo at 60 / 180 s, growth 20 0.8298 / 0.6750 and growth 9 0.8370 / 0.6835
# (plain single scale: 0.8447 / 0.6842); without it, growth 1.5 left the full-size style 2.4x further
# away at 60 s than growth 9.
_TIME_SHARE_GROWTH = 14.0
# Coarse scales weigh the content this many times the user's weight (the final scale uses the
# user's own): the big structures come in without washing the content away. At 180 s this took
# the full-size style distance from 0.0069 to 0.0064 and the content distance from 0.701 to 0.690.
_COARSE_CONTENT_WEIGHT = 3.0
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


def budget_deadlines(budget: float, n_scales: int) -> np.ndarray:
    """Seconds from the start by which each scale must end, for a run of ``budget`` seconds."""
    share = _TIME_SHARE_GROWTH ** np.arange(n_scales)
    return np.cumsum(share / share.sum()) * budget


def content_factor(index: int, count: int) -> float:
    """How many times the user's content weight scale ``index`` of ``count`` optimises with."""
    return 1.0 if index == count - 1 else _COARSE_CONTENT_WEIGHT


def validate_params(params: StyleParams, n_styles: int, net: FeatureNetwork | None = None) -> None:
    """Raise StudioInputError with one clear sentence for a bad parameter value."""
    for name in ("content_weight", "style_weight", "tv_weight", "style_scale", "learning_rate"):
        v = getattr(params, name)
        if not isinstance(v, int | float) or isinstance(v, bool) or not math.isfinite(v) or v < 0:
            raise StudioInputError(f"{name.replace('_', '-')} must be a non-negative number, got {v!r}")
    if params.style_scale <= 0:
        raise StudioInputError(f"style-scale must be greater than 0, got {params.style_scale!r}")
    if not isinstance(params.size, int) or params.size < 16:
        raise StudioInputError(f"size must be an integer of at least 16 pixels, got {params.size!r}")
    if params.iterations < 0:
        raise StudioInputError(f"iterations must be 0 or more, got {params.iterations!r}")
    if params.scales < 1:
        raise StudioInputError(f"scales must be at least 1, got {params.scales!r}")
    if params.optimizer not in ("lbfgs", "adam"):
        raise StudioInputError(f"optimizer must be lbfgs or adam, got {params.optimizer!r}")
    if params.init not in ("content", "noise", "median-noise"):
        raise StudioInputError(f"init must be content, noise or median-noise, got {params.init!r}")
    if params.pooling not in ("max", "avg"):
        raise StudioInputError(f"pooling must be max or avg, got {params.pooling!r}")
    if n_styles < 1:
        raise StudioInputError("at least one style image is needed")
    if not params.style_layers and params.style_weight > 0:
        raise StudioInputError("no style layers are selected; choose at least one")
    if params.style_layer_weights is not None:
        if len(params.style_layer_weights) != len(params.style_layers):
            raise StudioInputError(f"style-layer-weights has {len(params.style_layer_weights)} values for "
                             f"{len(params.style_layers)} style layers")
        if any(not math.isfinite(w) or w < 0 for w in params.style_layer_weights):
            raise StudioInputError(
                f"style-layer-weights must be non-negative numbers, got {params.style_layer_weights}")
    if params.style_blend is not None:
        if len(params.style_blend) != n_styles:
            raise StudioInputError(f"style-blend has {len(params.style_blend)} values for {n_styles} style images")
        if any(not math.isfinite(w) or w < 0 for w in params.style_blend) or sum(params.style_blend) <= 0:
            raise StudioInputError(
                f"style-blend must be non-negative numbers with a positive sum, got {params.style_blend}")
    if params.max_seconds is not None and params.max_seconds <= 0:
        raise StudioInputError(f"max-seconds must be greater than 0, got {params.max_seconds!r}")
    if net is not None:
        net.check_layers(params.content_layers, "content layer")
        net.check_layers(params.style_layers, "style layer")


def scale_shapes(height: int, width: int, size: int, scales: int) -> list[tuple[int, int]]:
    """(h, w) of each scale, coarse to fine; the final long side is ``size``."""
    out: list[tuple[int, int]] = []
    for i in range(scales):
        long_side = size / (2 ** (scales - 1 - i))
        if long_side < MIN_SCALE_SIDE and i < scales - 1:
            continue
        k = long_side / max(height, width)
        out.append((max(1, round(height * k)), max(1, round(width * k))))
    return out


def iterations_per_scale(params: StyleParams, n_scales: int) -> list[int]:
    """Coarse scales are cheap: each gets as many iterations as the final one."""
    return [params.iterations] * n_scales


def image_tensor(rgb: np.ndarray, device: torch.device) -> torch.Tensor:
    """An RGB float HxWx3 array in [0, 1] as the engine's 1x3xHxW float32 tensor on ``device``."""
    return torch.from_numpy(np.ascontiguousarray(rgb.transpose(2, 0, 1))).unsqueeze(0).to(device).float()


def _to_numpy(x: torch.Tensor) -> np.ndarray:
    return x.detach().clamp(0, 1)[0].permute(1, 2, 0).float().cpu().numpy()


def _resize(rgb: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    h, w = hw
    interp = cv2.INTER_AREA if h < rgb.shape[0] else cv2.INTER_CUBIC
    return np.clip(cv2.resize(rgb, (w, h), interpolation=interp), 0, 1).astype(np.float32)


def _upsample(x: torch.Tensor, hw: tuple[int, int]) -> torch.Tensor:
    return F.interpolate(x, size=hw, mode="bicubic", align_corners=False)


def _initial_image(kind: str, content: torch.Tensor, seed: int) -> torch.Tensor:
    if kind == "content":
        return content.clone()
    g = torch.Generator().manual_seed(seed)
    noise = torch.rand(content.shape, generator=g)
    if kind == "median-noise":
        arr = (noise[0].permute(1, 2, 0).numpy() * 255).astype(np.uint8)
        arr = cv2.medianBlur(cv2.GaussianBlur(arr, (0, 0), 1.5), 5)
        noise = torch.from_numpy(arr.astype(np.float32) / 255).permute(2, 0, 1).unsqueeze(0)
    return noise.to(content.device)


class Objective:
    """The weighted loss at one scale; rebuilt in place when live parameters change.

    The optimised loss weighs the content ``content_factor`` times the user's weight (coarse scales
    hold it more); the reported terms use the user's own weights, so they read the same at every scale.
    """

    def __init__(self, net: FeatureNetwork, content: torch.Tensor, styles: list[torch.Tensor],
                 params: StyleParams, content_factor: float = 1.0) -> None:
        self.net = net
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
        blend = params.style_blend or (1.0,) * len(self.styles)
        total = float(sum(blend))
        self.blend = [b / total for b in blend]
        lw = params.style_layer_weights or (1.0,) * len(params.style_layers)
        lw_total = float(sum(lw)) or 1.0
        self.layer_weights = {name: w / lw_total for name, w in zip(params.style_layers, lw, strict=True)}
        self.targets = {}
        for name in params.style_layers:
            g = sum(b * t for b, t in zip(self.blend, self._style_grams[name], strict=True))
            self.targets[name] = (g, energy(g))
        self.content_targets = {name: (self._content_feats[name], energy(self._content_feats[name]))
                                for name in params.content_layers}
        self.layers = sorted(set(params.content_layers) | set(params.style_layers))

    def __call__(self, x: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        p = self.params
        feats = self.net(x, self.layers, check=self.check, pooling=p.pooling) if self.layers else {}
        zero = x.new_zeros(())
        c = sum((content_loss(feats[n], t, e) for n, (t, e) in self.content_targets.items()), zero)
        c = c / max(1, len(self.content_targets))
        s = sum((self.layer_weights[n] * style_loss(feats[n], g, e) for n, (g, e) in self.targets.items()), zero)
        tv = tv_loss(x, self.tv_ref)
        wc = p.content_weight * self.content_factor
        rng = _RANGE_WEIGHT * (wc + p.style_weight) * range_loss(x)
        total = wc * c + p.style_weight * s + p.tv_weight * tv + rng
        terms = {"content": float(p.content_weight * c.detach()), "style": float(p.style_weight * s.detach()),
                 "tv": float(p.tv_weight * tv.detach()), "range": float(rng.detach())}
        terms["total"] = sum(terms.values())
        return total, terms


class _Stepper:
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
        if self.kind == "lbfgs":
            self.opt: torch.optim.Optimizer = torch.optim.LBFGS(
                [self.x], lr=1.0, max_iter=1, max_eval=40, history_size=50, tolerance_grad=1e-9,
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


@dataclass
class _Clock:
    start: float
    rate: float | None = None  # seconds per evaluation per megapixel, smoothed

    def observe(self, seconds: float, pixels: int) -> None:
        r = seconds / max(pixels, 1) * 1e6
        self.rate = r if self.rate is None else 0.8 * self.rate + 0.2 * r


def run_style(content: np.ndarray, styles: Sequence[np.ndarray], params: StyleParams,
              control: JobControl | None = None, *, network: FeatureNetwork) -> Iterator[Event]:
    """Stylise ``content`` (RGB float32 HxWx3 in [0, 1]) with ``styles`` through ``network`` (the caller
    loads it, for example with ``studio.weights.network_for(params)``); see the module docstring."""
    control = control or JobControl()
    t0 = time.perf_counter()
    validate_params(params, len(styles))
    net = network
    device = next(net.parameters()).device
    validate_params(params, len(styles), net)
    if device.type == "cpu":
        keep_large_blocks()
    yield Info(f"Feature network: {net.source or net.arch}; device: {describe(device)}",
               {"weights": net.source or net.arch, "device": describe(device)})

    torch.manual_seed(params.seed)
    h0, w0 = content.shape[:2]
    shapes = scale_shapes(h0, w0, params.size, params.scales)
    iters = iterations_per_scale(params, len(shapes))
    total_iters = sum(iters)
    final_hw = shapes[-1]
    content_final = _resize(content, final_hw)
    budget = params.max_seconds
    deadlines = budget_deadlines(budget, len(shapes)) if budget else None

    clock = _Clock(start=t0)
    done = 0  # position in the plan (a scale cut short by the time budget counts as complete)
    performed = 0  # iterations actually run
    x: torch.Tensor | None = None
    objective: Objective | None = None
    stepper: _Stepper | None = None
    prev_content: torch.Tensor | None = None
    terms: dict[str, float] = {}
    last_preview = -1.0
    cancelled = False
    params_now = params

    def preview(xt: torch.Tensor) -> np.ndarray:
        img = _to_numpy(xt)
        if img.shape[:2] != final_hw:
            img = _resize(img, final_hw)
        if params_now.original_colors:
            img = original_colors(img, content_final)
        return (img * 255 + 0.5).astype(np.uint8)

    def eta(scale_idx: int, it_in_scale: int) -> float | None:
        remaining = 0.0
        if clock.rate is None:
            return None
        for j in range(scale_idx, len(shapes)):
            n_left = iters[j] - (it_in_scale if j == scale_idx else 0)
            remaining += n_left * clock.rate * shapes[j][0] * shapes[j][1] / 1e6 * 1.1
        if deadlines is not None:
            remaining = min(remaining, max(0.0, t0 + float(deadlines[-1]) - time.perf_counter()))
        return remaining

    try:
        for si, hw in enumerate(shapes):
            c_t = image_tensor(_resize(content, hw), device)
            long_side = max(hw)
            s_ts = []
            for s in styles:
                k = params_now.style_scale * long_side / max(s.shape[:2])
                shw = (max(1, round(s.shape[0] * k)), max(1, round(s.shape[1] * k)))
                s_ts.append(image_tensor(_resize(s, shw), device))
            objective = Objective(net, c_t, s_ts, params_now, content_factor(si, len(shapes)))
            objective.check = control.check
            if x is None:
                x0 = _initial_image(params_now.init, c_t, params_now.seed)
            else:
                assert prev_content is not None
                x0 = _upsample(x.detach(), hw) + (c_t - _upsample(prev_content, hw))
            x = x0.detach().clone().requires_grad_(True)
            # The previous scale's curvature scale, times the pixel ratio (the losses are means, so the
            # inverse curvature per pixel grows with the pixel count), sizes the first step here.
            first = None
            if stepper is not None and prev_content is not None and (h_prev := stepper.scale()) is not None:
                first = h_prev * hw[0] * hw[1] / (prev_content.shape[-2] * prev_content.shape[-1])
            prev_content = c_t
            stepper = _Stepper(x, objective, params_now, control, first_step=first)
            accepted = x.detach().clone()
            stage = f"scale {si + 1}/{len(shapes)} · {hw[1]}x{hw[0]}"
            for it in range(iters[si]):
                if deadlines is not None and time.perf_counter() - t0 >= deadlines[si]:
                    break
                updates = control.take_updates()
                if updates:
                    live = {k: v for k, v in updates.items() if k in LIVE_FIELDS}
                    new_params = params_now.with_changes(**{k: tuple(v) if isinstance(v, list) else v
                                                            for k, v in live.items()})
                    try:
                        validate_params(new_params, len(styles), net)
                    except StudioInputError as e:
                        yield Info(f"Ignored a parameter change: {e}")
                    else:
                        objective_changed = any(getattr(new_params, k) != getattr(params_now, k)
                                                for k in live if k != "original_colors")
                        params_now = new_params
                        if objective_changed:
                            objective.set_params(params_now)
                            stepper = _Stepper(x, objective, params_now, control, first_step=stepper.scale())
                ts = time.perf_counter()
                try:
                    terms = stepper.step()
                except Cancelled:
                    with torch.no_grad():
                        x.copy_(accepted)
                    raise
                if not math.isfinite(terms.get("total", 0.0)) or not bool(torch.isfinite(x).all()):
                    with torch.no_grad():
                        x.copy_(accepted)
                    stepper = _Stepper(x, objective, params_now, control)
                    yield Info("The optimiser diverged for a step; restarted it from the last good image.")
                    continue
                accepted = x.detach().clone()
                clock.observe(time.perf_counter() - ts, hw[0] * hw[1])  # seconds per iteration
                done += 1
                performed += 1
                now = time.perf_counter()
                show = (it == 0 and si == 0) or (it + 1) % max(1, params_now.preview_every) == 0 \
                    or it + 1 == iters[si] or now - last_preview > 2.0
                img = preview(x) if show else None
                if show:
                    last_preview = now
                yield Progress(iteration=done, total=total_iters, stage=stage, losses=dict(terms),
                               elapsed_s=now - t0, eta_s=eta(si, it + 1), preview=img,
                               scale_index=si, scale_count=len(shapes))
                control.check()
            # A scale that ended early (time budget) counts its unused iterations as done.
            done = sum(iters[: si + 1])
    except Cancelled:
        cancelled = True
    late = {k: v for k, v in control.take_updates().items() if k in LIVE_FIELDS}
    if "original_colors" in late and isinstance(late["original_colors"], bool):
        params_now = params_now.with_changes(original_colors=late.pop("original_colors"))
    if any(getattr(params_now, k) != (tuple(v) if isinstance(v, list) else v) for k, v in late.items()):
        yield Info("A parameter change arrived after the last iteration; run again to apply it.")
    assert x is not None or cancelled
    if x is None:
        final = content_final
    else:
        final = _to_numpy(x)
        if final.shape[:2] != final_hw:
            final = _resize(final, final_hw)
    if params_now.original_colors:
        final = original_colors(final, content_final)
    x = objective = stepper = None  # the L-BFGS history alone is 100 image copies
    give_back_memory()
    yield Finished(image=final, cancelled=cancelled, iterations=performed, elapsed_s=time.perf_counter() - t0,
                   losses=dict(terms), extra={"weights": net.source or net.arch, "device": str(device),
                                              "params": params_now.to_dict()})
