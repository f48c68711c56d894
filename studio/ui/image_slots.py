"""Input image slots: the content photo and the list of style images with their blend sliders.

Both accept dropped files. They only show images and report what the user did; the workspace
decides what happens.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from studio.ui.qimage import to_qimage

THUMB = 64


def thumbnail(image: Any, size: int = THUMB) -> QPixmap:
    """A LoadedImage (``.rgb``/``.alpha``) or an array as a small pixmap."""
    rgb = getattr(image, "rgb", image)
    alpha = getattr(image, "alpha", None)
    qimg = to_qimage(rgb, alpha)
    return QPixmap.fromImage(
        qimg.scaled(size, size, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)
    )


def image_caption(image: Any) -> str:
    path = getattr(image, "path", None)
    name = Path(path).name if path else "image"
    w, h = getattr(image, "original_size", (0, 0)) or (0, 0)
    rgb = getattr(image, "rgb", None)
    if rgb is not None:
        h2, w2 = rgb.shape[:2]
        if (w, h) != (w2, h2) and w:
            return f"{name}\n{w}\u00d7{h} (shown at {w2}\u00d7{h2})"
        w, h = w2, h2
    return f"{name}\n{w}\u00d7{h}"


class DropFrame(QFrame):
    """A frame that takes dropped local files."""

    files_dropped = Signal(list)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAcceptDrops(True)
        self.setFrameShape(QFrame.Shape.StyledPanel)

    def dragEnterEvent(self, event) -> None:  # noqa: N802
        if event.mimeData().hasUrls():
            event.acceptProposedAction()
            self.setProperty("dropping", True)
            self.setStyleSheet("DropFrame { border: 2px dashed #5aa0ff; }")

    def dragLeaveEvent(self, event) -> None:  # noqa: N802
        self.setStyleSheet("")

    def dropEvent(self, event) -> None:  # noqa: N802
        self.setStyleSheet("")
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.files_dropped.emit(paths)


class ContentSlot(DropFrame):
    """The content photo: thumbnail, name and size, an Open button; drop a file to replace it."""

    open_clicked = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setToolTip("The photo to restyle. Drop an image file here, or click Open\u2026")
        self.thumb = QLabel()
        self.thumb.setFixedSize(THUMB, THUMB)
        self.thumb.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.thumb.setStyleSheet("background: #2a2a2c; border-radius: 3px;")
        self.name = QLabel("No photo yet: drop one here")
        self.name.setWordWrap(True)
        self.open_button = QPushButton("Open\u2026")
        self.open_button.setToolTip("Choose the content photo (Ctrl+O)")
        self.open_button.clicked.connect(self.open_clicked)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.thumb)
        layout.addWidget(self.name, 1)
        layout.addWidget(self.open_button)

    def show_image(self, image: Any | None) -> None:
        if image is None:
            self.thumb.clear()
            self.name.setText("No photo yet: drop one here")
        else:
            self.thumb.setPixmap(thumbnail(image))
            self.name.setText(image_caption(image))


class StyleRow(QWidget):
    """One style image: thumbnail, name, blend slider and a remove button."""

    blend_edited = Signal(int, float)  # index, value in [0, 1]
    remove_clicked = Signal(int)

    def __init__(self, index: int, image: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.index = index
        self.image = image
        self.thumb = QLabel()
        self.thumb.setFixedSize(48, 48)
        self.thumb.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.thumb.setPixmap(thumbnail(image, 48))
        self.name = QLabel(image_caption(image).split("\n")[0])
        self.name.setToolTip(image_caption(image))
        self.name.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        self.blend = QSlider(Qt.Orientation.Horizontal)
        self.blend.setRange(0, 100)
        self.blend.setValue(100)
        self.blend.setToolTip("Blend: how much of this style goes into the mix, relative to the other styles")
        self.blend_value = QLabel("100")
        self.blend_value.setFixedWidth(28)
        self.blend_value.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.remove = QToolButton()
        self.remove.setText("\u2715")
        self.remove.setToolTip("Remove this style image")
        self.remove.setAutoRaise(True)
        text = QVBoxLayout()
        text.setSpacing(0)
        text.addWidget(self.name, 0, Qt.AlignmentFlag.AlignLeft)
        row = QHBoxLayout()
        self.blend_label = QLabel("Blend")
        row.addWidget(self.blend_label)
        row.addWidget(self.blend, 1)
        row.addWidget(self.blend_value)
        text.addLayout(row)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 2, 0, 2)
        layout.addWidget(self.thumb)
        layout.addLayout(text, 1)
        layout.addWidget(self.remove)
        self.blend.valueChanged.connect(self._blend_moved)
        self.remove.clicked.connect(lambda: self.remove_clicked.emit(self.index))
        self._updating = False

    def set_blend(self, value: float, show_slider: bool) -> None:
        self._updating = True
        self.blend.setValue(round(value * 100))
        self.blend_value.setText(str(round(value * 100)))
        self._updating = False
        for w in (self.blend, self.blend_value, self.blend_label):
            w.setVisible(show_slider)

    def _blend_moved(self, value: int) -> None:
        self.blend_value.setText(str(value))
        if not self._updating:
            self.blend_edited.emit(self.index, value / 100.0)


class StyleList(DropFrame):
    """The style images. Several images are mixed by their blend sliders."""

    add_clicked = Signal()
    blend_edited = Signal(int, float)
    remove_clicked = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setToolTip("Paintings whose style is applied. Drop image files here; several are blended.")
        self.rows: list[StyleRow] = []
        self._images: tuple[Any, ...] = ()
        self.empty = QLabel("No style image yet: drop a painting here, or click Add style\u2026")
        self.empty.setWordWrap(True)
        self.empty.setStyleSheet("color: #e0a050;")
        self.add_button = QPushButton("Add style\u2026")
        self.add_button.setToolTip("Add one or more style images (Ctrl+Shift+O)")
        self.add_button.clicked.connect(self.add_clicked)
        self.rows_layout = QVBoxLayout()
        self.rows_layout.setSpacing(2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.empty)
        layout.addLayout(self.rows_layout)
        layout.addWidget(self.add_button, 0, Qt.AlignmentFlag.AlignLeft)

    def show_images(self, images: tuple[Any, ...], blend: tuple[float, ...] | None) -> None:
        if images is not self._images and (
            len(images) != len(self._images) or any(a is not b for a, b in zip(images, self._images, strict=False))
        ):
            for row in self.rows:
                row.setParent(None)
                row.deleteLater()
            self.rows = []
            for i, image in enumerate(images):
                row = StyleRow(i, image)
                row.blend_edited.connect(self.blend_edited)
                row.remove_clicked.connect(self.remove_clicked)
                self.rows_layout.addWidget(row)
                self.rows.append(row)
        self._images = images
        self.empty.setVisible(not images)
        several = len(images) > 1
        for i, row in enumerate(self.rows):
            value = blend[i] if blend is not None and i < len(blend) else 1.0
            row.set_blend(value, several)
