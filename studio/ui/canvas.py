"""The image canvas: zoom, pan, before/after comparison, transparency checkerboard."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QBrush,
    QColor,
    QImage,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPen,
    QPixmap,
    QWheelEvent,
)
from PySide6.QtWidgets import QSizePolicy, QWidget

MIN_ZOOM = 0.02
MAX_ZOOM = 32.0
ZOOM_STEP = 1.25
SPLIT_GRAB_PX = 8


def _checker_brush(cell: int = 8) -> QBrush:
    pm = QPixmap(cell * 2, cell * 2)
    pm.fill(QColor(204, 204, 204))
    p = QPainter(pm)
    p.fillRect(0, 0, cell, cell, QColor(153, 153, 153))
    p.fillRect(cell, cell, cell, cell, QColor(153, 153, 153))
    p.end()
    return QBrush(pm)


class CanvasTool:
    """Optional interaction and overlay a workspace puts on the canvas (``ImageCanvas.set_tool``).

    Positions are in image pixels (continuous: pixel (row i, column j) covers [j, j+1) x [i, i+1)).
    ``press`` returns True to take a left-button drag (else the canvas pans); ``wheel`` returns True
    when it used the event (else the canvas zooms). ``paint`` draws over the image, ``rect`` being
    where the image is shown in widget coordinates.
    """

    def press(self, canvas: ImageCanvas, pos: QPointF, event: QMouseEvent) -> bool:
        return False

    def move(self, canvas: ImageCanvas, pos: QPointF, event: QMouseEvent) -> None:
        pass

    def release(self, canvas: ImageCanvas, pos: QPointF, event: QMouseEvent) -> None:
        pass

    def wheel(self, canvas: ImageCanvas, pos: QPointF, event: QWheelEvent) -> bool:
        return False

    def hover(self, canvas: ImageCanvas, pos: QPointF) -> Qt.CursorShape | None:
        """The cursor to show over ``pos`` when no button is down, or None for the default."""
        return None

    def paint(self, canvas: ImageCanvas, painter: QPainter, rect: QRectF) -> None:
        pass


class ImageCanvas(QWidget):
    """Shows the "after" image (result or preview) and, for comparison, the "before" (the content).

    * wheel zooms around the cursor; ``fit()``, ``actual_size()``, ``zoom_in()``, ``zoom_out()``
    * drag with the left or middle button pans
    * split compare: before on the left of a draggable line, after on the right
    * hold-to-compare: ``set_holding_before(True)`` (or hold the B key) shows the before image
    * transparent images sit on a checkerboard; zoomed out images are scaled smoothly
    """

    zoom_changed = Signal(float)
    files_dropped = Signal(list)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMouseTracking(True)
        self.setAcceptDrops(True)
        self._before: QImage | None = None
        self._after: QImage | None = None
        self._zoom = 1.0
        self._fit = True
        self._offset = QPointF(0, 0)  # image centre relative to the widget centre
        self._split_mode = False
        self._split = 0.5
        self._holding_before = False
        self._drag: str | None = None  # "pan" | "split"
        self._drag_last = QPointF()
        self._caption = ""
        self.drop_hover = False  # a file is being dragged over the picture
        self._placeholder: str | Callable[[], str] = "Drop a photo here, or use File \u25b8 Open\u2026"
        self._cache: dict[tuple[int, int, int], QPixmap] = {}
        self._checker = _checker_brush()
        self._tool: CanvasTool | None = None

    # images -----------------------------------------------------------------------------------
    def set_before(self, image: QImage | None) -> None:
        self._before = image
        self._cache.clear()
        self._refit()
        self.update()

    def set_after(self, image: QImage | None) -> None:
        old = self._after
        self._after = image
        self._cache.clear()
        if old is None or image is None or old.size() != image.size():
            self._refit()
        self.update()

    def before(self) -> QImage | None:
        return self._before

    def after(self) -> QImage | None:
        return self._after

    def set_caption(self, text: str) -> None:
        self._caption = text
        self.update()

    def caption(self) -> str:
        return self._caption

    def document_size(self) -> QSize:
        img = self._after if self._after is not None else self._before
        return img.size() if img is not None else QSize(0, 0)

    # tool (optional, set by a workspace) -------------------------------------------------------
    def set_placeholder(self, text: str | Callable[[], str]) -> None:
        """What the empty canvas says (the tab's first input and how to open it), or what tells it when it paints."""
        self._placeholder = text
        self.update()

    def placeholder(self) -> str:
        return self._placeholder() if callable(self._placeholder) else self._placeholder

    def set_tool(self, tool: CanvasTool | None) -> None:
        if self._drag == "tool":
            self._drag = None
        self._tool = tool
        self.update()

    def tool(self) -> CanvasTool | None:
        return self._tool

    def to_image(self, pos: QPointF) -> QPointF:
        """Widget coordinates -> image pixel coordinates (continuous)."""
        r = self.image_rect()
        z = self._zoom if self._zoom > 0 else 1.0
        return QPointF((pos.x() - r.left()) / z, (pos.y() - r.top()) / z)

    def to_widget(self, pos: QPointF) -> QPointF:
        """Image pixel coordinates -> widget coordinates."""
        r = self.image_rect()
        return QPointF(r.left() + pos.x() * self._zoom, r.top() + pos.y() * self._zoom)

    # compare ----------------------------------------------------------------------------------
    def set_split_mode(self, on: bool) -> None:
        self._split_mode = bool(on)
        self.update()

    def split_mode(self) -> bool:
        return self._split_mode

    def set_split(self, fraction: float) -> None:
        self._split = min(max(float(fraction), 0.0), 1.0)
        self.update()

    def split(self) -> float:
        return self._split

    def set_holding_before(self, on: bool) -> None:
        self._holding_before = bool(on)
        self.update()

    def holding_before(self) -> bool:
        return self._holding_before

    def shown_image(self) -> QImage | None:
        """What a plain view (no split) shows now."""
        if self._holding_before and self._before is not None:
            return self._before
        return self._after if self._after is not None else self._before

    # zoom and pan -----------------------------------------------------------------------------
    def zoom(self) -> float:
        return self._zoom

    def is_fit(self) -> bool:
        return self._fit

    def fit(self) -> None:
        self._fit = True
        self._refit()
        self.update()

    def actual_size(self) -> None:
        self.set_zoom(1.0)

    def zoom_in(self) -> None:
        self.set_zoom(self._zoom * ZOOM_STEP)

    def zoom_out(self) -> None:
        self.set_zoom(self._zoom / ZOOM_STEP)

    def set_zoom(self, zoom: float, anchor: QPointF | None = None) -> None:
        """Zoom keeping the image point under ``anchor`` (widget coordinates; default the centre) still."""
        zoom = min(max(zoom, MIN_ZOOM), MAX_ZOOM)
        if anchor is None:
            anchor = QPointF(self.width() / 2, self.height() / 2)
        centre = QPointF(self.width() / 2, self.height() / 2) + self._offset
        ratio = zoom / self._zoom
        new_centre = anchor + (centre - anchor) * ratio
        self._offset = new_centre - QPointF(self.width() / 2, self.height() / 2)
        self._zoom = zoom
        self._fit = False
        self.zoom_changed.emit(self._zoom)
        self.update()

    def pan_by(self, dx: float, dy: float) -> None:
        self._offset += QPointF(dx, dy)
        self.update()

    def image_rect(self) -> QRectF:
        size = self.document_size()
        w, h = size.width() * self._zoom, size.height() * self._zoom
        cx = self.width() / 2 + self._offset.x()
        cy = self.height() / 2 + self._offset.y()
        return QRectF(cx - w / 2, cy - h / 2, w, h)

    def _refit(self) -> None:
        if not self._fit:
            return
        size = self.document_size()
        if size.isEmpty() or self.width() <= 0 or self.height() <= 0:
            return
        margin = 16
        zx = max(self.width() - 2 * margin, 1) / size.width()
        zy = max(self.height() - 2 * margin, 1) / size.height()
        self._zoom = min(max(min(zx, zy), MIN_ZOOM), MAX_ZOOM)
        self._offset = QPointF(0, 0)
        self.zoom_changed.emit(self._zoom)

    def resizeEvent(self, event) -> None:  # noqa: N802
        self._refit()
        super().resizeEvent(event)

    # events -----------------------------------------------------------------------------------
    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802
        if (
            self._tool is not None and not self.document_size().isEmpty()
            and self._tool.wheel(self, self.to_image(event.position()), event)
        ):
            event.accept()
            return
        delta = event.angleDelta().y()
        if delta == 0 or self.document_size().isEmpty():
            return
        self.set_zoom(self._zoom * (ZOOM_STEP ** (delta / 120.0)), event.position())
        event.accept()

    def _split_x(self) -> float:
        r = self.image_rect()
        return r.left() + r.width() * self._split

    def _near_split(self, pos: QPointF) -> bool:
        if not (self._split_mode and self._before is not None and self._after is not None):
            return False
        r = self.image_rect()
        return abs(pos.x() - self._split_x()) <= SPLIT_GRAB_PX and r.top() <= pos.y() <= r.bottom()

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        pos = event.position()
        if event.button() == Qt.MouseButton.LeftButton and self._near_split(pos):
            self._drag = "split"
        elif (
            event.button() == Qt.MouseButton.LeftButton and self._tool is not None
            and not self.document_size().isEmpty() and self._tool.press(self, self.to_image(pos), event)
        ):
            self._drag = "tool"
        elif event.button() in (Qt.MouseButton.LeftButton, Qt.MouseButton.MiddleButton):
            self._drag = "pan"
            self.setCursor(Qt.CursorShape.ClosedHandCursor)
        else:
            return super().mousePressEvent(event)
        self._drag_last = pos
        event.accept()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        pos = event.position()
        if self._drag == "tool" and self._tool is not None:
            self._tool.move(self, self.to_image(pos), event)
        elif self._drag == "pan":
            d = pos - self._drag_last
            self._drag_last = pos
            self._fit = False
            self.pan_by(d.x(), d.y())
        elif self._drag == "split":
            r = self.image_rect()
            if r.width() > 0:
                self.set_split((pos.x() - r.left()) / r.width())
        elif self._near_split(pos):
            self.setCursor(Qt.CursorShape.SplitHCursor)
        elif self._drag is None and self._tool is not None and (
            shape := self._tool.hover(self, self.to_image(pos))
        ) is not None:
            self.setCursor(shape)
        else:
            self.unsetCursor()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if self._drag == "tool" and self._tool is not None:
            self._tool.release(self, self.to_image(event.position()), event)
        self._drag = None
        self.unsetCursor()
        super().mouseReleaseEvent(event)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if self._fit:
            self.set_zoom(1.0, event.position())
        else:
            self.fit()

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        if event.key() == Qt.Key.Key_B and not event.isAutoRepeat():
            self.set_holding_before(True)
            return
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        if event.key() == Qt.Key.Key_B and not event.isAutoRepeat():
            self.set_holding_before(False)
            return
        super().keyReleaseEvent(event)

    def dragEnterEvent(self, event) -> None:  # noqa: N802
        if event.mimeData().hasUrls():
            event.acceptProposedAction()
            self.drop_hover = True
            self.update()

    def dragLeaveEvent(self, event) -> None:  # noqa: N802
        self.drop_hover = False
        self.update()

    def dropEvent(self, event) -> None:  # noqa: N802
        self.drop_hover = False
        self.update()
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.files_dropped.emit(paths)

    # painting ---------------------------------------------------------------------------------
    def _pixmap(self, image: QImage, w: int, h: int) -> QPixmap:
        """The image scaled to w x h: smooth (area-averaged by Qt) when shrinking, cached."""
        key = (image.cacheKey(), w, h)
        pm = self._cache.get(key)
        if pm is None:
            if len(self._cache) > 6:
                self._cache.clear()
            if w < image.width() or h < image.height():
                scaled = image.scaled(
                    w, h, Qt.AspectRatioMode.IgnoreAspectRatio, Qt.TransformationMode.SmoothTransformation
                )
                pm = QPixmap.fromImage(scaled)
            else:
                pm = QPixmap.fromImage(image)
            self._cache[key] = pm
        return pm

    def _draw_image(self, p: QPainter, image: QImage, rect: QRectF) -> None:
        w, h = max(round(rect.width()), 1), max(round(rect.height()), 1)
        if image.hasAlphaChannel():
            p.save()
            p.setBrushOrigin(rect.topLeft())
            p.fillRect(rect, self._checker)
            p.restore()
        pm = self._pixmap(image, w, h)
        # Zoomed in by hand: show the pixels crisply; fitted or zoomed out: smooth.
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, self._fit or self._zoom < 2.0)
        p.drawPixmap(rect, pm, QRectF(pm.rect()))

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        p = QPainter(self)
        p.fillRect(self.rect(), QColor(38, 38, 40))
        rect = self.image_rect()
        split = (
            self._split_mode and self._before is not None and self._after is not None
            and not self._holding_before
        )
        if self.document_size().isEmpty():
            p.setPen(QColor(170, 170, 170))
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, self.placeholder())
        elif split:
            sx = self._split_x()
            p.save()
            p.setClipRect(QRectF(rect.left(), rect.top(), sx - rect.left(), rect.height()))
            self._draw_image(p, self._before, rect)
            p.setClipRect(QRectF(sx, rect.top(), rect.right() - sx, rect.height()))
            self._draw_image(p, self._after, rect)
            p.restore()
            p.setPen(QPen(QColor(255, 255, 255, 220), 2))
            p.drawLine(QPointF(sx, rect.top()), QPointF(sx, rect.bottom()))
            cy = min(max(rect.center().y(), 12.0), self.height() - 12.0)
            p.setBrush(QColor(255, 255, 255, 230))
            p.drawEllipse(QPointF(sx, cy), 7, 7)
            self._label(p, QPointF(max(sx - 8, rect.left() + 4), rect.top() + 6), "Before", right=True)
            self._label(p, QPointF(min(sx + 8, rect.right() - 4), rect.top() + 6), "After", right=False)
        else:
            image = self.shown_image()
            if image is not None:
                self._draw_image(p, image, rect)
            if self._holding_before and self._before is not None:
                self._label(p, QPointF(rect.left() + 6, rect.top() + 6), "Before", right=False)
        if self._tool is not None and not self.document_size().isEmpty():
            p.save()
            self._tool.paint(self, p, rect)
            p.restore()
        if self._caption:
            self._label(p, QPointF(10, self.height() - 30), self._caption, right=False)
        if self.drop_hover:  # a file dragged over the picture: say what a drop does
            p.fillRect(self.rect(), QColor(70, 130, 200, 60))
            p.setPen(QPen(QColor(110, 170, 240), 3, Qt.PenStyle.DashLine))
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.drawRect(QRectF(self.rect()).adjusted(3, 3, -3, -3))
            self._label(p, QPointF(self.width() / 2 + 80, self.height() / 2 - 12), "Drop to open", right=True)
        p.end()

    def _label(self, p: QPainter, at: QPointF, text: str, *, right: bool) -> None:
        fm = p.fontMetrics()
        w, h = fm.horizontalAdvance(text) + 12, fm.height() + 6
        x = at.x() - w if right else at.x()
        box = QRectF(x, at.y(), w, h)
        p.save()
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(QColor(0, 0, 0, 160))
        p.drawRoundedRect(box, 4, 4)
        p.setPen(QColor(240, 240, 240))
        p.drawText(box, Qt.AlignmentFlag.AlignCenter, text)
        p.restore()
