"""Deep Painterly Harmonization (Luan, Paris, Shechtman and Bala 2018), and the quick modes.

``run_harmonize`` is a generator like ``run_style``: ``Info``, ``Progress`` (with previews and an
ETA) and one ``Finished`` whose image is at the painting's input resolution, the harmonized object
blended into the painting with the feathered tight mask.

The two passes of ``mode="dph"`` follow the paper's Torch code (neural_gram.lua, neural_paint.lua):

- pass 1, independent mapping: at relu3_1, relu4_1 and relu5_1 every 3x3 feature patch of the
  composite inside the (loose, per-layer) mask is matched to its most similar painting patch; the
  style loss compares the Gram matrix of the masked output features with that of the matched
  painting features, both divided by the mask's area; content loss at relu4_1; L-BFGS from the
  naive composite; the gradient is masked at each loss layer and, in pixels, by the loose mask.
- pass 2, consistent mapping: the pass-1 result is matched to the painting at relu4_1, the mapping
  is refined so that neighbours agree, and the painting positions it uses (each once, with a
  one-position ring) are propagated to relu1_1..relu3_1; Gram losses at relu1_1..relu4_1 and
  histogram losses at relu1_1 and relu4_1 are computed over them; content at relu4_1 (the paper's)
  and relu3_1 (studio's: see ``losses.PASS2_CONTENT_LAYERS``) and total variation. Each loss's
  gradient is divided by its norm, then weighted: content 1 (each layer), style tau, histogram
  (10 - t) tau and TV t tau, where t = 10 / (1 + exp(1e4 noise - 25)) comes from the painting's noise
  level. ``params.tv_factor`` scales the TV weight (1 = the paper; the default 0.1 suits studio's
  VGG-16 and a CPU budget of tens of iterations rather than the paper's 1000).
  Pass 2 starts from the composite (``params.pass2_init``) with the object's lightness given the mean and
  spread of the painting's over the mapped region (``dph.tone_start``, studio's: ``params.pass2_tone``), where
  the paper's 1000 iterations take it and studio's tens did not.
- post-processing: chroma denoising in CIELAB, then the feathered blend.

To save time the optimisation runs on the loose mask's bounding box plus a margin (the gradient is
zero outside the loose mask anyway); the painting's features always come from the whole painting.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import cv2
import numpy as np
import torch

from studio.engines.cpu_memory import keep_large_blocks
from studio.engines.device import describe
from studio.engines.errors import StudioInputError
from studio.engines.events import Cancelled, Event, Finished, Info, JobControl, Progress
from studio.engines.features.vgg import FeatureNetwork
from studio.engines.harmonize.dph import build_pass1, build_pass2, tone_start
from studio.engines.harmonize.losses import (
    PASS2_STYLE_LAYERS,
    REFERENCE_LAYER,
    Objective,
    evaluate,
    noise_level,
    pass2_weights,
    set_pass2_weights,
)
from studio.engines.harmonize.params import OWN_SIZE, HarmonizeParams
from studio.engines.harmonize.post import blend, denoise_chroma
from studio.engines.harmonize.quick import color_transfer, confine, gatys_objective, poisson_blend
from studio.engines.harmonize.synthesis import PATCH_RADIUS, rebuild_from_painting
from studio.engines.harmonize.validate import validate_inputs, validate_params
from studio.engines.masks import bounding_box, feather, loose_region, resize_mask

#: L-BFGS step of pass 2 (neural_paint.lua's -learning_rate default, passed to optim.lbfgs)
PASS2_LEARNING_RATE = 0.1
#: a step that multiplies the best loss so far by more than this is undone
_BLOWUP = 3.0
#: the painting's noise level is measured at this long side, as in the paper's code (image_size 700)
NOISE_SIZE = 700


# ---------------------------------------------------------------------------------------------
# helpers


def _t(rgb: np.ndarray, device: torch.device) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(rgb.transpose(2, 0, 1))).unsqueeze(0).float().to(device)


def _m(mask: np.ndarray, device: torch.device) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(mask)).float().to(device)


def _np(x: torch.Tensor) -> np.ndarray:
    return x.detach().clamp(0, 1)[0].permute(1, 2, 0).float().cpu().numpy()


def _resize_rgb(rgb: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    h, w = hw
    if rgb.shape[:2] == (h, w):
        return np.asarray(rgb, dtype=np.float32)
    interp = cv2.INTER_AREA if h < rgb.shape[0] else cv2.INTER_CUBIC
    return np.clip(cv2.resize(rgb, (w, h), interpolation=interp), 0, 1).astype(np.float32)


def working_shape(h: int, w: int, size: int) -> tuple[int, int]:
    """(h, w) with long side ``size`` (OWN_SIZE: the input's own, up to the largest this machine's memory
    fits), never larger than the input."""
    wanted = min(max(h, w), int(HarmonizeParams.LIMITS["size"].highest)) if size == OWN_SIZE else size
    long_side = min(wanted, max(h, w))
    k = long_side / max(h, w)
    return max(1, round(h * k)), max(1, round(w * k))


@dataclass
class _Work:
    """The inputs at the working size, and the crop the optimisation runs on."""

    painting: np.ndarray
    composite: np.ndarray
    tight: np.ndarray  # soft, as given
    loose: np.ndarray  # binary, contains the tight mask
    box: tuple[int, int, int, int]  # y0, y1, x0, x1

    def crop(self, a: np.ndarray) -> np.ndarray:
        y0, y1, x0, x1 = self.box
        return a[y0:y1, x0:x1]

    def paste(self, crop: np.ndarray) -> np.ndarray:
        y0, y1, x0, x1 = self.box
        out = self.composite.copy()
        out[y0:y1, x0:x1] = crop
        return out


def _prepare(painting: np.ndarray, composite: np.ndarray, tight: np.ndarray, loose: np.ndarray | None,
             params: HarmonizeParams) -> _Work:
    hw = working_shape(painting.shape[0], painting.shape[1], params.size)
    p = _resize_rgb(painting, hw)
    c = _resize_rgb(composite, hw)
    t = resize_mask(tight, hw)
    lo = loose_region(t, None if loose is None else resize_mask(loose, hw), params.loose_radius)
    box = bounding_box(lo, params.crop_margin)
    return _Work(painting=p, composite=c, tight=t, loose=lo, box=box)


# ---------------------------------------------------------------------------------------------
# optimisation


class _Optimiser:
    """One L-BFGS iteration per ``step()`` on the image in 0-255 units.

    ``line_search=False`` is the paper's setting (optim.lbfgs with a fixed step: 1 in pass 1, the
    learning rate 0.1 of neural_paint.lua in pass 2, whose gradient is not the gradient of one loss,
    so a line search cannot be trusted). The Gatys mode also takes unit steps, as the classic
    neural-style does: one evaluation per iteration.
    """

    def __init__(self, obj: Objective, v: torch.Tensor, line_search: bool, lr: float = 1.0) -> None:
        self.obj = obj
        self.v = v
        self.terms: dict[str, float] = {}
        self.opt = torch.optim.LBFGS([v], lr=lr, max_iter=1, max_eval=25 if line_search else None,
                                     history_size=100, tolerance_grad=-1.0, tolerance_change=-1.0,
                                     line_search_fn="strong_wolfe" if line_search else None)

    def _closure(self) -> torch.Tensor:
        total, grad, terms = evaluate(self.obj, self.v)
        self.v.grad = grad
        self.terms = terms
        return torch.tensor(total)

    def step(self) -> dict[str, float]:
        self.opt.step(self._closure)
        return self.terms


@dataclass
class _Plan:
    total: int
    t0: float
    done: int = 0
    rate: float | None = None  # seconds per iteration, smoothed

    def observe(self, seconds: float) -> None:
        self.rate = seconds if self.rate is None else 0.8 * self.rate + 0.2 * seconds

    def eta(self) -> float | None:
        return None if self.rate is None else (self.total - self.done) * self.rate


def _optimise(obj: Objective, v: torch.Tensor, iterations: int, stage: str, plan: _Plan, control: JobControl,
              preview: Callable[[torch.Tensor], np.ndarray], preview_every: int, line_search: bool,
              scale_index: int, scale_count: int, lr: float = 1.0,
              retune: Callable[[dict[str, object]], str | None] | None = None) -> Iterator[Event]:
    """Run ``iterations`` L-BFGS steps on ``v`` in place, yielding Progress; restores the last good
    image on divergence or cancellation. Before each step the live parameter changes (``control``'s
    updates) go to ``retune``, which applies them to ``obj`` and says what it did (None: nothing changed
    the objective); the optimiser then starts afresh on the new objective."""
    opt = _Optimiser(obj, v, line_search, lr)
    good = v.detach().clone()
    best = float("inf")
    restarts = 0
    good_terms: dict[str, float] = {}
    last_preview = 0.0
    for it in range(iterations):
        control.check()
        updates = control.take_updates() if retune is not None else {}
        said = retune(updates) if updates and retune is not None else None
        if said:
            opt = _Optimiser(obj, v, line_search, lr)
            best = float("inf")  # the losses of another objective
            yield Info(said)
        ts = time.perf_counter()
        start = v.detach().clone()
        try:
            terms = opt.step()  # the losses at ``start``; v has moved one step on
        except Cancelled:
            with torch.no_grad():
                v.copy_(good)
            raise
        total = terms.get("total", float("nan"))
        # The pass-2 gradient is not the gradient of one function, and a fixed-step L-BFGS can run
        # away on it: a step that multiplies the loss is undone and the history restarted, slower.
        if not math.isfinite(total) or not bool(torch.isfinite(v).all()) or total > _BLOWUP * best:
            with torch.no_grad():
                v.copy_(good)
            lr *= 0.5
            opt = _Optimiser(obj, v, line_search, lr)
            restarts += 1
            if restarts <= 3:
                yield Info(f"{stage}: the optimiser ran away for a step; restarted it from the last good image "
                           f"with step {lr:g}.")
            terms = good_terms
        else:
            best = min(best, total)
            good = start
            good_terms = terms
        plan.observe(time.perf_counter() - ts)
        plan.done += 1
        now = time.perf_counter()
        show = it == 0 or (it + 1) % preview_every == 0 or it + 1 == iterations or now - last_preview > 2.0
        img = preview(v) if show else None
        if show:
            last_preview = now
        yield Progress(iteration=plan.done, total=plan.total, stage=stage, losses=dict(terms),
                       elapsed_s=now - plan.t0, eta_s=plan.eta(), preview=img, scale_index=scale_index,
                       scale_count=scale_count)
    if iterations > 0:
        total, _, _ = evaluate(obj, v)  # the last step is checked too
        if not math.isfinite(total) or not bool(torch.isfinite(v).all()) or total > _BLOWUP * best:
            with torch.no_grad():
                v.copy_(good)


# ---------------------------------------------------------------------------------------------
# entry point


def _to_input_resolution(work: _Work, result_work: np.ndarray, painting: np.ndarray, tight: np.ndarray,
                         params: HarmonizeParams) -> np.ndarray:
    """The working-size result upsampled and blended into the input-resolution painting."""
    h, w = painting.shape[:2]
    up = _resize_rgb(result_work, (h, w))
    k = max(h, w) / max(work.painting.shape[:2])
    return blend(painting, up, tight, params.feather * k)


MIN_WORKING_PIXELS = 16


def _synthesise(result_crop: np.ndarray, work: _Work, seed: int, check: Callable[[], None]) -> np.ndarray:
    """The crop with its loose-mask part rebuilt from the painting's patches (synthesis.py); only the loose
    mask's bounding box (and a patch's reach around it) is matched."""
    loose = work.crop(work.loose)
    y0, y1, x0, x1 = bounding_box(loose, PATCH_RADIUS)
    part = result_crop[y0:y1, x0:x1]
    rebuilt = rebuild_from_painting(part, work.painting, seed=seed, check=check)
    m = loose[y0:y1, x0:x1, None]
    out = result_crop.copy()
    out[y0:y1, x0:x1] = rebuilt * m + part * (1 - m)
    return out


class _LiveTau:
    """The style strength of a running harmonization, as the user moves it."""

    def __init__(self, params: HarmonizeParams) -> None:
        self.params = params
        self.tau = float(params.tau)

    def take(self, updates: dict[str, object]) -> bool:
        """Take a new ``tau`` from ``updates`` when it is a valid one (a number within the parameters' own
        limits); True if it changed."""
        value = updates.get("tau")
        if not isinstance(value, int | float) or isinstance(value, bool):
            return False
        try:
            tau = float(self.params.with_changes(tau=float(value)).tau)
        except StudioInputError:
            return False
        changed, self.tau = tau != self.tau, tau
        return changed


def run_harmonize(painting: np.ndarray, composite: np.ndarray, tight_mask: np.ndarray,
                  loose_mask: np.ndarray | None, params: HarmonizeParams, control: JobControl | None = None,
                  network: FeatureNetwork | None = None) -> Iterator[Event]:
    """Harmonize the object the tight mask selects in ``composite`` with ``painting``; see the module
    docstring. Images RGB float32 HxWx3 in [0, 1] of one size; masks float32 HxW in [0, 1]."""
    control = control or JobControl()
    t0 = time.perf_counter()
    validate_params(params)
    painting = np.asarray(painting, dtype=np.float32)
    composite = np.asarray(composite, dtype=np.float32)
    tight_mask = np.asarray(tight_mask, dtype=np.float32)
    loose_mask = None if loose_mask is None else np.asarray(loose_mask, dtype=np.float32)
    validate_inputs(painting, composite, tight_mask, loose_mask)
    torch.manual_seed(params.seed)
    extra: dict[str, object] = {"params": params.to_dict()}

    if not params.needs_network:
        yield Info(f"Mode {params.mode}: no feature network needed.")
        # these modes work at the painting's own size; feather and loose radius are pixels at ``size``
        k = max(painting.shape[:2]) / max(working_shape(*painting.shape[:2], params.size))
        if params.mode == "color":
            out = blend(painting, color_transfer(painting, composite, tight_mask), tight_mask, params.feather * k)
        else:
            out = poisson_blend(painting, composite, tight_mask, mixed=params.mode == "poisson-mixed")
            loose = loose_region(tight_mask, loose_mask, params.loose_radius * k)  # the radius is at ``size``
            out = confine(painting, out, tight_mask, loose)  # the painting changes only where the loose mask says
        elapsed = time.perf_counter() - t0
        yield Progress(iteration=1, total=1, stage=params.mode, losses={}, elapsed_s=elapsed, eta_s=0.0,
                       preview=(out * 255 + 0.5).astype(np.uint8))
        # no iterations: "Finished in 0:00", not "after 1 iteration" (the bar's one step is the whole of it)
        yield Finished(image=out, cancelled=False, iterations=0, elapsed_s=elapsed, extra=extra)
        return

    if network is None:
        raise ValueError(f"mode {params.mode!r} needs the feature network: pass network=")
    net = network
    device = next(net.parameters()).device
    extra.update(weights=net.source or net.arch, device=str(device))
    if device.type == "cpu":
        keep_large_blocks()
    yield Info(f"Feature network: {net.source or net.arch}; device: {describe(device)}",
               {"weights": net.source or net.arch, "device": describe(device)})

    work = _prepare(painting, composite, tight_mask, loose_mask, params)
    left = int((work.tight > 0.5).sum())
    if left < MIN_WORKING_PIXELS:
        pixels = f"{left} pixel{'' if left == 1 else 's'}"
        raise StudioInputError(f"At the working size of {max(work.painting.shape[:2])} px the object covers {pixels}, "
                               f"too few to harmonize (at least {MIN_WORKING_PIXELS}); use a larger object or a "
                               "larger size.")
    y0, y1, x0, x1 = work.box
    hw = work.painting.shape[:2]
    yield Info(f"Working at {hw[1]}x{hw[0]}; optimising the {x1 - x0}x{y1 - y0} region around the object.")
    ph, pw = painting.shape[:2]
    if max(hw) < max(ph, pw):
        extra["worked_below"] = {"worked_at": [hw[1], hw[0]], "painting": [pw, ph]}
        if params.size == OWN_SIZE:
            why = (f"the {pw}x{ph} painting is larger than a harmonization fits in this machine's memory, so "
                   f"studio works at {hw[1]}x{hw[0]} and the object will look softer than the painting around it.")
        else:
            why = (f"This is a preview below the painting's resolution: working at {hw[1]}x{hw[0]} for a {pw}x{ph} "
                   "painting, so the object will look softer than the painting around it; a size of 0 (the "
                   "painting's own) works at full resolution.")
        yield Info(why[0].upper() + why[1:], {"worked_below": f"{hw[1]}x{hw[0]} of {pw}x{ph}"})
    P = _t(work.painting, device)
    C = _t(work.crop(work.composite), device)
    L = _m(work.crop(work.loose), device)
    T = _m(work.crop(work.tight), device)
    soft_tight = feather(work.tight, params.feather)[..., None]

    def compose(crop: np.ndarray) -> np.ndarray:
        full = work.paste(crop)
        return (full * soft_tight + work.painting * (1 - soft_tight)).astype(np.float32)

    def preview(v: torch.Tensor) -> np.ndarray:
        return (compose(_np(v / 255.0)) * 255 + 0.5).astype(np.uint8)

    if params.mode == "gatys":
        stages = [("gatys", params.gatys_iterations)]
    else:
        stages = [("pass 1", params.pass1_iterations), ("pass 2", params.pass2_iterations)]
    plan = _Plan(total=max(1, sum(n for _, n in stages)), t0=t0)
    live = _LiveTau(params)
    v = (C * 255.0).detach().clone().requires_grad_(True)
    intermediate: np.ndarray | None = None
    cancelled = False
    terms: dict[str, float] = {}
    try:
        if params.mode == "gatys":
            obj = gatys_objective(net, P, C, (L > 0.5).float(), style_weight=10.0 * params.tau)
            obj.check = control.check
            gatys_style = [t for t in obj.terms if t.key == "style"]

            def retune_gatys(updates: dict[str, object]) -> str | None:
                if not live.take(updates):
                    return None
                for t in gatys_style:
                    t.weight = 10.0 * live.tau / len(gatys_style)
                return f"Style strength {live.tau:g} from the next iteration."

            for ev in _optimise(obj, v, params.gatys_iterations, "gatys", plan, control, preview,
                                params.preview_every, line_search=False, scale_index=0, scale_count=1,
                                retune=retune_gatys):
                if isinstance(ev, Progress):
                    terms = ev.losses
                yield ev
        else:
            yield Info("Pass 1: matching the composite's feature patches to the painting (relu3_1, relu4_1, "
                       "relu5_1)...")
            obj1 = build_pass1(net, P, C, L, check=control.check)
            obj1.check = control.check
            def keep_for_pass2(updates: dict[str, object]) -> str | None:
                live.take(updates)  # pass 1's weights are the paper's constants: a new tau waits for pass 2
                return None

            for ev in _optimise(obj1, v, params.pass1_iterations, "pass 1", plan, control, preview,
                                params.preview_every, line_search=False, scale_index=0, scale_count=2,
                                retune=keep_for_pass2):
                if isinstance(ev, Progress):
                    terms = ev.losses
                yield ev
            x1 = (v.detach() / 255.0).clamp(0, 1)
            intermediate = compose(_np(x1))
            noise = noise_level(_resize_rgb(painting, working_shape(*painting.shape[:2], NOISE_SIZE)))
            wts = pass2_weights(live.tau, noise, params.tv_factor)
            yield Info(f"Pass 2: consistent mapping at relu4_1; painting noise {noise:.2e}; weights content "
                       f"{wts.content:g}, style {wts.style:g}, histogram {wts.histogram:.3g}, tv {wts.tv:.3g}.")
            obj2, mapping = build_pass2(net, P, C, x1, T, L, live.tau, noise, params.tv_factor,
                                        check=control.check)
            obj2.check = control.check
            extra["mapped_positions"] = int(mapping.regions[REFERENCE_LAYER].sum())
            with torch.no_grad():
                if params.pass2_init == "composite":
                    v.copy_(C * 255.0)
                if params.pass2_tone:
                    region = mapping.regions[PASS2_STYLE_LAYERS[0]]
                    v.copy_(tone_start(v / 255.0, T, P, region, amount=live.tau) * 255.0)
            def retune_pass2(updates: dict[str, object]) -> str | None:
                if not live.take(updates):
                    return None
                set_pass2_weights(obj2, pass2_weights(live.tau, noise, params.tv_factor))
                return f"Pass 2: style strength {live.tau:g} from the next iteration."

            for ev in _optimise(obj2, v, params.pass2_iterations, "pass 2", plan, control, preview,
                                params.preview_every, line_search=False, scale_index=1, scale_count=2,
                                lr=PASS2_LEARNING_RATE, retune=retune_pass2):
                if isinstance(ev, Progress):
                    terms = ev.losses
                yield ev
    except Cancelled:
        cancelled = True
    if live.tau != params.tau:  # the recipe holds the strength the run ended with
        extra["params"] = params.with_changes(tau=live.tau).to_dict()
    result_crop = _np(v.detach() / 255.0)
    if params.denoise and not cancelled and params.mode == "dph":
        result_crop = denoise_chroma(result_crop, mask=work.crop(work.loose), guide=work.crop(work.composite))
    if params.patch_synthesis and not cancelled and params.mode == "dph":
        yield Info("Rebuilding the object from the painting's own 7x7 patches (the paper's patch synthesis)...")
        try:
            result_crop = _synthesise(result_crop, work, params.seed, control.check)
        except Cancelled:
            cancelled = True
    result_work = work.paste(result_crop)
    final = _to_input_resolution(work, result_work, painting, tight_mask, params)
    if intermediate is not None:
        extra["pass1"] = intermediate
    yield Finished(image=final, cancelled=cancelled, iterations=plan.done, elapsed_s=time.perf_counter() - t0,
                   losses=dict(terms), extra=extra)
