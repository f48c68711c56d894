"""A slider on a logarithmic scale whose number is shown and can be typed."""

from __future__ import annotations

import math

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QDoubleValidator
from PySide6.QtWidgets import QHBoxLayout, QLineEdit, QSlider, QWidget


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


class LogSlider(QWidget):
    """``minimum``..``maximum`` on a log scale; with ``zero_at_minimum`` the leftmost stop means 0 (off).

    ``valueEdited(float)`` is emitted when the user moves the slider or types a number, never by
    ``setValue``. Typed values may lie outside the slider's range (the slider then sits at its end).
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
        self._updating = False

        self.slider = QSlider(Qt.Orientation.Horizontal)
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
        self.edit.editingFinished.connect(self._on_text)
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
        t = (pos - first) / (self.STEPS - first)
        return nice(10 ** (self._lo + t * (self._hi - self._lo)))

    # public ---------------------------------------------------------------------------------
    def value(self) -> float:
        return self._value

    def setValue(self, value: float) -> None:  # noqa: N802 (Qt naming)
        self._value = float(value)
        self._show(self._value)

    def setToolTip(self, text: str) -> None:  # noqa: N802
        super().setToolTip(text)
        self.slider.setToolTip(text)
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
