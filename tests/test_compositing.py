"""Compositing an object into a painting: exact composites for move / scale / rotate / flip / feather,
the loose mask, GrabCut masks with brush refinement, and mask files."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from studio.compositing import (
    ObjectLayer,
    Stroke,
    Transform,
    centred,
    composite,
    contains,
    feather_alpha,
    grabcut_mask,
    layer_corners,
    layer_from_rgba,
    load_mask_file,
    loose_mask,
    rotation_from_handle_drag,
    rotation_handle,
    scale_from_corner_drag,
)
from studio.engines.errors import StudioInputError

PH, PW = 40, 60


def painting() -> np.ndarray:
    y, x = np.mgrid[0:PH, 0:PW].astype(np.float32)
    return np.stack([x / PW, y / PH, np.full_like(x, 0.3)], axis=2)


def object_rgb(h: int = 6, w: int = 10) -> np.ndarray:
    """Every pixel a different colour, so any misplaced pixel shows."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    return np.stack([(x + 1) / (w + 1), (y + 1) / (h + 1), np.full_like(x, 0.9)], axis=2)


def layer(**transform) -> ObjectLayer:
    rgb = object_rgb()
    return ObjectLayer(rgb, np.ones(rgb.shape[:2], np.float32), Transform(**transform))


def pasted(obj: np.ndarray, top: int, left: int) -> tuple[np.ndarray, np.ndarray]:
    out = painting().copy()
    h, w = obj.shape[:2]
    out[top:top + h, left:left + w] = obj
    mask = np.zeros((PH, PW), np.float32)
    mask[top:top + h, left:left + w] = 1
    return out, mask


def test_placing_at_scale_one_pastes_the_pixels_exactly():
    out, tight = composite(painting(), layer(x=20, y=15))
    expected, mask = pasted(object_rgb(), 12, 15)  # 10x6 object centred on (20, 15)
    np.testing.assert_allclose(out, expected, atol=1e-6)
    np.testing.assert_array_equal(tight, mask)
    assert out.dtype == np.float32 and tight.dtype == np.float32


def test_moving_shifts_the_object_by_whole_pixels():
    out, tight = composite(painting(), layer(x=33, y=22))
    expected, mask = pasted(object_rgb(), 19, 28)
    np.testing.assert_allclose(out, expected, atol=1e-6)
    np.testing.assert_array_equal(tight, mask)


@pytest.mark.parametrize(("flip_h", "flip_v"), [(True, False), (False, True), (True, True)])
def test_flips_mirror_the_object_in_place(flip_h, flip_v):
    out, tight = composite(painting(), layer(x=20, y=15, flip_h=flip_h, flip_v=flip_v))
    obj = object_rgb()
    if flip_h:
        obj = obj[:, ::-1]
    if flip_v:
        obj = obj[::-1]
    expected, mask = pasted(obj, 12, 15)
    np.testing.assert_allclose(out, expected, atol=1e-6)
    np.testing.assert_array_equal(tight, mask)


def test_rotation_by_a_quarter_turn_is_counter_clockwise_and_exact():
    out, tight = composite(painting(), layer(x=20, y=15, rotation=90))
    rotated = np.rot90(object_rgb())  # counter-clockwise on screen: 6 wide, 10 high
    expected, mask = pasted(rotated, 10, 17)
    np.testing.assert_allclose(out, expected, atol=1e-5)
    np.testing.assert_array_equal(tight, mask)


def test_scaling_up_doubles_the_footprint_and_keeps_the_colour():
    rgb = np.zeros((6, 10, 3), np.float32) + np.array([0.9, 0.1, 0.2], np.float32)
    lay = ObjectLayer(rgb, np.ones((6, 10), np.float32), Transform(x=30, y=20, scale=2.0))
    out, tight = composite(painting(), lay)
    _, mask = pasted(np.zeros((12, 20, 3)), 14, 20)
    np.testing.assert_array_equal(tight, mask)
    np.testing.assert_allclose(out[15:25, 21:39], np.broadcast_to(rgb[0, 0], (10, 18, 3)), atol=1e-6)
    np.testing.assert_allclose(out[:, :19], painting()[:, :19], atol=1e-6)


