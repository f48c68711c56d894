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
from collections.abc import Iterator, Sequence
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
from studio.engines.features.vgg import FeatureNetwork
from studio.engines.lbfgs import History
from studio.engines.limits import memory_words
from studio.engines.pixels import resize_to
from studio.engines.style.fade import fade
from studio.engines.style.full_size import check_start
from studio.engines.style.objective import MAX_HISTORY, Objective, Stepper
from studio.engines.style.params import LIVE_FIELDS, StyleParams
from studio.engines.style.regions import Region, at_scale, check_regions, painting_shape, shares
from studio.engines.style.tiles import geometry, tile_side

MIN_SCALE_SIDE = 128  # StyleParams.coarsest_side's default
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


def budget_deadlines(budget: float, n_scales: int) -> np.ndarray:
    """Seconds from the start by which each scale must end, for a run of ``budget`` seconds."""
    share = _TIME_SHARE_GROWTH ** np.arange(n_scales)
    return np.cumsum(share / share.sum()) * budget


def content_factor(index: int, count: int, coarse: float = StyleParams.coarse_content) -> float:
    """How many times the user's content weight scale ``index`` of ``count`` optimises with: ``coarse``
    (``StyleParams.coarse_content``) before the final scale, 1 at it."""
    return 1.0 if index == count - 1 else coarse


MAX_STYLES = 16
# A full-size render starts L-BFGS afresh on a large picture, where torch's first trial step (1 / |g|_1) moves
# each value by about 1 / N of the mean gradient and the line search extrapolates tenfold per evaluation to a
# useful step: ~8 evaluations at 4000x3000. It starts instead with the mean move the first accepted step of a
# scale makes (measured 1.5e-3 and 2.0e-3 of the optimised variable at 128 and 256 px).
FULL_SIZE_FIRST_MOVE = 2e-3


def validate_params(params: StyleParams, n_styles: int, net: FeatureNetwork | None = None,
                    n_regions: int = 0, rest_needs_style: bool = True) -> None:
    """Raise StudioInputError with one clear sentence for a bad parameter value. Every number's range is
    checked when the parameters are made (``StyleParams.LIMITS``); what is left here depends on the inputs,
    the network and the choices."""
    if n_styles > MAX_STYLES:
        raise StudioInputError(f"{n_styles} style images is more than the {MAX_STYLES} a run blends (each one "
                               "costs the memory of its features).")
    if params.optimizer not in ("lbfgs", "adam"):
        raise StudioInputError(f"optimizer must be lbfgs or adam, got {params.optimizer!r}")
    if params.init not in ("content", "noise", "median-noise"):
        raise StudioInputError(f"init must be content, noise or median-noise, got {params.init!r}")
    if params.pooling not in ("max", "avg"):
        raise StudioInputError(f"pooling must be max or avg, got {params.pooling!r}")
    if n_styles < 1 and rest_needs_style:
        raise StudioInputError("at least one style image is needed" if not n_regions else
                               "the part of the photo outside every region needs a style image (or a region "
                               "that covers it)")
    n_weights = len(params.region_weights) if params.region_weights is not None else n_regions
    if n_weights != n_regions:
        raise StudioInputError(f"region-weights has {n_weights} values for {n_regions} regions")
    if 0 < params.tile < 16:
        raise StudioInputError(f"tile must be 0 (automatic) or at least 16 px, got {params.tile}")
    if not params.style_layers and params.style_weight > 0:
        raise StudioInputError("no style layers are selected; choose at least one")
    if params.style_layer_weights is not None and len(params.style_layer_weights) != len(params.style_layers):
        raise StudioInputError(f"style-layer-weights has {len(params.style_layer_weights)} values for "
                               f"{len(params.style_layers)} style layers")
    if params.style_blend is not None:
        if len(params.style_blend) != n_styles:
            raise StudioInputError(f"style-blend has {len(params.style_blend)} values for {n_styles} style images")
        if sum(params.style_blend) <= 0:  # each one's range is checked with the parameters
            raise StudioInputError(f"style-blend must have a positive sum, got {params.style_blend}")
    if net is not None:
        net.check_layers(params.content_layers, "content layer")
        net.check_layers(params.style_layers, "style layer")


