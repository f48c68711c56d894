"""The Latent workspace's controls: generator, sample grid, principal-direction and raw-z sliders, A↔B
interpolation, display, export, and training. It shows a ``LatentState`` and reports edits as signals;
it computes nothing (the workspace renders)."""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import QPoint, QRect, Qt, Signal
from PySide6.QtGui import QColor, QMouseEvent, QPainter, QPaintEvent, QPen, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from studio.ui.qimage import to_qimage
from studio.ui.section import Section, row

SIGMA_STEPS = 10  # slider ticks per standard deviation
SIGMA_RANGE = 3  # sliders span ±3σ
AB_STEPS = 100
GIF_MIN_FRAMES, GIF_MAX_FRAMES, GIF_DEFAULT_FRAMES = 2, 240, 24
GIF_DEFAULT_FPS = 12


class SampleGrid(QLabel):
    """The grid of samples; a click chooses one (``clicked(index)``)."""

    clicked = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setToolTip("Click a sample to choose it")
        self._layout: tuple[int, int, int, int, int] | None = None  # n, h, w, cols, pad
        self._scale = 1.0
        self._origin = QPoint(0, 0)
        self.chosen: int | None = None  # the sample shown, framed in the grid

    def set_chosen(self, index: int | None) -> None:
        if index != self.chosen:
            self.chosen = index
            self.update()

    def chosen_rect(self) -> QRect | None:
        """Where the chosen sample lies in the widget."""
        pm = self.pixmap()
        if self._layout is None or self.chosen is None or pm is None or pm.isNull():
            return None
        n, h, w, cols, pad = self._layout
        if not 0 <= self.chosen < n:
            return None
        r, c = divmod(self.chosen, cols)
        ox, oy = (self.width() - pm.width()) / 2, (self.height() - pm.height()) / 2
        x, y = pad + c * (w + pad), pad + r * (h + pad)
        return QRect(round(ox + x * self._scale), round(oy + y * self._scale), round(w * self._scale),
                     round(h * self._scale))

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        super().paintEvent(event)
        rect = self.chosen_rect()
        if rect is not None:
            painter = QPainter(self)
            painter.setPen(QPen(QColor(255, 200, 40), 3))
            painter.drawRect(rect.adjusted(-1, -1, 1, 1))
            painter.end()

    def set_grid(self, grid: np.ndarray, n: int, h: int, w: int, cols: int, pad: int, width: int = 280) -> None:
        self._layout = (n, h, w, cols, pad)
        self._scale = width / grid.shape[1]
        pm = QPixmap.fromImage(to_qimage(grid)).scaledToWidth(width, Qt.TransformationMode.FastTransformation)
        self.setPixmap(pm)
        self.setFixedHeight(pm.height() + 4)

    def index_at(self, x: float, y: float) -> int | None:
        """The sample under widget position (x, y)."""
        from studio.engines.gan.latent import grid_cell

        pm = self.pixmap()
        if self._layout is None or pm is None or pm.isNull():
            return None
        ox = (self.width() - pm.width()) / 2
        oy = (self.height() - pm.height()) / 2
        gx, gy = (x - ox) / self._scale, (y - oy) / self._scale
        n, h, w, cols, pad = self._layout
        return grid_cell((int(gx), int(gy)), n, h, w, cols, pad)

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        i = self.index_at(event.position().x(), event.position().y())
        if i is not None:
            self.clicked.emit(i)


