"""The Harmonize workspace: paste an object into a painting, place it, and harmonize it (``run_harmonize``).

The state holds the painting, the object layer (cut-out + placement + soft edge), how the cut-out was
made (to edit its mask again), the loose-mask radius and the engine parameters. The naive composite
and the masks follow from it (``studio.compositing``) and are cached per painting and layer, so the
canvas shows the composite live as the object moves.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import QObject
from PySide6.QtWidgets import QWidget

from studio.compositing import ObjectLayer, Stroke, Transform, load_mask_file
from studio.engines.errors import StudioInputError
from studio.engines.events import Event, Finished, JobControl
from studio.engines.harmonize.params import LIVE_FIELDS, OWN_SIZE, HarmonizeParams
from studio.harmonize_document import (
    Composition,
    CompositionCache,
    Cutout,
    HarmonizeState,
    MaskEdit,
    alpha_layer,
    centre_changes,
    composition_record,
    cutout_layer,
    engine_params,
    has_transparency,
    placed_object,
    run_blocker,
    with_corrected_mask,
    with_feather,
    with_loose_radius,
    with_object,
    with_painting,
    with_transform,
)
from studio.progress import plural
from studio.recipe import COMPOSITION_KEY
from studio.ui.harmonize.canvas_tool import HarmonizeCanvasTool
from studio.ui.harmonize.mask_editor import MaskEditorDialog
from studio.ui.harmonize.panel import MODE_LABELS, HarmonizePanel
from studio.ui.job_runner import JobSpec
from studio.ui.workspace import Workspace, WorkspaceHost

if TYPE_CHECKING:
    from studio.ui.preferences import Preferences

log = logging.getLogger("studio.ui")

HarmonizeEngine = Callable[..., Iterator[Event]]


class HarmonizeWorkspace(Workspace):
    name = "harmonize"
    title = "Harmonize"
    engine = "harmonize"  # as the CLI's recipes name it
    input_role = "the painting"
    session_types = (HarmonizeState, HarmonizeParams, ObjectLayer, Transform, Cutout, MaskEdit, Stroke)

    def __init__(self, host: WorkspaceHost, parent: QObject | None = None,
                 engine: HarmonizeEngine | None = None) -> None:
        super().__init__(host, parent)
        self.run_engine = engine  # None: studio.engines.harmonize.run.run_harmonize
        self.show_masks = False
        self._state = HarmonizeState(HarmonizeParams())
        self._compositions = CompositionCache()
        self._tool = HarmonizeCanvasTool(self)
        self._panel = HarmonizePanel()
        p = self._panel
        p.params_edited.connect(self.edit_params)
        p.transform_edited.connect(lambda changes, text, key: self.set_transform(changes, text, key or None))
        p.composition_edited.connect(self._composition_edited)
        p.painting_files_dropped.connect(lambda paths: self.set_painting_path(paths[0]))
        p.object_files_dropped.connect(lambda paths: self.add_object_path(paths[0]))
        p.open_painting_clicked.connect(self._ask_painting)
        p.add_object_clicked.connect(self._ask_object)
        p.edit_mask_clicked.connect(self.edit_mask)
        p.remove_object_clicked.connect(self.remove_object)
        p.centre_clicked.connect(self.centre_object)
        p.show_masks_toggled.connect(self.set_show_masks)
        self._show(self._state)

    # Workspace --------------------------------------------------------------------------------
    empty_canvas_text = "Drop a painting here, or use File \u25b8 Open\u2026; then add an object to paste into it"

    @property
    def before_caption(self) -> str:  # type: ignore[override]
        if self._state.layer is None:
            return "The painting: add an object to paste into it"
        return "Naive composite: drag the object to place it, then press Run"

    network_auto_first = HarmonizeParams.AUTO_FIRST

    def runs_on_network(self, state: HarmonizeState | None = None) -> bool:
        return engine_params(state or self._state).needs_network

    def panel(self) -> QWidget:
        return self._panel

    def set_state(self, state: HarmonizeState) -> None:
        super().set_state(state)
        self._tool.refresh()

    def canvas_tool(self) -> HarmonizeCanvasTool:
        return self._tool

    def run_blocker(self) -> str | None:
        return run_blocker(self._state, self.composition())

    def make_job(self, prefs: Preferences) -> JobSpec:
        reason = self.run_blocker()
        if reason:
            raise ValueError(reason)
        state = self._state
        comp = self.composition(state)
        assert comp is not None
        params = engine_params(state).with_changes(device=prefs.run_device, weights=prefs.weights)
        painting = state.painting.rgb
        record = composition_record(state)
        engine = self.run_engine

        def events(control: JobControl) -> Iterator[Event]:  # on the worker thread
            if engine is not None:
                return engine(painting, comp.composite, comp.tight, comp.loose, params, control)
            from studio.engines.harmonize.run import run_harmonize
            from studio.weights import network_for

            network = network_for(params) if params.needs_network else None
            return run_harmonize(painting, comp.composite, comp.tight, comp.loose, params, control, network=network)

        def run(control: JobControl) -> Iterator[Event]:
            for ev in events(control):
                if isinstance(ev, Finished):  # the recipe also says where the object was placed
                    used = ev.extra.get("params")
                    merged = dict(used) if isinstance(used, dict) else params.to_dict()
                    merged[COMPOSITION_KEY] = record
                    ev = replace(ev, extra={**ev.extra, "params": merged})
                yield ev

        inputs = [("painting", str(state.painting.path), str(state.painting.sha256))]
        layer = state.layer
        if layer is not None and layer.source:
            inputs.append(("object", layer.source, layer.source_sha256))
        if state.cutout is not None and state.cutout.edit.mask_path:
            from studio.engines.files import file_sha256

            mask_path = state.cutout.edit.mask_path
            try:
                inputs.append(("mask", mask_path, file_sha256(mask_path)))
            except OSError:
                log.warning("hashing the mask file %s", mask_path)
        title = "Harmonize \u00b7 " + MODE_LABELS.get(params.mode, params.mode).split(" (")[0]
        return JobSpec(self.name, self.engine, run, params, state, tuple(inputs), title=title,
                       live=self.live_changes)

    def live_fields(self) -> frozenset[str]:
        return LIVE_FIELDS

    def live_changes(self, old: HarmonizeState, new: HarmonizeState) -> dict[str, Any]:
        return {f: getattr(new.params, f) for f in LIVE_FIELDS if getattr(old.params, f) != getattr(new.params, f)}

    def result_state(self, job_state: HarmonizeState, extra: dict[str, Any]) -> HarmonizeState:
        """The run's state with the style strength it ended with (moved while it ran)."""
        used = extra.get("params")
        tau = used.get("tau") if isinstance(used, dict) else None
        if not isinstance(tau, int | float) or tau == job_state.params.tau:
            return job_state
        return replace(job_state, params=job_state.params.with_changes(tau=float(tau)))

    def needs_restart(self, old: HarmonizeState, new: HarmonizeState) -> bool:
        if (old.painting is not new.painting or old.layer is not new.layer
                or old.loose_radius != new.loose_radius):
            return True
        return super().needs_restart(old, new)

    def before_image(self, state: HarmonizeState | None = None) -> np.ndarray | None:
        s = state or self._state
        if s.painting is None:
            return None
        comp = self.composition(s)
        return s.painting.rgb if comp is None else comp.composite

    def describe(self, state: HarmonizeState) -> str:
        p = state.params
        size = "the painting's resolution" if p.size == OWN_SIZE else f"{p.size} px"
        lines = [f"{MODE_LABELS.get(p.mode, p.mode)} \u00b7 style strength {p.tau:g} \u00b7 {size}"]
        if p.mode == "dph":
            lines.append(f"iterations {p.pass1_iterations} + {p.pass2_iterations} \u00b7 seed {p.seed}")
        elif p.mode == "gatys":
            lines.append(f"{plural(p.gatys_iterations, 'iteration')} \u00b7 seed {p.seed}")
        if state.painting is not None:
            lines.append(f"painting: {Path(str(state.painting.path)).name}")
        if state.layer is not None:
            t = state.layer.transform
            name = Path(state.layer.source).name if state.layer.source else "object"
            lines.append(f"object: {name} at ({t.x:.0f}, {t.y:.0f}), {t.scale * 100:.0f} %, {t.rotation:g}\u00b0"
                         + (" flipped" if t.flip_h or t.flip_v else ""))
        return "\n".join(lines)

    def restore_recipe(self, params: dict[str, Any], inputs: list[tuple[str, str]]) -> str | None:
        try:
            new_params = HarmonizeParams.from_recipe(params)
        except (TypeError, ValueError) as exc:
            return f"The recipe's settings could not be read ({exc})."
        s = self._state
        record = params.get(COMPOSITION_KEY) if isinstance(params.get(COMPOSITION_KEY), dict) else {}
        files = {role: path for role, path in inputs}
        missing = [Path(p).name for p in files.values() if not Path(p).is_file()]
        painting, layer, cutout = s.painting, s.layer, s.cutout
        loose_radius = float(record.get("loose_radius", s.loose_radius))
        note = "Restored the recipe's settings."
        if not missing and "painting" in files and "object" in files:
            loaded = self.host.load_image(files["painting"], "painting", remember=False)
            obj = self.host.load_image(files["object"], "object", remember=False)
            try:
                if loaded is not None and obj is not None:
                    mask = load_mask_file(files["mask"], obj.size) if "mask" in files else None
                    layer, cutout = placed_object(obj, record, mask, files.get("mask", ""))
                    painting = loaded
                    note = "Restored the settings, the painting and the placed object of the recipe."
            except StudioInputError as exc:
                note = f"Restored the recipe's settings; the object could not be placed again ({exc})"
        elif not missing and {"painting", "composite", "mask"} <= set(files):  # made by `studio harmonize`
            loaded = self.host.load_image(files["painting"], "painting", remember=False)
            comp = self.host.load_image(files["composite"], "object", remember=False)
            try:
                if loaded is not None and comp is not None:
                    mask = load_mask_file(files["mask"], comp.size)
                    layer, cutout = cutout_layer(comp, mask, MaskEdit(mask_path=files["mask"]))
                    painting = loaded  # the cut-out sits where it was in the composite
                    note = "Restored the settings, the painting and the object of the command line's recipe."
            except StudioInputError as exc:
                note = f"Restored the recipe's settings; the object could not be cut out again ({exc})"
        elif missing:
            note += " Its input images were not found (" + ", ".join(missing) + "): kept the current ones."
        self.edit(HarmonizeState(new_params, painting, layer, cutout, loose_radius), "Settings from a recipe")
        return note

    def open_image(self, image: Any) -> bool:
        """A cut-out (transparent PNG) becomes the object once there is a painting; else the painting."""
        if self._state.painting is not None and image.alpha is not None and float(image.alpha.min()) < 0.99:
            return self.add_object_image(image)
        self.set_painting(image)
        return True

    def load_demo(self, content_path: str, style_path: str) -> None:
        painting = self.host.load_image(style_path, "painting", remember=False)
        if painting is not None:
            self.set_state(replace(self._state, painting=painting))

    # composition ------------------------------------------------------------------------------
    def composition(self, state: HarmonizeState | None = None) -> Composition | None:
        """The naive composite and masks of ``state`` (cached per painting and layer)."""
        return self._compositions.get(state or self._state)

    # editing ----------------------------------------------------------------------------------
    def _show(self, state: HarmonizeState) -> None:
        self._panel.show_state(state.params, state.painting, state.layer,
                               state.cutout.photo if state.cutout is not None else None, state.loose_radius)

    def _composition_edited(self, changes: dict, text: str, merge_key: str) -> None:
        if "feather" in changes:
            self.set_feather(changes["feather"], merge_key)
        if "loose_radius" in changes:
            self.set_loose_radius(changes["loose_radius"], merge_key)

    def set_transform(self, changes: dict[str, Any], text: str = "Place the object",
                      merge_key: str | None = None) -> None:
        new = with_transform(self._state, changes)
        if new is not None:
            self.edit(new, text, merge_key)

    def move_object(self, dx: float, dy: float, merge_key: str | None = None) -> None:
        layer = self._state.layer
        if layer is not None:
            t = layer.transform
            self.set_transform({"x": t.x + dx, "y": t.y + dy}, "Move the object", merge_key)

    def set_feather(self, feather: float, merge_key: str | None = "feather") -> None:
        new = with_feather(self._state, feather)
        if new is not None:
            self.edit(new, "Soft edge", merge_key)

    def set_loose_radius(self, radius: float, merge_key: str | None = "loose_radius") -> None:
        new = with_loose_radius(self._state, radius)
        if new is not None:
            self.edit(new, "Loose mask", merge_key)

    def set_show_masks(self, on: bool) -> None:
        """A view setting, not an edit."""
        self.show_masks = bool(on)
        self._panel.show_masks.blockSignals(True)
        self._panel.show_masks.setChecked(self.show_masks)
        self._panel.show_masks.blockSignals(False)
        self._tool.refresh()

    def centre_object(self) -> None:
        changes = centre_changes(self._state)
        if changes is not None:
            self.set_transform(changes, "Centre the object")

    def set_painting(self, image: Any) -> None:
        self.edit(with_painting(self._state, image), "Painting")

    def set_painting_path(self, path: str) -> bool:
        image = self.host.load_image(path, "painting")
        if image is None:
            return False
        self.set_painting(image)
        return True

    def set_object(self, layer: ObjectLayer, cutout: Cutout | None = None, text: str = "Add the object") -> None:
        """Place a new object in the middle of the painting (an undoable edit)."""
        self.edit(with_object(self._state, layer, cutout), text)

    def add_object_image(self, image: Any) -> bool:
        """A PNG with transparency is placed at once; a photo opens the mask editor."""
        if has_transparency(image):
            try:
                layer, cutout = alpha_layer(image)
            except StudioInputError as exc:
                self.host.notify(str(exc), "error")
                return False
            self.set_object(layer, cutout)
            return True
        return self.cut_out(image)

    def add_object_path(self, path: str) -> bool:
        image = self.host.load_image(path, "object")
        return image is not None and self.add_object_image(image)

    def add_object_with_mask(self, photo_path: str, mask_path: str) -> bool:
        """A photo and a mask file of the same size (white: the object)."""
        photo = self.host.load_image(photo_path, "object")
        if photo is None:
            return False
        try:
            mask = load_mask_file(mask_path, photo.size)
            layer, cutout = cutout_layer(photo, mask, MaskEdit(mask_path=mask_path))
        except StudioInputError as exc:
            self.host.notify(str(exc), "error")
            return False
        self.set_object(layer, cutout)
        return True

    def make_mask_dialog(self, photo: Any, cutout: Cutout | None = None) -> MaskEditorDialog:
        """The mask editor for ``photo`` (tests drive it without exec)."""
        parent = self._panel.window()
        folder = str(Path(str(photo.path)).parent) if getattr(photo, "path", None) else ""
        if cutout is not None:
            return MaskEditorDialog(photo, cutout.edit, cutout.mask, parent, folder=folder)
        return MaskEditorDialog(photo, parent=parent, folder=folder)

    def apply_mask_dialog(self, dialog: MaskEditorDialog, photo: Any) -> bool:
        mask = dialog.mask()
        if mask is None:
            return False
        try:
            layer, cutout = cutout_layer(photo, mask, dialog.edit())
        except StudioInputError as exc:
            self.host.notify(str(exc), "error")
            return False
        corrected = with_corrected_mask(self._state, layer, cutout)
        if corrected is not None:
            self.edit(corrected, "Edit the object's mask")
        else:
            self.set_object(layer, cutout, "Add the object (cut out)")
        return True

    def cut_out(self, photo: Any, cutout: Cutout | None = None) -> bool:
        dialog = self.make_mask_dialog(photo, cutout)
        if dialog.exec() != MaskEditorDialog.DialogCode.Accepted:
            return False
        return self.apply_mask_dialog(dialog, photo)

    def edit_mask(self) -> bool:
        c = self._state.cutout
        return False if c is None else self.cut_out(c.photo, c)

    def remove_object(self) -> None:
        if self._state.layer is not None:
            self.edit(replace(self._state, layer=None, cutout=None), "Remove the object")

    def _ask_painting(self) -> None:
        paths = self.host.ask_image_paths("painting")
        if paths:
            self.set_painting_path(paths[0])

    def _ask_object(self) -> None:
        paths = self.host.ask_image_paths("object")
        if paths:
            self.add_object_path(paths[0])
