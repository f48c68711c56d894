"""The Style workspace's controls. It shows a ``StyleState`` and reports edits; it computes nothing."""

from __future__ import annotations

import random
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from studio.engines.features.vgg import CONTENT_LAYER_CHOICES, STYLE_LAYER_CHOICES
from studio.engines.style.params import LOOKS, StyleParams, default_layer_weights, look_of
from studio.ui.binder import Binder
from studio.ui.image_slots import ContentSlot, StyleList
from studio.ui.log_slider import LogSlider
from studio.ui.section import Section
from studio.ui.style.regions_section import RegionsSection
from studio.ui.theme import CHOICE_BUTTON_STYLE
from studio.weights import list_sources

LAYER_HINTS = {
    "1": "finest grain, colour",
    "2": "fine texture",
    "3": "brush marks",
    "4": "strokes, patterns",
    "5": "large shapes",
}

INITS = [
    ("content", "The photo"),
    ("noise", "Random noise"),
    ("median-noise", "Smoothed noise"),
]
OPTIMIZERS = [("lbfgs", "L-BFGS (sharp, fast to converge)"), ("adam", "Adam (gentler, steady steps)")]
POOLINGS = [("max", "Max (crisper)"), ("avg", "Average (softer)")]

class StylePanel(QWidget):
    """Widgets for every ``StyleParams`` field a person edits, and the input images.

    Emits ``params_edited(changes, text, merge_key)`` with a dict of changed fields; the workspace
    turns it into an undoable edit. ``show_state`` writes a state into the widgets (no signals).
    """

    params_edited = Signal(dict, str, str)
    content_files_dropped = Signal(list)
    style_files_dropped = Signal(list)
    open_content_clicked = Signal()
    add_style_clicked = Signal()
    style_blend_edited = Signal(int, float)
    remove_style_clicked = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._updating = False
        self._params = StyleParams()
        self.controls: dict[str, Any] = {}

        # images -------------------------------------------------------------------------------
        self.content_slot = ContentSlot()
        self.content_slot.files_dropped.connect(self.content_files_dropped)
        self.content_slot.open_clicked.connect(self.open_content_clicked)
        self.style_list = StyleList()
        self.style_list.files_dropped.connect(self.style_files_dropped)
        self.style_list.add_clicked.connect(self.add_style_clicked)
        self.style_list.blend_edited.connect(self.style_blend_edited)
        self.style_list.remove_clicked.connect(self.remove_style_clicked)
        images = QWidget()
        il = QVBoxLayout(images)
        il.setContentsMargins(0, 0, 0, 0)
        il.addWidget(QLabel("Content photo"))
        il.addWidget(self.content_slot)
        il.addWidget(QLabel("Style images"))
        il.addWidget(self.style_list)

        self.regions = RegionsSection()
        self.regions.add_shortcuts(self)

        # look ---------------------------------------------------------------------------------
        # ranges a hand controls (four decades or less across the slider; Shift drags in fine steps);
        # a typed number may lie outside them
        self.content_weight = LogSlider(0.01, 100.0, StyleParams.content_weight)
        self.style_weight = LogSlider(1.0, 5000.0, StyleParams.style_weight)
        self.tv_weight = LogSlider(0.001, 1.0, StyleParams.tv_weight, zero_at_minimum=True)
        self.original_colors = QCheckBox("Keep the photo's colours")
        self.strength = QDoubleSpinBox()
        self.strength.setRange(0.0, 1.0)
        self.strength.setSingleStep(0.05)
        self.strength.setDecimals(2)
        self.fade = QComboBox()
        self.fade.addItem("Colour and tone", "rgb")
        self.fade.addItem("Tone only", "luminance")
        look_row = QHBoxLayout()
        look_row.setSpacing(2)
        self.look_buttons: dict[str, QToolButton] = {}
        for name, text, tip in (
            ("portrait", "Portraits, detail", "Faces and fine detail hold: the photo's detail comes back at every "
             "size, and the small sizes hold its layout firmly (the defaults)."),
            ("landscape", "Landscapes, bold", "The painting's large shapes and bold strokes: big swirls and skies, "
             "the photo's busy fine texture left out. Faces can blotch (Advanced: Photo detail 0, Coarse sizes "
             "hold photo 1)."),
        ):
            b = QToolButton()
            b.setText(text)
            b.setCheckable(True)
            b.setStyleSheet(CHOICE_BUTTON_STYLE)
            b.setToolTip(tip)
            b.clicked.connect(lambda _=False, n=name: self._look_chosen(n))
            look_row.addWidget(b)
            self.look_buttons[name] = b
        look_row.addStretch(1)
        look = QWidget()
        lf = QFormLayout(look)
        lf.addRow("Made for", look_row)
        lf.addRow("Content weight", self.content_weight)
        lf.addRow("Style weight", self.style_weight)
        lf.addRow("Smoothness", self.tv_weight)
        lf.addRow("", self.original_colors)
        lf.addRow("Strength (fade)", self.strength)
        lf.addRow("Fade back", self.fade)

        # output -------------------------------------------------------------------------------
        self.size = QSpinBox()
        self.size.setRange(32, int(StyleParams.LIMITS["size"].highest))  # what this machine's memory allows
        self.size.setSingleStep(64)
        self.size.setSuffix(" px")
        self.iterations = QSpinBox()
        self.iterations.setRange(1, 100000)
        self.iterations.setSingleStep(50)
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.dice = QToolButton()
        self.dice.setText("New")
        self.dice.setToolTip("Pick a new random seed")
        self.dice.clicked.connect(lambda: self.seed.setValue(random.randrange(0, 2**31 - 1)))
        seed_row = QHBoxLayout()
        seed_row.addWidget(self.seed, 1)
        seed_row.addWidget(self.dice)
        self.init = QComboBox()
        for value, label in INITS:
            self.init.addItem(label, value)
        output = QWidget()
        of = QFormLayout(output)
        of.addRow("Size (long side)", self.size)
        of.addRow("Iterations per scale", self.iterations)
        of.addRow("Seed", seed_row)
        of.addRow("Start from", self.init)

        # layers -------------------------------------------------------------------------------
        self.content_layer = QComboBox()
        for name in CONTENT_LAYER_CHOICES:
            self.content_layer.addItem(name, name)
        self.network = QComboBox()
        self.list_networks()
        layers = QWidget()
        self.layer_grid = QGridLayout(layers)
        self.layer_grid.setContentsMargins(0, 0, 0, 0)
        self.layer_grid.setHorizontalSpacing(6)
        self.layer_grid.setVerticalSpacing(1)
        self.layer_grid.addWidget(QLabel("Network"), 0, 0)
        self.layer_grid.addWidget(self.network, 0, 1)
        self.layer_grid.addWidget(QLabel("Content layer"), 1, 0)
        self.layer_grid.addWidget(self.content_layer, 1, 1)
        head = QLabel("Style layers and their weights")
        self.layer_grid.addWidget(head, 2, 0, 1, 2)
        self.layer_checks: dict[str, QCheckBox] = {}
        self.layer_weights: dict[str, LogSlider] = {}
        for name in STYLE_LAYER_CHOICES:
            self._add_layer_row(name)

        # advanced -----------------------------------------------------------------------------
        self.optimizer = QComboBox()
        for value, label in OPTIMIZERS:
            self.optimizer.addItem(label, value)
        self.learning_rate = QDoubleSpinBox()
        self.learning_rate.setDecimals(4)
        self.learning_rate.setRange(0.0001, 1.0)
        self.learning_rate.setSingleStep(0.005)
        self.scales = QSpinBox()
        self.scales.setRange(1, 8)
        self.coarsest_side = QSpinBox()
        self.coarsest_side.setRange(32, 1024)
        self.coarsest_side.setSingleStep(32)
        self.coarsest_side.setSuffix(" px")
        self.pooling = QComboBox()
        for value, label in POOLINGS:
            self.pooling.addItem(label, value)
        self.style_scale = QDoubleSpinBox()
        self.style_scale.setRange(0.1, 4.0)
        self.style_scale.setSingleStep(0.1)
        self.style_scale.setDecimals(2)
        self.style_scale.setSuffix(" \u00d7")
        self.photo_detail = QDoubleSpinBox()
        self.photo_detail.setRange(0.0, 1.0)
        self.photo_detail.setSingleStep(0.1)
        self.photo_detail.setDecimals(2)
        self.coarse_content = QDoubleSpinBox()
        self.coarse_content.setRange(0.1, 100.0)
        self.coarse_content.setSingleStep(0.5)
        self.coarse_content.setDecimals(1)
        self.coarse_content.setSuffix(" \u00d7")
        self.preview_every = QSpinBox()
        self.preview_every.setRange(1, 1000)
        self.time_limit = QCheckBox("Limit to")
        self.max_seconds = QSpinBox()
        self.max_seconds.setRange(1, 24 * 3600)
        self.max_seconds.setSuffix(" s")
        self.max_seconds.setValue(60)
        time_row = QHBoxLayout()
        time_row.addWidget(self.time_limit)
        time_row.addWidget(self.max_seconds, 1)
        advanced = QWidget()
        af = QFormLayout(advanced)
        af.addRow("Optimiser", self.optimizer)
        af.addRow("Learning rate", self.learning_rate)
        af.addRow("Coarse-to-fine steps", self.scales)
        af.addRow("Start size", self.coarsest_side)
        af.addRow("Pooling", self.pooling)
        af.addRow("Stroke size", self.style_scale)
        af.addRow("Photo detail", self.photo_detail)
        af.addRow("Coarse sizes hold photo", self.coarse_content)
        af.addRow("Preview every", self.preview_every)
        af.addRow("Time limit", time_row)

        self.sections = {
            "images": Section("Images", images),
            "look": Section("Look", look, tooltip="The balance between photo and painting"),
            "regions": Section("Regions", self.regions, expanded=False,
                               tooltip="Paint where each painting goes, or where the photo stays"),
            "output": Section("Output", output),
            "layers": Section("Network layers", layers, expanded=False,
                              tooltip="Which network layers define content and style"),
            "advanced": Section("Advanced", advanced, expanded=False),
        }
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 4, 8, 8)
        for section in self.sections.values():
            layout.addWidget(section)
        layout.addStretch(1)

        self._bind()
        self.show_params(self._params)

    # building -----------------------------------------------------------------------------------
    def _add_layer_row(self, name: str) -> None:
        row = self.layer_grid.rowCount()
        block = name[4:5] if name.startswith(("relu", "conv")) else ""
        hint = LAYER_HINTS.get(block)
        check = QCheckBox(f"{name}  ({hint})" if hint and name.endswith("_1") else name)
        check.setToolTip(StyleParams.HELP["style_layers"])
        # from 0.001, so the defaults of 0.01 (relu4_3, relu5_2, relu5_3) do not sit at the end, where they looked "off"
        weight = LogSlider(0.001, 100.0, default_layer_weights((name,))[0])
        weight.setToolTip(f"Weight of layer {name} in the style loss")
        self.layer_grid.addWidget(check, row, 0)
        self.layer_grid.addWidget(weight, row, 1)
        self.layer_checks[name] = check
        self.layer_weights[name] = weight
        check.toggled.connect(lambda on, n=name: self._layers_edited(f"{'Use' if on else 'Drop'} layer {n}", None))
        weight.valueEdited.connect(lambda _v, n=name: self._layers_edited(f"Weight of layer {n}", f"lw:{n}"))

    def _bind(self) -> None:
        """Each field once: widget, undo label; reading, showing and help text follow from it."""
        b = self.binder = Binder(StyleParams.HELP, self, quiet=lambda: self._updating)
        b.edited.connect(self.params_edited)
        b.bind("content_weight", self.content_weight, "Content weight")
        b.bind("style_weight", self.style_weight, "Style weight")
        b.bind("tv_weight", self.tv_weight, "Smoothness")
        b.bind("original_colors", self.original_colors, "Keep colours")
        b.bind("strength", self.strength, "Strength")
        b.bind("fade", self.fade, "Fade back")
        b.bind("size", self.size, "Size")
        b.bind("iterations", self.iterations, "Iterations")
        b.bind("seed", self.seed, "Seed")
        b.bind("init", self.init, "Start from")
        b.bind("optimizer", self.optimizer, "Optimiser")
        b.bind("learning_rate", self.learning_rate, "Learning rate")
        b.bind("scales", self.scales, "Coarse-to-fine steps")
        b.bind("coarsest_side", self.coarsest_side, "Start size")
        b.bind("pooling", self.pooling, "Pooling")
        b.bind("style_scale", self.style_scale, "Stroke size")
        b.bind("photo_detail", self.photo_detail, "Photo detail")
        b.bind("coarse_content", self.coarse_content, "Coarse sizes hold photo")
        b.bind("preview_every", self.preview_every, "Preview every")
        b.bind("content_layers", self.content_layer, "Content layer", merge=False,
               signal=self.content_layer.currentIndexChanged,
               read=lambda: tuple(str(self.content_layer.currentData()).split("+")), write=self._show_content_layers)
        b.bind("weights", self.network, "Network", merge=False, signal=self.network.currentIndexChanged,
               read=lambda: str(self.network.currentData()), write=self._show_network)
        # the time limit is a check box and a number: both edit one field
        b.bind("max_seconds", self.max_seconds, "Time limit", signal=self.max_seconds.valueChanged,
               read=self._read_time_limit, write=self._show_time_limit)
        self.time_limit.toggled.connect(lambda *_: b.showing() or self.params_edited.emit(
            {"max_seconds": self._read_time_limit()}, "Time limit", ""))
        self.time_limit.setToolTip(StyleParams.HELP["max_seconds"])
        self.optimizer.currentIndexChanged.connect(self._sync_enabled)
        self.time_limit.toggled.connect(self._sync_enabled)

    def _read_time_limit(self) -> float | None:
        return float(self.max_seconds.value()) if self.time_limit.isChecked() else None

    def _show_time_limit(self, seconds: float | None) -> None:
        self.time_limit.setChecked(seconds is not None)
        if seconds is not None:
            self.max_seconds.setValue(round(seconds))

    def list_networks(self) -> None:
        """Fill the Network list with the networks installed now (at the start, and after a download), keeping
        the one shown."""
        shown = self.network.currentData()
        self.network.blockSignals(True)  # the same choice, listed again: no edit
        try:
            self.network.clear()
            self.network.addItem("As in Preferences", "auto")
            for source in list_sources():
                if source.available:
                    self.network.addItem(source.name, source.name)
            if shown is not None:
                self._show_network(str(shown))
        finally:
            self.network.blockSignals(False)

    def _show_network(self, name: str) -> None:
        name = name or "auto"
        if self.network.findData(name) < 0:  # a network this machine's list does not name (a file, say)
            self.network.addItem(name, name)
        self.network.setCurrentIndex(self.network.findData(name))

    def _show_content_layers(self, names: tuple[str, ...]) -> None:
        layers = "+".join(names)
        if self.content_layer.findData(layers) < 0:
            self.content_layer.addItem(" + ".join(names), layers)
        self.content_layer.setCurrentIndex(self.content_layer.findData(layers))

    def _read(self, field: str) -> Any:
        return self.binder.read(field)

    def _layers_edited(self, text: str, merge_key: str | None) -> None:
        if self._updating:
            return
        layers = tuple(n for n, c in self.layer_checks.items() if c.isChecked())
        weights = tuple(float(self.layer_weights[n].value()) for n in layers)
        self._sync_enabled()
        self.params_edited.emit(
            {"style_layers": layers,
             "style_layer_weights": None if weights == default_layer_weights(layers) else weights},
            text,
            merge_key or "",
        )

    def _sync_enabled(self) -> None:
        self.learning_rate.setEnabled(self.optimizer.currentData() == "adam")
        self.max_seconds.setEnabled(self.time_limit.isChecked())
        for name, check in self.layer_checks.items():
            self.layer_weights[name].setEnabled(check.isChecked())

    # params -> widgets --------------------------------------------------------------------------
    def params(self) -> StyleParams:
        return self._params

    def _look_chosen(self, name: str) -> None:
        self._show_look(self._params)  # checked as the settings are, until the edit comes back
        if not self._updating and look_of(self._params) != name:
            self.params_edited.emit(dict(LOOKS[name]), f"Made for {name}s", "")

    def _show_look(self, p: StyleParams) -> None:
        look = look_of(p)
        for name, b in self.look_buttons.items():
            b.setChecked(name == look)

    def show_params(self, p: StyleParams) -> None:
        self._updating = True
        try:
            self._params = p
            self.binder.show(p)
            self._show_look(p)
            for name in p.style_layers:
                if name not in self.layer_checks:
                    self._add_layer_row(name)
            # a layer not in use shows its default weight, which it takes when ticked (not the weight it had in
            # another picture's settings)
            weights = dict(zip(p.style_layers, p.layer_weights(), strict=False))
            for name, check in self.layer_checks.items():
                check.setChecked(name in p.style_layers)
                self.layer_weights[name].setValue(weights.get(name, default_layer_weights((name,))[0]))
            self._sync_enabled()
        finally:
            self._updating = False

    def show_images(self, content: Any | None, styles: tuple[Any, ...], blend: tuple[float, ...] | None) -> None:
        self.content_slot.show_image(content)
        self.style_list.show_images(styles, blend)
