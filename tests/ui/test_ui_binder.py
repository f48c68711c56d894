"""The panel binder: one line per field gives the edit signal, the undo label, showing and the help text."""

from __future__ import annotations

from PySide6.QtWidgets import QCheckBox, QComboBox, QSpinBox

from studio.engines.harmonize.params import HarmonizeParams
from studio.engines.style.params import StyleParams
from studio.ui.binder import Binder
from studio.ui.log_slider import LogSlider


def test_a_user_edit_is_one_change_with_its_label_and_showing_a_state_is_none(qtbot):
    b = Binder(StyleParams.HELP)
    size, colours, pooling, weight = QSpinBox(), QCheckBox(), QComboBox(), LogSlider(0.01, 10000.0, 50.0)
    size.setRange(16, 8192)
    for value in ("max", "avg"):
        pooling.addItem(value, value)
    for w in (size, colours, pooling, weight):
        qtbot.addWidget(w)
    b.bind("size", size, "Size")
    b.bind("original_colors", colours, "Keep colours")
    b.bind("pooling", pooling, "Pooling")
    b.bind("style_weight", weight, "Style weight")
    edits = []
    b.edited.connect(lambda changes, text, key: edits.append((changes, text, key)))

    b.show(StyleParams(size=300, original_colors=True, pooling="avg", style_weight=7.0))
    assert edits == [] and size.value() == 300 and colours.isChecked() and pooling.currentData() == "avg"
    assert abs(weight.value() - 7.0) < 1e-6

    size.setValue(320)
    colours.setChecked(False)
    assert edits == [({"size": 320}, "Size", "size"), ({"original_colors": False}, "Keep colours", "")]
    assert size.toolTip() == StyleParams.HELP["size"] and not size.keyboardTracking()


def test_every_field_the_panels_bind_has_its_help_text_in_the_dataclass(qtbot):
    from studio.ui.harmonize.panel import HarmonizePanel
    from studio.ui.style.panel import StylePanel

    style, harm = StylePanel(), HarmonizePanel()
    qtbot.addWidget(style)
    qtbot.addWidget(harm)
    assert set(style.binder.bindings) <= set(StyleParams.HELP)
    assert set(harm.params_binder.bindings) <= set(HarmonizeParams.HELP)
    for field, binding in style.binder.bindings.items():
        assert binding.widget.toolTip() == StyleParams.HELP[field]
