"""The history strip: every finished or stopped result with the parameters that made it.

It is bounded in bytes (``studio.history_budget``), not by a count: older results leave memory for
the kept session on disk (read back when chosen), and the oldest are dropped only past the disk
budget. Each entry names the tab and method that made it; Delete (or the context menu) removes one.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np
from PySide6.QtCore import QPoint, QSize, Qt, Signal
from PySide6.QtGui import QIcon, QImage, QKeyEvent, QPixmap
from PySide6.QtWidgets import QAbstractItemView, QListView, QListWidget, QListWidgetItem, QMenu, QWidget

from studio.history_budget import Held, HistoryBudget, default_budget, plan
from studio.ui.job_runner import JobSpec
from studio.ui.qimage import to_qimage

THUMB = 88


@dataclass(eq=False)
class HistoryEntry:
    number: int
    image: np.ndarray | None  # RGB float32 [0, 1]; None while only on disk (see ``pixels``)
    spec: JobSpec
    cancelled: bool
    iterations: int
    elapsed_s: float
    losses: dict[str, float] = field(default_factory=dict)
    infos: tuple[str, ...] = ()
    created: float = field(default_factory=time.time)
    extra: dict[str, Any] = field(default_factory=dict)
    thumbnail: np.ndarray | None = None  # RGB uint8, at most THUMB px
    #: reads the pixels back from the kept session once they left memory (None: not kept on disk)
    loader: Callable[[], np.ndarray] | None = None
    workspace_title: str = ""
    name: str = ""  # what names it in the strip in place of its job's title (``Workspace.result_name``)
    kept_name: str | None = None  # its pixels' name in the kept session, once written there
    exported_to: str = ""  # the last file it was exported to
    made_here: bool = True  # made in this session (False: restored from the last one)
    nbytes: int = 0  # size of the full-resolution pixels (kept when they leave memory)

    def pixels(self) -> np.ndarray:
        """The full-resolution result (read back from disk if it left memory)."""
        if self.image is None:
            if self.loader is None:
                raise RuntimeError(f"result #{self.number} is no longer kept")
            return self.loader()
        return self.image

    def qimage(self) -> QImage:
        return to_qimage(self.pixels())

    def size_bytes(self) -> int:
        if self.image is not None:
            return int(self.image.nbytes)
        return int(self.nbytes)

    @property
    def method(self) -> str:
        return self.spec.title or self.spec.engine

    @property
    def ended(self) -> str:
        """How it ended: "done · 120 it", "stopped · 40 it", "done" (an instant mode), or "opened file" (a PNG
        opened with its recipe)."""
        if self.extra.get("opened"):
            return "opened file"
        ended = "stopped" if self.cancelled else "done"
        return f"{ended} \u00b7 {self.iterations} it" if self.iterations else ended  # the instant modes iterate none

    @property
    def label(self) -> str:
        """One line that names the tab too (tool tips, notices)."""
        tab = self.workspace_title or self.spec.workspace.title()
        method = self.method
        # "Style transfer" names its tab already; "Fit a picture" gets "Latent: " before it
        first = f"#{self.number} {method}" if tab.lower() in method.lower() else f"#{self.number} {tab}: {method}"
        return f"{first} \u00b7 {self.ended}"

    @property
    def caption(self) -> str:
        """Two short lines under the thumbnail in its tab's strip, where the tab's name says nothing: what made it
        ("#3 Full size 512 px", "#2 Painterly") and how it ended; an opened PNG shows its file's name instead."""
        opened = self.extra.get("opened")
        if opened:
            name = str(opened).removeprefix("Opened ")
            return f"#{self.number} Opened\n{name}"
        tab = self.workspace_title or self.spec.workspace.title()
        method = self.name or self.method
        for sep in (": ", " \u00b7 "):
            if method.lower().startswith(tab.lower() + sep):
                method = method[len(tab) + len(sep):]
        return f"#{self.number} {method}\n{self.ended}"


def make_thumbnail(image: np.ndarray) -> np.ndarray:
    h, w = image.shape[:2]
    scale = min(1.0, THUMB / max(h, w, 1))
    small = cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    return np.clip(small * 255.0 + 0.5, 0, 255).astype(np.uint8)


