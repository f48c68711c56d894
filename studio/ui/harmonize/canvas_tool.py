"""The Harmonize workspace on the canvas: drag the object, Ctrl + wheel to scale, Shift + wheel to rotate,
and the mask overlays (tight mask red, loose mask ring blue) with the object's outline."""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QImage, QMouseEvent, QPainter, QPen, QPolygonF, QWheelEvent

from studio.compositing import Transform, contains, layer_corners
from studio.ui.canvas import CanvasTool, ImageCanvas
from studio.ui.qimage import to_qimage

if TYPE_CHECKING:
    from studio.ui.harmonize.workspace import HarmonizeWorkspace

WHEEL_SCALE_STEP = 1.05  # per wheel notch
WHEEL_ROTATE_STEP = 2.0  # degrees per wheel notch
TIGHT_RGBA = (230, 50, 50, 110)
LOOSE_RGBA = (60, 140, 255, 90)


def masks_overlay(tight: np.ndarray, loose: np.ndarray | None) -> QImage:
    """Tight mask tinted red; the loose mask's ring around it tinted blue; the rest clear."""
    h, w = tight.shape
    rgba = np.zeros((h, w, 4), np.uint8)
    if loose is not None:
        ring = (loose >= 0.5) & (tight < 0.5)
        rgba[ring] = LOOSE_RGBA
    rgba[tight >= 0.5] = TIGHT_RGBA
    return to_qimage(rgba)


class HarmonizeCanvasTool(CanvasTool):
    """Moves, scales and rotates the workspace's object on the canvas; draws the overlays."""

    def __init__(self, workspace: HarmonizeWorkspace) -> None:
        self.ws = workspace
        self.canvas: ImageCanvas | None = None
        self._drag_ids = itertools.count(1)
        self._drag_key = ""
        self._start_pos = QPointF()
        self._start: Transform | None = None
        self._overlay_key: tuple[int, int] | None = None
        self._overlay: QImage | None = None

    def _showing_composite(self, canvas: ImageCanvas) -> bool:
        return canvas.after() is None or canvas.holding_before()

    # interaction -----------------------------------------------------------------------------------
    def press(self, canvas: ImageCanvas, pos: QPointF, event: QMouseEvent) -> bool:
        self.canvas = canvas
        layer = self.ws.state().layer
        if layer is None or not contains(layer, pos.x(), pos.y()):
            return False
        self._start_pos = QPointF(pos)
        self._start = layer.transform
        self._drag_key = f"drag:{next(self._drag_ids)}"
        canvas.setCursor(Qt.CursorShape.SizeAllCursor)
        return True

    def move(self, canvas: ImageCanvas, pos: QPointF, event: QMouseEvent) -> None:
        if self._start is None:
            return
        d = pos - self._start_pos
        self.ws.set_transform(
            {"x": round(self._start.x + d.x(), 1), "y": round(self._start.y + d.y(), 1)},
            "Move the object", self._drag_key,
        )

    def release(self, canvas: ImageCanvas, pos: QPointF, event: QMouseEvent) -> None:
        self._start = None
        canvas.unsetCursor()

    def wheel(self, canvas: ImageCanvas, pos: QPointF, event: QWheelEvent) -> bool:
        self.canvas = canvas
        layer = self.ws.state().layer
        mods = event.modifiers()
        if layer is None or not (mods & (Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)):
            return False
        delta = event.angleDelta().y() or event.angleDelta().x()  # Shift turns the wheel sideways on some systems
        steps = delta / 120.0
        t = layer.transform
        if mods & Qt.KeyboardModifier.ControlModifier:
            self.ws.set_transform({"scale": round(t.scale * WHEEL_SCALE_STEP**steps, 4)}, "Scale the object",
                                  "wheel-scale")
        else:
            rotation = (t.rotation + WHEEL_ROTATE_STEP * steps + 180.0) % 360.0 - 180.0
            self.ws.set_transform({"rotation": round(rotation, 2)}, "Rotate the object", "wheel-rotate")
        return True

    def hover(self, canvas: ImageCanvas, pos: QPointF) -> Qt.CursorShape | None:
        layer = self.ws.state().layer
        if layer is not None and contains(layer, pos.x(), pos.y()):
            return Qt.CursorShape.OpenHandCursor
        return None

    # drawing ---------------------------------------------------------------------------------------
    def paint(self, canvas: ImageCanvas, painter: QPainter, rect: QRectF) -> None:
        """Masks (when asked for) over the composite or a result; the object's outline over the composite."""
        self.canvas = canvas
        state = self.ws.state()
        if state.layer is None or state.painting is None:
            return
        if canvas.split_mode() and canvas.after() is not None and not canvas.holding_before():
            return
        w, h = state.painting.size
        if canvas.document_size() != QSize(w, h):
            return  # a picture of another size is shown
        comp = self.ws.composition(state)
        if comp is None:
            return
        if self.ws.show_masks:
            key = (id(comp.tight), id(comp.loose))
            if key != self._overlay_key:
                self._overlay = masks_overlay(comp.tight, comp.loose)
                self._overlay_key = key
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
            painter.drawImage(rect, self._overlay)
        if not self._showing_composite(canvas):
            return
        z = rect.width() / max(state.painting.rgb.shape[1], 1)
        corners = [QPointF(rect.left() + x * z, rect.top() + y * z) for x, y in layer_corners(state.layer)]
        poly = QPolygonF(corners)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.setPen(QPen(QColor(0, 0, 0, 160), 1.0))
        painter.drawPolygon(poly)
        painter.setPen(QPen(QColor(255, 255, 255, 220), 1.0, Qt.PenStyle.DashLine))
        painter.drawPolygon(poly)
        centre = QPointF(rect.left() + state.layer.transform.x * z, rect.top() + state.layer.transform.y * z)
        painter.setPen(QPen(QColor(255, 255, 255, 220), 1.0))
        painter.drawLine(centre - QPointF(5, 0), centre + QPointF(5, 0))
        painter.drawLine(centre - QPointF(0, 5), centre + QPointF(0, 5))

    def refresh(self) -> None:
        if self.canvas is not None:
            self.canvas.update()
