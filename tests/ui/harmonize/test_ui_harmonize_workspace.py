"""The Harmonize workspace in the main window: painting and object, placement controls and canvas drags
producing the expected composite, masks, undo, the mask editor, and the job it starts (fake engine)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication

from studio.compositing import Stroke, Transform
from studio.engines.events import Event, Finished, Info, JobControl, Progress
from studio.engines.harmonize.params import HarmonizeParams
from studio.recipe import read_recipe
from studio.ui.harmonize.workspace import HarmonizeWorkspace
from studio.ui.main_window import MainWindow
from studio.ui.qimage import from_qimage
from studio.ui.style.workspace import StyleWorkspace

PW, PH = 120, 80  # painting
OW, OH = 10, 6  # the object's opaque part


def painting_rgb() -> np.ndarray:
    y, x = np.mgrid[0:PH, 0:PW].astype(np.float32)
    return np.stack([x / PW, y / PH, np.full_like(x, 0.3)], axis=2)


def object_rgba() -> np.ndarray:
    """A 14x10 PNG: a 10x6 opaque block of distinct colours in a 2 px transparent margin."""
    rgba = np.zeros((OH + 4, OW + 4, 4), np.uint8)
    y, x = np.mgrid[0:OH, 0:OW]
    rgba[2:-2, 2:-2, 0] = 40 + 20 * x
    rgba[2:-2, 2:-2, 1] = 30 + 35 * y
    rgba[2:-2, 2:-2, 2] = 230
    rgba[2:-2, 2:-2, 3] = 255
    return rgba


def u8(a: np.ndarray) -> np.ndarray:
    return np.clip(a * 255.0 + 0.5, 0, 255).astype(np.uint8)


def expected_composite(obj: np.ndarray, top: int, left: int) -> np.ndarray:
    out = u8(painting_rgb())
    out[top:top + obj.shape[0], left:left + obj.shape[1]] = obj
    return out


def opaque_block() -> np.ndarray:
    return object_rgba()[2:-2, 2:-2, :3]


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("harmonize-images")
    paths = {"painting": folder / "painting.png", "object": folder / "object.png", "photo": folder / "photo.png",
             "mask": folder / "photo-mask.png", "bad_mask": folder / "small-mask.png"}
    Image.fromarray(u8(painting_rgb())).save(paths["painting"])
    Image.fromarray(object_rgba(), "RGBA").save(paths["object"])
    rng = np.random.default_rng(3)
    yy, xx = np.mgrid[0:64, 0:64]
    disc = (xx - 32) ** 2 + (yy - 32) ** 2 <= 16**2
    photo = np.empty((64, 64, 3), np.float32)
    photo[:] = np.array([0.1, 0.55, 0.2]) + rng.normal(0, 0.03, (64, 64, 3))
    photo[disc] = np.array([0.9, 0.2, 0.15]) + rng.normal(0, 0.03, (int(disc.sum()), 3))
    photo[12:18, 12:18] = np.array([0.9, 0.2, 0.15])  # a red speck GrabCut takes for the object
    Image.fromarray(u8(np.clip(photo, 0, 1))).save(paths["photo"])
    Image.fromarray((disc * 255).astype(np.uint8)).save(paths["mask"])
    Image.fromarray(np.zeros((30, 40), np.uint8)).save(paths["bad_mask"])
    return paths


class FakeHarmonize:
    """Stands in for run_harmonize: records its inputs, yields a few progress events, returns a tinted image."""

    def __init__(self, steps: int = 4) -> None:
        self.steps = steps
        self.calls: list[dict] = []
        self.extra: dict = {}  # what the run's Finished reports beside the defaults
        self.updates: list[dict] = []  # the live changes it took, one entry a step
        self.pause = 0.0

    def __call__(self, painting, composite, tight_mask, loose_mask, params: HarmonizeParams,
                 control: JobControl | None = None, network=None) -> Iterator[Event]:
        control = control or JobControl()
        self.calls.append(dict(painting=painting, composite=composite, tight=tight_mask, loose=loose_mask,
                               params=params))
        yield Info("Feature network: fake-net; device: CPU (fake)", {"weights": "fake-net", "device": "CPU (fake)"})
        t0 = time.perf_counter()
        out = composite.copy()
        for i in range(self.steps):
            control.check()
            self.updates.append(control.take_updates())
            time.sleep(self.pause)
            out = np.where(tight_mask[..., None] > 0.5, out * 0.5 + painting * 0.5, out)
            el = time.perf_counter() - t0
            yield Progress(i + 1, self.steps, "pass 1", {"style": 1.0 / (i + 1), "total": 1.0 / (i + 1)}, el,
                           el / (i + 1) * (self.steps - i - 1), preview=u8(out))
        yield Finished(out.astype(np.float32), False, self.steps, time.perf_counter() - t0, {"total": 0.1},
                       extra={"device": "cpu", "weights": "fake-net", "params": params.to_dict(), **self.extra})


@pytest.fixture
def win(qtbot, settings, files):
    w = MainWindow(settings, workspaces=(StyleWorkspace, HarmonizeWorkspace), load_demo=False)
    qtbot.addWidget(w)
    w.resize(1200, 800)
    w.show()
    qtbot.waitExposed(w)
    w.tabs.setCurrentIndex(1)
    ws = w.workspace("harmonize")
    ws.run_engine = FakeHarmonize()
    assert ws.set_painting_path(str(files["painting"]))
    assert ws.add_object_path(str(files["object"]))
    ws.undo_stack.clear()
    yield w
    w.close()


def shown_before(w: MainWindow) -> np.ndarray:
    return from_qimage(w.canvas.before())


def test_a_png_with_alpha_is_cropped_and_centred_and_the_canvas_shows_the_composite(win):
    ws = win.workspace("harmonize")
    assert win.current_workspace() is ws and win.canvas.tool() is ws.canvas_tool()
    layer = ws.state().layer
    assert layer.size == (OW + 4, OH + 4)  # cropped to the alpha with a 2 px margin: the whole PNG here
    assert (layer.transform.x, layer.transform.y, layer.transform.scale) == (PW / 2, PH / 2, 1.0)
    expected = expected_composite(opaque_block(), PH // 2 - OH // 2, PW // 2 - OW // 2)
    np.testing.assert_array_equal(u8(ws.before_image()), expected)
    np.testing.assert_array_equal(shown_before(win), expected)
    assert win.canvas.after() is None
    assert ws.run_blocker() is None and win.act_run.isEnabled()


def test_panel_controls_move_flip_rotate_scale_and_feather_the_composite(win):
    ws = win.workspace("harmonize")
    panel = ws.panel()
    block = opaque_block()
    panel.x.setValue(30)
    panel.y.setValue(20)
    np.testing.assert_array_equal(shown_before(win), expected_composite(block, 17, 25))
    panel.flip_h.click()
    np.testing.assert_array_equal(shown_before(win), expected_composite(block[:, ::-1], 17, 25))
    panel.flip_h.click()
    panel.flip_v.click()
    np.testing.assert_array_equal(shown_before(win), expected_composite(block[::-1], 17, 25))
    panel.flip_v.click()
    panel.rotation.setValue(90)
    np.testing.assert_array_equal(shown_before(win), expected_composite(np.rot90(block), 15, 27))
    panel.rotation.setValue(0)
    panel.scale.setValue(200)
    tight = ws.composition().tight
    assert tight.sum() == (2 * OW) * (2 * OH) and tight[14:26, 20:40].all()
    panel.scale.setValue(100)
    panel.feather.setValue(2)
    comp = ws.composition()
    p = u8(painting_rgb())
    edge = 0.5 * p[20, 25] + 0.5 * block[3, 0]  # the outermost object pixel keeps half its alpha
    np.testing.assert_allclose(u8(comp.composite)[20, 25], edge, atol=1)
    np.testing.assert_array_equal(u8(comp.composite)[20, 27], block[3, 2])
    assert comp.tight.sum() == OW * OH  # the tight mask is not feathered
    t = ws.state().layer.transform
    assert t == Transform(30, 20, 1.0, 0.0, False, False)


def test_loose_mask_radius_control_and_mask_overlay(win, qtbot):
    ws = win.workspace("harmonize")
    panel = ws.panel()
    panel.loose_radius.setValue(4)
    comp = ws.composition()
    assert (comp.loose >= comp.tight).all()
    ys, xs = np.nonzero(comp.loose)
    assert xs.min() == PW // 2 - OW // 2 - 4 and xs.max() == PW // 2 + OW // 2 - 1 + 4
    panel.loose_radius.setValue(0)
    np.testing.assert_array_equal(ws.composition().loose, ws.composition().tight)
    panel.loose_radius.setValue(6)

    def pixel(at: QPointF) -> tuple[int, int, int]:
        win.canvas.repaint()
        c = win.canvas.grab().toImage().pixelColor(win.canvas.to_widget(at).toPoint())
        return c.red(), c.green(), c.blue()

    inside, ring = QPointF(PW / 2 + 0.5, PH / 2 + 0.5), QPointF(PW / 2 - OW / 2 - 3, PH / 2)
    plain_inside, plain_ring = pixel(inside), pixel(ring)
    panel.show_masks.click()
    assert ws.show_masks
    red_inside, blue_ring = pixel(inside), pixel(ring)
    assert red_inside[0] > plain_inside[0] + 20  # tinted red
    assert blue_ring[2] > plain_ring[2] + 20  # tinted blue
    assert ws.undo_stack.count() == 1  # the radius edits merged; the overlay toggle is a view setting


def test_dragging_the_object_moves_it_and_one_undo_puts_it_back(win, qtbot):
    ws = win.workspace("harmonize")
    canvas = win.canvas
    before = ws.state()
    zoom = canvas.zoom()
    start = canvas.to_widget(QPointF(PW / 2, PH / 2)).toPoint()
    qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, pos=start)
    for k in range(1, 6):
        qtbot.mouseMove(canvas, start + QPoint(round(4 * k * zoom), round(2 * k * zoom)))
    qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=start + QPoint(round(20 * zoom), round(10 * zoom)))
    t = ws.state().layer.transform
    assert t.x == pytest.approx(PW / 2 + 20, abs=0.6) and t.y == pytest.approx(PH / 2 + 10, abs=0.6)
    assert ws.undo_stack.count() == 1  # the whole drag is one step
    assert canvas.zoom() == zoom  # the drag moved the object, not the view
    ws.undo_stack.undo()
    assert ws.state() is before
    np.testing.assert_array_equal(shown_before(win), u8(before_composite(ws, before)))
    # a drag that starts off the object pans the view instead
    off = canvas.to_widget(QPointF(5, 5)).toPoint()
    qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, pos=off)
    qtbot.mouseMove(canvas, off + QPoint(30, 0))
    qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=off + QPoint(30, 0))
    assert ws.state() is before and canvas.image_rect().left() != pytest.approx(off.x() - 5 * zoom, abs=1)


def _drag(qtbot, canvas, start: QPointF, end: QPointF, steps: int = 5) -> None:
    a, b = canvas.to_widget(start), canvas.to_widget(end)
    qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, pos=a.toPoint())
    for k in range(1, steps + 1):
        qtbot.mouseMove(canvas, (a + (b - a) * (k / steps)).toPoint())
    qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=b.toPoint())


def test_the_corner_handles_scale_and_the_round_handle_turns_the_object(win, qtbot):
    from studio.compositing import layer_corners, rotation_handle
    from studio.ui.harmonize.canvas_tool import ROTATE_REACH_PX

    ws = win.workspace("harmonize")
    canvas = win.canvas
    before = ws.state()
    t = before.layer.transform
    corner = QPointF(*layer_corners(before.layer)[2])  # bottom right, away from the centre
    centre = QPointF(t.x, t.y)
    assert canvas.tool().handle_at(canvas, corner) == ("scale", 2)
    _drag(qtbot, canvas, corner, centre + (corner - centre) * 1.5)
    after = ws.state().layer.transform
    assert after.scale == pytest.approx(t.scale * 1.5, rel=0.03) and (after.x, after.y) == (t.x, t.y)
    assert ws.undo_stack.count() == 1  # the whole drag is one step
    # the round handle above the top edge turns it about its centre, a quarter turn to the left here
    knob = QPointF(*rotation_handle(ws.state().layer, ROTATE_REACH_PX / canvas.zoom()))
    assert canvas.tool().handle_at(canvas, knob) == ("rotate", 0)
    r = knob.y() - t.y  # negative: the knob is above the centre
    _drag(qtbot, canvas, knob, QPointF(t.x + r, t.y), steps=8)
    turned = ws.state().layer.transform
    assert turned.rotation == pytest.approx(90.0, abs=2.0) and turned.scale == after.scale
    assert ws.undo_stack.count() == 2
    ws.undo_stack.undo()
    ws.undo_stack.undo()
    assert ws.state() is before


def before_composite(ws: HarmonizeWorkspace, state) -> np.ndarray:
    return ws.composition(state).composite


def wheel(canvas, at: QPointF, modifiers, delta: int = 120) -> None:
    pos = canvas.to_widget(at)
    event = QWheelEvent(pos, canvas.mapToGlobal(pos), QPoint(0, 0), QPoint(0, delta), Qt.MouseButton.NoButton,
                        modifiers, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(canvas, event)


def test_ctrl_wheel_scales_shift_wheel_rotates_plain_wheel_zooms(win):
    ws = win.workspace("harmonize")
    canvas = win.canvas
    centre = QPointF(PW / 2, PH / 2)
    wheel(canvas, centre, Qt.KeyboardModifier.ControlModifier)
    wheel(canvas, centre, Qt.KeyboardModifier.ControlModifier)
    assert ws.state().layer.transform.scale == pytest.approx(1.05**2, rel=1e-3)
    wheel(canvas, centre, Qt.KeyboardModifier.ShiftModifier, -120)
    assert ws.state().layer.transform.rotation == pytest.approx(-2.0)
    assert ws.undo_stack.count() == 2  # the wheel scale steps merged
    zoom = canvas.zoom()
    wheel(canvas, centre, Qt.KeyboardModifier.NoModifier)
    assert canvas.zoom() > zoom and ws.state().layer.transform.scale == pytest.approx(1.05**2, rel=1e-3)


def test_run_hands_the_engine_the_composite_and_masks_and_exports_a_recipe(win, qtbot, tmp_path, files):
    ws = win.workspace("harmonize")
    ws.set_transform({"x": 40.0, "y": 30.0})
    ws.set_loose_radius(5)
    ws.set_feather(1.0)
    ws.edit(type(ws.state())(ws.params().with_changes(mode="color", size=60), ws.state().painting,
                             ws.state().layer, ws.state().cutout, ws.state().loose_radius), "settings")
    comp = ws.composition()
    with qtbot.waitSignal(win.runner.finished, timeout=10000):
        job = win.run()
    qtbot.waitUntil(lambda: not win.runner.is_running(), timeout=10000)
    call = ws.run_engine.calls[-1]
    np.testing.assert_array_equal(call["painting"], painting_rgb().round(6) * 0 + ws.state().painting.rgb)
    assert call["composite"] is comp.composite and call["tight"] is comp.tight and call["loose"] is comp.loose
    assert call["tight"].shape == (PH, PW) and call["loose"].sum() > call["tight"].sum()
    p = call["params"]
    assert p.mode == "color" and p.size == 60 and p.device == win.prefs.device
    assert p.loose_radius == round(5 * 60 / PW) and p.feather == pytest.approx(1.0 * 60 / PW)
    assert job.spec.engine == "harmonize" and [r for r, _, _ in job.spec.inputs] == ["painting", "object"]
    assert win.canvas.after() is not None and win.canvas.caption().startswith("Result #1")
    np.testing.assert_array_equal(shown_before(win), u8(comp.composite))  # before/after compare: the naive composite
    out = win.export_result(str(tmp_path / "harmonized.png"))
    recipe = read_recipe(out)
    assert recipe.engine == "harmonize" and recipe.params["mode"] == "color"
    placed = recipe.params["composition"]
    assert placed["transform"]["x"] == 40.0 and placed["loose_radius"] == 5.0 and placed["feather"] == 1.0
    assert [i.role for i in recipe.inputs] == ["painting", "object"]
    assert Path(recipe.inputs[1].path) == files["object"]
    # the recipe brings the placement back
    ws.set_transform({"x": 70.0})
    assert win.open_file(str(out))
    assert ws.state().layer.transform.x == 40.0 and ws.state().params.mode == "color"
    # without a false warning about its own placement record ("a setting this version does not know
    # (composition)"), and the opened picture is the tab's result: Export and Copy take it
    assert win.notice.level == "info" and "does not know" not in win.notice.label.text()
    opened = win.current_result()
    assert opened is not None and opened.extra.get("opened") and win.act_export.isEnabled()
    np.testing.assert_allclose(opened.pixels(), np.asarray(Image.open(out).convert("RGB")) / 255.0, atol=1 / 255)
    again = win.export_result(str(tmp_path / "again.png"))
    assert again is not None
    kept = read_recipe(again)  # the recipe as it was: its files, placement and time, not an empty one
    assert kept.to_dict() == recipe.to_dict() and kept.inputs and kept.params["composition"] == placed


def test_run_is_blocked_until_there_is_a_painting_an_object_on_it(win):
    ws = win.workspace("harmonize")
    ws.set_transform({"x": -500.0})
    assert "outside the painting" in ws.run_blocker() and not win.act_run.isEnabled()
    ws.undo_stack.undo()
    ws.remove_object()
    assert "Add an object" in ws.run_blocker()
    ws.undo_stack.undo()
    assert ws.run_blocker() is None


def test_mask_editor_grabcut_and_brush_make_the_object(win, files):
    ws = win.workspace("harmonize")
    photo = win.load_image(str(files["photo"]), "object", remember=False)
    dialog = ws.make_mask_dialog(photo)
    assert dialog.mask() is None and not dialog.buttons.button(dialog.buttons.StandardButton.Ok).isEnabled()
    dialog.set_rect((10, 10, 44, 44))
    disc = np.asarray(Image.open(files["mask"])) > 127
    mask = dialog.mask() > 0.5
    assert mask[disc].all() and mask[12:18, 12:18].all()
    assert dialog.view.tool == "fg"  # after the rectangle, the brush is ready
    dialog.set_tool("bg")
    dialog.add_stroke(Stroke(((15.0, 15.0),), 4, False))
    refined = dialog.mask() > 0.5
    assert not refined[12:18, 12:18].any() and (refined == disc).all()
    assert ws.apply_mask_dialog(dialog, photo)
    s = ws.state()
    assert s.cutout is not None and s.cutout.edit.rect == (10, 10, 44, 44) and len(s.cutout.edit.strokes) == 1
    assert s.layer.source == str(files["photo"]) and s.layer.size == (33 + 4, 33 + 4)  # the disc, 2 px margin
    # editing the mask again keeps the placement
    ws.set_transform({"x": 50.0})
    again = ws.make_mask_dialog(photo, s.cutout)
    assert again.edit() == s.cutout.edit
    again.remove_last_stroke()
    assert ws.apply_mask_dialog(again, photo)
    assert ws.state().layer.transform.x == 50.0 and ws.state().cutout.edit.strokes == ()


def test_mask_file_of_the_wrong_size_is_one_sentence(win, files):
    ws = win.workspace("harmonize")
    assert not ws.add_object_with_mask(str(files["photo"]), str(files["bad_mask"]))
    assert win.notice.text() == ("small-mask.png is 40x30 pixels but the photo is 64x64: "
                                 "a mask must have the photo's size.")
    assert ws.add_object_with_mask(str(files["photo"]), str(files["mask"]))
    assert ws.state().cutout.edit.mask_path == str(files["mask"])
    photo = ws.state().cutout.photo
    dialog = ws.make_mask_dialog(photo)
    assert not dialog.set_mask_file(str(files["bad_mask"]))
    assert "must have the photo's size" in dialog.message.text()
    assert dialog.set_mask_file(str(files["mask"])) and dialog.edit().mask_path == str(files["mask"])


def test_a_params_edit_keeps_the_shown_result_and_the_composite(win, qtbot):
    ws = win.workspace("harmonize")
    with qtbot.waitSignal(win.runner.finished, timeout=10000):
        win.run()
    qtbot.waitUntil(lambda: not win.runner.is_running(), timeout=10000)
    comp = ws.composition()
    ws.panel().tau.setValue(9.0)
    ws.panel().tau.valueEdited.emit(9.0)
    assert ws.params().tau == 9.0 and ws.composition().composite is comp.composite
    assert win.canvas.after() is not None  # a parameter change does not hide the result
    result = win.desk().result
    assert result is not None and win.history.currentRow() == 0
    ws.move_object(3, 0)
    assert win.canvas.after() is None  # moving the object shows the live composite again
    assert win.desk().result is None and not win.act_export.isEnabled()
    assert win.history.currentItem() is None  # the strip no longer marks a result as the one shown
    ws.undo_stack.undo()  # the tau edit came after the run: undo it too, back to the state the result came from
    ws.undo_stack.undo()
    assert win.desk().result is result and win.canvas.after() is not None and win.act_export.isEnabled()
    assert win.history.currentRow() == 0 and "Result #" in win.canvas.caption()


def test_switching_tabs_does_not_show_the_other_workspaces_result(win, qtbot):
    ws = win.workspace("harmonize")
    with qtbot.waitSignal(win.runner.finished, timeout=10000):
        win.run()
    qtbot.waitUntil(lambda: not win.runner.is_running(), timeout=10000)
    result = from_qimage(win.canvas.after())
    win.tabs.setCurrentIndex(0)
    # the Style tab's own tool (its regions), never the Harmonize one
    assert win.canvas.after() is None and win.canvas.tool() is win.workspace("style").canvas_tool()
    win.tabs.setCurrentIndex(1)
    assert win.canvas.tool() is ws.canvas_tool()
    np.testing.assert_array_equal(from_qimage(win.canvas.after()), result)


def test_the_mask_view_turns_mouse_drags_into_a_rectangle_and_strokes(win, files, qtbot):
    ws = win.workspace("harmonize")
    photo = win.load_image(str(files["photo"]), "object", remember=False)
    dialog = ws.make_mask_dialog(photo)
    qtbot.addWidget(dialog)
    dialog.resize(700, 600)
    dialog.show()
    qtbot.waitExposed(dialog)
    view = dialog.view
    r, z = view.image_rect(), view.zoom()

    def at(x: float, y: float) -> QPoint:
        return QPoint(round(r.left() + x * z), round(r.top() + y * z))

    qtbot.mousePress(view, Qt.MouseButton.LeftButton, pos=at(10, 10))
    qtbot.mouseMove(view, at(30, 30))
    qtbot.mouseRelease(view, Qt.MouseButton.LeftButton, pos=at(54, 54))
    assert dialog.edit().rect == pytest.approx((10, 10, 44, 44), abs=1)
    assert dialog.mask()[12:18, 12:18].all()
    dialog.set_tool("bg")
    dialog.brush.setValue(4)
    qtbot.mousePress(view, Qt.MouseButton.LeftButton, pos=at(14, 15))
    qtbot.mouseMove(view, at(15, 15))
    qtbot.mouseRelease(view, Qt.MouseButton.LeftButton, pos=at(16, 15))
    stroke = dialog.edit().strokes[-1]
    assert not stroke.foreground and stroke.radius == 4 and len(stroke.points) >= 2
    assert not dialog.mask()[12:18, 12:18].any()
    assert dialog.buttons.button(dialog.buttons.StandardButton.Ok).isEnabled()
    dialog.close()


def test_the_real_engine_harmonizes_with_a_quick_mode(win, qtbot):
    pytest.importorskip("studio.engines.harmonize.run", reason="the harmonization engine is not in this tree yet")
    ws = win.workspace("harmonize")
    ws.run_engine = None  # studio.engines.harmonize.run.run_harmonize
    s = ws.state()
    ws.edit(type(s)(s.params.with_changes(mode="color", size=120), s.painting, s.layer, s.cutout, 4.0), "quick")
    comp = ws.composition()
    job = win.run()
    assert job is not None
    qtbot.waitUntil(lambda: job.done, timeout=60000)
    assert job.error is None, job.error
    assert job.result is not None and not job.result.cancelled
    out = job.result.image
    assert out.shape == (PH, PW, 3)
    outside = comp.loose < 0.5
    np.testing.assert_allclose(out[outside], ws.state().painting.rgb[outside], atol=1e-3)
    inside = comp.tight > 0.5
    assert np.abs(out[inside] - comp.composite[inside]).mean() > 0.02  # the object's colours moved
    assert job.result.extra["params"]["composition"]["loose_radius"] == 4.0


def test_an_instant_mode_run_again_unchanged_adds_no_second_result(win, qtbot):
    """Run pressed twice on the same quick settings made two identical entries in the history; the second run
    now shows the first result again and says so. A changed setting still makes a result of its own."""
    pytest.importorskip("studio.engines.harmonize.run", reason="the harmonization engine is not in this tree yet")
    ws = win.workspace("harmonize")
    ws.run_engine = None
    s = ws.state()
    ws.edit(type(s)(s.params.with_changes(mode="color", size=120), s.painting, s.layer, s.cutout, 4.0), "quick")

    def run():
        job = win.run()
        qtbot.waitUntil(lambda: job.done, timeout=60000)
        qtbot.waitUntil(lambda: not win.runner.is_running(), timeout=10000)
        assert job.error is None, job.error

    run()
    history = win.desk("harmonize").history
    first = history.entries()
    assert len(first) == 1
    run()
    assert history.entries() == first  # no duplicate
    assert win.desk("harmonize").result is first[0] and win.current_result() is first[0]
    assert "the same settings and picture again" in win.desk("harmonize").canvas.caption()
    s = ws.state()
    ws.edit(type(s)(s.params.with_changes(mode="poisson"), s.painting, s.layer, s.cutout, 4.0), "poisson")
    run()
    assert len(history.entries()) == 2 and win.desk("harmonize").result is history.entries()[0]


def _run_export_and_reopen(win, qtbot, path):
    """Run (the stand-in engine), export the result with its recipe, remove the object, open the export: the
    state the recipe brought back."""
    ws = win.workspace("harmonize")
    with qtbot.waitSignal(win.runner.finished, timeout=10000):
        win.run()
    qtbot.waitUntil(lambda: not win.runner.is_running(), timeout=10000)
    out = win.export_result(str(path))
    ws.remove_object()
    assert win.open_file(str(out))
    return ws.state()


def test_a_recipe_brings_back_an_object_cut_out_with_a_soft_edged_mask_file(win, qtbot, files, tmp_path):
    """A mask file with grey edge pixels is halved when it is added; restoring the recipe took it as it was, so
    the cut-out came out one size larger and "differs from the recipe's": the object was not placed again."""
    import cv2

    ws = win.workspace("harmonize")
    hard = np.asarray(Image.open(files["mask"])).astype(np.float32)
    soft = tmp_path / "soft-mask.png"
    Image.fromarray(np.clip(cv2.GaussianBlur(hard, (0, 0), 2.0), 0, 255).astype(np.uint8)).save(soft)
    assert ws.add_object_with_mask(str(files["photo"]), str(soft))
    ws.set_transform({"x": 60.0, "y": 30.0, "scale": 0.8})
    made = ws.state()
    s = _run_export_and_reopen(win, qtbot, tmp_path / "soft.png")
    assert s.layer is not None, win.notice.label.text()
    assert s.layer.size == made.layer.size and s.layer.transform == made.layer.transform
    np.testing.assert_array_equal(s.layer.alpha, made.layer.alpha)


def test_a_recipe_brings_back_a_grabcut_cutout_and_its_placement(win, qtbot, files, tmp_path):
    ws = win.workspace("harmonize")
    photo = win.load_image(str(files["photo"]), "object", remember=False)
    dialog = ws.make_mask_dialog(photo)
    dialog.set_rect((10, 10, 44, 44))
    dialog.add_stroke(Stroke(((15.0, 15.0),), 4, False))
    assert ws.apply_mask_dialog(dialog, photo)
    ws.set_transform({"x": 70.0, "y": 35.0, "rotation": 10.0, "flip_h": True})
    made = ws.state()
    s = _run_export_and_reopen(win, qtbot, tmp_path / "cutout.png")
    assert s.layer is not made.layer and s.layer.transform == made.layer.transform
    np.testing.assert_array_equal(s.layer.alpha, made.layer.alpha)  # GrabCut ran again, the same way
    assert s.cutout.edit == made.cutout.edit
    np.testing.assert_array_equal(ws.composition().composite, ws.composition(made).composite)


def test_a_placed_pngs_edge_is_refined_with_the_brush_and_its_recipe_keeps_the_strokes(win, qtbot, tmp_path):
    ws = win.workspace("harmonize")
    ws.set_transform({"x": 50.0, "y": 30.0, "rotation": 20.0})
    before = ws.state()
    c = before.cutout
    assert c is not None and c.edit.from_alpha and ws.panel().edit_mask.isEnabled()
    dialog = ws.make_mask_dialog(c.photo, c)
    assert dialog.view.tool == "fg"  # the brushes, not a GrabCut rectangle
    np.testing.assert_array_equal(dialog.mask(), c.photo.alpha)
    dialog.add_stroke(Stroke(((5.0, 5.0),), 1.0, False))  # Remove: a hole in the block (PNG pixels)
    assert dialog.mask()[5, 5] == 0.0 and dialog.mask()[5, 9] == 1.0
    assert ws.apply_mask_dialog(dialog, c.photo)
    s = ws.state()
    assert s.layer.alpha[5, 5] == 0.0 and s.layer.alpha[5, 9] == 1.0  # (the layer keeps the PNG's 2 px margin)
    assert s.layer.transform == before.layer.transform  # the placement stays
    assert ws.undo_stack.count() == 2
    again = _run_export_and_reopen(win, qtbot, tmp_path / "refined.png")
    np.testing.assert_array_equal(again.layer.alpha, s.layer.alpha)  # the strokes were replayed on the alpha
    assert again.cutout.edit == s.cutout.edit and again.layer.transform == s.layer.transform
    ws.undo_stack.undo()
    ws.undo_stack.undo()
    ws.undo_stack.undo()
    assert ws.state().layer.alpha[5, 5] == 1.0


def test_a_transparent_png_opened_on_a_painting_becomes_the_object(win, files):
    ws = win.workspace("harmonize")
    ws.remove_object()
    painting = ws.state().painting
    assert win.open_file(str(files["object"]))
    assert ws.state().painting is painting and ws.state().layer is not None
    assert win.open_file(str(files["photo"]))  # an opaque image replaces the painting
    assert ws.state().painting.size == (64, 64) and ws.state().layer is not None


def test_a_command_line_recipe_puts_the_cut_out_back_where_it_was(win, tmp_path, files):
    from studio.image_save import save_image
    from studio.recipe import InputRef, Recipe

    composite = painting_rgb().copy()
    composite[30:42, 70:86] = (0.9, 0.1, 0.1)
    mask = np.zeros((PH, PW), np.uint8)
    mask[30:42, 70:86] = 255
    Image.fromarray(u8(composite)).save(tmp_path / "naive.png")
    Image.fromarray(mask).save(tmp_path / "mask.png")
    recipe = Recipe("harmonize", HarmonizeParams(mode="poisson", tau=1.0).to_dict(), [
        InputRef.from_file("painting", files["painting"]), InputRef.from_file("composite", tmp_path / "naive.png"),
        InputRef.from_file("mask", tmp_path / "mask.png")], "auto")
    save_image(tmp_path / "cli.png", painting_rgb(), metadata=recipe.to_png_text())
    ws = win.workspace("harmonize")
    assert win.open_file(str(tmp_path / "cli.png"))
    s = ws.state()
    assert s.params.mode == "poisson" and s.params.tau == 1.0
    assert s.cutout.edit.mask_path == str(tmp_path / "mask.png")
    np.testing.assert_array_equal(ws.composition().tight, mask / 255.0)
    np.testing.assert_array_equal(u8(ws.composition().composite), u8(composite))
    assert "command line" in win.notice.text()


def test_every_mode_explains_itself_and_mixed_gradients_says_it_is_see_through(win):
    from PySide6.QtCore import Qt

    box = win.workspace("harmonize").panel().mode
    tips = {box.itemData(i): box.itemData(i, Qt.ItemDataRole.ToolTipRole) for i in range(box.count())}
    assert set(tips) == {"dph", "gatys", "color", "poisson", "poisson-mixed"} and all(tips.values())
    assert "transparent" in tips["poisson-mixed"] and "opaque" in tips["poisson"]
    assert box.currentData() == "dph"  # the see-through blend is never the default
    assert "see-through" in box.itemText(box.findData("poisson-mixed"))


def test_the_size_starts_at_the_paintings_own_resolution_and_says_so(win):
    ws = win.workspace("harmonize")
    spin = ws.panel().size
    assert ws.params().size == 0 and spin.value() == 0 and spin.text() == "The painting's own"
    assert "the painting's resolution" in ws.describe(ws.state()).splitlines()[0]
    spin.setValue(spin.value() + spin.singleStep())
    assert ws.params().size == 64 and "64 px" in ws.describe(ws.state())
    spin.setValue(0)
    assert ws.params().size == 0


def test_a_preview_below_the_paintings_resolution_says_so_on_the_result_and_in_its_recipe(win, qtbot, tmp_path):
    ws = win.workspace("harmonize")
    ws.run_engine.extra = {"worked_below": {"worked_at": [60, 45], "painting": [PW, PH]}}
    with qtbot.waitSignal(win.runner.finished, timeout=10000):
        win.run()
    qtbot.waitUntil(lambda: not win.runner.is_running(), timeout=10000)
    assert f"a preview at 60x45, below the painting's {PW}x{PH}" in win.canvas.caption()
    recipe = read_recipe(win.export_result(str(tmp_path / "preview.png")))
    assert recipe.extra["worked_below"] == {"worked_at": [60, 45], "painting": [PW, PH]}


def test_moving_the_style_strength_while_it_runs_reaches_the_running_job(win, qtbot):
    ws = win.workspace("harmonize")
    ws.run_engine = engine = FakeHarmonize(steps=40)
    engine.pause = 0.05
    panel = ws.panel()
    win.run()
    qtbot.waitUntil(lambda: len(engine.updates) >= 2, timeout=10000)
    panel.tau.edit.setText("12")  # as the user types a strength
    panel.tau.edit.editingFinished.emit()
    qtbot.waitUntil(lambda: any(u.get("tau") for u in engine.updates), timeout=10000)
    assert win.desk().job_note.text() == "Applied to the running job: style strength"  # the panel's word, not tau
    qtbot.waitUntil(lambda: not win.runner.is_running(), timeout=20000)
    assert len(engine.calls) == 1  # taken live, not restarted
    taken = [u["tau"] for u in engine.updates if "tau" in u]
    assert taken and taken[-1] == pytest.approx(12.0, rel=0.05)
    assert win.canvas.caption().startswith("Result #1")


def test_the_cut_out_dialog_takes_brackets_for_the_brush_size(win, files, qtbot):
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    ws = win.workspace("harmonize")
    photo = win.load_image(str(files["photo"]), "object", remember=False)
    dialog = ws.make_mask_dialog(photo)
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.activateWindow()
    qtbot.waitUntil(dialog.isActiveWindow, timeout=5000)
    start = dialog.brush.value()
    QTest.keyClick(dialog, Qt.Key.Key_BracketRight)
    assert dialog.brush.value() == round(start * 1.25) and dialog.view.brush_radius == dialog.brush.value()
    for _ in range(30):
        QTest.keyClick(dialog, Qt.Key.Key_BracketLeft)
    assert dialog.brush.value() == dialog.brush.minimum()  # bounded
    dialog.close()


def test_the_paintings_tone_box_reaches_the_engine_shows_only_for_the_two_passes_and_undoes(win, qtbot):
    ws = win.workspace("harmonize")
    panel = ws.panel()
    assert panel.tone.isChecked() and ws.params().pass2_tone
    assert panel.tone.toolTip()  # says what it does
    assert panel.engine_form.isRowVisible(panel.tone)
    panel.tone.click()
    assert ws.params().pass2_tone is False
    with qtbot.waitSignal(win.runner.finished, timeout=10000):
        win.run()
    qtbot.waitUntil(lambda: not win.runner.is_running(), timeout=10000)
    assert ws.run_engine.calls[-1]["params"].pass2_tone is False
    ws.undo_stack.undo()
    assert ws.params().pass2_tone and panel.tone.isChecked()
    panel.mode.setCurrentIndex(panel.mode.findData("color"))
    assert not panel.engine_form.isRowVisible(panel.tone)
