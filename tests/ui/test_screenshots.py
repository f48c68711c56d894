"""Screenshots of the main window: idle, running and finished (with the real engine, tiny size).

They go to ``$STUDIO_SCREENSHOT_DIR`` when set, else to a pytest tmp folder; the folder is printed
(run with ``-s`` to see it).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

pytest.importorskip("studio.demo")
pytest.importorskip("studio.engines.style.run")


@pytest.fixture
def shot_dir(tmp_path) -> Path:
    folder = Path(os.environ.get("STUDIO_SCREENSHOT_DIR") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_screenshots_idle_running_finished(qtbot, qapp, settings, shot_dir):
    from studio.ui.main_window import MainWindow
    from studio.ui.theme import apply_theme
    from studio.weights import list_sources

    if not any(s.available for s in list_sources()):
        pytest.skip("no feature network is installed")
    apply_theme(qapp)
    win = MainWindow(settings, load_demo=True)
    qtbot.addWidget(win)
    ws = win.workspace("style")
    ws.set_state(ws.state().__class__(ws.params().with_changes(size=96, scales=1, iterations=6, preview_every=1),
                                      ws.state().content, ws.state().styles))
    win.show()
    qtbot.waitExposed(win)
    qtbot.wait(50)
    paths = {"idle": shot_dir / "main-window-idle.png"}
    assert win.grab().save(str(paths["idle"]))

    previews = []
    win.runner.progress.connect(lambda job, p: previews.append(p) if p.preview is not None else None)
    win.run()
    qtbot.waitUntil(lambda: len(previews) >= 2, timeout=60000)
    paths["running"] = shot_dir / "main-window-running.png"
    assert win.grab().save(str(paths["running"]))
    qtbot.waitUntil(lambda: not win.runner.is_running(), timeout=60000)
    qtbot.wait(50)
    paths["finished"] = shot_dir / "main-window-finished.png"
    assert win.grab().save(str(paths["finished"]))
    print(f"\nscreenshots in {shot_dir}:")
    for name, path in paths.items():
        assert path.stat().st_size > 10_000
        print(f"  {name}: {path}")
    win.close()