def test_scaling_down_shrinks_the_footprint():
    rgb = np.zeros((8, 12, 3), np.float32) + 0.8
    lay = ObjectLayer(rgb, np.ones((8, 12), np.float32), Transform(x=30, y=20, scale=0.5))
    _, tight = composite(painting(), lay)
    assert tight.sum() == 6 * 4
    assert tight[18:22, 27:33].all()


def test_transparent_pixels_leave_the_painting_and_alpha_blends():
    rgb = object_rgb()
    alpha = np.ones((6, 10), np.float32)
    alpha[:, :5] = 0.0  # left half transparent
    alpha[0, 9] = 0.5
    out, tight = composite(painting(), ObjectLayer(rgb, alpha, Transform(x=20, y=15)))
    p = painting()
    np.testing.assert_allclose(out[12:18, 15:20], p[12:18, 15:20], atol=1e-6)
    np.testing.assert_allclose(out[13:18, 20:25], rgb[1:, 5:], atol=1e-6)
    np.testing.assert_allclose(out[12, 24], 0.5 * p[12, 24] + 0.5 * rgb[0, 9], atol=1e-6)
    assert tight[12:18, 15:20].sum() == 0 and tight[12:18, 20:25].all()


def test_feather_ramps_the_edge_inwards_only():
    rgb = np.zeros((20, 20, 3), np.float32) + np.array([1.0, 0.0, 0.0], np.float32)
    lay = ObjectLayer(rgb, np.ones((20, 20), np.float32), Transform(x=30, y=20), feather=4.0)
    out, tight = composite(painting(), lay)
    p = painting()
    row = 20  # middle row; the object covers columns 20..39
    for k, a in enumerate([0.25, 0.5, 0.75, 1.0, 1.0]):
        np.testing.assert_allclose(out[row, 20 + k], (1 - a) * p[row, 20 + k] + a * rgb[0, 0], atol=1e-5)
    np.testing.assert_allclose(out[:, :20], p[:, :20], atol=1e-6)  # nothing outside the object
    assert tight[10:30, 20:40].all() and tight.sum() == 400  # the tight mask is not feathered
    hard, _ = composite(painting(), lay.with_feather(0))
    np.testing.assert_allclose(hard[row, 20], rgb[0, 0], atol=1e-6)


def test_feather_leaves_no_soft_edge_along_the_paintings_frame():
    rgb = np.zeros((20, 20, 3), np.float32) + np.array([1.0, 0.0, 0.0], np.float32)
    lay = ObjectLayer(rgb, np.ones((20, 20), np.float32), Transform(x=4, y=20), feather=4.0)  # columns -6..13
    out, tight = composite(painting(), lay)
    np.testing.assert_allclose(out[20, 0:11], np.broadcast_to(rgb[0, 0], (11, 3)), atol=1e-6)
    np.testing.assert_allclose(out[20, 13], 0.75 * painting()[20, 13] + 0.25 * rgb[0, 0], atol=1e-5)
    assert tight[10:30, 0:14].all() and tight.sum() == 20 * 14


def test_feather_alpha_zero_is_a_copy():
    a = np.ones((5, 5), np.float32)
    out = feather_alpha(a, 0)
    assert out is not a and np.array_equal(out, a)


def test_loose_mask_dilates_by_the_radius():
    tight = np.zeros((41, 41), np.float32)
    tight[20, 20] = 1
    loose = loose_mask(tight, 5)
    assert loose[20, 25] == 1 and loose[15, 20] == 1 and loose[20, 26] == 0
    assert loose[24, 24] == 0  # a disc, not a square
    assert 70 < loose.sum() < 100  # about pi * 5^2
    np.testing.assert_array_equal(loose_mask(tight, 0), tight)
    big = np.zeros((40, 40), np.float32)
    big[10:20, 10:20] = 1
    lm = loose_mask(big, 3)
    assert (lm >= big).all() and lm[10:20, 7].all() and not lm[10:20, 6].any()


