"""A tab's results: its history strip, the result it shows, export, copy, and sending a result to another
tab as its input (a mixin of ``MainWindow``)."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from typing import Any

from studio.history_budget import format_bytes
from studio.paths import sent_dir
from studio.ui.export import ExportDialog, copy_to_clipboard, export_image, format_of
from studio.ui.history import HistoryEntry
from studio.ui.job_runner import JobSpec
from studio.ui.qimage import to_qimage
from studio.ui.settings import get_int, last_folder, remember_folder
from studio.ui.workspace import Workspace

log = logging.getLogger("studio.ui")


def _not_runnable(control: Any) -> Any:
    raise RuntimeError("this history entry was opened from a file; it has no job to run")


class Results:
    """Needs the window's desks, workspaces, notify/confirm/load_image, keeper and settings."""

    def _add_opened_result(self, ws: Workspace, image: Any, recipe: Any, caption: str) -> None:
        """A studio PNG opened with its recipe becomes this tab's current result (exportable, in its
        history) with the settings that made it; exported again, it keeps that recipe as it was (its input
        files, regions, network and time: ``export.build_recipe``)."""
        inputs = tuple((i.role, i.path, i.sha256) for i in recipe.inputs)
        spec = JobSpec(ws.name, ws.engine, _not_runnable, ws.params(), ws.state(), inputs, title=caption)
        entry = HistoryEntry(number=self.next_entry_number(), image=image.rgb, spec=spec, cancelled=False,
                             iterations=0, elapsed_s=0.0,
                             extra={"params": dict(recipe.params), "opened": caption, "recipe": recipe.to_json()})
        self.add_history(entry, f"{caption}\n{ws.describe(ws.state())}")
        self.show_entry(entry, caption)  # what Export and Copy take, and what a restart shows again

    # history ------------------------------------------------------------------------------------
    def add_history(self, entry: HistoryEntry, tooltip: str = "") -> None:
        """Put a result in its workspace's history strip."""
        ws = self._workspaces[entry.spec.workspace]
        entry.workspace_title = ws.title
        entry.name = ws.result_name(entry)
        self.desk(entry.spec.workspace).history.add(entry, tooltip)

    def delete_history(self, entry: HistoryEntry) -> None:
        """Remove a result from its history (the desk stops showing it if it was the current one)."""
        desk = self.desk(entry.spec.workspace)
        desk.history.remove(entry)
        if desk.result is entry:
            desk.result = None
            desk.canvas.set_after(None)
            desk.canvas.set_caption(self._workspaces[desk.name].before_caption)
        self._update_actions()

    def restore_history(self, entry: HistoryEntry) -> None:
        ws = self._workspaces.get(entry.spec.workspace)
        if ws is None:
            return
        self.tabs.setCurrentIndex(list(self._workspaces).index(ws.name))
        desk = self.desk(ws.name)
        shown = desk.result

        def show(restored: bool) -> None:  # undo shows the result that was shown before the restore, redo this one
            target = entry if restored else shown
            if target is not None and target in desk.history.entries():
                self.show_entry(target, f"Result #{target.number}" + (" (from the history)" if restored else ""))
                desk.history.mark(target)
            elif desk.result is not None:  # none was shown, or it has left the history since
                desk.result = None
                desk.canvas.set_after(None)
                desk.canvas.set_caption(ws.before_caption)
                desk.history.mark(None)
                self._update_actions()

        if ws.state() is not entry.spec.state:
            ws.edit(entry.spec.state, f"Restore result #{entry.number}", then=show)
        else:
            show(True)

    def show_entry(self, entry: HistoryEntry, caption: str = "") -> None:
        """Make a history entry its tab's current result: on its canvas, and what Export saves."""
        ws = self._workspaces[entry.spec.workspace]
        desk = self.desk(ws.name)
        before = ws.before_image(entry.spec.state)
        desk.canvas.set_before(to_qimage(before) if before is not None else None)
        desk.canvas.set_after(entry.qimage())
        desk.canvas.set_caption(caption or f"Result #{entry.number}")
        desk.result = entry
        if self.keeper is not None:
            self.keeper.schedule()
        self._update_actions()

    def _history_dropped(self, entries: list) -> None:
        numbers = ", ".join(f"#{e.number}" for e in entries)
        b = self.desk(entries[0].spec.workspace).history.budget
        self.notify(f"The history keeps {format_bytes(b.memory_bytes)} of results in memory and "
                    f"{format_bytes(b.disk_bytes)} on disk; it let go of the oldest: {numbers}.", "info")

    def result_of(self, workspace: str) -> HistoryEntry | None:
        """The result a tab shows (and exports), or None."""
        return self.desk(workspace).result

    def current_result(self) -> HistoryEntry | None:
        return self._result

    def refresh_result(self, workspace: str, image: Any, state: Any, params: dict | None = None,
                       caption: str = "") -> bool:
        """A workspace re-derived its current result without a run (e.g. a new blend of a cached result):
        show it, and let export and the history entry carry it. False when that result is not shown."""
        desk = self.desk(workspace)
        entry = desk.result
        job = self.runner.current
        if entry is None or (self.runner.is_running() and job is not None and job.spec.workspace == workspace):
            return False
        entry.image = image
        entry.spec = replace(entry.spec, state=state)
        if params is not None:
            entry.extra["params"] = params
        desk.canvas.set_after(entry.qimage())
        desk.history.refresh(entry)  # the thumbnail shows what Export saves
        if caption:
            desk.canvas.set_caption(f"Result #{entry.number} \u00b7 {caption}")
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
        dialog = ExportDialog(suggested, get_int(self.settings, "export/quality", 95, 1, 100), self)
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
        entry.exported_to = str(written)
        if self.keeper is not None:
            self.keeper.schedule()
        remember_folder(self.settings, "export", target)
        self.settings.setValue("export/format", format_of(target))
        self.settings.setValue("export/quality", int(quality))
        self.notify(f"Saved {written}", "info")
        return written

    def send_result(self, target: str) -> bool:
        """Use the current result as another tab's input (the Style result as the Harmonize painting, a
        translated photo as the Style content), as a PNG file with its recipe, so its origin is kept."""
        entry = self._result
        ws = self._workspaces.get(target)
        if entry is None or ws is None or not ws.input_role:
            return False
        source = self._workspaces[entry.spec.workspace].title
        try:
            path = export_image(sent_dir() / f"result-{entry.number}.png", entry)
        except Exception as exc:  # noqa: BLE001
            log.exception("sending result #%d", entry.number)
            self.notify(f"Could not send result #{entry.number}: {exc}", "error")
            return False
        image = self.load_image(str(path), "content", remember=False)
        if image is None:
            return False
        self.tabs.setCurrentIndex(list(self._workspaces).index(ws.name))
        if not ws.open_image(image):
            self.notify(f"The {ws.title} tab cannot use result #{entry.number}.", "warning")
            return False
        self.notify(f"Result #{entry.number} of the {source} tab is now {ws.input_role} of the {ws.title} tab.",
                    "info")
        return True

    def ask_full_size(self) -> None:
        """Ask the long side of a full-size render of the current style result, telling its time, and start it."""
        from studio.ui.style.full_size_dialog import FullSizeDialog

        entry, ws = self._result, self.current_workspace()
        start = ws.full_size_start(entry) if hasattr(ws, "full_size_job") else None
        if entry is None or start is None:
            return
        highest = ws.full_size_highest(entry)
        if highest <= max(start.shape[:2]):
            self.notify(f"This result is already {max(start.shape[:2])} px: a style run of this photo fits at most "
                        f"{highest} px in this machine's memory.", "warning")
            return
        ph, pw = entry.spec.state.content.rgb.shape[:2]
        dialog = FullSizeDialog(max(start.shape[:2]), entry.spec.state.params.iterations,
                                lambda side: ws.full_size_estimate(entry, side), highest, self, photo_size=(pw, ph))
        if dialog.exec() == FullSizeDialog.DialogCode.Accepted:
            self.render_full_size(dialog.side.value())

    def render_full_size(self, side: int) -> Any:
        """Render the current style result at long side ``side`` (the dialog's Render, or a test)."""
        entry, ws = self._result, self.current_workspace()
        if entry is None or not hasattr(ws, "full_size_job"):
            return None
        if self.runner.is_running():
            self.notify("A full-size render waits for the running job: stop it or let it finish.", "warning")
            return None
        try:
            spec = ws.full_size_job(entry, side, self.prefs)
        except ValueError as exc:
            self.notify(str(exc), "warning")
            return None
        return self.runner.start(spec)

    def _fill_send_menu(self) -> None:
        menu = self.send_menu
        menu.clear()
        here = self.current_workspace().name
        for ws in self._workspaces.values():
            if ws.input_role and ws.name != here:
                act = menu.addAction(f"{ws.title}: as {ws.input_role}", lambda n=ws.name: self.send_result(n))
                act.setEnabled(self._result is not None)

    def copy_result(self) -> None:
        if self._result is not None:
            copy_to_clipboard(self._result)
            self.statusBar().showMessage("Copied the result to the clipboard", 4000)
