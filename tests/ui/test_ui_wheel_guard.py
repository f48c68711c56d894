"""The wheel over an unfocused control scrolls the side panel and never changes a value."""

from __future__ import annotations

from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication, QScrollArea


def _wheel(widget, notches: int = -3) -> None:
    pos = QPointF(widget.width() / 2, widget.height() / 2)
    ev = QWheelEvent(pos, widget.mapToGlobal(pos), QPoint(0, 0), QPoint(0, 120 * notches),
                     Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(widget, ev)


def test_wheel_over_unfocused_sliders_and_spin_boxes_scrolls_the_panel_instead(qtbot, window):
    window.resize(1000, 420)  # the side panel needs its scroll bar
    qtbot.wait(50)
    panel = window.workspace("style").panel()
    area = next(w for w in window.findChildren(QScrollArea) if w.widget() is panel)
    bar = area.verticalScrollBar()
    assert bar.maximum() > 0
    weight, size = panel.style_weight, panel.size
    before = (weight.value(), size.value(), bar.value())
    _wheel(weight.slider)
    _wheel(size)
    assert (weight.value(), size.value()) == before[:2]  # no value changed
    assert bar.value() > before[2]  # the panel scrolled
    assert window.workspace("style").undo_stack.count() == 0

    size.setFocus()
    qtbot.waitUntil(size.hasFocus, timeout=2000)
    _wheel(size, notches=1)
    assert size.value() != before[1]  # a focused control takes the wheel as before
