"""Pass 2 starts from the object with the lightness of the painting patches it is mapped to (``dph.tone_start``)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from studio.engines.events import Finished
from studio.engines.harmonize.dph import tone_start
from studio.engines.harmonize.lab_stats import to_lab
from studio.engines.harmonize.params import HarmonizeParams
from studio.engines.harmonize.run import run_harmonize


def _t(img: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))[None].float()


def _np(t: torch.Tensor) -> np.ndarray:
    return t[0].permute(1, 2, 0).numpy()


def test_the_start_has_the_mapped_patches_lightness_and_keeps_its_own_colours():
    rng = np.random.default_rng(0)
    # the object: a bright, warm-white figure with some shading; around it, the painting's dark stairs
    image = np.full((40, 50, 3), (0.35, 0.2, 0.15), np.float32)
    figure = np.clip(np.array([0.95, 0.9, 0.8], np.float32) - rng.uniform(0, 0.3, (20, 24, 1)), 0, 1)
    image[10:30, 12:36] = figure
    tight = np.zeros((40, 50), np.float32)
    tight[10:30, 12:36] = 1.0
    # the painting (at another resolution): its mapped region is a mid-dark brown of some spread
    painting = np.zeros((60, 80, 3), np.float32)
    painting[...] = (0.1, 0.1, 0.3)
    painting[20:40, 20:60] = np.clip(np.array([0.55, 0.4, 0.3], np.float32) + rng.normal(0, 0.08, (20, 40, 1)), 0, 1)
    region = np.zeros((60, 80), np.float32)
    region[20:40, 20:60] = 1.0

    out = _np(tone_start(_t(image), torch.from_numpy(tight), _t(painting), torch.from_numpy(region)))

    inside = tight > 0.5
    before, after = to_lab(image)[inside], to_lab(out)[inside]
    target = to_lab(painting)[region > 0.5][:, 0]
    assert after[:, 0].mean() == pytest.approx(target.mean(), abs=1.0)  # from about 82 to about 46
    assert before[:, 0].mean() - target.mean() > 25
    assert after[:, 0].std() == pytest.approx(target.std(), rel=0.15)
    # the shading is the object's own (one map of its lightness), and its hue is kept
    assert np.corrcoef(before[:, 0], after[:, 0])[0, 1] > 0.99
    hue = lambda lab: np.degrees(np.arctan2(lab[:, 2].mean(), lab[:, 1].mean()))  # noqa: E731
    assert abs(hue(after) - hue(before)) < 10
    # the painting around the object is untouched
    assert np.allclose(out[~inside], image[~inside], atol=1e-6)
    # a style strength under 1 moves it part of the way, and 0 leaves the object as it is
    args = (_t(image), torch.from_numpy(tight), _t(painting), torch.from_numpy(region))
    half = to_lab(_np(tone_start(*args, amount=0.5)))[inside][:, 0].mean()
    assert half == pytest.approx((before[:, 0].mean() + target.mean()) / 2, abs=1.0)
    assert np.allclose(_np(tone_start(*args, amount=0.0)), image, atol=2e-3)


def test_a_mapping_without_positions_leaves_the_start_as_it_is():
    image = np.random.default_rng(1).uniform(0, 1, (16, 16, 3)).astype(np.float32)
    tight = np.zeros((16, 16), np.float32)
    tight[4:12, 4:12] = 1
    out = tone_start(_t(image), torch.from_numpy(tight), _t(image), torch.zeros(16, 16))
    assert torch.equal(out, _t(image))


def _case():
    h, w = 48, 64
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    stripes = (np.sin((xx + yy) * 0.9) > 0).astype(np.float32)[..., None]
    painting = (stripes * np.array([0.45, 0.3, 0.15], np.float32)
                + (1 - stripes) * np.array([0.15, 0.2, 0.4], np.float32)).astype(np.float32)  # a dark painting
    mask = np.zeros((h, w), np.float32)
    mask[14:34, 20:44] = 1.0
    composite = painting.copy()
    composite[14:34, 20:44] = (0.9, 0.92, 0.95)  # a white object
    return painting, composite, mask


def test_pass_2_starts_from_the_paintings_lightness_and_a_recipe_keeps_the_choice(random_net):
    painting, composite, mask = _case()
    base = HarmonizeParams(mode="dph", size=64, pass1_iterations=0, pass2_iterations=0, loose_radius=4,
                           crop_margin=8, denoise=False, patch_synthesis=False, feather=0)

    def lightness(params: HarmonizeParams) -> tuple[float, Finished]:
        fin = [e for e in run_harmonize(painting, composite, mask, None, params, network=random_net)
               if isinstance(e, Finished)][-1]
        return float(to_lab(fin.image)[mask > 0.5][:, 0].mean()), fin

    own, _ = lightness(base.with_changes(pass2_tone=False))
    toned, fin = lightness(base)
    lo, hi = np.percentile(to_lab(painting)[..., 0], [1, 99])
    assert own > 90  # without it the start is the white object itself
    assert lo <= toned <= hi  # with it, a lightness the painting has
    assert fin.extra["params"]["pass2_tone"] is True
    # a recipe written before this step re-runs without it; one written since keeps its choice
    old = {k: v for k, v in fin.extra["params"].items() if k != "pass2_tone"}
    assert HarmonizeParams.from_recipe(old).pass2_tone is False
    assert HarmonizeParams.from_recipe(fin.extra["params"]).pass2_tone is True


def test_the_command_line_turns_it_off():
    from studio.cli import build_parser

    args = build_parser().parse_args(["harmonize", "p.png", "--composite", "c.png", "--mask", "m.png", "-o", "o.png",
                                      "--no-tone"])
    assert args.pass2_tone is False
    help_text = subprocess.run([sys.executable, "-m", "studio", "harmonize", "--help"], capture_output=True,
                               text=True, check=True).stdout
    assert "--no-tone" in help_text
