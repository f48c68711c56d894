"""Tiled evaluation: the same loss and gradient as one pass, in bounded memory, with no seam."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from studio.engines.events import Finished, Progress
from studio.engines.style import tiles
from studio.engines.style.objective import Objective
from studio.engines.style.params import StyleParams
from studio.engines.style.regions import Region, at_scale
from studio.engines.style.run import run_style
from studio.engines.style.tiles import (
    Geometry,
    core_side_for,
    geometry,
    gram_core_side,
    grams_of,
    needs_tiles,
    plan,
)


def _picture(h: int, w: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    base = torch.rand(1, 3, h // 8 + 1, w // 8 + 1, generator=g)
    smooth = torch.nn.functional.interpolate(base, size=(h, w), mode="bilinear", align_corners=False)
    return (0.7 * smooth + 0.3 * torch.rand(1, 3, h, w, generator=g)).clamp(0, 1)


def _relative_l1(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().sum() / b.abs().sum())


def test_geometry_of_vgg16_to_relu5_1(random_net):
    geo = geometry(random_net, ["relu1_1", "relu5_1"])
    assert geo == Geometry(stride=16, margin=64)
    assert geometry(random_net, ["relu3_1"]).stride == 4


def test_tiles_cover_the_picture_once_with_aligned_crops(random_net):
    geo = geometry(random_net, ["relu5_1"])
    hw = (300, 437)
    tiles = plan(hw, 96, geo)
    cover = np.zeros(hw, int)
    for t in tiles:
        y0, y1, x0, x1 = t.core
        cover[y0:y1, x0:x1] += 1
        cy0, cy1, cx0, cx1 = t.crop
        assert cy0 % 16 == 0 and cx0 % 16 == 0  # the pooling windows line up with the whole picture's
        assert (cy1 % 16 == 0 or cy1 == hw[0]) and (cx1 % 16 == 0 or cx1 == hw[1])
        assert cy0 <= max(0, y0 - 64) and cx0 <= max(0, x0 - 64)
        assert cy1 >= min(hw[0], y1 + 64) and cx1 >= min(hw[1], x1 + 64)
    assert (cover == 1).all() and len(tiles) > 4


def test_tiled_grams_equal_the_whole_pictures(random_net):
    x = _picture(200, 280, 1)
    layers = ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"]
    whole = grams_of(random_net, x, layers, "max")
    tiled = grams_of(random_net, x, layers, "max", core_side=64)
    assert needs_tiles((200, 280), 64, geometry(random_net, layers))
    for n in layers:
        assert torch.allclose(tiled[n], whole[n], rtol=1e-4, atol=1e-6 * float(whole[n].abs().max())), n


@pytest.mark.parametrize("pooling", ["max", "avg"])
@pytest.mark.parametrize("first_pass", ["wider", "same"])
def test_tiled_loss_and_gradient_equal_one_pass(random_net, pooling, first_pass, monkeypatch):
    if first_pass == "same":  # the first pass (no gradients) in the second's tiles: its Gram sums over many tiles
        monkeypatch.setattr(tiles, "NO_GRAD_BYTES_PER_PIXEL", tiles.PASS_BYTES_PER_PIXEL)
    content, style, x = _picture(176, 248, 2), _picture(120, 160, 3), _picture(176, 248, 4)
    params = StyleParams(pooling=pooling, content_layers=("relu2_2", "relu4_2"))
    one = Objective(random_net, content, [style], params)
    tiled = Objective(random_net, content, [style], params, core_side=48)
    assert one.tiles is None and tiled.tiles is not None and len(tiled.tiles) >= 12
    assert tiled.gram_tiles is not None
    if first_pass == "same":
        assert tiled.gram_tiles == tiled.tiles
    else:  # wider tiles without gradients: here the whole picture is one
        assert len(tiled.gram_tiles) == 1 and tiled.gram_side is not None and tiled.gram_side > 48
    loss1, grad1, terms1 = one.evaluate(x)
    loss2, grad2, terms2 = tiled.evaluate(x)
    assert float(loss2) == pytest.approx(float(loss1), rel=1e-4)
    for k in terms1:
        assert terms2[k] == pytest.approx(terms1[k], rel=1e-4, abs=1e-9), k
    # the gradient, pixel for pixel: an error at a tile border would be a seam in the picture (features cut
    # without their margin are wrong by their own size there). What is left is float rounding, and where it
    # flips a relu or a max-pool's choice near a tie, a local difference both passes are equally right about.
    assert _relative_l1(grad2, grad1) < 3e-4


def test_tiled_regions_equal_one_pass(random_net):
    h, w = 160, 224
    content, x = _picture(h, w, 5), _picture(h, w, 6)
    painting = _picture(96, 128, 7)[0].permute(1, 2, 0).numpy()
    mask = np.zeros((h, w), np.float32)
    mask[:, : w // 2] = 1.0
    keep = np.zeros((h, w), np.float32)
    keep[h // 2:, w // 2:] = 1.0
    regions = [Region(mask=mask, style=painting), Region(mask=keep, style=None)]
    scaled = at_scale(regions, (h, w), 1.0, torch.device("cpu"))
    # equal layer weights, as this test was written with: with relu2_1 at half (the default since issue 20) the
    # rounding difference came to 3.09e-4 after the other style tests (under it alone), at the bound's edge
    params = StyleParams(region_weights=(2.0, 1.0), style_layer_weights=(1.0,) * 5)
    style = _picture(100, 140, 8)
    one = Objective(random_net, content, [style], params, regions=scaled)
    tiled = Objective(random_net, content, [style], params, regions=scaled, core_side=48)
    loss1, grad1, terms1 = one.evaluate(x)
    loss2, grad2, terms2 = tiled.evaluate(x)
    assert float(loss2) == pytest.approx(float(loss1), rel=1e-4)
    assert terms2["keep"] == pytest.approx(terms1["keep"], rel=1e-5)
    assert _relative_l1(grad2, grad1) < 3e-4


def test_a_tiled_run_paints_the_same_picture(random_net):
    """Through ``run_style`` (tiles chosen from ``tile``), with Adam's fixed steps: L-BFGS's line search turns
    float-rounding differences into other trajectories (its final loss 15 % apart, tiled or not, on the CI
    machine), which says nothing about the tiles."""
    rng = np.random.default_rng(0)
    c = _picture(168, 224, 9)[0].permute(1, 2, 0).numpy()
    s = rng.random((64, 64, 3)).astype(np.float32)
    p = StyleParams(size=224, scales=1, iterations=5, style_weight=10.0, preview_every=100, optimizer="adam")

    def finished(params):
        events = list(run_style(c, [s], params, network=random_net))
        losses = [e.losses["total"] for e in events if isinstance(e, Progress)]
        return [e for e in events if isinstance(e, Finished)][0], losses

    one, one_adam = finished(p)
    tiled, tiled_adam = finished(p.with_changes(tile=48))
    assert tiled.extra["tiles"] > 1 and one.extra["tiles"] == 1
    # the same losses at every step; pixel for pixel the runs are not compared: Adam's first step moves every pixel
    # by its learning rate whatever the gradient's size, so a pixel whose gradient is a rounding error from zero
    # may step either way (the mean difference was 6e-4 on one machine, 1.1e-3 on another)
    assert tiled_adam == pytest.approx(one_adam, rel=2e-3)


def test_a_pass_without_gradients_runs_in_wider_tiles_of_the_same_memory():
    """The first pass of a tiled evaluation (the Gram sums) holds a third of the memory a pixel that the second
    holds, so its tiles are wider: at the tile the engine takes on a 24 GB machine (core 640 px), a
    1024x768 picture's first pass is one tile instead of four, and a 4000x3000 one 12 instead of 35."""
    geo = Geometry(stride=16, margin=64)
    core = core_side_for(24 * 1024**3, geo)
    wide = gram_core_side(core, geo)
    assert wide % 16 == 0 and wide > 1.5 * core
    crop, wide_crop = core + 2 * geo.margin, wide + 2 * geo.margin
    memory = crop**2 * tiles.PASS_BYTES_PER_PIXEL
    assert wide_crop**2 * tiles.NO_GRAD_BYTES_PER_PIXEL <= memory
    assert len(plan((768, 1024), core, geo)) == 4 and not needs_tiles((768, 1024), wide, geo)
    assert len(plan((3000, 4000), wide, geo)) < len(plan((3000, 4000), core, geo)) / 2
    assert gram_core_side(8192, geo) == 8192  # never narrower than the tiles with gradients


def test_tile_side_follows_the_memory():
    geo = Geometry(stride=16, margin=64)
    small, large = core_side_for(2 * 1024**3, geo), core_side_for(24 * 1024**3, geo)
    assert small % 16 == 0 and large % 16 == 0
    assert 128 <= small < large <= 1024
