"""``studio`` with no command: studio.app.main opens the main window."""

from __future__ import annotations

from PySide6.QtWidgets import QApplication

from studio.ui.main_window import MainWindow


def test_main_opens_the_window_with_the_given_images(qapp, image_dir, tmp_path, monkeypatch):
    import studio.app
    from studio.app import main

    seen = {}

    def inspect_and_close(app):
        # instead of app.exec(): a real exec()+quit() would leave Qt's quit flag set for later tests
        assert app is qapp
        wins = [w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow) and w.isVisible()]
        seen["count"] = len(wins)
        if wins:
            ws = wins[0].workspace("style")
            seen["content"] = ws.state().content.path.name
            seen["styles"] = [s.path.name for s in ws.state().styles]
            seen["size"] = (wins[0].width(), wins[0].height())
            seen["run"] = wins[0].act_run.isEnabled()
            for w in wins:
                w.close()
        return 0

    monkeypatch.setattr(studio.app, "_exec", inspect_and_close)
    code = main(["--no-demo", "--settings", str(tmp_path / "s.ini"),
                 str(image_dir / "content.png"), str(image_dir / "style.png")])
    assert code == 0
    assert seen["count"] == 1
    assert seen["content"] == "content.png" and seen["styles"] == ["style.png"]
    assert seen["run"]
    assert seen["size"][0] >= 1200 and seen["size"][1] >= 800
