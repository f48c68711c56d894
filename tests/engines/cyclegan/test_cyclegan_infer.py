"""Applying a generator: any size, tiles that agree with the whole image, strength / colours / mask blending,
events and cancel."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from studio.engines.color import rgb_to_yiq
from studio.engines.cyclegan.infer import (
    blend,
    feather_weights,
    forward_any_size,
    record_statistics,
    run_translate,
    tile_starts,
    to_tensor,
    translate,
)
from studio.engines.cyclegan.models import ResnetGenerator
from studio.engines.cyclegan.params import TranslateParams
from studio.engines.errors import StudioInputError
from studio.engines.events import Finished, JobControl, Progress


@pytest.fixture(scope="module")
def net() -> ResnetGenerator:
    torch.manual_seed(0)
    return ResnetGenerator(ngf=8, n_blocks=3).eval()


def smooth_image(h: int, w: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    img = cv2.GaussianBlur(rng.random((h, w, 3)).astype(np.float32), (0, 0), 4)
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    img[..., 0] += 0.5 * yy
    img[..., 2] += 0.5 * xx
    return np.clip((img - img.min()) / (img.max() - img.min()), 0, 1).astype(np.float32)


@pytest.mark.parametrize("hw", [(1, 1), (5, 3), (7, 13), (33, 17), (61, 90)])
def test_odd_sizes_come_back_at_their_own_size(net, hw):
    img = smooth_image(*hw) if min(hw) > 1 else np.full((*hw, 3), 0.3, np.float32)
    out = translate(net, img, TranslateParams(tile=0))
    assert out.shape == img.shape and out.dtype == np.float32
    assert np.isfinite(out).all() and out.min() >= 0 and out.max() <= 1


def test_padding_keeps_the_pixel_grid(net):
    """A 61x90 image padded to 64x92 gives the same pixels as the crop of the padded result: only
    bottom/right padding, so the stride-2 sampling grid is not shifted."""
    img = smooth_image(64, 92)
    record_statistics(net, img, 1024, torch.device("cpu"))
    with net.norm_mode("fixed"):  # the same normalisation for both, so only the padding differs
        full = forward_any_size(net, to_tensor(img))
        cropped = forward_any_size(net, to_tensor(img[:61, :90]))
    inner = (full[..., :20, :48] - cropped[..., :20, :48]).abs().max().item()  # beyond the receptive field
    assert inner < 1e-4


def test_tiles_cover_the_image_with_overlap():
    for size, tile, ov in [(1000, 256, 64), (513, 512, 64), (300, 128, 32)]:
        s = tile_starts(size, tile, ov)
        assert s[0] == 0 and all(x % 4 == 0 for x in s)
        ends = [x + tile for x in s[:-1]] + [size]
        assert all(b < a_end - ov + 1 for a_end, b in zip(ends, s[1:], strict=False))  # overlap >= ov
        assert ends[-1] == size
    w = feather_weights(64, 64, 0, 32, 200, 200, 16)
    assert w[0, -1] < 0.1 and w[32, 32] == 1.0 and w[32, 0] < 0.1 and w.min() > 0


def test_tiled_output_agrees_with_the_whole_image(net):
    img = smooth_image(200, 300)
    whole = translate(net, img, TranslateParams(tile=0))
    glob = translate(net, img, TranslateParams(tile=128, overlap=32, norm_stats="global"))
    own = translate(net, img, TranslateParams(tile=128, overlap=32, norm_stats="tile"))
    d_glob, d_own = np.abs(glob - whole), np.abs(own - whole)
    assert d_glob.mean() < 0.01
    assert d_glob.mean() < 0.5 * d_own.mean()  # whole-image statistics remove most of the tile effect
    # stats measured on a half-size copy are still close
    small = translate(net, img, TranslateParams(tile=128, overlap=32, stats_side=150))
    assert np.abs(small - whole).mean() < 0.05


def test_progress_per_tile_and_raw_translation(net):
    img = smooth_image(150, 200)
    events = list(run_translate(net, img, TranslateParams(tile=96, overlap=16, strength=0.5)))
    prog = [e for e in events if isinstance(e, Progress)]
    fin = events[-1]
    assert isinstance(fin, Finished) and not fin.cancelled
    assert [p.iteration for p in prog] == list(range(1, fin.extra["tiles"] + 1)) and fin.extra["tiles"] == 6
    raw = fin.extra["translation"]
    assert np.allclose(fin.image, blend(img, raw, 0.5), atol=1e-6)


def test_cancel_returns_the_original(net):
    img = smooth_image(150, 200)
    control = JobControl()
    control.cancel()
    fin = list(run_translate(net, img, TranslateParams(tile=96, overlap=16), control))[-1]
    assert isinstance(fin, Finished) and fin.cancelled and np.array_equal(fin.image, img)


def test_blend_strength_colours_and_mask():
    rng = np.random.default_rng(1)
    orig = rng.random((20, 30, 3)).astype(np.float32)
    trans = rng.random((20, 30, 3)).astype(np.float32)
    assert np.allclose(blend(orig, trans, 0.0), orig, atol=1e-6)
    assert np.allclose(blend(orig, trans, 1.0), trans, atol=1e-6)
    assert np.allclose(blend(orig, trans, 0.25), 0.75 * orig + 0.25 * trans, atol=1e-6)
    kept = blend(orig, trans, 1.0, preserve_colors=True)
    # chroma (I, Q) of the original, luminance of the translation (where nothing clips)
    yk, yo, yt = rgb_to_yiq(kept), rgb_to_yiq(orig), rgb_to_yiq(trans)
    ok = (kept > 0.01).all(-1) & (kept < 0.99).all(-1)
    assert np.allclose(yk[ok][:, 0], yt[ok][:, 0], atol=1e-4) and np.allclose(yk[ok][:, 1:], yo[ok][:, 1:], atol=1e-4)
    mask = np.zeros((20, 30), np.float32)
    mask[5:10, 5:15] = 1.0
    m = blend(orig, trans, 1.0, mask=mask)
    assert np.allclose(m[mask == 0], orig[mask == 0], atol=1e-6)
    assert np.allclose(m[mask == 1], trans[mask == 1], atol=1e-6)
    with pytest.raises(StudioInputError, match="mask"):
        blend(orig, trans, 1.0, mask=np.ones((5, 5), np.float32))


@pytest.mark.parametrize("bad", [dict(strength=1.5), dict(tile=10), dict(tile=128, overlap=64),
                                 dict(norm_stats="x"), dict(stats_side=2)])
def test_bad_parameters(net, bad):
    with pytest.raises(StudioInputError):
        translate(net, smooth_image(16, 16), TranslateParams(**bad))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU on this machine")
def test_gpu_matches_cpu(net):
    img = smooth_image(150, 200)
    cpu = translate(net, img, TranslateParams(tile=96, overlap=16, device="cpu"))
    gpu = translate(net, img, TranslateParams(tile=96, overlap=16, device="cuda"))
    assert np.abs(cpu - gpu).max() < 1e-3
