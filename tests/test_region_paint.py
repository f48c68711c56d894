"""Painting region masks by hand (Qt-free): brush, eraser, selections and how they combine."""

from __future__ import annotations

import numpy as np

from studio.region_paint import (
    combine,
    invert,
    lasso_layer,
    mode_for,
    new_region,
    shape_layer,
    stroke_layer,
)
from studio.selection import Selection


def test_a_brush_stroke_covers_its_path_and_its_hardness_sets_the_edge():
    hw = (80, 120)
    hard = stroke_layer([(20, 40), (100, 40)], 10, 1.0, hw)
    soft = stroke_layer([(20, 40), (100, 40)], 10, 0.0, hw)
    assert hard[40, 60] == 1.0 and hard[40 + 15, 60] == 0.0  # inside the stroke, outside its radius
    assert hard[40, 5] == 0.0 and hard[40, 115] == 0.0
    # the soft brush fades over its radius: partly there just outside, less in the middle of its edge
    assert 0.0 < soft[40 + 12, 60] < 0.5 and soft[40, 60] > 0.9
    assert hard[40 + 9, 60] > soft[40 + 9, 60]


def test_selections_replace_add_and_subtract():
    hw = (60, 60)
    mask = np.zeros(hw, np.uint8)
    left = shape_layer(Selection("rect", 0, 0, 30, 60, feather=0), hw)
    top = shape_layer(Selection("rect", 0, 0, 60, 30, feather=0), hw)
    m = combine(mask, left, mode_for(False, False))
    assert m[10, 10] == 255 and m[10, 50] == 0
    m = combine(m, top, mode_for(True, False))  # Shift adds
    assert m[10, 50] == 255 and m[50, 50] == 0 and m[50, 10] == 255
    m = combine(m, top, mode_for(False, True))  # Alt subtracts
    assert m[10, 10] == 0 and m[50, 10] == 255
    m = combine(m, top, "replace")
    assert m[50, 10] == 0 and m[10, 50] == 255
    assert (invert(m) == 255 - m).all()


def test_a_lasso_fills_its_outline_and_an_ellipse_its_box():
    hw = (100, 100)
    tri = lasso_layer([(10, 10), (90, 10), (10, 90)], hw, feather=0)
    assert tri[20, 20] == 1.0 and tri[80, 80] == 0.0
    assert lasso_layer([(10, 10), (90, 10)], hw).max() == 0.0  # two points outline nothing
    ell = shape_layer(Selection("ellipse", 10, 10, 90, 90, feather=0), hw)
    assert ell[50, 50] == 1.0 and ell[12, 12] == 0.0


def test_new_regions_get_their_own_names_and_colours():
    a = new_region((), (10, 10))
    b = new_region((a,), (10, 10))
    assert a.name == "Region 1" and b.name == "Region 2" and a.colour != b.colour
    assert a.is_empty() and a.keeps_photo and a.mask.shape == (10, 10)
