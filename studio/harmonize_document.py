"""The Harmonize document: a painting, the object pasted into it, how its cut-out was made, and the
engine parameters; the naive composite and masks that follow from them; and its record in a recipe.

Qt-free: the Harmonize tab shows and edits a ``HarmonizeState`` through these functions, and a recipe
puts one back together. Images are ``LoadedImage`` objects (``studio.imageio``); states, layers and
images compare by identity, so an unchanged painting and layer reuse their composite.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from studio.compositing import (
    ObjectLayer,
    Stroke,
    Transform,
    centred,
    composite,
    grabcut_mask,
    layer_from_rgba,
    loose_mask,
    refined_alpha,
)
from studio.engines.errors import StudioInputError
from studio.engines.harmonize.params import HarmonizeParams
from studio.engines.harmonize.run import working_shape

DEFAULT_LOOSE_RADIUS = 16.0
MAX_FEATHER, MAX_LOOSE_RADIUS = 200.0, 500.0  # painting pixels: the panel's fields go this far
CACHE_SIZE = 4  # composites kept (each painting-sized float32), so undo and redo redraw at once


@dataclass(frozen=True)
class MaskEdit:
    """How a mask was made, so it can be edited again: a GrabCut rectangle and strokes, a mask file, or
    (``from_alpha``) strokes on the object image's own transparency."""

    rect: tuple[int, int, int, int] | None = None
    strokes: tuple[Stroke, ...] = ()
    mask_path: str = ""
    from_alpha: bool = False


@dataclass(frozen=True, eq=False)
class Cutout:
    """An object cut out of a photo (``LoadedImage``) with a mask, and how the mask was made."""

    photo: Any
    mask: np.ndarray
    edit: MaskEdit = MaskEdit()


@dataclass(frozen=True, eq=False)
class HarmonizeState:
    """Painting (``LoadedImage``), object layer, its cut-out (None for a PNG with alpha), loose-mask
    radius in painting pixels, engine parameters. Images and layers compare by identity."""

    params: HarmonizeParams
    painting: Any | None = None
    layer: ObjectLayer | None = None
    cutout: Cutout | None = None
    loose_radius: float = DEFAULT_LOOSE_RADIUS


@dataclass(frozen=True, eq=False)
class Composition:
    """What the canvas shows and the engine gets: naive composite (RGB), tight and loose masks (HxW).
    The loose mask is made when first asked for (a drag only needs the composite)."""

    composite: np.ndarray
    tight: np.ndarray
    loose_radius: float

    @cached_property
    def loose(self) -> np.ndarray:
        return loose_mask(self.tight, self.loose_radius)


class CompositionCache:
    """The composition of a state, kept for the last few paintings and layers: the same painting and layer
    give the same arrays, so a parameter change or an undo does not composite again."""

    def __init__(self, size: int = CACHE_SIZE) -> None:
        self.size = size
        # (id(painting), id(layer), loose radius) -> (painting, layer, Composition); holding the keys' objects
        self._entries: OrderedDict[tuple[int, int, float], tuple[Any, Any, Composition]] = OrderedDict()

    def get(self, s: HarmonizeState) -> Composition | None:
        if s.painting is None or s.layer is None:
            return None
        key = (id(s.painting), id(s.layer), float(s.loose_radius))
        hit = self._entries.get(key)
        if hit is not None and hit[0] is s.painting and hit[1] is s.layer:
            self._entries.move_to_end(key)
            return hit[2]
        same_place = next((c for p, lay, c in reversed(self._entries.values())
                           if p is s.painting and lay is s.layer), None)
        if same_place is not None:  # only the loose radius changed: keep the composite (the canvas keeps it)
            comp = Composition(same_place.composite, same_place.tight, float(s.loose_radius))
        else:
            out, tight = composite(s.painting.rgb, s.layer)
            comp = Composition(out, tight, float(s.loose_radius))
        self._entries[key] = (s.painting, s.layer, comp)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)
        return comp


