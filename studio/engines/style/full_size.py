"""Render at full size: a result found at preview size, refined by one final scale at a larger size.

The preview carries the look (the painting's large structures, laid down cheaply at the small size); the
final scale at the new size starts from it as from the scale before it in a normal run (upsampled, plus the
photo's detail between the two sizes: ``run_style``'s ``start``), and adds the fine brushwork the larger size
has room for. So the look found at 256 or 512 px comes back at 2048 px, finer, for the cost of one scale.

The time it will take is told before it starts: the seconds an iteration costs per megapixel on this
machine (measured by the preview run, or by ``measure_rate``) times the iterations and the new size.
"""

from __future__ import annotations

import numpy as np

from studio.engines.errors import StudioInputError
from studio.engines.features.vgg import FeatureNetwork
from studio.engines.pixels import resize_to
from studio.engines.style.fade import FadeMode
from studio.engines.style.params import StyleParams


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


def estimate_seconds(rate: float, hw: tuple[int, int], iterations: int) -> float:
    """Seconds a final scale of ``iterations`` at ``hw`` takes at ``rate`` seconds per iteration per megapixel
    (the cost per pixel stays about the same as the size grows: see the README's figures)."""
    return float(rate * hw[0] * hw[1] / 1e6 * iterations)


def measure_rate(content: np.ndarray, styles: list[np.ndarray], params: StyleParams, network: FeatureNetwork,
                 side: int = 192, iterations: int = 6) -> float:
    """Seconds an iteration costs per megapixel on this machine and device, from the steady iterations of a
    small single-scale run (the command line's estimate; the app has the preview run's own figure). The
    first iterations of L-BFGS search for their step with many evaluations: only the second half counts."""
    from studio.engines.events import Progress
    from studio.engines.style.run import run_style

    probe = params.with_changes(size=min(side, params.size), scales=1, iterations=max(2, iterations),
                                max_seconds=None, preview_every=10**6, strength=1.0)
    times: list[tuple[int, float]] = []
    pixels = 0
    for ev in run_style(content, styles, probe, network=network):
        if isinstance(ev, Progress):
            times.append((ev.iteration, ev.elapsed_s))
            if ev.preview is not None:
                pixels = ev.preview.shape[0] * ev.preview.shape[1]
    half = len(times) // 2
    if half < 1 or not pixels:
        raise StudioInputError("could not time this machine for the estimate (the probe run did no iteration).")
    (i0, t0), (i1, t1) = times[half - 1], times[-1]
    return float((t1 - t0) / max(1, i1 - i0) / (pixels / 1e6))
