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


def test_a_straggling_job_thread_ends_the_process_cleanly(monkeypatch, tmp_path):
    """A job that could not be stopped (e.g. converting weights) must not turn quitting into a crash:
    settings are synced and the process ends directly, without destroying the running thread."""
    import studio.app
    from studio.ui import job_runner

    class Running:
        def isRunning(self) -> bool:  # noqa: N802
            return True

    class Settings:
        synced = False

        def sync(self) -> None:
            self.synced = True

    exits: list[int] = []
    monkeypatch.setattr(studio.app.os, "_exit", exits.append)
    settings = Settings()
    studio.app._exit_past_stragglers(0, settings)
    assert exits == [] and not settings.synced  # nothing straggling: normal teardown
    monkeypatch.setattr(job_runner, "_STRAGGLERS", [Running()])
    studio.app._exit_past_stragglers(3, settings)
    assert exits == [3] and settings.synced


def test_the_studio_command_opens_the_app_when_an_app_option_comes_first(monkeypatch, tmp_path):
    import studio.app
    from studio import cli

    opened = []
    monkeypatch.setattr(studio.app, "main", lambda argv: opened.append(argv) or 0)
    for argv in (["--no-demo"], ["--settings", str(tmp_path / "s.ini")], [f"--settings={tmp_path / 's.ini'}"],
                 [], ["photo.jpg"]):
        assert cli.main(argv) == 0
    assert opened == [["--no-demo"], ["--settings", str(tmp_path / "s.ini")], [f"--settings={tmp_path / 's.ini'}"],
                      [], ["photo.jpg"]]
    assert cli.main(["--version"]) == 0 and len(opened) == 5  # the command line's own options stay its own


def test_start_up_objects_are_kept_out_of_full_collections(qtbot, window, monkeypatch):
    """A full garbage collection walked every object torch and Qt made (120-225 ms, the window stood
    still): after start-up, and once more after the first job's first step, they are frozen out of its
    sight; later jobs freeze nothing (what they leave behind stays collectable)."""
    import gc

    from studio.app import keep_collections_short

    calls = []
    real = gc.freeze
    monkeypatch.setattr(gc, "freeze", lambda: (calls.append(1), real()))
    try:
        keep_collections_short(window)
        assert len(calls) == 1 and gc.get_freeze_count() > 10_000
        for _ in range(2):
            with qtbot.waitSignal(window.runner.finished, timeout=10000):
                window.run()
            qtbot.waitUntil(lambda: not window.runner.is_running(), timeout=10000)
        assert len(calls) == 2
    finally:
        gc.unfreeze()
