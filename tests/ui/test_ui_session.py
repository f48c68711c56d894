"""Nothing lost: the window keeps each tab's inputs, settings and history on disk and brings them back;
quitting asks first, naming what would stop or was never exported; each tab has its own desk."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QApplication

from studio.history_budget import HistoryBudget, MiB
from studio.session import SessionStore
from studio.ui.main_window import MainWindow
from tests.ui.conftest import run_job


def _window(qtbot, settings, folder, engine=None):
    win = MainWindow(settings, load_demo=False, session=SessionStore(folder))
    qtbot.addWidget(win)
    if engine is not None:
        win.workspace("style").run_engine = engine
    win.show()
    return win


def _prepare_style(win, image_dir, **changes):
    ws = win.workspace("style")
    assert ws.set_content_path(str(image_dir / "content.png"))
    assert ws.add_style_paths([str(image_dir / "style.png"), str(image_dir / "style2.png")]) == 2
    ws.edit_params(dict(size=64, iterations=12, scales=1, preview_every=4, **changes), "test")
    return ws


@pytest.fixture
def quit_answers(monkeypatch):
    """Records what the quit question named and answers it (True: Quit)."""
    asked: list[list[str]] = []
    answer = {"quit": True}

    def confirm(self, lost):
        asked.append(lost)
        return answer["quit"]

    monkeypatch.setattr(MainWindow, "_confirm_quit", confirm)
    return asked, answer


def test_inputs_settings_placement_and_history_come_back_after_a_quit(qtbot, settings, tmp_path, image_dir,
                                                                      fake_engine, quit_answers):
    folder = tmp_path / "session"
    win = _window(qtbot, settings, folder, fake_engine)
    style = _prepare_style(win, image_dir, style_weight=777.0)
    run_job(qtbot, win)
    made = win.desk("style").history.entries()[0]
    harm = win.workspace("harmonize")
    assert harm.set_painting_path(str(image_dir / "big.png"))
    assert harm.add_object_path(str(image_dir / "transparent.png"))
    harm.set_transform({"x": 120.0, "y": 80.0, "scale": 1.5}, "Move", None)
    placed = harm.state().layer.transform
    lat = win.workspace("latent")
    lat.choose(5)
    lat.set_direction(0, 1.5)
    frame = lat.state().frame
    win.tabs.setCurrentIndex(1)
    win.close()
    assert quit_answers[0] and "#1 (Style)" in quit_answers[0][0][0]
    assert not (folder / "open").exists()  # a clean end

    again = _window(qtbot, settings, folder)
    s = again.workspace("style").state()
    assert s.params.style_weight == 777.0 and s.params.iterations == 12
    assert np.array_equal(s.content.rgb, style.state().content.rgb)
    assert [p.path.name for p in s.styles] == ["style.png", "style2.png"]
    h = again.workspace("harmonize").state()
    assert h.layer.transform == placed and h.painting.rgb.shape == (300, 400, 3)
    assert again.current_workspace().name == "harmonize"
    la = again.workspace("latent").state()
    assert la.choice == 5 and la.directions[0] == 1.5 and np.array_equal(la.frame, frame)
    entries = again.desk("style").history.entries()
    assert len(entries) == 1 and entries[0].number == 1 and entries[0].iterations == 12
    assert np.array_equal(entries[0].pixels(), made.image)
    assert entries[0].spec.params.style_weight == 777.0
    assert "Style" in entries[0].label and "Style transfer" in entries[0].label
    assert again.desk("style").result is entries[0]  # the result the tab showed
    assert again.desk("harmonize").history.entries() == []
    assert "Restored your last session" in again.notice.text()
    # the restored result exports (with its recipe) and the next run gets the next number
    again.tabs.setCurrentIndex(0)
    assert again.export_result(str(tmp_path / "out.png")) is not None
    again.workspace("style").run_engine = fake_engine
    again.workspace("style").edit_params({"style_weight": 778.0}, "test")  # a new result (the same one is not added)
    run_job(qtbot, again)
    assert again.desk("style").history.entries()[0].number == 2
    again._closing_confirmed = True
    again.close()


def test_a_session_damaged_anywhere_never_stops_the_app_and_says_what_it_left_out(qtbot, settings, tmp_path,
                                                                                  image_dir, fake_engine,
                                                                                  quit_answers):
    """A kept session is a file on disk: any of it can be damaged (or written by someone else). Each damaged
    part is left out and said; the rest comes back; the window starts either way."""
    import json

    folder = tmp_path / "session"
    win = _window(qtbot, settings, folder, fake_engine)
    _prepare_style(win, image_dir)
    run_job(qtbot, win)
    lat = win.workspace("latent")
    lat.choose(5)
    win.close()
    good = json.loads((folder / "session.json").read_text())

    def damaged(change) -> MainWindow:
        doc = json.loads(json.dumps(good))
        change(doc)
        (folder / "session.json").write_text(json.dumps(doc))
        return _window(qtbot, settings, folder)

    style = lambda d: d["workspaces"]["style"]  # noqa: E731
    for change, words in (
        (lambda d: d.update(next_number="abc"), None),  # was a ValueError out of the window's constructor
        (lambda d: style(d)["history"][0].update(number=float("inf")), "Could not restore a result"),
        (lambda d: style(d)["history"][0].update(losses=[1, 2]), "Could not restore a result"),
        (lambda d: style(d).update(history=7), None),
        (lambda d: style(d)["state"]["fields"]["map"].update(content=5), "the Style tab's inputs"),
        (lambda d: style(d)["state"]["fields"]["map"].update(params=None), "the Style tab's inputs"),
    ):
        again = damaged(change)
        assert again.workspace("latent").state().choice == 5  # the rest came back
        if words:
            assert words in again.notice.text() and again.notice.level == "warning", again.notice.text()
        again.grab()  # every tab paints
        again._closing_confirmed = True
        again.close()
    (folder / "session.json").write_text("{cut sho")
    again = _window(qtbot, settings, folder)
    assert "The last session could not be read" in again.notice.text() and "set aside as session-" in \
        again.notice.text()
    assert [p.read_text() for p in folder.glob("session-*.unreadable.json")] == ["{cut sho"]
    again._closing_confirmed = True
    again.close()


def test_quitting_while_a_job_runs_asks_and_a_no_keeps_everything(qtbot, settings, tmp_path, image_dir,
                                                                  quit_answers):
    from tests.ui.conftest import FakeEngine

    asked, answer = quit_answers
    win = _window(qtbot, settings, tmp_path / "session", FakeEngine(step_s=0.05))
    _prepare_style(win, image_dir)
    win.workspace("style").edit_params({"iterations": 400}, "long")
    with qtbot.waitSignal(win.runner.progress, timeout=10000):
        win.run()
    answer["quit"] = False
    win.close()
    assert win.isVisible() and win.runner.is_running()
    assert "The running Style transfer at iteration" in asked[-1][0]
    answer["quit"] = True
    win.close()
    assert not win.runner.is_running()
    stopped = win.desk("style").history.entries()
    assert len(stopped) == 1 and stopped[0].cancelled  # its picture so far went into the history
    again = _window(qtbot, settings, tmp_path / "session")
    assert [e.cancelled for e in again.desk("style").history.entries()] == [True]
    again._closing_confirmed = True
    again.close()


def test_the_quit_question_names_one_unexported_result_in_the_singular(qtbot, settings, tmp_path, image_dir,
                                                                      quit_answers):
    from tests.ui.conftest import FakeEngine

    asked, _ = quit_answers
    win = _window(qtbot, settings, tmp_path / "session", FakeEngine(step_s=0.01))
    _prepare_style(win, image_dir)
    with qtbot.waitSignal(win.runner.finished, timeout=10000):
        win.run()
    qtbot.waitUntil(lambda: not win.runner.is_running(), timeout=10000)
    win.close()
    assert asked[-1] == ["1 result of this session never exported: #1 (Style). It stays in the history for the next "
                         "start, but is not saved as an image file."]


def test_each_tab_has_its_own_canvas_progress_plot_and_history(qtbot, window):
    with qtbot.waitSignal(window.runner.finished, timeout=10000):
        window.run()
    qtbot.waitUntil(lambda: not window.runner.is_running(), timeout=10000)
    style_desk = window.desk("style")
    assert len(style_desk.history.entries()) == 1 and style_desk.canvas.after() is not None
    window.tabs.setCurrentIndex(1)  # Harmonize
    assert window.desk() is window.desk("harmonize") is not style_desk
    assert window.history.entries() == [] and window.canvas.after() is None
    assert window.loss_plot.series() == {} or not window.loss_plot.series()
    assert not window.act_export.isEnabled()
    assert QApplication.focusWidget() is window.canvas  # typed keys go to the picture, not a field
    window.tabs.setCurrentIndex(0)
    assert window.act_export.isEnabled() and window.canvas.after() is not None


def test_a_result_can_be_deleted_and_the_history_is_bounded_in_bytes(qtbot, window):
    for weight in (10.0, 20.0, 30.0):  # three results of their own (the same settings again add none)
        window.workspace("style").edit_params({"style_weight": weight}, "test")
        with qtbot.waitSignal(window.runner.finished, timeout=10000):
            window.run()
        qtbot.waitUntil(lambda: not window.runner.is_running(), timeout=10000)
    strip = window.history
    assert [e.number for e in strip.entries()] == [3, 2, 1]
    strip.setCurrentRow(1)
    QApplication.sendEvent(strip, QKeyEvent(QKeyEvent.Type.KeyPress, Qt.Key.Key_Delete, Qt.KeyboardModifier.NoModifier))
    assert [e.number for e in strip.entries()] == [3, 1]
    one = strip.entries()[0].size_bytes()
    strip.budget = HistoryBudget(memory_bytes=one, disk_bytes=512 * MiB)  # room for one result in memory
    window.workspace("style").edit_params({"style_weight": 40.0}, "test")
    with qtbot.waitSignal(window.runner.finished, timeout=10000):
        window.run()
    qtbot.waitUntil(lambda: not window.runner.is_running(), timeout=10000)
    assert [e.number for e in strip.entries()] == [4]  # no kept session here: the older ones had to go
    assert "let go of the oldest: #3, #1" in window.notice.text()


def test_a_result_is_used_as_another_tabs_input_with_its_recipe_kept(qtbot, window):
    from studio.recipe import read_recipe

    with qtbot.waitSignal(window.runner.finished, timeout=10000):
        window.run()
    qtbot.waitUntil(lambda: not window.runner.is_running(), timeout=10000)
    result = window.current_result().image
    window._fill_send_menu()
    titles = [a.text() for a in window.send_menu.actions()]
    assert titles == ["Harmonize: as the painting", "Translate: as the image to translate",
                      "Latent: as the picture to fit"]
    window.send_menu.actions()[0].trigger()
    assert window.current_workspace().name == "harmonize"
    painting = window.workspace("harmonize").state().painting
    assert painting.rgb.shape == result.shape and abs(painting.rgb - result).max() <= 1 / 255 + 1e-6
    assert read_recipe(painting.path).engine == "stylize"  # where the picture came from stays with it
    assert "Result #1 of the Style tab is now the painting of the Harmonize tab" in window.notice.text()


def test_the_fade_changes_the_finished_picture_at_once_without_a_run(qtbot, window, fake_engine, tmp_path):
    from studio.recipe import read_recipe
    from studio.ui.qimage import from_qimage

    run_job(qtbot, window)
    ws = window.workspace("style")
    entry = window.current_result()
    stylised = entry.extra["stylised"]
    ws.panel().strength.setValue(0.0)  # the panel's Strength: all photo
    assert len(fake_engine.calls) == 1 and not window.runner.is_running()  # no new run
    photo = ws.state().content.rgb
    assert np.allclose(entry.image, photo, atol=1e-6)  # what Export saves
    assert np.abs(from_qimage(window.canvas.after())[..., :3] / 255.0 - photo).max() < 2 / 255  # what is shown
    thumb = window.desk("style").history.entries()[0].thumbnail
    assert np.abs(thumb.astype(np.float32) / 255 - cv2.resize(photo, thumb.shape[1::-1],
                                                              interpolation=cv2.INTER_AREA)).mean() < 0.02
    ws.panel().strength.setValue(1.0)
    assert np.array_equal(window.current_result().image, stylised)
    steps = ws.undo_stack.count()
    window.restore_history(window.current_result())  # choosing it again changes nothing: no "Restore" step
    assert ws.undo_stack.count() == steps
    ws.edit_params({"strength": 0.5, "fade": "luminance"}, "Fade")
    out = window.export_result(str(tmp_path / "faded.png"))
    params = read_recipe(out).params
    assert params["strength"] == 0.5 and params["fade"] == "luminance"  # the recipe carries the fade


def test_a_fade_moved_while_it_runs_reaches_the_finished_picture(qtbot, window, fake_engine, tmp_path):
    """The running job does not take the strength, and the shown result could not be re-mixed while it ran: the
    panel said 0.7 while the finished picture, its recipe and its export were at 1.0 (found by the soak session)."""
    from studio.engines.style.fade import fade_to_photo
    from studio.recipe import read_recipe

    ws = window.workspace("style")
    fake_engine.step_s = 0.05
    job = window.run()
    assert job is not None
    qtbot.waitUntil(lambda: len(fake_engine.controls) > 0, timeout=5000)
    ws.panel().strength.setValue(0.7)
    assert window.runner.is_running()
    qtbot.waitUntil(lambda: job.done, timeout=20000)
    qtbot.waitUntil(lambda: window.current_result() is not None
                    and window.current_result().spec.state.params.strength == 0.7, timeout=5000)
    entry = window.current_result()
    expected = fade_to_photo(entry.extra["stylised"], ws.state().content.rgb, 0.7, ws.params().fade)
    np.testing.assert_allclose(entry.image, expected, atol=1e-6)
    assert read_recipe(window.export_result(str(tmp_path / "faded.png"))).params["strength"] == 0.7


def test_a_kept_sessions_many_results_come_back_in_one_pass_over_the_strip(qtbot, monkeypatch):
    """3,000 kept results took 62 s to come back: each add scrolled the strip and applied the budget over all of
    it. In bulk, both happen once."""
    from studio.engines.style.params import StyleParams
    from studio.ui.history import HistoryEntry, HistoryStrip
    from studio.ui.job_runner import JobSpec

    strip = HistoryStrip()
    qtbot.addWidget(strip)
    calls = {"budget": 0, "scroll": 0}
    budget, scroll = strip.apply_budget, strip.scrollToItem
    monkeypatch.setattr(strip, "apply_budget", lambda: (calls.__setitem__("budget", calls["budget"] + 1), budget()))
    monkeypatch.setattr(strip, "scrollToItem", lambda item: (calls.__setitem__("scroll", calls["scroll"] + 1),
                                                             scroll(item)))
    spec = JobSpec(workspace="style", engine="stylize", run=lambda control: iter(()), params=StyleParams())
    with strip.bulk():
        for n in range(1, 41):
            strip.add(HistoryEntry(number=n, image=np.full((8, 8, 3), n / 40, np.float32), spec=spec,
                                   cancelled=False, iterations=1, elapsed_s=0.1))
    assert calls == {"budget": 1, "scroll": 1} and strip.count() == 40 and strip.entry_at(0).number == 40
    strip.add(HistoryEntry(number=41, image=np.zeros((8, 8, 3), np.float32), spec=spec, cancelled=False,
                           iterations=1, elapsed_s=0.1))
    assert calls == {"budget": 2, "scroll": 2}  # one at a time, as before


def test_the_quit_question_does_not_count_a_trainings_sample_grid(qtbot, settings, tmp_path, quit_answers):
    """What a training made is its checkpoint, saved by the engine as it went: its sample grid in the history is
    no result the quit would lose, and the question named Latent and Translate training runs as such."""
    from studio.ui.history import HistoryEntry
    from studio.ui.job_runner import JobSpec

    asked, _ = quit_answers
    win = _window(qtbot, settings, tmp_path / "session")
    grid = np.full((16, 16, 3), 0.5, np.float32)
    latent, translate = win.workspace("latent").state(), win.workspace("translate").state()
    trainings = (("latent", "train-gan", latent.train, latent), ("translate", "train-cyclegan", translate.train,
                                                                   translate))
    for number, (workspace, engine, params, state) in enumerate(trainings, 1):
        spec = JobSpec(workspace, engine, lambda control: iter(()), params, state)
        win.add_history(HistoryEntry(number=number, image=grid, spec=spec, cancelled=False, iterations=5,
                                     elapsed_s=1.0))
    win.close()
    assert asked == []  # nothing to lose: no question
    assert not win.isVisible()


def test_the_panels_sections_open_and_shut_as_they_were_left(qtbot, settings, tmp_path):
    """Each start folded every section back to how the panel was built; now a section the artist opened or shut
    stays so, per tab, from one start to the next."""
    from studio.ui.section import Section

    def sections(win, name):
        return {s.button.text(): s for s in win.workspace(name).panel().findChildren(Section)}

    win = _window(qtbot, settings, tmp_path / "session")
    style, harm = sections(win, "style"), sections(win, "harmonize")
    opened = next(t for t, s in style.items() if not s.is_expanded())
    shut = next(t for t, s in style.items() if s.is_expanded())
    style[opened].button.click()
    style[shut].button.click()
    harm_default = {t: s.is_expanded() for t, s in harm.items()}
    win._closing_confirmed = True
    win.close()
    again = _window(qtbot, settings, tmp_path / "session")
    style, harm = sections(again, "style"), sections(again, "harmonize")
    assert style[opened].is_expanded() and style[opened].content.isVisibleTo(style[opened])
    assert not style[shut].is_expanded() and not style[shut].content.isVisibleTo(style[shut])
    assert {t: s.is_expanded() for t, s in harm.items()} == harm_default  # another tab's are its own
    again._closing_confirmed = True
    again.close()


def test_only_an_unchanged_rerun_of_a_finished_result_is_taken_as_the_same(window):
    """The duplicate check of a finished job against the tab's newest result: the same engine, inputs, settings and
    pixels. Never a stopped run or a stopped newest result, an opened file, a training (each writes a generator of
    its own), other pixels, or a newest result whose kept pixels cannot be read back (the new one is kept)."""
    from dataclasses import replace

    from studio.engines.events import Finished
    from studio.ui.history import HistoryEntry
    from studio.ui.job_runner import JobSpec

    ws = window.workspace("style")
    spec = JobSpec("style", ws.engine, lambda control: iter(()), ws.params(), ws.state())
    picture = np.random.default_rng(0).random((12, 16, 3)).astype(np.float32)

    def newest(**changes):
        entry = HistoryEntry(number=window.next_entry_number(), image=picture.copy(), spec=spec, cancelled=False,
                             iterations=3, elapsed_s=1.0)
        for k, v in changes.items():
            setattr(entry, k, v)
        window.add_history(entry)
        return entry

    def same(f_spec=spec, cancelled=False, image=picture):
        return window._same_as_newest(f_spec, Finished(image, cancelled, 3, 1.0), image)

    entry = newest()
    assert same() is entry
    assert same(cancelled=True) is None
    assert same(image=picture[::-1].copy()) is None
    assert same(f_spec=replace(spec, params=spec.params.with_changes(seed=7))) is None
    assert same(f_spec=replace(spec, engine="x")) is None
    trained = replace(spec, engine="train-gan")
    newest(spec=trained)
    assert same(f_spec=trained) is None  # the same grid from a seeded training is still another generator
    newest(cancelled=True)
    assert same() is None
    newest(extra={"opened": True})
    assert same() is None

    def gone():
        raise ValueError("result.npy is missing or not a regular file")

    newest(image=None, loader=gone, nbytes=picture.nbytes, thumbnail=np.zeros((8, 8, 3), np.uint8))
    assert same() is None  # the new result is kept, not lost to the unreadable one
