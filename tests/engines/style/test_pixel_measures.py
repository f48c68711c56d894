"""The pixel-only measures of a stylised picture (no network computes them, so no engine optimised them)."""

from __future__ import annotations

import cv2
import numpy as np

from studio.engines.style.pixel_measures import outline_agreement, palette_distance, photo_texture


def _photo(seed: int = 0) -> np.ndarray:
    """A picture with large shapes and its own fine grain, like a photo of a town."""
    rng = np.random.default_rng(seed)
    img = np.full((192, 256, 3), 0.45, np.float32)
    cv2.rectangle(img, (40, 60), (120, 170), (0.8, 0.7, 0.6), -1)
    cv2.circle(img, (190, 70), 35, (0.3, 0.5, 0.9), -1)
    return np.clip(img + rng.normal(0, 0.06, img.shape).astype(np.float32), 0, 1)


def test_photo_texture_tells_the_photos_grain_from_strokes_of_its_own():
    photo = _photo()
    assert photo_texture(photo, photo) > 0.99
    # the same large shapes with a grain of its own (a painting's strokes): outlines kept, texture not the photo's
    grain = np.random.default_rng(1).normal(0, 0.06, photo.shape).astype(np.float32)
    repainted = np.clip(cv2.GaussianBlur(photo, (0, 0), 3.0) + grain, 0, 1)
    assert outline_agreement(repainted, photo) > 0.8
    assert abs(photo_texture(repainted, photo)) < 0.1
    # the photo's grain kept under a wash of colour still shows as the photo's texture
    tinted = np.clip(0.6 * photo + 0.4 * np.array([0.9, 0.4, 0.1], np.float32), 0, 1)
    assert photo_texture(tinted, photo) > 0.9
    # any size: the photo is compared at the result's size
    half = cv2.resize(photo, (128, 96), interpolation=cv2.INTER_AREA)
    assert photo_texture(half, photo) > 0.9


def test_the_classic_references_lay_down_their_own_fine_texture(shared_dir):
    """The classic neural-style outputs keep almost none of the photo's finest grain (0.02 to 0.06); studio's
    defaults at 512 px kept 0.41 (Tübingen x The Scream): the busy, embossed look of issue 20."""
    from studio.imageio import load_image

    photo = load_image(shared_dir / "images/content/tubingen.jpg").rgb
    for name in ("tubingen_starry", "tubingen_scream", "tubingen_shipwreck"):
        ref = load_image(shared_dir / f"reference/neural-style/{name}.png").rgb
        assert photo_texture(ref, photo) < 0.1, name


def test_palette_distance_sees_a_pale_wash_and_not_the_layout():
    painting = _photo()
    assert palette_distance(painting, painting) < 0.05
    # the same colours in another layout (a painting's palette laid over the photo's shapes) are close ...
    shuffled = painting.reshape(-1, 3)[np.random.default_rng(2).permutation(192 * 256)].reshape(painting.shape)
    assert palette_distance(shuffled, painting) < 0.5
    # ... a pale wash over them is not, and a stronger wash is further
    washes = [palette_distance(np.clip((1 - a) * painting + a * 0.9, 0, 1), painting) for a in (0.2, 0.5)]
    assert 3 < washes[0] < washes[1], washes
    # any size: a picture of smooth colour areas at half the size has the same palette
    smooth = cv2.GaussianBlur(painting, (0, 0), 4.0)
    half = cv2.resize(smooth, (128, 96), interpolation=cv2.INTER_AREA)
    assert palette_distance(half, smooth) < 1.0
