"""The mouse wheel over a slider, spin box or list that does not have the focus scrolls the panel around it;
it never changes the value (scrolling the side panel once took the style weight from 50 to 1.8 silently).
Click or tab into the control first to turn it with the wheel."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import (
    QAbstractScrollArea,
    QAbstractSlider,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QScrollBar,
    QWidget,
)

GUARDED = (QAbstractSlider, QAbstractSpinBox, QComboBox)


class WheelGuard(QObject):
    """An application-wide event filter (``install(app)``)."""

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802
        if (event.type() == QEvent.Type.Wheel and isinstance(obj, GUARDED) and not isinstance(obj, QScrollBar)
                and not obj.hasFocus()):
            if obj.focusPolicy() == Qt.FocusPolicy.WheelFocus:
                obj.setFocusPolicy(Qt.FocusPolicy.StrongFocus)  # the wheel never takes the focus either
            area = _scroll_area_of(obj)
            if area is not None:  # Qt does not pass a wheel event on to the parents itself here
                delta = event.angleDelta()  # type: ignore[attr-defined]
                bar = area.verticalScrollBar() if abs(delta.y()) >= abs(delta.x()) else area.horizontalScrollBar()
                QApplication.sendEvent(bar, event)
            return True
        return False


def _scroll_area_of(widget: QWidget) -> QAbstractScrollArea | None:
    w = widget.parentWidget()
    while w is not None and not isinstance(w, QAbstractScrollArea):
        w = w.parentWidget()
    return w


_GUARD: WheelGuard | None = None


def install(app: QApplication) -> WheelGuard:
    """Install the guard once per application."""
    global _GUARD
    if _GUARD is None:
        _GUARD = WheelGuard(app)
        app.installEventFilter(_GUARD)
    return _GUARD
