"""The app's look: Qt's Fusion style with a dark palette (pictures read better on grey)."""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

#: buttons that stay down for a choice (the region tools, the Style tab's look): framed, and the one chosen filled
#: with the palette's highlight (Fusion draws a checked tool button like the others)
CHOICE_BUTTON_STYLE = ("QToolButton { padding: 2px 8px; border: 1px solid #5a5a60; border-radius: 3px; }"
                       " QToolButton:checked { background: #3c78c8; color: white; border-color: #6aa0e0; }")


def apply_theme(app: QApplication) -> None:
    app.setStyle("Fusion")
    p = QPalette()
    base, window, text = QColor(35, 35, 38), QColor(48, 48, 52), QColor(225, 225, 228)
    p.setColor(QPalette.ColorRole.Window, window)
    p.setColor(QPalette.ColorRole.WindowText, text)
    p.setColor(QPalette.ColorRole.Base, base)
    p.setColor(QPalette.ColorRole.AlternateBase, window)
    p.setColor(QPalette.ColorRole.ToolTipBase, QColor(250, 250, 235))
    p.setColor(QPalette.ColorRole.ToolTipText, QColor(20, 20, 20))
    p.setColor(QPalette.ColorRole.Text, text)
    p.setColor(QPalette.ColorRole.Button, QColor(58, 58, 62))
    p.setColor(QPalette.ColorRole.ButtonText, text)
    p.setColor(QPalette.ColorRole.BrightText, QColor(255, 80, 80))
    p.setColor(QPalette.ColorRole.Link, QColor(90, 160, 255))
    p.setColor(QPalette.ColorRole.Highlight, QColor(60, 120, 200))
    p.setColor(QPalette.ColorRole.HighlightedText, QColor(255, 255, 255))
    p.setColor(QPalette.ColorRole.PlaceholderText, QColor(140, 140, 145))
    for role in (QPalette.ColorRole.WindowText, QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText):
        p.setColor(QPalette.ColorGroup.Disabled, role, QColor(120, 120, 125))
    app.setPalette(p)
