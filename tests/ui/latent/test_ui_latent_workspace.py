"""The Latent workspace: the panel's widgets drive the latent engine; training runs as a job."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from PySide6.QtCore import QPoint, Qt

from studio.engines.gan.checkpoints import save_generator
from studio.engines.gan.latent import slerp
from studio.engines.gan.models import DCGAN_G, GanArch
from studio.recipe import read_recipe
from studio.ui.latent.panel import AB_STEPS, SIGMA_STEPS
from studio.ui.latent.workspace import GRID_COLS, GRID_PAD, LatentWorkspace
from studio.ui.main_window import MainWindow
from studio.ui.qimage import from_qimage


def _tiny_generator(path: Path, seed: int = 0) -> Path:
    torch.manual_seed(seed)
    g = DCGAN_G(GanArch(image_size=16, nz=12, ngf=8))
    g.train()
    with torch.no_grad():
        for _ in range(3):
            g(torch.randn(32, 12))
    return save_generator(path, g.eval(), {"name": "tiny test generator", "training_data": "none (random)"})


@pytest.fixture
def latent_window(qtbot, settings, tmp_path, monkeypatch):
    monkeypatch.setenv("STUDIO_GAN_MODEL", str(_tiny_generator(tmp_path / "tiny.pt")))
    monkeypatch.setenv("STUDIO_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("STUDIO_MODELS_DIR", str(tmp_path / "models"))
    win = MainWindow(settings, workspaces=(LatentWorkspace,), load_demo=False)
    qtbot.addWidget(win)
    win.resize(1200, 800)
    win.show()
    qtbot.waitExposed(win)
    yield win
    win.close()


def _canvas_pixels(win: MainWindow) -> np.ndarray:
    img = win.canvas.before()
    assert img is not None
    return from_qimage(img)


def test_grid_click_sliders_and_undo_drive_the_picture(latent_window, qtbot) -> None:
    win = latent_window
    ws: LatentWorkspace = win.workspace("latent")
    panel = ws.panel()
    assert ws.gen is not None and ws.gen.name == "tiny test generator"
    first = ws.state().frame
    assert first is not None and first.shape == (512, 512, 3)  # 16 px enlarged 32x for the canvas
    assert np.array_equal(_canvas_pixels(win), first)
    # click the 6th sample of the grid (row 1, column 1)
    grid = panel.grid
    pm = grid.pixmap()
    scale = pm.width() / (GRID_COLS * 16 + (GRID_COLS + 1) * GRID_PAD)
    ox, oy = (grid.width() - pm.width()) / 2, (grid.height() - pm.height()) / 2
    cx = ox + (GRID_PAD + 1 * (16 + GRID_PAD) + 8) * scale
    cy = oy + (GRID_PAD + 1 * (16 + GRID_PAD) + 8) * scale
    qtbot.mouseClick(grid, Qt.MouseButton.LeftButton, pos=QPoint(int(cx), int(cy)))
    s = ws.state()
    assert s.choice == GRID_COLS + 1
    assert np.array_equal(s.z, ws.grid_latents(s.seed, None)[GRID_COLS + 1])
    chosen = s.frame
    assert not np.array_equal(chosen, first) and np.array_equal(_canvas_pixels(win), chosen)
    # the first principal-direction slider moves z by σ along direction 0
    panel.dir_sliders[0].setValue(2 * SIGMA_STEPS)
    dirs = ws.directions()
    assert np.allclose(ws.current_latent(), s.z + 2 * dirs.stdevs[0] * dirs.vectors[0], atol=1e-5)
    assert not np.array_equal(ws.state().frame, chosen)
    # a raw z coordinate
    panel.raw_index.setValue(3)
    panel.raw_slider.setValue(-15)
    z = ws.current_latent()
    assert z[3] == pytest.approx(s.z[3] + 2 * dirs.stdevs[0] * dirs.vectors[0][3] - 1.5, abs=1e-5)
    # undo goes back step by step to the chosen sample
    for _ in range(3):  # raw amount, raw coordinate, PC1
        ws.undo_stack.undo()
    assert np.array_equal(ws.state().frame, chosen)
    assert panel.dir_sliders[0].value() == 0
    # reshuffle: a new seed, a new grid
    panel.reshuffle.click()
    assert ws.state().seed == 1 and not np.array_equal(ws.state().z, s.z)


def test_the_chosen_sample_is_framed_sliders_show_values_and_edits_survive_another_choice(latent_window) -> None:
    ws: LatentWorkspace = latent_window.workspace("latent")
    panel = ws.panel()
    ws.choose(5)
    assert panel.grid.chosen == 5
    rect = panel.grid.chosen_rect()
    assert rect is not None and panel.grid.index_at(rect.center().x(), rect.center().y()) == 5
    panel.dir_sliders[1].setValue(15)
    assert panel.dir_values[1].text() == "+1.5σ"
    edited = ws.state().frame
    ws.choose(2)  # the edit is kept, applied to the new sample
    assert ws.state().directions[1] == 1.5 and panel.dir_sliders[1].value() == 15
    assert panel.grid.chosen == 2 and not np.array_equal(ws.state().frame, edited)
    ws.undo_stack.undo()
    assert panel.grid.chosen == 5 and np.array_equal(ws.state().frame, edited)
    # a generator whose card labels its directions names the sliders
    ws.gen.card["directions"] = {"settings": "6-1024-0", "labels": {"1": "turn head"}}
    ws.set_state(ws.state())
    ws._show(ws.state())
    assert panel.dir_labels[0].text() == "PC1 · turn head" and panel.dir_labels[1].text() == "PC2"


def test_interpolation_upscaling_and_export(latent_window, tmp_path, monkeypatch) -> None:
    ws: LatentWorkspace = latent_window.workspace("latent")
    panel = ws.panel()
    panel.set_a.click()
    za = ws.state().z_a
    ws.choose(3)
    panel.set_b.click()
    zb = ws.state().z_b
    assert panel.ab_slider.isEnabled()
    panel.ab_slider.setValue(AB_STEPS // 2)
    assert np.allclose(ws.current_latent(), slerp(za, zb, 0.5), atol=1e-6)
    assert latent_window.canvas.caption().startswith("Between A and B")
    assert ws.state().smooth  # smooth by default, not a pixel mosaic
    panel.upscaling.setCurrentIndex(0)  # nearest
    nearest = ws.state().frame
    panel.upscaling.setCurrentIndex(1)  # smooth
    assert ws.state().smooth and not np.array_equal(ws.state().frame, nearest)
    # blocks of identical pixels (nearest) vs. gradients (bicubic)
    assert len(np.unique(nearest[:32, :32].reshape(-1, 3), axis=0)) == 1
    assert len(np.unique(ws.state().frame[:32, :32].reshape(-1, 3), axis=0)) > 1
    png = ws.export_png(str(tmp_path / "pick.png"))
    recipe = read_recipe(png)
    assert recipe is not None and recipe.engine == "gan-latent" and recipe.params["ab_t"] == 0.5
    assert np.allclose(recipe.params["z"], ws.current_latent(), atol=1e-5)
    gif = ws.export_gif(str(tmp_path / "walk.gif"), frames=6)
    with Image.open(gif) as im:
        assert im.n_frames == 10  # 6 frames there and 4 back (boomerang)
    # the panel's frame count and speed, into the folder of the last export
    import studio.ui.latent.workspace as latent_ws

    panel.gif_frames.setValue(5)
    panel.gif_fps.setValue(4)
    asked: list[str] = []

    def save_name(parent, title, start, filt):
        asked.append(start)
        return str(tmp_path / "slow.gif"), filt

    monkeypatch.setattr(latent_ws.QFileDialog, "getSaveFileName", staticmethod(save_name))
    panel.export_gif.click()
    panel.export_gif.click()
    assert Path(asked[1]).parent == tmp_path  # the second dialog opens where the first one saved
    with Image.open(tmp_path / "slow.gif") as im:
        assert im.n_frames == 8 and im.info["duration"] == 250
    ws.save_latent(str(tmp_path / "z.npy"))
    ws.choose(0)
    assert latent_window.canvas.caption().startswith("Generator sample")
    ws.load_latent(str(tmp_path / "z.npy"))
    assert np.allclose(ws.current_latent(), slerp(za, zb, 0.5), atol=1e-6)
    # a loaded latent is no grid sample: the caption says so, as the grid's frame does
    assert latent_window.canvas.caption().startswith("Your latent") and panel.grid.chosen is None


def test_training_from_the_app_shows_live_grids_and_loads_the_result(latent_window, qtbot, tmp_path) -> None:
    win = latent_window
    ws: LatentWorkspace = win.workspace("latent")
    assert ws.run_blocker() is not None and not win.act_run.isEnabled()
    folder = tmp_path / "imgs"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(2):
        Image.fromarray(rng.integers(0, 255, (24, 24, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    ws.set_train_folder(str(folder))
    for name, value in (("size", 16), ("iterations", 4), ("ngf", 4), ("batch_size", 4), ("sample_every", 2),
                        ("sample_count", 4), ("nz", 8)):
        ws.set_train_field(name, value)
    assert ws.run_blocker() is None and win.act_run.isEnabled()
    previews = []
    win.runner.progress.connect(lambda job, p: previews.append(p.preview) if p.preview is not None else None)
    win.run()
    qtbot.waitUntil(lambda: not win.runner.is_running() and ws.gen is not None
                    and ws.gen.arch.nz == 8, timeout=60000)
    assert previews and previews[-1].ndim == 3  # sample grids reached the window
    assert ws.state().model_path.endswith("generator.pt") and Path(ws.state().model_path).is_file()
    assert ws.state().frame is not None


def test_an_opened_picture_is_fitted_by_run(latent_window, qtbot, tmp_path) -> None:
    from studio.engines.gan.latent import render, sample_latents
    from studio.imageio import load_image

    win = latent_window
    ws: LatentWorkspace = win.workspace("latent")
    target = render(ws.gen.model, sample_latents(1, 12, seed=123))[0]
    Image.fromarray(target).save(tmp_path / "mine.png")
    start = render(ws.gen.model, ws.current_latent())[0].astype(np.float32)
    assert ws.open_image(load_image(tmp_path / "mine.png"))
    assert ws.state().run_kind == "project" and ws.panel().run_kind.currentData() == "project"
    assert ws.run_blocker() is None
    # the canvas shows the picture to fit (it went on showing the last generator sample), while Export PNG still
    # saves the generator's picture, never the opened photo under a generator's recipe
    assert np.array_equal(from_qimage(win.canvas.before()), target)
    assert "mine.png" in win.canvas.caption() and "Run" in win.canvas.caption()
    exported = ws.export_png(str(tmp_path / "latent.png"))
    assert exported is not None and np.asarray(Image.open(exported)).shape != target.shape
    ws.set_run_kind("train")  # Run no longer fits it: the generator's picture comes back
    assert ws.before_image() is ws.state().frame and "mine.png" not in win.canvas.caption()
    ws.undo_stack.undo()
    assert "mine.png" in win.canvas.caption()
    before_z = ws.state().z
    win.run()
    qtbot.waitUntil(lambda: not win.runner.is_running() and ws.state().z is not before_z, timeout=60000)
    fitted = render(ws.gen.model, ws.current_latent())[0].astype(np.float32)
    t = target.astype(np.float32)
    assert np.mean((fitted - t) ** 2) < 0.5 * np.mean((start - t) ** 2)
    # the fit is this tab's result once the fitted latent is taken: shown, marked and exportable
    qtbot.wait(50)
    assert win.desk().result is not None and win.desk().result.spec.state is ws.state()
    assert win.act_export.isEnabled() and win.history.currentRow() == 0
    assert ws.state().target_view is None and "mine.png" not in ws.before_caption
    # the result is the picture as shown, enlarged as the samples are: the window's Export saves what the tab's
    # Export PNG saves (it saved the generator's 64 px, 1/8 of the side), and the zoom reads as for a sample
    main = win.export_result(str(tmp_path / "main.png"))
    tab = ws.export_png(str(tmp_path / "tab.png"))
    assert main is not None and tab is not None
    assert np.array_equal(np.asarray(Image.open(main))[..., :3], np.asarray(Image.open(tab))[..., :3])
    assert win.desk().result.pixels().shape[:2] == ws.state().frame.shape[:2]
    # a latent the loaded generator cannot take (another generator opened during the fit) keeps the engine's own
    # picture: the frame shown is not that fit's
    small = np.zeros((64, 64, 3), np.float32)
    wrong = np.zeros(ws.gen.arch.nz + 1, np.float32)
    assert ws.result_image(ws.state(), small, {"z": wrong}) is small
    assert ws.result_image(ws.state(), small, {}) is small  # a training's sample grid


def test_a_fitted_photo_keeps_its_detail_under_the_sliders_and_in_the_recipe_and_session(latent_window, qtbot,
                                                                                         tmp_path) -> None:
    """The fit's detail is part of the picture: shown on the canvas, kept while the sliders steer it, written in
    the recipe and the kept session, dropped (and the note hidden) when another sample is chosen; undo brings it
    back."""
    import base64

    from studio.engines.gan.latent import render, upscale
    from studio.imageio import LoadedImage, load_image
    from studio.session_codec import Decoder, encode

    win = latent_window
    ws: LatentWorkspace = win.workspace("latent")
    panel = ws.panel()
    rng = np.random.default_rng(0)
    Image.fromarray((rng.random((16, 16, 3)) * 255).astype(np.uint8)).save(tmp_path / "photo.png")
    assert ws.open_image(load_image(tmp_path / "photo.png"))
    assert not panel.fit_note.isVisible()
    before_z = ws.state().z
    win.run()
    qtbot.waitUntil(lambda: not win.runner.is_running() and ws.state().z is not before_z, timeout=60000)
    s = ws.state()
    assert s.detail is not None and s.detail.shape == (8, 8, 8)
    shown = render(ws.gen.model, s.z, detail=s.detail)[0]
    assert not np.array_equal(shown, render(ws.gen.model, s.z)[0])  # the detail is in the picture
    assert np.abs(s.frame.astype(int) - upscale(shown, 32, smooth=True)).max() <= 1  # folded generator: ±1 level
    assert panel.fit_note.isVisible() and "fitted to a photo" in ws.describe(s)
    # a slider steers the fitted face: the detail stays
    panel.dir_sliders[0].setValue(10)
    assert ws.state().detail is s.detail and panel.fit_note.isVisible()
    assert not np.array_equal(ws.state().frame, s.frame)
    assert win.canvas.caption().startswith("Your photo, fitted")
    assert panel.grid.chosen is None  # no grid sample is the picture shown
    recipe = read_recipe(ws.export_png(str(tmp_path / "fit.png")))
    assert recipe is not None
    kept = recipe.params["detail"]
    assert kept["shape"] == [8, 8, 8]
    numbers = np.frombuffer(base64.b64decode(kept["float16_base64"]), "<f2").reshape(8, 8, 8)
    assert np.allclose(numbers, s.detail, atol=2e-3 * max(1.0, float(np.abs(s.detail).max())))
    # switched off, the picture is the fitted latent alone (the generator's own face); back on, the photo again
    assert panel.keep_detail.isVisible() and panel.keep_detail.isChecked()
    steered = ws.state().frame
    panel.keep_detail.setChecked(False)
    alone = render(ws.gen.model, ws.current_latent())[0]
    assert np.abs(ws.state().frame.astype(int) - upscale(alone, 32, smooth=True)).max() <= 1
    assert ws.state().detail is s.detail and not panel.fit_note.isVisible()
    assert "its latent alone" in ws.describe(ws.state())
    assert win.canvas.caption().startswith("Your photo's latent alone")
    assert "detail" not in read_recipe(ws.export_png(str(tmp_path / "alone.png"))).params
    panel.keep_detail.setChecked(True)
    assert np.array_equal(ws.state().frame, steered) and panel.fit_note.isVisible()
    # the kept session holds it
    arrays: dict[str, np.ndarray] = {}

    def put(a: np.ndarray) -> str:
        arrays[str(len(arrays))] = a
        return str(len(arrays) - 1)

    back = Decoder({*ws.session_types, LoadedImage}, arrays.__getitem__).decode(encode(ws.state(), put))
    assert np.array_equal(back.detail, s.detail)
    # another sample: the photo's detail goes with its latent
    ws.choose(3)
    assert ws.state().detail is None and not panel.fit_note.isVisible() and not panel.keep_detail.isVisible()
    assert panel.grid.chosen == 3 and win.canvas.caption().startswith("Generator sample")
    assert "detail" not in read_recipe(ws.export_png(str(tmp_path / "other.png"))).params
    ws.undo_stack.undo()
    assert ws.state().detail is s.detail and panel.fit_note.isVisible()
    # a kept fit that does not suit the generator (another file at that path) is dropped with a word
    ws.set_state(replace(ws.state(), detail=np.zeros((3, 2, 2), np.float32)))
    assert ws.state().detail is None and ws.state().frame is not None


def test_training_can_be_given_a_time_limit_in_the_tab(latent_window, tmp_path) -> None:
    """The CLI had --max-seconds; the tab had no time field (a run went on for all its generator steps)."""
    ws: LatentWorkspace = latent_window.workspace("latent")
    p = ws.panel()
    assert ws.state().train.max_seconds is None and not p.train_minutes.isEnabled()
    p.train_time_limit.setChecked(True)
    assert ws.state().train.max_seconds == 30 * 60.0 and p.train_minutes.isEnabled()
    p.train_minutes.setValue(2.5)
    assert ws.state().train.max_seconds == 150.0
    assert not p.train_minutes.keyboardTracking()  # typing a number is one edit, not one a digit
    ws.undo_stack.undo()
    assert ws.state().train.max_seconds == 30 * 60.0 and p.train_minutes.value() == 30.0
    ws.undo_stack.undo()
    assert ws.state().train.max_seconds is None and not p.train_time_limit.isChecked()
    ws.undo_stack.redo()
    ws.undo_stack.redo()
    assert p.train_time_limit.isChecked() and p.train_minutes.value() == 2.5
    Image.fromarray(np.zeros((24, 24, 3), np.uint8)).save(tmp_path / "0.png")
    ws.set_train_folder(str(tmp_path))
    assert ws.make_job(latent_window.prefs).params.max_seconds == 150.0  # what the run gets
