"""The pixel-only measures of a stylised picture (no network computes them, so no engine optimised them)."""

from __future__ import annotations

import cv2
import numpy as np

from studio.engines.style.pixel_measures import outline_agreement, palette_distance, photo_texture, stroke_coherence


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


def _strokes(angle: float, length: float, seed: int = 3) -> np.ndarray:
    """Noise smeared along ``angle`` over ``length`` pixels: brush strokes running one way (length 0: none,
    blobs and ripples with no direction)."""
    noise = np.random.default_rng(seed).normal(0.5, 0.2, (256, 256)).astype(np.float32)
    if length == 0:
        return np.repeat(np.clip(cv2.GaussianBlur(noise, (0, 0), 1.0), 0, 1)[..., None], 3, axis=2)
    k = np.zeros((31, 31), np.float32)
    dx, dy = np.cos(angle), np.sin(angle)
    for t in np.linspace(-length / 2, length / 2, max(2, int(length) * 2)):
        k[int(round(15 + t * dy)), int(round(15 + t * dx))] = 1.0
    g = cv2.filter2D(cv2.GaussianBlur(noise, (0, 0), 1.0), -1, k / k.sum())
    return np.repeat(np.clip(g, 0, 1)[..., None], 3, axis=2)


def test_stroke_coherence_tells_strokes_from_ripples():
    ripples = _strokes(0.0, 0.0)
    short, long_ = _strokes(0.6, 6.0), _strokes(0.6, 24.0)
    values = [stroke_coherence(x) for x in (ripples, short, long_)]
    # no direction at all still reads about 0.23 (a neighbourhood of a few pixels never averages out fully)
    assert values[0] < 0.4 and values[0] < values[1] < values[2] and values[2] > 0.8, values
    # strokes in every direction, each long, are still strokes: only the neighbourhood has to agree
    quarters = long_.copy()
    quarters[:128, :128] = _strokes(2.2, 24.0)[:128, :128]
    quarters[128:, 128:] = _strokes(1.3, 24.0)[128:, 128:]
    assert stroke_coherence(quarters) > 0.7
    # the size of the picture does not change it much: it is looked at at one size
    half = cv2.resize(long_, (128, 128), interpolation=cv2.INTER_AREA)
    assert abs(stroke_coherence(half) - values[2]) < 0.1


def test_the_paintings_strokes_run_further_than_the_photos_edges(shared_dir):
    """The Scream's long bands and the classic rendering of Tübingen in it score higher than the photo."""
    from studio.imageio import load_image

    photo = load_image(shared_dir / "images/content/tubingen.jpg").rgb
    scream = load_image(shared_dir / "images/style/the_scream.jpg").rgb
    classic = load_image(shared_dir / "reference/neural-style/tubingen_scream.png").rgb
    values = [stroke_coherence(x) for x in (photo, classic, scream)]
    assert values[0] + 0.2 < values[1] < values[2], values
