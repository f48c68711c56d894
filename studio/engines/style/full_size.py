"""Render at full size: a result found at preview size, refined by one final scale at a larger size.

The preview carries the look (the painting's large structures, laid down cheaply at the small size); the
final scale at the new size starts from it as from the scale before it in a normal run (upsampled, plus the
photo's detail between the two sizes: ``run_style``'s ``start``), and adds the fine brushwork the larger size
has room for. So the look found at 256 or 512 px comes back at 2048 px, finer, for the cost of one scale.

The time it will take is told before it starts: the seconds an iteration costs per megapixel on this
machine (measured by the preview run, or by ``measure_speed``) times the iterations and the new size.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from studio.engines.errors import StudioInputError
from studio.engines.features.vgg import FeatureNetwork
from studio.engines.pixels import resize_to
from studio.engines.style.fade import FadeMode
from studio.engines.style.params import StyleParams
from studio.engines.style.regions import Region


def check_start(start: np.ndarray, content: np.ndarray, hw: tuple[int, int]) -> None:
    """One sentence when ``start`` cannot be the preview of ``content`` rendered at ``hw``."""
    sh, sw = start.shape[:2]
    ch, cw = content.shape[:2]
    if abs(sw / sh - cw / ch) > 0.02 * (cw / ch):
        raise StudioInputError(f"the start picture ({sw}x{sh}) has another shape than the photo ({cw}x{ch}); "
                               "start from a result of this photo.")
    if max(hw) <= max(sh, sw):  # a render no larger than its start refines nothing
        raise StudioInputError(f"the start picture is already {max(sh, sw)} px on its long side; a full-size "
                               f"render needs a larger size than that, not {max(hw)} px.")


def unfade(faded: np.ndarray, photo: np.ndarray, strength: float, mode: FadeMode = "rgb") -> np.ndarray:
    """The stylised picture a ``fade`` of ``strength`` came from (as nearly as 8-bit pixels allow), so a
    faded preview is refined as the picture it was before the fade, and faded again at the end."""
    from studio.engines.color import rgb_to_yiq, yiq_to_rgb

    s = float(np.clip(strength, 0.0, 1.0))
    if s >= 1.0:
        return faded
    if s < 0.05:
        raise StudioInputError(f"the start picture was faded to strength {s:g}: almost nothing of the painting "
                               "is left in it to render at full size.")
    photo = photo if photo.shape == faded.shape else resize_to(photo, faded.shape[:2])
    if mode == "luminance":
        a, b = rgb_to_yiq(faded), rgb_to_yiq(photo)
        a[..., 0] = (a[..., 0] - (1 - s) * b[..., 0]) / s
        return np.clip(yiq_to_rgb(a), 0.0, 1.0).astype(np.float32)
    return np.clip((faded - (1 - s) * photo) / s, 0.0, 1.0).astype(np.float32)


#: a fresh L-BFGS searches for its first steps with many evaluations: the command line's 256 px probe measured
#: them as 4 more steady iterations; the app, which knows only the preview's steady rate, adds as many
STARTUP_ITERATIONS = 4.0


@dataclass(frozen=True)
class Speed:
    """What an iteration costs on this machine: a part that does not grow with the picture (the Gram matrices,
    the layers' dispatch) and seconds per megapixel, plus the start of a fresh L-BFGS, in iterations. The app
    knows only a preview's own rate; the command line measures all three."""

    per_megapixel: float
    fixed: float = 0.0
    startup: float = STARTUP_ITERATIONS


#: a picture evaluated in tiles (``tiles.py``) takes this many times the seconds per megapixel of one pass:
#: 1.96 at 1024x768 and 1.56 at 2048x1536 (benchmarks/bench_tiles.py, once the first pass ran in wider tiles; a
#: pass without gradients more, and margins); pictures tile on their own from about 1800x1350 on 24 GB
TILED_TIME_FACTOR = 1.6


def runs_in_tiles(hw: tuple[int, int], tile: int = 0, device: str = "cpu") -> bool:
    """Whether a final scale at ``hw`` runs in tiles on ``device`` (the memory of a GPU decides there, not the
    machine's; ``StyleParams.tile``: the user's choice)."""
    import torch

    from studio.engines.style.tiles import Geometry, needs_tiles, tile_side

    geo = Geometry(stride=16, margin=64)  # the default layers' (relu5_1)
    core = tile_side(hw, tile, torch.device(device), geo)
    return core is not None and needs_tiles(hw, core, geo)


def estimate_seconds(speed: Speed, hw: tuple[int, int], iterations: int, tile: int = 0,
                     device: str = "cpu") -> float:
    """Seconds a final scale of ``iterations`` at ``hw`` takes on ``device`` at ``speed`` (measured on pictures
    small enough for one pass; ``tile``: the run's ``StyleParams.tile``)."""
    factor = TILED_TIME_FACTOR if runs_in_tiles(hw, tile, device) else 1.0
    return float((speed.fixed + factor * speed.per_megapixel * hw[0] * hw[1] / 1e6) * (iterations + speed.startup))


def _seconds_per_iteration(content: np.ndarray, styles: list[np.ndarray], params: StyleParams,
                           network: FeatureNetwork, side: int, iterations: int,
                           regions: Sequence[Region] = ()) -> tuple[float, int, float]:
    """(seconds an iteration takes once L-BFGS is steady, pixels, the start's cost in steady iterations) of a
    small single-scale run at ``side``: its first iterations search for their step with many evaluations, so
    only the second half counts for the steady rate."""
    from studio.engines.events import Progress
    from studio.engines.style.run import run_style

    probe = params.with_changes(size=min(side, params.size), scales=1, iterations=max(2, iterations),
                                max_seconds=None, preview_every=10**6, strength=1.0)
    times: list[tuple[int, float]] = []
    pixels = 0
    for ev in run_style(content, styles, probe, network=network, regions=regions):
        if isinstance(ev, Progress):
            times.append((ev.iteration, ev.elapsed_s))
            if ev.preview is not None:
                pixels = ev.preview.shape[0] * ev.preview.shape[1]
    half = len(times) // 2
    if half < 1 or not pixels:
        raise StudioInputError("could not time this machine for the estimate (the probe run did no iteration).")
    (i0, t0), (i1, t1) = times[half - 1], times[-1]
    steady = (t1 - t0) / max(1, i1 - i0)
    return steady, pixels, max(0.0, t0 / max(steady, 1e-9) - i0)


def measure_speed(content: np.ndarray, styles: list[np.ndarray], params: StyleParams, network: FeatureNetwork,
                  sides: tuple[int, int] = (128, 256), iterations: int = 8, regions: Sequence[Region] = ()) -> Speed:
    """This machine's ``Speed`` from two small probes (the command line's estimate) of the run with its
    ``regions``: the line through their seconds per iteration against their pixels, and the larger one's start."""
    (ta, pa, _), (tb, pb, startup) = (_seconds_per_iteration(content, styles, params, network, side, iterations,
                                                             regions) for side in sides)
    per_mp = max(0.0, (tb - ta) / max(1, pb - pa) * 1e6)
    if per_mp == 0.0:  # the probes too noisy to tell the two parts apart: all per pixel, from the larger one
        return Speed(per_megapixel=tb / (pb / 1e6), startup=startup)
    return Speed(per_megapixel=per_mp, fixed=max(0.0, ta - per_mp * pa / 1e6), startup=startup)