def test_layer_from_rgba_crops_to_the_alpha_and_refuses_an_empty_one():
    rgb = np.random.default_rng(0).random((30, 40, 3)).astype(np.float32)
    alpha = np.zeros((30, 40), np.float32)
    alpha[10:15, 20:30] = 1
    lay = layer_from_rgba(rgb, alpha, margin=1)
    assert lay.size == (12, 7)
    np.testing.assert_array_equal(lay.rgb, rgb[9:16, 19:31])
    placed, tight = composite(np.zeros((30, 40, 3), np.float32), lay)  # where it was in its photo
    np.testing.assert_array_equal(tight, alpha)
    np.testing.assert_allclose(placed[10:15, 20:30], rgb[10:15, 20:30], atol=1e-6)
    with pytest.raises(StudioInputError, match="empty"):
        layer_from_rgba(rgb, np.zeros((30, 40)), source="/tmp/cat.png")
    with pytest.raises(StudioInputError, match="must have the photo's size"):
        layer_from_rgba(rgb, np.ones((10, 10)))


def test_centred_places_and_shrinks_to_fit_and_hit_testing():
    lay = centred(layer(), (PW, PH), fill=0.1)  # 10 wide -> at most 6 px wide
    assert (lay.transform.x, lay.transform.y) == (30, 20) and lay.transform.scale == pytest.approx(0.6)
    assert contains(lay, 30, 20) and not contains(lay, 40, 20)
    rotated = layer(x=20, y=15, rotation=90)
    corners = layer_corners(rotated)
    np.testing.assert_allclose(corners.min(axis=0), [17, 10], atol=1e-9)
    np.testing.assert_allclose(corners.max(axis=0), [23, 20], atol=1e-9)
    assert contains(rotated, 20, 19) and not contains(rotated, 24, 15)


def test_corner_and_rotation_handles_scale_and_turn_the_object_about_its_centre():
    lay = layer(x=20, y=15, scale=2.0)  # 10x6 object: 20x12 on the painting
    x, y = rotation_handle(lay, reach=5)
    assert (x, y) == pytest.approx((20, 15 - 6 - 5))  # above the top edge's middle
    turned = layer(x=20, y=15, rotation=90)  # counter-clockwise on screen: its top now faces left
    assert rotation_handle(turned, reach=5) == pytest.approx((20 - 3 - 5, 15))
    t = lay.transform
    corner = tuple(layer_corners(lay)[2])  # bottom right
    far = (20 + 2 * (corner[0] - 20), 15 + 2 * (corner[1] - 15))
    assert scale_from_corner_drag(t, corner, far) == pytest.approx(4.0)  # twice as far: twice the size
    assert scale_from_corner_drag(t, corner, (20, 15)) == pytest.approx(0.01)  # bounded, never 0
    # dragging the handle from above the centre to its left turns it a quarter counter-clockwise
    assert rotation_from_handle_drag(t, (20, 5), (10, 15)) == pytest.approx(90.0)
    assert rotation_from_handle_drag(t, (20, 5), (30, 15)) == pytest.approx(-90.0)
    # ... and the turned object's handle is where the pointer went
    after = layer(x=20, y=15, scale=2.0, rotation=90.0)
    hx, hy = rotation_handle(after, reach=5)
    assert hy == pytest.approx(15) and hx < 20


def test_transform_round_trips_and_clamps_scale():
    t = Transform(3, 4, 1.5, 30, True, False)
    assert Transform.from_dict(t.to_dict()) == t
    assert t.with_changes(scale=0).scale > 0
    with pytest.raises(StudioInputError):
        Transform.from_dict({"x": "left"})


