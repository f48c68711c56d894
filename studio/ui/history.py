"""The history strip: every finished or stopped result with the parameters that made it."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon, QImage, QPixmap
from PySide6.QtWidgets import QAbstractItemView, QListView, QListWidget, QListWidgetItem, QWidget

from studio.ui.job_runner import JobSpec
from studio.ui.qimage import to_qimage

MAX_ENTRIES = 40
THUMB = 88


@dataclass(eq=False)
class HistoryEntry:
    number: int
    image: np.ndarray  # RGB float32 [0, 1]
    spec: JobSpec
    cancelled: bool
    iterations: int
    elapsed_s: float
    losses: dict[str, float] = field(default_factory=dict)
    infos: tuple[str, ...] = ()
    created: float = field(default_factory=time.time)
    extra: dict[str, Any] = field(default_factory=dict)

    def qimage(self) -> QImage:
        return to_qimage(self.image)

    @property
    def label(self) -> str:
        what = "stopped" if self.cancelled else "done"
        return f"#{self.number} {what} \u00b7 {self.iterations} it"


class HistoryStrip(QListWidget):
    """A horizontal strip of thumbnails; clicking one emits ``entry_chosen``."""

    entry_chosen = Signal(object)  # HistoryEntry

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setFlow(QListView.Flow.LeftToRight)
        self.setWrapping(False)
        self.setMovement(QListView.Movement.Static)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setIconSize(QSize(THUMB, THUMB))
        self.setGridSize(QSize(THUMB + 28, THUMB + 26))
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setFixedHeight(THUMB + 48)
        self.setToolTip("History: every finished or stopped run. Click one to see it and get its settings back.")
        self._entries: list[HistoryEntry] = []
        self._count = 0
        self.itemClicked.connect(self._clicked)
        self.itemActivated.connect(self._clicked)

    def entries(self) -> list[HistoryEntry]:
        return list(self._entries)

    def next_number(self) -> int:
        self._count += 1
        return self._count

    def add(self, entry: HistoryEntry, tooltip: str = "") -> QListWidgetItem:
        thumb = entry.qimage().scaled(
            THUMB, THUMB, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
        )
        item = QListWidgetItem(QIcon(QPixmap.fromImage(thumb)), entry.label)
        item.setData(Qt.ItemDataRole.UserRole, entry.number)
        item.setToolTip(tooltip or entry.label)
        item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
        self.insertItem(0, item)  # newest first
        self._entries.insert(0, entry)
        while len(self._entries) > MAX_ENTRIES:
            self._entries.pop()
            self.takeItem(self.count() - 1)
        self.setCurrentItem(item)
        self.scrollToItem(item)
        return item

    def entry_at(self, row: int) -> HistoryEntry:
        return self._entries[row]

    def choose(self, row: int) -> None:
        item = self.item(row)
        self.setCurrentItem(item)
        self._clicked(item)

    def _clicked(self, item: QListWidgetItem) -> None:
        number = item.data(Qt.ItemDataRole.UserRole)
        for entry in self._entries:
            if entry.number == number:
                self.entry_chosen.emit(entry)
                return
