"""The Translate workspace: apply a CycleGAN translator to a photo or a selection, or train one.

Run translates the image (tiled when large) and caches the raw translation; strength, colour keeping and
the selection are then re-blended from the cache at once (``blend``), without running the network again,
and the shell's current result follows (``MainWindow.refresh_result``). In training mode Run starts
``run_train`` as the background job: the canvas shows the sample grids as they come.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np
from PySide6.QtCore import QObject
from PySide6.QtWidgets import QFileDialog, QWidget

from studio import cyclegan_catalogue as catalogue
from studio.engines.cyclegan.infer import blend, run_translate
from studio.engines.cyclegan.params import TrainParams, TranslateParams
from studio.engines.cyclegan.train import check_two_folders
from studio.engines.errors import StudioInputError
from studio.engines.events import Event, Finished, Info, JobControl
from studio.selection import Selection, selection_mask
from studio.ui.job_runner import JobSpec
from studio.ui.translate.panel import TranslatePanel
from studio.ui.translate.selection_tool import SelectionTool
from studio.ui.workspace import Workspace, WorkspaceHost

if TYPE_CHECKING:
    from studio.ui.preferences import Preferences

log = logging.getLogger("studio.ui")


@dataclass(frozen=True)
class TrainSetup:
    dir_a: str = ""
    dir_b: str = ""
    name: str = "my_translator"
    minutes: float = 20.0
    crop_size: int = 128
    ngf: int = 32
    n_blocks: int = 6


@dataclass(frozen=True, eq=False)
class TranslateState:
    params: TranslateParams = field(default_factory=TranslateParams)
    image: Any | None = None  # studio.imageio.LoadedImage
    model: str = catalogue.DEFAULT_NAME
    mode: str = "translate"  # translate | train
    selection_mode: str = ""  # "" (whole image) | rect | ellipse | mask
    selection: Selection | None = None
    feather: float = 8.0
    mask: Any | None = None  # LoadedImage of a mask file
    train: TrainSetup = field(default_factory=TrainSetup)


def selection_missing(state: TranslateState) -> bool:
    """Whether "Apply to" asks for a selection (a rectangle, an ellipse, a mask file) the state does not have yet."""
    return (state.selection_mode in ("rect", "ellipse") and state.selection is None) or (
        state.selection_mode == "mask" and state.mask is None)


def state_mask(state: TranslateState) -> np.ndarray | None:
    """The soft selection mask of a state at the image's size, or None for the whole image."""
    if state.image is None:
        return None
    h, w = state.image.rgb.shape[:2]
    if state.selection_mode in ("rect", "ellipse") and state.selection is not None:
        return selection_mask(replace(state.selection, shape=state.selection_mode, feather=state.feather), h, w)
    if state.selection_mode == "mask" and state.mask is not None:
        m = cv2.resize(state.mask.rgb.mean(axis=2), (w, h), interpolation=cv2.INTER_AREA)
        if state.feather > 0:
            m = cv2.GaussianBlur(m, (0, 0), state.feather / 2.0)
        return np.clip(m, 0.0, 1.0).astype(np.float32)
    return None


