"""The Translate workspace in the main window: translating with a (tiny, real) generator, instant re-blending
of strength and selection from the cached translation, export with a recipe, models not yet downloaded,
import, and a short training job with previews."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from PySide6.QtCore import QPoint, Qt

from studio.engines.cyclegan.infer import blend
from studio.engines.cyclegan.models import ResnetGenerator
from studio.recipe import read_recipe
from studio.selection import Selection
from studio.ui.main_window import MainWindow
from studio.ui.style.workspace import StyleWorkspace
from studio.ui.translate.workspace import TrainSetup, TranslateWorkspace
from tests.conftest import two_training_folders


@pytest.fixture(autouse=True)
def tiny_models(tmp_path, monkeypatch):
    torch.manual_seed(0)
    default = tmp_path / "default.pth"
    torch.save(ResnetGenerator(ngf=4, n_blocks=1).state_dict(), default)
    monkeypatch.setenv("STUDIO_DEFAULT_TRANSLATOR", str(default))
    monkeypatch.setenv("STUDIO_CYCLEGAN_DIR", str(tmp_path / "translators"))
    from studio import cyclegan_catalogue

    monkeypatch.setattr(cyclegan_catalogue, "network_available", lambda *a, **k: False)


@pytest.fixture
def photo(tmp_path) -> Path:
    y, x = np.mgrid[0:48, 0:64].astype(np.float32)
    img = np.stack([x / 64, y / 48, 0.4 + 0.2 * np.sin(x / 5)], 2)
    Image.fromarray((img * 255).astype(np.uint8)).save(tmp_path / "photo.png")
    return tmp_path / "photo.png"


@pytest.fixture
def win(qtbot, settings, photo):
    w = MainWindow(settings, workspaces=(StyleWorkspace, TranslateWorkspace), load_demo=False)
    qtbot.addWidget(w)
    w.tabs.setCurrentIndex(1)
    ws = w.workspace("translate")
    img = w.load_image(str(photo), "content")
    ws.open_image(img)
    return w


def _run(qtbot, w):
    job = w.run()
    assert job is not None
    qtbot.waitUntil(lambda: job.done, timeout=30000)
    qtbot.wait(50)
    return job


def test_translate_then_reblend_strength_without_running_again(qtbot, win):
    ws = win.workspace("translate")
    assert ws.run_blocker() is None
    _run(qtbot, win)
    entry = win.current_result()
    assert entry is not None and entry.image.shape == (48, 64, 3) and entry.spec.engine == "translate"
    translation = ws.cached_translation()
    assert translation is not None
    assert win.canvas.caption().endswith("Finished after 1 tile")  # a translation has tiles, not iterations
    # Run again with nothing changed: the shown result is that run's picture already, so no copy joins the history
    runs = win.history.count()
    assert win.run() is None and win.history.count() == runs and not win.runner.is_running()
    assert "made from these very settings" in win.notice.label.text()
    orig = ws.state().image.rgb
    assert np.allclose(entry.image, translation, atol=1e-5)  # strength 100 %
    runs = win.history.count()
    ws._panel.strength.setValue(30)  # as the user drags the slider
    assert ws.state().params.strength == pytest.approx(0.3)
    assert not win.runner.is_running()
    assert np.allclose(win.current_result().image, blend(orig, translation, 0.3), atol=1e-5)
    assert win.history.count() == runs  # no new run: the cached translation was re-blended
    out = win.export_result(str(Path(ws.state().image.path).with_name("exported.png")))
    recipe = read_recipe(out)
    assert recipe is not None and recipe.engine == "translate" and recipe.params["strength"] == pytest.approx(0.3)
    # undo brings the strength back, and the picture with it
    ws.undo_stack.undo()
    assert np.allclose(win.current_result().image, translation, atol=1e-5)


def test_selection_limits_the_translation(qtbot, win):
    ws = win.workspace("translate")
    ws.set_selection(Selection("rect", 0, 0, 32, 48), "rect")
    ws.edit(replace(ws.state(), feather=0.0), "no feather")
    assert ws.run_blocker() is None
    _run(qtbot, win)
    res, orig = win.current_result().image, ws.state().image.rgb
    assert np.allclose(res[:, 34:], orig[:, 34:], atol=1e-5)
    assert np.abs(res[:, :30] - orig[:, :30]).mean() > 0.02
    # a drawn ellipse (mouse drag on the canvas) replaces the selection and re-blends at once
    win.resize(1000, 700)
    win.show()
    qtbot.waitExposed(win)
    ws._panel.selection_combo.setCurrentIndex(ws._panel.selection_combo.findData("ellipse"))
    c = win.canvas
    r = c.image_rect()
    p0 = QPoint(int(r.left() + r.width() * 0.5), int(r.top() + 2))
    p1 = QPoint(int(r.right() - 2), int(r.bottom() - 2))
    qtbot.mousePress(c, Qt.MouseButton.LeftButton, pos=p0)
    qtbot.mouseMove(c, p1)
    qtbot.mouseRelease(c, Qt.MouseButton.LeftButton, pos=p1)
    sel = ws.state().selection
    assert sel is not None and ws.state().selection_mode == "ellipse" and sel.box()[0] > 25
    res = win.current_result().image
    assert np.allclose(res[:, :20], orig[:, :20], atol=1e-5)  # the left part is outside the ellipse now
    # undoing the ellipse back to a rectangle mode without one leaves the picture: it showed the whole photo
    # translated while Run said to drag a selection (found by the artist session)
    ws.edit(replace(ws.state(), selection=None), "Selection")
    assert "Drag on the picture" in ws.run_blocker()
    assert np.array_equal(win.current_result().image, res)


def test_training_mode_shows_no_photo_selection_and_takes_no_drawing(qtbot, win):
    """The photo's ellipse was drawn over the training's sample grids at the photo's scale, a drag there replaced
    the translation's selection in grid pixels, and Apply showed the grid as its result (the artist session)."""
    ws = win.workspace("translate")
    ws.set_selection(Selection("ellipse", 8, 8, 40, 40), "ellipse")
    _run(qtbot, win)
    translation = win.current_result()
    assert ws.canvas_tool().shape == "ellipse" and win.canvas.before() is not None
    ws.edit(replace(ws.state(), mode="train"), "Mode")
    assert ws.canvas_tool().shape is None and ws.canvas_tool().selection is None
    assert win.canvas.before() is None and win.current_result() is None and "Training" in win.canvas.caption()
    assert "Drop a photo" not in win.desk("translate").canvas.placeholder()
    win.resize(800, 600)
    win.show()
    qtbot.waitExposed(win)
    at = win.canvas.rect().center()
    qtbot.mousePress(win.canvas, Qt.MouseButton.LeftButton, pos=at)
    qtbot.mouseMove(win.canvas, at + QPoint(40, 30))
    qtbot.mouseRelease(win.canvas, Qt.MouseButton.LeftButton, pos=at + QPoint(40, 30))
    assert ws.state().selection == Selection("ellipse", 8, 8, 40, 40)  # untouched
    ws.edit(replace(ws.state(), mode="translate"), "Mode")  # back: the photo and its translation again
    assert win.current_result() is translation and win.canvas.before() is not None


