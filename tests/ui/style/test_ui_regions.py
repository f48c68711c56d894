"""The Style tab's Regions section: paint a region on the canvas, give it a painting or keep the photo, undo
every stroke, run with it, and find it again in the exported PNG's recipe and after a restart."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QApplication

from studio.recipe import read_recipe
from tests.ui.conftest import run_job


def _new_region(ws):
    ws.panel().regions.new_button.click()
    return ws.panel().regions


def test_a_brush_stroke_paints_the_region_and_undo_takes_it_back(qtbot, window):
    ws = window.workspace("style")
    section = _new_region(ws)
    assert len(ws.state().regions) == 1 and section.tools.active == 0
    assert section.tools.tool == "brush"  # a new region is ready to paint
    tool = ws.canvas_tool()
    h, w = ws.state().content.rgb.shape[:2]
    section.size.setValue(8)
    tool.finish(QPointF(2, h / 2), QPointF(w - 2, h / 2), [(2, h / 2), (w - 2, h / 2)], "add")
    mask = ws.state().regions[0].mask
    assert mask[h // 2, w // 2] == 255 and mask[0, w // 2] == 0
    section.tool_buttons["erase"].setChecked(True)
    tool.finish(QPointF(w / 2, 0), QPointF(w / 2, h), [(w / 2, 0), (w / 2, h)], "subtract")
    assert ws.state().regions[0].mask[h // 2, w // 2] == 0 and ws.state().regions[0].mask[h // 2, 6] == 255
    assert ws.undo_stack.undoText().startswith("Eraser stroke")
    ws.undo_stack.undo()
    assert ws.state().regions[0].mask[h // 2, w // 2] == 255
    ws.undo_stack.undo()
    assert ws.state().regions[0].is_empty()


def test_brush_size_keys_and_the_overlay(qtbot, window):
    ws = window.workspace("style")
    section = _new_region(ws)
    before = section.size.value()
    window.activateWindow()
    for key in ("]", "]"):
        qtbot.keyClick(window, key)
    QApplication.processEvents()
    assert section.size.value() > before
    qtbot.keyClick(window, "[")
    assert section.size.value() < int(round(before * 1.25 * 1.25))
    h, w = ws.state().content.rgb.shape[:2]
    section.tool_buttons["rect"].setChecked(True)
    ws.canvas_tool().finish(QPointF(0, 0), QPointF(w / 2, h), [], "replace")
    overlay = window.desk("style").canvas.grab().toImage()
    assert not overlay.isNull()
    from studio.ui.style.region_tool import regions_overlay

    img = regions_overlay(ws.state().regions)
    assert img is not None and img.pixelColor(2, 2).alpha() > 0 and img.pixelColor(w - 2, 2).alpha() == 0
    section.list.item(0).setCheckState(Qt.CheckState.Unchecked)  # hidden
    assert not ws.state().regions[0].visible and regions_overlay(ws.state().regions) is None
    assert QKeySequence("[").toString() == "["


def test_a_run_paints_the_regions_and_their_weight_changes_live(qtbot, window, fake_engine, image_dir, monkeypatch):
    ws = window.workspace("style")
    section = _new_region(ws)
    h, w = ws.state().content.rgb.shape[:2]
    section.tool_buttons["rect"].setChecked(True)
    ws.canvas_tool().finish(QPointF(0, 0), QPointF(w / 2, h), [], "replace")
    assert ws.set_region_painting(0, str(image_dir / "style2.png"))
    _new_region(ws)
    ws.canvas_tool().finish(QPointF(w / 2, 0), QPointF(w, h / 2), [], "replace")  # the second keeps the photo
    ws.set_region_weight(1, 3.0)
    run_job(qtbot, window)
    regions = fake_engine.regions[-1]
    assert [r.keeps_photo for r in regions] == [False, True]
    assert regions[0].style.shape[2] == 3 and regions[0].mask.shape == (h, w)
    assert fake_engine.calls[-1].region_weights == (1.0, 3.0)
    old = ws.state()
    ws.set_region_weight(0, 2.0)
    assert ws.live_changes(old, ws.state()) == {"region_weights": (2.0, 3.0)}
    assert not ws.needs_restart(old, ws.state())
    painted = ws.state()
    ws.invert_region(1)
    assert ws.needs_restart(painted, ws.state())  # a new mask needs a new run


def test_regions_survive_the_exported_recipe(qtbot, window, fake_engine, image_dir, tmp_path):
    ws = window.workspace("style")
    section = _new_region(ws)
    h, w = ws.state().content.rgb.shape[:2]
    section.tool_buttons["ellipse"].setChecked(True)
    ws.canvas_tool().finish(QPointF(0, 0), QPointF(w, h), [], "replace")
    assert ws.set_region_painting(0, str(image_dir / "style2.png"))
    ws.set_region_weight(0, 2.5)
    painted = ws.state().regions[0].mask.copy()
    run_job(qtbot, window)
    out = tmp_path / "regions.png"
    assert window.export_result(str(out)) == out
    recipe = read_recipe(out)
    assert recipe is not None and len(recipe.regions) == 1 and recipe.params["region_weights"] == [2.5]
    assert ("region 1 painting", "style2.png") in [(i.role, i.path.split("/")[-1]) for i in recipe.inputs]
    ws.remove_region(0)
    assert not ws.state().regions
    window.confirm_recipe_reads = lambda name, reads: True
    assert window.open_file(str(out))
    back = ws.state().regions
    assert len(back) == 1 and back[0].weight == 2.5 and back[0].painting is not None
    assert np.abs(back[0].mask.astype(int) - painted.astype(int)).max() <= 1
    assert "region" in window.notice.label.text()
    # the opened picture is the tab's result; exported again, it keeps its recipe, masks and files included
    again = window.export_result(str(tmp_path / "again.png"))
    assert again is not None and read_recipe(again).to_dict() == recipe.to_dict()


def test_a_mask_file_with_another_shape_gets_one_sentence(qtbot, window, tmp_path):
    from PIL import Image

    ws = window.workspace("style")
    _new_region(ws)
    h, w = ws.state().content.rgb.shape[:2]
    wrong = tmp_path / "tall.png"
    Image.fromarray(np.full((w * 2, h, 3), 255, np.uint8)).save(wrong)
    said = []
    window.notify = lambda text, level="info": said.append(text)
    assert not ws.region_from_file(0, str(wrong))
    assert said and "tall.png" in said[-1] and "shape of the photo" in said[-1]
    right = tmp_path / "right.png"
    Image.fromarray(np.full((h * 2, w * 2), 255, np.uint8)).save(right)
    assert ws.region_from_file(0, str(right)) and ws.state().regions[0].mask.min() == 255
    run_job(qtbot, window)  # a region over the whole photo: the run still starts


def test_regions_come_back_after_a_quit(qtbot, settings, tmp_path, image_dir, monkeypatch):
    from studio.session import SessionStore
    from studio.ui.main_window import MainWindow

    monkeypatch.setattr(MainWindow, "_confirm_quit", lambda self, lost: True)
    folder = tmp_path / "session"
    win = MainWindow(settings, load_demo=False, session=SessionStore(folder))
    qtbot.addWidget(win)
    ws = win.workspace("style")
    assert ws.set_content_path(str(image_dir / "content.png"))
    section = _new_region(ws)
    h, w = ws.state().content.rgb.shape[:2]
    section.tool_buttons["lasso"].setChecked(True)
    ws.canvas_tool().finish(QPointF(0, 0), QPointF(0, h), [(0, 0), (w, 0), (0, h)], "replace")
    assert ws.set_region_painting(0, str(image_dir / "style2.png"))
    ws.set_region_weight(0, 4.0)
    mask = ws.state().regions[0].mask.copy()
    win.close()

    again = MainWindow(settings, load_demo=False, session=SessionStore(folder))
    qtbot.addWidget(again)
    back = again.workspace("style").state().regions
    assert len(back) == 1 and back[0].weight == 4.0 and np.array_equal(back[0].mask, mask)
    assert back[0].painting is not None and back[0].painting.path.name == "style2.png"
    assert again.workspace("style").panel().regions.list.count() == 1
    again.close()


def test_a_new_photo_takes_the_regions_along_when_it_has_their_shape(qtbot, window, image_dir, tmp_path):
    from PIL import Image

    ws = window.workspace("style")
    section = _new_region(ws)
    h, w = ws.state().content.rgb.shape[:2]
    section.tool_buttons["rect"].setChecked(True)
    ws.canvas_tool().finish(QPointF(0, 0), QPointF(w / 2, h), [], "replace")
    bigger = tmp_path / "bigger.png"
    Image.fromarray((ws.state().content.rgb.repeat(2, 0).repeat(2, 1) * 255).astype(np.uint8)).save(bigger)
    assert ws.set_content_path(str(bigger))
    m = ws.state().regions[0].mask
    assert m.shape == (2 * h, 2 * w) and m[h, 4] == 255 and m[h, 2 * w - 4] == 0
    square = tmp_path / "square.png"
    Image.fromarray(np.zeros((50, 50, 3), np.uint8)).save(square)
    assert ws.set_content_path(str(square)) and not ws.state().regions
    ws.undo_stack.undo()
    assert ws.state().regions[0].mask.shape == (2 * h, 2 * w)


def test_a_brush_stroke_over_a_smaller_result_lands_where_it_was_painted(qtbot, window):
    """The canvas shows a result at the run's size (256 px for a larger photo); a stroke painted over it went into
    the photo-sized mask at the result's coordinates, up and to the left of where it was painted."""
    from studio.ui.qimage import to_qimage

    ws = window.workspace("style")
    section = _new_region(ws)
    h, w = ws.state().content.rgb.shape[:2]
    canvas = window.desk("style").canvas
    canvas.set_after(to_qimage(np.zeros((h // 2, w // 2, 3), np.uint8)))  # a result at half the photo's size
    section.size.setValue(4)
    at = canvas.to_widget(QPointF(w / 4, h / 4)).toPoint()  # the middle of the result shown
    qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, pos=at)
    qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=at)
    ys, xs = np.nonzero(ws.state().regions[0].mask)
    assert len(xs) > 0
    assert abs(xs.mean() - w / 2) < 3 and abs(ys.mean() - h / 2) < 3, (xs.mean(), ys.mean(), w, h)


def test_the_region_tool_in_use_stands_out(qtbot, window):
    """The six tool buttons were drawn nearly alike, checked or not (Fusion's sunken shade: 12 grey levels darker),
    so nothing showed which tool the canvas would use."""
    from studio.ui.theme import apply_theme

    app = QApplication.instance()
    palette, style = app.palette(), app.style().name()
    apply_theme(app)  # the app's dark Fusion look, as the window has it
    try:
        ws = window.workspace("style")
        ws.panel().sections["regions"].set_expanded(True)
        section = _new_region(ws)
        QApplication.processEvents()
        assert section.tools.tool == "brush"

        def colour(key):
            img = section.tool_buttons[key].grab().toImage()
            assert not img.isNull() and img.width() > 10
            return np.array(img.pixelColor(4, img.height() // 2).getRgb()[:3])  # left of the label, in the frame

        assert np.abs(colour("brush") - colour("erase")).sum() > 100  # 232 now, 37 before
        assert (colour("erase") == colour("lasso")).all()
    finally:
        app.setStyle(style)
        app.setPalette(palette)


def test_a_region_shows_its_outline_where_its_tint_is_the_photos_colour(qtbot, window, tmp_path):
    """The artist session hardly saw the first region (red) over a warm photo: a tint of the photo's own colour
    changes nothing. The outline, dark under the region's colour, shows its edge on any photo."""
    from PIL import Image
    from PySide6.QtGui import QImage

    from studio.region_paint import COLOURS

    ws = window.workspace("style")
    photo = tmp_path / "red.png"
    Image.fromarray(np.full((120, 160, 3), COLOURS[0], np.uint8)).save(photo)  # the first region's own colour
    assert ws.set_content_path(str(photo))
    section = _new_region(ws)
    section.tool_buttons["rect"].setChecked(True)
    ws.canvas_tool().finish(QPointF(40, 30), QPointF(120, 90), [], "replace")
    canvas = window.desk("style").canvas
    canvas.resize(400, 300)
    QApplication.processEvents()

    def grab():
        img = canvas.grab().toImage().convertToFormat(QImage.Format.Format_RGB888)
        return np.frombuffer(img.constBits(), np.uint8, img.sizeInBytes()).reshape(
            img.height(), img.bytesPerLine())[:, : 3 * img.width()].reshape(img.height(), img.width(), 3).astype(int)

    shown = grab()
    section.show_overlays.setChecked(False)
    QApplication.processEvents()
    hidden = grab()
    diff = np.abs(shown - hidden).sum(axis=2)
    edge = canvas.to_widget(QPointF(40, 60)).toPoint()  # the rectangle's left edge, half-way down
    inside = canvas.to_widget(QPointF(80, 60)).toPoint()
    assert diff[edge.y(), edge.x() - 3: edge.x() + 4].max() > 150  # the outline
    assert diff[inside.y(), inside.x()] < 10  # the tint itself shows nothing on this photo
