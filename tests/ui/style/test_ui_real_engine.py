"""The window driving the real style engine (run_style) at a tiny size: end to end."""

from __future__ import annotations

import time

import numpy as np
import pytest
from PySide6.QtCore import QTimer

from studio.recipe import read_recipe

pytest.importorskip("studio.engines.style.run")


@pytest.fixture
def real_window(window):
    """The window with the real engine (the default feature network), 64 px, one scale."""
    from studio.weights import list_sources

    if not any(s.available for s in list_sources()):
        pytest.skip("no feature network is installed")
    ws = window.workspace("style")
    ws.run_engine = None  # studio.engines.style.run.run_style
    ws.set_state(ws.state().__class__(
        ws.params().with_changes(size=64, scales=1, iterations=6, preview_every=2),
        ws.state().content, ws.state().styles))
    ws.undo_stack.clear()
    return window


def test_end_to_end_preview_finished_history_and_export(qtbot, real_window, tmp_path):
    win = real_window
    previews = []
    win.runner.progress.connect(lambda job, p: previews.append(p) if p.preview is not None else None)
    with qtbot.waitSignal(win.runner.finished, timeout=60000) as fin:
        win.run()
    qtbot.waitUntil(lambda: not win.runner.is_running(), timeout=5000)
    finished = fin.args[1]
    assert previews and previews[0].preview.dtype == np.uint8
    assert not finished.cancelled and finished.iterations == 6
    assert finished.image.shape == (48, 64, 3)
    assert win.canvas.after().width() == 64 and win.canvas.after().height() == 48
    assert len(win.history.entries()) == 1
    assert win.weights_label.text().startswith("Feature network: ") and "auto" not in win.weights_label.text()
    assert win.device_label.text().startswith("Device: CPU")
    out = win.export_result(str(tmp_path / "real.png"))
    recipe = read_recipe(out)
    assert recipe.engine == "stylize" and recipe.params["iterations"] == 6
    assert recipe.weights == finished.extra["weights"]


def test_real_job_keeps_the_ui_responsive_takes_live_updates_and_stops_fast(qtbot, real_window):
    """While run_style computes: a 10 ms QTimer probe never waits more than 50 ms extra; a slider
    move reaches the engine (its final params carry it); Stop ends the job within 0.5 s."""
    win = real_window
    ws = win.workspace("style")
    ws.set_state(ws.state().__class__(ws.params().with_changes(size=96, iterations=100000),
                                      ws.state().content, ws.state().styles))
    progress = []
    win.runner.progress.connect(lambda job, p: progress.append(p.iteration))
    win.run()
    qtbot.waitUntil(lambda: len(progress) >= 2, timeout=60000)

    stamps: list[float] = []
    probe = QTimer()
    probe.setInterval(10)
    probe.timeout.connect(lambda: stamps.append(time.perf_counter()))
    probe.start()
    ws.panel().style_weight.slider.setValue(800)  # live: re-weights the running optimisation
    new_weight = ws.params().style_weight
    qtbot.wait(1500)
    probe.stop()
    n_before = len(progress)
    assert n_before > 2  # it kept computing

    t0 = time.perf_counter()
    with qtbot.waitSignal(win.runner.finished, timeout=5000) as fin:
        win.stop()
    stop_s = time.perf_counter() - t0
    qtbot.waitUntil(lambda: not win.runner.is_running(), timeout=5000)

    gaps = np.diff(stamps)
    print(f"event-loop probe: {len(gaps)} ticks, worst gap {gaps.max() * 1000:.1f} ms, "
          f"median {np.median(gaps) * 1000:.1f} ms; stop took {stop_s * 1000:.0f} ms")
    assert gaps.max() < 0.010 + 0.050, f"the event loop stalled for {gaps.max() * 1000:.0f} ms"
    assert stop_s < 0.5
    assert fin.args[1].cancelled
    assert fin.args[1].extra["params"]["style_weight"] == new_weight  # the engine applied the update
    assert win.history.entries()[0].spec.state.params.style_weight == new_weight