def disc_photo(size: int = 96, radius: int = 24, blob: tuple[int, int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """A red disc on a noisy green background; ``blob`` adds a red square [a, b)^2 apart from the disc."""
    rng = np.random.default_rng(1)
    y, x = np.mgrid[0:size, 0:size]
    disc = ((x - size / 2) ** 2 + (y - size / 2) ** 2) <= radius**2
    photo = np.empty((size, size, 3), np.float32)
    photo[:] = np.array([0.1, 0.5, 0.25]) + rng.normal(0, 0.04, (size, size, 3))  # green, noisy
    photo[disc] = np.array([0.9, 0.15, 0.2]) + rng.normal(0, 0.04, (int(disc.sum()), 3))  # red disc
    if blob is not None:
        a, b = blob
        photo[a:b, a:b] = np.array([0.9, 0.15, 0.2]) + rng.normal(0, 0.04, (b - a, b - a, 3))
    return np.clip(photo, 0, 1).astype(np.float32), disc


def iou(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a > 0.5, b > 0.5
    return float((a & b).sum() / max((a | b).sum(), 1))


def test_grabcut_from_a_rectangle_finds_the_disc():
    photo, disc = disc_photo()
    mask = grabcut_mask(photo, (18, 18, 60, 60))
    assert mask.shape == disc.shape and mask.dtype == np.float32
    assert iou(mask, disc) > 0.95


def test_brush_strokes_refine_the_grabcut_mask():
    photo, disc = disc_photo(blob=(20, 28))  # a red square inside the rectangle, apart from the disc
    base = grabcut_mask(photo, (18, 18, 60, 60))
    assert base[20:28, 20:28].all()  # same colour as the object: GrabCut keeps it
    # a background stroke over the square drops it and leaves the disc alone
    cut = grabcut_mask(photo, (18, 18, 60, 60), [Stroke(((24.0, 24.0), (24.5, 24.5)), 5, False)])
    assert cut[20:28, 20:28].sum() == 0 and iou(cut, disc) > 0.95
    # a foreground stroke outside the rectangle adds those pixels
    added = grabcut_mask(photo, (18, 18, 60, 60), [Stroke(((6.0, 6.0), (12.0, 6.0)), 3, True)])
    assert added[6, 6] == 1 and base[6, 6] == 0


def test_grabcut_runs_on_a_smaller_copy_of_a_large_photo():
    photo, disc = disc_photo(160, 40)
    mask = grabcut_mask(photo, (30, 30, 100, 100), max_side=64)
    assert mask.shape == (160, 160) and iou(mask, disc) > 0.9


def test_grabcut_refuses_a_tiny_rectangle():
    photo, _ = disc_photo()
    with pytest.raises(StudioInputError, match="too small"):
        grabcut_mask(photo, (10, 10, 1, 1))


def test_mask_file_must_match_the_photo(tmp_path):
    path = tmp_path / "mask.png"
    m = np.zeros((20, 30), np.uint8)
    m[5:15, 10:20] = 255
    Image.fromarray(m).save(path)
    mask = load_mask_file(path, (30, 20))
    assert mask.shape == (20, 30) and mask[10, 15] == 1.0 and mask[0, 0] == 0.0
    with pytest.raises(StudioInputError) as err:
        load_mask_file(path, (40, 40))
    assert str(err.value) == "mask.png is 30x20 pixels but the photo is 40x40: a mask must have the photo's size."


def test_a_grabcut_session_gives_the_same_masks_as_fresh_runs():
    from studio.compositing import GrabCut

    photo, _ = disc_photo(blob=(20, 28))
    session = GrabCut(photo)
    strokes = [Stroke(((24.0, 24.0),), 5, False)]
    for rect, st in (((18, 18, 60, 60), ()), ((18, 18, 60, 60), strokes), ((18, 18, 60, 60), ()),
                     ((16, 16, 64, 64), strokes)):
        np.testing.assert_array_equal(session.mask(rect, st), grabcut_mask(photo, rect, st))
