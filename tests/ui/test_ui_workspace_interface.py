"""A second, minimal workspace plugs into the same shell: a panel plus an engine adapter.

This is what the Latent GAN, CycleGAN and Harmonize workspaces will look like.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

import numpy as np
import pytest
from PySide6.QtWidgets import QSlider, QVBoxLayout, QWidget

from studio.engines.events import Finished, Info, Progress
from studio.ui.job_runner import JobSpec
from studio.ui.main_window import MainWindow
from studio.ui.style.workspace import StyleWorkspace
from studio.ui.workspace import Workspace


@dataclass(frozen=True)
class NoiseParams:
    brightness: float = 0.5
    steps: int = 5

    def to_dict(self):
        return {"brightness": self.brightness, "steps": self.steps}


def noise_engine(params: NoiseParams, control):
    yield Info("Feature network: none; device: CPU", {"weights": "none", "device": "CPU"})
    t0 = time.perf_counter()
    b = params.brightness
    for i in range(params.steps):
        b = control.take_updates().get("brightness", b)
        img = np.full((16, 24, 3), b, np.float32)
        yield Progress(i + 1, params.steps, "noise", {"total": 1.0 / (i + 1)}, 0.0, None,
                       preview=(img * 255).astype(np.uint8))
    yield Finished(np.full((16, 24, 3), b, np.float32), False, params.steps, time.perf_counter() - t0)


class NoiseWorkspace(Workspace):
    name = "noise"
    title = "Noise"
    engine = "noise"

    def __init__(self, host, parent=None):
        super().__init__(host, parent)
        self._state = NoiseParams()
        self._panel = QWidget()
        self.slider = QSlider()
        self.slider.setRange(0, 100)
        QVBoxLayout(self._panel).addWidget(self.slider)
        self.slider.valueChanged.connect(
            lambda v: self.edit(replace(self._state, brightness=v / 100), "Brightness", "brightness"))

    def panel(self):
        return self._panel

    def state(self):
        return self._state

    def set_state(self, state):
        old, self._state = self._state, state
        self.slider.blockSignals(True)
        self.slider.setValue(round(state.brightness * 100))
        self.slider.blockSignals(False)
        self.state_changed.emit(old, state)

    def run_blocker(self):
        return None

    def make_job(self, prefs):
        params = self._state
        return JobSpec(self.name, self.engine, lambda control: noise_engine(params, control), params, params)

    def live_changes(self, old, new):
        return {"brightness": new.brightness} if old.brightness != new.brightness else {}


def test_a_new_workspace_is_a_panel_plus_an_engine_adapter(qtbot, settings):
    win = MainWindow(settings, workspaces=(StyleWorkspace, NoiseWorkspace), load_demo=False)
    qtbot.addWidget(win)
    win.show()
    assert [win.tabs.tabText(i) for i in range(win.tabs.count())] == ["Style", "Noise"]
    assert not win.act_run.isEnabled()  # Style has no images
    win.tabs.setCurrentIndex(1)
    noise = win.workspace("noise")
    assert win.current_workspace() is noise and win.act_run.isEnabled()
    assert win.undo_group.activeStack() is noise.undo_stack

    noise.slider.setValue(80)
    assert noise.state().brightness == 0.8
    win.act_undo.trigger()
    assert noise.state().brightness == 0.5
    win.act_redo.trigger()

    errors = []
    win.runner.failed.connect(lambda job, msg, details: errors.append(details))
    with qtbot.waitSignal(win.runner.finished, timeout=5000):
        assert win.run() is not None
    assert errors == []
    qtbot.waitUntil(lambda: not win.runner.is_running())
    entry = win.history.entries()[0]
    assert entry.spec.workspace == "noise" and float(entry.image[0, 0, 0]) == pytest.approx(0.8)
    noise.slider.setValue(10)
    win.tabs.setCurrentIndex(0)
    win.restore_history(entry)  # switches back to its workspace and restores its state
    assert win.current_workspace() is noise and noise.state().brightness == 0.8
    win.close()