def _deepest_layers(params: StyleParams) -> list[str]:
    """The layers a run of ``params`` may reach, live changes included: the margins of its tiles follow them."""
    return list(params.content_layers) + list(params.style_layers) or ["relu5_1"]


def scale_shapes(height: int, width: int, size: int, scales: int, coarsest: int = MIN_SCALE_SIDE) \
        -> list[tuple[int, int]]:
    """(h, w) of each scale, coarse to fine; the final long side is ``size``, none before it under ``coarsest``."""
    out: list[tuple[int, int]] = []
    for i in range(scales):
        long_side = size / (2 ** (scales - 1 - i))
        if long_side < coarsest * 0.99 and i < scales - 1:
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


def _upsample(x: torch.Tensor, hw: tuple[int, int]) -> torch.Tensor:
    return F.interpolate(x, size=hw, mode="bicubic", align_corners=False)


def next_scale_start(x: torch.Tensor, content: torch.Tensor, prev_content: torch.Tensor,
                     detail: float) -> torch.Tensor:
    """Where a finer scale starts: the coarser scale's picture ``x`` enlarged to ``content``'s size, plus
    ``detail`` times the photo's own detail at the new size (``content`` less ``prev_content`` enlarged).

    With all of it (1, the default) every scale re-paints the photo's full fine texture under the strokes it
    inherited, and the finished picture keeps it; with none the strokes carry over (``StyleParams.photo_detail``
    has the measured trade). A full-size render adds all of it: few iterations on a picture enlarged 2-8 times."""
    hw = (content.shape[-2], content.shape[-1])
    up = _upsample(x, hw)
    return up if detail == 0 else up + detail * (content - _upsample(prev_content, hw))


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


@dataclass
class Clock:
    """Seconds an iteration takes per megapixel, for the ETA. The first iteration of a fresh L-BFGS searches for
    its step with many evaluations (a 4000 px render's first took 22 min, the next ones under 3): it stands in
    for the rate only until a steady iteration has been seen, and never enters the average after that."""

    start: float
    rate: float | None = None  # seconds per iteration per megapixel, smoothed
    provisional: bool = False  # the rate is a first iteration's

    def observe(self, seconds: float, pixels: int, startup: bool = False) -> None:
        r = seconds / max(pixels, 1) * 1e6
        if startup:
            if self.rate is None:
                self.rate, self.provisional = r, True
            return
        if self.rate is None or self.provisional:
            self.rate, self.provisional = r, False
        else:
            self.rate = 0.8 * self.rate + 0.2 * r