def run_blocker(s: HarmonizeState, comp: Composition | None) -> str | None:
    """Why this document cannot be harmonized yet, in one sentence, or None."""
    if s.painting is None:
        return "Open a painting first: File \u25b8 Open, or drop one on the Painting slot."
    if s.layer is None:
        return "Add an object: a PNG with transparency, or a photo to cut out (Object \u25b8 Add\u2026)."
    if comp is None or not comp.tight.any():
        return "The object is outside the painting: move it back (Placement \u25b8 Centre)."
    if comp.tight.all():
        return "The object covers the whole painting: scale it down."
    return None


# edits (each returns the new state, or None when nothing changes) ---------------------------------
def with_transform(s: HarmonizeState, changes: dict[str, Any]) -> HarmonizeState | None:
    if s.layer is None:
        return None
    new = s.layer.transform.with_changes(**changes)
    return None if new == s.layer.transform else replace(s, layer=replace(s.layer, transform=new))


def centre_changes(s: HarmonizeState) -> dict[str, float] | None:
    if s.layer is None or s.painting is None:
        return None
    w, h = s.painting.size
    return {"x": w / 2.0, "y": h / 2.0}


def with_feather(s: HarmonizeState, feather: float) -> HarmonizeState | None:
    if s.layer is None or float(feather) == s.layer.feather:
        return None
    return replace(s, layer=s.layer.with_feather(feather))


def with_loose_radius(s: HarmonizeState, radius: float) -> HarmonizeState | None:
    radius = max(0.0, float(radius))
    return None if radius == s.loose_radius else replace(s, loose_radius=radius)


def with_painting(s: HarmonizeState, image: Any) -> HarmonizeState:
    """A new painting; an object placed on a painting of another size keeps its place on it (it was put back in
    the middle at 100 %, unrotated, without a word): its centre at the same fraction of the width and height, its
    turn and flips, and its size, soft edge and loose ring scaled by the smaller of the two sides' ratios, so it
    takes no larger a share of either side than it had (a wide painting swapped for a tall one does not push it
    off the edge)."""
    layer, loose_radius = s.layer, s.loose_radius
    if layer is not None and s.painting is not None and s.painting.size != image.size:
        (ow, oh), (nw, nh) = s.painting.size, image.size
        k = min(nw / max(ow, 1), nh / max(oh, 1))
        t = layer.transform
        layer = replace(layer, transform=t.with_changes(x=t.x * nw / max(ow, 1), y=t.y * nh / max(oh, 1),
                                                        scale=t.scale * k), feather=min(layer.feather * k, MAX_FEATHER))
        loose_radius = min(max(1.0, round(loose_radius * k)), MAX_LOOSE_RADIUS) if loose_radius > 0 else 0.0
    return replace(s, painting=image, layer=layer, loose_radius=loose_radius)


def with_object(s: HarmonizeState, layer: ObjectLayer, cutout: Cutout | None = None) -> HarmonizeState:
    """A new object in the middle of the painting; one that replaces another takes its place instead: the
    same centre, rotation and flips, scaled to the same long side on the painting, and the same soft edge."""
    old = s.layer
    if old is not None:
        t = old.transform
        shown = max(old.size) * t.scale  # the long side the old object had on the painting, in its pixels
        layer = replace(layer, transform=t.with_changes(scale=shown / max(max(layer.size), 1)),
                        feather=old.feather)
    elif s.painting is not None:
        layer = centred(layer, s.painting.size)
    return replace(s, layer=layer, cutout=cutout)


def with_corrected_mask(s: HarmonizeState, layer: ObjectLayer, cutout: Cutout) -> HarmonizeState | None:
    """The same photo with a corrected mask keeps its placement (adjusted to the new crop); None when the
    cut-out is of another photo (then it is a new object)."""
    old = s.layer
    if old is None or s.cutout is None or s.cutout.photo is not cutout.photo:
        return None
    return replace(s, layer=replace(layer, transform=old.transform, feather=old.feather), cutout=cutout)


def cutout_layer(photo: Any, mask: np.ndarray, edit: MaskEdit) -> tuple[ObjectLayer, Cutout]:
    layer = layer_from_rgba(photo.rgb, mask, source=str(photo.path), source_sha256=str(photo.sha256),
                            mask_source=edit.mask_path)
    return layer, Cutout(photo, mask, edit)


