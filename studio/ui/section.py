"""A titled group of controls that folds open and shut."""

from __future__ import annotations

from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QSizePolicy, QToolButton, QVBoxLayout, QWidget


class Section(QWidget):
    def __init__(self, title: str, content: QWidget, *, expanded: bool = True, tooltip: str = "",
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.button = QToolButton()
        self.button.setText(title)
        self.button.setCheckable(True)
        self.button.setChecked(expanded)
        self.button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.button.setArrowType(Qt.ArrowType.DownArrow if expanded else Qt.ArrowType.RightArrow)
        self.button.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.button.setStyleSheet("QToolButton { border: none; font-weight: bold; padding: 4px 0; }")
        if tooltip:
            self.button.setToolTip(tooltip)
        self.content = content
        self.content.setVisible(expanded)
        line = QFrame()
        line.setFrameShape(QFrame.Shape.HLine)
        line.setFrameShadow(QFrame.Shadow.Sunken)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(line)
        layout.addWidget(self.button)
        layout.addWidget(self.content)
        self.button.toggled.connect(self.set_expanded)

    def set_expanded(self, on: bool) -> None:
        self.button.setChecked(on)
        self.button.setArrowType(Qt.ArrowType.DownArrow if on else Qt.ArrowType.RightArrow)
        self.content.setVisible(on)

    def is_expanded(self) -> bool:
        return self.button.isChecked()


def remember_sections(panel: QWidget, settings: QSettings, prefix: str) -> None:
    """Every section of ``panel`` opens or stays shut as the user left it, from one start to the next (each start
    folded them back to how the panel was built: an artist who keeps Network layers open opened it every time)."""
    for section in panel.findChildren(Section):
        key = f"{prefix}/{section.button.text()}"
        saved = settings.value(key)
        if saved is not None:
            section.set_expanded(str(saved).lower() in ("true", "1"))
        section.button.toggled.connect(lambda on, k=key: settings.setValue(k, bool(on)))


def row(*widgets: QWidget) -> QWidget:
    """Widgets side by side, without margins (one line of a panel)."""
    w = QWidget()
    lay = QHBoxLayout(w)
    lay.setContentsMargins(0, 0, 0, 0)
    for x in widgets:
        lay.addWidget(x)
    return w
