"""The Style workspace: the style panel plus the adapter to the Gatys engine (``run_style``)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import QObject
from PySide6.QtWidgets import QWidget

from studio.engines.events import Event, JobControl
from studio.engines.style.params import FADE_FIELDS, LIVE_FIELDS, StyleParams
from studio.progress import plural
from studio.ui.job_runner import JobSpec
from studio.ui.style.panel import StylePanel
from studio.ui.workspace import Workspace, WorkspaceHost

if TYPE_CHECKING:
    from studio.ui.preferences import Preferences

log = logging.getLogger("studio.ui")

StyleEngine = Callable[..., Iterator[Event]]
# Fields the shell takes from Preferences; they never make a run "out of date".


@dataclass(frozen=True, eq=False)
class StyleState:
    """Parameters and input images (``studio.imageio.LoadedImage``). Images compare by identity."""

    params: StyleParams
    content: Any | None = None
    styles: tuple[Any, ...] = ()

    def same_images(self, other: StyleState) -> bool:
        return self.content is other.content and len(self.styles) == len(other.styles) and all(
            a is b for a, b in zip(self.styles, other.styles, strict=True)
        )


def fit_blend(blend: tuple[float, ...] | None, count: int) -> tuple[float, ...] | None:
    """Keep ``style_blend`` one per style image (new images get weight 1)."""
    if blend is None or count <= 1:
        return None
    blend = tuple(blend[:count]) + (1.0,) * max(0, count - len(blend))
    return None if all(b == 1.0 for b in blend) else blend


class StyleWorkspace(Workspace):
    name = "style"
    title = "Style"
    engine = "stylize"  # as the CLI's recipes name it
    input_role = "the content photo"
    session_types = (StyleState, StyleParams)

    def __init__(self, host: WorkspaceHost, parent: QObject | None = None,
                 engine: StyleEngine | None = None) -> None:
        super().__init__(host, parent)
        self.run_engine = engine  # the engine generator; None: studio.engines.style.run.run_style
        self._state = StyleState(StyleParams())
        self._panel = StylePanel()
        p = self._panel
        p.params_edited.connect(self.edit_params)
        p.content_files_dropped.connect(lambda paths: self.set_content_path(paths[0]))
        p.style_files_dropped.connect(self.add_style_paths)
        p.open_content_clicked.connect(self._ask_content)
        p.add_style_clicked.connect(self._ask_styles)
        p.style_blend_edited.connect(self._blend_edited)
        p.remove_style_clicked.connect(self.remove_style)
        self.state_changed.connect(self._refade)
        self._show(self._state)

    # Workspace --------------------------------------------------------------------------------
    def panel(self) -> QWidget:
        return self._panel

    def run_blocker(self) -> str | None:
        s = self._state
        if s.content is None:
            return "Add a content photo first: drop one on the Content slot or use File \u25b8 Open."
        if not s.styles:
            return ("Add at least one style image: drop a painting on the Style images list "
                    "or click Add style\u2026")
        if not s.params.style_layers:
            return "Tick at least one style layer (Style layers section)."
        return None

    def make_job(self, prefs: Preferences) -> JobSpec:
        reason = self.run_blocker()
        if reason:
            raise ValueError(reason)
        return self._job(self._state, prefs, title="Style transfer")

    def _job(self, state: StyleState, prefs: Preferences, *, title: str, start: np.ndarray | None = None) -> JobSpec:
        params = state.params.with_changes(device=prefs.device, weights=prefs.weights)
        content = state.content.rgb
        styles = [s.rgb for s in state.styles]
        engine = self.run_engine

        def run(control: JobControl) -> Iterator[Event]:  # on the worker thread
            if engine is not None:
                return engine(content, styles, params, control, **({} if start is None else {"start": start}))
            from studio.engines.style.run import run_style
            from studio.weights import network_for

            return run_style(content, styles, params, control, network=network_for(params), start=start)

        inputs = [("content", str(state.content.path), str(state.content.sha256))]
        inputs += [("style", str(s.path), str(s.sha256)) for s in state.styles]
        return JobSpec(self.name, self.engine, run, params, state, tuple(inputs),
                       title=title, live=self.live_changes)

    # render at full size ----------------------------------------------------------------------
    def can_render_full_size(self, entry: Any) -> bool:
        """Whether ``entry`` is a style result of a photo that a full-size render can start from."""
        state = entry.spec.state if entry is not None else None
        return (isinstance(state, StyleState) and state.content is not None and bool(state.styles)
                and (isinstance(entry.extra.get("stylised"), np.ndarray) or state.params.strength >= 0.05))

    def full_size_start(self, entry: Any) -> np.ndarray | None:
        """The unfaded picture of a result of this tab to render at full size (None: not a style result)."""
        if not self.can_render_full_size(entry):
            return None
        state = entry.spec.state
        stylised = entry.extra.get("stylised")
        if isinstance(stylised, np.ndarray):
            return stylised
        from studio.engines.style.full_size import unfade  # a result kept from the last session: undo its fade

        p = state.params
        return unfade(entry.pixels(), state.content.rgb, p.strength, p.fade)

    def full_size_estimate(self, entry: Any, size: int) -> tuple[tuple[int, int], float | None]:
        """(h, w) of a full-size render of ``entry`` at long side ``size``, and the seconds it will take on this
        machine from the preview run's own speed (None when the result does not say)."""
        from studio.engines.style.full_size import Speed, estimate_seconds
        from studio.engines.style.run import scale_shapes

        state = entry.spec.state
        hw = scale_shapes(*state.content.rgb.shape[:2], size, 1)[-1]
        rate = entry.extra.get("seconds_per_megapixel")
        if not isinstance(rate, int | float) or rate <= 0 or not self.can_render_full_size(entry):
            return hw, None
        return hw, estimate_seconds(Speed(per_megapixel=float(rate)), hw, state.params.iterations, state.params.tile)

    def full_size_highest(self, entry: Any) -> int:
        """The longest side a full-size render of ``entry`` fits in this machine's memory, for its shape."""
        h, w = entry.spec.state.content.rgb.shape[:2]
        fit = int((StyleParams.most_pixels() * max(h, w) / min(h, w)) ** 0.5)
        return min(int(StyleParams.LIMITS["size"].highest), fit)

    def full_size_job(self, entry: Any, size: int, prefs: Preferences) -> JobSpec:
        """The job that renders the result ``entry`` of this tab at long side ``size`` (one final scale)."""
        start = self.full_size_start(entry)
        if start is None:
            raise ValueError("this result cannot be rendered at full size (it is not a style result of a photo)")
        state = replace(entry.spec.state, params=entry.spec.state.params.with_changes(size=int(size)))
        return self._job(state, prefs, title=f"Full size {size} px", start=start)

    def live_changes(self, old: StyleState, new: StyleState) -> dict[str, Any]:
        changes = {
            f: getattr(new.params, f)
            for f in LIVE_FIELDS
            if f != "style_blend" and getattr(old.params, f) != getattr(new.params, f)
        }
        if "style_layers" in changes or "style_layer_weights" in changes:
            changes["style_layers"] = new.params.style_layers
            changes["style_layer_weights"] = new.params.style_layer_weights
        if "style_blend" in LIVE_FIELDS and old.params.style_blend != new.params.style_blend and len(
            old.styles
        ) == len(new.styles):
            changes["style_blend"] = new.params.style_blend
        return changes

    def live_fields(self) -> frozenset[str]:
        return LIVE_FIELDS | FADE_FIELDS  # the fade never needs a run: it is applied to the finished picture

    def _refade(self, old: StyleState, new: StyleState) -> None:
        """A strength or fade change re-mixes this tab's shown result with its photo at once, without a run."""
        if old is None or not any(getattr(old.params, f) != getattr(new.params, f) for f in FADE_FIELDS):
            return
        result_of = getattr(self.host, "result_of", None)
        entry = result_of(self.name) if result_of is not None else None
        stylised = entry.extra.get("stylised") if entry is not None else None
        if stylised is None or entry.spec.state.content is None:
            return
        from studio.engines.style.fade import fade_to_photo

        image = fade_to_photo(stylised, entry.spec.state.content.rgb, new.params.strength, new.params.fade)
        used = dict(entry.extra.get("params") or {}, strength=new.params.strength, fade=new.params.fade)
        state = replace(entry.spec.state, params=entry.spec.state.params.with_changes(
            strength=new.params.strength, fade=new.params.fade))
        self.host.refresh_result(self.name, image, state, params=used,
                                 caption=f"strength {new.params.strength:.2f}")

    def needs_restart(self, old: StyleState, new: StyleState) -> bool:
        return not old.same_images(new) or super().needs_restart(old, new)

    def before_image(self, state: StyleState | None = None) -> np.ndarray | None:
        content = (state or self._state).content
        return None if content is None else content.rgb

    def result_state(self, job_state: StyleState, extra: dict[str, Any]) -> StyleState:
        used = extra.get("params")
        if not isinstance(used, dict):
            return job_state
        try:
            params = StyleParams.from_dict(used).with_changes(
                device=job_state.params.device, weights=job_state.params.weights
            )
        except (TypeError, ValueError):
            return job_state
        return replace(job_state, params=params)

    def describe(self, state: StyleState) -> str:
        p = state.params
        lines = [
            f"content weight {p.content_weight:g} \u00b7 style weight {p.style_weight:g}"
            f" \u00b7 smoothness {p.tv_weight:g}",
            f"{p.size} px \u00b7 {plural(p.iterations, 'iteration')} \u00b7 {plural(self._scale_count(state), 'scale')}"
            f" \u00b7 seed {p.seed}",
            f"style layers: {', '.join(p.style_layers)}",
        ]
        if state.content is not None:
            lines.append(f"content: {Path(str(state.content.path)).name}")
        if state.styles:
            lines.append("style: " + ", ".join(Path(str(s.path)).name for s in state.styles))
        return "\n".join(lines)

    @staticmethod
    def _scale_count(state: StyleState) -> int:
        """How many sizes a run of ``state`` goes through (``scales`` is the most; none under the start size)."""
        if state.content is None:
            return state.params.scales
        from studio.engines.style.run import scale_shapes

        p = state.params
        return len(scale_shapes(*state.content.rgb.shape[:2], p.size, p.scales, p.coarsest_side))

    def restore_recipe(self, params: dict[str, Any], inputs: list[tuple[str, str]]) -> str | None:
        try:
            new_params = StyleParams.from_recipe(params)
        except (TypeError, ValueError) as exc:
            return f"The recipe's settings could not be read ({exc})."
        regions = len(new_params.region_weights or ())
        new_params = new_params.with_changes(region_weights=None)  # the app paints no regions yet
        content, styles = self._state.content, self._state.styles
        missing: list[str] = []
        loaded_content, loaded_styles = None, []
        for role, path in inputs:
            if not Path(path).is_file():
                missing.append(Path(path).name)
                continue
            image = self.host.load_image(path, role, remember=False)
            if image is None:
                missing.append(Path(path).name)
            elif role == "content":
                loaded_content = image
            elif role == "style":
                loaded_styles.append(image)
        if not missing and loaded_content is not None and loaded_styles:
            content, styles = loaded_content, tuple(loaded_styles)
            note = "Restored the settings and the input images of the recipe."
        else:
            note = "Restored the recipe's settings."
            if missing:
                note += " Its input images were not found (" + ", ".join(missing) + "): kept the current ones."
        new_params = new_params.with_changes(style_blend=fit_blend(new_params.style_blend, len(styles)))
        self.edit(StyleState(new_params, content, styles), "Settings from a recipe")
        if regions:
            note += (f" It paints {regions} region{'s' if regions > 1 else ''}, which this tab cannot yet: a run here "
                     "styles the whole photo; 'studio stylize --recipe' re-runs it as it was made.")
        return note

    def open_image(self, image: Any) -> bool:
        self._set_content(image)
        return True

    def load_demo(self, content_path: str, style_path: str) -> None:
        content = self.host.load_image(content_path, "content", remember=False)
        style = self.host.load_image(style_path, "style", remember=False)
        if content is not None and style is not None:
            self.set_state(replace(self._state, content=content, styles=(style,)))

    # editing ----------------------------------------------------------------------------------
    def _show(self, state: StyleState) -> None:
        self._panel.show_params(state.params)
        self._panel.show_images(state.content, state.styles, state.params.style_blend)

    def _blend_edited(self, index: int, value: float) -> None:
        s = self._state
        blend = list(s.params.style_blend or (1.0,) * len(s.styles))
        if index >= len(blend):
            return
        blend[index] = value
        new_blend = None if all(b == 1.0 for b in blend) else tuple(blend)
        self.edit(replace(s, params=s.params.with_changes(style_blend=new_blend)), "Style blend", f"blend:{index}")

    def _set_content(self, image: Any) -> None:
        self.edit(replace(self._state, content=image), "Content photo")

    def set_content_path(self, path: str) -> bool:
        image = self.host.load_image(path, "content")
        if image is None:
            return False
        self._set_content(image)
        return True

    def add_style_paths(self, paths: Sequence[str]) -> int:
        images = [img for img in (self.host.load_image(p, "style") for p in paths) if img is not None]
        if not images:
            return 0
        s = self._state
        styles = s.styles + tuple(images)
        params = s.params.with_changes(style_blend=fit_blend(s.params.style_blend, len(styles)))
        self.edit(StyleState(params, s.content, styles),
                  "Add style image" if len(images) == 1 else f"Add {len(images)} style images")
        return len(images)

    def remove_style(self, index: int) -> None:
        s = self._state
        if not 0 <= index < len(s.styles):
            return
        styles = s.styles[:index] + s.styles[index + 1:]
        blend = s.params.style_blend
        if blend is not None:
            blend = fit_blend(blend[:index] + blend[index + 1:], len(styles))
        self.edit(StyleState(s.params.with_changes(style_blend=blend), s.content, styles), "Remove style image")

    def _ask_content(self) -> None:
        paths = self.host.ask_image_paths("content")
        if paths:
            self.set_content_path(paths[0])

    def _ask_styles(self) -> None:
        paths = self.host.ask_image_paths("style", multiple=True)
        if paths:
            self.add_style_paths(paths)
