"""The Harmonize workspace on the canvas: drag the object to move it, its corner handles to scale it and
the round handle above it to turn it (or Ctrl + wheel to scale, Shift + wheel to rotate), and the mask
overlays (tight mask red, loose mask ring blue) with the object's outline."""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QImage, QMouseEvent, QPainter, QPen, QPolygonF, QWheelEvent

from studio.compositing import (
    Transform,
    contains,
    layer_corners,
    rotation_from_handle_drag,
    rotation_handle,
    scale_from_corner_drag,
)
from studio.ui.canvas import CanvasTool, ImageCanvas
from studio.ui.qimage import to_qimage

if TYPE_CHECKING:
    from studio.ui.harmonize.workspace import HarmonizeWorkspace

WHEEL_SCALE_STEP = 1.05  # per wheel notch
WHEEL_ROTATE_STEP = 2.0  # degrees per wheel notch
TIGHT_RGBA = (230, 50, 50, 110)
LOOSE_RGBA = (60, 140, 255, 90)
HANDLE_PX = 4.0  # half the side of a corner handle, in screen pixels
ROTATE_REACH_PX = 26.0  # the rotation handle's distance above the object's top edge, in screen pixels
GRAB_PX = 8.0  # a press this close to a handle (screen pixels) takes it


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
        self._grip = "move"  # move | scale | rotate: what the press took
        self._overlay_key: tuple[int, int] | None = None
        self._overlay: QImage | None = None

    def _showing_composite(self, canvas: ImageCanvas) -> bool:
        return canvas.after() is None or canvas.holding_before()

    def _handles_shown(self, canvas: ImageCanvas) -> bool:
        state = self.ws.state()
        return (state.layer is not None and state.painting is not None and self._showing_composite(canvas)
                and not canvas.split_mode() and canvas.document_size() == QSize(*state.painting.size))

    def handle_at(self, canvas: ImageCanvas, pos: QPointF) -> tuple[str, int] | None:
        """("rotate", 0) or ("scale", corner) for a handle under the painting point ``pos``, else None."""
        layer = self.ws.state().layer
        if layer is None or not self._handles_shown(canvas):
            return None
        z = max(canvas.zoom(), 1e-6)
        grab = GRAB_PX / z  # in painting pixels
        hx, hy = rotation_handle(layer, ROTATE_REACH_PX / z)
        if abs(pos.x() - hx) <= grab and abs(pos.y() - hy) <= grab:
            return ("rotate", 0)
        for i, (x, y) in enumerate(layer_corners(layer)):
            if abs(pos.x() - x) <= grab and abs(pos.y() - y) <= grab:
                return ("scale", i)
        return None

    # interaction -----------------------------------------------------------------------------------
    def press(self, canvas: ImageCanvas, pos: QPointF, event: QMouseEvent) -> bool:
        self.canvas = canvas
        layer = self.ws.state().layer
        if layer is None:
            return False
        handle = self.handle_at(canvas, pos)
        if handle is None and not contains(layer, pos.x(), pos.y()):
            return False
        self._grip = "move" if handle is None else handle[0]
        self._start_pos = QPointF(pos)
        self._start = layer.transform
        self._drag_key = f"drag:{next(self._drag_ids)}"
        canvas.setCursor(Qt.CursorShape.SizeAllCursor if handle is None else self._handle_cursor(handle))
        return True

    def move(self, canvas: ImageCanvas, pos: QPointF, event: QMouseEvent) -> None:
        t = self._start
        if t is None:
            return
        grab, now = (self._start_pos.x(), self._start_pos.y()), (pos.x(), pos.y())
        if self._grip == "scale":
            self.ws.set_transform({"scale": round(scale_from_corner_drag(t, grab, now), 4)}, "Scale the object",
                                  self._drag_key)
        elif self._grip == "rotate":
            self.ws.set_transform({"rotation": round(rotation_from_handle_drag(t, grab, now), 2)},
                                  "Rotate the object", self._drag_key)
        else:
            d = pos - self._start_pos
            self.ws.set_transform({"x": round(t.x + d.x(), 1), "y": round(t.y + d.y(), 1)}, "Move the object",
                                  self._drag_key)

    def _handle_cursor(self, handle: tuple[str, int]) -> Qt.CursorShape:
        layer = self.ws.state().layer
        if handle[0] == "rotate" or layer is None:
            return Qt.CursorShape.CrossCursor
        x, y = layer_corners(layer)[handle[1]]
        dx, dy = x - layer.transform.x, y - layer.transform.y  # the corner as seen from the centre
        return Qt.CursorShape.SizeFDiagCursor if dx * dy > 0 else Qt.CursorShape.SizeBDiagCursor

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
        handle = self.handle_at(canvas, pos)
        if handle is not None:
            return self._handle_cursor(handle)
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
        if canvas.split_mode():
            return
        # the free-transform handles: a square at each corner (scale), a round one above the top (rotate)
        hx, hy = rotation_handle(state.layer, ROTATE_REACH_PX / max(canvas.zoom(), 1e-6))
        knob = QPointF(rect.left() + hx * z, rect.top() + hy * z)
        top_mid = (corners[0] + corners[1]) / 2
        painter.setPen(QPen(QColor(255, 255, 255, 220), 1.0))
        painter.drawLine(top_mid, knob)
        painter.setPen(QPen(QColor(0, 0, 0, 200), 1.0))
        painter.setBrush(QColor(255, 255, 255, 235))
        painter.drawEllipse(knob, HANDLE_PX + 1, HANDLE_PX + 1)
        for c in corners:
            painter.drawRect(QRectF(c.x() - HANDLE_PX, c.y() - HANDLE_PX, 2 * HANDLE_PX, 2 * HANDLE_PX))

    def refresh(self) -> None:
        if self.canvas is not None:
            self.canvas.update()
