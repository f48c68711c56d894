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
from studio.engines.style.params import FADE_FIELDS, LIVE_FIELDS, StyleParams, look_of
from studio.progress import plural
from studio.region_paint import PaintedRegion
from studio.ui.job_runner import JobSpec
from studio.ui.style.panel import StylePanel
from studio.ui.style.region_tool import RegionCanvasTool
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
    # the regions painted over the photo (``studio.region_paint``), each with its painting or the photo kept
    regions: tuple[PaintedRegion, ...] = ()

    def same_images(self, other: StyleState) -> bool:
        return self.content is other.content and len(self.styles) == len(other.styles) and all(
            a is b for a, b in zip(self.styles, other.styles, strict=True)
        ) and same_region_masks(self.regions, other.regions)

    def region_weights(self) -> tuple[float, ...] | None:
        """The regions' weights as the engine takes them (None: no region)."""
        used = self.used_regions()
        return tuple(float(r.weight) for r in used) if used else None

    def used_regions(self) -> tuple[PaintedRegion, ...]:
        """The regions a run paints: those with something painted in their mask."""
        return tuple(r for r in self.regions if not r.is_empty())


def same_region_masks(a: tuple[PaintedRegion, ...], b: tuple[PaintedRegion, ...]) -> bool:
    """Whether two sets of regions paint the same places with the same paintings (weights aside)."""
    return len(a) == len(b) and all(x.mask is y.mask and x.painting is y.painting for x, y in zip(a, b, strict=True))


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
    session_types = (StyleState, StyleParams, PaintedRegion)

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
        r = p.regions
        r.new_clicked.connect(self._new_region_clicked)
        r.delete_clicked.connect(self.remove_region)
        r.invert_clicked.connect(self.invert_region)
        r.mask_file_clicked.connect(self._ask_region_mask)
        r.painting_clicked.connect(self._ask_region_painting)
        r.keep_clicked.connect(lambda i: self.set_region_painting(i, None))
        r.weight_edited.connect(self.set_region_weight)
        r.visible_toggled.connect(self.set_region_visible)
        self._tool = RegionCanvasTool(self, r.tools)
        r.tools_changed.connect(self._tool.refresh)
        self.state_changed.connect(lambda *_: self._tool.refresh())
        self.state_changed.connect(self._refade)
        self._show(self._state)

    # Workspace --------------------------------------------------------------------------------
    def panel(self) -> QWidget:
        return self._panel

    def canvas_tool(self) -> RegionCanvasTool:
        return self._tool

    def run_blocker(self) -> str | None:
        s = self._state
        if s.content is None:
            return "Add a content photo first: drop one on the Content slot or use File \u25b8 Open."
        if not s.styles and not self._regions_cover(s):
            return ("Add at least one style image: drop a painting on the Style images list "
                    "or click Add style\u2026" + (" (the regions leave part of the photo to it)" if s.regions else ""))
        if not s.params.style_layers:
            return "Tick at least one style layer (Style layers section)."
        return None

    def make_job(self, prefs: Preferences) -> JobSpec:
        reason = self.run_blocker()
        if reason:
            raise ValueError(reason)
        return self._job(self._state, prefs, title="Style transfer")

    @staticmethod
    def _regions_cover(state: StyleState) -> bool:
        """Whether the painted regions cover the whole photo (the style images are then not needed)."""
        used = state.used_regions()
        if not used:
            return False
        total = sum(r.mask.astype(np.float32) for r in used)
        return bool(np.min(total) >= 0.99 * 255)

    def runs_on_network(self, state: Any | None = None) -> bool:
        return True

    def kept_network(self, state: Any | None = None) -> str | None:
        weights = (state or self._state).params.weights
        return None if weights in ("", "auto") else weights

    def networks_changed(self) -> None:
        self._panel.list_networks()

    def _job(self, state: StyleState, prefs: Preferences, *, title: str, start: np.ndarray | None = None) -> JobSpec:
        from studio.engines.style.regions import Region
        from studio.style_regions import encode_mask, painting_role

        used = state.used_regions()
        # the network the tab keeps (a recipe's, so a re-run repeats it), else the Preferences'
        weights = self.kept_network(state) or prefs.weights
        params = state.params.with_changes(device=prefs.run_device, weights=weights,
                                           region_weights=state.region_weights())
        content = state.content.rgb
        styles = [s.rgb for s in state.styles]
        regions = [Region(mask=r.float_mask(), style=None if r.painting is None else r.painting.rgb, name=r.name)
                   for r in used]
        engine = self.run_engine
        extra: dict[str, Any] = {} if start is None else {"start": start}
        if regions:
            extra["regions"] = regions

        def run(control: JobControl) -> Iterator[Event]:  # on the worker thread
            if engine is not None:
                return engine(content, styles, params, control, **extra)
            from studio.engines.style.run import run_style
            from studio.weights import network_for

            return run_style(content, styles, params, control, network=network_for(params), **extra)

        inputs = [("content", str(state.content.path), str(state.content.sha256))]
        inputs += [("style", str(s.path), str(s.sha256)) for s in state.styles]
        inputs += [(painting_role(i), str(r.painting.path), str(r.painting.sha256))
                   for i, r in enumerate(used) if r.painting is not None]
        recipe_regions = tuple({"name": r.name, "mask": encode_mask(r.float_mask()), "keep": r.keeps_photo,
                                "painting_mask": None} for r in used)
        return JobSpec(self.name, self.engine, run, params, state, tuple(inputs),
                       title=title, live=self.live_changes, regions=recipe_regions)

    def result_name(self, entry: Any) -> str:
        """A style run is named by its paintings in the strip ("the_scream", "starry_night + wave"): every one was
        "Style transfer", and two paintings' runs differed only in their thumbnails."""
        state = entry.spec.state
        if entry.spec.title != "Style transfer" or not isinstance(state, StyleState) or not state.styles:
            return ""
        names = [Path(str(s.path)).stem for s in state.styles]
        return names[0] + (f" + {names[1]}" if len(names) == 2 else f" + {len(names) - 1}" if len(names) > 2 else "")

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
        from studio.ui.preferences import resolved_device

        state = entry.spec.state
        hw = scale_shapes(*state.content.rgb.shape[:2], size, 1)[-1]
        rate = entry.extra.get("seconds_per_megapixel")
        if not isinstance(rate, int | float) or rate <= 0 or not self.can_render_full_size(entry):
            return hw, None
        # the device the preview ran on (the Preferences' then, in the job's parameters; the state keeps "auto")
        return hw, estimate_seconds(Speed(per_megapixel=float(rate)), hw, state.params.iterations, state.params.tile,
                                    resolved_device(getattr(entry.spec.params, "device", "auto")))

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
        spec = self._job(state, prefs, title=f"Full size {size} px", start=start)

        def remake(again: Preferences) -> JobSpec:  # the same render, with what the user changed while it ran
            current = self._state.params
            moved = {f: getattr(current, f) for f in LIVE_FIELDS - {"style_blend", "region_weights"}}  # the render's
            # own paintings and regions may be others than the tab's now: their weights stay the render's
            params = entry.spec.state.params.with_changes(**moved)
            return self.full_size_job(replace(entry, spec=replace(entry.spec, state=replace(
                entry.spec.state, params=params))), size, again)

        return replace(spec, remake=remake)

    def live_changes(self, old: StyleState, new: StyleState) -> dict[str, Any]:
        changes = {
            f: getattr(new.params, f)
            for f in LIVE_FIELDS
            if f not in ("style_blend", "region_weights") and getattr(old.params, f) != getattr(new.params, f)
        }
        if same_region_masks(old.regions, new.regions) and old.region_weights() != new.region_weights():
            changes["region_weights"] = new.region_weights()
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
        if state.params == new.params and state.same_images(new) and state.regions == new.regions:
            state = new  # the tab's own state: choosing the entry later is no edit (a "Restore" that did nothing)
        self.host.refresh_result(self.name, image, state, params=used,
                                 caption=f"strength {new.params.strength:.2f}")

    def result_shown(self) -> None:
        """A strength or fade moved while the run ran (the running job does not take them, and the shown result
        could not be re-mixed then): the finished picture takes them now, as the panel shows them."""
        result_of = getattr(self.host, "result_of", None)
        entry = result_of(self.name) if result_of is not None else None
        if entry is not None and isinstance(entry.spec.state, StyleState):
            self._refade(entry.spec.state, self._state)

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
        look = look_of(p)
        lines.append(f"made for {look}s" if look else
                     f"photo detail {p.photo_detail:g} \u00b7 coarse sizes hold photo {p.coarse_content:g}\u00d7")
        if state.content is not None:
            lines.append(f"content: {Path(str(state.content.path)).name}")
        if state.styles:
            lines.append("style: " + ", ".join(Path(str(s.path)).name for s in state.styles))
        if state.used_regions():
            from studio.ui.style.regions_section import region_label

            lines += [region_label(r) for r in state.used_regions()]
        return "\n".join(lines)

    @staticmethod
    def _scale_count(state: StyleState) -> int:
        """How many sizes a run of ``state`` goes through (``scales`` is the most; none under the start size)."""
        if state.content is None:
            return state.params.scales
        from studio.engines.style.run import scale_shapes

        p = state.params
        return len(scale_shapes(*state.content.rgb.shape[:2], p.size, p.scales, p.coarsest_side))

    def restore_recipe(self, params: dict[str, Any], inputs: list[tuple[str, str]],
                       regions: list[dict[str, Any]] | None = None) -> str | None:
        from studio.style_regions import painting_role

        try:
            new_params = StyleParams.from_recipe(params)
        except (TypeError, ValueError) as exc:
            return f"The recipe's settings could not be read ({exc})."
        weights = new_params.region_weights or ()
        new_params = new_params.with_changes(region_weights=None)  # the regions carry their own weights
        content, styles = self._state.content, self._state.styles
        missing: list[str] = []
        loaded_content, loaded_styles, paintings = None, [], {}
        for role, path in inputs:
            if not Path(path).is_file():
                missing.append(Path(path).name)
                continue
            image = self.host.load_image(path, role if role in ("content", "style") else "style", remember=False)
            if image is None:
                missing.append(Path(path).name)
            elif role == "content":
                loaded_content = image
            elif role == "style":
                loaded_styles.append(image)
            else:
                paintings[role] = image
        complete = not missing and loaded_content is not None and (loaded_styles or regions)
        if complete:
            content, styles = loaded_content, tuple(loaded_styles)
            note = "Restored the settings and the input images of the recipe."
        else:
            note = "Restored the recipe's settings."
            if missing:
                note += " Its input images were not found (" + ", ".join(missing) + "): kept the current ones."
        entries = regions or []
        by_index = {i: paintings.get(painting_role(i)) for i in range(len(entries))}
        painted, region_note = self._recipe_regions(entries, weights, content if complete else None, by_index)
        new_params = new_params.with_changes(style_blend=fit_blend(new_params.style_blend, len(styles)))
        self.edit(StyleState(new_params, content, styles, painted if complete else self._state.regions),
                  "Settings from a recipe")
        return note + region_note

    def _recipe_regions(self, entries: list[dict[str, Any]], weights: tuple[float, ...], content: Any | None,
                        paintings: dict[int, Any]) -> tuple[tuple[PaintedRegion, ...], str]:
        """A recipe's regions as the tab paints them, and a sentence about them for the user."""
        if not entries:
            return (), ""
        if content is None:
            return (), (f" Its {len(entries)} region{'s' if len(entries) > 1 else ''} need its photo and paintings, "
                        "which were not opened: kept the current regions.")
        from studio.engines.errors import StudioInputError
        from studio.region_paint import COLOURS
        from studio.style_regions import MAX_REGIONS, decode_mask, fit_mask, region_name

        out: list[PaintedRegion] = []
        hw = content.rgb.shape[:2]
        if not isinstance(entries, list) or len(entries) > MAX_REGIONS:
            return (), f" It holds a list of regions studio does not write (at most {MAX_REGIONS}): they were left out."
        try:
            for i, e in enumerate(entries):
                if not isinstance(e, dict) or not isinstance(e.get("keep"), bool):
                    return (), f" Its region {i + 1} is damaged: the regions were left out."
                name = region_name(e.get("name"), i)
                mask = fit_mask(decode_mask(e.get("mask"), f"the mask of {name}"), hw, f"mask of {name}", "the photo")
                keep = bool(e.get("keep"))
                painting = None if keep else paintings.get(i)
                if not keep and painting is None:
                    return (), f" The painting of {name} was not found: the regions were left out."
                out.append(PaintedRegion(name=name, mask=(np.clip(mask, 0, 1) * 255 + 0.5).astype(np.uint8),
                                         painting=painting, weight=float(weights[i]) if i < len(weights) else 1.0,
                                         colour=i % len(COLOURS)))
        except StudioInputError as exc:
            return (), f" {str(exc)[:1].upper() + str(exc)[1:]} The regions were left out."
        unused = [out[i].name for i, e in enumerate(entries) if e.get("painting_mask") is not None]
        return tuple(out), (f" It paints {len(out)} region{'s' if len(out) > 1 else ''}, restored in the Regions "
                            "section." + (f" The painting masks of {', '.join(unused)} (made on the command line, "
                                          "which uses them) are not used here: each region takes its whole painting."
                                          if unused else ""))

    def open_image(self, image: Any) -> bool:
        self._set_content(image)
        return True

    def load_demo(self, content_path: str, style_path: str) -> None:
        content = self.host.load_image(content_path, "content", remember=False)
        style = self.host.load_image(style_path, "style", remember=False)
        if content is not None and style is not None:
            self.set_state(replace(self._state, content=content, styles=(style,)))

    # regions ----------------------------------------------------------------------------------
    def add_region(self) -> int:
        """A new empty region (it keeps the photo until a painting is chosen); its index, or -1 without a photo."""
        from studio.region_paint import new_region
        from studio.style_regions import MAX_REGIONS

        s = self._state
        if s.content is None:
            self.host.notify("Open a photo first: regions are painted over it.", "warning")
            return -1
        if len(s.regions) >= MAX_REGIONS:
            self.host.notify(f"A run paints at most {MAX_REGIONS} regions.", "warning")
            return -1
        region = new_region(s.regions, s.content.rgb.shape[:2])
        self.edit(replace(s, regions=s.regions + (region,)), f"New {region.name}")
        return len(s.regions)

    def _region_edit(self, index: int, region: PaintedRegion | None, text: str, merge_key: str | None = None) -> None:
        s = self._state
        if not 0 <= index < len(s.regions):
            return
        regions = list(s.regions)
        if region is None:
            del regions[index]
        else:
            regions[index] = region
        self.edit(replace(s, regions=tuple(regions)), text, merge_key)

    def remove_region(self, index: int) -> None:
        if 0 <= index < len(self._state.regions):
            self._region_edit(index, None, f"Delete {self._state.regions[index].name}")

    def paint_region(self, index: int, layer: np.ndarray, mode: str, text: str) -> None:
        """Put ``layer`` (coverage in [0, 1] at the photo's size) into region ``index``'s mask: one undo step."""
        from studio.region_paint import combine

        s = self._state
        if not 0 <= index < len(s.regions) or layer.shape != s.regions[index].mask.shape:
            return
        r = s.regions[index]
        self._region_edit(index, r.with_mask(combine(r.mask, layer, mode)), f"{text} ({r.name})")  # type: ignore[arg-type]

    def invert_region(self, index: int) -> None:
        from studio.region_paint import invert

        if 0 <= index < len(self._state.regions):
            r = self._state.regions[index]
            self._region_edit(index, r.with_mask(invert(r.mask)), f"Invert {r.name}")

    def region_from_file(self, index: int, path: str) -> bool:
        """Region ``index``'s mask from an image file (white: in the region), resized to the photo."""
        from studio.engines.errors import StudioInputError
        from studio.imageio import load_mask
        from studio.style_regions import MAX_MASK_SIDE, fit_mask

        s = self._state
        if not 0 <= index < len(s.regions) or s.content is None:
            return False
        try:
            mask, _ = load_mask(path, f"mask {Path(path).name}", max_side=MAX_MASK_SIDE)
            mask = fit_mask(mask, s.content.rgb.shape[:2], f"mask {Path(path).name}", "the photo")
        except (StudioInputError, OSError) as exc:
            self.host.notify(str(exc)[:1].upper() + str(exc)[1:], "warning")
            return False
        r = s.regions[index]
        self._region_edit(index, r.with_mask((np.clip(mask, 0, 1) * 255 + 0.5).astype(np.uint8)),
                          f"Mask of {r.name} from {Path(path).name}")
        return True

    def set_region_painting(self, index: int, path: str | None) -> bool:
        """Region ``index`` painted with the painting at ``path``, or keeping the photo (None)."""
        s = self._state
        if not 0 <= index < len(s.regions):
            return False
        r = s.regions[index]
        if path is None:
            self._region_edit(index, replace(r, painting=None), f"{r.name} keeps the photo")
            return True
        image = self.host.load_image(path, "style")
        if image is None:
            return False
        self._region_edit(index, replace(r, painting=image), f"Painting of {r.name}")
        return True

    def set_region_weight(self, index: int, weight: float) -> None:
        if 0 <= index < len(self._state.regions):
            r = self._state.regions[index]
            w = float(np.clip(weight, 0.0, 1000.0))
            if w != r.weight:
                self._region_edit(index, replace(r, weight=w), f"Weight of {r.name}", f"region-weight:{index}")

    def set_region_visible(self, index: int, visible: bool) -> None:
        """Show or hide a region's overlay (no undo step: it changes nothing a run makes)."""
        if 0 <= index < len(self._state.regions):
            regions = list(self._state.regions)
            regions[index] = replace(regions[index], visible=bool(visible))
            self.set_state(replace(self._state, regions=tuple(regions)))

    # editing ----------------------------------------------------------------------------------
    def _show(self, state: StyleState) -> None:
        self._panel.show_params(state.params)
        self._panel.show_images(state.content, state.styles, state.params.style_blend)
        self._panel.regions.show_regions(state.regions)

    def _new_region_clicked(self) -> None:
        index = self.add_region()
        if index >= 0:
            self._panel.regions.select(index)
            if self._panel.regions.tools.tool == "none":
                self._panel.regions.tool_buttons["brush"].setChecked(True)

    def _ask_region_mask(self, index: int) -> None:
        paths = self.host.ask_image_paths("mask")
        if paths:
            self.region_from_file(index, paths[0])

    def _ask_region_painting(self, index: int) -> None:
        paths = self.host.ask_image_paths("style")
        if paths:
            self.set_region_painting(index, paths[0])

    def _blend_edited(self, index: int, value: float) -> None:
        s = self._state
        blend = list(s.params.style_blend or (1.0,) * len(s.styles))
        if index >= len(blend):
            return
        blend[index] = value
        new_blend = None if all(b == 1.0 for b in blend) else tuple(blend)
        self.edit(replace(s, params=s.params.with_changes(style_blend=new_blend)), "Style blend", f"blend:{index}")

    def _set_content(self, image: Any) -> None:
        self.edit(replace(self._state, content=image, regions=self._regions_for(image)), "Content photo")

    def _regions_for(self, image: Any) -> tuple[PaintedRegion, ...]:
        """The regions carried over to a new photo: resized where it has the shape of the old one, else
        left out (said)."""
        regions = self._state.regions
        if not regions or image is None:
            return regions
        from studio.engines.masks import resize_mask

        hw = image.rgb.shape[:2]
        old = regions[0].mask.shape
        if old == hw:
            return regions
        if abs((old[1] / old[0]) / (hw[1] / hw[0]) - 1) > 0.02:
            self.host.notify(f"The new photo has another shape, so its {plural(len(regions), 'region')} were left out "
                             "(Undo brings the old photo back with them).", "info")
            return ()
        return tuple(r.with_mask((np.clip(resize_mask(r.float_mask(), hw), 0, 1) * 255 + 0.5).astype(np.uint8))
                     for r in regions)

    def set_content_path(self, path: str) -> bool:
        image = self.host.load_image(path, "content")
        if image is None:
            return False
        self._set_content(image)
        return True

    def add_style_paths(self, paths: Sequence[str]) -> int:
        s = self._state
        images, seen, again, failed = [], {str(img.sha256) for img in s.styles}, [], False
        for img in (self.host.load_image(p, "style") for p in paths):
            if img is None:
                failed = True  # its own message is up: this one does not replace it
                continue
            if str(img.sha256) in seen:  # the same painting twice only splits its blend between two copies
                again.append(Path(str(img.path)).name)
                continue
            seen.add(str(img.sha256))
            images.append(img)
        if again and not failed:
            self.host.notify(f"{again[0]} is already in the style list (its Blend slider sets how much of it the "
                             "result takes)." if len(again) == 1 else f"{', '.join(again)} are already in the "
                             "style list (their Blend sliders set how much of them the result takes).", "info")
        if not images:
            return 0
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
