"""Quality on one of the paper's cases (needs ../shared): the object keeps its form through pass 2."""

from __future__ import annotations

import cv2
import numpy as np

from studio.engines.events import Finished
from studio.engines.harmonize.params import HarmonizeParams
from studio.engines.harmonize.run import run_harmonize
from studio.engines.pixels import resize_long_side
from studio.imageio import load_image

SIZE = 160  # small, for the suite's time; the effect was found and looked at on the 700 px runs


def _shading(img: np.ndarray, inside: np.ndarray) -> np.ndarray:
    """The lightness's band-pass (the object's shading and folds, not its outline or its overall tone) inside."""
    lab_l = cv2.cvtColor(img.astype(np.float32), cv2.COLOR_RGB2LAB)[..., 0]
    return (cv2.GaussianBlur(lab_l, (0, 0), 0.5) - cv2.GaussianBlur(lab_l, (0, 0), 2.0))[inside]


def test_case_19s_figure_keeps_its_shading_through_pass_2(shared_dir, hed_net):
    """Case 19 (a realist painting, the paper's tau 1.0): with pass 2's content at relu4_1 alone the figure came
    out as a pale ghost streaked like the stairs it was mapped to; with relu3_1 too it keeps its folds and hair.
    Measured with pixels only: the correlation of the result's shading with the pasted photo's, inside the
    object (at 700 px, band-pass 1.5-6 px: 0.84 before, 0.91 after, the paper's 0.87)."""
    d = shared_dir / "harmonization"
    painting = resize_long_side(load_image(d / "19_target.jpg").rgb, SIZE)
    naive = resize_long_side(load_image(d / "19_naive.jpg").rgb, SIZE)
    h, w = naive.shape[:2]

    def mask(name: str) -> np.ndarray:
        m = load_image(d / name).rgb.mean(axis=2).astype(np.float32)
        return cv2.resize(m, (w, h), interpolation=cv2.INTER_AREA)

    tight, loose = mask("19_c_mask.jpg"), mask("19_c_mask_dilated.jpg")
    params = HarmonizeParams(tau=1.003, patch_synthesis=False)  # the paper's tau; synthesis only re-textures
    fin = [e for e in run_harmonize(painting, naive, tight, loose, params, network=hed_net)
           if isinstance(e, Finished)][-1]
    inside = cv2.erode((tight > 0.5).astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    kept = float(np.corrcoef(_shading(naive, inside), _shading(fin.image, inside))[0, 1])
    print(f"\nshading kept {kept:.3f}")
    # at this size: -0.08 with relu4_1 alone, 0.29 with relu3_1 too
    assert kept > 0.15