def test_models_not_downloaded_and_import(qtbot, win, tmp_path):
    ws = win.workspace("translate")
    ws.edit(replace(ws.state(), model="style_monet"), "model")
    assert "not downloaded" in ws.run_blocker()
    assert ws.download("style_monet") is False
    assert "cannot be reached" in win.notice.label.text() and "Import .pth" in win.notice.label.text()
    assert "studio translators" not in win.notice.label.text()  # the app's button, not the command line
    f = tmp_path / "mine.pth"
    torch.save(ResnetGenerator(ngf=4, n_blocks=2).state_dict(), f)
    assert ws.import_model(str(f)) == "mine"
    assert ws.state().model == "mine" and ws.run_blocker() is None
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"nope")
    assert ws.import_model(str(bad)) is None
    assert "bad.pth" in win.notice.label.text()


def test_training_job_shows_previews_and_adds_the_model(qtbot, win, tmp_path):
    two_training_folders(tmp_path)
    ws = win.workspace("translate")
    ws.edit(replace(ws.state(), mode="train", train=TrainSetup(str(tmp_path / "A"), str(tmp_path / "B"), "reds",
                                                               minutes=0.04, crop_size=32, ngf=4, n_blocks=1)),
            "train")
    assert ws.run_blocker() is None
    previews = []
    win.runner.progress.connect(lambda job, p: previews.append(p.preview) if p.preview is not None else None)
    _run(qtbot, win)
    assert previews and previews[0].shape[0] == 2 * 32 + 2
    assert win.current_result() is not None
    names = [ws._panel.model_combo.itemData(i) for i in range(ws._panel.model_combo.count())]
    assert "reds" in names


