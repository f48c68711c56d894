"""The main window: the shell every workspace shares.

Canvas in the middle, the active workspace's panel on the left with Run/Stop under it, progress,
loss plot and history below the canvas; menus for files, editing (undo/redo), view and run.
The window owns the one ``JobRunner``; the workspaces never touch threads.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, QSettings, QSize, Qt
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence, QUndoGroup
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QScrollArea,
    QSizePolicy,
    QSplitter,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from studio.engines.events import Finished, Progress
from studio.paths import demo_dir
from studio.ui.canvas import ImageCanvas
from studio.ui.export import ExportDialog, copy_to_clipboard, export_image, format_of
from studio.ui.history import HistoryEntry, HistoryStrip
from studio.ui.job_runner import Job, JobRunner
from studio.ui.loss_plot import LossPlot
from studio.ui.notice import NoticeBar
from studio.ui.preferences import Preferences, PreferencesDialog, resolved_device
from studio.ui.qimage import to_qimage
from studio.ui.recent import RecentFiles
from studio.ui.settings import get_int, last_folder, open_settings, remember_folder
from studio.ui.workspace import Workspace

log = logging.getLogger("studio.ui")

IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.webp *.tif *.tiff *.bmp *.gif *.tga);;All files (*)"
MAX_WORKING_PIXELS = 16_000_000  # larger inputs are downscaled on load, with a notice
DEFAULT_SIZE = QSize(1400, 900)


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "\u2026"
    seconds = max(0, round(seconds))
    m, s = divmod(seconds, 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def progress_text(p: Progress) -> str:
    parts = [f"Iteration {p.iteration} / {p.total}"]
    if p.scale_count > 1:
        parts.append(f"scale {p.scale_index + 1} of {p.scale_count}")
    parts.append(f"{format_duration(p.elapsed_s)} elapsed")
    parts.append(f"about {format_duration(p.eta_s)} left" if p.eta_s is not None else "estimating time left")
    return " \u00b7 ".join(parts)


class MainWindow(QMainWindow):
    def __init__(
        self,
        settings: QSettings | None = None,
        *,
        workspaces: tuple[type[Workspace], ...] | None = None,
        load_demo: bool = True,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("studio")
        self.settings = settings if settings is not None else open_settings()
        self.prefs = Preferences.load(self.settings)
        self.runner = JobRunner(self)
        self.undo_group = QUndoGroup(self)
        self._workspaces: dict[str, Workspace] = {}
        self._result: HistoryEntry | None = None
        self._restart_hint_shown = False

        self.canvas = ImageCanvas()
        self.canvas.files_dropped.connect(self._canvas_drop)
        self.notice = NoticeBar()
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.progress.setFormat("Ready")
        self.progress.setValue(0)
        self.progress.setToolTip("Progress of the current run")
        self.loss_plot = LossPlot()
        self.loss_plot.setFixedWidth(360)
        self.history = HistoryStrip()
        self.history.entry_chosen.connect(self.restore_history)
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.currentChanged.connect(self._workspace_switched)

        self._build_actions()
        if workspaces is None:
            from studio.ui.workspaces import WORKSPACES

            workspaces = WORKSPACES
        for cls in workspaces:
            self.add_workspace(cls(self, self))
        self._build_menus()
        self._build_toolbar()
        self._build_layout()
        self._build_status()

        r = self.runner
        r.started.connect(self._job_started)
        r.info.connect(self._job_info)
        r.progress.connect(self._job_progress)
        r.finished.connect(self._job_finished)
        r.failed.connect(self._job_failed)
        r.running_changed.connect(self._running_changed)
        r.live_update_sent.connect(self._live_update_sent)

        self.resize(DEFAULT_SIZE)
        geometry = self.settings.value("window/geometry")
        if isinstance(geometry, QByteArray | bytes) and geometry:
            self.restoreGeometry(geometry)
        if load_demo:
            self.load_demo()
        self._workspace_switched(self.tabs.currentIndex())
        self._update_actions()

    # workspaces ---------------------------------------------------------------------------------
    def add_workspace(self, ws: Workspace) -> None:
        self._workspaces[ws.name] = ws
        self.undo_group.addStack(ws.undo_stack)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(ws.panel())
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        self.tabs.addTab(scroll, ws.title)
        ws.state_changed.connect(lambda old, new, w=ws: self._state_changed(w, old, new))

    def workspace(self, name: str | None = None) -> Workspace:
        if name is None:
            return self.current_workspace()
        return self._workspaces[name]

    def workspaces(self) -> list[Workspace]:
        return list(self._workspaces.values())

    def current_workspace(self) -> Workspace:
        return list(self._workspaces.values())[max(self.tabs.currentIndex(), 0)]

    def _workspace_switched(self, index: int) -> None:
        if index < 0 or not self._workspaces:
            return
        ws = self.current_workspace()
        self.undo_group.setActiveStack(ws.undo_stack)
        self.canvas.set_tool(ws.canvas_tool())
        if self._result is None or self._result.spec.workspace != ws.name:
            before = ws.before_image()
            self.canvas.set_before(to_qimage(before) if before is not None else None)
            if self._result is not None and self.canvas.after() is not None:
                self.canvas.set_after(None)  # another workspace's result is not shown here
            self.canvas.set_caption(ws.before_caption if before is not None else "")
        elif self.canvas.after() is None:  # back to the workspace whose result is current
            before = ws.before_image(self._result.spec.state)
            self.canvas.set_before(to_qimage(before) if before is not None else None)
            self.canvas.set_after(self._result.qimage())
            self.canvas.set_caption(f"Result #{self._result.number}")
        self._update_actions()

    # building -----------------------------------------------------------------------------------
    def _action(self, text: str, slot: Any, shortcut: Any = None, tip: str = "", checkable: bool = False) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            if isinstance(shortcut, list):
                action.setShortcuts([QKeySequence(s) for s in shortcut])
            else:
                action.setShortcut(QKeySequence(shortcut))
        if tip:
            keys = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
            action.setToolTip(f"{tip} ({keys})" if keys else tip)
            action.setStatusTip(tip)
        action.setCheckable(checkable)
        action.triggered.connect(slot)
        self.addAction(action)
        return action

    def _build_actions(self) -> None:
        a = self._action
        self.act_open = a("&Open\u2026", self.ask_open, QKeySequence.StandardKey.Open,
                          "Open an image (the current tab's main picture), or a studio PNG to get its settings back")
        self.act_add_style = a("Add &style image\u2026", self.ask_add_styles, "Ctrl+Shift+O",
                               "Add one or more style images")
        self.act_export = a("&Export\u2026", self.ask_export, "Ctrl+E",
                            "Save the result as PNG (with its recipe), JPEG, WebP or TIFF")
        self.act_copy = a("&Copy result", self.copy_result, "Ctrl+Shift+C", "Copy the result to the clipboard")
        self.act_prefs = a("&Preferences\u2026", self.show_preferences, QKeySequence.StandardKey.Preferences,
                           "Device and feature network")
        if self.act_prefs.shortcut().isEmpty():
            self.act_prefs.setShortcut(QKeySequence("Ctrl+,"))
        self.act_quit = a("&Quit", self.close, QKeySequence.StandardKey.Quit, "Close studio")
        self.act_run = a("\u25b6  Run", self.run, ["Ctrl+R", "Ctrl+Return"], "Start a fresh run")
        self.act_stop = a("\u25a0  Stop", self.stop, ["Ctrl+.", "Esc"], "Stop the run and keep its picture")
        self.act_fit = a("&Fit to window", self.canvas.fit, "Ctrl+0", "Fit the picture to the window")
        self.act_100 = a("&Actual pixels (100 %)", self.canvas.actual_size, "Ctrl+1", "Show at 100 %")
        self.act_zoom_in = a("Zoom &in", self.canvas.zoom_in, ["Ctrl++", "Ctrl+="], "Zoom in")
        self.act_zoom_out = a("Zoom &out", self.canvas.zoom_out, "Ctrl+-", "Zoom out")
        self.act_split = a("&Compare before/after", self.canvas.set_split_mode, "Ctrl+K",
                           "Split view: the photo on the left of the line, the result on the right; "
                           "drag the line", checkable=True)
        self.act_undo = self.undo_group.createUndoAction(self, "&Undo")
        self.act_undo.setShortcut(QKeySequence("Ctrl+Z"))
        self.act_redo = self.undo_group.createRedoAction(self, "&Redo")
        self.act_redo.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        self.addAction(self.act_undo)
        self.addAction(self.act_redo)

    def _build_menus(self) -> None:
        mb = self.menuBar()
        file = mb.addMenu("&File")
        file.addAction(self.act_open)
        file.addAction(self.act_add_style)
        recent_menu = file.addMenu("Open &recent")
        self.recent = RecentFiles(self.settings, recent_menu, self)
        self.recent.open_requested.connect(self.open_file)
        file.addSeparator()
        file.addAction(self.act_export)
        file.addAction(self.act_copy)
        file.addSeparator()
        file.addAction(self.act_prefs)
        file.addSeparator()
        file.addAction(self.act_quit)
        edit = mb.addMenu("&Edit")
        edit.addAction(self.act_undo)
        edit.addAction(self.act_redo)
        view = mb.addMenu("&View")
        for act in (self.act_fit, self.act_100, self.act_zoom_in, self.act_zoom_out):
            view.addAction(act)
        view.addSeparator()
        view.addAction(self.act_split)
        hold = view.addAction("Hold B on the picture to see it before the run")
        hold.setEnabled(False)
        run = mb.addMenu("&Run")
        run.addAction(self.act_run)
        run.addAction(self.act_stop)
        helpm = mb.addMenu("&Help")
        helpm.addAction("&About studio", self._about)

    def _build_toolbar(self) -> None:
        tb = self.addToolBar("Main")
        tb.setObjectName("main-toolbar")
        tb.setMovable(False)
        tb.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        tb.addAction(self.act_open)
        tb.addAction(self.act_add_style)
        tb.addSeparator()
        for text, group_action in (("Undo", self.act_undo), ("Redo", self.act_redo)):
            # fixed labels in the toolbar (the menu items say what they undo)
            short = QAction(text, self)
            short.triggered.connect(group_action.trigger)
            short.setEnabled(group_action.isEnabled())
            group_action.changed.connect(
                lambda s=short, g=group_action: (s.setEnabled(g.isEnabled()), s.setToolTip(g.text().replace("&", "")))
            )
            tb.addAction(short)
        tb.addSeparator()
        tb.addAction(self.act_fit)
        tb.addAction(self.act_100)
        tb.addAction(self.act_zoom_in)
        tb.addAction(self.act_zoom_out)
        tb.addSeparator()
        tb.addAction(self.act_split)
        self.hold_button = QToolButton()
        self.hold_button.setText("Hold to see before")
        self.hold_button.setToolTip("Press and hold to see the picture before the run (or hold B over the picture)")
        self.hold_button.pressed.connect(lambda: self.canvas.set_holding_before(True))
        self.hold_button.released.connect(lambda: self.canvas.set_holding_before(False))
        tb.addWidget(self.hold_button)
        spacer = QWidget()
        spacer.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        tb.addWidget(spacer)
        tb.addAction(self.act_export)
        tb.addAction(self.act_copy)
        tb.addAction(self.act_prefs)
        self.toolbar = tb

    def _build_layout(self) -> None:
        self.run_button = QToolButton()
        self.run_button.setDefaultAction(self.act_run)
        self.run_button.setMinimumHeight(40)
        self.run_button.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.run_button.setStyleSheet(
            "QToolButton { font-weight: bold; font-size: 15px; background: #2f6f3e; color: white;"
            " border-radius: 4px; padding: 6px; }"
            " QToolButton:disabled { background: #3a3a3c; color: #8a8a8a; }"
            " QToolButton:hover:enabled { background: #3a8a4c; }"
        )
        self.stop_button = QToolButton()
        self.stop_button.setDefaultAction(self.act_stop)
        self.stop_button.setMinimumHeight(40)
        self.stop_button.setMinimumWidth(100)
        self.stop_button.setStyleSheet(
            "QToolButton { font-size: 14px; background: #7a2e2e; color: white; border-radius: 4px; padding: 6px; }"
            " QToolButton:disabled { background: #3a3a3c; color: #8a8a8a; }"
        )
        run_row = QHBoxLayout()
        run_row.setContentsMargins(8, 6, 8, 8)
        run_row.addWidget(self.run_button, 1)
        run_row.addWidget(self.stop_button)
        self.run_hint = QLabel()
        self.run_hint.setWordWrap(True)
        self.run_hint.setStyleSheet("color: #e0a050; padding: 0 10px 8px 10px;")
        self.run_hint.hide()
        left = QWidget()
        ll = QVBoxLayout(left)
        ll.setContentsMargins(0, 0, 0, 0)
        ll.setSpacing(0)
        ll.addWidget(self.tabs, 1)
        ll.addLayout(run_row)
        ll.addWidget(self.run_hint)
        left.setMinimumWidth(360)

        bottom = QHBoxLayout()
        bottom.setContentsMargins(0, 0, 0, 0)
        history_box = QVBoxLayout()
        history_box.setSpacing(2)
        history_box.addWidget(QLabel("History (click to restore)"))
        history_box.addWidget(self.history)
        bottom.addLayout(history_box, 1)
        plot_box = QVBoxLayout()
        plot_box.setSpacing(2)
        plot_box.addWidget(QLabel("Loss"))
        plot_box.addWidget(self.loss_plot, 1)
        bottom.addLayout(plot_box)
        right = QWidget()
        rl = QVBoxLayout(right)
        rl.setContentsMargins(4, 4, 6, 4)
        rl.setSpacing(4)
        rl.addWidget(self.notice)
        rl.addWidget(self.canvas, 1)
        rl.addWidget(self.progress)
        rl.addLayout(bottom)

        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(left)
        self.splitter.addWidget(right)
        self.splitter.setStretchFactor(0, 0)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([400, 1000])
        state = self.settings.value("window/splitter")
        if isinstance(state, QByteArray | bytes) and state:
            self.splitter.restoreState(state)
        self.setCentralWidget(self.splitter)

    def _build_status(self) -> None:
        self.device_label = QLabel()
        self.weights_label = QLabel()
        self.device_label.setToolTip("The device the computation runs on (File \u25b8 Preferences)")
        self.weights_label.setToolTip("The feature network that defines content and style (File \u25b8 Preferences)")
        self.zoom_label = QLabel()
        self.zoom_label.setToolTip("Zoom: mouse wheel, Ctrl+0 fit, Ctrl+1 100 %; drag to pan")
        self.canvas.zoom_changed.connect(lambda z: self.zoom_label.setText(f"Zoom {z * 100:.0f} %"))
        self.statusBar().addPermanentWidget(self.zoom_label)
        self.statusBar().addPermanentWidget(self.weights_label)
        self.statusBar().addPermanentWidget(self.device_label)
        self._show_prefs_in_status()

    def _show_prefs_in_status(self) -> None:
        device = self.prefs.device
        shown = resolved_device(device)
        self.device_label.setText(f"Device: {device}" + (f" \u2192 {shown}" if shown != device else ""))
        self.weights_label.setText(f"Feature network: {self.prefs.weights}")

    # host services (WorkspaceHost) -------------------------------------------------------------
    def notify(self, text: str, level: str = "info") -> None:
        getattr(log, {"error": "error", "warning": "warning"}.get(level, "info"))("%s", text)
        self.notice.show_message(text, level)

    def load_image(self, path: str, role: str, *, remember: bool = True) -> Any | None:
        from studio.engines.errors import StudioInputError
        from studio.imageio import load_image

        name = Path(path).name or str(path)
        try:
            image = load_image(path, max_pixels=MAX_WORKING_PIXELS)
        except StudioInputError as exc:
            text = str(exc)
            if name not in text:
                text = f"Could not open {name}: {text}"
            self.notify(text, "error")
            return None
        except Exception as exc:  # noqa: BLE001
            log.exception("loading %s", path)
            self.notify(f"Could not open {name}: {exc}", "error")
            return None
        if image.warnings:
            self.notify(" ".join(image.warnings), "warning")
        if remember:
            self.recent.add(str(path))
            remember_folder(self.settings, role, path)
        return image

    def ask_image_paths(self, role: str, *, multiple: bool = False) -> list[str]:
        title = {"content": "Open an image", "style": "Add style images"}.get(role, "Open an image")
        folder = last_folder(self.settings, role)
        if multiple:
            paths, _ = QFileDialog.getOpenFileNames(self, title, folder, IMAGE_FILTER)
        else:
            path, _ = QFileDialog.getOpenFileName(self, title, folder, IMAGE_FILTER)
            paths = [path] if path else []
        if paths:
            remember_folder(self.settings, role, paths[0])
        return paths

    def confirm(self, title: str, text: str) -> bool:
        answer = QMessageBox.question(self, title, text, QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                                      QMessageBox.StandardButton.No)
        return answer == QMessageBox.StandardButton.Yes

    # files --------------------------------------------------------------------------------------
    def load_demo(self) -> None:
        try:
            from studio.demo import write_demo_images

            content, style = write_demo_images(demo_dir())
        except Exception:  # noqa: BLE001 - the app works without its demo pair
            log.exception("writing the demo images")
            return
        for ws in self._workspaces.values():
            ws.load_demo(str(content), str(style))
            ws.undo_stack.clear()

    def ask_open(self) -> None:
        paths = self.ask_image_paths("content")
        if paths:
            self.open_file(paths[0])

    def ask_add_styles(self) -> None:
        ws = self.current_workspace()
        if hasattr(ws, "add_style_paths"):
            paths = self.ask_image_paths("style", multiple=True)
            if paths:
                ws.add_style_paths(paths)

    def open_file(self, path: str) -> bool:
        """Open an image: a studio PNG with a recipe restores its settings, any other image becomes
        the current workspace's main input. A bad file changes nothing."""
        from studio.recipe import read_recipe

        image = self.load_image(path, "content")
        if image is None:
            return False
        recipe = None
        try:
            recipe = read_recipe(path)
        except Exception as exc:  # noqa: BLE001 - a damaged recipe: still usable as an image
            log.warning("reading the recipe of %s: %s", path, exc)
        if recipe is not None:
            ws = next((w for w in self._workspaces.values() if w.engine == recipe.engine), None)
            if ws is None:
                self.notify(f"{Path(path).name} holds a {recipe.engine!r} recipe, which no workspace here "
                            "can use; opened it as a photo.", "warning")
            else:
                self.tabs.setCurrentIndex(list(self._workspaces).index(ws.name))
                note = ws.restore_recipe(dict(recipe.params), [(i.role, i.path) for i in recipe.inputs])
                if note is not None:
                    self.canvas.set_after(to_qimage(image.rgb, image.alpha))
                    self.canvas.set_caption(f"Opened {Path(path).name}")
                    self.notify(f"{Path(path).name}: {note}", "info")
                    return True
        ws = self.current_workspace()
        if not ws.open_image(image):
            self.notify(f"The {ws.title} workspace cannot use {Path(path).name}.", "warning")
            return False
        return True

    def _canvas_drop(self, paths: list[str]) -> None:
        self.open_file(paths[0])
        if len(paths) > 1:
            self.notify("Opened the first file only. Drop style images on the Style images list.", "info")

    # running ------------------------------------------------------------------------------------
    def run(self) -> Job | None:
        ws = self.current_workspace()
        reason = ws.run_blocker()
        if reason:
            self.notify(reason, "warning")
            return None
        try:
            spec = ws.make_job(self.prefs)
        except Exception as exc:  # noqa: BLE001
            log.exception("preparing the job")
            self.notify(f"Could not start: {exc}", "error")
            return None
        self._restart_hint_shown = False
        return self.runner.start(spec)

    def stop(self) -> None:
        if self.runner.is_running():
            self.runner.stop()
            self.progress.setFormat("Stopping\u2026")

    def _job_started(self, job: Job) -> None:
        self.loss_plot.clear()
        self.progress.setRange(0, 0)  # busy until the first progress
        self.progress.setFormat("Starting: loading the feature network\u2026")
        ws = self._workspaces[job.spec.workspace]
        before = ws.before_image(job.spec.state)
        self.canvas.set_before(to_qimage(before) if before is not None else None)
        self.canvas.set_caption("Starting\u2026")
        if self.notice.level == "error":
            self.notice.hide()

    def _job_info(self, job: Job, message: str) -> None:
        self.statusBar().showMessage(message, 10000)
        fields = job.info_fields
        if fields.get("device"):
            self.device_label.setText(f"Device: {fields['device']}")
        if fields.get("weights"):
            self.weights_label.setText(f"Feature network: {fields['weights']}")

    def _job_progress(self, job: Job, p: Progress) -> None:
        self.progress.setRange(0, max(p.total, 1))
        self.progress.setValue(min(p.iteration, p.total))
        self.progress.setFormat(progress_text(p))
        self.loss_plot.add(p.iteration, p.losses, p.total)
        if p.preview is not None:
            self.canvas.set_after(to_qimage(p.preview))
            self.canvas.set_caption(f"Preview \u00b7 iteration {p.iteration} / {p.total}")

    def _job_finished(self, job: Job, f: Finished) -> None:
        ws = self._workspaces.get(job.spec.workspace)
        state = ws.result_state(job.spec.state, f.extra) if ws is not None else job.spec.state
        spec = job.spec if state is job.spec.state else _with_state(job.spec, state)
        entry = HistoryEntry(
            number=self.history.next_number(), image=f.image, spec=spec, cancelled=f.cancelled,
            iterations=f.iterations, elapsed_s=f.elapsed_s, losses=dict(f.losses), infos=tuple(job.infos),
            extra=dict(f.extra),
        )
        tip = entry.label + f" in {format_duration(f.elapsed_s)}"
        if ws is not None:
            tip += "\n" + ws.describe(state)
        self.history.add(entry, tip)
        if job is self.runner.current:
            self._result = entry
            self.canvas.set_after(entry.qimage())
            what = "Stopped" if f.cancelled else "Finished"
            self.canvas.set_caption(f"Result #{entry.number} \u00b7 {what} after {f.iterations} iterations")
            self.progress.setRange(0, 100)
            self.progress.setValue(100 if not f.cancelled else self.progress.value())
            self.progress.setFormat(
                f"{what}: {f.iterations} iterations in {format_duration(f.elapsed_s)}"
            )
            self.statusBar().showMessage(f"{what}: result #{entry.number} is in the history strip", 8000)
        self._update_actions()

    def _job_failed(self, job: Job, message: str, details: str) -> None:
        self.notify(message + " (details in the log)", "error")
        self.notice.label.setToolTip(details[-3000:])
        if job is self.runner.current:
            self.progress.setRange(0, 100)
            self.progress.setValue(0)
            self.progress.setFormat("Failed: see the message above the picture")
            self.canvas.set_caption("The run failed")

    def _running_changed(self, running: bool) -> None:
        if not running and self.progress.maximum() == 0:
            self.progress.setRange(0, 100)
            self.progress.setFormat("Ready")
        self._update_actions()

    def _live_update_sent(self, job: Job, changes: dict) -> None:
        names = ", ".join(sorted(k.replace("_", " ") for k in changes))
        self.statusBar().showMessage(f"Applied to the running job: {names}", 4000)

    def _state_changed(self, ws: Workspace, old: Any, new: Any) -> None:
        job = self.runner.current
        if self.runner.is_running() and job is not None and job.spec.workspace == ws.name:
            self.runner.offer_state(ws.name, new)
            if ws.needs_restart(job.spec.state, new) and not self._restart_hint_shown:
                self._restart_hint_shown = True
                self.statusBar().showMessage("Some changes apply on the next Run (press Run to start fresh).", 8000)
        elif ws is self.current_workspace() and ws.before_image(old) is not ws.before_image(new):
            before = ws.before_image(new)
            self.canvas.set_before(to_qimage(before) if before is not None else None)
            if self._result is None or self._result.spec.workspace == ws.name:
                self.canvas.set_after(None)
                self.canvas.set_caption(ws.before_caption)
                self._result = None
        self._update_actions()

    def _update_actions(self) -> None:
        if not self._workspaces:
            return
        ws = self.current_workspace()
        reason = ws.run_blocker()
        running = self.runner.is_running()
        self.act_run.setEnabled(reason is None)
        self.act_run.setText("\u25b6  Run again" if running else "\u25b6  Run")
        if reason:
            self.act_run.setToolTip(reason)
        elif running:
            self.act_run.setToolTip("Start again from scratch with the current settings (Ctrl+R)")
        else:
            self.act_run.setToolTip("Start a run with the current settings (Ctrl+R)")
        if hasattr(self, "run_button"):
            self.run_button.setToolTip(self.act_run.toolTip())
            self.run_hint.setText(reason or "")
            self.run_hint.setVisible(bool(reason))
        self.act_stop.setEnabled(running)
        self.act_add_style.setVisible(hasattr(ws, "add_style_paths"))  # only the Style tab takes style images
        has_result = self._result is not None
        self.act_export.setEnabled(has_result)
        self.act_copy.setEnabled(has_result)

    # history ------------------------------------------------------------------------------------
    def restore_history(self, entry: HistoryEntry) -> None:
        ws = self._workspaces.get(entry.spec.workspace)
        if ws is None:
            return
        self.tabs.setCurrentIndex(list(self._workspaces).index(ws.name))
        if ws.state() is not entry.spec.state:
            ws.edit(entry.spec.state, f"Restore result #{entry.number}")
        before = ws.before_image(entry.spec.state)
        self.canvas.set_before(to_qimage(before) if before is not None else None)
        self.canvas.set_after(entry.qimage())
        self.canvas.set_caption(f"Result #{entry.number} (from the history)")
        self._result = entry
        self._update_actions()

    def current_result(self) -> HistoryEntry | None:
        return self._result

    def refresh_result(self, workspace: str, image: Any, state: Any, params: dict | None = None,
                       caption: str = "") -> bool:
        """A workspace re-derived its current result without a run (e.g. a new blend of a cached result):
        show it, and let export and the history entry carry it. False when that result is not shown."""
        entry = self._result
        if entry is None or entry.spec.workspace != workspace or self.runner.is_running():
            return False
        entry.image = image
        entry.spec = _with_state(entry.spec, state)
        if params is not None:
            entry.extra["params"] = params
        self.canvas.set_after(entry.qimage())
        if caption:
            self.canvas.set_caption(f"Result #{entry.number} \u00b7 {caption}")
        return True

    # export -------------------------------------------------------------------------------------
    def ask_export(self) -> None:
        if self._result is None:
            self.notify("Nothing to export yet: run first.", "info")
            return
        folder = last_folder(self.settings, "export")
        fmt = self.settings.value("export/format", "png")
        ext = {"jpg": ".jpg", "webp": ".webp", "tif": ".tif"}.get(str(fmt), ".png")
        suggested = str(Path(folder) / f"studio-{self._result.number}{ext}")
        dialog = ExportDialog(suggested, get_int(self.settings, "export/quality", 95), self)
        if dialog.exec() != ExportDialog.DialogCode.Accepted:
            return
        self.export_result(dialog.chosen_path(), quality=dialog.quality.value())

    def export_result(self, path: str, *, quality: int = 95, entry: HistoryEntry | None = None) -> Path | None:
        entry = entry or self._result
        if entry is None:
            return None
        target = Path(path).expanduser()
        if format_of(target) is None:
            self.notify(f"{target.name}: choose a .png, .jpg, .webp or .tif file name.", "error")
            return None
        if target.exists() and not self.confirm(
            "Replace the file?", f"{target.name} already exists in {target.parent}.\nReplace it?"
        ):
            return None
        try:
            written = export_image(target, entry, quality=quality)
        except Exception as exc:  # noqa: BLE001
            log.exception("exporting %s", target)
            self.notify(f"Could not save {target.name}: {exc}", "error")
            return None
        remember_folder(self.settings, "export", target)
        self.settings.setValue("export/format", format_of(target))
        self.settings.setValue("export/quality", int(quality))
        self.notify(f"Saved {written}", "info")
        return written

    def copy_result(self) -> None:
        if self._result is not None:
            copy_to_clipboard(self._result)
            self.statusBar().showMessage("Copied the result to the clipboard", 4000)

    # preferences --------------------------------------------------------------------------------
    def show_preferences(self) -> None:
        dialog = PreferencesDialog(self.prefs, self)
        if dialog.exec() == PreferencesDialog.DialogCode.Accepted:
            self.set_preferences(dialog.preferences())

    def set_preferences(self, prefs: Preferences) -> None:
        self.prefs = prefs
        prefs.save(self.settings)
        self._show_prefs_in_status()
        if self.runner.is_running():
            self.statusBar().showMessage("The new device and network apply on the next Run.", 6000)

    def _about(self) -> None:
        import studio

        QMessageBox.about(self, "About studio", f"studio {studio.__version__}\nNeural image techniques for artists.")

    # closing ------------------------------------------------------------------------------------
    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        if self.runner.is_running():
            self.hide()  # the window goes at once; the job stops at its next check
        self.runner.shutdown()
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/splitter", self.splitter.saveState())
        self.settings.sync()
        event.accept()


def _with_state(spec: Any, state: Any) -> Any:
    from dataclasses import replace

    return replace(spec, state=state)