class TranslateWorkspace(Workspace):
    name = "translate"
    title = "Translate"
    session_types = (TranslateState, TranslateParams, TrainSetup, TrainParams, Selection)
    engine = "translate"
    input_role = "the image to translate"

    @property
    def empty_canvas_text(self) -> str:  # type: ignore[override]
        if self._state.mode == "train":
            return "Run trains a translator on the two folders; its samples appear here as it learns"
        return Workspace.empty_canvas_text

    @property
    def before_caption(self) -> str:  # type: ignore[override]
        if self._state.mode == "train":
            return "Training: its samples appear here (rows: A, A translated, and back; B, B translated, and back)"
        return "Photo: choose a translator and press Run"

    @property
    def rerun_repeats(self) -> bool:  # type: ignore[override]
        """A translation made from these very settings is there already; a training is not: Run continues the
        run saved under its name, whose checkpoint moved on."""
        return self._state.mode != "train"

    @property
    def step_word(self) -> str:  # type: ignore[override]
        """Tiles for a translation, iterations for a training run: of the job made last."""
        return self._step_word

    def __init__(self, host: WorkspaceHost, parent: QObject | None = None) -> None:
        super().__init__(host, parent)
        self._step_word = "tile"
        models = catalogue.list_models()
        first = next((e.name for e in models if e.available), catalogue.DEFAULT_NAME)
        self._state = TranslateState(model=first)
        self._nets: dict[tuple[str, float], Any] = {}
        self._cache: tuple[tuple, np.ndarray] | None = None  # (key, raw translation)
        self._tool = SelectionTool(self._selection_drawn)
        p = self._panel = TranslatePanel()
        p.set_models(models)
        p.mode_changed.connect(lambda m: self.edit(replace(self._state, mode=m), "Mode"))
        p.open_image_clicked.connect(self._ask_image)
        p.model_chosen.connect(lambda m: self.edit(replace(self._state, model=m), "Model"))
        p.import_clicked.connect(self._ask_import)
        p.download_clicked.connect(self.download)
        p.strength_changed.connect(lambda v: self._params("Strength", "strength", strength=v))
        p.preserve_changed.connect(lambda v: self._params("Keep colours", None, preserve_colors=v))
        p.selection_mode_changed.connect(self._selection_mode)
        p.feather_changed.connect(lambda v: self.edit(replace(self._state, feather=v), "Soft edge", "feather"))
        p.tile_changed.connect(lambda v: self._params("Tile size", "tile", tile=v))
        p.norm_stats_changed.connect(lambda v: self._params("Tile statistics", None, norm_stats=v))
        p.train_field_changed.connect(self._train_field)
        p.choose_folder_clicked.connect(self._ask_folder)
        self._show(self._state)

    # Workspace ------------------------------------------------------------------------------------
    def panel(self) -> QWidget:
        return self._panel

    def set_state(self, state: TranslateState) -> None:
        super().set_state(state)
        self._reblend()

    def canvas_tool(self) -> Any:
        return self._tool

    def run_blocker(self) -> str | None:
        s = self._state
        if s.mode == "train":
            if not s.train.dir_a or not s.train.dir_b:
                return "Choose the two training folders (A: e.g. photos, B: e.g. paintings)."
            try:
                check_two_folders(s.train.dir_a, s.train.dir_b)
            except StudioInputError as exc:
                return str(exc)
            if not s.train.name:
                return "Give the model a name."
            return None
        if s.image is None:
            return "Open a photo first: File \u25b8 Open, or drop one on the canvas."
        entry = next((e for e in catalogue.list_models() if e.name == s.model), None)
        if entry is not None and not entry.available:
            if entry.kind == "default":
                return "studio's default translator is missing from this installation: choose or import another."
            return f"The model {s.model} is not downloaded yet: Download it, or Import its .pth file."
        if selection_missing(s):
            if s.selection_mode == "mask":
                return "Choose a mask file (or another Apply to)."
            return "Drag on the picture to select where to translate (or choose Whole image)."
        return None

    def make_job(self, prefs: Preferences) -> JobSpec:
        reason = self.run_blocker()
        if reason:
            raise ValueError(reason)
        if self._state.mode == "train":
            self._step_word = "iteration"
            return self._train_job(prefs)
        self._step_word = "tile"
        state = self._state
        params = state.params.with_changes(device=prefs.run_device)
        path = catalogue.resolve_model(state.model)
        key = self._cache_key(state, path)
        rgb = state.image.rgb
        mask = state_mask(state)
        cached = self._cache[1] if self._cache is not None and self._cache[0] == key else None
        inputs = [("image", str(state.image.path), str(state.image.sha256))]
        if cached is not None:
            def run_cached(control: JobControl) -> Iterator[Event]:
                yield Info("re-blended the cached translation (the network did not run again)")
                image = blend(rgb, cached, params.strength, params.preserve_colors, mask)
                yield Finished(image, False, 0, 0.0, extra={"params": params.to_dict(), "weights": str(path)})

            return JobSpec(self.name, self.engine, run_cached, params, state, tuple(inputs), title="Translate")
        net = self._generator(path)

        def run(control: JobControl) -> Iterator[Event]:
            for ev in run_translate(net, rgb, params, control, mask):
                if isinstance(ev, Finished):
                    extra = dict(ev.extra)
                    translation = extra.pop("translation", None)
                    if translation is not None and not ev.cancelled:
                        self._cache = (key, translation)
                    extra["weights"] = str(path)
                    ev = replace(ev, extra=extra)
                yield ev

        return JobSpec(self.name, self.engine, run, params, state, tuple(inputs), title="Translate")

    def before_image(self, state: TranslateState | None = None) -> np.ndarray | None:
        """The photo while translating; none while training, whose sample grids are not of the photo (its selection
        was drawn over them, at the photo's scale, and could be redrawn there)."""
        s = state or self._state
        return None if s.image is None or s.mode == "train" else s.image.rgb

    def result_state(self, job_state: TranslateState, extra: dict[str, Any]) -> TranslateState:
        if "run_dir" in extra:  # a training run: its model joins the list, and Run now continues it
            self._panel.set_models(catalogue.list_models())
            s = self._state
            self._panel.set_train_note(train_note(s.train) if s.mode == "train" else "")
        return job_state

    def describe(self, state: TranslateState) -> str:
        p = state.params
        if state.mode == "train":
            t = state.train
            return f"training {t.name}: {Path(t.dir_a).name} \u2192 {Path(t.dir_b).name}, {t.minutes:g} min"
        where = {"": "whole image", "rect": "rectangle", "ellipse": "ellipse", "mask": "mask"}[state.selection_mode]
        return (f"model {state.model} \u00b7 strength {p.strength:.0%}"
                + (" \u00b7 original colours" if p.preserve_colors else "") + f"\n{where}")

    def restore_recipe(self, params: dict[str, Any], inputs: list[tuple[str, str]]) -> str | None:
        try:
            new = TranslateParams.from_dict(params)
        except (TypeError, ValueError) as exc:
            return f"The recipe's settings could not be read ({exc})."
        self.edit(replace(self._state, params=new, mode="translate"), "Settings from a recipe")
        return "Restored the recipe's translation settings."

    def open_image(self, image: Any) -> bool:
        self.edit(replace(self._state, image=image, selection=None), "Image")
        return True

    def load_demo(self, content_path: str, style_path: str) -> None:
        image = self.host.load_image(content_path, "content", remember=False)
        if image is not None:
            self.set_state(replace(self._state, image=image))

    # re-blending ------------------------------------------------------------------------------------
    def _cache_key(self, state: TranslateState, path: Path) -> tuple:
        p = state.params
        mtime = path.stat().st_mtime if path.exists() else 0.0
        return (id(state.image), str(path), mtime, p.tile, p.overlap, p.norm_stats, p.stats_side)

    def cached_translation(self) -> np.ndarray | None:
        s = self._state
        if self._cache is None or s.image is None or s.mode != "translate":
            return None
        try:
            key = self._cache_key(s, catalogue.resolve_model(s.model))
        except StudioInputError:
            return None
        return self._cache[1] if self._cache[0] == key else None

    def _reblend(self) -> None:
        """Show the current strength / colours / selection at once from the cached translation."""
        translation = self.cached_translation()
        refresh = getattr(self.host, "refresh_result", None)
        if translation is None or refresh is None:
            return
        s = self._state
        if selection_missing(s):
            return  # the picture shown stays: re-blended, it was the whole photo translated
        image = blend(s.image.rgb, translation, s.params.strength, s.params.preserve_colors, state_mask(s))
        refresh(self.name, image, s, s.params.to_dict(), f"Strength {s.params.strength:.0%} (re-blended)")

    # editing --------------------------------------------------------------------------------------------
    def _show(self, state: TranslateState) -> None:
        self._panel.show_state(state)
        self._panel.set_train_note(train_note(state.train) if state.mode == "train" else "")
        drawing = state.mode == "translate" and state.selection_mode in ("rect", "ellipse")
        self._tool.shape = state.selection_mode if drawing else None  # none over a training's sample grids
        self._tool.feather = state.feather
        self._tool.selection = (replace(state.selection, shape=state.selection_mode)
                                if state.selection is not None and self._tool.shape else None)

    def _params(self, text: str, merge_key: str | None, **changes: Any) -> None:
        new = self._state.params.with_changes(**changes)
        if new != self._state.params:
            self.edit(replace(self._state, params=new), text, merge_key)

    def _selection_mode(self, mode: str) -> None:
        if mode == "mask" and self._state.mask is None:
            paths = self.host.ask_image_paths("mask")
            image = self.host.load_image(paths[0], "mask") if paths else None
            if image is None:
                self._show(self._state)
                return
            self.edit(replace(self._state, selection_mode="mask", mask=image), "Mask file")
            return
        self.edit(replace(self._state, selection_mode=mode), "Apply to")

    def _selection_drawn(self, sel: Selection | None) -> None:
        self.edit(replace(self._state, selection=sel), "Selection")

    def set_selection(self, sel: Selection | None, mode: str | None = None) -> None:
        self.edit(replace(self._state, selection=sel, selection_mode=mode or (sel.shape if sel else "")),
                  "Selection")

    def _train_field(self, name: str, value: Any) -> None:
        t = replace(self._state.train, **{name: value})
        if t != self._state.train:
            self.edit(replace(self._state, train=t), "Training settings", f"train:{name}")

    def _ask_image(self) -> None:
        paths = self.host.ask_image_paths("content")
        image = self.host.load_image(paths[0], "content") if paths else None
        if image is not None:
            self.open_image(image)

    def _ask_folder(self, which: str) -> None:
        folder = QFileDialog.getExistingDirectory(self._panel, f"Folder of domain {which.upper()} images")
        if folder:
            self._train_field(f"dir_{which}", folder)

    def _ask_import(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self._panel, "Import a CycleGAN generator", "",
                                              "PyTorch weights (*.pth *.pt)")
        if path:
            self.import_model(path)

    def import_model(self, path: str) -> str | None:
        try:
            dest = catalogue.import_model(path)
        except StudioInputError as e:
            self.host.notify(str(e), "error")
            return None
        self._panel.set_models(catalogue.list_models())
        self.edit(replace(self._state, model=dest.stem), "Model")
        self.host.notify(f"Imported {Path(path).name} as {dest.stem}.", "info")
        return dest.stem

    def download(self, name: str) -> bool:
        """Download an official model as a background job (progress under the picture, Stop cancels and
        keeps what arrived); once there it is chosen."""
        if not catalogue.network_available(timeout=2.0):
            self.host.notify(catalogue.no_network_message(name, "the Import .pth\u2026 button beside the list"),
                             "warning")
            return False
        from studio.download import download_job

        def done(_finished: Any) -> None:
            self._panel.set_models(catalogue.list_models())
            self.edit(replace(self._state, model=name), "Model")
            self.host.notify(f"Downloaded {name}.", "info")

        spec = JobSpec(self.name, "download", lambda control: download_job(
            lambda progress: catalogue.download(name, progress), name, control), self._state.params, self._state,
            title=f"Download {name}", keeps_result=False, on_finished=done)
        return self.host.start_task(spec) is not None

    def _generator(self, path: Path) -> Any:
        from studio.engines.cyclegan.io import load_generator

        key = (str(path), path.stat().st_mtime)
        net = self._nets.get(key)
        if net is None:
            net = load_generator(path)
            self._nets = {key: net}
        return net

    # training -----------------------------------------------------------------------------------------------
    def _train_job(self, prefs: Preferences) -> JobSpec:

        from studio.engines.cyclegan.train import run_train
        from studio.image_save import IMAGE_FILES

        t = self._state.train
        run_dir = catalogue.trained_dir() / catalogue.check_model_name(t.name, "trained")
        device = prefs.run_device
        params = train_params(t, saved_run(t), device)
        dir_a, dir_b = t.dir_a, t.dir_b

        def run(control: JobControl) -> Iterator[Event]:
            # decided when the job runs, after a job it replaces (Restart) has stopped and saved: that run goes on
            saved = saved_run(t)
            ignored = ignored_sizes(t, saved)
            if ignored:
                yield Info(f"continuing {t.name} with its own network sizes: {ignored}")
            yield from run_train(dir_a, dir_b, run_dir, train_params(t, saved, device), control,
                                 resume=saved is not None, files=IMAGE_FILES)

        return JobSpec(self.name, "train-cyclegan", run, params, self._state, (("A", dir_a, ""), ("B", dir_b, "")),
                       title=f"Train {t.name}")


