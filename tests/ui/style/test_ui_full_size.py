"""Render at full size in the app: from a style result, one final scale at a larger size, its time told first."""

from __future__ import annotations

import numpy as np

from studio.engines.style.params import StyleParams
from studio.ui.style.full_size_dialog import FullSizeDialog, duration_words
from tests.ui.conftest import run_job


def test_a_result_renders_at_full_size_from_its_own_picture(qtbot, window, fake_engine, tmp_path):
    assert not window.act_full_size.isEnabled()  # nothing to render yet
    run_job(qtbot, window)
    preview = window.current_result()
    assert window.act_full_size.isVisible() and window.act_full_size.isEnabled()
    with qtbot.waitSignal(window.runner.finished, timeout=10000):
        assert window.render_full_size(256) is not None
    qtbot.waitUntil(lambda: not window.runner.is_running(), timeout=10000)
    assert fake_engine.starts[0] is None and np.array_equal(fake_engine.starts[1], preview.extra["stylised"])
    assert fake_engine.calls[1].size == 256 and fake_engine.calls[1].iterations == preview.spec.params.iterations
    full = window.current_result()
    assert full is not preview and max(full.image.shape[:2]) == 256
    assert full.spec.state.params.size == 256  # its recipe says the size it was rendered at
    assert window.workspace("style").params().size == 64  # the panel keeps the preview size for the next Run
    from studio.recipe import read_recipe

    out = window.export_result(str(tmp_path / "full.png"))
    assert read_recipe(out).extra["full_size_from"] == [64, 48]  # the recipe says it refined a preview


def test_restart_during_a_full_size_render_renders_again(qtbot, window, fake_engine):
    """Restart (Run while it runs) stopped the render and started an ordinary run from the photo at the preview's
    size (found by the artist session)."""
    run_job(qtbot, window)
    preview = window.current_result()
    fake_engine.step_s = 0.05
    first = window.render_full_size(256)
    assert first is not None and window.runner.is_running()
    window.workspace("style").panel().style_weight.slider.setValue(700)  # a change while it runs
    again = window.run()
    assert again is not None and again.spec.title == "Full size 256 px"
    qtbot.waitUntil(lambda: not window.runner.is_running(), timeout=20000)
    assert fake_engine.calls[-1].size == 256 and np.array_equal(fake_engine.starts[-1], preview.extra["stylised"])
    assert fake_engine.calls[-1].style_weight == window.workspace("style").params().style_weight  # the change kept
    assert window.current_result().spec.title == "Full size 256 px"


def test_the_dialog_tells_the_size_and_time_before_it_starts(qtbot, window):
    run_job(qtbot, window)
    ws, entry = window.workspace("style"), window.current_result()
    highest = ws.full_size_highest(entry)
    h, w = entry.spec.state.content.rgb.shape[:2]
    assert highest * highest * min(h, w) / max(h, w) <= StyleParams.most_pixels()  # fits this machine's memory
    dialog = FullSizeDialog(64, 20, lambda side: ws.full_size_estimate(entry, side), highest, window)
    qtbot.addWidget(dialog)
    hw, seconds = ws.full_size_estimate(entry, 2048)
    assert max(hw) == 2048 and seconds is not None and seconds > 0
    assert dialog.side.maximum() == highest and dialog.side.value() == min(2048, highest)
    dialog.side.setValue(2048)
    text = dialog.estimate_label.text()
    hw = ws.full_size_estimate(entry, dialog.side.value())[0]
    assert f"{hw[1]} \u00d7 {hw[0]} px" in text and "about" in text and "on this machine" in text
    dialog.side.setValue(1024)
    assert ws.full_size_estimate(entry, 1024)[1] < seconds / 3.5  # a quarter of the pixels
    assert dialog.side.minimum() == 65  # only larger than the preview


