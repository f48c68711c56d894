"""How the main window shows a job: the progress bar with ETA, the loss plot, previews on the canvas, the
result in the history strip, failures in the notice bar (a mixin of ``MainWindow``)."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

import numpy as np
from PySide6.QtCore import QTimer

from studio.download import DOWNLOAD_STAGE
from studio.engines.events import Finished, Progress
from studio.history_budget import format_bytes
from studio.progress import plural
from studio.ui.history import HistoryEntry
from studio.ui.job_runner import Job
from studio.ui.qimage import to_qimage

log = logging.getLogger("studio.ui")


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "\u2026"
    seconds = max(0, round(seconds))
    m, s = divmod(seconds, 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def progress_text(p: Progress) -> str:
    if p.stage == DOWNLOAD_STAGE:
        parts = [f"Downloading: {format_bytes(p.iteration)} of {format_bytes(p.total)}"]
    else:
        parts = [f"Iteration {p.iteration} / {p.total}"]
    if p.scale_count > 1:  # harmonization's stages are its two passes, a style run's its sizes
        unit = "pass" if p.stage.startswith("pass") else "scale"
        parts.append(f"{unit} {p.scale_index + 1} of {p.scale_count}")
    parts.append(f"{format_duration(p.elapsed_s)} elapsed")
    parts.append(f"about {format_duration(p.eta_s)} left" if p.eta_s is not None else "estimating time left")
    return " \u00b7 ".join(parts)


class JobDisplay:
    """The job runner's signals, shown on the desk of the workspace that started the job (the runner
    has already dropped a superseded job's progress)."""

    def _job_started(self, job: Job) -> None:
        desk = self.desk(job.spec.workspace)
        desk.progress.setRange(0, 0)  # busy until the first progress
        if not job.spec.keeps_result:
            desk.progress.setFormat(f"{job.spec.title}: connecting\u2026")
            return
        desk.loss_plot.clear()
        ws = self._workspaces[job.spec.workspace]
        desk.progress.setFormat("Starting: loading the feature network\u2026" if ws.runs_on_network(job.spec.state)
                                else "Starting\u2026")
        desk.show_job_note("")
        before = ws.before_image(job.spec.state)
        desk.canvas.set_before(to_qimage(before) if before is not None else None)
        desk.canvas.set_caption("Starting\u2026")
        if self.notice.level == "error":
            self.notice.hide()

    def _job_info(self, job: Job, message: str) -> None:
        self.desk(job.spec.workspace).show_job_note(message)
        fields = job.info_fields
        if fields.get("device"):  # what the run used; and still that the Preferences' device is not here
            missing = self.prefs.device if self.prefs.run_device != self.prefs.device else ""
            self.device_label.setText(f"Device: {fields['device']}" +
                                      (f" ({missing} is not on this machine)" if missing else ""))
        if fields.get("weights"):
            self.weights_label.setText(f"Feature network: {fields['weights']}")

    def _job_progress(self, job: Job, p: Progress) -> None:
        desk = self.desk(job.spec.workspace)
        desk.progress.setRange(0, max(p.total, 1))
        desk.progress.setValue(min(p.iteration, p.total))
        desk.progress.setFormat(progress_text(p))
        if p.stage == DOWNLOAD_STAGE:
            return
        desk.loss_plot.add(p.iteration, p.losses, p.total)
        if p.preview is not None:
            desk.canvas.set_after(to_qimage(p.preview))
            desk.canvas.set_caption(f"Preview \u00b7 iteration {p.iteration} / {p.total}")

    def _job_finished(self, job: Job, f: Finished) -> None:
        if not job.spec.keeps_result:
            self._task_finished(job, f)
            return
        ws = self._workspaces.get(job.spec.workspace)
        state = ws.result_state(job.spec.state, f.extra) if ws is not None else job.spec.state
        spec = job.spec if state is job.spec.state else replace(job.spec, state=state)
        if ws is None:
            return
        image = ws.result_image(state, f.image, f.extra)
        same = self._same_as_newest(spec, f, image)
        if same is not None:  # the settings and the picture of the newest result again: no second copy of it
            entry = same
            self.desk(spec.workspace).history.mark(entry)
            if self.keeper is not None:  # the shown result, kept for the next start
                self.keeper.schedule()
        else:
            entry = HistoryEntry(
                number=self.next_entry_number(), image=image, spec=spec, cancelled=f.cancelled,
                iterations=f.iterations, elapsed_s=f.elapsed_s, losses=dict(f.losses), infos=tuple(job.infos),
                extra=dict(f.extra),
            )
            self.add_history(entry, entry.label + f" in {format_duration(f.elapsed_s)}\n" + ws.describe(state))
        if self._shows(job):
            desk = self.desk(job.spec.workspace)
            desk.result = entry
            desk.canvas.set_after(entry.qimage())
            what = "Stopped" if f.cancelled else "Finished"
            steps = plural(f.iterations, ws.step_word) if f.iterations else ""  # none: re-blended from a cache
            position = f.extra.get("position")  # a continued training: where the whole run is, as its bar counted
            if steps and isinstance(position, int) and position > f.iterations:
                steps += f" ({position} in all)"
            caption = f"Result #{entry.number} \u00b7 {what}" + (f" after {steps}" if steps else "")
            if same is not None:
                caption += ": the same settings and picture again, so no new result was added"
            below = f.extra.get("worked_below")
            if isinstance(below, dict) and "worked_at" in below and "painting" in below:
                (w, h), (pw, ph) = below["worked_at"], below["painting"]
                caption += f" \u00b7 a preview at {w}x{h}, below the painting's {pw}x{ph}"
            desk.canvas.set_caption(caption)
            if not f.cancelled:
                desk.progress.setRange(0, 100)
                desk.progress.setValue(100)
            elif desk.progress.maximum() == 0:  # stopped before its first step: no range of its own yet
                desk.progress.setRange(0, 100)
                desk.progress.setValue(0)
            # a stopped job's bar stays where it stopped, in its own range (a value past 100 in a range of 100
            # was reset by Qt, and the bar lost its text)
            desk.progress.setFormat(f"{what}: {steps} in {format_duration(f.elapsed_s)}" if steps else
                                    f"{what} in {format_duration(f.elapsed_s)}")
            desk.show_job_note(f"Result #{entry.number} is in the history below" + (", made again unchanged"
                                                                                     if same is not None else ""))
            QTimer.singleShot(0, ws.result_shown)  # once the runner has let the job go: it may bring it up to date
        self._update_actions()

    def _same_as_newest(self, spec: Any, f: Finished, image: Any) -> HistoryEntry | None:
        """The tab's newest result, if this finished job made it again: the same engine, inputs and settings and
        the same pixels (an instant mode, or a run, repeated unchanged). A stopped run is never the same, nor a
        training (each writes a generator of its own, which its entry names), nor a result whose kept pixels cannot
        be read back (the new one is kept)."""
        entries = self.desk(spec.workspace).history.entries()
        if f.cancelled or image is None or not entries or spec.trains:
            return None
        newest = entries[0]
        if (newest.cancelled or newest.extra.get("opened") or newest.spec.engine != spec.engine
                or newest.spec.inputs != spec.inputs or newest.spec.regions != spec.regions):
            return None
        try:
            if newest.spec.params.to_dict() != spec.params.to_dict():
                return None
            pixels = newest.pixels()
        except (AttributeError, RuntimeError, OSError, ValueError):  # a kept session's file gone or damaged
            return None
        return newest if pixels.shape == image.shape and np.array_equal(pixels, image) else None

    def _shows(self, job: Job) -> bool:
        """Whether ``job``'s desk shows it still: it is the current job, or the current one runs on another tab
        (a training stopped by a Run on the Style tab: its own tab said it was running until shown again)."""
        current = self.runner.current
        return job is current or current is None or current.spec.workspace != job.spec.workspace

    def _task_finished(self, job: Job, f: Finished) -> None:
        """The end of a job without a picture (a download)."""
        desk = self.desk(job.spec.workspace)
        desk.progress.setRange(0, 100)
        if f.cancelled:
            desk.progress.setValue(0)
            desk.progress.setFormat(f"Stopped: {job.spec.title} (what arrived is kept; run it again to resume)")
        else:
            desk.progress.setValue(100)
            desk.progress.setFormat(f"Done: {job.spec.title} in {format_duration(f.elapsed_s)}")
            if job.spec.on_finished is not None:
                job.spec.on_finished(f)
        self._update_actions()

    def _job_failed(self, job: Job, message: str, details: str) -> None:
        # an input error is its own sentence; anything else has a traceback in the log and the tooltip
        self.notify(message + (" (details in the log)" if details else ""), "error")
        self.notice.label.setToolTip(details[-3000:])
        if self._shows(job):
            desk = self.desk(job.spec.workspace)
            desk.progress.setRange(0, 100)
            desk.progress.setValue(0)
            desk.progress.setFormat("Failed: see the message above the picture")
            desk.canvas.set_caption("The run failed")

    def _running_changed(self, running: bool) -> None:
        if not running:
            for desk in self._desks.values():
                if desk.progress.maximum() == 0:
                    desk.progress.setRange(0, 100)
                    desk.progress.setFormat("Ready")
        self._update_actions()

    def _live_update_sent(self, job: Job, changes: dict) -> None:
        ws = self._workspaces.get(job.spec.workspace)
        labels = (ws.field_label(k) if ws is not None else k.replace("_", " ") for k in changes)
        names = ", ".join(sorted(label[:1].lower() + label[1:] for label in labels))  # in the sentence's words
        self.desk(job.spec.workspace).show_job_note(f"Applied to the running job: {names}")
