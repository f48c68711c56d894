"""Fixtures of the UI tests: headless Qt, settings and data under tmp, small images, a fake engine."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

os.environ["QT_QPA_PLATFORM"] = "offscreen"  # before Qt is imported anywhere

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402

from studio.engines.events import Event, Finished, Info, JobControl, Progress  # noqa: E402
from studio.engines.style.params import StyleParams  # noqa: E402


@pytest.fixture(autouse=True)
def _isolated_settings(tmp_path_factory, monkeypatch):
    """Every test gets its own settings file and data folder: the user's settings are never touched."""
    folder = tmp_path_factory.mktemp("studio-settings")
    monkeypatch.setenv("STUDIO_SETTINGS", str(folder / "studio.ini"))
    monkeypatch.setenv("STUDIO_DATA_DIR", str(folder / "data"))


@pytest.fixture(autouse=True)
def _quit_without_asking(monkeypatch):
    """A window closed by a test's teardown quits as if the user said Quit (a modal question would wait
    for a click that never comes); tests of the question patch ``_confirm_quit`` themselves."""
    from studio.ui.main_window import MainWindow

    monkeypatch.setattr(MainWindow, "_confirm_quit", lambda self, lost: True)
    # a recipe's list of files is shown and accepted (tests of that question patch it themselves)
    monkeypatch.setattr(MainWindow, "confirm_recipe_reads", lambda self, name, reads: True)
    # a Run that would stop another tab's job goes ahead (the test of that question patches it)
    monkeypatch.setattr(MainWindow, "confirm_stopping_other_tab", lambda self, spec: True)


@pytest.fixture(autouse=True)
def _leave_a_core_for_the_ui():
    """As the app does (studio.app): CPU jobs use all cores but one, so the UI thread gets one.

    On a busy 2-core machine two torch threads also run many times slower than one (they wait for
    each other). Restored after each test, so other test folders keep their own setting.
    """
    import torch

    from studio.app import ui_friendly_threads

    old = torch.get_num_threads()
    torch.set_num_threads(ui_friendly_threads(old))
    yield
    torch.set_num_threads(old)


@pytest.fixture(scope="session")
def image_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("ui-images")
    h, w = 48, 64
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    content = np.stack([x / w, y / h, 0.5 + 0.0 * x], axis=2)
    Image.fromarray((content * 255).astype(np.uint8)).save(folder / "content.png")
    stripes = ((np.sin(x / 2.0) > 0)[:, :, None] * np.array([0.9, 0.4, 0.1]) + 0.05).astype(np.float32)
    Image.fromarray((stripes * 255).astype(np.uint8)).save(folder / "style.png")
    dots = ((np.cos(x / 3.0) * np.cos(y / 3.0) > 0)[:, :, None] * np.array([0.1, 0.3, 0.9])).astype(np.float32)
    Image.fromarray((dots * 255).astype(np.uint8)).save(folder / "style2.png")
    rgba = np.zeros((32, 32, 4), np.uint8)
    rgba[8:24, 8:24] = (255, 0, 0, 200)
    Image.fromarray(rgba, "RGBA").save(folder / "transparent.png")
    (folder / "notes.png").write_text("this is not an image")
    (folder / "empty.jpg").write_bytes(b"")
    big = (np.random.default_rng(0).random((300, 400, 3)) * 255).astype(np.uint8)
    Image.fromarray(big).save(folder / "big.png")
    return folder


@pytest.fixture
def settings(tmp_path):
    from PySide6.QtCore import QSettings

    return QSettings(str(tmp_path / "window.ini"), QSettings.Format.IniFormat)


