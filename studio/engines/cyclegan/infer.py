"""Applying a CycleGAN generator to an image of any size.

Any size: the image is reflect-padded to a multiple of 4 (and at least 8 pixels) and cropped back.
Large images: tiles of ``params.tile`` pixels overlapping by ``params.overlap``, each weighted by a
linear ramp across the overlap and summed (feathered blending), so memory stays bounded at 4000 px.

Instance norm and tiles: every norm layer normalises by its input's per-channel statistics, so a
tile normalised by its own statistics (a sky-only tile, say) comes out differently from the same
pixels in the whole image, which shows as seams and tile-to-tile colour shifts. With
``norm_stats="global"`` the statistics are recorded once on the whole image (downscaled to at
most ``stats_side`` pixels on the long side when larger) and every tile is normalised with them.

``run_translate`` is a generator of events (Info, Progress per tile, Finished); ``Finished.image``
is the blended result and ``Finished.extra["translation"]`` the raw translation, so a caller can
re-blend strength, colours and mask instantly with ``blend`` without running the network again.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from studio.engines.color import original_colors
from studio.engines.cyclegan.models import ResnetGenerator
from studio.engines.cyclegan.params import TranslateParams
from studio.engines.device import describe, resolve_device
from studio.engines.errors import StudioInputError
from studio.engines.events import Cancelled, Event, Finished, Info, JobControl, Progress

MIN_SIDE = 8  # two stride-2 convolutions, then reflection padding of 1 at a quarter of the size


def to_tensor(rgb: np.ndarray, device: torch.device | str = "cpu") -> torch.Tensor:
    """HxWx3 float [0, 1] -> 1x3xHxW in [-1, 1]."""
    t = torch.from_numpy(np.ascontiguousarray(rgb, dtype=np.float32)).permute(2, 0, 1)[None]
    return (t * 2.0 - 1.0).to(device)


def to_image(t: torch.Tensor) -> np.ndarray:
    """1x3xHxW in [-1, 1] -> HxWx3 float32 [0, 1]."""
    return ((t[0].detach().float().cpu().permute(1, 2, 0).numpy() + 1.0) * 0.5).clip(0.0, 1.0).astype(np.float32)


def _pad_amounts(size: int) -> tuple[int, int]:
    """Padding before and after: all of it after, so the stride-2 grid stays aligned with the image's
    (a tile starting at a multiple of 4 then sees the same sampling grid as the whole image)."""
    return 0, max(MIN_SIDE, math.ceil(size / 4) * 4) - size


def _pad(x: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int, int, int]]:
    h, w = x.shape[-2:]
    top, bottom = _pad_amounts(h)
    left, right = _pad_amounts(w)
    if top or bottom or left or right:
        reflect_ok = max(top, bottom) < h and max(left, right) < w
        x = F.pad(x, (left, right, top, bottom), mode="reflect" if reflect_ok else "replicate")
    return x, (top, bottom, left, right)


@torch.no_grad()
def forward_any_size(net: ResnetGenerator, x: torch.Tensor) -> torch.Tensor:
    """The generator on a [-1, 1] tensor of any size: padded to a multiple of 4, cropped back."""
    h, w = x.shape[-2:]
    xp, (top, _, left, _) = _pad(x)
    y = net(xp)
    return y[..., top:top + h, left:left + w]


@torch.no_grad()
def record_statistics(net: ResnetGenerator, rgb: np.ndarray, stats_side: int, device: torch.device) -> None:
    """Run the whole image (downscaled to ``stats_side`` when larger) once, keeping every norm layer's
    per-channel mean and variance for tiles to use."""
    h, w = rgb.shape[:2]
    if max(h, w) > stats_side:
        s = stats_side / max(h, w)
        rgb = cv2.resize(np.ascontiguousarray(rgb), (max(1, round(w * s)), max(1, round(h * s))),
                         interpolation=cv2.INTER_AREA)
    with net.norm_mode("record"):
        forward_any_size(net, to_tensor(rgb, device))


def tile_starts(size: int, tile: int, overlap: int) -> list[int]:
    """Start offsets of tiles of side ``tile`` covering ``size`` with at least ``overlap`` overlap.

    Starts are multiples of 4 (the generator's stride), so the last tile may be up to 3 pixels longer.
    """
    if size <= tile:
        return [0]
    step = max(4, (tile - overlap) // 4 * 4)
    last = (size - tile) // 4 * 4
    starts = list(range(0, last, step))
    starts.append(last)
    return starts


def _ramp(length: int, ramp_start: bool, ramp_end: bool, overlap: int) -> np.ndarray:
    w = np.ones(length, np.float32)
    n = min(overlap, length // 2)
    if n > 0:
        r = (np.arange(n, dtype=np.float32) + 1.0) / (n + 1.0)
        if ramp_start:
            w[:n] = np.minimum(w[:n], r)
        if ramp_end:
            w[length - n:] = np.minimum(w[length - n:], r[::-1])
    return w


def feather_weights(h: int, w: int, y0: int, x0: int, img_h: int, img_w: int, overlap: int) -> np.ndarray:
    """HxW weights of one tile: 1 inside, a linear ramp over ``overlap`` pixels at edges shared with other tiles."""
    wy = _ramp(h, y0 > 0, y0 + h < img_h, overlap)
    wx = _ramp(w, x0 > 0, x0 + w < img_w, overlap)
    return wy[:, None] * wx[None, :]


def blend(original: np.ndarray, translation: np.ndarray, strength: float = 1.0, preserve_colors: bool = False,
          mask: np.ndarray | None = None) -> np.ndarray:
    """The result a user sees: the translation (optionally with the original's colours) mixed with the
    original by ``strength``, only where ``mask`` (HxW in [0, 1]) is set. Cheap: no network involved."""
    if original.shape != translation.shape:
        raise StudioInputError(f"the translation is {translation.shape[1]}x{translation.shape[0]} but the "
                               f"image is {original.shape[1]}x{original.shape[0]}")
    t = original_colors(translation, original) if preserve_colors else translation
    a = float(np.clip(strength, 0.0, 1.0))
    if mask is not None:
        m = np.asarray(mask, np.float32)
        if m.ndim == 3:
            m = m.mean(axis=2)
        if m.shape != original.shape[:2]:
            raise StudioInputError(f"the selection mask is {m.shape[1]}x{m.shape[0]} but the image is "
                                   f"{original.shape[1]}x{original.shape[0]}")
        alpha = (np.clip(m, 0.0, 1.0) * a)[:, :, None]
    else:
        alpha = np.float32(a)
    return np.clip(original + (t - original) * alpha, 0.0, 1.0).astype(np.float32)


def _tiles(ys: list[int], xs: list[int], h: int, w: int, tile: int) -> Iterator[tuple[int, int, int, int]]:
    """(y0, x0, height, width) of every tile; the last row and column reach the image's edge."""
    for y0 in ys:
        for x0 in xs:
            th = h - y0 if y0 == ys[-1] else min(tile, h - y0)
            tw = w - x0 if x0 == xs[-1] else min(tile, w - x0)
            yield y0, x0, th, tw


@dataclass
class _Clock:
    start: float

    def eta(self, done: int, total: int) -> float | None:
        if done <= 0:
            return None
        return (time.perf_counter() - self.start) / done * (total - done)


def validate(params: TranslateParams) -> None:
    if not 0.0 <= params.strength <= 1.0 or not math.isfinite(params.strength):
        raise StudioInputError(f"strength must be between 0 and 1, got {params.strength!r}")
    if params.tile != 0 and params.tile < 64:
        raise StudioInputError(f"tile must be 0 (no tiling) or at least 64 pixels, got {params.tile!r}")
    if params.overlap < 0 or (params.tile and params.overlap * 2 >= params.tile):
        raise StudioInputError(f"overlap must be at least 0 and less than half the tile, got {params.overlap!r}")
    if params.norm_stats not in ("global", "tile"):
        raise StudioInputError(f"norm-stats must be global or tile, got {params.norm_stats!r}")
    if params.stats_side < 64:
        raise StudioInputError(f"stats-side must be at least 64 pixels, got {params.stats_side!r}")


def run_translate(net: ResnetGenerator, rgb: np.ndarray, params: TranslateParams | None = None,
                  control: JobControl | None = None, mask: np.ndarray | None = None) -> Iterator[Event]:
    """Translate ``rgb`` (HxWx3 float [0, 1]) with ``net``; yields Info, Progress per tile, Finished."""
    params = params or TranslateParams()
    validate(params)
    control = control or JobControl()
    device = resolve_device(params.device)
    net = net.to(device).eval()
    h, w = rgb.shape[:2]
    tiled = params.tile > 0 and max(h, w) > params.tile
    clock = _Clock(time.perf_counter())
    yield Info(f"translating {w}x{h} on {describe(device)}"
               + (f" in tiles of {params.tile} px ({params.norm_stats} instance-norm statistics)" if tiled else ""),
               {"device": describe(device)})
    translation: np.ndarray | None = None
    done = 0
    try:
        if not tiled:
            total = 1
            control.check()
            with net.norm_mode("instance"):
                translation = to_image(forward_any_size(net, to_tensor(rgb, device)))
            done = 1
            yield Progress(1, 1, "translate", {}, time.perf_counter() - clock.start, 0.0)
        else:
            ys = tile_starts(h, params.tile, params.overlap)
            xs = tile_starts(w, params.tile, params.overlap)
            total = len(ys) * len(xs)
            mode = "fixed" if params.norm_stats == "global" else "instance"
            if mode == "fixed":
                record_statistics(net, rgb, params.stats_side, device)
            acc = np.zeros((h, w, 3), np.float32)
            wsum = np.zeros((h, w, 1), np.float32)
            with net.norm_mode(mode):
                for y0, x0, th, tw in _tiles(ys, xs, h, w, params.tile):
                    control.check()
                    patch = rgb[y0:y0 + th, x0:x0 + tw]
                    out = to_image(forward_any_size(net, to_tensor(patch, device)))
                    wt = feather_weights(th, tw, y0, x0, h, w, params.overlap)[:, :, None]
                    acc[y0:y0 + th, x0:x0 + tw] += out * wt
                    wsum[y0:y0 + th, x0:x0 + tw] += wt
                    done += 1
                    yield Progress(done, total, "tile", {}, time.perf_counter() - clock.start,
                                   clock.eta(done, total))
            translation = acc / wsum
    except Cancelled:
        yield Finished(np.asarray(rgb, np.float32).copy(), True, done, time.perf_counter() - clock.start,
                       extra={"params": params.to_dict(), "device": str(device)})
        return
    assert translation is not None
    result = blend(rgb, translation, params.strength, params.preserve_colors, mask)
    yield Finished(result, False, done, time.perf_counter() - clock.start,
                   extra={"params": params.to_dict(), "device": str(device), "translation": translation,
                          "tiles": total})


def translate(net: ResnetGenerator, rgb: np.ndarray, params: TranslateParams | None = None,
              mask: np.ndarray | None = None) -> np.ndarray:
    """``run_translate`` without the events: the blended result."""
    for ev in run_translate(net, rgb, params, mask=mask):
        if isinstance(ev, Finished):
            return ev.image
    raise AssertionError("run_translate ended without Finished")
