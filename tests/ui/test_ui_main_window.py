"""The main window with the Style workspace, driven by a fake engine (fast, same events)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, QSettings, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QGuiApplication
from PySide6.QtWidgets import QApplication

from studio.recipe import read_recipe
from studio.ui.history import HistoryStrip
from studio.ui.log_slider import format_number
from studio.ui.main_window import MainWindow
from studio.ui.preferences import Preferences, PreferencesDialog
from studio.ui.qimage import from_qimage


def wait_idle(qtbot, win, timeout=10000):
    qtbot.waitUntil(lambda: not win.runner.is_running(), timeout=timeout)


def run_to_end(qtbot, win):
    with qtbot.waitSignal(win.runner.finished, timeout=10000):
        job = win.run()
    wait_idle(qtbot, win)
    return job


def drop_files(widget, paths):
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    pos = QPointF(widget.width() / 2, widget.height() / 2)  # the enter event takes a QPoint (6.11), the drop a QPointF
    enter = QDragEnterEvent(pos.toPoint(), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, enter)
    drop = QDropEvent(pos, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                      Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, drop)


def test_run_shows_previews_progress_loss_and_history(qtbot, window, fake_engine):
    previews = []
    window.runner.progress.connect(lambda job, p: previews.append(p.preview is not None))
    job = run_to_end(qtbot, window)
    assert any(previews)
    assert job.result is not None and not job.result.cancelled
    assert window.canvas.after() is not None and window.canvas.after().width() == 64
    assert window.progress.text().startswith("Finished")
    assert set(window.loss_plot.series()) == {"content", "style", "tv", "total"}
    assert len(window.history.entries()) == 1 and window.current_result() is window.history.entries()[0]
    assert window.weights_label.text() == "Feature network: fake-net"
    assert window.device_label.text().startswith("Device: CPU (fake")
    assert fake_engine.calls[0].size == 64 and fake_engine.calls[0].device == "auto"
    assert window.act_export.isEnabled() and window.act_copy.isEnabled()


def test_run_is_disabled_without_a_style_image_and_says_why(qtbot, window):
    ws = window.workspace("style")
    ws.remove_style(0)
    assert not window.act_run.isEnabled()
    assert "style image" in window.act_run.toolTip()
    assert window.run_button.toolTip() == window.act_run.toolTip()
    assert not window.run_hint.isHidden() and window.run_hint.text() == window.act_run.toolTip()
    assert window.run() is None
    ws.undo_stack.undo()
    assert window.act_run.isEnabled() and window.run_hint.isHidden()


def test_progress_text_has_iteration_scale_and_eta():
    from studio.engines.events import Progress
    from studio.ui.job_display import progress_text

    text = progress_text(Progress(120, 300, "scale 2/3", {}, 14.0, 75.0, scale_index=1, scale_count=3))
    assert text == "Iteration 120 / 300 \u00b7 scale 2 of 3 \u00b7 0:14 elapsed \u00b7 about 1:15 left"
    # harmonization's two stages are its passes
    text = progress_text(Progress(4, 80, "pass 1", {}, 3.0, 60.0, scale_index=0, scale_count=2))
    assert text.startswith("Iteration 4 / 80 \u00b7 pass 1 of 2 \u00b7")


def test_a_long_job_note_is_cut_to_the_row_and_never_widens_the_window(qtbot, window):
    from PySide6.QtWidgets import QLabel

    window.resize(1000, 700)
    qtbot.wait(50)
    width = window.width()
    note = window.desk().job_note
    text = "No face found in the picture: fitting its centre square, " * 4
    window.desk().show_job_note(text)
    qtbot.wait(50)
    assert window.width() == width and note.width() <= note.MAX_WIDTH
    assert note.text() == text and note.toolTip() == text  # the whole note, for tests and the tooltip
    assert QLabel.text(note).endswith("\u2026") and len(QLabel.text(note)) < len(text)  # what is painted
    window.desk().show_job_note("Result #3 is in the history below")
    qtbot.wait(50)
    assert QLabel.text(note) == "Result #3 is in the history below"


def test_the_empty_canvas_names_the_menu_item_and_each_tabs_first_input(window):
    for name, words in (("style", "Drop a photo here"), ("harmonize", "Drop a painting here"),
                        ("translate", "Drop a photo here")):
        text = window.desk(name).canvas.placeholder()
        assert text.startswith(words) and "File \u25b8 Open\u2026" in text and "Open content" not in text


def test_a_job_without_a_feature_network_does_not_say_it_loads_one(window):
    from types import SimpleNamespace

    from studio.ui.job_runner import JobSpec

    for name, words in (("style", "Starting: loading the feature network\u2026"), ("latent", "Starting\u2026")):
        ws = window.workspace(name)
        window._job_started(SimpleNamespace(spec=JobSpec(name, ws.engine, lambda c: iter(()), None, ws.state())))
        assert window.desk(name).progress.format() == words


def test_stop_keeps_the_picture_in_history(qtbot, window, fake_engine):
    ws = window.workspace("style")
    ws.set_state(ws.state().__class__(ws.params().with_changes(iterations=100000), ws.state().content,
                                      ws.state().styles))
    window.run()
    qtbot.waitUntil(lambda: window.canvas.after() is not None, timeout=5000)
    t0 = time.perf_counter()
    with qtbot.waitSignal(window.runner.finished, timeout=2000) as fin:
        window.act_stop.trigger()
    assert time.perf_counter() - t0 < 0.5
    assert fin.args[1].cancelled
    wait_idle(qtbot, window)
    assert window.history.entries()[0].cancelled
    assert window.progress.text().startswith("Stopped")
    assert not window.act_stop.isEnabled()


def test_slider_moves_during_a_run_reach_the_engine_without_restart(qtbot, window, fake_engine):
    ws = window.workspace("style")
    fake_engine.step_s = 0.02
    ws.set_state(ws.state().__class__(ws.params().with_changes(iterations=100000), ws.state().content,
                                      ws.state().styles))
    window.run()
    qtbot.waitUntil(lambda: window.canvas.after() is not None, timeout=5000)
    panel = ws.panel()
    for pos in (600, 650, 700, 800):  # a drag: debounced into one update
        panel.style_weight.slider.setValue(pos)
    panel.layer_checks["relu5_1"].setChecked(False)
    qtbot.waitUntil(lambda: len(fake_engine.updates) >= 1, timeout=3000)
    update = fake_engine.updates[0]
    assert update["style_weight"] == ws.params().style_weight == panel.style_weight.value_at(800)
    assert update["style_layers"] == ("relu1_1", "relu2_1", "relu3_1", "relu4_1")
    assert "style_layer_weights" in update
    assert len(fake_engine.calls) == 1  # no restart
    panel.size.setValue(128)  # not live: applies on the next Run
    qtbot.wait(300)
    assert all("size" not in u for u in fake_engine.updates)
    # said next to the Run button it is about, not in the status bar
    assert "next Run" in window.run_hint.text() and window.run_hint.isVisibleTo(window)
    assert "Applied to the running job: style layer weights, style layers, style weight" in \
        window.desk().job_note.text()
    # Run again starts fresh with the new settings
    window.run()
    qtbot.waitUntil(lambda: len(fake_engine.calls) == 2, timeout=3000)
    assert fake_engine.controls[0].cancelled and fake_engine.calls[1].size == 128
    window.stop()
    wait_idle(qtbot, window)
    assert len(window.history.entries()) == 2  # the stopped first run and the second


def test_an_engine_error_is_shown_and_the_next_run_works(qtbot, window, engine_factory):
    ws = window.workspace("style")
    ws.run_engine = engine_factory(step_s=0.001, fail_at=3)
    with qtbot.waitSignal(window.runner.failed, timeout=5000):
        window.run()
    wait_idle(qtbot, window)
    assert window.notice.isVisible() and window.notice.level == "error"
    assert "fake engine exploded" in window.notice.label.text()
    assert window.progress.text().startswith("Failed")
    ws.run_engine = engine_factory(step_s=0.001)
    run_to_end(qtbot, window)
    assert not window.notice.isVisible() or window.notice.level != "error"
    assert len(window.history.entries()) == 1


def test_history_click_restores_image_and_params(qtbot, window):
    ws = window.workspace("style")
    weight0, seed0 = ws.params().style_weight, ws.params().seed
    run_to_end(qtbot, window)
    first = window.history.entries()[0]
    first_image = from_qimage(window.canvas.after())
    ws.panel().style_weight.slider.setValue(900)
    ws.panel().seed.setValue(77)
    run_to_end(qtbot, window)
    assert ws.params().seed == 77
    strip: HistoryStrip = window.history
    assert len(strip.entries()) == 2
    row = strip.entries().index(first)
    rect = strip.visualItemRect(strip.item(row))
    qtbot.mouseClick(strip.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert ws.params().seed == seed0 and ws.params().style_weight == weight0
    assert window.current_result() is first
    np.testing.assert_array_equal(from_qimage(window.canvas.after()), first_image)
    assert "#1" in window.canvas.caption()
    second = strip.entries()[1 - row]
    ws.undo_stack.undo()  # restoring is an undoable edit
    assert ws.params().seed == 77
    # and undo shows the result shown before the restore again (it kept #1's picture under the settings of #2)
    assert window.current_result() is second and "#2" in window.canvas.caption()
    np.testing.assert_array_equal(from_qimage(window.canvas.after()), from_qimage(second.qimage()))
    ws.undo_stack.redo()
    assert ws.params().seed == seed0 and window.current_result() is first
    np.testing.assert_array_equal(from_qimage(window.canvas.after()), first_image)


def test_history_captions_fit_their_cell_in_two_lines_without_the_tabs_name(qtbot, window):
    """The artist session's strip: "#3 Style: Full size 512 px" wrapped "px" onto a third line that the cell cut
    off, an opened PNG read "opened · 0 it", and a long file name did not fit."""
    from studio.ui.history import HistoryEntry
    from studio.ui.job_runner import JobSpec

    strip: HistoryStrip = window.history
    image = np.zeros((40, 60, 3), np.float32)

    def add(title: str, iterations: int, **extra: str) -> HistoryEntry:
        spec = JobSpec("style", "style", lambda _c: iter(()), None, None, title=title)
        entry = HistoryEntry(number=window.next_entry_number(), image=image, spec=spec, cancelled=False,
                             iterations=iterations, elapsed_s=1.0, extra=dict(extra))
        window.add_history(entry, "")
        return entry

    full = add("Full size 2048 px", 12)
    opened = add("Opened tubingen_the_scream_512_final_version_2.png", 0,
                 opened="Opened tubingen_the_scream_512_final_version_2.png")
    plain = add("Style transfer", 0)
    texts = {e.number: strip.item(strip.entries().index(e)).text() for e in (full, opened, plain)}
    assert texts[full.number] == f"#{full.number} Full size 2048 px\ndone \u00b7 12 it"
    assert texts[plain.number] == f"#{plain.number} Style transfer\ndone"  # no "0 it"
    assert texts[opened.number].startswith(f"#{opened.number} Opened\n") and "0 it" not in texts[opened.number]
    assert texts[opened.number].endswith("2.png")  # shortened in the middle: the name's end is kept
    metrics, cell = strip.fontMetrics(), strip.gridSize().width()
    for text in texts.values():
        lines = text.split("\n")
        assert len(lines) == 2 and all(metrics.horizontalAdvance(line) <= cell - 8 for line in lines), text
    # a style run is named by its painting (every one read "Style transfer")
    ws = window.workspace("style")
    spec = JobSpec("style", "style", lambda _c: iter(()), ws.params(), ws.state(), title="Style transfer")
    named = HistoryEntry(number=window.next_entry_number(), image=image, spec=spec, cancelled=False, iterations=5,
                         elapsed_s=1.0)
    window.add_history(named, "")
    assert strip.item(strip.entries().index(named)).text() == f"#{named.number} style\ndone \u00b7 5 it"
    # the one-line label (tool tips, notices) still names the tab and says it all
    assert full.label == f"#{full.number} Style: Full size 2048 px \u00b7 done \u00b7 12 it"
    assert opened.label.endswith("tubingen_the_scream_512_final_version_2.png \u00b7 opened file")


def test_undo_redo_of_parameter_edits_with_shortcuts(qtbot, window):
    ws = window.workspace("style")
    panel = ws.panel()
    weight0 = ws.params().style_weight
    window.activateWindow()
    panel.style_weight.slider.setValue(800)
    panel.style_weight.slider.setValue(820)  # same drag: merged into one step
    panel.iterations.setValue(99)
    panel.original_colors.setChecked(True)
    assert ws.undo_stack.count() == 3
    assert window.act_undo.text().startswith("&Undo")
    window.act_undo.trigger()
    assert ws.params().original_colors is False and not panel.original_colors.isChecked()
    qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert ws.params().iterations == 20 and panel.iterations.value() == 20
    qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert ws.params().style_weight == weight0 and panel.style_weight.edit.text() == format_number(weight0)
    qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert ws.params().style_weight == panel.style_weight.value_at(820)
    window.act_redo.trigger()
    assert ws.params().iterations == 99
    assert [ws.undo_stack.text(i) for i in range(3)] == ["Style weight", "Iterations", "Keep colours"]


def test_export_png_with_recipe_and_reopen_restores_params(qtbot, window, tmp_path, image_dir):
    ws = window.workspace("style")
    ws.panel().style_weight.slider.setValue(800)
    ws.panel().seed.setValue(5)
    run_to_end(qtbot, window)
    out = tmp_path / "result.png"
    assert window.export_result(str(out)) == out
    recipe = read_recipe(out)
    assert recipe is not None and recipe.engine == "stylize"
    assert recipe.params["seed"] == 5 and recipe.params["style_weight"] == ws.params().style_weight
    assert recipe.weights == "fake-net"
    assert [(i.role, Path(i.path).name) for i in recipe.inputs] == [("content", "content.png"), ("style", "style.png")]
    for ext in (".jpg", ".webp", ".tif"):
        assert window.export_result(str(tmp_path / f"result{ext}"), quality=80).stat().st_size > 0

    # overwriting asks first
    before = out.read_bytes()
    asked = []
    window.confirm = lambda title, text: asked.append(text) or False
    assert window.export_result(str(out)) is None and out.read_bytes() == before and "result.png" in asked[0]
    window.confirm = lambda title, text: True
    assert window.export_result(str(out)) == out
    assert not list(tmp_path.glob(".*.tmp"))  # atomic writes leave no temporary files
    assert recipe.extra["iterations"] == 20 and recipe.extra["device"] == "cpu"

    # change everything, then open the PNG: its settings come back
    ws.panel().seed.setValue(11)
    ws.panel().style_weight.slider.setValue(100)
    assert window.open_file(str(out))
    assert ws.params().seed == 5 and ws.params().style_weight == recipe.params["style_weight"]
    assert "recipe" in window.notice.label.text()
    assert ws.undo_stack.undoText() == "Settings from a recipe"


def test_a_recipe_with_settings_this_version_does_not_know_says_they_are_left_out(qtbot, window, tmp_path):
    from studio.image_save import save_image
    from studio.recipe import Recipe

    ws = window.workspace("style")
    params = {**ws.params().to_dict(), "seed": 4, "brush_dynamics": 0.5}  # a setting of a later studio, say
    out = save_image(tmp_path / "later.png", np.zeros((16, 16, 3)),
                     metadata=Recipe(engine="stylize", params=params, inputs=[], weights="").to_png_text())
    assert window.open_file(str(out))
    assert ws.params().seed == 4  # what it knows comes back
    assert "does not know (brush_dynamics); it is left out, so the result may differ." in window.notice.label.text()


def test_a_recipe_from_before_the_preconditioner_reopens_with_plain_lbfgs(qtbot, window):
    """Its run used plain L-BFGS; a recipe that says nothing of it must not re-run differently."""
    ws = window.workspace("style")
    assert ws.params().precondition is True
    old = {k: v for k, v in ws.params().to_dict().items() if k != "precondition"}
    assert ws.restore_recipe({**old, "seed": 9}, []) is not None
    assert ws.params().seed == 9 and ws.params().precondition is False
    assert ws.restore_recipe({**old, "precondition": True}, []) is not None
    assert ws.params().precondition is True


def test_a_recipe_with_regions_but_not_its_files_reopens_its_settings_and_says_so(qtbot, window):
    """Without its photo the regions cannot be placed: the settings come back, the regions' weights do not make
    the next run refuse to start, and the note says why the regions were not restored."""
    from studio.style_regions import encode_mask

    ws = window.workspace("style")
    entries = [{"name": "sky", "mask": encode_mask(np.ones((8, 8), np.float32)), "keep": True, "painting_mask": None}]
    note = ws.restore_recipe({**ws.params().to_dict(), "seed": 4, "region_weights": [1.5]}, [], regions=entries)
    assert note is not None and "1 region need its photo" in note
    assert ws.params().seed == 4 and ws.params().region_weights is None and not ws.state().regions
    from studio.engines.style.run import validate_params

    validate_params(ws.params(), 1)  # what the real engine checks before it starts: no regions, no weights


def test_copy_to_clipboard(qtbot, window):
    run_to_end(qtbot, window)
    window.act_copy.trigger()
    image = QGuiApplication.clipboard().image()
    assert image.width() == 64


@pytest.mark.parametrize("name", ["notes.png", "empty.jpg", "missing.png"])
def test_a_bad_file_dropped_names_it_and_changes_nothing(qtbot, window, image_dir, name):
    ws = window.workspace("style")
    state = ws.state()
    drop_files(ws.panel().content_slot, [image_dir / name])
    assert ws.state() is state
    assert window.notice.level == "error" and name in window.notice.label.text()
    drop_files(ws.panel().style_list, [image_dir / name])
    assert ws.state() is state
    assert not window.open_file(str(image_dir / name))
    assert ws.state() is state and ws.undo_stack.count() == 0


def test_dropping_good_files(qtbot, window, image_dir):
    ws = window.workspace("style")
    drop_files(ws.panel().style_list, [image_dir / "style2.png", image_dir / "transparent.png"])
    assert [Path(s.path).name for s in ws.state().styles] == ["style.png", "style2.png", "transparent.png"]
    drop_files(window.canvas, [image_dir / "style2.png"])
    assert Path(ws.state().content.path).name == "style2.png"
    assert str((image_dir / "style2.png").resolve()) in window.recent.paths()


def test_huge_images_are_downscaled_with_a_notice(qtbot, window, image_dir, monkeypatch):
    monkeypatch.setattr("studio.ui.main_window.MAX_WORKING_PIXELS", 30_000)
    ws = window.workspace("style")
    assert ws.set_content_path(str(image_dir / "big.png"))
    h, w = ws.state().content.rgb.shape[:2]
    assert h * w <= 30_000
    assert window.notice.level == "warning" and "downscaled" in window.notice.label.text()


def test_closing_during_a_run_stops_it_cleanly(qtbot, settings, image_dir, fake_engine):
    win = MainWindow(settings, load_demo=False)
    ws = win.workspace("style")
    ws.run_engine = fake_engine
    ws.set_content_path(str(image_dir / "content.png"))
    ws.add_style_paths([str(image_dir / "style.png")])
    ws.set_state(ws.state().__class__(ws.params().with_changes(iterations=100000, size=64),
                                      ws.state().content, ws.state().styles))
    win.show()
    win.run()
    qtbot.waitUntil(lambda: win.canvas.after() is not None, timeout=5000)
    thread = win.runner._thread
    t0 = time.perf_counter()
    assert win.close()
    assert time.perf_counter() - t0 < 2.0
    assert thread.isFinished() and fake_engine.controls[0].cancelled
    qtbot.wait(50)  # late queued signals must not crash anything


def test_preferences_from_a_machine_with_a_gpu_run_where_this_one_can(qtbot, window, fake_engine, monkeypatch):
    """A settings file that says cuda, opened on a machine without one (the laptop of a desktop's user): the
    status bar and the Preferences say so, and the jobs run on auto, instead of every job failing with advice
    about a command-line flag the app does not have."""
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    window.set_preferences(Preferences(device="cuda", weights="auto"))
    assert window.device_label.text() == "Device: cuda is not on this machine \u2192 cpu"
    assert window.prefs.device == "cuda" and window.prefs.run_device == "auto"  # kept for the machine it came from
    dialog = PreferencesDialog(window.prefs, window)
    qtbot.addWidget(dialog)
    assert dialog.device.currentData() == "cuda"
    assert dialog.device.currentText().endswith("(not on this machine: runs use auto)")
    job = run_to_end(qtbot, window)
    assert job.result is not None and not job.result.cancelled
    assert fake_engine.calls[0].device == "auto"
    # after the run: the device it used, and still that the chosen one is not here
    assert window.device_label.text() == "Device: CPU (fake, auto) (cuda is not on this machine)"


def test_a_run_on_another_tab_asks_before_it_stops_the_running_job(qtbot, window, fake_engine):
    """A training of an hour on the Translate tab was stopped without a word by a Run on the Latent tab: one job
    runs at a time, so the user is now asked first, and saying No leaves the running job alone. A Run on the
    running job's own tab restarts it without a question, as its button says."""
    from studio.ui.job_runner import JobSpec

    fake_engine.step_s = 0.05
    ws = window.workspace("style")
    ws.set_state(ws.state().__class__(ws.params().with_changes(iterations=400), ws.state().content,
                                      ws.state().styles))
    job = window.run()
    assert job is not None
    qtbot.waitUntil(lambda: job.last_progress is not None, timeout=5000)
    latent = window.workspace("latent")
    other = JobSpec("latent", "gan-train", lambda control: iter(()), ws.params(), None,
                    title="Train a generator")
    question = window.stopping_other_tab_question(other)
    assert question is not None and question.startswith(f"{job.spec.title or 'Style'} on the Style tab is running (")
    assert "of 400). Only one job runs at a time: Train a generator would stop it" in question
    same = JobSpec("style", "style", lambda control: iter(()), ws.params(), ws.state(), title="Style")
    assert window.stopping_other_tab_question(same) is None
    window.tabs.setCurrentIndex(list(window._workspaces).index("latent"))
    asked = []
    window.confirm_stopping_other_tab = lambda spec: asked.append(spec.title) or False
    latent.run_blocker = lambda: ""
    latent.make_job = lambda prefs: other
    assert window.run() is None
    assert asked == ["Train a generator"] and window.runner.current is job and not job.control.cancelled
    window.stop()
    qtbot.waitUntil(lambda: job.done, timeout=5000)


def test_a_job_stopped_past_a_hundred_steps_keeps_its_bar_and_its_tab_says_it_stopped(qtbot, window, fake_engine):
    """The bar of a job stopped at step 297 was set to a range of 100 with a value of 296: Qt reset it and the bar
    lost its text. And a job stopped by a Run on another tab left its own tab saying it was running."""
    from studio.engines.events import Finished as Fin
    from studio.ui.job_runner import JobSpec

    fake_engine.step_s = 0.002
    ws = window.workspace("style")
    ws.set_state(ws.state().__class__(ws.params().with_changes(iterations=5000, preview_every=1000),
                                      ws.state().content, ws.state().styles))
    job = window.run()
    qtbot.waitUntil(lambda: job.last_progress is not None and job.last_progress.iteration > 150, timeout=20000)

    def other(control):
        yield Fin(np.zeros((8, 8, 3), np.float32), False, 1, 0.01)

    latent = window.workspace("latent")
    with qtbot.waitSignal(window.runner.finished, timeout=10000, check_params_cb=lambda j, f: j is job):
        window.runner.start(JobSpec("latent", "test", other, ws.params(), latent.state(), title="Other"))
    wait_idle(qtbot, window)
    bar = window.desk("style").progress
    assert bar.value() > 100 and bar.maximum() == 5000
    assert bar.text() and bar.format().startswith("Stopped: ")  # its tab says the job stopped
    assert window.desk("style").canvas.caption().startswith("Result #1 \u00b7 Stopped after ")


def test_preferences_are_persisted_and_shown(qtbot, window, settings):
    window.set_preferences(Preferences(device="cpu", weights="vgg16-hed"))
    assert window.device_label.text().startswith("Device: cpu")
    assert window.weights_label.text() == "Feature network: vgg16-hed"
    again = QSettings(settings.fileName(), QSettings.Format.IniFormat)
    assert Preferences.load(again) == Preferences("cpu", "vgg16-hed")
    dialog = PreferencesDialog(window.prefs, window)
    qtbot.addWidget(dialog)
    assert dialog.device.currentData() == "cpu"
    assert dialog.weights.findData("vgg16-hed") >= 0 and dialog.weights.findData("vgg19-caffe") >= 0
    assert dialog.preferences() == Preferences("cpu", "vgg16-hed")
    run_to_end(qtbot, window)
    assert window.workspace("style").run_engine.calls[-1].device == "cpu"
    assert window.workspace("style").run_engine.calls[-1].weights == "vgg16-hed"


def test_open_dialogs_remember_folders_and_recent_files(qtbot, window, image_dir, monkeypatch):
    from studio.ui.settings import last_folder

    assert last_folder(window.settings, "content") == str(image_dir)
    menu_paths = window.recent.paths()
    assert menu_paths[0].endswith("style.png") and menu_paths[1].endswith("content.png")
    window.recent.rebuild()
    texts = [a.text() for a in window.recent.menu.actions()]
    assert any("style.png" in t for t in texts)
    seen = []
    monkeypatch.setattr(window, "open_file", lambda p: seen.append(p))
    window.recent.menu.actions()[1].trigger()
    assert seen == [menu_paths[1]]


def test_canvas_zoom_pan_and_compare(qtbot, window):
    run_to_end(qtbot, window)
    c = window.canvas
    assert c.is_fit()
    window.act_100.trigger()
    assert c.zoom() == 1.0 and not c.is_fit()
    window.act_zoom_in.trigger()
    assert c.zoom() == pytest.approx(1.25)
    window.act_zoom_out.trigger()
    window.act_zoom_out.trigger()
    assert c.zoom() == pytest.approx(0.8)
    r0 = c.image_rect()
    qtbot.mousePress(c, Qt.MouseButton.LeftButton, pos=QPoint(50, 50))
    qtbot.mouseMove(c, QPoint(80, 70))
    qtbot.mouseRelease(c, Qt.MouseButton.LeftButton, pos=QPoint(80, 70))
    assert c.image_rect().topLeft() - r0.topLeft() == QPointF(30, 20)
    window.act_fit.trigger()
    assert c.is_fit() and c.zoom() > 5  # a 64 px picture fills the canvas
    window.act_split.trigger()
    assert c.split_mode()
    r = c.image_rect()
    y = int(r.center().y())
    qtbot.mousePress(c, Qt.MouseButton.LeftButton, pos=QPoint(int(r.center().x()), y))
    qtbot.mouseMove(c, QPoint(int(r.left() + r.width() * 0.25), y))
    qtbot.mouseRelease(c, Qt.MouseButton.LeftButton, pos=QPoint(int(r.left() + r.width() * 0.25), y))
    assert c.split() == pytest.approx(0.25, abs=0.02)
    img = c.grab().toImage()
    left = img.pixelColor(int(r.left() + r.width() * 0.1), y)
    right = img.pixelColor(int(r.left() + r.width() * 0.6), y)
    assert left != right
    window.act_split.trigger()
    c.setFocus()
    qtbot.keyPress(c, Qt.Key.Key_B)
    assert c.holding_before() and c.shown_image() is c.before()
    qtbot.keyRelease(c, Qt.Key.Key_B)
    assert c.shown_image() is c.after()
    window.hold_button.pressed.emit()
    assert c.holding_before()
    window.hold_button.released.emit()
    assert not c.holding_before()


def test_canvas_wheel_zooms_around_the_cursor(qtbot, window):
    from PySide6.QtCore import QPoint as P
    from PySide6.QtGui import QWheelEvent

    c = window.canvas
    window.act_100.trigger()
    anchor = QPointF(c.width() / 2 + 10, c.height() / 2 + 5)
    r = c.image_rect()
    fx = (anchor.x() - r.left()) / r.width()
    ev = QWheelEvent(anchor, c.mapToGlobal(anchor), P(0, 0), P(0, 120), Qt.MouseButton.NoButton,
                     Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(c, ev)
    assert c.zoom() == pytest.approx(1.25)
    r2 = c.image_rect()
    assert (anchor.x() - r2.left()) / r2.width() == pytest.approx(fx, abs=1e-6)


def test_transparent_images_sit_on_a_checkerboard(qtbot):
    from studio.ui.canvas import ImageCanvas
    from studio.ui.qimage import to_qimage

    c = ImageCanvas()
    qtbot.addWidget(c)
    c.resize(200, 200)
    rgb = np.zeros((32, 32, 3), np.float32)
    alpha = np.zeros((32, 32), np.float32)
    c.set_after(to_qimage(rgb, alpha))
    c.actual_size()
    c.set_zoom(4.0)
    img = c.grab().toImage()
    r = c.image_rect()
    colours = {img.pixelColor(int(r.left() + dx), int(r.top() + 2)).name() for dx in range(2, 60, 3)}
    assert {"#cccccc", "#999999"} <= colours


def test_demo_pair_is_loaded_on_start(qtbot, settings):
    pytest.importorskip("studio.demo")
    win = MainWindow(settings, load_demo=True)
    qtbot.addWidget(win)
    ws = win.workspace("style")
    assert ws.state().content is not None and len(ws.state().styles) == 1
    assert win.act_run.isEnabled()
    assert ws.undo_stack.count() == 0
    assert win.canvas.before() is not None
    win.close()


def test_style_only_actions_are_hidden_in_other_tabs(qtbot, tmp_path):
    from studio.ui.main_window import MainWindow
    from studio.ui.settings import open_settings

    window = MainWindow(open_settings(str(tmp_path / "s.ini")), load_demo=False)
    qtbot.addWidget(window)
    names = [ws.name for ws in window.workspaces()]
    window.tabs.setCurrentIndex(names.index("style"))
    assert window.act_add_style.isVisible()
    for other in (n for n in names if n != "style"):
        window.tabs.setCurrentIndex(names.index(other))
        assert not window.act_add_style.isVisible(), other


def test_the_run_button_says_restart_while_a_run_goes_and_counts_read_right(qtbot, window, engine_factory):
    from studio.progress import plural

    ws = window.workspace("style")
    ws.run_engine = engine_factory(step_s=0.05)
    assert window.act_run.text().endswith("Run")
    window.run()
    qtbot.waitUntil(window.runner.is_running, timeout=5000)
    assert window.act_run.text().endswith("Restart") and "Stop this run" in window.act_run.toolTip()
    window.stop()
    qtbot.waitUntil(lambda: not window.runner.is_running(), timeout=10000)
    assert window.act_run.text().endswith("Run")
    assert (plural(1, "iteration"), plural(0, "iteration"), plural(3, "scale")) == (
        "1 iteration", "0 iterations", "3 scales")


def test_a_recipe_lists_the_files_it_reads_and_no_takes_only_its_settings(qtbot, window, tmp_path, image_dir,
                                                                         monkeypatch):
    ws = window.workspace("style")
    run_to_end(qtbot, window)
    out = tmp_path / "result.png"
    assert window.export_result(str(out)) == out
    asked = []
    monkeypatch.setattr(MainWindow, "confirm_recipe_reads", lambda self, name, reads: asked.append(reads) or False)
    assert ws.set_content_path(str(image_dir / "big.png"))
    ws.panel().seed.setValue(11)
    assert window.open_file(str(out))
    assert asked == [[f"content: {image_dir / 'content.png'}", f"style: {image_dir / 'style.png'}"]]
    assert ws.params().seed == 0  # the settings came back ...
    assert ws.state().content.path.name == "big.png"  # ... but none of the files it names was opened


def test_automatic_network_says_what_each_engine_loads(qtbot):
    from studio.ui.preferences import SourceChoice, auto_words

    both = [SourceChoice("vgg19-caffe", False, "", "fix"), SourceChoice("vgg16-lpips", True, "", ""),
            SourceChoice("vgg16-hed", True, "", "")]
    assert auto_words(both) == ("Uses the best feature network installed: vgg16-lpips for style runs, vgg16-hed "
                                "for harmonization (the network its settings were tuned on).")
    only_lpips = both[:2]
    assert "vgg16-lpips for style runs, vgg16-lpips for harmonization" in auto_words(only_lpips)
    assert "none is yet" in auto_words(both[:1])
    dialog = PreferencesDialog(Preferences(), None)
    qtbot.addWidget(dialog)
    assert dialog.weights_info.text().startswith("Uses the best feature network installed")


@pytest.fixture
def open_style_recipe(window, tmp_path, monkeypatch):
    """``open_style_recipe(made_on, **params)``: open a PNG whose style recipe (the tab's settings changed by
    ``params``, none of its files read) was made on the network ``made_on``; returns what the notes said."""
    from studio.image_save import save_image
    from studio.recipe import Recipe

    monkeypatch.setattr(MainWindow, "confirm_recipe_reads", lambda self, name, reads: False)
    said: list[str] = []
    monkeypatch.setattr(window, "notify", lambda text, level="info": said.append(text))
    ws = window.workspace("style")

    def open_it(made_on: str, **params) -> list[str]:
        png = tmp_path / "made.png"
        made = Recipe(engine="stylize", params={**ws.params().to_dict(), **params}, inputs=[], weights=made_on)
        save_image(png, np.zeros((8, 8, 3), np.float32), metadata=made.to_png_text())
        said.clear()
        assert window.open_file(str(png))
        return said

    return open_it


def test_a_recipe_made_on_another_network_reruns_on_it_and_says_so(qtbot, window, open_style_recipe, fake_engine):
    """A style recipe made with Automatic on VGG16-hed, opened where Automatic now loads the ImageNet VGG16: its
    runs keep VGG16-hed (a re-run gives the same picture, as on the command line), the note says so and where to
    change it, and 'As in Preferences' in the tab runs it on the Preferences' network again (undoable)."""
    from studio.weights import choose_source, get_source

    if not get_source("vgg16-hed").available or choose_source("auto").name == "vgg16-hed":
        pytest.skip("needs VGG16-hed installed and another network chosen by auto")
    ws = window.workspace("style")
    said = open_style_recipe("vgg16-hed", weights="auto", seed=7)
    assert ws.params().seed == 7 and ws.params().weights == "vgg16-hed"
    assert said and "It was made on the vgg16-hed network, which its runs here keep" in said[-1]
    assert f"'As in Preferences' runs it on Automatic, which loads {choose_source('auto').name}" in said[-1]
    panel = ws.panel()
    assert panel.network.currentData() == "vgg16-hed"
    run_to_end(qtbot, window)
    assert fake_engine.calls[-1].weights == "vgg16-hed"

    panel.network.setCurrentIndex(panel.network.findData("auto"))  # the person picks 'As in Preferences'
    assert ws.params().weights == "auto"
    run_to_end(qtbot, window)
    assert fake_engine.calls[-1].weights == window.prefs.weights == "auto"
    ws.undo_stack.undo()
    assert ws.params().weights == "vgg16-hed" and panel.network.currentData() == "vgg16-hed"

    # made on the network Automatic loads now: nothing to say, nothing kept
    said = open_style_recipe(choose_source("auto").name, weights="auto", seed=8)
    assert said and "made on the" not in said[-1]
    assert ws.params().weights == "auto"


def test_a_recipe_made_on_a_network_not_installed_here_runs_on_the_preferences(qtbot, window, open_style_recipe,
                                                                               fake_engine):
    from studio.weights import get_source

    if get_source("vgg19-caffe").available:
        pytest.skip("needs VGG-19 from Caffe absent")
    ws = window.workspace("style")
    for params_weights in ("auto", "vgg19-caffe"):  # made by Automatic, or named, on another machine
        said = open_style_recipe("vgg19-caffe", weights=params_weights)
        assert ws.params().weights == "auto"
        assert said and "It was made on the vgg19-caffe network, which is not installed here; runs use " \
            "Automatic" in said[-1]
        run_to_end(qtbot, window)
        assert fake_engine.calls[-1].weights == "auto"


def test_the_status_bar_names_the_network_the_current_tab_runs_on(window):
    """A picture that keeps its recipe's network shows it in the status bar while its tab is shown; the other
    tabs, and 'As in Preferences', show the Preferences' network."""
    ws = window.workspace("style")
    window.set_preferences(Preferences(device="cpu", weights="vgg16-lpips"))
    window.tabs.setCurrentIndex(list(window._workspaces).index("style"))
    prefs_text = "Feature network: vgg16-lpips"
    assert window.weights_label.text() == prefs_text
    ws.edit_params({"weights": "vgg16-hed"}, "Network")  # what opening a VGG16-hed recipe does
    assert window.weights_label.text() == "Feature network: vgg16-hed (this picture's)"
    window.tabs.setCurrentIndex(list(window._workspaces).index("harmonize"))
    assert window.weights_label.text() == prefs_text
    window.tabs.setCurrentIndex(list(window._workspaces).index("style"))
    assert window.weights_label.text() == "Feature network: vgg16-hed (this picture's)"
    ws.undo_stack.undo()
    assert window.weights_label.text() == prefs_text


def test_the_status_bar_says_what_automatic_loads_for_each_tab_and_nothing_where_no_network_runs(window,
                                                                                                monkeypatch):
    """Automatic loads the style network for style runs and VGG16-hed first for harmonization: the status bar
    names the one the current tab's runs get, not "auto"; a harmonization mode without a network, and a tab
    whose runs use none, show no network."""
    import studio.weights as weights

    def auto(first=None):
        return first or "vgg16-lpips"

    monkeypatch.setattr(weights, "auto_network_name", auto)
    window.set_preferences(Preferences(device="cpu", weights="auto"))
    tabs = list(window._workspaces)
    window.tabs.setCurrentIndex(tabs.index("style"))
    assert window.weights_label.text() == "Feature network: vgg16-lpips (automatic)"
    assert not window.weights_label.isHidden()
    window.tabs.setCurrentIndex(tabs.index("harmonize"))
    assert window.weights_label.text() == "Feature network: vgg16-hed (automatic)"
    harm = window.workspace("harmonize")
    harm.edit_params({"mode": "poisson"}, "Mode")
    assert window.weights_label.isHidden()
    harm.undo_stack.undo()
    assert not window.weights_label.isHidden()
    if "translate" in tabs:
        window.tabs.setCurrentIndex(tabs.index("translate"))
        assert window.weights_label.isHidden()
    monkeypatch.setattr(weights, "auto_network_name", lambda first=None: None)
    window.tabs.setCurrentIndex(tabs.index("style"))
    assert window.weights_label.text() == "Feature network: automatic (none installed)"


def test_the_style_tab_lists_a_network_installed_while_it_is_open(window, monkeypatch):
    """A network downloaded during a session (the download sets the Preferences) appears in the Style tab's
    Network list at once; the choice shown stays, and relisting is no edit."""
    from dataclasses import replace

    import studio.ui.style.panel as panel_module
    from studio.weights import WeightSource, list_sources

    ws = window.workspace("style")
    panel = ws.panel()
    assert panel.network.findData("vgg16-new") < 0
    edits = ws.undo_stack.count()
    extra = WeightSource("vgg16-new", "vgg16", "imagenet", True, "a network downloaded just now", "")
    monkeypatch.setattr(panel_module, "list_sources", lambda: [*list_sources(), extra])
    window.set_preferences(replace(window.prefs, weights="vgg16-new"))
    assert panel.network.findData("vgg16-new") >= 0
    assert panel.network.currentData() == "auto" and ws.params().weights == "auto"
    assert ws.undo_stack.count() == edits


def test_a_settings_file_anyone_edited_never_hangs_or_stops_the_app(tmp_path):
    import os

    from studio.ui.settings import MAX_SETTINGS_BYTES, get_int, get_list, open_settings

    fifo = tmp_path / "fifo.ini"
    os.mkfifo(fifo)  # Qt reads the whole file as it opens it: this one would block forever
    big = tmp_path / "big.ini"
    big.write_text("[a]\nb=" + "x" * MAX_SETTINGS_BYTES + "\n")
    for path in (fifo, big):
        settings = open_settings(path)
        assert settings.allKeys() == [] and (tmp_path / f"{path.name}.unreadable").exists()
    ini = tmp_path / "edited.ini"
    ini.write_text("[recent]\nfiles=@Point(1 2)\n[export]\nquality=99999999999999999999\nq2=-5\nq3=80\n"
                   "[many]\nitems=" + ", ".join(f"f{i}" for i in range(500)) + "\n")
    settings = open_settings(ini)
    assert get_list(settings, "recent/files") == []  # a point is not a list of paths
    assert get_int(settings, "export/quality", 95, 1, 100) == 95 and get_int(settings, "export/q2", 95, 1, 100) == 95
    assert get_int(settings, "export/q3", 95, 1, 100) == 80
    assert len(get_list(settings, "many/items")) == 100


def test_a_recipe_with_damaged_regions_opens_as_a_picture_with_a_word(qtbot, window, tmp_path, image_dir):
    import json

    from PIL import Image
    from PIL.PngImagePlugin import PngInfo

    from studio.recipe import RECIPE_KEY

    window.confirm_recipe_reads = lambda name, reads: True
    ws = window.workspace("style")
    inputs = [{"role": "content", "path": str(image_dir / "content.png"), "sha256": ""},
              {"role": "style", "path": str(image_dir / "style.png"), "sha256": ""},
              {"role": "region 1 painting", "path": str(image_dir / "style2.png"), "sha256": ""}]
    from studio.style_regions import encode_mask

    flat = encode_mask(np.ones((16, 64), np.float32))  # the photo is 64x48: this mask would be stretched
    for name, regions, words in (("strings", ["sky"], "region 1 is damaged"),  # was an AttributeError
                                 ("many", [{"keep": True, "mask": ""}] * 300, "at most 16"),
                                 ("keep_text", [{"keep": "false", "mask": ""}], "region 1 is damaged"),
                                 ("aspect", [{"keep": True, "mask": flat, "name": "sky"}],
                                  "the mask of sky is 64x16, which is not the shape of the photo (64x48)"),
                                 ("painting_mask", [{"keep": False, "mask": encode_mask(np.ones((48, 64), np.float32)),
                                                     "name": "sky", "painting_mask": flat}],
                                  "the painting masks of sky (made on the command line, which uses them) are not "
                                  "used here")):
        info = PngInfo()
        info.add_text(RECIPE_KEY, json.dumps({"format": "studio-recipe", "format_version": 1, "engine": "stylize",
                                              "params": {"seed": 3}, "inputs": inputs, "regions": regions,
                                              "weights": "", "studio_version": "0", "created": "x"}), zip=True)
        path = tmp_path / f"{name}.png"
        Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(path, pnginfo=info)
        assert window.open_file(str(path))
        assert words in window.notice.label.text().lower(), window.notice.label.text()
        assert ws.state().regions == () or name == "painting_mask"
    info = PngInfo()
    info.add_text(RECIPE_KEY, "{not json")
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "cut.png", pnginfo=info)
    assert window.open_file(str(tmp_path / "cut.png"))  # a damaged recipe: the picture opens, and that is said
    assert "its recipe could not be used" in window.notice.label.text() and window.notice.level == "warning"


def test_an_unchanged_file_opened_again_is_the_image_already_in_memory(window, tmp_path):
    """Each re-open of a painting kept its own float copy, in memory and in the kept session: 21 MB a time for a
    1200x1528 painting, half the session folder duplicates after an afternoon (found by the soak session)."""
    import os

    from PIL import Image

    path = tmp_path / "painting.png"
    Image.fromarray(np.zeros((30, 40, 3), np.uint8)).save(path)
    first = window.load_image(str(path), "style")
    again = window.load_image(str(path), "style")
    assert first is not None and again is first  # one array for both, so the session keeps it once
    Image.fromarray(np.full((30, 40, 3), 255, np.uint8)).save(path)  # the file changed: read it again
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    changed = window.load_image(str(path), "style")
    assert changed is not first and changed.rgb.mean() == 1.0
