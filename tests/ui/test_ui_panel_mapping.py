"""Every control of the Style panel maps onto its StyleParams field, both ways."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from studio.engines.style.params import StyleParams, default_layer_weights
from studio.ui.style.panel import STYLE_LAYER_CHOICES


@pytest.fixture
def ws(window):
    return window.workspace("style")


def _combo_to(combo, value):
    combo.setCurrentIndex(combo.findData(value))


@pytest.mark.parametrize(
    ("field", "action", "expected"),
    [
        ("content_weight", lambda p: p.content_weight.slider.setValue(750), pytest.approx(10.0, rel=0.01)),
        ("style_weight", lambda p: p.style_weight.slider.setValue(1000), 5000.0),
        ("tv_weight", lambda p: p.tv_weight.slider.setValue(0), 0.0),
        ("original_colors", lambda p: p.original_colors.setChecked(True), True),
        ("size", lambda p: p.size.setValue(320), 320),
        ("iterations", lambda p: p.iterations.setValue(77), 77),
        ("seed", lambda p: p.seed.setValue(1234), 1234),
        ("init", lambda p: _combo_to(p.init, "noise"), "noise"),
        ("content_layers", lambda p: _combo_to(p.content_layer, "relu3_2"), ("relu3_2",)),
        ("optimizer", lambda p: _combo_to(p.optimizer, "adam"), "adam"),
        ("learning_rate", lambda p: p.learning_rate.setValue(0.05), pytest.approx(0.05)),
        ("scales", lambda p: p.scales.setValue(2), 2),
        ("pooling", lambda p: _combo_to(p.pooling, "avg"), "avg"),
        ("style_scale", lambda p: p.style_scale.setValue(1.5), pytest.approx(1.5)),
        ("photo_detail", lambda p: p.photo_detail.setValue(0.25), pytest.approx(0.25)),
        ("coarse_content", lambda p: p.coarse_content.setValue(1.5), pytest.approx(1.5)),
        ("preview_every", lambda p: p.preview_every.setValue(7), 7),
        ("max_seconds", lambda p: p.time_limit.setChecked(True), 60.0),
    ],
)
def test_widget_sets_param(ws, field, action, expected):
    before = ws.params()
    action(ws.panel())
    assert getattr(ws.params(), field) == expected
    others = {k: v for k, v in ws.params().to_dict().items() if k != field}
    assert others == {k: v for k, v in before.to_dict().items() if k != field}


def test_typed_weight(ws, qtbot):
    edit = ws.panel().style_weight.edit
    edit.setText("250")
    edit.editingFinished.emit()
    assert ws.params().style_weight == 250.0


def test_time_limit_seconds(ws):
    p = ws.panel()
    p.time_limit.setChecked(True)
    p.max_seconds.setValue(30)
    assert ws.params().max_seconds == 30.0
    p.time_limit.setChecked(False)
    assert ws.params().max_seconds is None
    assert not p.max_seconds.isEnabled()


def test_style_layer_checkboxes_and_weights(ws):
    p = ws.panel()
    default = StyleParams().style_layers
    assert tuple(n for n, c in p.layer_checks.items() if c.isChecked()) == default
    assert set(STYLE_LAYER_CHOICES) <= set(p.layer_checks)
    p.layer_checks["relu5_1"].setChecked(False)
    assert ws.params().style_layers == ("relu1_1", "relu2_1", "relu3_1", "relu4_1")
    assert ws.params().style_layer_weights is None
    p.layer_checks["relu3_3"].setChecked(True)
    assert ws.params().style_layers == ("relu1_1", "relu2_1", "relu3_1", "relu3_3", "relu4_1")
    assert ws.params().style_layer_weights is None  # a ticked layer comes in at its own default (relu3_3: 1.8)
    assert p.layer_weights["relu3_3"].value() == 1.8
    p.layer_weights["relu3_3"].slider.setValue(p.layer_weights["relu3_3"].position_of(10.0))
    # each default layer at its default weight (``LAYER_WEIGHT_DEFAULTS``), the new one at 10
    assert ws.params().style_layer_weights == (2.0, 2.26, 5.42, 10.0, 0.5)
    assert p.layer_weights["relu1_1"].value() == 2.0 and p.layer_weights["relu2_1"].value() == 2.26
    assert not p.layer_weights["relu5_1"].isEnabled()
    # no default sits at the slider's left end, where the artist session read 0.01 as "off"; each is its stop
    for name, slider in p.layer_weights.items():
        default = default_layer_weights((name,))[0]
        assert slider.default() == default and slider.value_at(slider.position_of(default)) == default
        assert slider.position_of(default) >= 0.15 * slider.STEPS, name


def test_a_painting_already_in_the_list_is_not_added_again(ws, image_dir, window, tmp_path):
    """The same painting twice (again after a restart, or twice in one drop) only split its blend between two
    copies of one file; it is said and left out, and a new painting in the same drop still comes in."""
    assert [s.path.name for s in ws.state().styles] == ["style.png"]
    assert ws.add_style_paths([str(image_dir / "style.png")]) == 0
    assert "style.png is already in the style list" in window.notice.text()
    assert ws.add_style_paths([str(image_dir / "style2.png"), str(image_dir / "style2.png")]) == 1
    assert [s.path.name for s in ws.state().styles] == ["style.png", "style2.png"]
    assert len(ws.panel().style_list.rows) == 2
    assert ws.add_style_paths([str(image_dir / "style.png"), str(image_dir / "style2.png")]) == 0
    assert "style.png, style2.png are already in the style list (their Blend sliders" in window.notice.text()
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n not a picture")
    assert ws.add_style_paths([str(broken), str(image_dir / "style.png")]) == 0
    assert "broken.png" in window.notice.text()  # the file that failed stays said, not replaced by the duplicate


def test_blend_sliders(ws, image_dir):
    assert ws.add_style_paths([str(image_dir / "style2.png")]) == 1
    rows = ws.panel().style_list.rows
    assert len(rows) == 2 and all(not r.blend.isHidden() for r in rows)
    assert ws.params().style_blend is None
    rows[1].blend.setValue(25)
    assert ws.params().style_blend == (1.0, 0.25)
    ws.remove_style(0)
    assert len(ws.state().styles) == 1 and ws.params().style_blend is None


def test_params_show_in_widgets(ws):
    p = ws.panel()
    params = StyleParams(
        size=200, content_weight=3.0, style_weight=0.5, tv_weight=0.0, content_layers=("relu5_2",),
        style_layers=("relu2_1", "relu4_1"), style_layer_weights=(2.0, 0.5), iterations=12,
        optimizer="adam", learning_rate=0.1, init="median-noise", seed=9, original_colors=True, scales=2,
        pooling="avg", preview_every=3, max_seconds=15.0, style_scale=0.75,
    )
    ws.set_state(ws.state().__class__(params, ws.state().content, ws.state().styles))
    assert p.size.value() == 200 and p.iterations.value() == 12 and p.seed.value() == 9
    assert p.content_weight.edit.text() == "3" and p.style_weight.value() == 0.5 and p.tv_weight.value() == 0
    assert p.content_layer.currentData() == "relu5_2"
    assert [n for n, c in p.layer_checks.items() if c.isChecked()] == ["relu2_1", "relu4_1"]
    assert p.layer_weights["relu2_1"].value() == 2.0 and p.layer_weights["relu4_1"].value() == 0.5
    assert p.optimizer.currentData() == "adam" and p.learning_rate.isEnabled()
    assert p.init.currentData() == "median-noise" and p.pooling.currentData() == "avg"
    assert p.original_colors.isChecked() and p.scales.value() == 2 and p.preview_every.value() == 3
    assert p.time_limit.isChecked() and p.max_seconds.value() == 15
    assert p.style_scale.value() == pytest.approx(0.75)
    # showing params does not create undo steps
    assert ws.undo_stack.count() == 0
    assert ws.params() == params


def test_typing_into_a_spin_box_is_one_edit(ws, qtbot):
    box = ws.panel().size
    box.setFocus()
    box.selectAll()
    qtbot.keyClicks(box, "320")
    assert ws.params().size == 64  # not yet: no edit per keystroke
    qtbot.keyClick(box, Qt.Key.Key_Return)
    assert ws.params().size == 320 and ws.undo_stack.count() == 1


def test_a_value_past_its_range_is_said_and_the_panel_keeps_the_old_one(qtbot, window):
    ws = window.workspace("style")
    before = ws.params()
    ws.edit_params({"style_scale": 1e308}, "Style scale")
    assert ws.params() == before
    assert window.notice.level == "warning"
    assert "Style-scale must be at least 0.05 and at most 8" in window.notice.text()
    panel = ws.panel()
    assert panel.size.maximum() == ws.params().LIMITS["size"].highest  # the machine's memory, not a guess


def test_a_layer_ticked_after_another_pictures_settings_takes_its_default_weight(ws):
    """The sliders of unticked layers showed whatever an earlier picture's settings had given them: after an old
    recipe (every layer at 1) and a picture using three layers, ticking relu5_1 gave it 1, 25 times its default."""
    from dataclasses import replace

    ws.set_state(replace(ws.state(), params=StyleParams.from_recipe({})))  # all five layers at 1
    ws.set_state(replace(ws.state(), params=StyleParams(style_layers=("relu1_1", "relu2_1", "relu3_1"))))
    p = ws.panel()
    assert p.layer_weights["relu5_1"].value() == StyleParams().layer_weights()[-1]
    p.layer_checks["relu5_1"].setChecked(True)
    assert ws.params().style_layers == ("relu1_1", "relu2_1", "relu3_1", "relu5_1")
    assert ws.params().style_layer_weights is None  # every layer at its default


def test_the_look_buttons_set_both_coarse_to_fine_settings_as_one_undoable_edit(ws):
    """Made for: portraits (the defaults) or landscapes (Photo detail 0, Coarse sizes hold photo 1), one click and
    one undo step; a button is checked only while the settings are its look."""
    from studio.engines.style.params import LOOKS

    p = ws.panel()
    assert p.look_buttons["portrait"].isChecked() and not p.look_buttons["landscape"].isChecked()
    before = ws.params()
    p.look_buttons["landscape"].click()
    after = ws.params()
    assert (after.photo_detail, after.coarse_content) == (0.0, 1.0) == tuple(LOOKS["landscape"].values())
    assert {k: v for k, v in after.to_dict().items() if k not in LOOKS["landscape"]} == \
        {k: v for k, v in before.to_dict().items() if k not in LOOKS["landscape"]}
    assert p.look_buttons["landscape"].isChecked() and not p.look_buttons["portrait"].isChecked()
    assert p.photo_detail.value() == 0.0 and p.coarse_content.value() == 1.0  # Advanced shows them
    assert ws.undo_stack.undoText() == "Made for landscapes"
    assert "made for landscapes" in ws.describe(ws.state()).splitlines()  # a result's tool tip says which
    ws.undo_stack.undo()
    assert ws.params() == before and p.look_buttons["portrait"].isChecked()
    p.photo_detail.setValue(0.5)  # a mix of its own: neither look
    assert not any(b.isChecked() for b in p.look_buttons.values())
    assert "photo detail 0.5 \u00b7 coarse sizes hold photo 3\u00d7" in ws.describe(ws.state()).splitlines()
    p.look_buttons["portrait"].click()
    assert (ws.params().photo_detail, ws.params().coarse_content) == (1.0, 3.0)
    assert p.look_buttons["portrait"].isChecked()
