"""The Translate workspace's controls: image, model, strength, colours, selection, tiles, and training.
It shows a ``TranslateState`` and reports edits as signals; it computes nothing."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from studio.cyclegan_catalogue import ModelEntry
from studio.ui.section import Section, row

SELECTIONS = [("", "Whole image"), ("rect", "Rectangle (drag on the picture)"),
              ("ellipse", "Ellipse (drag on the picture)"), ("mask", "Mask file\u2026")]


class TranslatePanel(QWidget):
    mode_changed = Signal(str)  # "translate" | "train"
    open_image_clicked = Signal()
    model_chosen = Signal(str)  # model spec
    import_clicked = Signal()
    download_clicked = Signal(str)
    strength_changed = Signal(float)
    preserve_changed = Signal(bool)
    selection_mode_changed = Signal(str)  # "", rect, ellipse, mask
    feather_changed = Signal(float)
    tile_changed = Signal(int)
    norm_stats_changed = Signal(str)
    train_field_changed = Signal(str, object)  # field name, value
    choose_folder_clicked = Signal(str)  # "a" | "b"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._updating = False
        outer = QVBoxLayout(self)
        outer.setContentsMargins(6, 6, 6, 6)

        self.mode_apply = QRadioButton("Apply a translator")
        self.mode_train = QRadioButton("Train a translator")
        self.mode_apply.setChecked(True)
        group = QButtonGroup(self)
        group.addButton(self.mode_apply)
        group.addButton(self.mode_train)
        self.mode_apply.toggled.connect(lambda on: self._emit(self.mode_changed, "translate" if on else "train"))
        outer.addWidget(row(self.mode_apply, self.mode_train))

        # image + model ----------------------------------------------------------------------------
        box = QWidget()
        form = QFormLayout(box)
        self.image_label = QLabel("No image yet")
        self.image_label.setWordWrap(True)
        self.open_button = QPushButton("Open image\u2026")
        self.open_button.clicked.connect(self.open_image_clicked)
        form.addRow("Image", row(self.image_label, self.open_button))
        self.model_combo = QComboBox()
        self.model_combo.setToolTip("The translator: studio's own model, an official CycleGAN model (downloaded "
                                    "or imported), or one you trained.")
        self.model_combo.currentIndexChanged.connect(self._model_index_changed)
        form.addRow("Model", self.model_combo)
        self.model_info = QLabel("")
        self.model_info.setWordWrap(True)
        self.model_info.setStyleSheet("color: palette(mid);")
        form.addRow("", self.model_info)
        self.import_button = QPushButton("Import .pth\u2026")
        self.import_button.setToolTip("Add a CycleGAN generator file (e.g. latest_net_G.pth of an official model)")
        self.import_button.clicked.connect(self.import_clicked)
        self.download_button = QPushButton("Download")
        self.download_button.clicked.connect(lambda: self.download_clicked.emit(self.current_model()))
        form.addRow("", row(self.import_button, self.download_button))
        self.apply_section = Section("Translator", box)
        outer.addWidget(self.apply_section)

        # blending -----------------------------------------------------------------------------------
        blend = QWidget()
        bform = QFormLayout(blend)
        self.strength = QSlider(Qt.Orientation.Horizontal)
        self.strength.setRange(0, 100)
        self.strength.setToolTip("Blend between the original (0 %) and the full translation (100 %). Changing it "
                                 "after a run re-blends instantly, without running the network again.")
        self.strength_value = QLabel("100 %")
        self.strength.valueChanged.connect(self._strength_moved)
        bform.addRow("Strength", row(self.strength, self.strength_value))
        self.preserve = QCheckBox("Keep the original colours")
        self.preserve.setToolTip("Take only the light and dark (luminance) of the translation")
        self.preserve.toggled.connect(lambda on: self._emit(self.preserve_changed, bool(on)))
        bform.addRow("", self.preserve)
        self.selection_combo = QComboBox()
        for key, text in SELECTIONS:
            self.selection_combo.addItem(text, key)
        self.selection_combo.setToolTip("Where the translation is applied")
        self.selection_combo.currentIndexChanged.connect(
            lambda i: self._emit(self.selection_mode_changed, self.selection_combo.itemData(i)))
        bform.addRow("Apply to", self.selection_combo)
        self.feather = QDoubleSpinBox()
        self.feather.setRange(0, 200)
        self.feather.setSuffix(" px")
        self.feather.setToolTip("Soft edge of the selection")
        self.feather.valueChanged.connect(lambda v: self._emit(self.feather_changed, float(v)))
        bform.addRow("Soft edge", self.feather)
        self.selection_info = QLabel("")
        self.selection_info.setWordWrap(True)
        bform.addRow("", self.selection_info)
        self.blend_section = Section("Blend", blend)
        outer.addWidget(self.blend_section)

        # tiles -----------------------------------------------------------------------------------------
        tiles = QWidget()
        tform = QFormLayout(tiles)
        self.tile = QSpinBox()
        self.tile.setRange(0, 4096)
        self.tile.setSingleStep(64)
        self.tile.setSpecialValueText("whole image")
        self.tile.setToolTip("Large images are translated in tiles of this size (bounded memory); 0: all at once")
        self.tile.valueChanged.connect(lambda v: self._emit(self.tile_changed, int(v)))
        tform.addRow("Tile size", self.tile)
        self.norm_stats = QComboBox()
        self.norm_stats.addItem("Whole image (no seams)", "global")
        self.norm_stats.addItem("Each tile", "tile")
        self.norm_stats.setToolTip("Instance-norm statistics for tiles: of the whole image (consistent colours) "
                                   "or of each tile")
        self.norm_stats.currentIndexChanged.connect(
            lambda i: self._emit(self.norm_stats_changed, self.norm_stats.itemData(i)))
        tform.addRow("Tile statistics", self.norm_stats)
        self.tiles_section = Section("Large images", tiles, expanded=False)
        outer.addWidget(self.tiles_section)

        # training ------------------------------------------------------------------------------------------
        train = QWidget()
        trf = QFormLayout(train)
        self.dir_a = QLabel("not chosen")
        self.dir_b = QLabel("not chosen")
        for lab in (self.dir_a, self.dir_b):
            lab.setWordWrap(True)
        ba, bb = QPushButton("Choose\u2026"), QPushButton("Choose\u2026")
        ba.clicked.connect(lambda: self.choose_folder_clicked.emit("a"))
        bb.clicked.connect(lambda: self.choose_folder_clicked.emit("b"))
        trf.addRow("Folder A (from)", row(self.dir_a, ba))
        trf.addRow("Folder B (to)", row(self.dir_b, bb))
        self.train_name = QLineEdit()
        self.train_name.setToolTip("The trained model appears under this name in the Model list")
        self.train_name.editingFinished.connect(
            lambda: self._emit(self.train_field_changed, "name", self.train_name.text().strip()))
        trf.addRow("Name", self.train_name)
        self.minutes = QDoubleSpinBox()
        self.minutes.setRange(1, 24 * 60)
        self.minutes.setSuffix(" min")
        self.minutes.setToolTip("Training stops (and saves) after this long; the learning rate decays over the "
                                "second half. Run again later to continue.")
        self.minutes.valueChanged.connect(lambda v: self._emit(self.train_field_changed, "minutes", float(v)))
        trf.addRow("Time", self.minutes)
        self.crop = QSpinBox()
        self.crop.setRange(32, 512)
        self.crop.setSingleStep(32)
        self.crop.setSuffix(" px")
        self.crop.valueChanged.connect(lambda v: self._emit(self.train_field_changed, "crop_size", int(v)))
        trf.addRow("Crop size", self.crop)
        self.ngf = QSpinBox()
        self.ngf.setRange(8, 128)
        self.ngf.setToolTip("Generator width: 64 like the official models; 32 or less trains faster on a CPU")
        self.ngf.valueChanged.connect(lambda v: self._emit(self.train_field_changed, "ngf", int(v)))
        trf.addRow("Width", self.ngf)
        self.blocks = QComboBox()
        self.blocks.addItem("6 residual blocks", 6)
        self.blocks.addItem("9 residual blocks", 9)
        self.blocks.currentIndexChanged.connect(
            lambda i: self._emit(self.train_field_changed, "n_blocks", int(self.blocks.itemData(i))))
        trf.addRow("Depth", self.blocks)
        self.train_note = QLabel("")  # whether Run starts a new run or continues the one saved under the name
        self.train_note.setWordWrap(True)
        self.train_note.setVisible(False)
        trf.addRow("", self.train_note)
        self.train_info = QLabel("Previews show A, A\u2192B, back to A (top) and B, B\u2192A, back to B (bottom).")
        self.train_info.setWordWrap(True)
        trf.addRow("", self.train_info)
        self.train_section = Section("Training", train)
        outer.addWidget(self.train_section)
        outer.addStretch(1)
        self._entries: list[ModelEntry] = []

    # showing -------------------------------------------------------------------------------------------
    def _emit(self, signal: Any, *args: Any) -> None:
        if not self._updating:
            signal.emit(*args)

    def _strength_moved(self, v: int) -> None:
        self.strength_value.setText(f"{v} %")
        self._emit(self.strength_changed, v / 100.0)

    def set_models(self, entries: list[ModelEntry]) -> None:
        current = self.current_model()
        self._entries = entries
        self._updating = True
        try:
            self.model_combo.clear()
            for e in entries:
                label = e.name if e.available else f"{e.name} (not downloaded)"
                self.model_combo.addItem(f"{label} \u2014 {e.kind}", e.name)
                self.model_combo.setItemData(self.model_combo.count() - 1, e.description, Qt.ItemDataRole.ToolTipRole)
            self._select_model(current)
        finally:
            self._updating = False

    def _select_model(self, name: str) -> None:
        i = self.model_combo.findData(name)
        if i >= 0:
            self.model_combo.setCurrentIndex(i)
        self._show_model_info()

    def current_model(self) -> str:
        data = self.model_combo.currentData()
        return str(data) if data is not None else ""

    def _model_index_changed(self, i: int) -> None:
        self._show_model_info()
        if i >= 0:
            self._emit(self.model_chosen, str(self.model_combo.itemData(i)))

    def _show_model_info(self) -> None:
        entry = next((e for e in self._entries if e.name == self.current_model()), None)
        self.download_button.setEnabled(entry is not None and entry.kind == "pretrained" and not entry.available)
        if entry is None:
            self.model_info.setText("")
        elif entry.available:
            self.model_info.setText(entry.description)
        elif entry.kind == "pretrained":
            self.model_info.setText(f"{entry.description}. Not downloaded: Download needs a network; without one, "
                                    "fetch the file elsewhere and use Import .pth\u2026")
        else:
            self.model_info.setText(f"{entry.description} (missing)")

    def set_train_note(self, text: str) -> None:
        """What Run does with the name given (continue the run saved under it, or start one), or nothing."""
        self.train_note.setText(text)
        self.train_note.setVisible(bool(text))

    def show_state(self, state: Any) -> None:
        p = state.params
        self._updating = True
        try:
            self.mode_apply.setChecked(state.mode == "translate")
            self.mode_train.setChecked(state.mode == "train")
            self.apply_section.setVisible(state.mode == "translate")
            self.blend_section.setVisible(state.mode == "translate")
            self.tiles_section.setVisible(state.mode == "translate")
            self.train_section.setVisible(state.mode == "train")
            self.image_label.setText("No image yet" if state.image is None else
                                     f"{state.image.path.name} ({state.image.size[0]}\u00d7{state.image.size[1]})")
            self._select_model(state.model)
            self.strength.setValue(round(p.strength * 100))
            self.strength_value.setText(f"{round(p.strength * 100)} %")
            self.preserve.setChecked(p.preserve_colors)
            self.selection_combo.setCurrentIndex(max(0, self.selection_combo.findData(state.selection_mode)))
            self.feather.setValue(state.feather)
            if state.selection_mode in ("rect", "ellipse"):
                self.selection_info.setText("Drag on the picture to select." if state.selection is None else
                                            "Selected: drag again to replace it.")
            elif state.selection_mode == "mask":
                self.selection_info.setText("No mask file" if state.mask is None else f"Mask: {state.mask.path.name}")
            else:
                self.selection_info.setText("")
            self.tile.setValue(p.tile)
            self.norm_stats.setCurrentIndex(max(0, self.norm_stats.findData(p.norm_stats)))
            t = state.train
            self.dir_a.setText(t.dir_a or "not chosen")
            self.dir_b.setText(t.dir_b or "not chosen")
            self.train_name.setText(t.name)
            self.minutes.setValue(t.minutes)
            self.crop.setValue(t.crop_size)
            self.ngf.setValue(t.ngf)
            self.blocks.setCurrentIndex(max(0, self.blocks.findData(t.n_blocks)))
        finally:
            self._updating = False
