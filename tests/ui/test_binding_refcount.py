"""The Qt binding keeps its references to None while studio paints (the PySide6 6.12.0 crash on 3.11).

A binding that drops a reference to None on every call that returns nothing aborts the interpreter a few
minutes into a job ("none_dealloc: deallocating None"). These tests paint the real widgets through the
real paint path many times and assert that ``sys.getrefcount(None)`` does not fall; with
PySide6-Essentials 6.12.0 on Python 3.11 it falls by thousands per repaint.
"""

from __future__ import annotations

import gc
import sys

import numpy as np
import pytest
from PySide6.QtWidgets import QApplication

from studio.compositing import Stroke
from studio.engines.style.params import StyleParams
from studio.ui.binding_check import PROBE_CALLS, binding_problem, none_references_lost
from studio.ui.harmonize.mask_editor import MaskView
from studio.ui.harmonize.workspace import HarmonizeWorkspace
from studio.ui.history import HistoryEntry
from studio.ui.job_runner import JobSpec
from studio.ui.main_window import MainWindow
from studio.ui.qimage import to_qimage
from studio.ui.style.workspace import StyleWorkspace

REPAINTS = 8  # a defective binding loses about 4,000 references a round: a clear failure, not yet an abort
#: None's count moves by a few as Python objects come and go; a defective binding loses thousands here
SLACK = 64
#: references given back after a failed measurement, so the interpreter lives to report the failure
_GIVEN_BACK: list[None] = []


def _none_refs() -> int:
    gc.collect()
    return sys.getrefcount(None)


def _rgb(h: int, w: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).random((h, w, 3)).astype(np.float32)


@pytest.fixture
def busy_window(qtbot, settings, tmp_path):
    """Style and Harmonize tabs with everything that paints filled in: loss curves, before/after in split
    compare, a history strip of results, and the Harmonize object with its mask overlays shown."""
    from PIL import Image

    painting = tmp_path / "painting.png"
    obj = tmp_path / "object.png"
    Image.fromarray((_rgb(80, 120, 1) * 255).astype(np.uint8)).save(painting)
    rgba = np.zeros((20, 24, 4), np.uint8)
    rgba[3:-3, 3:-3] = (200, 40, 40, 255)
    Image.fromarray(rgba, "RGBA").save(obj)

    win = MainWindow(settings, workspaces=(StyleWorkspace, HarmonizeWorkspace), load_demo=False)
    qtbot.addWidget(win)
    win.resize(1000, 700)
    win.show()
    qtbot.waitExposed(win)
    win.tabs.setCurrentIndex(1)
    hws = win.workspace("harmonize")
    assert hws.set_painting_path(str(painting)) and hws.add_object_path(str(obj))
    hws.set_show_masks(True)
    win.loss_plot.clear(600)
    for i in range(1, 601):
        win.loss_plot.add(i, {"content": 1 / i, "style": 2 / i, "tv": 0.1 + 1 / i, "range": 1e-3, "total": 3 / i})
    win.canvas.set_after(to_qimage(_rgb(80, 120, 2)))
    win.canvas.set_split_mode(True)
    spec = JobSpec(workspace="style", engine="stylize", run=lambda control: iter(()), params=StyleParams())
    for n in range(8):
        win.history.add(HistoryEntry(number=win.next_entry_number(), image=_rgb(64, 96, 10 + n), spec=spec,
                                     cancelled=False, iterations=10, elapsed_s=1.0))
    yield win
    win.close()


def test_painting_the_real_widgets_keeps_every_reference_to_none(qtbot, busy_window, paint_counter):
    win = busy_window
    mask = np.zeros((90, 120), np.float32)
    mask[20:70, 30:90] = 1.0
    view = MaskView(_rgb(90, 120, 5))
    qtbot.addWidget(view)
    view.set_mask(mask)
    view.tool = "fg"
    view.strokes = tuple(Stroke(tuple((float(x), 40.0 + (x % 7)) for x in range(10, 110, 2)), 4.0, x % 2 == 0)
                         for x in range(6))
    view.resize(480, 360)
    view.show()
    qtbot.waitExposed(view)
    widgets = [win.loss_plot, win.canvas, win.history.viewport(), view]
    counter = paint_counter
    for w in widgets:
        w.installEventFilter(counter.filter)
    QApplication.processEvents()

    before = _none_refs()
    for _ in range(REPAINTS):
        for w in widgets:
            w.repaint()
    after = _none_refs()
    _GIVEN_BACK.extend([None] * max(before - after, 0))
    assert counter.count >= REPAINTS * len(widgets)  # every widget really went through its paintEvent
    assert before - after < SLACK, (
        f"painting lost {before - after} references to None in {counter.count} paint events: this Qt binding "
        f"has the none_dealloc defect and will crash the app")


def test_the_binding_in_use_passes_the_start_up_check():
    assert none_references_lost() == 0
    assert binding_problem() is None


def test_a_defective_binding_is_refused_at_start_up_in_one_sentence(monkeypatch, capsys):
    import studio.ui.binding_check as check
    from studio import app

    monkeypatch.setattr(check.sys, "version_info", (3, 11, 7, "final", 0))
    monkeypatch.setattr(check, "none_references_lost", lambda calls=PROBE_CALLS: calls)
    opened = []
    monkeypatch.setattr("studio.ui.main_window.MainWindow.show", lambda self: opened.append(self))
    assert app.main(["--no-demo"]) == 2
    err = capsys.readouterr().err.strip()
    assert not opened
    assert err.count("\n") == 0 and err.startswith("studio: error: PySide6 ")
    assert "would crash studio" in err and "-m pip install 'PySide6-Essentials>=6.6,<6.12'" in err


def test_newer_pythons_are_not_probed(monkeypatch):
    import studio.ui.binding_check as check

    monkeypatch.setattr(check.sys, "version_info", (3, 12, 0, "final", 0))
    monkeypatch.setattr(check, "none_references_lost", lambda calls=PROBE_CALLS: calls)
    assert binding_problem() is None
