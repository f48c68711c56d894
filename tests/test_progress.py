"""The command line's one event loop: info lines, the bar with ETA, per-step hooks, the result."""

from __future__ import annotations

import io

import numpy as np
import pytest

from studio.engines.events import Finished, Info, Progress
from studio.progress import ProgressBar, drive, total_loss


def _events(with_result: bool = True):
    yield Info("Feature network: test")
    for i in range(1, 4):
        yield Progress(i, 3, "scale 1/1", {"total": 1.0 / i}, elapsed_s=float(i), eta_s=float(3 - i))
    if with_result:
        yield Finished(image=np.zeros((2, 2, 3), np.float32), cancelled=False, iterations=3, elapsed_s=3.0)


def test_drive_prints_info_and_the_bar_with_eta_calls_the_hook_and_returns_the_result():
    out = io.StringIO()
    seen = []
    fin = drive(_events(), ProgressBar("job", stream=out), total_loss, on_progress=lambda ev: seen.append(ev.iteration))
    text = out.getvalue()
    assert fin.iterations == 3 and seen == [1, 2, 3]
    assert "Feature network: test" in text and "ETA 00:00" in text and "3/3" in text and "loss 0.333" in text


def test_drive_can_keep_quiet_about_info_and_refuses_an_engine_that_gives_no_result():
    out = io.StringIO()
    drive(_events(), ProgressBar("job", stream=out), show_info=False)
    assert "Feature network" not in out.getvalue()
    with pytest.raises(RuntimeError, match="without a result"):
        drive(_events(with_result=False), ProgressBar("job", stream=io.StringIO()))