def alpha_layer(image: Any, strokes: tuple[Stroke, ...] = ()) -> tuple[ObjectLayer, Cutout]:
    """An image with transparency as the object, its edge refined by ``strokes`` (none: as it is)."""
    edit = MaskEdit(strokes=tuple(strokes), from_alpha=True)
    mask = refined_alpha(image.alpha, edit.strokes)
    layer = layer_from_rgba(image.rgb, mask, source=str(image.path), source_sha256=str(image.sha256))
    return layer, Cutout(image, mask, edit)


def has_transparency(image: Any) -> bool:
    return image.alpha is not None and float(image.alpha.min()) < 0.99


# the recipe ----------------------------------------------------------------------------------------
def composition_record(state: HarmonizeState) -> dict[str, Any]:
    """The placement of the object, for the recipe (painting pixels)."""
    layer = state.layer
    record: dict[str, Any] = {"loose_radius": float(state.loose_radius)}
    if layer is not None:
        record.update(transform=layer.transform.to_dict(), feather=float(layer.feather),
                      object_size=list(layer.size))
        if state.cutout is not None:
            edit = state.cutout.edit
            record["cutout"] = {
                "rect": list(edit.rect) if edit.rect else None,
                "strokes": [{"points": [[round(x, 1), round(y, 1)] for x, y in st.points], "radius": st.radius,
                             "foreground": st.foreground} for st in edit.strokes],
                "mask_file": edit.mask_path,
                "from_alpha": edit.from_alpha,
            }
    return record


def cutout_edit(record: dict[str, Any]) -> MaskEdit:
    """The GrabCut rectangle and strokes a recipe's composition record holds."""
    cut = record.get("cutout") or {}
    try:
        rect = tuple(int(v) for v in cut["rect"]) if cut.get("rect") else None
        strokes = tuple(
            Stroke(tuple((float(x), float(y)) for x, y in st["points"]), float(st["radius"]), bool(st["foreground"]))
            for st in cut.get("strokes") or ()
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise StudioInputError(f"The recipe's cut-out could not be read ({exc}).") from exc
    return MaskEdit(rect, strokes, from_alpha=bool(cut.get("from_alpha", False)))  # type: ignore[arg-type]


def placed_object(obj: Any, record: dict[str, Any], mask: np.ndarray | None = None,
                  mask_path: str = "") -> tuple[ObjectLayer, Cutout | None]:
    """The object of a recipe, cut out again (from its mask file, its transparency, or the recipe's GrabCut
    rectangle and strokes) and placed where the record says."""
    edit = cutout_edit(record)
    if mask is not None:  # a mask file's 0/1 mask (``load_mask_file``)
        layer, cutout = cutout_layer(obj, mask, MaskEdit(mask_path=mask_path))
    elif has_transparency(obj) and edit.rect is None:  # its own transparency, perhaps refined by strokes
        layer, cutout = alpha_layer(obj, edit.strokes)
    else:  # GrabCut again (a PNG may have been cut out with a rectangle too)
        if edit.rect is None and not edit.strokes:
            raise StudioInputError(f"{Path(str(obj.path)).name} has no transparency and the "
                                   "recipe holds no mask for it.")
        layer, cutout = cutout_layer(obj, grabcut_mask(obj.rgb, edit.rect, edit.strokes), edit)
    size = record.get("object_size")
    if size and list(layer.size) != list(size):
        raise StudioInputError("The object's cut-out differs from the recipe's.")
    transform = Transform.from_dict(record.get("transform") or {})
    return replace(layer, transform=transform, feather=float(record.get("feather", 0.0))), cutout


def engine_params(state: HarmonizeState) -> HarmonizeParams:
    """The parameters as the engine sees them: feather and loose radius converted from painting pixels to
    pixels at the working size (the engine gets the loose mask itself too)."""
    p = state.params
    if state.painting is None:
        return p
    h, w = state.painting.rgb.shape[:2]
    factor = max(working_shape(h, w, p.size)) / max(h, w)  # never above the painting's size; 0: its own
    feather = state.layer.feather if state.layer is not None else p.feather / factor
    return p.with_changes(loose_radius=max(1, round(state.loose_radius * factor)), feather=round(feather * factor, 3))
