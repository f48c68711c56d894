"""Cut an object out of a photo: GrabCut from a rectangle, refined with foreground / background brushes,
or a mask file. The computing is ``studio.compositing.grabcut_mask``; this is the dialog around it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QGuiApplication, QImage, QMouseEvent, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import (
    QButtonGroup,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QRadioButton,
    QSizePolicy,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from studio.compositing import GrabCut, Stroke, load_mask_file, refined_alpha
from studio.engines.errors import StudioInputError
from studio.harmonize_document import MaskEdit
from studio.ui.brush_keys import add_brush_keys
from studio.ui.qimage import to_qimage

TOOLS = ("rect", "fg", "bg")


def mask_overlay(mask: np.ndarray) -> QImage:
    """Dim what is not the object (translucent dark blue), leave the object clear."""
    h, w = mask.shape
    rgba = np.zeros((h, w, 4), np.uint8)
    rgba[..., 0:3] = (10, 20, 60)
    rgba[..., 3] = np.where(mask >= 0.5, 0, 170).astype(np.uint8)
    return to_qimage(rgba)


class MaskView(QWidget):
    """The photo fitted into the widget, the mask overlay, the rectangle and strokes being drawn."""

    rect_drawn = Signal(tuple)  # (x, y, w, h) in photo pixels
    stroke_drawn = Signal(object)  # Stroke

    def __init__(self, photo: np.ndarray, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumSize(420, 320)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMouseTracking(True)
        self.photo = to_qimage(photo)
        self.photo_size = (photo.shape[1], photo.shape[0])
        self.overlay: QImage | None = None
        self.tool = "rect"
        self.brush_radius = 8.0
        self.box: tuple[int, int, int, int] | None = None  # the GrabCut rectangle
        self._drag_start: QPointF | None = None
        self._drag_now: QPointF | None = None
        self._points: list[tuple[float, float]] = []
        self._hover: QPointF | None = None
        self.strokes: tuple[Stroke, ...] = ()  # the strokes made so far, drawn faintly

    def set_mask(self, mask: np.ndarray | None) -> None:
        self.overlay = None if mask is None else mask_overlay(mask)
        self.update()

    def image_rect(self) -> QRectF:
        w, h = self.photo_size
        z = min(self.width() / w, self.height() / h)
        return QRectF((self.width() - w * z) / 2, (self.height() - h * z) / 2, w * z, h * z)

    def zoom(self) -> float:
        return self.image_rect().width() / self.photo_size[0]

    def to_photo(self, pos: QPointF) -> tuple[float, float]:
        r = self.image_rect()
        z = self.zoom()
        x = min(max((pos.x() - r.left()) / z, 0.0), self.photo_size[0])
        y = min(max((pos.y() - r.top()) / z, 0.0), self.photo_size[1])
        return x, y

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if event.button() != Qt.MouseButton.LeftButton:
            return
        self._drag_start = event.position()
        self._drag_now = event.position()
        self._points = [self.to_photo(event.position())]
        self.update()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        self._hover = event.position()
        if self._drag_start is not None:
            self._drag_now = event.position()
            if self.tool != "rect":
                self._points.append(self.to_photo(event.position()))
        self.update()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if self._drag_start is None or event.button() != Qt.MouseButton.LeftButton:
            return
        start, end = self.to_photo(self._drag_start), self.to_photo(event.position())
        self._drag_start = self._drag_now = None
        if self.tool == "rect":
            x0, x1 = sorted((start[0], end[0]))
            y0, y1 = sorted((start[1], end[1]))
            if x1 - x0 >= 2 and y1 - y0 >= 2:
                self.box = (int(x0), int(y0), int(round(x1 - x0)), int(round(y1 - y0)))
                self.rect_drawn.emit(self.box)
        else:
            self._points.append(end)
            stroke = Stroke(tuple(self._points), self.brush_radius, self.tool == "fg")
            self._points = []
            self.stroke_drawn.emit(stroke)
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        p = QPainter(self)
        p.fillRect(self.rect(), QColor(38, 38, 40))
        r = self.image_rect()
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
        p.drawImage(r, self.photo)
        if self.overlay is not None:
            p.drawImage(r, self.overlay)
        z = self.zoom()
        rect = self.box
        if self.tool == "rect" and self._drag_start is not None and self._drag_now is not None:
            p.setPen(QPen(QColor(255, 220, 0), 2, Qt.PenStyle.DashLine))
            p.drawRect(QRectF(self._drag_start, self._drag_now).normalized())
        elif rect is not None:
            p.setPen(QPen(QColor(255, 220, 0), 1.5, Qt.PenStyle.DashLine))
            p.drawRect(QRectF(r.left() + rect[0] * z, r.top() + rect[1] * z, rect[2] * z, rect[3] * z))
        done = [(st.points, st.radius, st.foreground, 90) for st in self.strokes]
        if self._points and self.tool != "rect":
            done.append((tuple(self._points), self.brush_radius, self.tool == "fg", 200))
        for points, radius, foreground, opacity in done:
            colour = QColor(60, 220, 90, opacity) if foreground else QColor(230, 60, 60, opacity)
            p.setPen(QPen(colour, max(2.0, 2 * radius * z), Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap,
                          Qt.PenJoinStyle.RoundJoin))
            pts = [QPointF(r.left() + x * z, r.top() + y * z) for x, y in points]
            for a, b in zip(pts, pts[1:], strict=False):
                p.drawLine(a, b)
            if len(pts) == 1:
                p.drawPoint(pts[0])
        if self.tool != "rect" and self._hover is not None:
            p.setPen(QPen(QColor(255, 255, 255, 180), 1))
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.drawEllipse(self._hover, self.brush_radius * z, self.brush_radius * z)
        p.end()


class MaskEditorDialog(QDialog):
    """Draw a rectangle around the object (GrabCut runs), then brush what it got wrong; or load a mask file.

    ``mask()`` is the result (float32 HxW, the photo's size) and ``edit()`` how it was made.
    """

    def __init__(self, photo: Any, edit: MaskEdit | None = None, mask: np.ndarray | None = None,
                 parent: QWidget | None = None, *, folder: str = "") -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Cut out the object \u2014 {Path(str(getattr(photo, 'path', ''))).name}")
        self.resize(900, 700)
        self.photo = photo
        self.rgb = np.asarray(getattr(photo, "rgb", photo), dtype=np.float32)
        self.grabcut = GrabCut(self.rgb)  # keeps the rectangle's result while strokes are added
        self.folder = folder
        edit = edit or MaskEdit()
        self._rect = edit.rect
        self._strokes: list[Stroke] = list(edit.strokes)
        self._mask_path = edit.mask_path
        self._mask: np.ndarray | None = mask
        alpha = getattr(photo, "alpha", None)
        self._from_alpha = edit.from_alpha and alpha is not None
        self._alpha = np.asarray(alpha, np.float32) if self._from_alpha else None

        self.view = MaskView(self.rgb)
        self.view.box = self._rect
        self.view.rect_drawn.connect(self._rect_drawn)
        self.view.stroke_drawn.connect(self._stroke_drawn)
        self.tools = QButtonGroup(self)
        tool_row = QHBoxLayout()
        for key, text, tip in (
            ("rect", "Rectangle", "Drag a box around the whole object"),
            ("fg", "Keep brush", "Paint over parts of the object the mask missed"),
            ("bg", "Remove brush", "Paint over background the mask wrongly kept"),
        ):
            b = QRadioButton(text)
            b.setToolTip(tip)
            b.setProperty("tool", key)
            self.tools.addButton(b)
            tool_row.addWidget(b)
            if key == "rect":
                b.setChecked(True)
        self.tools.buttonToggled.connect(self._tool_changed)
        self.brush = QSpinBox()
        self.brush.setRange(1, 200)
        self.brush.setValue(8)
        self.brush.setSuffix(" px")
        self.brush.valueChanged.connect(lambda v: setattr(self.view, "brush_radius", float(v)))
        self.brush.setToolTip("Brush radius, in photo pixels ([ smaller, ] larger)")
        add_brush_keys(self, self.grow_brush)
        tool_row.addSpacing(12)
        tool_row.addWidget(QLabel("Brush"))
        tool_row.addWidget(self.brush)
        tool_row.addStretch(1)
        self.undo_stroke = QPushButton("Undo stroke")
        self.undo_stroke.clicked.connect(self.remove_last_stroke)
        self.load_file = QPushButton("Mask file\u2026")
        self.load_file.setToolTip("Use a black-and-white image of the photo's size (white: the object)")
        self.load_file.clicked.connect(self._ask_mask_file)
        tool_row.addWidget(self.undo_stroke)
        tool_row.addWidget(self.load_file)
        self.message = QLabel("Drag a rectangle around the object.")
        self.message.setWordWrap(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(tool_row)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.message)
        layout.addWidget(self.buttons)
        if self._mask is None and self._rect is not None:
            self.recompute()
        if self._from_alpha:
            self.set_tool("fg")  # the edge is refined with the brushes; a rectangle would start a GrabCut
            if self._mask is None:
                self.recompute()
        self._refresh()

    # results ------------------------------------------------------------------------------------
    def mask(self) -> np.ndarray | None:
        return self._mask

    def edit(self) -> MaskEdit:
        return MaskEdit(self._rect, tuple(self._strokes), self._mask_path, self._from_alpha)

    # actions ------------------------------------------------------------------------------------
    def set_tool(self, tool: str) -> None:
        for b in self.tools.buttons():
            if b.property("tool") == tool:
                b.setChecked(True)

    def set_rect(self, rect: tuple[int, int, int, int]) -> None:
        self._rect = tuple(int(v) for v in rect)  # type: ignore[assignment]
        self.view.box = self._rect
        self._strokes = []
        self._mask_path = ""
        self._from_alpha = False  # a rectangle starts a GrabCut cut-out instead of the image's transparency
        self.recompute()
        if self._mask is not None:
            self.set_tool("fg")

    def add_stroke(self, stroke: Stroke) -> None:
        self._strokes.append(stroke)
        self._mask_path = ""
        self.recompute()

    def grow_brush(self, factor: float) -> None:
        """[ and ]: the brush radius times ``factor`` (at least one pixel more or less), within its range."""
        r = self.brush.value()
        target = round(r * factor)
        if target == r:
            target = r + (1 if factor > 1 else -1)
        self.brush.setValue(max(self.brush.minimum(), min(self.brush.maximum(), target)))

    def remove_last_stroke(self) -> None:
        if self._strokes:
            self._strokes.pop()
            self.recompute()

    def set_mask_file(self, path: str) -> bool:
        h, w = self.rgb.shape[:2]
        try:
            mask = load_mask_file(path, (w, h))
        except StudioInputError as exc:
            self.message.setText(str(exc))
            self.message.setStyleSheet("color: #e06050;")
            return False
        self._mask = mask
        self._mask_path = str(path)
        self._rect, self._strokes, self._from_alpha = None, [], False
        self.view.box = None
        self._refresh(f"Using the mask file {Path(path).name}.")
        return True

    def recompute(self) -> None:
        if self._from_alpha:  # refining the image's own transparency: the strokes paint on it directly
            self._mask = refined_alpha(self._alpha, self._strokes)
            self._refresh()
            return
        if self._rect is None and not self._strokes:
            self._mask = None
            self._refresh()
            return
        QGuiApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            self._mask = self.grabcut.mask(self._rect, self._strokes)
            note = None
        except StudioInputError as exc:
            note = str(exc)
        finally:
            QGuiApplication.restoreOverrideCursor()
        self._refresh(note)

    # internals ----------------------------------------------------------------------------------
    def _refresh(self, note: str | None = None) -> None:
        self.view.strokes = tuple(self._strokes)
        self.view.set_mask(self._mask)
        ok = self._mask is not None and bool((self._mask >= 0.5).any())
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(ok)
        self.undo_stroke.setEnabled(bool(self._strokes))
        self.message.setStyleSheet("")
        if note:
            self.message.setText(note)
        elif self._mask is None:
            self.message.setText("Drag a rectangle around the object, or use a mask file.")
        elif not ok:
            self.message.setText("The mask is empty: draw a larger rectangle, or paint with the Keep brush.")
        else:
            share = float((self._mask >= 0.5).mean()) * 100
            self.message.setText(f"The object covers {share:.0f} % of the photo. Paint with the Keep or Remove "
                                 "brush to correct it, then OK.")

    def _tool_changed(self, button: Any, checked: bool) -> None:
        if checked:
            self.view.tool = str(button.property("tool"))
            self.view.update()

    def _rect_drawn(self, rect: tuple) -> None:
        self.set_rect(rect)

    def _stroke_drawn(self, stroke: Stroke) -> None:
        self.add_stroke(stroke)

    def _ask_mask_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Choose a mask image", self.folder,
                                              "Images (*.png *.jpg *.jpeg *.bmp *.tif *.tiff *.webp);;All files (*)")
        if path:
            self.set_mask_file(path)
