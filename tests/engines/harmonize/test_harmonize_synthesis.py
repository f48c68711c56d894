"""The paper's post-processing: chroma denoising guided by the composite, and patch synthesis."""

from __future__ import annotations

import cv2
import numpy as np
import torch

from studio.engines.harmonize.post import denoise_chroma, guided_filter_color
from studio.engines.harmonize.synthesis import nearest_field, rebuild_from_painting, vote


def _texture(h: int, w: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return cv2.GaussianBlur(rng.random((h, w, 3)).astype(np.float32), (0, 0), 1.2)


def test_patchmatch_finds_where_a_piece_of_the_painting_came_from():
    b = torch.from_numpy(_texture(60, 80).transpose(2, 0, 1).copy())
    a = b[:, 20:44, 30:62].clone()  # a piece of it, at (20, 30)
    fy, fx = nearest_field(a, b, iterations=5, seed=1)
    yy, xx = torch.meshgrid(torch.arange(24), torch.arange(32), indexing="ij")
    found = ((fy == yy + 20) & (fx == xx + 30))[3:-3, 3:-3]  # (a border patch reaches past the piece)
    assert found.float().mean() > 0.98
    # and voting with the field it found gives the piece back
    np.testing.assert_allclose(vote(b, fy, fx).numpy()[:, 6:-6, 6:-6], a.numpy()[:, 6:-6, 6:-6], atol=0.02)


def test_patch_synthesis_keeps_only_the_paintings_colours_and_the_results_detail():
    painting = np.zeros((64, 64, 3), np.float32)
    painting[:, :32] = (0.8, 0.3, 0.2)  # a red half and a blue half, with strokes
    painting[:, 32:] = (0.2, 0.3, 0.8)
    painting += (np.sin(np.arange(64) * 1.3)[:, None, None] * 0.05).astype(np.float32)
    result = np.full((32, 32, 3), (0.75, 0.32, 0.25), np.float32)  # reddish ...
    result[10:20, 10:20] = (0.3, 0.8, 0.3)  # ... with a green blotch the painting has nowhere
    result[:, 26] += 0.3  # and a fine line of its own
    out = rebuild_from_painting(np.clip(result, 0, 1), painting, seed=0)
    assert out.shape == result.shape and out.dtype == np.float32
    green = out[12:18, 12:18]
    assert green[..., 1].mean() < 0.45  # the blotch took the painting's colours
    assert (out[:, 26] - out[:, 22]).mean() > 0.15  # the line is still there


def test_colour_guided_filter_keeps_edges_of_the_guide_and_removes_colour_that_crosses_them():
    guide = np.zeros((40, 40, 3), np.float32)
    guide[:, 20:] = 1.0  # the object's edge
    src = np.where(np.arange(40)[None, :] >= 20, 0.8, 0.2).astype(np.float32) * np.ones((40, 1), np.float32)
    src[5:9, 5:9] += 0.4  # a blotch that no guide edge explains
    out = guided_filter_color(guide, src, 2, 0.01)
    assert abs(out[20, 25] - 0.8) < 0.03 and abs(out[20, 14] - 0.2) < 0.03  # the edge stays
    assert out[6:8, 6:8].mean() - 0.2 < 0.5 * 0.4  # the blotch is at least halved
    # denoise_chroma with the composite as guide changes only the chroma
    rgb = np.clip(np.stack([src, 0.5 * np.ones_like(src), 1 - src], -1), 0, 1)
    den = denoise_chroma(rgb, guide=guide)
    lab0, lab1 = cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB), cv2.cvtColor(den, cv2.COLOR_RGB2LAB)
    assert np.abs(lab1[..., 0] - lab0[..., 0]).mean() < 2.0
