"""Regions: each part of the photo takes its own painting (guided Gram matrices), or keeps the photo."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from studio.engines.errors import StudioInputError
from studio.engines.events import Finished, JobControl, Progress
from studio.engines.style.params import StyleParams
from studio.engines.style.regions import Region, guided_gram, shares
from studio.engines.style.run import image_tensor, run_style

pytestmark = pytest.mark.usefixtures("one_torch_thread")

H, W = 48, 64
PARAMS = StyleParams(size=W, scales=1, iterations=40, style_weight=20.0, tv_weight=0.0, coarsest_side=32,
                     preview_every=10)


def _photo() -> np.ndarray:
    yy, xx = np.mgrid[0:H, 0:W] / W
    return np.stack([0.3 + 0.4 * xx, 0.3 + 0.4 * yy, 0.5 + 0 * xx], -1).astype(np.float32)


def _stripes() -> np.ndarray:  # red and white vertical stripes
    xx = np.mgrid[0:H, 0:W][1]
    on = ((xx // 4) % 2).astype(np.float32)
    return np.stack([0.9 + 0 * on, on, on], -1).astype(np.float32)


def _dots() -> np.ndarray:  # blue speckle
    rng = np.random.default_rng(3)
    n = rng.random((H, W)).astype(np.float32)
    return np.stack([0.1 * n, 0.2 * n, 0.4 + 0.6 * n], -1).astype(np.float32)


def _halves() -> tuple[np.ndarray, np.ndarray]:
    left = np.zeros((H, W), np.float32)
    left[:, : W // 2] = 1
    return left, 1 - left


def _gram_distance(net, image: np.ndarray, mask: np.ndarray, painting: np.ndarray) -> float:
    """The Gram distance over ``mask`` to the painting's, summed over the style layers."""
    from studio.engines.masks import layer_masks

    layers = list(PARAMS.style_layers)
    with torch.no_grad():
        f = net(image_tensor(image, torch.device("cpu")), layers)
        t = net(image_tensor(painting, torch.device("cpu")), layers)
        m = layer_masks(torch.from_numpy(mask), net, layers, inside_edges=True)
        out = 0.0
        for n in layers:
            g = guided_gram(f[n], m[n])
            gt = guided_gram(t[n], torch.ones(t[n].shape[-2:]))
            out += float((g - gt).pow(2).mean() / gt.pow(2).mean())
    return out


def _finish(events) -> Finished:
    fin = [e for e in events if isinstance(e, Finished)]
    assert len(fin) == 1
    return fin[0]


