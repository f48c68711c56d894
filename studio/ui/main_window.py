"""The main window: the shell every workspace shares.

Canvas in the middle, the active workspace's panel on the left with Run/Stop under it, progress,
loss plot and history below the canvas; menus for files, editing (undo/redo), view and run.
The window owns the one ``JobRunner``; the workspaces never touch threads.
"""

from __future__ import annotations

import logging
import time
import weakref
from dataclasses import replace
from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, QSettings, QSize, Qt
from PySide6.QtGui import QUndoGroup
from PySide6.QtWidgets import (
    QApplication,
    QFileDialog,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QScrollArea,
    QStackedWidget,
    QTabWidget,
    QWidget,
)

from studio.engines.errors import StudioInputError
from studio.engines.files import os_reason
from studio.paths import demo_dir
from studio.progress import format_seconds
from studio.session import SessionStore
from studio.ui.canvas import ImageCanvas
from studio.ui.desk import Desk
from studio.ui.history import HistoryEntry, HistoryStrip
from studio.ui.job_display import JobDisplay
from studio.ui.job_runner import Job, JobRunner, JobSpec
from studio.ui.key_guard import commit_typing
from studio.ui.key_guard import install as install_key_guard
from studio.ui.loss_plot import LossPlot
from studio.ui.notice import NoticeBar, in_one_line
from studio.ui.preferences import Preferences, PreferencesDialog
from studio.ui.qimage import to_qimage
from studio.ui.quitting import Quitting
from studio.ui.results import Results
from studio.ui.section import remember_sections
from studio.ui.session_keeper import SessionKeeper
from studio.ui.settings import last_folder, open_settings, remember_folder
from studio.ui.wheel_guard import install as install_wheel_guard
from studio.ui.window_chrome import WindowChrome
from studio.ui.workspace import Workspace

log = logging.getLogger("studio.ui")

IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.webp *.tif *.tiff *.bmp *.gif *.tga);;All files (*)"
MAX_WORKING_PIXELS = 16_000_000  # larger inputs are downscaled on load, with a notice
DEFAULT_SIZE = QSize(1400, 900)