def test_the_same_folder_as_a_and_b_is_refused_in_a_sentence(qtbot, win, tmp_path):
    """It trained on "4 images in A, 4 in B" from one folder without a word (found by the artist session)."""
    two_training_folders(tmp_path)
    ws = win.workspace("translate")
    ws.edit(replace(ws.state(), mode="train", train=TrainSetup(str(tmp_path / "A"), str(tmp_path / "A" / "."),
                                                               "reds", minutes=0.04)), "train")
    assert "Folders A and B are both 'A'" in ws.run_blocker() and not win.act_run.isEnabled()


def test_a_name_being_typed_counts_when_ctrl_r_runs(qtbot, win, tmp_path):
    """Typing a new name and pressing Ctrl+R (or the Run button, which takes no focus) trained on under the old
    name, resuming its saved run, while the field showed the new one (found by the artist session)."""
    two_training_folders(tmp_path)
    ws = win.workspace("translate")
    ws.edit(replace(ws.state(), mode="train", train=TrainSetup(str(tmp_path / "A"), str(tmp_path / "B"), "reds",
                                                               minutes=0.04, crop_size=32, ngf=4, n_blocks=1)),
            "train")
    win.show()
    qtbot.waitExposed(win)
    win.activateWindow()
    field = ws._panel.train_name
    field.setFocus()
    qtbot.waitUntil(field.hasFocus)
    field.selectAll()
    qtbot.keyClicks(field, "fresh")
    assert ws.state().train.name == "reds"  # not yet: the field has not given it up
    qtbot.keyClick(field, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)  # the shortcut, typed in the field
    qtbot.waitUntil(lambda: not win.runner.is_running(), timeout=30000)
    assert ws.state().train.name == "fresh"
    assert win.current_result() is not None and win.current_result().spec.title == "Train fresh"


def test_a_training_name_that_would_leave_the_translators_folder_is_refused_in_a_sentence(qtbot, win, tmp_path):
    """The Name field was a path: "../../../outside" trained into a folder outside studio's."""
    two_training_folders(tmp_path)
    ws = win.workspace("translate")
    ws.edit(replace(ws.state(), mode="train", train=TrainSetup(str(tmp_path / "A"), str(tmp_path / "B"),
                                                               "../../../outside", minutes=0.04, crop_size=32,
                                                               ngf=4, n_blocks=1)), "train")
    notes = []
    win.notify = lambda text, level="info": notes.append(text)
    assert win.run() is None
    assert notes and "is not a usable translator name" in notes[-1]
    assert not win.runner.is_running()


def test_run_after_a_stopped_training_continues_it_instead_of_saying_nothing_to_run(qtbot, win, tmp_path):
    """"Result #1 was made from these very settings: nothing to run again" answered Run after a Stop, under a note
    saying Run continues the saved run: a training is not decided by its settings alone (its checkpoint moved on).
    The note appears as soon as the first session saved the run."""
    two_training_folders(tmp_path)
    ws = win.workspace("translate")
    ws.edit(replace(ws.state(), mode="train", train=TrainSetup(str(tmp_path / "A"), str(tmp_path / "B"), "again",
                                                               minutes=0.02, crop_size=32, ngf=4, n_blocks=1)),
            "train")
    assert not ws.rerun_repeats
    assert not ws._panel.train_note.text()
    _run(qtbot, win)
    assert "A run named again is saved" in ws._panel.train_note.text()  # without editing a field first
    with qtbot.waitSignal(win.runner.finished, timeout=60000):
        assert win.run() is not None  # the same settings: Run goes on training the saved run
    ws.edit(replace(ws.state(), mode="apply"), "mode")
    assert ws.rerun_repeats  # a translation from the very same settings is there already