class FakeEngine:
    """Stands in for run_style: same events, a fixed time per iteration, records live updates.

    Each iteration does a little numpy work and sleeps, like an engine that releases the GIL in
    its tensor code. It checks the control between iterations only (cooperative cancel).
    """

    def __init__(self, step_s: float = 0.01, fail_at: int | None = None) -> None:
        self.step_s = step_s
        self.fail_at = fail_at
        self.updates: list[dict] = []
        self.calls: list[StyleParams] = []
        self.controls: list[JobControl] = []
        self.starts: list[np.ndarray | None] = []
        self.regions: list[list] = []

    def __call__(self, content: np.ndarray, styles, params: StyleParams,
                 control: JobControl | None = None, start: np.ndarray | None = None, regions=()) -> Iterator[Event]:
        control = control or JobControl()
        self.calls.append(params)
        self.regions.append(list(regions))
        self.starts.append(start)
        self.controls.append(control)
        yield Info(f"Feature network: fake-net; device: CPU (fake, {params.device})",
                   {"weights": "fake-net", "device": f"CPU (fake, {params.device})"})
        t0 = time.perf_counter()
        img = content.astype(np.float32).copy()
        if start is not None:  # render at full size: the preview at the new size
            import cv2

            k = params.size / max(content.shape[:2])
            img = cv2.resize(start, (round(content.shape[1] * k), round(content.shape[0] * k)))
        total = params.iterations
        done = 0
        cancelled = False
        for i in range(total):
            if control.cancelled:
                cancelled = True
                break
            updates = control.take_updates()
            if updates:
                self.updates.append(updates)
            if self.fail_at is not None and i == self.fail_at:
                raise RuntimeError("fake engine exploded")
            time.sleep(self.step_s)
            img = np.clip(img * 0.98 + 0.01, 0, 1)
            done = i + 1
            show = i == 0 or (i + 1) % params.preview_every == 0
            el = time.perf_counter() - t0
            yield Progress(iteration=done, total=total, stage="scale 1/1", losses={
                "content": 1.0 / (1 + i), "style": 2.0 / (1 + i), "tv": 0.1, "total": 3.1 / (1 + i)},
                elapsed_s=el, eta_s=el / done * (total - done),
                preview=(img * 255).astype(np.uint8) if show else None)
        yield Finished(image=img, cancelled=cancelled, iterations=done, elapsed_s=time.perf_counter() - t0,
                       losses={"total": 1.0}, extra={"weights": "fake-net", "device": "cpu",
                                                     "params": params.to_dict(), "stylised": img,
                                                     "seconds_per_megapixel": 20.0,
                                                     "started_from": None if start is None else start.shape[:2]})


@pytest.fixture
def fake_engine() -> FakeEngine:
    return FakeEngine()


@pytest.fixture
def window(qtbot, settings, image_dir, fake_engine):
    """The main window with a small content photo and one style, using the fake engine."""
    from studio.ui.main_window import MainWindow

    win = MainWindow(settings, load_demo=False)
    qtbot.addWidget(win)
    ws = win.workspace("style")
    ws.run_engine = fake_engine
    assert ws.set_content_path(str(image_dir / "content.png"))
    assert ws.add_style_paths([str(image_dir / "style.png")]) == 1
    ws.set_state(ws.state().__class__(ws.params().with_changes(size=64, iterations=20, scales=1,
                                                                 preview_every=2),
                                      ws.state().content, ws.state().styles))
    ws.undo_stack.clear()
    win.show()
    qtbot.waitExposed(win)
    yield win
    win.close()


class PaintCounter:
    """Counts the paint events of the widgets it is installed on (``widget.installEventFilter``)."""

    def __init__(self) -> None:
        from PySide6.QtCore import QEvent, QObject

        paint = QEvent.Type.Paint

        class _Filter(QObject):
            def eventFilter(inner, obj, event) -> bool:  # noqa: N802, N805
                if event.type() == paint:
                    self.count += 1
                return False

        self.count = 0
        self.filter = _Filter()


@pytest.fixture
def paint_counter() -> PaintCounter:
    return PaintCounter()


@pytest.fixture
def engine_factory():
    """Make a FakeEngine with other timings: ``engine_factory(step_s=..., fail_at=...)``."""
    return FakeEngine


def run_job(qtbot, win) -> None:
    """Press Run and wait until the job has ended (its result is in the history). The wait is generous: on a
    loaded 2-core machine a fake run of a few iterations once took more than 10 s to be seen to end."""
    with qtbot.waitSignal(win.runner.finished, timeout=30000):
        win.run()
    qtbot.waitUntil(lambda: not win.runner.is_running(), timeout=30000)

