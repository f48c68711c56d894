"""Soak: the window stays up through 20,000 paint events of the loss plot and canvas while a real style
job runs (the PySide6 6.12.0 binding on Python 3.11 aborted the interpreter a few minutes into this)."""

from __future__ import annotations

import gc
import sys
import time

import pytest
from PySide6.QtWidgets import QApplication

PAINT_EVENTS = 20_000


@pytest.mark.slow
def test_the_app_stays_up_through_20000_paint_events_of_a_running_style_job(qtbot, window, paint_counter):
    from studio.weights import list_sources

    if not any(s.available for s in list_sources()):
        pytest.skip("no feature network is installed")
    win = window
    ws = win.workspace("style")
    ws.run_engine = None  # the real engine: studio.engines.style.run.run_style
    ws.set_state(ws.state().__class__(ws.params().with_changes(size=64, scales=1, iterations=100000,
                                                                 preview_every=1),
                                      ws.state().content, ws.state().styles))
    progress: list[int] = []
    win.runner.progress.connect(lambda job, p: progress.append(p.iteration))
    counter = paint_counter
    win.loss_plot.installEventFilter(counter.filter)
    win.canvas.installEventFilter(counter.filter)
    win.run()
    qtbot.waitUntil(lambda: len(progress) >= 2, timeout=60000)

    gc.collect()
    none_before = sys.getrefcount(None)
    t0 = time.perf_counter()
    rounds = 0
    # paint at least PAINT_EVENTS times, and on until the job has made a dozen iterations (on a slow, busy machine
    # 20,000 paints once took fewer than the job's tenth iteration: the plot's growth could not be judged)
    while counter.count < PAINT_EVENTS or (len(progress) <= 12 and time.perf_counter() - t0 < 300):
        win.loss_plot.repaint()
        win.canvas.repaint()
        rounds += 1
        if rounds % 20 == 0:
            QApplication.processEvents()  # the job's progress reaches the plot and the canvas
    seconds = time.perf_counter() - t0
    gc.collect()
    none_after = sys.getrefcount(None)
    points = sum(len(v) for v in win.loss_plot.series().values())

    assert win.runner.is_running() and win.isVisible()
    assert len(progress) > 10 and points > 40  # the plot kept growing with the job while it was painted
    assert none_before - none_after < 64, f"{none_before - none_after} references to None lost"
    with qtbot.waitSignal(win.runner.finished, timeout=10000) as fin:
        win.stop()
    assert fin.args[1].cancelled
    print(f"{counter.count} paint events in {seconds:.1f} s over {len(progress)} iterations; "
          f"None refs {none_before} -> {none_after}")
