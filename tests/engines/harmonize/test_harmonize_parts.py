"""Building blocks of painterly harmonization: per-layer masks, chunked patch matching, the
histogram loss, the consistent mapping, post-processing."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from studio.engines.harmonize.histogram import histogram_loss, histogram_remap, histogram_target
from studio.engines.harmonize.losses import noise_level, pass2_weights
from studio.engines.harmonize.patch_match import (
    gather_positions,
    mapped_region,
    nearest_patches,
    patches,
    refine_mapping,
    to_coords,
    upsample_coords,
    upsample_region,
)
from studio.engines.harmonize.post import blend, denoise_chroma, guided_filter
from studio.engines.masks import bounding_box, dilate, feather, layer_masks

# ------------------------------------------------------------------------------------ masks


def test_layer_masks_halve_at_each_pooling_and_blur_at_each_conv(random_net):
    m = torch.zeros(40, 50)
    m[10:30, 10:30] = 1.0
    out = layer_masks(m, random_net, ["relu1_1", "relu1_2", "relu2_1", "relu3_1", "relu4_1", "relu5_1"])
    assert out["relu1_1"].shape == (40, 50)
    assert out["relu2_1"].shape == (20, 25)
    assert out["relu3_1"].shape == (10, 13)  # rounded up, as the network's ceil-mode pooling
    assert out["relu4_1"].shape == (5, 7)
    assert out["relu5_1"].shape == (3, 4)
    # the sizes are those of the network's features
    with torch.no_grad():
        feats = random_net(torch.rand(1, 3, 40, 50), ["relu3_1", "relu5_1"])
    assert feats["relu3_1"].shape[-2:] == out["relu3_1"].shape
    assert feats["relu5_1"].shape[-2:] == out["relu5_1"].shape
    # conv1_1: a 3x3 average: the inside stays 1, the edge becomes soft, far outside stays 0
    r11 = out["relu1_1"]
    assert r11[20, 20] == pytest.approx(1.0)
    assert r11[10, 20] == pytest.approx(2 / 3, abs=1e-5)
    assert r11[0, 0] == 0.0
    # relu1_2 got a second 3x3 average: softer still at the edge
    assert r11[8, 20] == 0 and out["relu1_2"][8, 20] == pytest.approx(1 / 9, abs=1e-5)


def test_dilate_feather_bbox():
    m = np.zeros((30, 30), np.float32)
    m[10:20, 10:20] = 1
    d = dilate(m, 3)
    assert d[10:20, 10:20].min() == 1 and d[7, 15] == 1 and d[5, 15] == 0
    f = feather(m, 2.0)
    assert 0 < f[10, 15] < 1 and f[15, 15] > 0.95 and f[0, 0] < 1e-3
    assert bounding_box(m, 2) == (8, 22, 8, 22)
    assert bounding_box(m, 50) == (0, 30, 0, 30)


# ------------------------------------------------------------------------------ patch match


def _brute_force(query: torch.Tensor, key: torch.Tensor) -> torch.Tensor:
    q = patches(query)
    k = patches(key)
    q = q / q.norm(dim=1, keepdim=True).clamp_min(1e-8)
    k = k / k.norm(dim=1, keepdim=True).clamp_min(1e-8)
    return (q @ k.t()).argmax(dim=1)


def test_patches_are_3x3_neighbourhoods():
    f = torch.arange(2 * 4 * 5, dtype=torch.float32).reshape(2, 4, 5)
    p = patches(f)
    assert p.shape == (20, 18)
    centre = p[1 * 5 + 2].reshape(2, 3, 3)
    assert torch.equal(centre, f[:, 0:3, 1:4])


@pytest.mark.parametrize("chunk_bytes", [64, 4096, 1 << 30])
def test_chunked_matching_equals_brute_force(chunk_bytes):
    g = torch.Generator().manual_seed(1)
    query = torch.randn(8, 9, 11, generator=g)
    key = torch.randn(8, 12, 10, generator=g)
    expected = _brute_force(query, key)
    got = nearest_patches(query, key, chunk_bytes=chunk_bytes)
    assert torch.equal(got, expected)


def test_matching_finds_copied_patches_and_respects_the_mask():
    g = torch.Generator().manual_seed(2)
    key = torch.rand(4, 12, 12, generator=g)
    query = key[:, 3:9, 2:10].clone()  # an exact copy of part of the key
    mask = torch.zeros(6, 8)
    mask[1:5, 1:7] = 1
    idx = nearest_patches(query, key, query_mask=mask, chunk_bytes=256)
    coords = to_coords(idx.clamp_min(0), 6, 8, 12)
    for y in range(1, 5):
        for x in range(1, 7):
            assert tuple(coords[y, x].tolist()) == (y + 3, x + 2)
    assert (idx.reshape(6, 8)[mask == 0] == -1).all()
    match = gather_positions(key, idx, (6, 8))
    assert torch.equal(match[:, 2, 3], key[:, 5, 5])
    assert (match[:, 0, 0] == 0).all()


def test_colour_decides_between_patches_of_like_structure():
    """The feature network may not see colour (studio's edge-tuned VGG16): two painting places of the same
    texture, one blue and one orange; a dark-blue object must match the blue one."""
    g = torch.Generator().manual_seed(4)
    texture = torch.rand(8, 6, 6, generator=g)
    key = torch.cat([texture, texture + 0.01 * torch.rand(8, 6, 6, generator=g)], dim=2)  # (8, 6, 12)
    query = texture[:, 1:5, 1:5].clone()  # the structure of both halves; best by features: the left half
    kc = torch.zeros(3, 6, 12)
    kc[:, :, :6] = torch.tensor([0.5, 0.3, 0.4])[:, None, None]  # orange (CIELAB / 100)
    kc[:, :, 6:] = torch.tensor([0.2, -0.05, -0.3])[:, None, None]  # dark blue
    qc = torch.tensor([0.15, 0.0, -0.25])[:, None, None].expand(3, 4, 4)
    plain = to_coords(nearest_patches(query, key), 4, 4, 12)
    assert (plain[1:3, 1:3, 1] < 6).all()  # structure alone: the orange half
    coloured = to_coords(nearest_patches(query, key, colours=(qc, kc), colour_weight=2.0), 4, 4, 12)
    assert (coloured[1:3, 1:3, 1] >= 6).all()  # with colour: the blue half, the same texture
    np.testing.assert_array_equal(coloured[1:3, 1:3, 1] - 6, plain[1:3, 1:3, 1])


def test_lab_colours_are_the_patch_colours_at_the_feature_maps_size():
    from studio.engines.harmonize.dph import lab_colours

    img = torch.zeros(1, 3, 32, 32)
    img[:, 2, :, 16:] = 1.0  # blue right half
    c = lab_colours(img, (4, 4))
    assert c.shape == (3, 4, 4)
    assert c[2, 0, 0] == pytest.approx(0.0, abs=1e-3) and c[2, 0, 3] < -0.9  # b* of blue, / 100


def test_refine_mapping_replaces_an_outlier_by_its_neighbours_agreement():
    h = w = 9
    ys, xs = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    coords = torch.stack((ys + 5, xs + 6), dim=-1)  # a consistent shift into a 20x20 painting
    coords[4, 4] = torch.tensor([15, 2])  # one position jumps elsewhere
    guide = torch.rand(3, 20, 20, generator=torch.Generator().manual_seed(3))
    mask = torch.zeros(h, w)
    mask[2:7, 2:7] = 1
    refined = refine_mapping(coords, guide, mask, radius=2)
    assert tuple(refined[4, 4].tolist()) == (9, 10)  # back on the shift its neighbours agree on
    # consistent positions keep their match; unmasked positions are untouched
    assert tuple(refined[3, 3].tolist()) == (8, 9)
    assert tuple(refined[0, 0].tolist()) == (5, 6)


def test_mapped_region_counts_each_used_painting_position_once_with_a_ring():
    coords = torch.zeros(4, 4, 2, dtype=torch.long)
    coords[..., 0] = 5
    coords[..., 1] = 5  # all map to (5, 5)
    mask = torch.ones(4, 4)
    region = mapped_region(coords, mask, (10, 10), ring=1)
    assert region.sum() == 9 and region[4:7, 4:7].min() == 1
    up = upsample_region(region, (20, 20))
    assert up.sum() == 36 and up[8:14, 8:14].min() == 1
    fine = upsample_coords(coords, (8, 8), (20, 20))
    assert tuple(fine[0, 0].tolist()) == (10, 10) and tuple(fine[1, 1].tolist()) == (11, 11)


# ------------------------------------------------------------------------------- histogram


def test_histogram_remap_matches_the_target_distribution():
    g = torch.Generator().manual_seed(4)
    target_feats = torch.stack([torch.rand(20, 20, generator=g) * 4 + 10, torch.randn(20, 20, generator=g)])
    t = histogram_target(target_feats, torch.ones(20, 20), nbins=64)
    src = torch.randn(2, 16, 16, generator=g) * 0.1
    mask = torch.zeros(16, 16)
    mask[:, :8] = 1
    r = histogram_remap(src, mask, t)
    inside = r[:, mask > 0.5]
    # channel 0 now spans the target's uniform range 10..14, channel 1 is standard normal-ish
    assert inside[0].min() >= 10 - 1e-4 and inside[0].max() <= 14 + 1e-4
    assert abs(float(inside[0].mean()) - 12) < 0.3
    assert abs(float(inside[1].std()) - float(target_feats[1].std())) < 0.25
    # order is kept: the remap is monotonic per channel
    s_in = src[:, mask > 0.5]
    order = s_in[0].argsort()
    assert (inside[0][order].diff() >= -1e-5).all()
    # outside the mask nothing changes
    assert torch.equal(r[:, mask < 0.5], src[:, mask < 0.5])


def test_histogram_loss_is_zero_on_the_target_and_its_gradient_pulls_towards_it():
    g = torch.Generator().manual_seed(5)
    feats = torch.rand(3, 10, 10, generator=g)
    ones = torch.ones(10, 10)
    t = histogram_target(feats, ones, nbins=256)
    assert float(histogram_loss(feats, ones, t)) < 1e-4
    x = (feats * 0.2 + 3).requires_grad_(True)
    loss = histogram_loss(x, ones, t)
    loss.backward()
    assert float(loss.detach()) > 1
    stepped = x.detach() - 0.5 * x.grad * x.numel()
    assert float(histogram_loss(stepped, ones, t)) < 0.05 * float(loss.detach())


# ----------------------------------------------------------------------------- weights, post


def test_pass2_weights_follow_the_painting_noise():
    smooth = pass2_weights(5.0, 1e-4)
    noisy = pass2_weights(5.0, 1e-2)
    assert smooth.tv == pytest.approx(50, rel=1e-3) and smooth.histogram == pytest.approx(0, abs=1e-3)
    assert noisy.tv == pytest.approx(0, abs=1e-3) and noisy.histogram == pytest.approx(50, rel=1e-3)
    assert smooth.style == noisy.style == 5.0 and smooth.content == 1.0
    scaled = pass2_weights(5.0, 1e-4, tv_factor=0.1)
    assert scaled.tv == pytest.approx(5.0, rel=1e-3) and scaled.histogram == smooth.histogram
    flat = np.full((20, 20, 3), 0.5, np.float32)
    assert noise_level(flat) == 0.0
    rough = np.random.default_rng(0).random((20, 20, 3)).astype(np.float32)
    assert noise_level(rough) > 0.05


def test_denoise_chroma_removes_colour_speckles_but_keeps_lightness_edges():
    import cv2

    rng = np.random.default_rng(1)
    img = np.zeros((40, 40, 3), np.float32)
    img[:, :20] = (0.2, 0.3, 0.6)
    img[:, 20:] = (0.8, 0.6, 0.3)
    noisy = np.clip(img + rng.normal(0, 0.05, img.shape).astype(np.float32), 0, 1)
    out = denoise_chroma(noisy)
    lab_in, lab_out = cv2.cvtColor(noisy, cv2.COLOR_RGB2LAB), cv2.cvtColor(out, cv2.COLOR_RGB2LAB)
    flat = (slice(None), slice(3, 17))
    assert lab_out[flat][..., 1:].std(axis=(0, 1)).max() < 0.5 * lab_in[flat][..., 1:].std(axis=(0, 1)).min()
    assert np.abs(lab_out[..., 0] - lab_in[..., 0]).mean() < 1.0  # lightness is kept
    assert out[:, :17].mean(axis=(0, 1))[2] > out[:, 23:].mean(axis=(0, 1))[2] + 0.2  # the edge stays
    mask = np.zeros((40, 40), np.float32)
    assert np.array_equal(denoise_chroma(noisy, mask=mask), noisy)
    gf = guided_filter(np.ones((10, 10), np.float32), np.full((10, 10), 0.3, np.float32), 2, 0.01)
    assert np.allclose(gf, 0.3, atol=1e-5)


def test_blend_uses_the_feathered_tight_mask():
    p = np.zeros((20, 20, 3), np.float32)
    r = np.ones((20, 20, 3), np.float32)
    m = np.zeros((20, 20), np.float32)
    m[5:15, 5:15] = 1
    out = blend(p, r, m, 0.0)
    assert out[10, 10, 0] == 1 and out[0, 0, 0] == 0
    soft = blend(p, r, m, 2.0)
    assert 0 < soft[5, 10, 0] < 1


def test_layer_mask_interpolation_matches_torch_semantics():
    # the pooling step resizes exactly as F.interpolate(bilinear) to the ceil'd half size
    m = torch.rand(7, 9)
    half = F.interpolate(m[None, None], size=(4, 5), mode="bilinear", align_corners=False)[0, 0]
    assert half.shape == (4, 5)
