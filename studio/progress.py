"""A terminal progress bar with ETA for long jobs (stderr; plain lines when not a terminal), and the one loop
that drives it from an engine's events."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable
from typing import TextIO

from studio.engines.events import Event, Finished, Info, Progress


def format_seconds(s: float | None) -> str:
    if s is None:
        return "--:--"
    s = max(0, int(round(s)))
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m:02d}:{sec:02d}"


def plural(n: int, word: str) -> str:
    """``1 iteration``, ``2 iterations``."""
    return f"{n} {word}" + ("" if n == 1 else "s")


class ProgressBar:
    def __init__(self, label: str = "", stream: TextIO | None = None, width: int = 28,
                 min_interval: float = 0.2) -> None:
        self.label = label
        self.stream = stream or sys.stderr
        self.width = width
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.min_interval = min_interval if self.tty else 5.0
        self._last = 0.0
        self._last_len = 0

    def update(self, done: int, total: int, eta_s: float | None, elapsed_s: float, suffix: str = "",
               force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < self.min_interval:
            return
        self._last = now
        frac = min(1.0, done / total) if total else 1.0
        fill = int(frac * self.width)
        bar = "█" * fill + "·" * (self.width - fill)
        line = (f"{self.label} |{bar}| {done}/{total} {frac:4.0%} "
                f"elapsed {format_seconds(elapsed_s)} ETA {format_seconds(eta_s)} {suffix}").rstrip()
        if self.tty:
            pad = max(0, self._last_len - len(line))
            self.stream.write("\r" + line + " " * pad)
            self._last_len = len(line)
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def message(self, text: str) -> None:
        """A line for the user between updates: on a terminal it ends the bar's current line first."""
        if self.tty and self._last_len:
            self.close(text)
            self._last_len = 0
        else:
            self.stream.write(text + "\n")
            self.stream.flush()

    def close(self, message: str = "") -> None:
        if self.tty:
            self.stream.write("\n")
        if message:
            self.stream.write(message + "\n")
        self.stream.flush()


def drive(events: Iterable[Event], bar: ProgressBar, suffix: Callable[[Progress], str] = lambda ev: ev.stage, *,
          on_progress: Callable[[Progress], None] | None = None, show_info: bool = True,
          force: Callable[[Progress], bool] = lambda ev: ev.iteration in (1, ev.total)) -> Finished:
    """The one event loop of the command line: ``Info`` lines (unless ``show_info`` is off), the bar with
    ``suffix(progress)`` after the ETA, ``on_progress`` for what a command does with each step (snapshots),
    and the ``Finished`` event returned. Ctrl-C reaches the caller, which says what was kept."""
    finished: Finished | None = None
    for ev in events:
        if isinstance(ev, Info):
            if show_info:
                bar.message(ev.message)
        elif isinstance(ev, Progress):
            bar.update(ev.iteration, ev.total, ev.eta_s, ev.elapsed_s, suffix(ev), force=force(ev))
            if on_progress is not None:
                on_progress(ev)
        elif isinstance(ev, Finished):
            finished = ev
    if finished is None:
        raise RuntimeError("the engine ended without a result")
    return finished


def total_loss(ev: Progress) -> str:
    """The stage and the total loss (the stage alone for a step that has no loss, like colour transfer)."""
    return f"{ev.stage} loss {ev.losses['total']:.4g}" if "total" in ev.losses else ev.stage


def rank_bar(label: str) -> ProgressBar:
    """The progress bar of a training command: on stderr for rank 0 of a ``torchrun`` run (or a plain run), into
    nothing for the other ranks, so one bar and one set of messages show."""
    import os

    from studio.engines.distributed import Ranks

    if Ranks.from_environment().main:
        return ProgressBar(label)
    return ProgressBar(label, stream=open(os.devnull, "w"))  # noqa: SIM115 (closed with the process)
