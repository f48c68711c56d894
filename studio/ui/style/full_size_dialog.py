"""Render at full size: the dialog that asks the long side and tells the time before the render starts."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QFormLayout, QLabel, QSpinBox, QVBoxLayout, QWidget

#: the most the dialog offers first: a print at about 17 cm at 300 dpi (a larger photo renders at this unless asked)
DEFAULT_SIDE = 2048

Estimate = Callable[[int], tuple[tuple[int, int], float | None]]


def duration_words(seconds: float) -> str:
    """A rough duration as a person says it: 40 s, 12 min, 1 h 05 min."""
    if seconds < 90:
        return f"{max(1, round(seconds))} s"
    minutes = round(seconds / 60)
    return f"{minutes} min" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d} min"


def describe_estimate(hw: tuple[int, int], seconds: float | None, iterations: int) -> str:
    time_words = ("the time shows once it has started" if seconds is None
                  else f"about {duration_words(seconds)} on this machine")
    return f"{hw[1]} \u00d7 {hw[0]} px, {iterations} iterations: {time_words}."


def first_side(preview_side: int, photo_side: int | None, highest: int) -> int:
    """The long side the dialog offers first: the photo's own, up to ``DEFAULT_SIDE`` (an artist reads "full size"
    as the photo's size: a 600 px photo was offered 2048 px, 18 minutes of upscaling); for a photo no larger than
    the preview, twice the preview; the range is the preview's size + 1 to ``highest``."""
    if photo_side is None:
        side = max(DEFAULT_SIDE, 2 * preview_side)
    elif photo_side > preview_side:
        side = min(photo_side, DEFAULT_SIDE)
    else:
        side = 2 * preview_side
    return min(highest, max(side, preview_side + 1))


class FullSizeDialog(QDialog):
    """Long side of the render (larger than the preview, at most what this machine's memory allows) and the
    time it will take, updated as the size changes."""

    def __init__(self, preview_side: int, iterations: int, estimate: Estimate, highest: int,
                 parent: QWidget | None = None, photo_size: tuple[int, int] | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Render at full size")
        self.setMinimumWidth(420)
        self._estimate = estimate
        self._iterations = iterations
        self._photo = photo_size  # (width, height) of the photo the result was made from
        self.side = QSpinBox()
        self.side.setRange(preview_side + 1, highest)
        self.side.setSingleStep(256)
        self.side.setSuffix(" px")
        self.side.setValue(first_side(preview_side, None if photo_size is None else max(photo_size), highest))
        self.side.setToolTip(f"Long side of the picture; up to {highest} px fit this machine's memory.")
        self.estimate_label = QLabel()
        self.estimate_label.setWordWrap(True)
        photo_words = "" if photo_size is None else f" The photo is {photo_size[0]} \u00d7 {photo_size[1]} px."
        intro = QLabel(f"Refines this {preview_side} px result at a larger size: only the final scale runs, "
                       f"starting from it, so the look stays and the brushwork gets finer.{photo_words}")
        intro.setWordWrap(True)
        form = QFormLayout()
        form.addRow("Long side", self.side)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Render")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.estimate_label)
        layout.addWidget(buttons)
        self.side.valueChanged.connect(self._update)
        self._update()

    def _update(self) -> None:
        hw, seconds = self._estimate(self.side.value())
        text = describe_estimate(hw, seconds, self._iterations)
        if self._photo is not None and self.side.value() > max(self._photo):
            text += " Larger than the photo: the strokes get finer, the photo's own detail does not grow."
        self.estimate_label.setText(text)
