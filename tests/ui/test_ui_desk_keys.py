"""The window's shortcuts work whatever has the focus; B shows the "before" picture without clicking the
canvas first (and still types a "b" in a text field); a file dragged over the picture is highlighted."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDragLeaveEvent
from PySide6.QtWidgets import QApplication, QLineEdit

from tests.ui.conftest import run_job


class GreedyField(QLineEdit):
    """A text field that claims every shortcut key for itself, as QLineEdit does for Ctrl+E (end of line)
    under the X11 keyboard scheme, where the issue saw Ctrl+E do nothing."""

    def event(self, e):  # noqa: N802
        if e.type() == QEvent.Type.ShortcutOverride:
            e.accept()
            return True
        return super().event(e)


def _field_in_panel(window, cls=QLineEdit):
    field = cls()
    window.workspace("style").panel().layout().addWidget(field)
    field.show()
    return field


def test_export_runs_from_a_text_field_with_the_focus(qtbot, window, monkeypatch):
    run_job(qtbot, window)
    asked = []
    monkeypatch.setattr(window, "ask_export", lambda: asked.append(True))
    window.act_export.triggered.disconnect()
    window.act_export.triggered.connect(lambda: window.ask_export())
    field = _field_in_panel(window, GreedyField)
    window.activateWindow()
    field.setFocus()
    qtbot.waitUntil(field.hasFocus, timeout=2000)
    qtbot.keyClick(field, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)
    assert asked == [True]
    assert field.hasFocus()  # it stays where the user was typing
    field.setText("some words")
    qtbot.keyClick(field, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)  # select-all stays the field's
    assert field.selectedText() == "some words"


def test_holding_b_shows_the_before_picture_from_a_slider_but_types_in_a_field(qtbot, window):
    run_job(qtbot, window)
    slider = window.workspace("style").panel().style_weight.slider
    slider.setFocus()
    qtbot.waitUntil(slider.hasFocus, timeout=2000)
    qtbot.keyPress(slider, Qt.Key.Key_B)
    assert window.canvas.holding_before()
    qtbot.keyRelease(slider, Qt.Key.Key_B)
    assert not window.canvas.holding_before()
    field = _field_in_panel(window)
    field.setFocus()
    qtbot.keyClicks(field, "b")
    assert not window.canvas.holding_before() and field.text() == "b"


def test_a_file_dragged_over_the_picture_is_highlighted(qtbot, window, image_dir):
    canvas = window.canvas
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(image_dir / "content.png"))])
    enter = QDragEnterEvent(QPointF(20, 20).toPoint(), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(canvas, enter)
    assert canvas.drop_hover
    shot = canvas.grab().toImage()
    QApplication.sendEvent(canvas, QDragLeaveEvent())
    assert not canvas.drop_hover
    plain = canvas.grab().toImage()
    assert shot.pixelColor(4, canvas.height() // 2) != plain.pixelColor(4, canvas.height() // 2)
