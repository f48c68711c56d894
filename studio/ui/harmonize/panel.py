"""The Harmonize workspace's controls: painting, object, placement, masks and engine settings.

It shows a ``HarmonizeState`` and reports what the user did; the workspace decides what happens.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from studio.compositing import MAX_SCALE, MIN_SCALE, ObjectLayer
from studio.engines.harmonize.params import OWN_SIZE, TAU_PRESETS, HarmonizeParams
from studio.harmonize_document import MAX_FEATHER, MAX_LOOSE_RADIUS, has_transparency
from studio.ui.binder import Binder
from studio.ui.image_slots import THUMB, DropFrame, image_caption, thumbnail
from studio.ui.log_slider import LogSlider
from studio.ui.section import Section

MODE_LABELS = {
    "dph": "Painterly (two passes, best, slow)",
    "gatys": "Masked Gatys (one pass)",
    "color": "Colour transfer (instant)",
    "poisson": "Poisson blend (instant)",
    "poisson-mixed": "Poisson, see-through (instant)",
}
MODE_TIPS = {
    "dph": "Deep Painterly Harmonization: the object is re-painted with the painting's own brush strokes and "
           "palette in two optimisation passes. The best result; minutes on a CPU.",
    "gatys": "One masked style-transfer pass: the object takes the whole painting's texture. Faster, less "
             "faithful to the painting's local strokes.",
    "color": "Only the object's colours change, towards the painting around it and never outside its gamut. "
             "Instant; no brushwork.",
    "poisson": "The object's own detail, with its colours shifted so its edge meets the painting without a "
               "seam. Instant; the object stays opaque.",
    "poisson-mixed": "At each pixel the stronger of the object's and the painting's edges: the painting's "
                     "texture shows through and the object looks transparent. For thin or see-through objects "
                     "(smoke, lettering, glass).",
}
ITERATIVE_MODES = ("dph", "gatys")

TIPS = {  # placement and view; the engine fields' help comes from HarmonizeParams.HELP
    "x": "Horizontal position of the object's centre, in painting pixels. Or drag the object on the picture.",
    "y": "Vertical position of the object's centre, in painting pixels. Or drag the object on the picture.",
    "scale": "Size of the object. Or Ctrl + mouse wheel over the picture.",
    "rotation": "Rotation in degrees, counter-clockwise. Or Shift + mouse wheel over the picture.",
    "feather": "Width of the object's soft edge, in painting pixels (0: a hard cut).",
    "loose_radius": "How far around the object the painting may change (the loose mask), in painting pixels.",
    "show_masks": "Show the tight mask (red: the object) and the loose mask (blue ring) over the picture.",
}


class ImageSlot(DropFrame):
    """A thumbnail with a caption and buttons; accepts dropped files."""

    def __init__(self, empty_text: str, tooltip: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setToolTip(tooltip)
        self.empty_text = empty_text
        self.thumb = QLabel()
        self.thumb.setFixedSize(THUMB, THUMB)
        self.thumb.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.thumb.setStyleSheet("background: #2a2a2c; border-radius: 3px;")
        self.name = QLabel(empty_text)
        self.name.setWordWrap(True)
        self.buttons = QVBoxLayout()
        self.buttons.setSpacing(2)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.thumb)
        layout.addWidget(self.name, 1)
        layout.addLayout(self.buttons)

    def add_button(self, text: str, tip: str) -> QPushButton:
        button = QPushButton(text)
        button.setToolTip(tip)
        self.buttons.addWidget(button)
        return button

    def show_image(self, image: Any | None, caption: str = "") -> None:
        if image is None:
            self.thumb.clear()
            self.name.setText(self.empty_text)
        else:
            self.thumb.setPixmap(thumbnail(image))
            self.name.setText(caption or image_caption(image))


class HarmonizePanel(QWidget):
    """Widgets for the composition and the ``HarmonizeParams`` a person edits.

    ``transform_edited(changes, text, merge_key)`` carries Transform fields; ``composition_edited``
    carries ``feather`` / ``loose_radius``; ``params_edited`` carries HarmonizeParams fields.
    ``show_state`` writes a state into the widgets without emitting.
    """

    params_edited = Signal(dict, str, str)
    transform_edited = Signal(dict, str, str)
    composition_edited = Signal(dict, str, str)
    painting_files_dropped = Signal(list)
    object_files_dropped = Signal(list)
    open_painting_clicked = Signal()
    add_object_clicked = Signal()
    edit_mask_clicked = Signal()
    remove_object_clicked = Signal()
    centre_clicked = Signal()
    show_masks_toggled = Signal(bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._updating = False

        # images -------------------------------------------------------------------------------
        self.painting_slot = ImageSlot("No painting yet: drop one here", "The painting the object goes into.")
        self.open_painting = self.painting_slot.add_button("Open\u2026", "Choose the painting (Ctrl+O)")
        self.open_painting.clicked.connect(self.open_painting_clicked)
        self.painting_slot.files_dropped.connect(self.painting_files_dropped)
        self.object_slot = ImageSlot(
            "No object yet: drop a PNG with transparency, or a photo to cut out",
            "The object to paste: a PNG with transparency, or a photo you cut out with a mask.",
        )
        self.add_object = self.object_slot.add_button("Add\u2026", "A PNG with transparency, or a photo to cut out")
        self.edit_mask = self.object_slot.add_button(
            "Mask\u2026", "Cut the object out of its photo again, or refine its edge with the Keep and Remove brushes")
        self.remove_object = self.object_slot.add_button("Remove", "Remove the object")
        self.add_object.clicked.connect(self.add_object_clicked)
        self.edit_mask.clicked.connect(self.edit_mask_clicked)
        self.remove_object.clicked.connect(self.remove_object_clicked)
        self.object_slot.files_dropped.connect(self.object_files_dropped)
        images = QWidget()
        il = QVBoxLayout(images)
        il.setContentsMargins(0, 0, 0, 0)
        il.addWidget(QLabel("Painting"))
        il.addWidget(self.painting_slot)
        il.addWidget(QLabel("Object"))
        il.addWidget(self.object_slot)

        # placement ----------------------------------------------------------------------------
        self.x = self._spin(-20000, 20000, 1, 1, " px")
        self.y = self._spin(-20000, 20000, 1, 1, " px")
        self.scale = self._spin(MIN_SCALE * 100, MAX_SCALE * 100, 5, 1, " %")
        self.rotation = self._spin(-360, 360, 5, 1, "\u00b0")
        self.rotation.setWrapping(True)
        self.flip_h = QCheckBox("Flip \u2194")
        self.flip_h.setToolTip("Mirror the object left to right")
        self.flip_v = QCheckBox("Flip \u2195")
        self.flip_v.setToolTip("Mirror the object top to bottom")
        self.centre = QToolButton()
        self.centre.setText("Centre")
        self.centre.setToolTip("Put the object back in the middle of the painting")
        self.centre.clicked.connect(self.centre_clicked)
        flips = QHBoxLayout()
        flips.addWidget(self.flip_h)
        flips.addWidget(self.flip_v)
        flips.addWidget(self.centre)
        flips.addStretch(1)
        self.feather = self._spin(0, MAX_FEATHER, 1, 1, " px")
        self.loose_radius = self._spin(0, MAX_LOOSE_RADIUS, 2, 0, " px")
        self.show_masks = QCheckBox("Show masks on the picture")
        self.show_masks.toggled.connect(self._masks_toggled)
        hint = QLabel("Drag the object on the picture to move it, a corner to scale it, the round handle to turn "
                      "it; Ctrl + wheel scales, Shift + wheel rotates.")
        hint.setWordWrap(True)
        hint.setStyleSheet("color: #9a9a9a;")
        placement = QWidget()
        pf = QFormLayout(placement)
        pf.addRow("Centre x", self.x)
        pf.addRow("Centre y", self.y)
        pf.addRow("Scale", self.scale)
        pf.addRow("Rotation", self.rotation)
        pf.addRow("", flips)
        pf.addRow("Soft edge", self.feather)
        pf.addRow("Loose mask", self.loose_radius)
        pf.addRow("", self.show_masks)
        pf.addRow(hint)
        self.placement_widgets = [self.x, self.y, self.scale, self.rotation, self.flip_h, self.flip_v, self.centre,
                                  self.feather]

        # harmonization ------------------------------------------------------------------------
        self.mode = QComboBox()
        self.mode.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.mode.setMinimumContentsLength(14)
        for value, label in MODE_LABELS.items():
            self.mode.addItem(label, value)
            self.mode.setItemData(self.mode.count() - 1, MODE_TIPS[value], Qt.ItemDataRole.ToolTipRole)
        self.tau = LogSlider(0.1, 30.0, HarmonizeParams.tau)
        presets = QHBoxLayout()
        presets.setSpacing(2)
        self.preset_buttons: dict[str, QToolButton] = {}
        for name, value in TAU_PRESETS.items():
            b = QToolButton()
            b.setText(f"{name.capitalize()} {value:g}")
            b.setToolTip(f"Style strength {value:g}: for {name} paintings")
            b.clicked.connect(lambda _=False, v=value, n=name: self._tau_preset(v, n))
            presets.addWidget(b)
            self.preset_buttons[name] = b
        presets.addStretch(1)
        self.size = QSpinBox()
        self.size.setRange(OWN_SIZE, int(HarmonizeParams.LIMITS["size"].highest))  # what this machine's memory allows
        self.size.setSingleStep(64)
        self.size.setSuffix(" px")
        self.size.setSpecialValueText("The painting's own")  # shown for OWN_SIZE (0), the default
        self.pass1 = QSpinBox()
        self.pass1.setRange(0, 10000)
        self.pass1.setSingleStep(50)
        self.pass2 = QSpinBox()
        self.pass2.setRange(0, 10000)
        self.pass2.setSingleStep(50)
        self.gatys = QSpinBox()
        self.gatys.setRange(1, 10000)
        self.gatys.setSingleStep(50)
        self.tone = QCheckBox("Start from the painting's tone")
        self.denoise = QCheckBox("Remove colour speckles")
        self.synthesis = QCheckBox("Rebuild from the painting's patches")
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        engine = QWidget()
        self.engine_form = ef = QFormLayout(engine)
        ef.addRow("Method", self.mode)
        ef.addRow("Style strength", self.tau)
        ef.addRow(presets)
        ef.addRow("Size (long side)", self.size)
        ef.addRow("Pass 1 iterations", self.pass1)
        ef.addRow("Pass 2 iterations", self.pass2)
        ef.addRow("Iterations", self.gatys)
        ef.addRow("", self.tone)
        ef.addRow("", self.denoise)
        ef.addRow("", self.synthesis)
        ef.addRow("Seed", self.seed)

        self.sections = {
            "images": Section("Painting and object", images),
            "placement": Section("Placement", placement),
            "engine": Section("Harmonization", engine),
        }
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 4, 8, 8)
        for section in self.sections.values():
            layout.addWidget(section)
        layout.addStretch(1)

        self.show_masks.setToolTip(TIPS["show_masks"])
        self._bind()
        self.show_state(HarmonizeParams(), None, None, None, 16.0)

    @staticmethod
    def _spin(lo: float, hi: float, step: float, decimals: int, suffix: str) -> QDoubleSpinBox:
        box = QDoubleSpinBox()
        box.setRange(lo, hi)
        box.setSingleStep(step)
        box.setDecimals(decimals)
        box.setSuffix(suffix)
        box.setKeyboardTracking(False)
        return box

    def _bind(self) -> None:
        """Each field once: the engine's parameters, the object's placement, and the composition."""
        self.params_binder = b = Binder(HarmonizeParams.HELP, self, quiet=lambda: self._updating)
        b.edited.connect(self.params_edited)
        b.edited.connect(lambda *_: self._sync_enabled())
        b.bind("mode", self.mode, "Method")
        b.bind("tau", self.tau, "Style strength")
        b.bind("size", self.size, "Size")
        b.bind("pass1_iterations", self.pass1, "Pass 1 iterations")
        b.bind("pass2_iterations", self.pass2, "Pass 2 iterations")
        b.bind("gatys_iterations", self.gatys, "Iterations")
        b.bind("pass2_tone", self.tone, "Painting's tone")
        b.bind("denoise", self.denoise, "Denoise")
        b.bind("patch_synthesis", self.synthesis, "Patch synthesis")
        b.bind("seed", self.seed, "Seed")
        self.transform_binder = t = Binder(TIPS, self, quiet=lambda: self._updating)
        t.edited.connect(self.transform_edited)
        t.bind("x", self.x, "Move the object")
        t.bind("y", self.y, "Move the object")
        t.bind("scale", self.scale, "Scale the object", read=lambda: self.scale.value() / 100.0,
               write=lambda v: self.scale.setValue(v * 100.0), signal=self.scale.valueChanged)
        t.bind("rotation", self.rotation, "Rotate the object")
        t.bind("flip_h", self.flip_h, "Flip left to right")
        t.bind("flip_v", self.flip_v, "Flip top to bottom")
        self.composition_binder = c = Binder(TIPS, self, quiet=lambda: self._updating)
        c.edited.connect(self.composition_edited)
        c.bind("feather", self.feather, "Soft edge", merge=True)
        c.bind("loose_radius", self.loose_radius, "Loose mask")

    def _tau_preset(self, value: float, name: str) -> None:
        self.tau.setValue(value)
        if not self._updating:
            self.params_edited.emit({"tau": float(value)}, f"Style strength: {name}", "")

    def _masks_toggled(self, on: bool) -> None:
        if not self._updating:
            self.show_masks_toggled.emit(bool(on))

    def _sync_enabled(self) -> None:
        mode = self.mode.currentData()
        iterative = mode in ITERATIVE_MODES
        for widget, shown in ((self.pass1, mode == "dph"), (self.pass2, mode == "dph"), (self.tone, mode == "dph"),
                              (self.denoise, mode == "dph"),
                              (self.synthesis, mode == "dph"), (self.gatys, mode == "gatys")):
            self.engine_form.setRowVisible(widget, shown)
        self.tau.setEnabled(iterative)
        self.seed.setEnabled(iterative)
        for b in self.preset_buttons.values():
            b.setEnabled(iterative)

    # state -> widgets ---------------------------------------------------------------------------
    def show_state(self, p: HarmonizeParams, painting: Any | None, layer: ObjectLayer | None,
                   object_image: Any | None, loose_radius: float, *, show_masks: bool | None = None) -> None:
        self._updating = True
        try:
            self.params_binder.show(p)
            self.loose_radius.setValue(loose_radius)
            if show_masks is not None:
                self.show_masks.setChecked(show_masks)
            self.painting_slot.show_image(painting)
            if layer is None:
                self.object_slot.show_image(None)
                self.scale.setValue(100.0)
            else:
                w, h = layer.size
                name = (layer.source.replace("\\", "/").rsplit("/", 1)[-1]) if layer.source else "object"
                how = "" if object_image is None or has_transparency(object_image) else "cut out with a mask"
                caption = f"{name}\n{w}\u00d7{h}" + (f", {how}" if how else "")
                self.object_slot.show_image(SimpleNamespace(rgb=layer.rgb, alpha=layer.alpha), caption)
                self.transform_binder.show(layer.transform)
                self.feather.setValue(layer.feather)
            for w in self.placement_widgets:
                w.setEnabled(layer is not None)
            self.edit_mask.setEnabled(object_image is not None)
            self.remove_object.setEnabled(layer is not None)
            self.add_object.setEnabled(painting is not None)
            self._sync_enabled()
        finally:
            self._updating = False