def train_params(t: TrainSetup, saved: dict[str, Any] | None, device: str) -> TrainParams:
    """The parameters of a training run of the form ``t``; a continued run (``saved``: its options) keeps its
    network sizes."""
    sizes = {"ngf": t.ngf, "ndf": t.ngf, "n_blocks": t.n_blocks}
    if saved is not None:
        sizes = {k: saved.get(k, v) for k, v in sizes.items()}
    return TrainParams(**sizes, crop_size=t.crop_size, load_size=t.crop_size * 2, preprocess="scale_and_crop",
                       epochs=100, epochs_decay=100, max_seconds=t.minutes * 60, preview_every=10,
                       save_every_s=120, device=device)


def saved_run(t: TrainSetup) -> dict[str, Any] | None:
    """The options of the run saved under ``t.name`` (which Run continues), or None when there is none."""
    from studio.engines.cyclegan.train import has_checkpoint, read_run_options

    try:
        run_dir = catalogue.trained_dir() / catalogue.check_model_name(t.name, "trained")
    except StudioInputError:  # no name yet, or one Run refuses in a sentence
        return None
    if not has_checkpoint(run_dir):
        return None
    try:
        return read_run_options(run_dir)
    except StudioInputError:
        return {}


def ignored_sizes(t: TrainSetup, saved: dict[str, Any] | None) -> str:
    """The Width and Depth set in the form that a continued run does not use, in words ("" when none)."""
    if saved is None:
        return ""
    parts = []
    if "ngf" in saved and saved["ngf"] != t.ngf:
        parts.append(f"Width {saved['ngf']} (not {t.ngf})")
    if "n_blocks" in saved and saved["n_blocks"] != t.n_blocks:
        parts.append(f"{saved['n_blocks']} residual blocks (not {t.n_blocks})")
    return "; ".join(parts)


def train_note(t: TrainSetup) -> str:
    """What Run (and Restart during a training run) does with the name given: continue the run saved under it,
    with that run's sizes, or start a new one."""
    saved = saved_run(t)
    if saved is None:
        return ""
    note = (f"A run named {t.name} is saved: Run (and Restart) continues it, training on from where it stopped; give "
            "another name to start afresh.")
    ignored = ignored_sizes(t, saved)
    if ignored:
        note += f" It keeps its own sizes: {ignored}."
    return note
