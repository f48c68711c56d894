"""Quitting: ask first, naming what a quit would stop or what was never exported; let the running job's
last picture reach the history; write the session; save the window's geometry (a mixin of ``MainWindow``)."""

from __future__ import annotations

import logging

from PySide6.QtCore import QEventLoop, QTimer
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import QMessageBox

from studio.progress import plural

log = logging.getLogger("studio.ui")

QUIT_WAIT_S = 5.0  # how long a quit waits for the running job's last picture


class Quitting:
    """Needs the window's runner, desks, keeper and settings."""

    def what_quitting_loses(self) -> list[str]:
        """Sentences naming what a quit now would lose or stop (empty: nothing)."""
        lost: list[str] = []
        job = self.runner.current
        if self.runner.is_running() and job is not None:
            ws = self._workspaces.get(job.spec.workspace)
            what = job.spec.title or (ws.title if ws else "job")
            p = job.last_progress
            where = f" at iteration {p.iteration} of {p.total}" if p is not None else ""
            lost.append(f"The running {what}{where} stops; the picture it has so far goes into the history.")
        # a training's sample grid is not counted: what the training made, its checkpoint, is on disk already
        unsaved = [e for d in self._desks.values() for e in d.history.entries()
                   if not e.exported_to and not e.extra.get("opened") and e.made_here
                   and not e.spec.trains]
        if unsaved:
            names = ", ".join(f"#{e.number} ({e.workspace_title})" for e in sorted(unsaved, key=lambda e: e.number))
            if self.keeper is not None:
                one = len(unsaved) == 1
                lost.append(f"{plural(len(unsaved), 'result')} of this session never exported: {names}. "
                            f"{'It stays' if one else 'They stay'} in the history for the next start, but "
                            f"{'is' if one else 'are'} not saved as {'an image file' if one else 'image files'}.")
            else:
                lost.append(f"{plural(len(unsaved), 'result')} never exported will be lost: {names}.")
        return lost

    def _confirm_quit(self, lost: list[str]) -> bool:
        box = QMessageBox(QMessageBox.Icon.Question, "Quit studio?", "Quit studio?", parent=self)
        box.setInformativeText("\n\n".join(lost))
        quit_button = box.addButton("Quit", QMessageBox.ButtonRole.AcceptRole)
        box.addButton("Cancel", QMessageBox.ButtonRole.RejectRole)
        box.setDefaultButton(quit_button)
        box.exec()
        return box.clickedButton() is quit_button

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        if not self._closing_confirmed:
            lost = self.what_quitting_loses()
            if lost and not self._confirm_quit(lost):
                event.ignore()
                return
        self._closing_confirmed = True
        if self.runner.is_running():
            self.hide()  # the window goes at once; the job stops at its next check
            self._wait_for_stop(QUIT_WAIT_S)
        self.runner.shutdown()
        if self.keeper is not None and not self.keeper.close():
            log.warning("the session could not be written completely before quitting")
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/splitter", self.splitter.saveState())
        self.settings.sync()
        event.accept()

    def _wait_for_stop(self, timeout_s: float) -> None:
        """Stop the running job and let its last picture reach the history (within ``timeout_s``)."""
        loop = QEventLoop()
        self.runner.running_changed.connect(loop.quit)
        QTimer.singleShot(int(timeout_s * 1000), loop.quit)
        self.runner.stop()
        if self.runner.is_running():
            loop.exec()
        self.runner.running_changed.disconnect(loop.quit)
