"""The recent-files menu, kept in QSettings."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, QSettings, Signal
from PySide6.QtWidgets import QMenu

from studio.ui.settings import get_list

KEY = "recent/files"
MAX_RECENT = 10


class RecentFiles(QObject):
    open_requested = Signal(str)

    def __init__(self, settings: QSettings, menu: QMenu, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.menu = menu
        self.menu.aboutToShow.connect(self.rebuild)
        self.rebuild()

    def paths(self) -> list[str]:
        return get_list(self.settings, KEY)[:MAX_RECENT]

    def add(self, path: str) -> None:
        path = str(Path(path).resolve())
        items = [p for p in self.paths() if p != path]
        items.insert(0, path)
        self.settings.setValue(KEY, items[:MAX_RECENT])
        self.rebuild()

    def clear(self) -> None:
        self.settings.setValue(KEY, [])
        self.rebuild()

    def rebuild(self) -> None:
        self.menu.clear()
        paths = self.paths()
        for i, path in enumerate(paths, 1):
            action = self.menu.addAction(f"&{i % 10}  {Path(path).name}")
            action.setToolTip(path)
            action.setStatusTip(path)
            action.setEnabled(Path(path).exists())
            action.triggered.connect(lambda _=False, p=path: self.open_requested.emit(p))
        if not paths:
            self.menu.addAction("No recent files").setEnabled(False)
        else:
            self.menu.addSeparator()
            self.menu.addAction("Clear the list", self.clear)
