"""The one job runner: an engine's generator runs on a worker thread, its events come back as signals.

Every workspace hands the runner a ``JobSpec`` whose ``run(control)`` returns the engine's event
iterator. The generator is driven on a single long-lived ``QThread``; each event is emitted from
there and reaches the UI thread through a queued connection, so the UI thread never evaluates a
loss. Cancellation is cooperative (``JobControl.cancel``): the engine notices between iterations
and yields its ``Finished(cancelled=True)``. Live parameter changes are debounced and passed to the
running engine with ``JobControl.update``.
"""

from __future__ import annotations

import itertools
import logging
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QObject, QThread, QTimer, Signal, Slot

from studio.engines.errors import StudioInputError, out_of_memory
from studio.engines.events import Cancelled, Event, Finished, Info, JobControl, Progress
from studio.engines.params import Params

log = logging.getLogger("studio.ui.jobs")
_STRAGGLERS: list[QThread] = []  # job threads that outlived their window (see JobRunner.shutdown)


@dataclass(frozen=True)
class JobSpec:
    """What a workspace asks the runner to do.

    ``run(control)`` returns the engine's event iterator (it is called on the worker thread).
    ``params`` is the parameters dataclass the job runs with (it has ``to_dict()``), ``state`` the
    workspace snapshot it started from, ``inputs`` (role, path, sha256) of the files it reads;
    together they make the result's recipe and history entry.
    """

    workspace: str
    engine: str
    run: Callable[[JobControl], Iterator[Event]]
    params: Params
    state: Any = None
    inputs: tuple[tuple[str, str, str], ...] = ()
    title: str = ""
    #: live(old state, new state) -> the changes a running job takes without restarting (control.update)
    live: Callable[[Any, Any], dict[str, Any]] | None = None
    #: False for a job that makes no picture (a download): its end goes to no history
    keeps_result: bool = True
    #: called on the UI thread with the job's ``Finished`` when it ended without being stopped
    on_finished: Callable[[Finished], None] | None = None
    #: a style job's regions as its recipe keeps them (``studio.style_regions``: masks inside)
    regions: tuple[dict[str, Any], ...] = ()
    #: how Restart (Run while this job runs) makes it again, given the Preferences; None: the tab's next job
    #: (``Workspace.make_job``). A full-size render restarts as that render, not as a run from the photo.
    remake: Callable[[Any], JobSpec] | None = None

    @property
    def trains(self) -> bool:
        """A training ("train-gan", "train-cyclegan"): what it makes is its checkpoint, saved as it goes; its
        picture is a sample grid."""
        return self.engine.startswith("train-")


@dataclass(eq=False)
class Job:
    id: int
    spec: JobSpec
    control: JobControl = field(default_factory=JobControl)
    started: float = field(default_factory=time.monotonic)
    live_state: Any = None  # the workspace state the running engine has been told about
    infos: list[str] = field(default_factory=list)
    info_fields: dict[str, str] = field(default_factory=dict)  # the facts its Info events stated, latest kept
    last_progress: Progress | None = None
    result: Finished | None = None
    error: str | None = None
    done: bool = False


def describe_error(exc: BaseException) -> str:
    """One readable sentence for the window."""
    if isinstance(exc, StudioInputError):
        return str(exc)
    which = out_of_memory(exc)
    if which == "gpu":
        return "The job ran out of the GPU's memory: try a smaller output size, or the CPU device in Preferences."
    if which == "cpu":
        return "The job ran out of memory: try a smaller output size."
    text = str(exc).strip() or type(exc).__name__
    return f"The job stopped with an error: {text}"


class _Worker(QObject):
    event = Signal(object, object)  # job, Event
    failed = Signal(object, str, str)  # job, message, traceback
    done = Signal(object)  # job

    @Slot(object)
    def run(self, job: Job) -> None:
        if job.control.cancelled:  # stopped while it waited for the previous job
            self.done.emit(job)
            return
        events = None
        try:
            events = job.spec.run(job.control)
            for ev in events:
                self.event.emit(job, ev)
        except Cancelled:
            pass
        except StudioInputError as exc:  # the user's input, said in a sentence: no traceback in the log
            log.warning("job %s (%s): %s", job.id, job.spec.engine, exc)
            self.failed.emit(job, describe_error(exc), "")
        except Exception as exc:  # noqa: BLE001 - every failure becomes a message, the app goes on
            log.exception("job %s (%s) failed", job.id, job.spec.engine)
            self.failed.emit(job, describe_error(exc), traceback.format_exc())
        finally:
            close = getattr(events, "close", None)
            if close is not None:
                try:
                    close()
                except Exception:  # noqa: BLE001
                    log.exception("closing job %s", job.id)
            self.done.emit(job)