class HistoryStrip(QListWidget):
    """A horizontal strip of thumbnails; clicking one emits ``entry_chosen``."""

    entry_chosen = Signal(object)  # HistoryEntry
    delete_requested = Signal(object)  # HistoryEntry (Delete key or the context menu)
    entries_dropped = Signal(list)  # [HistoryEntry]: dropped for the budget
    changed = Signal()  # an entry added, removed or moved out of memory

    def __init__(self, parent: QWidget | None = None, budget: HistoryBudget | None = None) -> None:
        super().__init__(parent)
        self.budget = budget or default_budget()
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setFlow(QListView.Flow.LeftToRight)
        self.setWrapping(False)
        self.setWordWrap(False)  # each line is fitted to the cell (``fitted``): a wrapped third line was cut off
        self.setMovement(QListView.Movement.Static)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setIconSize(QSize(THUMB, THUMB))
        self.setGridSize(QSize(THUMB + 64, THUMB + 40))
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.customContextMenuRequested.connect(self._context_menu)
        self.setFixedHeight(THUMB + 62)
        self.setToolTip("History: every finished or stopped run of this tab. Click one to see it and get its "
                        "settings back; Delete removes it.")
        self._entries: list[HistoryEntry] = []
        self._bulk = False
        self.itemClicked.connect(self._clicked)
        self.itemActivated.connect(self._clicked)

    def entries(self) -> list[HistoryEntry]:
        return list(self._entries)

    def fitted(self, text: str) -> str:
        """``text`` with each line shortened to the cell's width: a file's name in the middle ("tubin…_v2.png"),
        anything else at its end ("#7 Poisson, see-thr…"); the tool tip has it whole."""
        metrics = self.fontMetrics()
        width = self.gridSize().width() - 8
        return "\n".join(metrics.elidedText(line, Qt.TextElideMode.ElideMiddle if "." in line[-5:] else
                                             Qt.TextElideMode.ElideRight, width) for line in text.split("\n"))

    def add(self, entry: HistoryEntry, tooltip: str = "") -> QListWidgetItem:
        if entry.thumbnail is None:
            entry.thumbnail = make_thumbnail(entry.pixels())
        item = QListWidgetItem(QIcon(QPixmap.fromImage(to_qimage(entry.thumbnail.astype(np.float32) / 255.0))),
                               self.fitted(entry.caption))
        item.setData(Qt.ItemDataRole.UserRole, entry.number)
        item.setToolTip(tooltip or entry.label)
        item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
        self.insertItem(0, item)  # newest first
        self._entries.insert(0, entry)
        self.setCurrentItem(item)
        if self._bulk:  # scrolling and the budget once, after the last (each goes over the whole strip)
            return item
        self.scrollToItem(item)
        self.apply_budget()
        self.changed.emit()
        return item

    @contextlib.contextmanager
    def bulk(self) -> Iterator[None]:
        """Many ``add`` calls in a row (a kept session's results): the strip scrolls and applies its budget once at
        the end, not after each (3,000 kept results took about a minute to come back, each add going over the strip)."""
        self._bulk = True
        try:
            yield
        finally:
            self._bulk = False
            if self.count():
                self.scrollToItem(self.item(0))
            self.apply_budget()
            self.changed.emit()

    def refresh(self, entry: HistoryEntry) -> None:
        """Show ``entry``'s picture anew in its thumbnail (its picture was re-derived, e.g. faded)."""
        entry.thumbnail = make_thumbnail(entry.pixels())
        for row in range(self.count()):
            item = self.item(row)
            if item.data(Qt.ItemDataRole.UserRole) == entry.number:
                item.setIcon(QIcon(QPixmap.fromImage(to_qimage(entry.thumbnail.astype(np.float32) / 255.0))))
        self.changed.emit()

    def apply_budget(self) -> None:
        """Move older results out of memory, or drop them, past the budget (the newest always stays)."""
        held = [Held(e.size_bytes() if e.image is not None else 0, e.size_bytes(), e.loader is not None)
                for e in self._entries]
        spill, drop = plan(held, self.budget)
        for i in spill:
            e = self._entries[i]
            e.nbytes = e.size_bytes()
            e.image = None
        dropped = [self._entries[i] for i in drop]
        for e in dropped:
            self.remove(e, quiet=True)
        if dropped:
            self.entries_dropped.emit(dropped)
        if spill or dropped:
            self.changed.emit()

    def remove(self, entry: HistoryEntry, *, quiet: bool = False) -> None:
        if entry not in self._entries:
            return
        row = self._entries.index(entry)
        self._entries.pop(row)
        self.takeItem(row)
        if not quiet:
            self.changed.emit()

    def entry_at(self, row: int) -> HistoryEntry:
        return self._entries[row]

    def mark(self, entry: HistoryEntry | None) -> None:
        """Highlight ``entry`` as the result shown (None: none is), without choosing it."""
        row = self._entries.index(entry) if entry in self._entries else -1
        if row < 0:
            self.clearSelection()
            self.setCurrentItem(None)
        else:
            self.setCurrentRow(row)

    def choose(self, row: int) -> None:
        item = self.item(row)
        self.setCurrentItem(item)
        self._clicked(item)

    def _clicked(self, item: QListWidgetItem) -> None:
        entry = self._entry_of(item)
        if entry is not None:
            self.entry_chosen.emit(entry)

    def _entry_of(self, item: QListWidgetItem | None) -> HistoryEntry | None:
        if item is None:
            return None
        number = item.data(Qt.ItemDataRole.UserRole)
        return next((e for e in self._entries if e.number == number), None)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        if event.key() in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace):
            entry = self._entry_of(self.currentItem())
            if entry is not None:
                self.delete_requested.emit(entry)
                return
        super().keyPressEvent(event)

    def _context_menu(self, pos: QPoint) -> None:
        entry = self._entry_of(self.itemAt(pos))
        if entry is None:
            return
        menu = QMenu(self)
        menu.addAction(f"Show result #{entry.number}", lambda: self.entry_chosen.emit(entry))
        menu.addAction(f"Delete result #{entry.number}", lambda: self.delete_requested.emit(entry))
        menu.exec(self.mapToGlobal(pos))
