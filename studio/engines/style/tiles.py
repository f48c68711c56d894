"""The feature network evaluated tile by tile, exactly, so a run's memory stops growing with the picture.

Gram matrices are sums over positions, so they add up tile by tile; each tile is cut from the picture with a
margin as wide as the band the network's zero padding spoils at the tile's border (``Geometry``), and aligned
to the network's total stride, so the features of a tile's core are the whole picture's features there, up to
float rounding: no seam can form, and no offsets need to vary between iterations.

One evaluation of a style loss is then two passes (``Objective`` in ``objective.py`` drives them): the first,
without gradients, sums the Gram matrices of every tile; the loss follows from those sums, and so does its
gradient with respect to each Gram; the second pass runs each tile again with gradients and back-propagates
the Gram gradients (and the content term, which is local) through it alone. Memory holds one tile's
activations at a time; time is about one forward pass more per evaluation, plus the margins.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import torch

from studio.engines.features.losses import gram
from studio.engines.features.vgg import FeatureNetwork

#: what one pass of the network (with gradients, through FeaturePass) holds per pixel of its input, measured at
#: 512 and 1024 px to relu5_1 on VGG16 (benchmarks/bench_tiles.py): the saved activations, the running gradient
#: and the convolutions' workspace
PASS_BYTES_PER_PIXEL = 2_600
#: what a pass without gradients (the first pass's Gram sums, the content's features, the paintings' Grams) holds
#: per pixel of its input: measured 830 B at 1024 px to relu5_1 on VGG16 (one layer's activations at a time)
NO_GRAD_BYTES_PER_PIXEL = 900
#: a tile's pass may take this share of the device's memory (free memory on a GPU)
TILE_MEMORY_FRACTION = 0.06
#: a picture whose single pass needs more than this share of the device's memory runs in tiles
ONE_PASS_FRACTION = 0.25
#: tiles never grow past this core side: beyond it a larger tile saves little margin and only costs memory
MAX_CORE_SIDE = 1024
#: the same for the wider tiles of a pass without gradients
MAX_GRAM_CORE_SIDE = 2048
#: nor shrink under it: the margins would cost more than the tile itself
MIN_CORE_SIDE = 128


@dataclass(frozen=True)
class Geometry:
    """How the network's features line up with its input up to its deepest layer: ``stride`` pixels a
    position, and ``margin`` pixels of context a tile needs on each side for exact features at its core."""

    stride: int
    margin: int


def geometry(net: FeatureNetwork, layers: Iterable[str]) -> Geometry:
    """The ``Geometry`` of ``net`` up to the deepest of ``layers``.

    Each 3x3 convolution spoils one more position next to a tile's border (its zero padding stands where the
    picture goes on); a pooling keeps a spoiled position spoiled in any window it touches."""
    stride, band = 1, 0
    for s in net.truncated_specs(layers):
        if s.kind == "conv":
            band += stride
        elif s.kind == "pool":
            stride *= 2
            band = math.ceil(band / stride) * stride
    return Geometry(stride=stride, margin=math.ceil(band / stride) * stride)


@dataclass(frozen=True)
class Tile:
    """One tile: the ``core`` whose features it contributes and the ``crop`` it is computed from, each as
    (top, bottom, left, right) pixel bounds of the picture."""

    core: tuple[int, int, int, int]
    crop: tuple[int, int, int, int]

    def cut(self, t: torch.Tensor) -> torch.Tensor:
        """The crop of a picture (N, C, H, W)."""
        y0, y1, x0, x1 = self.crop
        return t[..., y0:y1, x0:x1]

    def core_of(self, features: torch.Tensor, stride: int, full_hw: tuple[int, int]) -> torch.Tensor:
        """The positions of the core in ``features`` (N, C, h, w) of the crop at a layer of ``stride``."""
        rows, cols = self.core_slice(stride, full_hw, (features.shape[-2], features.shape[-1]), within_crop=True)
        return features[..., rows, cols]

    def core_slice(self, stride: int, full_hw: tuple[int, int], crop_hw: tuple[int, int] | None = None,
                   within_crop: bool = False) -> tuple[slice, slice]:
        """The core's rows and columns at a layer of ``stride``: in the whole picture's feature map, or
        ``within_crop`` in the crop's own (whose size at that layer is ``crop_hw``)."""
        out = []
        for axis, (c0, c1, k0) in enumerate(((self.core[0], self.core[1], self.crop[0]),
                                             (self.core[2], self.core[3], self.crop[2]))):
            full_end = math.ceil(full_hw[axis] / stride)
            start = c0 // stride
            end = full_end if c1 >= full_hw[axis] else c1 // stride
            if within_crop:
                start, end = start - k0 // stride, end - k0 // stride
                assert crop_hw is not None and end <= crop_hw[axis]
            out.append(slice(start, end))
        return out[0], out[1]


