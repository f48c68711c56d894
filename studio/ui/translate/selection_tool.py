"""Drawing a rectangle or ellipse selection on the canvas (a ``CanvasTool``)."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QMouseEvent, QPainter, QPen

from studio.selection import Selection, Shape
from studio.ui.canvas import CanvasTool, ImageCanvas


class SelectionTool(CanvasTool):
    """Drag to draw; ``on_done(selection)`` is called on release (None for a click without a drag).
    ``shape`` None disables drawing (the canvas pans as usual)."""

    def __init__(self, on_done: Callable[[Selection | None], None]) -> None:
        self.on_done = on_done
        self.shape: Shape | None = None
        self.feather = 8.0
        self.selection: Selection | None = None
        self._start: QPointF | None = None

    def press(self, canvas: ImageCanvas, pos: QPointF, event: QMouseEvent) -> bool:
        if self.shape is None:
            return False
        self._start = pos
        self.selection = Selection(self.shape, pos.x(), pos.y(), pos.x(), pos.y(), self.feather)
        canvas.update()
        return True

    def move(self, canvas: ImageCanvas, pos: QPointF, event: QMouseEvent) -> None:
        if self._start is not None and self.shape is not None:
            self.selection = Selection(self.shape, self._start.x(), self._start.y(), pos.x(), pos.y(), self.feather)
            canvas.update()

    def release(self, canvas: ImageCanvas, pos: QPointF, event: QMouseEvent) -> None:
        self.move(canvas, pos, event)
        self._start = None
        sel = self.selection if self.selection is not None and not self.selection.is_empty() else None
        self.selection = sel
        canvas.update()
        self.on_done(sel)

    def hover(self, canvas: ImageCanvas, pos: QPointF) -> Qt.CursorShape | None:
        return Qt.CursorShape.CrossCursor if self.shape is not None else None

    def paint(self, canvas: ImageCanvas, painter: QPainter, rect: QRectF) -> None:
        sel = self.selection
        if sel is None:
            return
        left, top, right, bottom = sel.box()
        r = QRectF(canvas.to_widget(QPointF(left, top)), canvas.to_widget(QPointF(right, bottom)))
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        pens = ((QColor(0, 0, 0, 200), Qt.PenStyle.SolidLine), (QColor(255, 255, 255), Qt.PenStyle.DashLine))
        for colour, dash in pens:
            pen = QPen(colour, 1.5, dash)
            painter.setPen(pen)
            painter.setBrush(Qt.BrushStyle.NoBrush)
            if sel.shape == "ellipse":
                painter.drawEllipse(r)
            else:
                painter.drawRect(r)