class MainWindow(WindowChrome, JobDisplay, Results, Quitting, QMainWindow):
    def __init__(
        self,
        settings: QSettings | None = None,
        *,
        workspaces: tuple[type[Workspace], ...] | None = None,
        load_demo: bool = True,
        session: SessionStore | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        # an unchanged file opened again is the image already in memory, while anything holds it: each re-open kept
        # its own float copy, in memory and in the kept session (21 MB a time for a 1200x1528 painting)
        self._opened_images: weakref.WeakValueDictionary[tuple[str, int, int], Any] = weakref.WeakValueDictionary()
        install_wheel_guard(QApplication.instance())
        self.setWindowTitle("studio")
        self.settings = settings if settings is not None else open_settings()
        self.prefs = Preferences.load(self.settings)
        self.runner = JobRunner(self)
        self.undo_group = QUndoGroup(self)
        self._workspaces: dict[str, Workspace] = {}
        self._desks: dict[str, Desk] = {}
        self._entry_count = 0
        self._restart_hint_shown = False
        self._restart_hint = ""
        self._closing_confirmed = False

        self.notice = NoticeBar()
        self.desk_stack = QStackedWidget()
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
        self.key_guard = install_key_guard(self, lambda on: self.canvas.set_holding_before(on))

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
        self.keeper: SessionKeeper | None = None
        restored: str | None = None
        trouble: str | None = None  # a kept session that could not be read or restored
        if session is not None:
            self.keeper = SessionKeeper(self, session)
            try:
                previous = session.open()
            except (OSError, StudioInputError) as exc:
                reason = os_reason(exc) if isinstance(exc, OSError) and exc.strerror else str(exc).rstrip(".")
                if isinstance(exc, OSError) and exc.filename:
                    reason = f"{exc.filename}: {reason}"
                self.notify(f"Your work cannot be kept between sessions: {reason}.", "warning")
                self.keeper = None
            else:
                try:
                    restored = self.keeper.restore(previous)
                except Exception as exc:  # noqa: BLE001 - a kept session is a file: it never stops the app
                    log.exception("restoring the last session")
                    aside = session.set_aside()
                    trouble = (f"Your last session could not be restored ({in_one_line(exc)}); what could be read "
                               "is open" + (f", and the session was set aside as {aside}." if aside else "."))
                if previous.problem:
                    trouble = f"{previous.problem} studio started fresh."
        if load_demo and restored is None:
            self.load_demo()
        if trouble:
            self.notify(trouble, "warning")
        elif restored:
            worry = "did not quit" in restored or "Could not restore" in restored
            self.notify(restored, "warning" if worry else "info")
        if self.keeper is not None:
            self._keep_session()
        self._workspace_switched(self.tabs.currentIndex())
        self._update_actions()

    def _keep_session(self) -> None:
        """Every change of a state, a history or the tab shown is kept on disk (debounced)."""
        keeper = self.keeper
        assert keeper is not None
        for ws in self._workspaces.values():
            ws.state_changed.connect(lambda _old, _new: keeper.schedule())
            self.desk(ws.name).history.changed.connect(keeper.schedule)
        self.tabs.currentChanged.connect(lambda _i: keeper.schedule())
        keeper.schedule()

    # workspaces ---------------------------------------------------------------------------------
    def add_workspace(self, ws: Workspace) -> None:
        self._workspaces[ws.name] = ws
        self.undo_group.addStack(ws.undo_stack)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(ws.panel())
        remember_sections(ws.panel(), self.settings, f"sections/{ws.name}")
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        desk = Desk(ws.name)
        desk.canvas.set_tool(ws.canvas_tool())
        desk.canvas.set_placeholder(lambda w=ws: w.empty_canvas_text)  # asked at each paint: a mode may change it
        desk.canvas.files_dropped.connect(self._canvas_drop)
        desk.canvas.zoom_changed.connect(lambda z, d=desk: self._zoom_changed(d, z))
        desk.history.entry_chosen.connect(self.restore_history)
        desk.history.delete_requested.connect(self.delete_history)
        desk.history.entries_dropped.connect(self._history_dropped)
        before = ws.before_image()
        desk.canvas.set_before(to_qimage(before) if before is not None else None)
        desk.canvas.set_caption(ws.before_caption if before is not None else "")
        self._desks[ws.name] = desk
        self.desk_stack.addWidget(desk)
        self.tabs.addTab(scroll, ws.title)
        # a running job hears of its workspace's edits straight from the runner (the spec's live hook)
        ws.state_changed.connect(lambda old, new, name=ws.name: self.runner.offer_state(name, new))
        ws.state_changed.connect(lambda old, new, w=ws: self._state_changed(w, old, new))

    def workspace(self, name: str | None = None) -> Workspace:
        if name is None:
            return self.current_workspace()
        return self._workspaces[name]

    def workspaces(self) -> list[Workspace]:
        return list(self._workspaces.values())

    def current_workspace(self) -> Workspace:
        return list(self._workspaces.values())[max(self.tabs.currentIndex(), 0)]

    def desk(self, name: str | None = None) -> Desk:
        """The desk (canvas, progress, loss plot, history) of a workspace; by default the current tab's."""
        return self._desks[name or self.current_workspace().name]

    @property
    def canvas(self) -> ImageCanvas:
        return self.desk().canvas

    @property
    def progress(self) -> QProgressBar:
        return self.desk().progress

    @property
    def loss_plot(self) -> LossPlot:
        return self.desk().loss_plot

    @property
    def history(self) -> HistoryStrip:
        return self.desk().history

    @property
    def _result(self) -> HistoryEntry | None:
        return self.desk().result if self._desks else None

    def _workspace_switched(self, index: int) -> None:
        if index < 0 or not self._workspaces:
            return
        ws = self.current_workspace()
        desk = self.desk(ws.name)
        self.desk_stack.setCurrentWidget(desk)
        self.undo_group.setActiveStack(ws.undo_stack)
        desk.canvas.set_split_mode(self.act_split.isChecked())
        self._zoom_changed(desk, desk.canvas.zoom())
        # typed keys go to the picture, not to the last field of the panel left behind
        desk.canvas.setFocus(Qt.FocusReason.OtherFocusReason)
        if hasattr(self, "weights_label"):
            self._show_network_in_status()
        self._update_actions()

    def _zoom_changed(self, desk: Desk, zoom: float) -> None:
        if hasattr(self, "zoom_label") and self._desks and desk is self.desk():
            self.zoom_label.setText(f"Zoom {zoom * 100:.0f} %")

    def next_entry_number(self) -> int:
        self._entry_count += 1
        return self._entry_count

    # building -----------------------------------------------------------------------------------
    def notify(self, text: str, level: str = "info") -> None:
        getattr(log, {"error": "error", "warning": "warning"}.get(level, "info"))("%s", text)
        self.notice.show_message(text, level)

    def load_image(self, path: str, role: str, *, remember: bool = True) -> Any | None:
        from studio.engines.errors import StudioInputError
        from studio.imageio import load_image

        name = Path(path).name or str(path)
        try:
            stat = Path(path).stat()
            key = (str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns)
        except OSError:
            key = None
        image = self._opened_images.get(key) if key is not None else None
        try:
            if image is None:
                image = load_image(path, max_pixels=MAX_WORKING_PIXELS)
                if key is not None:
                    self._opened_images[key] = image
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

    def confirm_recipe_reads(self, name: str, reads: list[str]) -> bool:
        """A recipe is someone's file: before it opens the files it names, the user sees the list."""
        if not reads:
            return True
        shown = "\n".join(reads[:12]) + (f"\n… and {len(reads) - 12} more" if len(reads) > 12 else "")
        return self.confirm("Open the files of this recipe?",
                            f"{name} holds the settings that made it. Its recipe also reads these files:\n\n"
                            f"{shown}\n\nOpen them too? (No: only the settings are taken.)")

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
        damaged = ""
        try:
            recipe = read_recipe(path)
        except Exception as exc:  # noqa: BLE001 - a damaged recipe: still usable as an image
            log.warning("reading the recipe of %s: %s", path, exc)
            damaged = in_one_line(exc)
        if recipe is not None:
            ws = next((w for w in self._workspaces.values() if w.engine == recipe.engine), None)
            if ws is None:
                self.notify(f"{Path(path).name} holds a {recipe.engine!r} recipe, which no workspace here "
                            "can use; opened it as a photo.", "warning")
            else:
                self.tabs.setCurrentIndex(list(self._workspaces).index(ws.name))
                from studio.recipe_reach import shown

                reads = [f"{shown(i.role)}: {shown(i.path)}" for i in recipe.inputs]
                if not self.confirm_recipe_reads(Path(path).name, reads):
                    recipe_inputs: list[tuple[str, str]] = []  # the settings only, none of its files
                else:
                    recipe_inputs = [(i.role, i.path) for i in recipe.inputs]
                params = dict(recipe.params)
                if recipe.engine == "stylize":  # re-runs keep the network that made it, where it is installed
                    from studio.recipe_reach import installed_recipe_weights

                    params["weights"] = installed_recipe_weights(recipe)
                try:
                    note = ws.restore_recipe(params, recipe_inputs,
                                             **({"regions": recipe.regions} if recipe.regions else {}))
                except Exception as exc:  # noqa: BLE001 - a recipe is anyone's file: never a crash
                    log.warning("restoring the recipe of %s: %s", path, exc)
                    damaged, note = in_one_line(exc), None
                if note is not None:
                    from studio.recipe import unknown_settings_words

                    self._add_opened_result(ws, image, recipe, f"Opened {Path(path).name}")
                    unknown = unknown_settings_words(recipe)
                    self.notify(f"{Path(path).name}: {note}{self._network_words(recipe)}"
                                f"{' ' + unknown if unknown else ''}", "warning" if unknown else "info")
                    return True
        ws = self.current_workspace()
        if not ws.open_image(image):
            self.notify(f"The {ws.title} workspace cannot use {Path(path).name}.", "warning")
            return False
        if damaged:
            self.notify(f"{Path(path).name}: its recipe could not be used ({damaged}); it was opened as a picture.",
                        "warning")
        return True

    def _network_words(self, recipe: Any) -> str:
        """For a style recipe made on another network than the one the Preferences load: that its runs keep the
        network that made it, or that this one is not installed here."""
        if recipe.engine != "stylize":
            return ""
        from studio.engines.errors import StudioInputError
        from studio.recipe_reach import installed_recipe_weights, recipe_weights
        from studio.weights import choose_source

        made = recipe_weights(recipe)
        if made in ("", "auto"):
            made = recipe.weights or "auto"  # the network that made it, installed here or not
        auto = self.prefs.weights in ("", "auto")
        try:
            loads = choose_source("auto").name if auto else self.prefs.weights
        except StudioInputError:  # no network installed: a run says so
            loads = ""
        if made in ("", "auto", loads):
            return ""
        here = f"Automatic, which loads {loads}" if auto else loads
        if installed_recipe_weights(recipe) == made:
            return (f" It was made on the {made} network, which its runs here keep so that a re-run gives the "
                    f"same picture (Network layers \u25b8 Network: 'As in Preferences' runs it on {here}).")
        return (f" It was made on the {made} network, which is not installed here; runs use {here} "
                "(Preferences), so a new run can look different.")

    def _canvas_drop(self, paths: list[str]) -> None:
        self.open_file(paths[0])
        if len(paths) > 1:
            self.notify("Opened the first file only. Drop style images on the Style images list.", "info")

    # running ------------------------------------------------------------------------------------
    def run(self) -> Job | None:
        commit_typing()
        ws = self.current_workspace()
        reason = ws.run_blocker()
        if reason:
            self.notify(reason, "warning")
            return None
        shown = self.desk(ws.name).result
        if ws.rerun_repeats and shown is not None and shown.spec.state is ws.state() and not self.runner.is_running():
            self.notify(f"Result #{shown.number} was made from these very settings: nothing to run again.", "info")
            return None
        running = self.runner.current if self.runner.is_running() else None
        try:
            if running is not None and running.spec.workspace == ws.name and running.spec.remake is not None:
                spec = running.spec.remake(self.prefs)  # Restart: this job again (a full-size render stays one)
            else:
                spec = ws.make_job(self.prefs)
        except Exception as exc:  # noqa: BLE001
            log.exception("preparing the job")
            self.notify(f"Could not start: {exc}", "error")
            return None
        if not self.confirm_stopping_other_tab(spec):
            return None
        self._restart_hint_shown = False
        self._restart_hint = ""
        return self.runner.start(spec)

    def confirm_stopping_other_tab(self, spec: JobSpec) -> bool:
        """One job runs at a time: a Run on one tab while another tab's job runs (an hour of training, say)
        would stop it, so the user is asked first (``stopping_other_tab_question``)."""
        question = self.stopping_other_tab_question(spec)
        return question is None or self.confirm("Stop the running job?", question)

    def stopping_other_tab_question(self, spec: JobSpec) -> str | None:
        """What starting ``spec`` would stop, as a question, or None: nothing runs, or the running job is this
        tab's own (a Run there restarts it, as its button says)."""
        job = self.runner.current
        if not self.runner.is_running() or job is None or job.spec.workspace == spec.workspace:
            return None
        other = self._workspaces.get(job.spec.workspace)
        what = job.spec.title or (other.title if other else "job")
        p = job.last_progress
        where = f", at {p.iteration} of {p.total}" if p is not None else ""
        tab = f" on the {other.title} tab" if other is not None else ""
        return (f"{what}{tab} is running ({format_seconds(time.monotonic() - job.started)} so far{where}). Only "
                f"one job runs at a time: {spec.title or 'this run'} would stop it (what it has made so far is "
                "kept).\n\nStop it and run?")

    def start_task(self, spec: JobSpec) -> Job | None:
        """Start a job without a picture (a download) unless a run is going (it would stop that run)."""
        if self.runner.is_running():
            self.notify(f"{spec.title} waits for the running job: stop it or let it finish, then try again.",
                        "warning")
            return None
        return self.runner.start(spec)

    def download_weights(self, name: str) -> Job | None:
        """Download torchvision's ImageNet weights (Preferences) as a background job with progress and Stop;
        once there, they become the feature network."""
        from studio.download import download_job
        from studio.weights import download_torchvision

        arch = name.split("-")[0]
        ws = self.current_workspace()

        def done(_finished: Any) -> None:
            self.set_preferences(replace(self.prefs, weights=name))
            self.notify(f"Downloaded {name}; it is now the feature network (File \u25b8 Preferences).", "info")

        spec = JobSpec(ws.name, "download", lambda control: download_job(
            lambda progress: download_torchvision(arch, progress), name, control), ws.params(), ws.state(),
            title=f"Download {name}", keeps_result=False, on_finished=done)
        return self.start_task(spec)

    def stop(self) -> None:
        if self.runner.is_running():
            self.runner.stop()
            self.progress.setFormat("Stopping\u2026")

    def _state_changed(self, ws: Workspace, old: Any, new: Any) -> None:
        if ws is self.current_workspace() and (ws.kept_network(old), ws.runs_on_network(old)) != (
                ws.kept_network(new), ws.runs_on_network(new)):
            self._show_network_in_status()
        job = self.runner.current
        desk = self.desk(ws.name)
        if self.runner.is_running() and job is not None and job.spec.workspace == ws.name:
            if ws.needs_restart(job.spec.state, new) and not self._restart_hint_shown:
                self._restart_hint_shown = True
                self._restart_hint = "Some changes apply on the next Run: press Restart to start fresh with them."
        elif ws.before_image(old) is not ws.before_image(new):
            before, shown, hidden = ws.before_image(new), desk.result, desk.hidden
            if shown is not None and shown.spec.state is new:  # the result's own state arrived (a fitted latent)
                self.show_entry(shown, desk.canvas.caption())
                return
            if (hidden is not None and before is not None and hidden[1] is before
                    and hidden[0] in desk.history.entries()):  # back to the picture a result was shown on (undo)
                desk.hidden = None
                self.show_entry(hidden[0], f"Result #{hidden[0].number}")
                desk.history.mark(hidden[0])
                return
            desk.hidden = None if shown is None else (shown, ws.before_image(old))
            desk.canvas.set_before(to_qimage(before) if before is not None else None)
            desk.canvas.set_after(None)
            desk.canvas.set_caption(ws.before_caption)
            desk.result = None
            desk.history.mark(None)
        self._update_actions()

    def _update_actions(self) -> None:
        if not self._workspaces:
            return
        ws = self.current_workspace()
        reason = ws.run_blocker()
        running = self.runner.is_running()
        self.act_run.setEnabled(reason is None)
        self.act_run.setText("\u21bb  Restart" if running else "\u25b6  Run")
        if reason:
            self.act_run.setToolTip(reason)
        elif running:
            self.act_run.setToolTip("Stop this run and start it again with the current settings (Ctrl+R)")
        else:
            self.act_run.setToolTip("Start a run with the current settings (Ctrl+R)")
        if hasattr(self, "run_button"):
            self.run_button.setToolTip(self.act_run.toolTip())
            job = self.runner.current
            hint = reason or (self._restart_hint if running and job is not None
                              and job.spec.workspace == ws.name else "")
            self.run_hint.setText(hint)
            self.run_hint.setVisible(bool(hint))
        self.act_stop.setEnabled(running)
        self.act_add_style.setVisible(hasattr(ws, "add_style_paths"))  # only the Style tab takes style images
        has_result = self._result is not None
        self.act_export.setEnabled(has_result)
        self.act_copy.setEnabled(has_result)
        self.act_full_size.setVisible(hasattr(ws, "full_size_job"))
        self.act_full_size.setEnabled(has_result and not running and hasattr(ws, "full_size_job")
                                      and ws.can_render_full_size(self._result))
        if hasattr(self, "send_button"):
            self.send_button.setEnabled(has_result)

    # preferences --------------------------------------------------------------------------------
    def show_preferences(self) -> None:
        dialog = PreferencesDialog(self.prefs, self)
        if dialog.exec() == PreferencesDialog.DialogCode.Accepted:
            self.set_preferences(dialog.preferences())
            if dialog.download_choice:
                self.download_weights(dialog.download_choice)

    def set_preferences(self, prefs: Preferences) -> None:
        self.prefs = prefs
        prefs.save(self.settings)
        for ws in self._workspaces.values():
            ws.networks_changed()
        self._show_prefs_in_status()
        if self.runner.is_running():
            self.statusBar().showMessage("The new device and network apply on the next Run.", 6000)

    def _about(self) -> None:
        import studio

        QMessageBox.about(self, "About studio", f"studio {studio.__version__}\nNeural image techniques for artists.")
