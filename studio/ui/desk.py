"""A tab's desk: its own canvas, progress bar, loss plot and history strip, and its current result.

Each workspace has one desk; the window shows the desk of the current tab. A job's progress, previews
and result go to the desk of the workspace that started it, whichever tab is shown, so a Style result
never lands in the Harmonize history and a picture opened in one tab never shows under another's caption.
"""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QVBoxLayout, QWidget

from studio.ui.canvas import ImageCanvas
from studio.ui.history import HistoryEntry, HistoryStrip
from studio.ui.loss_plot import LossPlot


class NoteLabel(QLabel):
    """A one-line note that asks for no more than ``MAX_WIDTH`` (and its desk for no more than a third of its
    width) and is cut with an ellipsis where it gets less (the whole note in its tooltip and ``text()``): a long
    note never widens the window nor squeezes the progress bar beside it."""

    MAX_WIDTH = 480

    def __init__(self) -> None:
        super().__init__()
        self._full = ""

    def text(self) -> str:  # type: ignore[override]
        return self._full

    def setText(self, text: str) -> None:  # type: ignore[override]  # noqa: N802
        self._full = text
        self.setToolTip(text)
        self._elide()
        self.updateGeometry()

    def sizeHint(self) -> QSize:  # noqa: N802
        width = self.fontMetrics().horizontalAdvance(self._full) + 16 if self._full else 0  # and the padding
        return QSize(min(width, self.MAX_WIDTH), super().sizeHint().height())

    def minimumSizeHint(self) -> QSize:  # noqa: N802
        return QSize(0, super().minimumSizeHint().height())

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        room = max(0, self.contentsRect().width() - 2)
        super().setText(self.fontMetrics().elidedText(self._full, Qt.TextElideMode.ElideRight, room))


class Desk(QWidget):
    """The right-hand side of one tab (everything but the shared notice bar)."""

    def __init__(self, name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self.result: HistoryEntry | None = None  # the result shown (and exported) in this tab
        #: the result an edit of the picture hid, and the picture it was shown on: an undo back to that picture
        #: shows it again
        self.hidden: tuple[HistoryEntry, object] | None = None
        self.canvas = ImageCanvas()
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.progress.setFormat("Ready")
        self.progress.setValue(0)
        self.progress.setToolTip("Progress of this tab's run")
        #: short feedback about the running job (what a live edit did), beside its progress bar
        self.job_note = NoteLabel()
        self.job_note.setStyleSheet("color: #9fc7e8; padding-left: 6px;")
        self.job_note.setAlignment(Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft)
        self.loss_plot = LossPlot()
        self.loss_plot.setFixedWidth(360)
        self.history = HistoryStrip()
        self.history_label = QLabel("History (click to restore; Delete removes)")

        progress_row = QHBoxLayout()
        progress_row.setContentsMargins(0, 0, 0, 0)
        progress_row.addWidget(self.progress, 1)
        progress_row.addWidget(self.job_note)
        bottom = QHBoxLayout()
        bottom.setContentsMargins(0, 0, 0, 0)
        history_box = QVBoxLayout()
        history_box.setSpacing(2)
        history_box.addWidget(self.history_label)
        history_box.addWidget(self.history)
        bottom.addLayout(history_box, 1)
        plot_box = QVBoxLayout()
        plot_box.setSpacing(2)
        plot_box.addWidget(QLabel("Loss"))
        plot_box.addWidget(self.loss_plot, 1)
        bottom.addLayout(plot_box)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addWidget(self.canvas, 1)
        layout.addLayout(progress_row)
        layout.addLayout(bottom)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802
        super().resizeEvent(event)
        self.job_note.setMaximumWidth(max(120, self.width() // 3))

    def show_job_note(self, text: str) -> None:
        self.job_note.setText(text)