def test_a_faded_result_restored_without_its_unfaded_picture_is_unfaded(qtbot, window):
    run_job(qtbot, window)
    ws = window.workspace("style")
    entry = window.current_result()
    stylised = entry.extra.pop("stylised")  # as a result kept from the last session may be
    photo = entry.spec.state.content.rgb
    from studio.engines.style.fade import fade_to_photo

    entry.image = fade_to_photo(stylised, photo, 0.5)
    entry.spec.state.params.__dict__["strength"] = 0.5  # the frozen params of a faded run
    start = ws.full_size_start(entry)
    assert np.abs(start - stylised).max() < 1e-4


def test_durations_read_as_a_person_says_them():
    assert [duration_words(s) for s in (0.2, 40, 89, 700, 3600, 3900)] == \
        ["1 s", "40 s", "89 s", "12 min", "1 h 00 min", "1 h 05 min"]


def test_a_result_already_as_large_as_this_machine_fits_is_said_not_offered(qtbot, window, monkeypatch):
    run_job(qtbot, window)
    monkeypatch.setattr(StyleParams, "most_pixels", classmethod(lambda cls: 64 * 48))
    said = []
    monkeypatch.setattr(window, "notify", lambda text, level="info": said.append(text))
    window.ask_full_size()  # no dialog: nothing larger fits
    assert said and "already 64 px" in said[0] and "fits at most 64 px" in said[0]
    assert not window.runner.is_running()


def test_the_estimate_asks_the_device_the_preview_ran_on(qtbot, window, monkeypatch):
    """The run's device is the Preferences' (in the job's parameters; the picture's own settings say auto): on a
    machine whose GPU is small and whose Preferences say cpu, the render does not tile on the CPU's memory."""
    from studio.engines.style import tiles
    from studio.ui import preferences

    run_job(qtbot, window)
    ws, entry = window.workspace("style"), window.current_result()
    assert entry.spec.params.device == "auto" and entry.spec.state.params.device == "auto"
    asked = []
    monkeypatch.setattr(preferences, "resolved_device", lambda name: asked.append(name) or "cpu")
    monkeypatch.setattr(tiles, "free_memory", lambda device: 24 * 1024**3)
    entry.spec = entry.spec.__class__(**{**entry.spec.__dict__, "params": entry.spec.params.with_changes(device="cpu")})
    ws.full_size_estimate(entry, 1024)
    assert asked == ["cpu"]


def test_the_dialog_offers_the_photos_own_size_first(qtbot, window, monkeypatch):
    """An artist reads "full size" as the photo's size: a 600 px photo's 256 px result was offered 2048 px first
    (about 18 minutes of upscaling here)."""
    from studio.ui.style.full_size_dialog import first_side

    assert first_side(256, 600, 9000) == 600  # the photo's own size
    assert first_side(512, 4000, 9000) == 2048  # a camera's photo: a 2048 px print unless asked for more
    assert first_side(512, 512, 9000) == 1024  # a photo no larger than the result: twice the result
    assert first_side(256, 600, 500) == 500  # at most what fits
    dialog = FullSizeDialog(256, 20, lambda side: ((side * 2 // 3, side), 1.0), 9000, window, photo_size=(600, 400))
    qtbot.addWidget(dialog)
    assert dialog.side.value() == 600 and "Larger than the photo" not in dialog.estimate_label.text()
    dialog.side.setValue(1200)
    assert "Larger than the photo" in dialog.estimate_label.text()
    # the window gives the dialog the photo the result was made from
    run_job(qtbot, window)
    h, w = window.current_result().spec.state.content.rgb.shape[:2]
    seen = []
    monkeypatch.setattr(FullSizeDialog, "exec", lambda self: seen.append(
        (self.side.value(), self._photo)) or FullSizeDialog.DialogCode.Rejected)
    window.ask_full_size()
    assert seen == [(first_side(64, max(h, w), window.workspace("style").full_size_highest(window.current_result())),
                     (w, h))]
