"""The window's shortcuts work whatever has the focus, and B shows the "before" picture from anywhere.

A text field or spin box takes some keys for itself (Qt's ShortcutOverride): Ctrl+E moved the cursor
of "Iterations per scale" instead of exporting. This filter gives the window's own shortcuts back to
the window, except the keys a text field needs for editing text (copy, paste, cut, select all, undo in
the field). Holding B (outside a text field) shows the picture before the run, without clicking the
canvas first; releasing it shows the result again. A field being typed in counts before such a shortcut acts
(``commit_typing``).
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QKeyEvent, QKeySequence
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QLineEdit,
    QPlainTextEdit,
    QTextEdit,
    QWidget,
)

#: keys a text field keeps even where the window has a shortcut for them
TEXT_KEYS = frozenset(
    QKeySequence(k).toString()
    for k in ("Ctrl+C", "Ctrl+V", "Ctrl+X", "Ctrl+A", "Ctrl+Z", "Ctrl+Shift+Z", "Ctrl+Y", "Ctrl+Insert",
              "Shift+Insert", "Shift+Del")
)


def is_text_input(widget: QWidget | None) -> bool:
    if isinstance(widget, QLineEdit | QAbstractSpinBox | QTextEdit | QPlainTextEdit):
        return True
    return isinstance(widget, QComboBox) and widget.isEditable()


class KeyGuard(QObject):
    """An event filter on the application for one window (``install``)."""

    def __init__(self, window: QWidget, hold_before: Callable[[bool], None]) -> None:
        super().__init__(window)
        self.window = window
        self.hold_before = hold_before
        self._holding = False

    def window_keys(self) -> set[str]:
        keys: set[str] = set()
        for action in self.window.actions():
            if action.isEnabled():
                keys.update(s.toString() for s in action.shortcuts())
        return keys - TEXT_KEYS

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802
        kind = event.type()
        if kind not in (QEvent.Type.ShortcutOverride, QEvent.Type.KeyPress, QEvent.Type.KeyRelease):
            return False
        if not isinstance(obj, QWidget) or obj.window() is not self.window:
            return False
        assert isinstance(event, QKeyEvent)
        if kind == QEvent.Type.ShortcutOverride:
            combo = QKeySequence(event.keyCombination()).toString()
            if combo in self.window_keys():
                event.ignore()  # the field does not claim it: the window's shortcut runs
                return True
            return False
        if event.key() == Qt.Key.Key_B and event.modifiers() == Qt.KeyboardModifier.NoModifier:
            focus = QApplication.focusWidget()
            if is_text_input(focus) and not self._holding:
                return False  # typing a "b"
            if not event.isAutoRepeat():
                self._holding = kind == QEvent.Type.KeyPress
                self.hold_before(self._holding)
            return True
        return False


def install(window: QWidget, hold_before: Callable[[bool], None]) -> KeyGuard:
    guard = KeyGuard(window, hold_before)
    QApplication.instance().installEventFilter(guard)
    return guard


def commit_typing() -> None:
    """The value being typed in the focused field counts, as when the field loses the focus: Ctrl+R, or the Run
    button (which takes no focus), ran with the old value (a new training name typed in Translate trained on
    under the old name, resuming its run)."""
    widget = QApplication.focusWidget()
    if isinstance(widget, QLineEdit) and isinstance(widget.parent(), QAbstractSpinBox):
        widget = widget.parent()
    if isinstance(widget, QAbstractSpinBox):
        widget.interpretText()  # its value, as typed (valueChanged when it differs)
    elif isinstance(widget, QLineEdit) and widget.isModified():
        widget.editingFinished.emit()
        widget.setModified(False)
