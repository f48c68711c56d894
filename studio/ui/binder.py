"""One binding per parameter field: the widget, its label for undo, how it reads and shows the value.

A panel calls ``bind(field, widget, label)`` once per field; the binder connects the widget's edit signal,
emits ``edited({field: value}, label, merge_key)`` for an undoable edit, writes a parameters dataclass
back into the widgets without emitting anything (``show``), and gives each widget the field's help text
from the dataclass (``Params.HELP``), so nothing is listed twice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QAbstractSpinBox, QCheckBox, QComboBox, QDoubleSpinBox, QSpinBox, QWidget

from studio.ui.log_slider import LogSlider


def set_combo(combo: QComboBox, value: Any) -> None:
    """Select the item whose data is ``value`` (adding it when the list does not have it)."""
    i = combo.findData(value)
    if i < 0:
        combo.addItem(str(value), value)
        i = combo.count() - 1
    combo.setCurrentIndex(i)


@dataclass
class Binding:
    field: str
    widget: QWidget
    label: str
    merge: bool
    read: Callable[[], Any]
    write: Callable[[Any], None]


def _standard(widget: QWidget) -> tuple[Any, Callable[[], Any], Callable[[Any], None], bool]:
    """(edit signal, read, write, merge by default) of a plain widget."""
    if isinstance(widget, LogSlider):
        return widget.valueEdited, lambda: float(widget.value()), widget.setValue, True
    if isinstance(widget, QCheckBox):
        return widget.toggled, widget.isChecked, widget.setChecked, False
    if isinstance(widget, QSpinBox):
        return widget.valueChanged, lambda: int(widget.value()), widget.setValue, True
    if isinstance(widget, QDoubleSpinBox):
        return widget.valueChanged, lambda: float(widget.value()), widget.setValue, True
    if isinstance(widget, QComboBox):
        return widget.currentIndexChanged, lambda: widget.currentData(), lambda v: set_combo(widget, v), False
    raise TypeError(f"no standard binding for {type(widget).__name__}")


class Binder(QObject):
    """The bindings of one panel to one parameters dataclass."""

    #: (changes, undo text, merge key): one user edit
    edited = Signal(dict, str, str)

    def __init__(self, help_texts: dict[str, str] | None = None, parent: QObject | None = None, *,
                 quiet: Callable[[], bool] | None = None) -> None:
        """``quiet()`` True: the panel is writing into the widgets itself, so nothing is an edit."""
        super().__init__(parent)
        self.help = dict(help_texts or {})
        self._quiet = quiet
        self.bindings: dict[str, Binding] = {}
        self._showing = False

    def bind(self, field: str, widget: QWidget, label: str, *, merge: bool | None = None,
             signal: Any = None, read: Callable[[], Any] | None = None,
             write: Callable[[Any], None] | None = None) -> QWidget:
        """Bind ``field`` to ``widget``; ``signal``/``read``/``write`` replace the standard ones of the widget's
        kind (for a field shown by two widgets, say). Returns the widget."""
        std_signal, std_read, std_write, std_merge = (None, None, None, True) if (
            signal is not None and read is not None and write is not None) else _standard(widget)
        b = Binding(field, widget, label, std_merge if merge is None else merge, read or std_read,
                    write or std_write)
        self.bindings[field] = b
        (signal or std_signal).connect(lambda *_: self._emit(b))
        if isinstance(widget, QAbstractSpinBox):
            widget.setKeyboardTracking(False)  # typing "320" is one edit, not 3, 32, 320
        tip = self.help.get(field)
        if tip:
            widget.setToolTip(tip)
        return widget

    def _emit(self, b: Binding) -> None:
        if not self.showing():
            self.edited.emit({b.field: b.read()}, b.label, b.field if b.merge else "")

    def read(self, field: str) -> Any:
        return self.bindings[field].read()

    def show(self, params: Any) -> None:
        """Write every bound field of ``params`` into its widget, emitting nothing."""
        self._showing = True
        try:
            for b in self.bindings.values():
                b.write(getattr(params, b.field))
        finally:
            self._showing = False

    def showing(self) -> bool:
        """True while ``show`` writes into the widgets (a panel's own handlers stay quiet then)."""
        return self._showing or (self._quiet is not None and self._quiet())
