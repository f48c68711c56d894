"""A message bar above the canvas: errors and notices in the window, not in modal pop-ups."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QToolButton, QWidget

STYLES = {
    "info": "background:#23415c; color:#e8f1fb;",
    "warning": "background:#5c4a1c; color:#fff4d6;",
    "error": "background:#6b2424; color:#ffe3e3;",
}



def in_one_line(exc: BaseException, limit: int = 200) -> str:
    """An exception's sentence for a notice: on one line, without its closing full stop, cut at ``limit``
    characters (a message from someone else's file can be of any length)."""
    text = " ".join(str(exc).split()).rstrip(".") or type(exc).__name__
    return text if len(text) <= limit else text[:limit - 1] + "\u2026"

class NoticeBar(QFrame):
    """Shows one message at a time; info messages go away by themselves, the others stay until closed."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("NoticeBar")
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        close = QToolButton()
        close.setText("\u2715")
        close.setToolTip("Dismiss")
        close.setAutoRaise(True)
        close.clicked.connect(self.hide)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 6, 6)
        layout.addWidget(self.label, 1)
        layout.addWidget(close)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.hide)
        self.level = ""
        self.hide()

    def show_message(self, text: str, level: str = "info", timeout_ms: int | None = None) -> None:
        self.level = level
        self.label.setText(text)
        self.setStyleSheet(f"#NoticeBar {{{STYLES.get(level, STYLES['info'])} border-radius:4px;}}"
                           f" QLabel {{{STYLES.get(level, STYLES['info'])}}}")
        self.show()
        if timeout_ms is None:
            timeout_ms = 8000 if level == "info" else 0
        if timeout_ms:
            self._timer.start(timeout_ms)
        else:
            self._timer.stop()

    def text(self) -> str:
        return self.label.text() if self.isVisibleTo(self.parentWidget()) else ""
