"""[ and ] make a brush smaller and larger, as in painting programs: one helper for every brush in studio."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QWidget

#: each press of ] multiplies the brush size by this, each press of [ divides it
BRUSH_STEP = 1.25


def add_brush_keys(owner: QWidget, grow: Callable[[float], None]) -> None:
    """[ calls ``grow(1 / BRUSH_STEP)`` and ] calls ``grow(BRUSH_STEP)`` while ``owner``'s window is active."""
    for keys, factor in (("[", 1 / BRUSH_STEP), ("]", BRUSH_STEP)):
        sc = QShortcut(QKeySequence(keys), owner)
        sc.setContext(Qt.ShortcutContext.WindowShortcut)
        sc.activated.connect(lambda f=factor: grow(f))
