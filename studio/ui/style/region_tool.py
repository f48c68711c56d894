"""Painting the Style tab's regions on the canvas: brush, eraser, rectangle, ellipse and lasso, and the regions'
coloured overlays. The masks themselves are made by ``studio.region_paint``; every stroke or selection is one
undoable edit of the workspace (``StyleWorkspace.paint_region``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import cv2
import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QImage, QMouseEvent, QPainter, QPainterPath, QPen

from studio.region_paint import (
    COLOURS,
    MAX_RADIUS,
    MIN_RADIUS,
    PaintedRegion,
    lasso_layer,
    mode_for,
    shape_layer,
    stroke_layer,
)
from studio.selection import Selection
from studio.ui.canvas import CanvasTool, ImageCanvas
from studio.ui.qimage import to_qimage

if TYPE_CHECKING:
    from studio.ui.style.workspace import StyleWorkspace

TOOLS = ("none", "brush", "erase", "rect", "ellipse", "lasso")
OVERLAY_ALPHA = 110


@dataclass
class RegionTools:
    """What the Regions section has chosen: the region being painted, the tool and the brush."""

    active: int = -1
    tool: str = "none"
    radius: float = 24.0
    hardness: float = 0.6
    show: bool = True

    def grow(self, factor: float) -> None:
        self.radius = float(np.clip(self.radius * factor, MIN_RADIUS, MAX_RADIUS))


def regions_overlay(regions: tuple[PaintedRegion, ...]) -> QImage | None:
    """The visible regions, each tinted with its colour (later ones over earlier ones)."""
    shown = [r for r in regions if r.visible and not r.is_empty()]
    if not shown:
        return None
    h, w = shown[0].mask.shape
    rgb = np.zeros((h, w, 3), np.float32)
    alpha = np.zeros((h, w), np.float32)
    for r in shown:
        a = r.mask.astype(np.float32) / 255.0 * (OVERLAY_ALPHA / 255.0)
        rgb = rgb * (1 - a[..., None]) + np.array(COLOURS[r.colour % len(COLOURS)], np.float32) * a[..., None]
        alpha = alpha + a * (1 - alpha)
    out = np.zeros((h, w, 4), np.uint8)
    out[..., :3] = np.clip(rgb / np.maximum(alpha[..., None], 1e-6), 0, 255).astype(np.uint8)
    out[..., 3] = (alpha * 255).astype(np.uint8)
    return to_qimage(out)


def regions_outlines(regions: tuple[PaintedRegion, ...]) -> list[tuple[QColor, QPainterPath]]:
    """Each visible region's outline (where its mask crosses half) as a path in photo pixels, with its colour: the
    tint alone hardly showed where a region's colour is the photo's (the red first region over a red saucer)."""
    out = []
    for r in regions:
        if not r.visible or r.is_empty():
            continue
        contours, _ = cv2.findContours((r.mask >= 128).astype(np.uint8), cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
        path = QPainterPath()
        for c in contours:
            pts = c.reshape(-1, 2).astype(np.float64) + 0.5  # pixel centres
            path.moveTo(float(pts[0, 0]), float(pts[0, 1]))
            for x, y in pts[1:]:
                path.lineTo(float(x), float(y))
            path.closeSubpath()
        out.append((QColor(*COLOURS[r.colour % len(COLOURS)]), path))
    return out


class RegionCanvasTool(CanvasTool):
    """Drag to paint the active region with the chosen tool; Shift adds a selection, Alt subtracts it."""

    def __init__(self, workspace: StyleWorkspace, tools: RegionTools) -> None:
        self.ws = workspace
        self.tools = tools
        self._points: list[tuple[float, float]] = []
        self._start: QPointF | None = None
        self._now: QPointF | None = None
        self._mode = "replace"
        self._hover: QPointF | None = None
        self._overlay_key: tuple[int, ...] | None = None
        self._overlay: QImage | None = None
        self._outlines: list[tuple[QColor, QPainterPath]] = []
        self.canvas: ImageCanvas | None = None  # the canvas this tool was last drawn on

    def refresh(self) -> None:
        """Draw again (the regions or the tools changed)."""
        if self.canvas is not None:
            self.canvas.update()

    def _painting(self) -> bool:
        s = self.ws.state()
        return self.tools.tool != "none" and s.content is not None and 0 <= self.tools.active < len(s.regions)

    # interaction -----------------------------------------------------------------------------------
    def press(self, canvas: ImageCanvas, pos: QPointF, event: QMouseEvent) -> bool:
        if not self._painting():
            return False
        mods = event.modifiers()
        self._mode = mode_for(bool(mods & Qt.KeyboardModifier.ShiftModifier),
                              bool(mods & Qt.KeyboardModifier.AltModifier))
        self._start = QPointF(pos)
        self._now = QPointF(pos)
        self._points = [(pos.x(), pos.y())]
        canvas.update()
        return True

    def move(self, canvas: ImageCanvas, pos: QPointF, event: QMouseEvent) -> None:
        if self._start is None:
            return
        self._now = QPointF(pos)
        self._points.append((pos.x(), pos.y()))
        canvas.update()

    def release(self, canvas: ImageCanvas, pos: QPointF, event: QMouseEvent) -> None:
        if self._start is None:
            return
        self.move(canvas, pos, event)
        start, points = self._start, self._points
        self._start, self._now, self._points = None, None, []
        canvas.update()
        # the canvas gives positions in the picture it shows, which is a result of the run's size once one is
        # shown; the masks are the photo's size
        s = self.ws.state()
        if s.content is None:
            return
        shown = canvas.document_size()
        h, w = s.content.rgb.shape[:2]
        sx, sy = w / max(shown.width(), 1), h / max(shown.height(), 1)

        def photo(p: QPointF) -> QPointF:
            return QPointF(p.x() * sx, p.y() * sy)

        self.finish(photo(start), photo(pos), [(x * sx, y * sy) for x, y in points], self._mode)

    def finish(self, start: QPointF, end: QPointF, points: list[tuple[float, float]], mode: str) -> None:
        """Apply a finished drag, given in the photo's pixels (also what the tests call)."""
        s = self.ws.state()
        if s.content is None or not 0 <= self.tools.active < len(s.regions):
            return
        hw = s.content.rgb.shape[:2]
        tool = self.tools.tool
        if tool in ("brush", "erase"):
            layer = stroke_layer(points, self.tools.radius, self.tools.hardness, hw)
            self.ws.paint_region(self.tools.active, layer, "add" if tool == "brush" else "subtract",
                                 "Brush stroke" if tool == "brush" else "Eraser stroke")
        elif tool in ("rect", "ellipse"):
            sel = Selection(tool, start.x(), start.y(), end.x(), end.y(), feather=2.0)  # type: ignore[arg-type]
            if not sel.is_empty():
                self.ws.paint_region(self.tools.active, shape_layer(sel, hw), mode,
                                     "Rectangle" if tool == "rect" else "Ellipse")
        elif tool == "lasso" and len(points) >= 3:
            self.ws.paint_region(self.tools.active, lasso_layer(points, hw), mode, "Lasso")

    def hover(self, canvas: ImageCanvas, pos: QPointF) -> Qt.CursorShape | None:
        self._hover = QPointF(pos)
        if not self._painting():
            return None
        canvas.update()
        return Qt.CursorShape.CrossCursor

    # drawing ---------------------------------------------------------------------------------------
    def _draw_outlines(self, painter: QPainter, rect: QRectF, photo_width: int) -> None:
        """The outlines at 2 screen pixels in the region's colour over 4 of dark, whatever the zoom."""
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.translate(rect.topLeft())
        z = rect.width() / max(photo_width, 1)
        painter.scale(z, z)
        for width, colour_of in ((4.0, lambda _c: QColor(0, 0, 0, 170)), (2.0, lambda c: c)):
            for colour, path in self._outlines:
                pen = QPen(colour_of(colour), width)
                pen.setCosmetic(True)  # screen pixels, not photo pixels
                painter.setPen(pen)
                painter.drawPath(path)
        painter.restore()

    def paint(self, canvas: ImageCanvas, painter: QPainter, rect: QRectF) -> None:
        self.canvas = canvas
        s = self.ws.state()
        if s.content is None:
            return
        # over a result only while a tool paints (Pan shows the result as it is)
        painting_or_photo = self.tools.tool != "none" or canvas.after() is None
        if self.tools.show and s.regions and painting_or_photo and not canvas.holding_before():
            key = tuple(id(r.mask) for r in s.regions) + tuple(int(r.visible) for r in s.regions) + tuple(
                r.colour for r in s.regions)
            if key != self._overlay_key:
                self._overlay_key, self._overlay = key, regions_overlay(s.regions)
                self._outlines = regions_outlines(s.regions)
            if self._overlay is not None:
                painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
                painter.drawImage(rect, self._overlay)
                self._draw_outlines(painter, rect, s.content.rgb.shape[1])
        if not self._painting():
            return
        z = rect.width() / max(s.content.rgb.shape[1], 1)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        tool = self.tools.tool
        pens = (QPen(QColor(0, 0, 0, 200), 1.5), QPen(QColor(255, 255, 255, 230), 1.0, Qt.PenStyle.DashLine))
        if tool in ("rect", "ellipse") and self._start is not None and self._now is not None:
            r = QRectF(canvas.to_widget(self._start), canvas.to_widget(self._now)).normalized()
            for pen in pens:
                painter.setPen(pen)
                painter.drawRect(r) if tool == "rect" else painter.drawEllipse(r)
        elif len(self._points) >= 2:
            path = QPainterPath(canvas.to_widget(QPointF(*self._points[0])))
            for x, y in self._points[1:]:
                path.lineTo(canvas.to_widget(QPointF(x, y)))
            if tool == "lasso":
                path.closeSubpath()
                for pen in pens:
                    painter.setPen(pen)
                    painter.drawPath(path)
            else:
                colour = QColor(*COLOURS[s.regions[self.tools.active].colour % len(COLOURS)], 140)
                painter.setPen(QPen(colour, 2 * self.tools.radius * z, Qt.PenStyle.SolidLine,
                                    Qt.PenCapStyle.RoundCap, Qt.PenJoinStyle.RoundJoin))
                painter.drawPath(path)
        if tool in ("brush", "erase") and self._hover is not None:  # the brush's size under the cursor
            c = canvas.to_widget(self._hover)
            for pen in pens:
                painter.setPen(pen)
                painter.drawEllipse(c, self.tools.radius * z, self.tools.radius * z)
