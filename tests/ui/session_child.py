"""The app in a child process for ``test_ui_session_kill.py`` (not a test module).

``work IMAGES``: opens the real window with a kept session, sets the Style tab's inputs and settings,
runs a short job (a stand-in engine with the real events), prints ``SAVED`` once the session is on disk,
and goes on running its event loop until it is killed. ``report``: opens the window again and prints
what came back as one line of JSON.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402


def stand_in_engine(content: np.ndarray, styles, params, control=None) -> Iterator:
    from studio.engines.events import Finished, Progress

    img = content.astype(np.float32)
    for i in range(params.iterations):
        img = np.clip(img * 0.9 + 0.05, 0, 1)
        yield Progress(iteration=i + 1, total=params.iterations, stage="", losses={"total": 1.0 / (i + 1)},
                       elapsed_s=0.01 * (i + 1), eta_s=0.0, preview=None)
    yield Finished(image=img, cancelled=False, iterations=params.iterations, elapsed_s=0.1, losses={"total": 0.1})


def main(mode: str, images: str = "") -> None:
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from studio.paths import session_dir
    from studio.session import SessionStore
    from studio.ui.main_window import MainWindow
    from studio.ui.settings import open_settings

    app = QApplication([sys.argv[0]])
    win = MainWindow(open_settings(), load_demo=False, session=SessionStore(session_dir()))
    win.show()
    ws = win.workspace("style")
    if mode == "work":
        ws.run_engine = stand_in_engine
        ws.set_content_path(os.path.join(images, "content.png"))
        ws.add_style_paths([os.path.join(images, "style.png")])
        ws.edit_params({"style_weight": 4321.0, "iterations": 7, "size": 64, "scales": 1}, "test")
        win.tabs.setCurrentIndex(1)
        win.tabs.setCurrentIndex(0)

        def saved() -> None:
            win.keeper.save_now()
            if win.keeper.store.flush(30):
                print("SAVED", flush=True)

        win.runner.done.connect(lambda job: QTimer.singleShot(0, saved))
        QTimer.singleShot(0, win.run)
        app.exec()  # until killed
        return
    s = ws.state()
    entries = win.desk("style").history.entries()
    print(json.dumps({
        "style_weight": s.params.style_weight, "iterations": s.params.iterations,
        "content": s.content.path.name if s.content else None,
        "content_mean": float(s.content.rgb.mean()) if s.content else None,
        "styles": [x.path.name for x in s.styles],
        "history": [[e.number, e.iterations, float(e.pixels().mean())] for e in entries],
        "notice": win.notice.text(),
    }), flush=True)
    os._exit(0)


if __name__ == "__main__":
    main(*sys.argv[1:])
