"""The Latent workspace: sample a generator, choose a picture, steer it with sliders; train generators.

The chosen picture is the workspace's "before" image, so the shell shows it large on the canvas and
every edit (a click on the grid, a slider step) is an undoable state change with a new frame.

Frames are rendered on the UI thread, synchronously. One generator forward pass of one latent at
64 px takes a few milliseconds on a CPU core (``benchmarks/bench_gan.py`` measures the whole path,
slider to canvas), well within a display frame; a worker thread would add a queue hop and stale
frames for nothing, and a slider drag already coalesces its events. Training is a background job
through the shell's one job runner, with live sample grids on the canvas.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QFileDialog, QWidget

from studio import __version__
from studio.engines.errors import StudioInputError
from studio.engines.events import Event, JobControl
from studio.latent_document import LatentState, compose_latent, latent_recipe, shown_detail, with_direction
from studio.ui.job_runner import JobSpec
from studio.ui.latent.panel import GIF_DEFAULT_FPS, GIF_DEFAULT_FRAMES, LatentPanel
from studio.ui.workspace import Workspace, WorkspaceHost

if TYPE_CHECKING:
    from studio.engines.gan.checkpoints import LoadedGenerator
    from studio.engines.gan.directions import Directions
    from studio.ui.preferences import Preferences

log = logging.getLogger("studio.ui")

GRID_COUNT = 16
GRID_COLS = 4
GRID_PAD = 2
N_DIRECTIONS = 6
DISPLAY_SIDE = 512  # the chosen picture is enlarged to about this many pixels for the canvas
DIRECTION_SAMPLES = 1024
GIF_FRAMES = GIF_DEFAULT_FRAMES
GIF_FPS = GIF_DEFAULT_FPS


class LatentWorkspace(Workspace):
    name = "latent"
    title = "Latent"
    engine = "gan-latent"
    input_role = "the picture to fit"

    @property
    def before_caption(self) -> str:  # type: ignore[override]
        s = self._state
        if s.target_view is not None and s.project_target is not None:
            name = Path(str(s.project_target.path)).name
            return f"The picture to fit, {name}: " + ("press Run" if self.gen is not None else "open a generator")
        if shown_detail(s) is not None:
            return "Your photo, fitted: move the sliders to steer it"
        if s.detail is not None:
            return "Your photo's latent alone (its detail off): move the sliders to steer it"
        if s.ab_t is not None and s.z_a is not None and s.z_b is not None:
            return "Between A and B: move the A \u2194 B slider to walk"
        if s.z is not None and self._grid_sample(s) is None:
            return "Your latent (loaded or fitted): move the sliders to steer it"
        return "Generator sample: click the grid, move the sliders"

    def _grid_sample(self, s: LatentState) -> int | None:
        """The grid sample the chosen latent is, or None (a loaded or fitted latent)."""
        grid = self._grid_z
        if s.z is not None and grid is not None and 0 <= s.choice < len(grid) and np.array_equal(s.z, grid[s.choice]):
            return s.choice
        return None

    @property
    def session_types(self) -> tuple[type, ...]:  # type: ignore[override]
        from studio.engines.gan.params import TrainGanParams
        from studio.engines.gan.project import ProjectParams  # imports torch: only when a session is read

        return (LatentState, TrainGanParams, ProjectParams)

    def __init__(self, host: WorkspaceHost, parent: QObject | None = None, model_path: str | None = None) -> None:
        super().__init__(host, parent)
        self.gen: LoadedGenerator | None = None
        self._loaded_path: str | None = None
        self._fast: Any = None
        self._detail_shape: tuple[int, ...] | None = None  # the shape a fitted detail has for this generator
        self._shown_grid: Any = None
        self._dirs: Directions | None = None
        self._grid_key: tuple[Any, ...] | None = None
        self._grid_z: np.ndarray | None = None
        self._grid_img: np.ndarray | None = None
        self._panel = LatentPanel(N_DIRECTIONS)
        self._state = LatentState()
        self._connect()
        self._load_initial(model_path)

    # set-up -----------------------------------------------------------------------------------
    def _connect(self) -> None:
        p = self._panel
        p.open_model_clicked.connect(self._ask_model)
        p.built_in_clicked.connect(self.load_model)
        p.sample_clicked.connect(self.choose)
        p.seed_changed.connect(self.set_seed)
        p.reshuffle_clicked.connect(self.reshuffle)
        p.truncation_changed.connect(lambda t: self.set_truncation(t if t > 0 else None))
        p.direction_changed.connect(self.set_direction)
        p.raw_index_changed.connect(self.set_raw_index)
        p.raw_amount_changed.connect(self.set_raw_amount)
        p.reset_edits_clicked.connect(self.reset_edits)
        p.set_a_clicked.connect(lambda: self.set_end("a"))
        p.set_b_clicked.connect(lambda: self.set_end("b"))
        p.ab_changed.connect(self.set_ab)
        p.ab_mode_changed.connect(lambda m: self._edit("Interpolation mode", ab_mode=m))
        p.smooth_changed.connect(lambda s: self._edit("Display upscaling", smooth=s))
        p.detail_toggled.connect(lambda on: self._edit("Photo detail " + ("on" if on else "off"), detail_on=on))
        p.export_png_clicked.connect(lambda: self._ask_save("PNG image (*.png)", ".png", self.export_png))
        p.export_gif_clicked.connect(lambda: self._ask_save(
            "Animated GIF (*.gif)", ".gif",
            lambda path: self.export_gif(path, p.gif_frames.value(), p.gif_fps.value())))
        p.save_latent_clicked.connect(lambda: self._ask_save("Latent (*.npy)", ".npy", self.save_latent))
        p.load_latent_clicked.connect(self._ask_load_latent)
        p.train_folder_clicked.connect(self._ask_train_folder)
        p.train_field_changed.connect(self.set_train_field)
        p.run_kind_changed.connect(self.set_run_kind)

    def _load_initial(self, model_path: str | None) -> None:
        try:
            from studio.generators import default_choice

            self.load_model(model_path or default_choice(), undoable=False)
        except StudioInputError as exc:
            log.info("no generator loaded: %s", exc)
            self._show(self._state)

    # Workspace --------------------------------------------------------------------------------
    def panel(self) -> QWidget:
        return self._panel

    def set_state(self, state: LatentState) -> None:
        if state.model_path != self._loaded_path:
            try:
                self._set_generator(state.model_path)
            except StudioInputError as exc:
                self.host.notify(str(exc), "error")
        if state.detail is not None and tuple(state.detail.shape) != self._detail_shape:
            self.host.notify("The kept photo fit does not suit this generator; showing its latent alone.", "info")
            state = self._with_frame(replace(state, detail=None))
        super().set_state(state)

    def run_blocker(self) -> str | None:
        s = self._state
        if s.run_kind == "project":
            if self.gen is None:
                return "Open a generator first."
            if s.project_target is None:
                return "Open a picture (File ▸ Open) to find the generator's closest image to it."
            return None
        if not s.train_folder:
            return "To train a generator, choose a folder of images (Train a generator section)."
        return None

    def open_image(self, image: Any) -> bool:
        """A picture opened in this tab: shown on the canvas, and Run will search the latent whose image comes
        closest to it (the canvas went on showing the last generator sample)."""
        from studio.engines.pixels import resize_long_side

        side = 2 * DISPLAY_SIDE
        rgb = image.rgb if max(image.rgb.shape[:2]) <= side else resize_long_side(image.rgb, side)
        shown = np.clip(rgb * 255.0 + 0.5, 0, 255).astype(np.uint8)
        self.edit(replace(self._state, project_target=image, run_kind="project", target_view=shown),
                  "Picture to fit")
        self.host.notify(f"Press Run to find the generator's closest picture to {Path(str(image.path)).name}.",
                         "info")
        return True

    def set_run_kind(self, kind: str) -> None:
        s = self._state  # the picture to fit goes off the canvas when Run no longer fits it
        self.edit(replace(s, run_kind=kind, target_view=s.target_view if kind == "project" else None), "Run does")

    def _project_job(self, prefs: Preferences) -> JobSpec:
        from studio.engines.device import resolve_device
        from studio.engines.gan.framing import FaceFraming
        from studio.engines.gan.project import ProjectParams, run_project

        state = self._state
        target = state.project_target
        model = self.gen.model if self.gen is not None else None
        framing = FaceFraming.from_card(self.gen.card) if self.gen is not None else None
        params = ProjectParams()

        device = resolve_device(prefs.run_device)

        def run(control: JobControl) -> Iterator[Event]:
            return run_project(model, target.rgb, params, control, device=device, framing=framing)

        return JobSpec(self.name, "gan-project", run, params, state,
                       (("target", str(target.path), str(target.sha256)),), title="Fit a picture")

    def make_job(self, prefs: Preferences) -> JobSpec:
        reason = self.run_blocker()
        if reason:
            raise ValueError(reason)
        if self._state.run_kind == "project":
            return self._project_job(prefs)
        from studio.engines.gan.train import run_train_gan
        from studio.image_save import IMAGE_FILES
        from studio.paths import models_dir

        state = self._state
        folder = state.train_folder
        params = state.train.with_changes(device=prefs.run_device, data_description=f"images under {Path(folder).name}")
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        out = models_dir() / "gan" / f"{Path(folder).name or 'images'}-{params.loss}-{params.size}px-{stamp}"

        def run(control: JobControl) -> Iterator[Event]:
            out.parent.mkdir(parents=True, exist_ok=True)
            return run_train_gan(folder, params, out, control, files=IMAGE_FILES, made_by=__version__)

        return JobSpec(self.name, "train-gan", run, params, state, (("images", folder, ""),),
                       title="Train a generator")

    def needs_restart(self, old: LatentState, new: LatentState) -> bool:
        return old.train_folder != new.train_folder or old.train != new.train

    def before_image(self, state: LatentState | None = None) -> np.ndarray | None:
        s = state or self._state
        return s.target_view if s.target_view is not None else s.frame


    def result_state(self, job_state: LatentState, extra: dict[str, Any]) -> LatentState:
        z = extra.get("z")
        if isinstance(z, np.ndarray) and self.gen is not None and z.shape == (self.gen.arch.nz,):
            d = extra.get("detail")
            fitted = self._with_frame(replace(self._state, z=z.astype(np.float32), directions=(), raw_amount=0.0,
                                              ab_t=None, detail_on=True,
                                              detail=d.astype(np.float32) if isinstance(d, np.ndarray) else None))
            # the tab takes the fitted latent as an undoable edit; its result is the one made of that state, so
            # the window goes on showing it (and Export saves it) once the edit lands
            QTimer.singleShot(0, lambda: self.edit(fitted, "Fitted latent"))
            return fitted
        path = extra.get("generator")
        if isinstance(path, str) and Path(path).is_file():
            self.host.notify(f"Training saved the generator to {path}; it is now loaded.", "info")
            QTimer.singleShot(0, lambda: self.load_model(path))
        return job_state

    def result_image(self, state: LatentState, image: Any, extra: dict[str, Any]) -> Any:
        """A fitted picture as the canvas shows it and the tab's Export PNG saves it: enlarged from the generator's
        size as the samples are (it was kept at 64 px, so Export saved 64 px where Export PNG saved 512)."""
        z = extra.get("z")
        if (isinstance(z, np.ndarray) and self.gen is not None and z.shape == (self.gen.arch.nz,)
                and state.frame is not None):  # the fit ``result_state`` took (not one for another generator)
            return state.frame.astype(np.float32) / 255.0
        return image

    def describe(self, state: LatentState) -> str:
        lines = [f"generator: {Path(state.model_path).name if state.model_path else 'default'}",
                 f"seed {state.seed} · sample {state.choice + 1}"]
        if state.detail is not None:
            lines[1] = "fitted to a photo, " + ("with its detail" if state.detail_on else "its latent alone")
        if any(state.directions):
            names = self.direction_labels()
            lines.append("directions: " + ", ".join(
                f"PC{i + 1}{' (' + names[i] + ')' if i in names else ''} {v:+.1f}σ"
                for i, v in enumerate(state.directions) if v))
        return "\n".join(lines)

    # the model --------------------------------------------------------------------------------
    def _set_generator(self, path: str) -> None:
        from studio.engines.gan.models import FusedGenerator, detail_shape
        from studio.generators import default_choice, load_named

        # "" (a session kept before the generators had names): the painting generator it was made with
        self.gen = load_named(path or default_choice(legacy=True))
        self._fast = FusedGenerator(self.gen.model)  # batch norms folded: the same pictures, faster
        self._detail_shape = detail_shape(self._fast)  # once a generator: set_state runs on every slider step
        self._loaded_path = path
        self._dirs = None
        self._grid_key = None

    def load_model(self, path: str, undoable: bool = True) -> None:
        """Use the generator at ``path`` (a file, or a built-in generator's name): a new grid, the first sample
        chosen."""
        try:
            self._set_generator(path)
        except StudioInputError as exc:
            if undoable:
                self.host.notify(str(exc), "error")
                return
            raise
        assert self.gen is not None
        z_grid = self.grid_latents(self._state.seed, self._state.truncation)
        new = replace(self._state, model_path=path, choice=0, z=z_grid[0].copy(), detail=None, directions=(),
                      raw_amount=0.0, z_a=None, z_b=None, ab_t=None,
                      raw_index=min(self._state.raw_index, self.gen.arch.nz - 1))
        new = self._with_frame(new)
        if undoable:
            self.edit(new, f"Open generator {self.gen.name}")
        else:
            self._state = new
            self._show(new)

    def direction_labels(self) -> dict[int, str]:
        """What the current generator's model card says its principal directions do (0-based)."""
        from studio.generators import direction_labels

        return {} if self.gen is None else direction_labels(self.gen.card, f"{N_DIRECTIONS}-{DIRECTION_SAMPLES}-0")

    def directions(self) -> Directions:
        """The principal directions of the current generator (computed once per weights, then cached)."""
        if self._dirs is None:
            from studio.engines.gan.directions import load_or_compute_directions
            from studio.paths import gan_directions_dir

            assert self.gen is not None
            t0 = time.perf_counter()
            self._dirs = load_or_compute_directions(self.gen.model, self.gen.weights_hash, N_DIRECTIONS,
                                                    DIRECTION_SAMPLES, cache=gan_directions_dir())
            log.info("directions in %.2f s (cached: %s)", time.perf_counter() - t0, self._dirs.from_cache)
        return self._dirs

    def grid_latents(self, seed: int, truncation: float | None) -> np.ndarray:
        from studio.engines.gan.latent import image_grid, render, sample_latents

        assert self.gen is not None
        key = (id(self.gen), seed, truncation)
        if key != self._grid_key or self._grid_z is None:
            self._grid_z = sample_latents(GRID_COUNT, self.gen.arch.nz, seed, truncation)
            self._grid_img = image_grid(render(self._fast, self._grid_z), GRID_COLS, GRID_PAD)
            self._grid_key = key
        return self._grid_z

    # rendering --------------------------------------------------------------------------------
    def current_latent(self, state: LatentState | None = None) -> np.ndarray | None:
        """The latent shown: the chosen one (or the A↔B point), with the slider edits applied."""
        s = state or self._state
        if s.z is None or self.gen is None:
            return None
        return compose_latent(s, self.directions() if any(s.directions) else None)

    def render_frame(self, state: LatentState) -> np.ndarray | None:
        """The shown picture, enlarged for the canvas (nearest or bicubic)."""
        from studio.engines.gan.latent import render, upscale

        z = self.current_latent(state)
        if z is None or self.gen is None:
            return None
        img = render(self._fast, z, detail=shown_detail(state))[0]
        factor = max(1, DISPLAY_SIDE // img.shape[0])
        return upscale(img, factor, smooth=state.smooth)

    def _with_frame(self, state: LatentState) -> LatentState:
        return replace(state, frame=self.render_frame(state), target_view=None)

    def _edit(self, text: str, merge_key: str | None = None, **changes: Any) -> None:
        if self.gen is None:
            return
        if "z" in changes:  # a fitted photo's detail belongs to the latent it was fitted with
            changes.setdefault("detail", None)
        new = self._with_frame(replace(self._state, **changes))
        self.edit(new, text, merge_key)

    def _show(self, state: LatentState) -> None:
        gen = self.gen
        if gen is None:
            self._panel.show_state(state, "No generator: open one, or train one below.", 1, 0)
            return
        card = gen.card
        bits = [f"<b>{gen.name}</b>", f"{gen.arch.image_size} px · nz {gen.arch.nz} · {gen.source_format}"]
        for key in ("training_data", "limits"):
            if card.get(key):
                text = str(card[key])
                bits.append(text[:120] + ("\u2026" if len(text) > 120 else ""))
        self._panel.set_direction_labels(self.direction_labels())
        self._panel.show_state(state, "<br>".join(bits), gen.arch.nz, N_DIRECTIONS)
        self.grid_latents(state.seed, state.truncation)
        assert self._grid_img is not None
        if self._shown_grid is not self._grid_img:  # a slider step keeps the grid
            h = w = gen.arch.image_size
            self._panel.grid.set_grid(self._grid_img, GRID_COUNT, h, w, GRID_COLS, GRID_PAD)
            self._shown_grid = self._grid_img
        # framed only while the picture is that sample's (not a loaded or fitted latent)
        self._panel.grid.set_chosen(self._grid_sample(state))

    # edits (the panel's signals) --------------------------------------------------------------
    def choose(self, index: int) -> None:
        if self.gen is None:
            return
        z = self.grid_latents(self._state.seed, self._state.truncation)
        # the slider edits stay, as edits of the new sample ("Reset sliders" drops them; Undo brings the old one)
        self._edit(f"Choose sample {index + 1}", choice=index, z=z[index].copy(), ab_t=None)

    def set_seed(self, seed: int) -> None:
        if self.gen is None:
            return
        z = self.grid_latents(seed, self._state.truncation)
        self._edit(f"Seed {seed}", "seed", seed=seed, choice=0, z=z[0].copy(), directions=(), raw_amount=0.0,
                   ab_t=None)

    def reshuffle(self) -> None:
        self.set_seed(self._state.seed + 1)

    def set_truncation(self, t: float | None) -> None:
        if self.gen is None:
            return
        z = self.grid_latents(self._state.seed, t)
        self._edit("Truncation", "truncation", truncation=t, z=z[self._state.choice].copy(), ab_t=None)

    def set_direction(self, index: int, sigma: float) -> None:
        self._edit(f"PC{index + 1}", f"pc{index}", directions=with_direction(self._state.directions, index, sigma))

    def set_raw_index(self, index: int) -> None:
        self._edit("Raw z coordinate", "raw-index", raw_index=int(index), raw_amount=0.0)

    def set_raw_amount(self, amount: float) -> None:
        self._edit(f"z[{self._state.raw_index}]", "raw-amount", raw_amount=float(amount))

    def reset_edits(self) -> None:
        self._edit("Reset sliders", directions=(), raw_amount=0.0)

    def set_end(self, which: str) -> None:
        z = self.current_latent()
        if z is None:
            return
        if which == "a":
            self._edit("Set A", z_a=z)
        else:
            self._edit("Set B", z_b=z)

    def set_ab(self, t: float) -> None:
        s = self._state
        if s.z_a is None or s.z_b is None:
            return
        self._edit("A \u2194 B", "ab", ab_t=float(t), directions=(), raw_amount=0.0)

    def set_train_field(self, name: str, value: Any) -> None:
        changes = {name: value}
        if name == "ngf":
            changes["ndf"] = value
        self.edit(replace(self._state, train=self._state.train.with_changes(**changes)), "Training setting")

    def set_train_folder(self, folder: str) -> None:
        self.edit(replace(self._state, train_folder=folder), "Training folder")

    # export -----------------------------------------------------------------------------------
    def recipe_text(self, what: str) -> dict[str, str]:
        assert self.gen is not None
        return latent_recipe(what, self._state, self.gen, self.current_latent()).to_png_text()

    def export_png(self, path: str) -> Path | None:
        from studio.image_save import save_image

        frame = self._state.frame
        if frame is None:
            return None
        return save_image(path, frame, metadata=self.recipe_text("gan-latent"))

    def export_gif(self, path: str, frames: int = GIF_FRAMES, fps: int = GIF_FPS) -> Path | None:
        from studio.animation import save_gif
        from studio.engines.gan.latent import interpolate, render, upscale

        s = self._state
        if self.gen is None or s.z_a is None or s.z_b is None:
            self.host.notify("Set both ends A and B first, then export the walk between them.", "info")
            return None
        imgs = render(self._fast, interpolate(s.z_a, s.z_b, frames, s.ab_mode))  # type: ignore[arg-type]
        factor = max(1, 256 // imgs.shape[1])
        return save_gif([upscale(f, factor, s.smooth) for f in imgs], path, fps=fps, boomerang=True)

    def save_latent(self, path: str) -> Path | None:
        from studio.engines.gan.latent import save_latents

        z = self.current_latent()
        return None if z is None else save_latents(path, z[None])

    def load_latent(self, path: str) -> None:
        from studio.engines.gan.latent import load_latents

        if self.gen is None:
            return
        try:
            z = load_latents(path, self.gen.arch.nz)
        except StudioInputError as exc:
            self.host.notify(str(exc), "error")
            return
        self._edit(f"Load latent {Path(path).name}", z=z[0].copy(), directions=(), raw_amount=0.0, ab_t=None)

    # dialogs ----------------------------------------------------------------------------------
    def _ask_save(self, filt: str, ext: str, action: Any) -> None:
        from studio.ui.settings import last_folder, remember_folder

        start = str(Path(last_folder(self.host.settings, "export")) / f"studio-latent{ext}")
        path, _ = QFileDialog.getSaveFileName(self._panel, "Save", start, filt)
        if not path:
            return
        remember_folder(self.host.settings, "export", path)
        if not path.lower().endswith(ext):
            path += ext
        try:
            written = action(path)
        except StudioInputError as exc:
            self.host.notify(str(exc), "error")
            return
        if written:
            self.host.notify(f"Saved {written}", "info")

    def _ask_load_latent(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self._panel, "Load latent", "", "Latent (*.npy)")
        if path:
            self.load_latent(path)

    def _ask_model(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self._panel, "Open generator", "",
                                              "Generators (*.pt *.pth *.pkl);;All files (*)")
        if path:
            self.load_model(path)

    def _ask_train_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self._panel, "Folder of training images")
        if folder:
            self.set_train_folder(folder)