def run_style(content: np.ndarray, styles: Sequence[np.ndarray], params: StyleParams,
              control: JobControl | None = None, *, network: FeatureNetwork,
              start: np.ndarray | None = None, regions: Sequence[Region] = ()) -> Iterator[Event]:
    """Stylise ``content`` (RGB float32 HxWx3 in [0, 1]) with ``styles`` through ``network`` (the caller
    loads it, for example with ``studio.weights.network_for(params)``); see the module docstring.

    ``start``: render at full size (``full_size``): a stylised result of ``content`` at a smaller size (before
    any fade); only the final scale runs, at ``params.size``, starting from it.

    ``regions``: a painting (or the photo kept) for each part of the picture (``regions``); ``styles`` then
    paint the part no region covers, and ``params.region_weights`` weighs each region."""
    control = control or JobControl()
    t0 = time.perf_counter()
    check_regions(regions, content.shape)
    # the run's own paintings are needed only where the regions leave some of the picture
    rest_needs_style = not regions or float(shares([r.mask for r in regions], (64, 64))[1].max()) > 0.01
    checks = {"n_regions": len(regions), "rest_needs_style": rest_needs_style}
    validate_params(params, len(styles), **checks)
    net = network
    device = next(net.parameters()).device
    validate_params(params, len(styles), net, **checks)
    if device.type == "cpu":
        keep_large_blocks()
    yield Info(f"Feature network: {net.source or net.arch}; device: {describe(device)}",
               {"weights": net.source or net.arch, "device": describe(device)})

    torch.manual_seed(params.seed)
    h0, w0 = content.shape[:2]
    shapes = scale_shapes(h0, w0, params.size, params.scales, params.coarsest_side)
    fh, fw = shapes[-1]
    if fh * fw > StyleParams.most_pixels():
        raise StudioInputError(f"{fw}x{fh} is {fh * fw / 1e6:.1f} megapixels, more than the "
                               f"{StyleParams.most_pixels() / 1e6:.1f} a style run fits in this machine's "
                               f"{memory_words()}; choose a smaller size.")
    if start is not None:
        shapes = shapes[-1:]
        check_start(start, content, shapes[0])
    iters = iterations_per_scale(params, len(shapes))
    total_iters = sum(iters)
    final_hw = shapes[-1]
    content_final = resize_to(content, final_hw)
    budget = params.max_seconds
    deadlines = budget_deadlines(budget, len(shapes)) if budget else None

    clock = Clock(start=t0)
    tiles = 1
    done = 0  # position in the plan (a scale cut short by the time budget counts as complete)
    performed = 0  # iterations actually run
    x: torch.Tensor | None = None
    objective: Objective | None = None
    stepper: Stepper | None = None
    prev_content: torch.Tensor | None = None
    terms: dict[str, float] = {}
    last_preview = -1.0
    cancelled = False
    params_now = params

    def preview(xt: torch.Tensor) -> np.ndarray:
        img = _to_numpy(xt)
        if img.shape[:2] != final_hw:
            img = resize_to(img, final_hw)
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
            # the previous scale's L-BFGS history and features go before this scale measures the memory it has
            # (on a GPU its free memory decides between one pass and tiles), keeping only its curvature scale
            h_prev = stepper.scale() if stepper is not None else None
            stepper = objective = None
            c_t = image_tensor(resize_to(content, hw), device)
            long_side = max(hw)
            s_ts = [image_tensor(resize_to(s, painting_shape(s.shape[:2], long_side, params_now.style_scale)), device)
                    for s in styles]
            scaled = at_scale(regions, hw, params_now.style_scale, device) if regions else None
            core = tile_side(hw, params_now.tile, device, geometry(net, _deepest_layers(params_now)))
            factor = content_factor(si, len(shapes), params_now.coarse_content)
            objective = Objective(net, c_t, s_ts, params_now, factor, regions=scaled, core_side=core)
            objective.check = control.check
            tiles = 1 if objective.tiles is None else len(objective.tiles)
            if tiles > 1:
                assert core is not None
                yield Info(f"At {hw[1]}x{hw[0]} the network runs over {tiles} tiles of {core} px (each with "
                           f"{objective.tile_margin} px of the picture around it): the same picture in the memory "
                           "of one tile.", {"tiles": str(tiles)})
            if x is None and start is not None:  # full size: the preview is the scale before this one
                x = image_tensor(start, device)
                prev_content = image_tensor(resize_to(content, start.shape[:2]), device)
            if x is None:
                x0 = _initial_image(params_now.init, c_t, params_now.seed)
            else:
                assert prev_content is not None
                detail = 1.0 if start is not None else params_now.photo_detail  # a full-size render: all
                x0 = next_scale_start(x.detach(), c_t, prev_content, detail)
            x = x0.detach().clone(memory_format=torch.contiguous_format).requires_grad_(True)
            # The previous scale's curvature scale, times the pixel ratio (the losses are means, so the
            # inverse curvature per pixel grows with the pixel count), sizes the first step here.
            first = None
            if h_prev is not None and prev_content is not None:
                first = h_prev * hw[0] * hw[1] / (prev_content.shape[-2] * prev_content.shape[-1])
            prev_content = c_t
            stepper = Stepper(x, objective, params_now, control, first_step=first,
                              first_move=FULL_SIZE_FIRST_MOVE if start is not None else None)
            if stepper.history and (stepper.history < MAX_HISTORY or stepper.history_dtype != torch.float32):
                gb = stepper.history * History.bytes_per_step(x.numel(), stepper.history_dtype) / 1024**3
                kept = (f"{stepper.history} steps" if stepper.history == MAX_HISTORY else
                        f"{stepper.history} steps instead of {MAX_HISTORY}")
                yield Info(f"At {hw[1]}x{hw[0]} L-BFGS remembers {kept} in half precision ({gb:.1f} GB): "
                           f"all {MAX_HISTORY} in full precision would not fit beside the rest of the run.",
                           {"history": str(stepper.history), "history_precision": "float16"})
            # the last good image, for Adam (L-BFGS goes back to its accepted point itself, on any interruption)
            accepted = x.detach().clone() if stepper.kind != "lbfgs" else None
            stage = (f"full size · {hw[1]}x{hw[0]} from {start.shape[1]}x{start.shape[0]}" if start is not None
                     else f"scale {si + 1}/{len(shapes)} · {hw[1]}x{hw[0]}")
            for it in range(iters[si]):
                if deadlines is not None and time.perf_counter() - t0 >= deadlines[si]:
                    break
                updates = control.take_updates()
                if updates:
                    live = {k: v for k, v in updates.items() if k in LIVE_FIELDS}
                    new_params = params_now.with_changes(**{k: tuple(v) if isinstance(v, list) else v
                                                            for k, v in live.items()})
                    try:
                        validate_params(new_params, len(styles), net, **checks)
                    except StudioInputError as e:
                        yield Info(f"Ignored a parameter change: {e}")
                    else:
                        objective_changed = any(getattr(new_params, k) != getattr(params_now, k)
                                                for k in live if k != "original_colors")
                        params_now = new_params
                        if objective_changed:
                            objective.set_params(params_now)
                            stepper = Stepper(x, objective, params_now, control, first_step=stepper.scale())
                ts = time.perf_counter()
                try:
                    terms = stepper.step()
                except Cancelled:
                    if accepted is not None:
                        with torch.no_grad():
                            x.copy_(accepted)
                    raise
                if not math.isfinite(terms.get("total", 0.0)) or not bool(torch.isfinite(x).all()):
                    if accepted is not None:
                        with torch.no_grad():
                            x.copy_(accepted)
                    stepper = Stepper(x, objective, params_now, control)
                    yield Info("The optimiser diverged for a step; restarted it from the last good image.")
                    continue
                if accepted is not None:
                    accepted.copy_(x.detach())
                clock.observe(time.perf_counter() - ts, hw[0] * hw[1], startup=it == 0)  # seconds per iteration
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
            final = resize_to(final, final_hw)
    if params_now.original_colors:
        final = original_colors(final, content_final)
    stylised = final
    final = fade(stylised, content_final, params_now.strength, params_now.fade)
    x = objective = stepper = None  # the L-BFGS history alone is 100 image copies
    give_back_memory()
    yield Finished(image=final, cancelled=cancelled, iterations=performed, elapsed_s=time.perf_counter() - t0,
                   losses=dict(terms), extra={"weights": net.source or net.arch, "device": str(device),
                                              "params": params_now.resolved().to_dict(), "stylised": stylised,
                                              "seconds_per_megapixel": clock.rate, "tiles": tiles,
                                              "started_from": None if start is None else start.shape[:2]})
