"""The Style tab's Regions section: the list of regions, the painting or the kept photo and the weight of the
chosen one, and the tools that paint it on the canvas (``region_tool``). It shows the workspace's regions and
reports what the user asks for; the workspace makes every change (and its undo step)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QDoubleSpinBox,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from studio.engines.style.params import StyleParams
from studio.region_paint import COLOURS, MAX_RADIUS, MIN_RADIUS, PaintedRegion
from studio.ui.brush_keys import add_brush_keys
from studio.ui.style.region_tool import RegionTools
from studio.ui.theme import CHOICE_BUTTON_STYLE

TOOL_LABELS = (("none", "Pan", "Drag the picture around (no painting)"),
               ("brush", "Brush", "Paint the region ([ and ] change the size)"),
               ("erase", "Eraser", "Take paint away from the region ([ and ] change the size)"),
               ("rect", "Rectangle", "Drag a rectangle: replaces the region; Shift adds, Alt subtracts"),
               ("ellipse", "Ellipse", "Drag an ellipse: replaces the region; Shift adds, Alt subtracts"),
               ("lasso", "Lasso", "Draw an outline free-hand: replaces the region; Shift adds, Alt subtracts"))


def _swatch(colour: int) -> QIcon:
    pix = QPixmap(12, 12)
    pix.fill(QColor(*COLOURS[colour % len(COLOURS)]))
    return QIcon(pix)


def region_label(r: PaintedRegion) -> str:
    what = "keeps the photo" if r.painting is None else Path(str(r.painting.path)).name
    empty = " (nothing painted yet)" if r.is_empty() else ""
    weight = "" if r.weight == 1.0 else f" \u00b7 weight {r.weight:g}"
    return f"{r.name}: {what}{weight}{empty}"


class RegionsSection(QWidget):
    new_clicked = Signal()
    delete_clicked = Signal(int)
    invert_clicked = Signal(int)
    mask_file_clicked = Signal(int)
    painting_clicked = Signal(int)
    keep_clicked = Signal(int)
    weight_edited = Signal(int, float)
    visible_toggled = Signal(int, bool)
    tools_changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tools = RegionTools()
        self._updating = False
        self._regions: tuple[PaintedRegion, ...] = ()
        self.list = QListWidget()
        self.list.setMaximumHeight(110)
        self.list.setToolTip("Each region paints its part of the photo with its own painting, or keeps the photo "
                             "there; the style images paint the rest. Untick to hide a region's overlay.")
        self.list.currentRowChanged.connect(self._row_changed)
        self.list.itemChanged.connect(self._item_changed)
        self.new_button = QPushButton("New region")
        self.delete_button = QPushButton("Delete")
        self.invert_button = QPushButton("Invert")
        self.file_button = QPushButton("Mask file\u2026")
        self.file_button.setToolTip("Take the region's mask from an image (white: in the region, grey: partly)")
        self.painting_button = QPushButton("Painting\u2026")
        self.painting_button.setToolTip("The painting this region takes its style from")
        self.keep_button = QPushButton("Keep the photo")
        self.keep_button.setToolTip("The region stays the photo (its weight: how firmly)")
        self.weight = QDoubleSpinBox()
        self.weight.setRange(0.0, 1000.0)
        self.weight.setDecimals(2)
        self.weight.setSingleStep(0.1)
        self.weight.setToolTip(StyleParams.HELP["region_weights"])
        self.new_button.clicked.connect(self.new_clicked)
        self.delete_button.clicked.connect(lambda: self.delete_clicked.emit(self.tools.active))
        self.invert_button.clicked.connect(lambda: self.invert_clicked.emit(self.tools.active))
        self.file_button.clicked.connect(lambda: self.mask_file_clicked.emit(self.tools.active))
        self.painting_button.clicked.connect(lambda: self.painting_clicked.emit(self.tools.active))
        self.keep_button.clicked.connect(lambda: self.keep_clicked.emit(self.tools.active))
        self.weight.valueChanged.connect(
            lambda v: None if self._updating else self.weight_edited.emit(self.tools.active, float(v)))

        self.tool_group = QButtonGroup(self)
        self.tool_buttons: dict[str, QToolButton] = {}
        tool_row = QGridLayout()
        for i, (key, label, tip) in enumerate(TOOL_LABELS):
            b = QToolButton()
            b.setText(label)
            b.setToolTip(tip)
            b.setCheckable(True)
            b.setStyleSheet(CHOICE_BUTTON_STYLE)  # the tool in use stands out
            self.tool_group.addButton(b)
            self.tool_buttons[key] = b
            b.toggled.connect(lambda on, k=key: on and self._set_tool(k))
            tool_row.addWidget(b, i // 3, i % 3)
        self.tool_buttons["none"].setChecked(True)
        self.size = QSpinBox()
        self.size.setRange(int(MIN_RADIUS * 2), int(MAX_RADIUS * 2))
        self.size.setSuffix(" px")
        self.size.setToolTip("Brush diameter in photo pixels ([ smaller, ] larger)")
        self.size.setValue(int(self.tools.radius * 2))
        self.size.valueChanged.connect(self._size_changed)
        self.hardness = QDoubleSpinBox()
        self.hardness.setRange(0.0, 1.0)
        self.hardness.setSingleStep(0.1)
        self.hardness.setValue(self.tools.hardness)
        self.hardness.setToolTip("1: a hard edge; 0: the brush fades out over its whole radius")
        self.hardness.valueChanged.connect(self._hardness_changed)
        self.show_overlays = QCheckBox("Show the regions on the picture")
        self.show_overlays.setChecked(True)
        self.show_overlays.toggled.connect(self._show_changed)
        self.hint = QLabel("No region yet: a run styles the whole photo with the style images.")
        self.hint.setWordWrap(True)

        edit_row = QHBoxLayout()
        for b in (self.new_button, self.delete_button, self.invert_button, self.file_button):
            edit_row.addWidget(b)
        style_row = QHBoxLayout()
        style_row.addWidget(self.painting_button)
        style_row.addWidget(self.keep_button)
        form = QFormLayout()
        form.addRow("Weight", self.weight)
        form.addRow("Brush size", self.size)
        form.addRow("Hardness", self.hardness)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.list)
        layout.addLayout(edit_row)
        layout.addLayout(style_row)
        layout.addLayout(tool_row)
        layout.addLayout(form)
        layout.addWidget(self.show_overlays)
        layout.addWidget(self.hint)
        self._sync_enabled()

    def add_shortcuts(self, owner: QWidget) -> None:
        """[ and ] for the brush size, while ``owner`` (the tab's panel, shown whenever the tab is, even with
        this section folded) is on screen."""
        add_brush_keys(owner, self.grow_brush)

    # tools ----------------------------------------------------------------------------------------
    def _set_tool(self, key: str) -> None:
        self.tools.tool = key
        self.tools_changed.emit()

    def grow_brush(self, factor: float) -> None:
        self.tools.grow(factor)
        self._updating = True
        self.size.setValue(int(round(self.tools.radius * 2)))
        self._updating = False
        self.tools_changed.emit()

    def _size_changed(self, v: int) -> None:
        if not self._updating:
            self.tools.radius = max(MIN_RADIUS, v / 2)
            self.tools_changed.emit()

    def _hardness_changed(self, v: float) -> None:
        self.tools.hardness = float(v)
        self.tools_changed.emit()

    def _show_changed(self, on: bool) -> None:
        self.tools.show = bool(on)
        self.tools_changed.emit()

    # regions --------------------------------------------------------------------------------------
    def _row_changed(self, row: int) -> None:
        if not self._updating:
            self.tools.active = row
            self._sync_enabled()
            self.tools_changed.emit()

    def _item_changed(self, item: QListWidgetItem) -> None:
        if self._updating:
            return
        row = self.list.row(item)
        self.visible_toggled.emit(row, item.checkState() == Qt.CheckState.Checked)

    def select(self, index: int) -> None:
        self.tools.active = index
        self.show_regions(self._regions)
        self.tools_changed.emit()

    def show_regions(self, regions: tuple[PaintedRegion, ...]) -> None:
        self._updating = True
        try:
            self._regions = regions
            if self.list.count() != len(regions):
                self.list.clear()
                for _ in regions:
                    item = QListWidgetItem()
                    item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                    self.list.addItem(item)
            for i, r in enumerate(regions):
                item = self.list.item(i)
                item.setText(region_label(r))
                item.setIcon(_swatch(r.colour))
                item.setCheckState(Qt.CheckState.Checked if r.visible else Qt.CheckState.Unchecked)
            if regions:
                self.tools.active = min(max(self.tools.active, 0), len(regions) - 1)
                self.list.setCurrentRow(self.tools.active)
                r = regions[self.tools.active]
                self.weight.setValue(r.weight)
            else:
                self.tools.active = -1
            self._sync_enabled()
        finally:
            self._updating = False

    def _sync_enabled(self) -> None:
        has = 0 <= self.tools.active < len(self._regions)
        for b in (self.delete_button, self.invert_button, self.file_button, self.painting_button,
                  self.keep_button, self.weight):
            b.setEnabled(has)
        if not self._regions:
            self.hint.setText("No region yet: a run styles the whole photo with the style images. New region, "
                              "then paint it with a tool, to give part of the photo its own painting or keep it.")
        else:
            r = self._regions[self.tools.active] if has else None
            self.hint.setText("" if r is None or not r.is_empty() else
                              f"Paint {r.name} on the picture with a tool, or take its mask from a file.")

    def active_region(self) -> Any:
        return self._regions[self.tools.active] if 0 <= self.tools.active < len(self._regions) else None
