"""A slider on a logarithmic scale whose number is shown and can be typed.

Dragging moves the handle with the pointer; with Shift held it moves ten times slower (a fine mode
for small steps), and the number shows beside the pointer while the drag lasts. The default value is a stop
of its own (a drag can land on 5.42 exactly, where the stops beside it read 5.37 and 5.5, and the stop itself
5.43), and a double-click on the slider goes back to it.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from PySide6.QtCore import QPoint, Qt, Signal
from PySide6.QtGui import QDoubleValidator, QMouseEvent
from PySide6.QtWidgets import QHBoxLayout, QLineEdit, QSlider, QStyle, QStyleOptionSlider, QToolTip, QWidget

FINE = 0.1  # the handle's speed with Shift held, relative to a normal drag
PIXELS_PER_DECADE = 150  # a normal drag changes a log slider's value tenfold over at least this many pixels


def nice(value: float, digits: int = 3) -> float:
    """Round to a few significant digits, so slider stops read 0.25 rather than 0.2511886."""
    if value <= 0:
        return 0.0
    return float(f"{value:.{digits}g}")


def format_number(value: float) -> str:
    if value == 0:
        return "0"
    if 1e-3 <= abs(value) < 1e5:
        return f"{value:.4g}"
    return f"{value:.2e}"


class FineSlider(QSlider):
    """A horizontal slider whose drag follows the pointer (no faster than ``max_steps_per_pixel``), or a
    tenth of that with Shift held; while it is dragged, ``describe(position)`` shows beside the pointer.
    A double-click emits ``double_clicked``."""

    double_clicked = Signal()

    def __init__(self, describe: Callable[[int], str] | None = None, max_steps_per_pixel: float | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(Qt.Orientation.Horizontal, parent)
        self.describe = describe
        self.max_steps_per_pixel = max_steps_per_pixel  # a narrow slider over a wide range moves slower
        self._drag_x: float | None = None
        self._drag_pos = 0.0

    def _steps_per_pixel(self) -> float:
        opt = QStyleOptionSlider()
        self.initStyleOption(opt)
        handle = self.style().subControlRect(QStyle.ComplexControl.CC_Slider, opt,
                                             QStyle.SubControl.SC_SliderHandle, self)
        span = max(1, self.width() - handle.width())
        steps = (self.maximum() - self.minimum()) / span
        return steps if self.max_steps_per_pixel is None else min(steps, self.max_steps_per_pixel)

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        super().mousePressEvent(event)
        if self.isSliderDown():  # the handle was grabbed: the drag is ours from here
            self._drag_x = event.position().x()
            self._drag_pos = float(self.value())

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if self._drag_x is None:
            super().mouseMoveEvent(event)
            return
        x = event.position().x()
        speed = FINE if event.modifiers() & Qt.KeyboardModifier.ShiftModifier else 1.0
        self._drag_pos += (x - self._drag_x) * speed * self._steps_per_pixel()
        self._drag_pos = min(max(self._drag_pos, float(self.minimum())), float(self.maximum()))
        self._drag_x = x
        self.setValue(round(self._drag_pos))
        if self.describe is not None:
            QToolTip.showText(self.mapToGlobal(QPoint(round(x), -28)), self.describe(self.value()), self)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        self._drag_x = None
        QToolTip.hideText()
        super().mouseReleaseEvent(event)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if event.button() == Qt.MouseButton.LeftButton:
            self.double_clicked.emit()
            event.accept()
            return
        super().mouseDoubleClickEvent(event)


class LogSlider(QWidget):
    """``minimum``..``maximum`` on a log scale; with ``zero_at_minimum`` the leftmost stop means 0 (off).

    ``value`` at construction is the default (``set_default`` changes it): the stop nearest to it reads it exactly,
    and a double-click on the slider sets it (as an edit).

    ``valueEdited(float)`` is emitted when the user moves the slider or types a number, never by
    ``setValue``. Shift while dragging: fine steps (see ``FineSlider``). Typed values may lie outside
    the slider's range (the slider then sits at its end).
    """

    valueEdited = Signal(float)
    STEPS = 1000

    def __init__(
        self,
        minimum: float,
        maximum: float,
        value: float = 1.0,
        *,
        zero_at_minimum: bool = False,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        if not 0 < minimum < maximum:
            raise ValueError("LogSlider needs 0 < minimum < maximum")
        self._lo, self._hi = math.log10(minimum), math.log10(maximum)
        self._zero = zero_at_minimum
        self._value = float(value)
        self._default = self._checked_default(value)
        self._updating = False

        decade = self.STEPS / (self._hi - self._lo)
        self.slider = FineSlider(lambda pos: format_number(self.value_at(pos)), decade / PIXELS_PER_DECADE)
        self.slider.setRange(0, self.STEPS)
        self.slider.setSingleStep(10)
        self.slider.setPageStep(100)
        self.edit = QLineEdit()
        self.edit.setFixedWidth(64)
        self.edit.setAlignment(Qt.AlignmentFlag.AlignRight)
        validator = QDoubleValidator(0.0 if zero_at_minimum else minimum / 1000, maximum * 1000, 6, self.edit)
        validator.setNotation(QDoubleValidator.Notation.ScientificNotation)
        self.edit.setValidator(validator)

        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.slider, 1)
        layout.addWidget(self.edit)

        self.slider.valueChanged.connect(self._on_slider)
        self.slider.double_clicked.connect(self._to_default)
        self.edit.editingFinished.connect(self._on_text)
        self._tip = ""
        self.setToolTip("")
        self._show(self._value)

    # mapping --------------------------------------------------------------------------------
    def position_of(self, value: float) -> int:
        first = 1 if self._zero else 0
        if value <= 0:
            return 0
        t = (math.log10(value) - self._lo) / (self._hi - self._lo)
        t = min(max(t, 0.0), 1.0)
        return first + round(t * (self.STEPS - first))

    def value_at(self, pos: int) -> float:
        first = 1 if self._zero else 0
        if self._zero and pos <= 0:
            return 0.0
        if self._default > 0 and pos == self.position_of(self._default):
            return self._default  # the default's own stop (nice() of the stop's value may miss it: 5.43 for 5.42)
        t = (pos - first) / (self.STEPS - first)
        return nice(10 ** (self._lo + t * (self._hi - self._lo)))

    # public ---------------------------------------------------------------------------------
    def value(self) -> float:
        return self._value

    def setValue(self, value: float) -> None:  # noqa: N802 (Qt naming)
        self._value = float(value)
        self._show(self._value)

    def default(self) -> float:
        return self._default

    def set_default(self, value: float) -> None:
        """The value a double-click goes back to, and a stop of its own."""
        self._default = self._checked_default(value)
        self.setToolTip(self._tip)

    def _checked_default(self, value: float) -> float:
        """A default the slider can show at a stop of its own: in its range (or 0 where the first stop is off); one
        beyond an end would take that end's stop over."""
        value = float(value)
        inside = 10 ** self._lo * (1 - 1e-9) <= value <= 10 ** self._hi * (1 + 1e-9)
        if not (inside or (value == 0 and self._zero)):
            raise ValueError(f"LogSlider's default {value:g} is outside its range "
                             f"{10 ** self._lo:g}..{10 ** self._hi:g}")
        return value

    def setToolTip(self, text: str) -> None:  # noqa: N802
        """``text`` as given; the slider says its default and the double-click too."""
        self._tip = text
        super().setToolTip(text)
        hint = f"Double-click the slider: back to the default, {format_number(self._default)}."
        self.slider.setToolTip(f"{text}\n{hint}" if text else hint)
        self.edit.setToolTip(text)

    # internals ------------------------------------------------------------------------------
    def _show(self, value: float) -> None:
        self._updating = True
        try:
            self.slider.setValue(self.position_of(value))
            self.edit.setText(format_number(value))
        finally:
            self._updating = False

    def _on_slider(self, pos: int) -> None:
        if self._updating:
            return
        self._value = self.value_at(pos)
        self.edit.setText(format_number(self._value))
        self.valueEdited.emit(self._value)

    def _to_default(self) -> None:
        if self._value == self._default:
            return
        self._value = self._default
        self._show(self._value)
        self.valueEdited.emit(self._value)

    def _on_text(self) -> None:
        try:
            value = float(self.edit.text())
        except ValueError:
            self.edit.setText(format_number(self._value))
            return
        if value < 0 or (value == 0 and not self._zero):
            self.edit.setText(format_number(self._value))
            return
        if value == self._value:
            return
        self._value = value
        self._updating = True
        try:
            self.slider.setValue(self.position_of(value))
        finally:
            self._updating = False
        self.edit.setText(format_number(value))
        self.valueEdited.emit(value)