def test_each_of_two_regions_ends_closer_to_its_own_painting(random_net):
    left, right = _halves()
    stripes, dots = _stripes(), _dots()
    regions = [Region(left, stripes, name="left"), Region(right, dots, name="right")]
    fin = _finish(run_style(_photo(), [], PARAMS, network=random_net, regions=regions))
    out = fin.image
    inner_left = np.zeros_like(left)
    inner_left[:, 4: W // 2 - 6] = 1  # away from the border, where the two blend
    inner_right = np.zeros_like(left)
    inner_right[:, W // 2 + 6: -4] = 1
    own_l = _gram_distance(random_net, out, inner_left, stripes)
    other_l = _gram_distance(random_net, out, inner_left, dots)
    own_r = _gram_distance(random_net, out, inner_right, dots)
    other_r = _gram_distance(random_net, out, inner_right, stripes)
    assert own_l < 0.5 * other_l, (own_l, other_l)
    assert own_r < 0.5 * other_r, (own_r, other_r)
    # and the colours say the same: red-white stripes on the left, blue on the right
    assert out[:, 4: W // 2 - 6, 0].mean() > out[:, W // 2 + 6: -4, 0].mean() + 0.2
    assert out[:, W // 2 + 6: -4, 2].mean() > out[:, W // 2 + 6: -4, 0].mean() + 0.2


def test_a_region_that_keeps_the_photo_stays_close_to_it(random_net):
    left, right = _halves()
    photo = _photo()
    plain = _finish(run_style(photo, [_dots()], PARAMS, network=random_net)).image
    fin = _finish(run_style(photo, [_dots()], PARAMS, network=random_net,
                            regions=[Region(left, None, name="kept")]))
    kept = np.abs(fin.image[:, : W // 2 - 4] - photo[:, : W // 2 - 4]).mean()
    without = np.abs(plain[:, : W // 2 - 4] - photo[:, : W // 2 - 4]).mean()
    styled = np.abs(fin.image[:, W // 2 + 4:] - photo[:, W // 2 + 4:]).mean()
    assert kept < 0.03, kept
    assert kept < 0.2 * without, (kept, without)
    assert styled > 0.1, styled  # the rest still takes the painting
    assert "keep" in fin.losses


def test_one_region_over_the_whole_photo_is_the_plain_run(random_net):
    photo, dots = _photo(), _dots()
    short = PARAMS.with_changes(iterations=5)
    plain = _finish(run_style(photo, [dots], short, network=random_net))
    whole = _finish(run_style(photo, [], short, network=random_net,
                              regions=[Region(np.ones((H, W), np.float32), dots)]))
    np.testing.assert_allclose(whole.losses["style"], plain.losses["style"], rtol=1e-3)
    assert np.abs(whole.image - plain.image).max() < 2e-3


def test_a_region_weight_changes_live(random_net):
    left, right = _halves()
    control = JobControl()
    regions = [Region(left, _stripes()), Region(right, _dots())]
    seen = []
    for ev in run_style(_photo(), [], PARAMS.with_changes(iterations=6), control, network=random_net,
                        regions=regions):
        if isinstance(ev, Progress):
            seen.append(ev.losses["style"])
            if ev.iteration == 3:
                control.update(region_weights=[0.0, 0.0])
        if isinstance(ev, Finished):
            assert ev.extra["params"]["region_weights"] == [0.0, 0.0]
    assert seen[-1] == 0.0 and seen[2] > 0


def test_soft_masks_share_each_pixel():
    a = np.full((4, 4), 0.8, np.float32)
    b = np.full((4, 4), 0.6, np.float32)
    (sa, sb), rest = shares([a, b], (4, 4))
    np.testing.assert_allclose(sa + sb + rest, 1.0, atol=1e-6)
    assert rest.max() == 0 and sa[0, 0] == pytest.approx(0.8 / 1.4)
    (sa,), rest = shares([np.full((4, 4), 0.25, np.float32)], (2, 2))
    np.testing.assert_allclose(rest, 0.75)


@pytest.mark.parametrize("mask, words", [
    (np.zeros((H, W), np.float32), "is empty"),
    (np.ones((W, W), np.float32), "not the shape of the picture"),
    (np.ones((H, W, 3), np.float32), "not a one-channel mask"),
    (np.full((H, W), 2.0, np.float32), "between 0 and 1"),
])
def test_a_bad_mask_is_one_sentence(random_net, mask, words):
    with pytest.raises(StudioInputError, match=words):
        list(run_style(_photo(), [_dots()], PARAMS, network=random_net, regions=[Region(mask, _stripes(), name="sky")]))


def test_weights_must_match_the_regions_and_the_rest_needs_a_painting(random_net):
    left, _ = _halves()
    with pytest.raises(StudioInputError, match="region-weights has 2 values for 1 regions"):
        list(run_style(_photo(), [_dots()], PARAMS.with_changes(region_weights=(1.0, 2.0)), network=random_net,
                       regions=[Region(left, _stripes())]))
    with pytest.raises(StudioInputError, match="outside every region needs a style image"):
        list(run_style(_photo(), [], PARAMS, network=random_net, regions=[Region(left, _stripes())]))


def test_a_mask_on_the_painting_takes_only_that_part_of_it(random_net):
    """The painting's right half (blue speckle) for the whole photo: nothing of its striped left half."""
    stripes, dots = _stripes(), _dots()
    painting = np.concatenate([stripes[:, : W // 2], dots[:, W // 2:]], axis=1)
    _, right = _halves()
    whole = np.ones((H, W), np.float32)
    fin = _finish(run_style(_photo(), [], PARAMS, network=random_net,
                            regions=[Region(whole, painting, style_mask=right, name="all")]))
    inner = np.zeros((H, W), np.float32)
    inner[4:-4, 4:-4] = 1
    to_dots = _gram_distance(random_net, fin.image, inner, dots)
    to_stripes = _gram_distance(random_net, fin.image, inner, stripes)
    assert to_dots < 0.5 * to_stripes, (to_dots, to_stripes)
    assert fin.image[..., 2].mean() > fin.image[..., 0].mean() + 0.2  # blue, not the stripes' red