class LatentPanel(QWidget):
    open_model_clicked = Signal()
    built_in_clicked = Signal(str)  # a built-in generator's name (studio.generators.BUILT_IN)
    sample_clicked = Signal(int)
    seed_changed = Signal(int)
    reshuffle_clicked = Signal()
    truncation_changed = Signal(float)  # 0: off
    direction_changed = Signal(int, float)  # index, σ
    raw_index_changed = Signal(int)
    raw_amount_changed = Signal(float)
    reset_edits_clicked = Signal()
    set_a_clicked = Signal()
    set_b_clicked = Signal()
    ab_changed = Signal(float)  # 0..1
    ab_mode_changed = Signal(str)
    smooth_changed = Signal(bool)
    detail_toggled = Signal(bool)  # a fitted photo shown with its detail (True) or as its latent alone
    export_png_clicked = Signal()
    export_gif_clicked = Signal()
    save_latent_clicked = Signal()
    load_latent_clicked = Signal()
    train_folder_clicked = Signal()
    run_kind_changed = Signal(str)
    train_field_changed = Signal(str, object)

    def __init__(self, n_directions: int = 6, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._updating = False
        outer = QVBoxLayout(self)
        outer.setContentsMargins(6, 6, 6, 6)

        # generator
        mw = QWidget()
        ml = QVBoxLayout(mw)
        ml.setContentsMargins(0, 0, 0, 0)
        self.model_label = QLabel("No generator")
        self.model_label.setWordWrap(True)
        self.open_model = QPushButton("Open generator\u2026")
        self.open_model.setToolTip("A studio generator.pt, a PyTorch examples netG_epoch_N.pth, "
                                   "or a Wasserstein GAN DCGAN_G file")
        self.faces_model = QPushButton("Faces")
        self.faces_model.setToolTip("A DCGAN trained on DigiFace-1M's synthetic faces (the gan-face-generate "
                                    "package): the default when it is installed")
        self.paintings_model = QPushButton("Paintings")
        self.paintings_model.setToolTip("studio's own generator, trained on patches of paintings")
        ml.addWidget(self.model_label)
        ml.addWidget(row(self.open_model, self.faces_model, self.paintings_model))
        outer.addWidget(Section("Generator", mw))

        # samples
        sw = QWidget()
        sl = QVBoxLayout(sw)
        sl.setContentsMargins(0, 0, 0, 0)
        self.grid = SampleGrid()
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.seed.setPrefix("seed ")
        self.reshuffle = QPushButton("Reshuffle")
        self.reshuffle.setToolTip("New samples (the next seed)")
        self.truncation = QDoubleSpinBox()
        self.truncation.setRange(0.0, 4.0)
        self.truncation.setSingleStep(0.1)
        self.truncation.setSpecialValueText("no truncation")
        self.truncation.setToolTip("Redraw latent values beyond ±T: more typical, less varied samples")
        sl.addWidget(self.grid)
        sl.addWidget(row(self.seed, self.reshuffle))
        sl.addWidget(row(QLabel("Truncation"), self.truncation))
        outer.addWidget(Section("Samples", sw))

        # directions
        dw = QWidget()
        self.dir_form = QFormLayout(dw)
        self.dir_form.setContentsMargins(0, 0, 0, 0)
        self.dir_sliders: list[QSlider] = []
        self.dir_labels: list[QLabel] = []
        self.dir_values: list[QLabel] = []  # each slider's value, in standard deviations
        # shown while the picture is a fitted photo (its latent and its detail): what the sliders do to it
        self.fit_note = QLabel("Fitted to your photo: the sliders steer its face. Its likeness holds to about "
                               "\u00b11.5\u03c3; further out the photo's detail no longer fits and ghosts (untick "
                               "the box below for the generator's own nearest face).")
        self.fit_note.setWordWrap(True)
        self.fit_note.setVisible(False)
        self.dir_form.addRow(self.fit_note)
        self.keep_detail = QCheckBox("Keep the photo's detail")
        self.keep_detail.setToolTip("On: the fitted photo's likeness. Off: the generator's own nearest face (its "
                                    "latent alone), which the sliders move without ghosting")
        self.keep_detail.setVisible(False)
        self.keep_detail.toggled.connect(lambda on: self._emit(self.detail_toggled, on))
        self.dir_form.addRow(self.keep_detail)
        for i in range(n_directions):
            s = QSlider(Qt.Orientation.Horizontal)
            s.setRange(-SIGMA_RANGE * SIGMA_STEPS, SIGMA_RANGE * SIGMA_STEPS)
            s.setToolTip(f"Principal direction {i + 1}, in standard deviations (±{SIGMA_RANGE}σ)")
            s.valueChanged.connect(lambda v, i=i: self._emit(self.direction_changed, i, v / SIGMA_STEPS))
            lab = QLabel(f"PC{i + 1}")
            value = QLabel("0.0σ")
            value.setMinimumWidth(44)
            value.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            s.valueChanged.connect(lambda v, value=value: value.setText(f"{v / SIGMA_STEPS:+.1f}σ" if v else "0.0σ"))
            self.dir_sliders.append(s)
            self.dir_labels.append(lab)
            self.dir_values.append(value)
            self.dir_form.addRow(lab, row(s, value))
        self.raw_index = QSpinBox()
        self.raw_index.setPrefix("z[")
        self.raw_index.setSuffix("]")
        self.raw_index.setToolTip("Which raw latent coordinate the slider below moves")
        self.raw_slider = QSlider(Qt.Orientation.Horizontal)
        self.raw_slider.setRange(-SIGMA_RANGE * SIGMA_STEPS, SIGMA_RANGE * SIGMA_STEPS)
        self.raw_slider.setToolTip("Add to the chosen raw z coordinate (±3)")
        self.dir_form.addRow(self.raw_index, self.raw_slider)
        self.reset_edits = QPushButton("Reset sliders")
        self.dir_form.addRow(self.reset_edits)
        outer.addWidget(Section("Directions", dw, tooltip="Principal directions of the generator (GANSpace) "
                                                          "and raw latent coordinates"))

        # A <-> B
        aw = QWidget()
        al = QVBoxLayout(aw)
        al.setContentsMargins(0, 0, 0, 0)
        self.set_a = QPushButton("Set A")
        self.set_b = QPushButton("Set B")
        self.set_a.setToolTip("Remember the current picture as end A")
        self.set_b.setToolTip("Remember the current picture as end B")
        self.ab_slider = QSlider(Qt.Orientation.Horizontal)
        self.ab_slider.setRange(0, AB_STEPS)
        self.ab_slider.setEnabled(False)
        self.ab_mode = QComboBox()
        self.ab_mode.addItem("Spherical (slerp)", "slerp")
        self.ab_mode.addItem("Linear", "lerp")
        al.addWidget(row(self.set_a, self.set_b, self.ab_mode))
        al.addWidget(row(QLabel("A"), self.ab_slider, QLabel("B")))
        outer.addWidget(Section("Interpolate A \u2194 B", aw))

        # display and export
        ew = QWidget()
        el = QFormLayout(ew)
        el.setContentsMargins(0, 0, 0, 0)
        self.upscaling = QComboBox()
        self.upscaling.addItem("Pixels (nearest)", False)
        self.upscaling.addItem("Smooth (bicubic)", True)
        el.addRow("Upscaling", self.upscaling)
        self.export_png = QPushButton("Export PNG\u2026")
        self.export_gif = QPushButton("Export GIF\u2026")
        self.export_gif.setToolTip("The A \u2192 B interpolation as an animated GIF")
        self.save_latent = QPushButton("Save latent\u2026")
        self.load_latent = QPushButton("Load latent\u2026")
        self.gif_frames = QSpinBox()
        self.gif_frames.setRange(GIF_MIN_FRAMES, GIF_MAX_FRAMES)
        self.gif_frames.setValue(GIF_DEFAULT_FRAMES)
        self.gif_frames.setSuffix(" frames")
        self.gif_frames.setToolTip("Frames from A to B (the GIF plays them there and back)")
        self.gif_fps = QSpinBox()
        self.gif_fps.setRange(1, 50)
        self.gif_fps.setValue(GIF_DEFAULT_FPS)
        self.gif_fps.setSuffix(" frames/s")
        self.gif_fps.setToolTip("Speed of the GIF")
        el.addRow("GIF", row(self.gif_frames, self.gif_fps))
        el.addRow(row(self.export_png, self.export_gif))
        el.addRow(row(self.save_latent, self.load_latent))
        outer.addWidget(Section("Display and export", ew))

        # what Run does
        self.run_kind = QComboBox()
        self.run_kind.addItem("Run trains a generator", "train")
        self.run_kind.addItem("Run fits the opened picture", "project")
        self.run_kind.setToolTip("File ▸ Open a picture, then Run finds the latent whose image is closest")
        outer.addWidget(self.run_kind)

        # training
        tw = QWidget()
        tl = QFormLayout(tw)
        tl.setContentsMargins(0, 0, 0, 0)
        self.train_folder = QPushButton("Choose a folder\u2026")
        self.train_folder.setToolTip("Every image under this folder is used (random crops)")
        self.train_loss = QComboBox()
        for loss in ("wgan", "wgan-gp", "dcgan"):
            self.train_loss.addItem(loss, loss)
        self.train_size = QComboBox()
        for s in (32, 64, 128):
            self.train_size.addItem(f"{s} px", s)
        self.train_iterations = QSpinBox()
        self.train_iterations.setRange(1, 1_000_000)
        self.train_ngf = QSpinBox()
        self.train_ngf.setRange(4, 256)
        self.train_time_limit = QCheckBox("Stop after")
        self.train_time_limit.setToolTip("Training stops after this long (or after its generator steps, whichever "
                                         "comes first) and saves the generator")
        self.train_minutes = QDoubleSpinBox()
        self.train_minutes.setRange(0.05, 7 * 24 * 60)
        self.train_minutes.setDecimals(2)  # to 0.01 min (under a second): a time kept in seconds shows as it is
        self.train_minutes.setSuffix(" min")
        self.train_minutes.setKeyboardTracking(False)  # typing "120" is one edit, not 1, 12 and 120
        self.train_minutes.setValue(30.0)
        self.train_minutes.setToolTip(self.train_time_limit.toolTip())
        time_row = QHBoxLayout()
        time_row.addWidget(self.train_time_limit)
        time_row.addWidget(self.train_minutes, 1)
        tl.addRow("Images", self.train_folder)
        tl.addRow("Loss", self.train_loss)
        tl.addRow("Size", self.train_size)
        tl.addRow("Generator steps", self.train_iterations)
        tl.addRow("Width (ngf = ndf)", self.train_ngf)
        tl.addRow("Time", time_row)
        hint = QLabel("Run trains a new generator; live sample grids appear on the canvas.")
        hint.setWordWrap(True)
        tl.addRow(hint)
        outer.addWidget(Section("Train a generator", tw, expanded=False))
        outer.addStretch(1)

        # wiring
        self.open_model.clicked.connect(self.open_model_clicked)
        self.faces_model.clicked.connect(lambda: self._emit(self.built_in_clicked, "faces"))
        self.paintings_model.clicked.connect(lambda: self._emit(self.built_in_clicked, "paintings"))
        self.grid.clicked.connect(self.sample_clicked)
        self.seed.valueChanged.connect(lambda v: self._emit(self.seed_changed, int(v)))
        self.reshuffle.clicked.connect(self.reshuffle_clicked)
        self.truncation.valueChanged.connect(lambda v: self._emit(self.truncation_changed, float(v)))
        self.raw_index.valueChanged.connect(lambda v: self._emit(self.raw_index_changed, int(v)))
        self.raw_slider.valueChanged.connect(lambda v: self._emit(self.raw_amount_changed, v / SIGMA_STEPS))
        self.reset_edits.clicked.connect(self.reset_edits_clicked)
        self.set_a.clicked.connect(self.set_a_clicked)
        self.set_b.clicked.connect(self.set_b_clicked)
        self.ab_slider.valueChanged.connect(lambda v: self._emit(self.ab_changed, v / AB_STEPS))
        self.ab_mode.currentIndexChanged.connect(lambda _i: self._emit(self.ab_mode_changed,
                                                                       self.ab_mode.currentData()))
        self.upscaling.currentIndexChanged.connect(lambda _i: self._emit(self.smooth_changed,
                                                                         bool(self.upscaling.currentData())))
        self.export_png.clicked.connect(self.export_png_clicked)
        self.export_gif.clicked.connect(self.export_gif_clicked)
        self.save_latent.clicked.connect(self.save_latent_clicked)
        self.load_latent.clicked.connect(self.load_latent_clicked)
        self.train_folder.clicked.connect(self.train_folder_clicked)
        self.run_kind.currentIndexChanged.connect(lambda _i: self._emit(self.run_kind_changed,
                                                                        self.run_kind.currentData()))
        self.train_loss.currentIndexChanged.connect(
            lambda _i: self._emit(self.train_field_changed, "loss", self.train_loss.currentData()))
        self.train_size.currentIndexChanged.connect(
            lambda _i: self._emit(self.train_field_changed, "size", self.train_size.currentData()))
        self.train_iterations.valueChanged.connect(
            lambda v: self._emit(self.train_field_changed, "iterations", int(v)))
        self.train_ngf.valueChanged.connect(lambda v: self._emit(self.train_field_changed, "ngf", int(v)))
        self.train_time_limit.toggled.connect(lambda _on: self._emit_time_limit())
        self.train_minutes.valueChanged.connect(lambda _v: self._emit_time_limit())

    def _emit_time_limit(self) -> None:
        self.train_minutes.setEnabled(self.train_time_limit.isChecked())
        seconds = self.train_minutes.value() * 60.0 if self.train_time_limit.isChecked() else None
        self._emit(self.train_field_changed, "max_seconds", seconds)

    def _emit(self, signal: Any, *args: Any) -> None:
        if not self._updating:
            signal.emit(*args)

    def set_direction_labels(self, labels: dict[int, str]) -> None:
        """Name the principal-direction sliders (0-based index -> what its positive end does); others numbered."""
        for i, lab in enumerate(self.dir_labels):
            name = labels.get(i)
            lab.setText(f"PC{i + 1} · {name}" if name else f"PC{i + 1}")
            self.dir_sliders[i].setToolTip(f"Principal direction {i + 1}" + (f" (+: {name})" if name else "")
                                           + f", in standard deviations (±{SIGMA_RANGE}σ)")

    def set_slider_sigma(self, slider: QSlider, sigma: float) -> None:
        slider.setValue(int(round(sigma * SIGMA_STEPS)))

    def show_state(self, state: Any, model_text: str, nz: int, n_directions: int) -> None:
        """Show ``state`` (a LatentState) without emitting edit signals."""
        self._updating = True
        try:
            self.model_label.setText(model_text)
            self.seed.setValue(state.seed)
            self.truncation.setValue(state.truncation or 0.0)
            fitted = state.detail is not None and state.ab_t is None
            self.keep_detail.setVisible(fitted)
            self.keep_detail.setChecked(state.detail_on)
            self.fit_note.setVisible(fitted and state.detail_on)
            for i, s in enumerate(self.dir_sliders):
                s.setEnabled(i < n_directions)
                self.set_slider_sigma(s, state.directions[i] if i < len(state.directions) else 0.0)
            self.raw_index.setRange(0, max(0, nz - 1))
            self.raw_index.setValue(state.raw_index)
            self.set_slider_sigma(self.raw_slider, state.raw_amount)
            both = state.z_a is not None and state.z_b is not None
            self.ab_slider.setEnabled(both)
            self.ab_slider.setValue(int(round((state.ab_t or 0.0) * AB_STEPS)))
            self.ab_mode.setCurrentIndex(max(0, self.ab_mode.findData(state.ab_mode)))
            self.set_a.setText("Set A \u2713" if state.z_a is not None else "Set A")
            self.set_b.setText("Set B \u2713" if state.z_b is not None else "Set B")
            self.export_gif.setEnabled(both)
            self.upscaling.setCurrentIndex(1 if state.smooth else 0)
            self.run_kind.setCurrentIndex(max(0, self.run_kind.findData(state.run_kind)))
            tp = state.train
            self.train_folder.setText(state.train_folder.split("/")[-1] or state.train_folder
                                      if state.train_folder else "Choose a folder\u2026")
            self.train_folder.setToolTip(state.train_folder or "Every image under this folder is used")
            self.train_loss.setCurrentIndex(max(0, self.train_loss.findData(tp.loss)))
            self.train_size.setCurrentIndex(max(0, self.train_size.findData(tp.size)))
            self.train_iterations.setValue(tp.iterations)
            self.train_ngf.setValue(tp.ngf)
            self.train_time_limit.setChecked(tp.max_seconds is not None)
            if tp.max_seconds is not None:
                self.train_minutes.setValue(tp.max_seconds / 60.0)
            self.train_minutes.setEnabled(tp.max_seconds is not None)
        finally:
            self._updating = False