def plan(hw: tuple[int, int], core_side: int, geo: Geometry) -> list[Tile]:
    """The tiles of a picture ``hw``: cores of about ``core_side`` (a multiple of the stride) covering it, each
    with its crop (the core widened by the margin, within the picture)."""
    h, w = hw
    side = max(geo.stride, core_side // geo.stride * geo.stride)

    def spans(n: int) -> list[tuple[int, int]]:
        count = max(1, math.ceil(n / side))
        # equal cores (each a multiple of the stride); the last one takes what is left
        step = max(geo.stride, math.ceil(n / count / geo.stride) * geo.stride)
        edges = [min(n, i * step) for i in range(count)] + [n]
        return [(a, b) for a, b in zip(edges, edges[1:], strict=False) if b > a]

    tiles = []
    for y0, y1 in spans(h):
        for x0, x1 in spans(w):
            crop = (max(0, y0 - geo.margin), min(h, y1 + geo.margin), max(0, x0 - geo.margin), min(w, x1 + geo.margin))
            tiles.append(Tile(core=(y0, y1, x0, x1), crop=crop))
    return tiles


def core_side_for(memory: int, geo: Geometry) -> int:
    """The core side of tiles whose pass fits ``TILE_MEMORY_FRACTION`` of ``memory`` bytes."""
    crop = math.sqrt(TILE_MEMORY_FRACTION * memory / PASS_BYTES_PER_PIXEL)
    side = int(crop) - 2 * geo.margin
    return max(MIN_CORE_SIDE, min(MAX_CORE_SIDE, side // geo.stride * geo.stride))


def gram_core_side(core_side: int, geo: Geometry) -> int:
    """The core side of the tiles a pass without gradients runs in beside tiles of ``core_side`` with them: as
    much memory a tile (``NO_GRAD_BYTES_PER_PIXEL`` against ``PASS_BYTES_PER_PIXEL``), so about 1.7 times as
    wide: fewer tiles and less of their time in margins (a 1024x768 picture's first pass is one tile)."""
    crop = (core_side + 2 * geo.margin) * math.sqrt(PASS_BYTES_PER_PIXEL / NO_GRAD_BYTES_PER_PIXEL)
    side = int(crop) - 2 * geo.margin
    return max(core_side, min(MAX_GRAM_CORE_SIDE, side // geo.stride * geo.stride))


def tiles_for(hw: tuple[int, int], core_side: int, geo: Geometry) -> list[Tile]:
    """The tiles of a picture ``hw`` for cores of ``core_side``: one tile, the whole picture, when it fits one."""
    if needs_tiles(hw, core_side, geo):
        return plan(hw, core_side, geo)
    return [Tile(core=(0, hw[0], 0, hw[1]), crop=(0, hw[0], 0, hw[1]))]


def free_memory(device: torch.device) -> int:
    """Bytes a tile may count on: the free memory of a GPU, the machine's memory for the CPU (whose free
    memory the allocator's caches make meaningless)."""
    if device.type == "cuda":
        # what torch's caching allocator keeps from earlier work is free to this run: hand it back first, or
        # mem_get_info counts it as used and the same picture would run in tiles after one job and not before
        torch.cuda.empty_cache()
        return int(torch.cuda.mem_get_info(device)[0])
    from studio.engines.limits import machine_memory

    return machine_memory()


def tile_side(hw: tuple[int, int], chosen: int, device: torch.device, geo: Geometry) -> int | None:
    """The core side of the tiles a picture ``hw`` runs in on ``device`` (``chosen``, the user's, unless 0), or
    None for one pass over the whole picture."""
    if chosen:
        return chosen
    memory = free_memory(device)
    if hw[0] * hw[1] * PASS_BYTES_PER_PIXEL <= ONE_PASS_FRACTION * memory:
        return None
    return core_side_for(memory, geo)


def needs_tiles(hw: tuple[int, int], core_side: int, geo: Geometry) -> bool:
    """Whether a picture ``hw`` is larger than one tile's crop (and so is evaluated in tiles)."""
    return max(hw) > core_side + 2 * geo.margin or hw[0] * hw[1] > (core_side + 2 * geo.margin) ** 2


@dataclass(frozen=True)
class Part:
    """One Gram matrix summed over the picture: over all its positions (``weights`` None), or weighted by a
    share of each position (``weights`` (h, w) at the layer, the whole picture's; ``total`` is their sum)."""

    weights: torch.Tensor | None
    total: float


def partial_gram(core: torch.Tensor, part: Part, core_weights: torch.Tensor | None, positions: int) -> torch.Tensor:
    """A tile core's share of a ``Part``'s Gram: its features (1, C, h, w) summed as the whole picture's Gram
    (of ``positions`` positions) sums them, so the tiles' shares add up to the Gram."""
    n = core.shape[-2] * core.shape[-1]
    if part.weights is None:
        return gram(core) * (n / positions)
    assert core_weights is not None
    w = core_weights.to(core.dtype).clamp_min(0)
    return gram(core * w.sqrt()[None, None]) * (n / max(part.total, 1e-8))


def layer_strides(net: FeatureNetwork, layers: Iterable[str]) -> dict[str, int]:
    """The stride (pixels a position) of each of ``layers``."""
    wanted, out, stride = set(layers), {}, 1
    for s in net.truncated_specs(wanted) if wanted else ():
        if s.kind == "pool":
            stride *= 2
        if s.name in wanted:
            out[s.name] = stride
    return out


def tile_features(net: FeatureNetwork, image: torch.Tensor, tiles: list[Tile], layers: list[str], pooling: str,
                  check: Callable[[], None] | None = None, grad: bool = False) \
        -> Iterator[tuple[Tile, torch.Tensor, dict[str, torch.Tensor]]]:
    """For each tile: the tile, its crop (a leaf that requires grad when ``grad``) and the features of its core."""
    full_hw = (image.shape[-2], image.shape[-1])
    strides = layer_strides(net, layers)
    for tile in tiles:
        crop = tile.cut(image).detach()
        if grad:
            crop = crop.clone().requires_grad_(True)
        with torch.set_grad_enabled(grad):
            feats = net(crop, layers, check=check, pooling=pooling)  # type: ignore[arg-type]
            cores = {n: tile.core_of(f, strides[n], full_hw) for n, f in feats.items()}
        yield tile, crop, cores


def summed_grams(net: FeatureNetwork, image: torch.Tensor, tiles: list[Tile], parts: dict[str, list[Part]],
                 pooling: str, check: Callable[[], None] | None = None) -> dict[str, list[torch.Tensor]]:
    """Each layer's ``parts`` Gram matrices of ``image`` (1, 3, H, W), summed tile by tile without gradients."""
    layers = [n for n, ps in parts.items() if ps]
    strides = layer_strides(net, layers)
    full_hw = (image.shape[-2], image.shape[-1])
    sums: dict[str, list[torch.Tensor]] = {n: [] for n in parts}
    if not layers:
        return sums
    with torch.no_grad():
        for tile, _, cores in tile_features(net, image, tiles, layers, pooling, check):
            for n in layers:
                rows, cols = tile.core_slice(strides[n], full_hw)
                positions = math.ceil(full_hw[0] / strides[n]) * math.ceil(full_hw[1] / strides[n])
                for k, part in enumerate(parts[n]):
                    w = None if part.weights is None else part.weights[rows, cols]
                    g = partial_gram(cores[n], part, w, positions)
                    if len(sums[n]) <= k:
                        sums[n].append(g)
                    else:
                        sums[n][k] += g
    return sums


def features_at(net: FeatureNetwork, image: torch.Tensor, tiles: list[Tile], layers: list[str], pooling: str) \
        -> dict[str, torch.Tensor]:
    """The whole picture's features at ``layers``, put together from the tiles' cores (no gradients)."""
    strides = layer_strides(net, layers)
    full_hw = (image.shape[-2], image.shape[-1])
    out: dict[str, torch.Tensor] = {}
    with torch.no_grad():
        for tile, _, cores in tile_features(net, image, tiles, layers, pooling):
            for n in layers:
                f = cores[n]
                if n not in out:
                    out[n] = f.new_empty((1, f.shape[1], math.ceil(full_hw[0] / strides[n]),
                                          math.ceil(full_hw[1] / strides[n])))
                rows, cols = tile.core_slice(strides[n], full_hw)
                out[n][..., rows, cols] = f
    return out


def grams_of(net: FeatureNetwork, image: torch.Tensor, layers: list[str], pooling: str,
             masks: dict[str, torch.Tensor] | None = None, core_side: int | None = None,
             check: Callable[[], None] | None = None) -> dict[str, torch.Tensor]:
    """The Gram matrix of ``image`` (1, 3, H, W) at each of ``layers``, over ``masks`` (each layer's (h, w)
    weights) when given: in tiles of ``core_side`` (a pass without gradients: ``gram_core_side``) when the image
    is larger than one, else in one pass."""
    h, w = image.shape[-2], image.shape[-1]
    geo = geometry(net, layers)
    tiles = (tiles_for((h, w), core_side, geo) if core_side is not None
             else [Tile(core=(0, h, 0, w), crop=(0, h, 0, w))])
    parts = {n: [Part(None, 1.0) if masks is None else Part(masks[n], float(masks[n].clamp_min(0).sum()))]
             for n in layers}
    return {n: g[0] for n, g in summed_grams(net, image, tiles, parts, pooling, check).items()}
