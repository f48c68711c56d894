"""Events every engine yields, and the control object a caller uses to steer a running job.

An engine is a generator function ``run(..., control) -> Iterator[Event]``. It yields
``Info`` lines (which weights, which device), ``Progress`` after iterations (sometimes
carrying a preview), and exactly one ``Finished`` at the end, also when cancelled.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Info:
    """A line for the user (a downscale warning, what a pass does, ...), and the facts it states that a
    program reads: ``fields["device"]`` (the device in words), ``fields["weights"]`` (the feature network's
    source). The app's status bar shows the fields; nothing parses the message."""

    message: str
    fields: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Progress:
    """State after an iteration.

    ``iteration`` counts over the whole run (all scales), ``total`` is the planned count.
    ``losses`` holds each weighted loss term and ``total``. ``preview`` is an RGB uint8
    HxWx3 array every few iterations, else None.
    """

    iteration: int
    total: int
    stage: str
    losses: dict[str, float]
    elapsed_s: float
    eta_s: float | None
    preview: np.ndarray | None = None
    scale_index: int = 0
    scale_count: int = 1


@dataclass(frozen=True)
class Finished:
    """The end of a job. ``image`` is RGB float32 HxWx3 in [0, 1]."""

    image: np.ndarray
    cancelled: bool
    iterations: int
    elapsed_s: float
    losses: dict[str, float] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


Event = Info | Progress | Finished


class Cancelled(Exception):
    """Raised inside an engine to unwind when the control was cancelled."""


class JobControl:
    """Thread-safe handle: cancel a running engine, or send it parameter updates.

    ``update(**changes)`` queues changes; the engine calls ``take_updates()`` between
    iterations and applies them from the next iteration on, without restarting.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cancel = threading.Event()
        self._pending: dict[str, Any] = {}

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def check(self) -> None:
        if self._cancel.is_set():
            raise Cancelled()

    def update(self, **changes: Any) -> None:
        with self._lock:
            self._pending.update(changes)

    def take_updates(self) -> dict[str, Any]:
        with self._lock:
            pending, self._pending = self._pending, {}
        return pending
