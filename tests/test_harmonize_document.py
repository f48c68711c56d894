"""The Harmonize document without Qt: edits, the composition cache and the recipe record round trip."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pytest

from studio.compositing import grabcut_mask, layer_from_rgba
from studio.engines.harmonize.params import HarmonizeParams
from studio.harmonize_document import (
    CompositionCache,
    HarmonizeState,
    MaskEdit,
    composition_record,
    cutout_edit,
    cutout_layer,
    placed_object,
    run_blocker,
    with_corrected_mask,
    with_object,
    with_transform,
)


@dataclass
class Img:  # what the document needs of a LoadedImage
    rgb: np.ndarray
    alpha: np.ndarray | None = None
    path: Path = Path("photo.png")
    sha256: str = "0" * 64

    @property
    def size(self) -> tuple[int, int]:
        return self.rgb.shape[1], self.rgb.shape[0]


def _painting() -> Img:
    return Img(np.full((60, 80, 3), 0.5, np.float32), path=Path("painting.png"))


def _photo() -> tuple[Img, np.ndarray]:
    photo = Img(np.random.default_rng(0).random((30, 40, 3)).astype(np.float32))
    mask = np.zeros((30, 40), np.float32)
    mask[5:25, 10:30] = 1.0
    return photo, mask


def test_an_object_is_centred_moves_and_keeps_its_placement_when_its_mask_is_corrected():
    photo, mask = _photo()
    layer, cutout = cutout_layer(photo, mask, MaskEdit(rect=(8, 3, 24, 24)))
    s = with_object(HarmonizeState(HarmonizeParams(), painting=_painting()), layer, cutout)
    assert (s.layer.transform.x, s.layer.transform.y) == (40.0, 30.0)
    assert with_transform(s, {"x": 40.0}) is None  # no change, no edit
    moved = with_transform(s, {"x": 50.0})
    mask2 = mask.copy()
    mask2[5:10] = 0.0
    layer2, cut2 = cutout_layer(photo, mask2, MaskEdit(rect=(8, 3, 24, 24)))
    fixed = with_corrected_mask(moved, layer2, cut2)
    assert fixed is not None and fixed.layer.transform.x == 50.0 and fixed.cutout is cut2
    other, _ = _photo()
    assert with_corrected_mask(moved, *cutout_layer(other, mask, MaskEdit())) is None


def test_the_cache_composites_once_per_painting_and_layer_and_says_what_blocks_a_run():
    photo, mask = _photo()
    layer, cutout = cutout_layer(photo, mask, MaskEdit())
    s = with_object(HarmonizeState(HarmonizeParams(), painting=_painting()), layer, cutout)
    cache = CompositionCache()
    first = cache.get(s)
    assert cache.get(s) is first and first.tight.any()
    assert run_blocker(s, first) is None
    off = with_transform(s, {"x": -500.0})
    assert "outside the painting" in run_blocker(off, cache.get(off))
    assert "Open a painting" in run_blocker(HarmonizeState(HarmonizeParams()), None)


def test_the_recipe_record_puts_the_object_back_where_it_was():
    rgba = np.zeros((20, 20, 4), np.float32)
    rgba[4:16, 4:16] = (1.0, 0.2, 0.1, 1.0)
    obj = Img(rgba[..., :3], alpha=rgba[..., 3], path=Path("object.png"))
    layer = layer_from_rgba(obj.rgb, obj.alpha, source="object.png", source_sha256=obj.sha256)
    s = with_object(HarmonizeState(HarmonizeParams(), painting=_painting()), layer)
    s = with_transform(s, {"x": 21.5, "y": 12.0, "rotation": 15.0})
    record = composition_record(s)
    again, cutout = placed_object(obj, record)
    # a transparent image is its own cut-out: its edge can be refined with the brushes (none here)
    assert cutout.edit == MaskEdit(from_alpha=True) and again.transform == s.layer.transform
    assert again.size == s.layer.size


def test_a_cutout_record_round_trips_its_rectangle_and_strokes():
    from studio.compositing import Stroke

    photo, mask = _photo()
    edit = MaskEdit(rect=(1, 2, 30, 20), strokes=(Stroke(((3.0, 4.0), (5.5, 6.5)), 4.0, True),))
    layer, cutout = cutout_layer(photo, mask, edit)
    s = with_object(HarmonizeState(HarmonizeParams(), painting=_painting()), layer, cutout)
    assert cutout_edit(composition_record(s)) == edit


def test_a_transparent_objects_refined_edge_round_trips_through_the_recipe():
    from studio.compositing import Stroke
    from studio.harmonize_document import alpha_layer

    rgb = np.random.default_rng(1).random((20, 30, 3)).astype(np.float32)
    alpha = np.zeros((20, 30), np.float32)
    alpha[4:16, 5:25] = 1.0
    alpha[4:16, 5] = 0.5  # a soft edge
    obj = Img(rgb, alpha)
    strokes = (Stroke(((10.0, 10.0),), 2.0, False), Stroke(((27.0, 10.0),), 1.0, True))
    layer, cutout = alpha_layer(obj, strokes)
    assert cutout.edit.from_alpha and cutout.edit.strokes == strokes
    assert cutout.mask[10, 10] == 0.0 and cutout.mask[10, 27] == 1.0 and cutout.mask[8, 5] == 0.5
    s = with_object(HarmonizeState(HarmonizeParams(), painting=_painting()), layer, cutout)
    again, cut2 = placed_object(obj, composition_record(s))
    np.testing.assert_array_equal(again.alpha, s.layer.alpha)
    assert cut2.edit == cutout.edit
    # a transparent image cut out with a GrabCut rectangle instead comes back as that cut-out
    rgb2 = np.empty_like(rgb)
    rgb2[:] = (0.1, 0.6, 0.2)
    rgb2[6:14, 8:20] = (0.9, 0.2, 0.1)  # a red object GrabCut can find
    obj2 = Img(rgb2, alpha)
    grab = MaskEdit(rect=(5, 4, 20, 13))
    layer3, cut3 = cutout_layer(obj2, grabcut_mask(obj2.rgb, grab.rect, ()), grab)
    s3 = with_object(HarmonizeState(HarmonizeParams(), painting=_painting()), layer3, cut3)
    again3, back3 = placed_object(obj2, composition_record(s3))
    assert back3.edit == grab and not back3.edit.from_alpha
    np.testing.assert_array_equal(again3.alpha, layer3.alpha)


def test_the_engine_gets_the_loose_radius_and_soft_edge_at_its_working_size():
    from studio.harmonize_document import engine_params

    photo, mask = _photo()
    layer, cutout = cutout_layer(photo, mask, MaskEdit(rect=(8, 3, 24, 24)))
    s = with_object(HarmonizeState(HarmonizeParams(), painting=_painting(), loose_radius=12.0), layer, cutout)
    s = replace(s, layer=replace(s.layer, feather=3.0))
    own = engine_params(s)  # the default: the painting's own resolution (80 px), nothing scaled
    assert (own.loose_radius, own.feather) == (12, 3.0)
    half = engine_params(replace(s, params=s.params.with_changes(size=40)))
    assert (half.loose_radius, half.feather) == (6, 1.5)


def test_replacing_the_object_keeps_its_place_size_and_turn():
    photo, mask = _photo()
    layer, cutout = cutout_layer(photo, mask, MaskEdit())
    s = with_object(HarmonizeState(HarmonizeParams(), painting=_painting()), layer, cutout)
    s = with_transform(s, {"x": 25.0, "y": 18.0, "scale": 0.8, "rotation": 30.0, "flip_h": True})
    shown = max(s.layer.size) * s.layer.transform.scale
    rgba = np.zeros((50, 100, 4), np.float32)  # another object, of another size
    rgba[5:45, 10:90] = (1.0, 0.2, 0.1, 1.0)
    other = layer_from_rgba(rgba[..., :3], rgba[..., 3], source="other.png")
    r = with_object(s, other)
    t = r.layer.transform
    assert (t.x, t.y, t.rotation, t.flip_h) == (25.0, 18.0, 30.0, True)
    assert max(r.layer.size) * t.scale == pytest.approx(shown)  # the same long side on the painting
    assert r.layer.feather == s.layer.feather and r.cutout is None


def test_another_paintings_size_keeps_the_objects_place_size_and_turn():
    """An object on a 80x60 painting, opened on a 160x100 one: it was put back in the middle at 100 %, unturned
    and unflipped, without a word (found by the artist session)."""
    from studio.harmonize_document import with_painting

    photo, mask = _photo()
    layer, cutout = cutout_layer(photo, mask, MaskEdit(rect=(8, 3, 24, 24)))
    s = with_object(HarmonizeState(HarmonizeParams(), painting=_painting()), layer, cutout)
    s = with_transform(s, {"x": 20.0, "y": 45.0, "scale": 1.5, "rotation": 15.0, "flip_h": True})
    s = replace(s, layer=replace(s.layer, feather=3.0), loose_radius=12.0)
    wider = with_painting(s, Img(np.zeros((120, 160, 3), np.float32), path=Path("wide.png")))
    t = wider.layer.transform
    assert (t.x, t.y) == (40.0, 90.0)  # a quarter across, three quarters down, as before
    assert t.scale == pytest.approx(3.0) and t.rotation == 15.0 and t.flip_h  # twice the painting, twice the size
    assert wider.layer.feather == pytest.approx(6.0) and wider.loose_radius == 24.0
    tall = with_painting(s, Img(np.zeros((240, 40, 3), np.float32), path=Path("tall.png")))
    assert tall.layer.transform.scale == pytest.approx(0.75)  # by the narrower side: no wider a share of it
    assert (tall.layer.transform.x, tall.layer.transform.y) == (10.0, 180.0)
    same = with_painting(s, Img(np.zeros((60, 80, 3), np.float32), path=Path("other.png")))
    assert same.layer.transform == s.layer.transform and same.loose_radius == 12.0  # the same size: untouched


def test_a_soft_edged_mask_file_reads_as_the_object_halved(tmp_path):
    """A mask file is halved wherever it is read: the recipe's restore read a grey edge as it was, which made a
    larger crop than adding the object had, and the object "differs from the recipe's"."""
    import cv2
    from PIL import Image

    from studio.compositing import load_mask_file

    photo, mask = _photo()
    soft = cv2.GaussianBlur(mask, (0, 0), 2.0)
    Image.fromarray((soft * 255).round().astype(np.uint8)).save(tmp_path / "m.png")
    read = load_mask_file(tmp_path / "m.png", photo.size)
    assert set(np.unique(read)) == {0.0, 1.0}
    np.testing.assert_array_equal(read, (np.round(soft * 255) / 255 >= 0.5).astype(np.float32))
    layer, _ = cutout_layer(photo, read, MaskEdit(mask_path="m.png"))
    s = with_object(HarmonizeState(HarmonizeParams(), painting=_painting()), layer, None)
    again, _ = placed_object(photo, composition_record(s), load_mask_file(tmp_path / "m.png", photo.size), "m.png")
    assert again.size == layer.size
    np.testing.assert_array_equal(again.alpha, layer.alpha)