class JobRunner(QObject):
    """Runs one job at a time on a worker thread; starting a new one stops the current one."""

    started = Signal(object)  # Job
    info = Signal(object, str)  # Job, message
    progress = Signal(object, object)  # Job, Progress
    finished = Signal(object, object)  # Job, Finished (also when stopped)
    failed = Signal(object, str, str)  # Job, message, details
    done = Signal(object)  # Job: its thread work is over (after finished/failed)
    running_changed = Signal(bool)
    live_update_sent = Signal(object, dict)  # Job, the changes handed to the engine

    _submit = Signal(object)

    def __init__(self, parent: QObject | None = None, *, debounce_ms: int = 150) -> None:
        super().__init__(parent)
        self._thread: QThread | None = None
        self._worker: _Worker | None = None
        self._ids = itertools.count(1)
        self._current: Job | None = None
        self._active: list[Job] = []
        self._pending: dict[str, Any] = {}
        self._closed = False
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(debounce_ms)
        self._debounce.timeout.connect(self.flush_updates)

    # state ------------------------------------------------------------------------------------
    @property
    def current(self) -> Job | None:
        return self._current

    def is_running(self) -> bool:
        return self._current is not None and not self._current.done

    def active_jobs(self) -> list[Job]:
        return list(self._active)

    # control ----------------------------------------------------------------------------------
    def start(self, spec: JobSpec) -> Job:
        """Start ``spec`` fresh; a job still running is stopped first."""
        if self._closed:
            raise RuntimeError("the job runner was shut down")
        was_running = self.is_running()
        if self._current is not None:
            self._current.control.cancel()
        self._pending.clear()
        self._debounce.stop()
        job = Job(next(self._ids), spec, live_state=spec.state)
        self._current = job
        self._active.append(job)
        self._ensure_thread()
        self.started.emit(job)
        if not was_running:
            self.running_changed.emit(True)
        self._submit.emit(job)
        return job

    def stop(self) -> None:
        """Ask the current job to stop; its ``finished`` (cancelled) follows shortly."""
        self._pending.clear()
        self._debounce.stop()
        if self._current is not None:
            self._current.control.cancel()

    def offer_state(self, workspace: str, state: Any) -> None:
        """A workspace's new state while its job runs: the changes the job's ``live`` hook says it takes are
        sent (debounced); the rest waits for the next Run."""
        job = self._current
        if not self.is_running() or job is None or job.spec.workspace != workspace or job.spec.live is None:
            return
        changes = job.spec.live(job.live_state, state)
        job.live_state = state
        if changes:
            self.request_update(**changes)

    def request_update(self, **changes: Any) -> None:
        """Queue live parameter changes for the running job; sent after a short pause (debounced)."""
        if not self.is_running() or not changes:
            return
        self._pending.update(changes)
        self._debounce.start()

    @Slot()
    def flush_updates(self) -> None:
        self._debounce.stop()
        if not self._pending:
            return
        changes, self._pending = self._pending, {}
        job = self._current
        if job is None or job.done or job.control.cancelled:
            return
        job.control.update(**changes)
        log.debug("job %s: live update %s", job.id, sorted(changes))
        self.live_update_sent.emit(job, changes)

    def shutdown(self, timeout_s: float = 15.0) -> bool:
        """Stop every job and the worker thread (the window is closing). True when it ended in time."""
        self._closed = True
        self._debounce.stop()
        for job in self._active:
            job.control.cancel()
        if self._thread is None:
            return True
        self._thread.quit()
        ok = self._thread.wait(int(timeout_s * 1000))
        if not ok:  # keep the thread object alive: destroying a running QThread aborts the process
            log.warning("the job thread did not stop within %.0f s", timeout_s)
            self._thread.setParent(None)
            _STRAGGLERS.append(self._thread)
        return bool(ok)

    # internals --------------------------------------------------------------------------------
    def _ensure_thread(self) -> None:
        if self._thread is not None:
            return
        self._thread = QThread(self)
        self._thread.setObjectName("studio-jobs")
        self._worker = _Worker()
        self._worker.moveToThread(self._thread)
        self._thread.finished.connect(self._worker.deleteLater)
        self._submit.connect(self._worker.run)
        self._worker.event.connect(self._on_event)
        self._worker.failed.connect(self._on_failed)
        self._worker.done.connect(self._on_done)
        self._thread.start()

    @Slot(object, object)
    def _on_event(self, job: Job, ev: Event) -> None:
        if self._closed:
            return
        if isinstance(ev, Finished):  # a superseded job's result still goes to the history
            job.result = ev
            self.finished.emit(job, ev)
        elif job is not self._current:  # the one place a superseded job's progress and lines are dropped
            return
        elif isinstance(ev, Progress):
            job.last_progress = ev
            self.progress.emit(job, ev)
        elif isinstance(ev, Info):
            job.infos.append(ev.message)
            job.info_fields.update(ev.fields)
            self.info.emit(job, ev.message)

    @Slot(object, str, str)
    def _on_failed(self, job: Job, message: str, details: str) -> None:
        job.error = message
        if not self._closed:
            self.failed.emit(job, message, details)

    @Slot(object)
    def _on_done(self, job: Job) -> None:
        job.done = True
        if job in self._active:
            self._active.remove(job)
        if self._closed:
            return
        self.done.emit(job)
        if job is self._current:
            self._pending.clear()
            self.running_changed.emit(False)
