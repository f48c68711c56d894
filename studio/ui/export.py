"""Export a result: PNG with the recipe in its metadata, JPEG/WebP with a quality, TIFF; clipboard."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from studio.ui.history import HistoryEntry
from studio.ui.qimage import to_qimage

log = logging.getLogger("studio.ui")

FORMATS: dict[str, tuple[str, str]] = {  # key: (label, extension)
    "png": ("PNG (lossless, keeps the recipe)", ".png"),
    "jpg": ("JPEG", ".jpg"),
    "webp": ("WebP", ".webp"),
    "tif": ("TIFF (lossless)", ".tif"),
}
EXTENSIONS = {".png": "png", ".jpg": "jpg", ".jpeg": "jpg", ".webp": "webp", ".tif": "tif", ".tiff": "tif"}
LOSSY = {"jpg", "webp"}


def format_of(path: str | Path) -> str | None:
    return EXTENSIONS.get(Path(path).suffix.lower())


def build_recipe(entry: HistoryEntry) -> Any:
    """The recipe of a history entry, as the CLI writes it (``studio.recipe``)."""
    from studio.recipe import InputRef, Recipe

    opened = entry.extra.get("recipe")
    if isinstance(opened, str):  # a studio PNG opened with its recipe: exported again, it keeps that recipe
        return Recipe.from_json(opened)
    spec = entry.spec
    inputs = [InputRef(role=role, path=path, sha256=sha) for role, path, sha in spec.inputs]
    recipe = Recipe.of_run(spec.engine, entry, spec.params, inputs)
    recipe.regions = [dict(r) for r in spec.regions]
    return recipe


def export_image(path: str | Path, entry: HistoryEntry, *, quality: int = 95, embed_recipe: bool = True) -> Path:
    """Write ``entry``'s image to ``path`` (atomic; the format comes from the extension)."""
    from studio.image_save import save_image

    path = Path(path)
    fmt = format_of(path)
    if fmt is None:
        raise ValueError(f"{path.name}: choose a .png, .jpg, .webp or .tif file name")
    metadata = None
    if embed_recipe and fmt == "png":  # the other formats carry no text chunks
        try:
            metadata = build_recipe(entry).to_png_text()
        except Exception:  # noqa: BLE001 - an image without its recipe is still worth saving
            log.exception("building the recipe for %s", path)
    save_image(path, entry.pixels(), metadata=metadata, quality=int(quality), overwrite=True)
    return path


def copy_to_clipboard(entry: HistoryEntry) -> None:
    QGuiApplication.clipboard().setImage(to_qimage(entry.pixels()))


class ExportDialog(QDialog):
    """File name, format and quality; the caller confirms overwriting and writes the file."""

    def __init__(self, suggested: str, quality: int = 95, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export the result")
        self.setMinimumWidth(560)
        self.path = QLineEdit(suggested)
        browse = QPushButton("Browse\u2026")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.path, 1)
        row.addWidget(browse)
        self.format = QComboBox()
        for key, (label, _ext) in FORMATS.items():
            self.format.addItem(label, key)
        self.format.setCurrentIndex(max(self.format.findData(format_of(suggested) or "png"), 0))
        self.quality = QSlider(Qt.Orientation.Horizontal)
        self.quality.setRange(1, 100)
        self.quality.setValue(quality)
        self.quality_box = QSpinBox()
        self.quality_box.setRange(1, 100)
        self.quality_box.setValue(quality)
        self.quality.valueChanged.connect(self.quality_box.setValue)
        self.quality_box.valueChanged.connect(self.quality.setValue)
        qrow = QHBoxLayout()
        qrow.addWidget(self.quality, 1)
        qrow.addWidget(self.quality_box)
        self.note = QLabel()
        self.note.setWordWrap(True)
        form = QFormLayout()
        form.addRow("File:", row)
        form.addRow("Format:", self.format)
        form.addRow("Quality:", qrow)
        form.addRow("", self.note)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(buttons)
        self.format.currentIndexChanged.connect(self._format_changed)
        self.path.textChanged.connect(self._path_changed)
        self._format_changed()

    def chosen_format(self) -> str:
        return str(self.format.currentData())

    def chosen_path(self) -> str:
        return self.path.text().strip()

    def _format_changed(self) -> None:
        fmt = self.chosen_format()
        ext = FORMATS[fmt][1]
        text = self.chosen_path()
        if text and format_of(text) != fmt:
            p = Path(text)
            self.path.setText(str(p.with_suffix(ext)) if p.suffix else text + ext)
        lossy = fmt in LOSSY
        self.quality.setEnabled(lossy)
        self.quality_box.setEnabled(lossy)
        self.note.setText(
            "The settings that made this picture are stored in the PNG: open it in studio to get them back."
            if fmt == "png"
            else ("Lower quality gives smaller files." if lossy else "Lossless, larger files.")
        )

    def _path_changed(self, text: str) -> None:
        fmt = format_of(text)
        if fmt and fmt != self.chosen_format():
            self.format.blockSignals(True)
            self.format.setCurrentIndex(self.format.findData(fmt))
            self.format.blockSignals(False)
            self._format_changed()

    def _browse(self) -> None:
        filters = ";;".join(f"{label} (*{ext})" for label, ext in FORMATS.values())
        path, _ = QFileDialog.getSaveFileName(
            self, "Export as", self.chosen_path(), filters,
            options=QFileDialog.Option.DontConfirmOverwrite,
        )
        if path:
            self.path.setText(path)