def test_screenshot(qtbot, win):
    folder = os.environ.get("STUDIO_SCREENSHOT_DIR")
    win.resize(1400, 900)
    win.show()
    qtbot.waitExposed(win)
    ws = win.workspace("translate")
    ws.set_selection(Selection("ellipse", 8, 4, 56, 44), "ellipse")
    _run(qtbot, win)
    ws._panel.strength.setValue(80)
    qtbot.wait(100)
    if folder:
        assert win.grab().save(str(Path(folder) / "translate_workspace.png"))


def test_a_download_runs_as_a_background_job_with_progress_and_stop(qtbot, win, monkeypatch):
    import threading

    from studio import cyclegan_catalogue as catalogue

    ws = win.workspace("translate")
    win.tabs.setCurrentIndex(list(win._workspaces).index("translate"))
    gate = threading.Event()
    calls = []

    def fake_download(name, progress=None, **kw):
        calls.append(name)
        total = 10 * 65536
        for i in range(1, 11):
            progress(i * 65536, total)
            if i == 3:
                gate.wait(10)  # the UI thread goes on meanwhile
        return catalogue.translators_dir() / f"{name}.pth"

    monkeypatch.setattr(catalogue, "network_available", lambda timeout=2.0: True)
    monkeypatch.setattr(catalogue, "download", fake_download)
    assert ws.download("style_monet")
    qtbot.waitUntil(lambda: "Downloading:" in win.progress.text(), timeout=5000)
    assert win.runner.is_running() and win.act_stop.isEnabled()
    assert "of 640 KB" in win.progress.text()
    win.stop()
    gate.set()
    qtbot.waitUntil(lambda: not win.runner.is_running(), timeout=5000)
    assert win.progress.text().startswith("Stopped: Download style_monet")
    assert ws.state().model != "style_monet" and win.history.entries() == []
    gate.set()
    assert ws.download("style_monet")
    qtbot.waitUntil(lambda: not win.runner.is_running(), timeout=5000)
    assert win.progress.text().startswith("Done: Download style_monet")
    assert ws.state().model == "style_monet" and win.history.entries() == []  # a download is no result


def test_a_stopped_training_speaks_of_iterations_and_a_saved_run_says_run_continues_it(qtbot, win, tmp_path):
    two_training_folders(tmp_path)
    ws = win.workspace("translate")
    setup = TrainSetup(str(tmp_path / "A"), str(tmp_path / "B"), "reds", minutes=5, crop_size=32, ngf=8, n_blocks=6)
    ws.edit(replace(ws.state(), mode="train", train=setup), "train")
    assert not ws._panel.train_note.text()  # nothing saved under the name: Run starts a new run
    steps = []
    win.runner.progress.connect(lambda job, p: (steps.append(p.iteration), win.stop() if len(steps) == 3 else None))
    _run(qtbot, win)
    caption = win.desk("translate").canvas.caption()
    assert "Stopped after" in caption and "iteration" in caption and "tile" not in caption, caption
    # the run is saved: the form says Run continues it, and which of its sizes the form's differ from
    ws.edit(replace(ws.state(), train=replace(setup, ngf=16)), "train")
    note = ws._panel.train_note.text()
    assert "continues it" in note and "Width 8 (not 16)" in note, note
    assert ws._panel.train_note.isVisibleTo(ws._panel)
    infos = []
    win.runner.info.connect(lambda job, text: infos.append(text))
    steps.clear()
    _run(qtbot, win)
    assert any("continuing reds with its own network sizes: Width 8 (not 16)" in t for t in infos), infos
    assert any("resuming" in t for t in infos), infos
