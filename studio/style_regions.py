"""The regions of a style run as a user gives them and as a recipe keeps them.

The command line names each region ``MASK=PAINTING[@PAINTING_MASK][:WEIGHT]`` or ``MASK=keep[:WEIGHT]``. A recipe
carries every region's masks inside itself (8-bit grey PNGs, base64), so a result re-runs exactly even when the
mask files are gone or were never files (painted in the app); the regions' paintings are input files like the
run's own, with their SHA-256 (role ``region N painting``).
"""

from __future__ import annotations

import base64
import binascii
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from studio.engines.errors import StudioInputError
from studio.engines.pixels import to_uint8
from studio.engines.style.regions import MAX_REGIONS, Region
from studio.imageio import load_image, load_mask

KEEP = "keep"
# A mask inside a recipe: at most this many base64 characters (a 4000 px soft mask packs to well under 2 MB).
MAX_MASK_CHARS = 3_000_000
#: the longest region name shown
MAX_NAME_CHARS = 60
MAX_MASK_SIDE = 8192


@dataclass(frozen=True)
class RegionSpec:
    """One ``--region`` argument: the mask file, the painting (None: keep the photo), its mask, the weight."""

    mask: str
    painting: str | None
    painting_mask: str | None = None
    weight: float = 1.0


def parse_region(text: str) -> RegionSpec:
    """``MASK=PAINTING[@PAINTING_MASK][:WEIGHT]`` or ``MASK=keep[:WEIGHT]``, read as the user wrote it."""
    mask, sep, rest = text.partition("=")
    if not sep or not mask or not rest:
        raise StudioInputError(f"--region {text!r} is not MASK=PAINTING[:WEIGHT] or MASK=keep[:WEIGHT] "
                               "(for example sky.png=starry.jpg:1.5).")
    weight = 1.0
    head, colon, tail = rest.rpartition(":")
    if colon and head:
        try:
            weight = float(tail)
        except ValueError:
            head = rest  # a colon inside a path (C:\...), not a weight
        else:
            if not 0 <= weight <= 1000 or weight != weight:
                raise StudioInputError(f"--region {text!r}: the weight must be between 0 and 1000, not {tail}.")
    else:
        head = rest
    if head.lower() == KEEP:
        return RegionSpec(mask=mask, painting=None, weight=weight)
    painting, at, painting_mask = head.partition("@")
    if at and not painting_mask:
        raise StudioInputError(f"--region {text!r} has an @ but no painting mask after it.")
    if not painting:
        raise StudioInputError(f"--region {text!r} names no painting before the @ (MASK=PAINTING@PAINTING_MASK).")
    return RegionSpec(mask=mask, painting=painting, painting_mask=painting_mask or None, weight=weight)


@dataclass(frozen=True)
class LoadedRegion:
    """A region ready for the engine, with what its recipe needs: the painting's path and SHA-256."""

    region: Region
    painting_path: str | None
    painting_sha256: str | None


def load_region(spec: RegionSpec, index: int, photo_shape: tuple[int, ...], max_side: int) -> LoadedRegion:
    """The files of ``spec`` decoded (each size-checked first); errors name the file."""
    name = f"region {index + 1} ({Path(spec.mask).name})"
    mask, _ = load_mask(spec.mask, f"mask of {name}", max_side=max(max_side, max(photo_shape[:2])))
    painting = painting_mask = None
    sha = None
    if spec.painting is not None:
        img = load_image(spec.painting, max_side=max_side)
        painting, sha = img.rgb, img.sha256
        if spec.painting_mask is not None:
            painting_mask, _ = load_mask(spec.painting_mask, f"painting mask of {name}", max_side=max_side)
            if painting_mask.shape != painting.shape[:2]:
                painting_mask = fit_mask(painting_mask, painting.shape[:2], f"painting mask {spec.painting_mask}",
                                         "its painting")
    return LoadedRegion(Region(mask=mask, style=painting, style_mask=painting_mask, name=name),
                        None if spec.painting is None else str(Path(spec.painting).resolve()), sha)


def fit_mask(mask: np.ndarray, hw: tuple[int, int], what: str, of: str) -> np.ndarray:
    """``mask`` resized to ``hw`` (the shape of ``of``: "the photo", "its painting"), or one sentence naming
    ``what`` when its aspect is not that shape's."""
    from studio.engines.masks import resize_mask

    if mask.shape == hw:
        return mask
    if abs((mask.shape[1] / mask.shape[0]) / (hw[1] / hw[0]) - 1) > 0.02:
        raise StudioInputError(f"The {what} is {mask.shape[1]}x{mask.shape[0]}, which is not the shape of "
                               f"{of} ({hw[1]}x{hw[0]}).")
    return resize_mask(mask, hw)


def painting_role(index: int) -> str:
    return f"region {index + 1} painting"


def encode_mask(mask: np.ndarray) -> str:
    """An HxW mask in [0, 1] as base64 of an 8-bit grey PNG."""
    import cv2

    ok, data = cv2.imencode(".png", to_uint8(mask))
    if not ok:
        raise StudioInputError("A region mask could not be encoded as PNG.")
    return base64.b64encode(data.tobytes()).decode("ascii")


def region_name(value: Any, index: int) -> str:
    """A region's name from a recipe, fit to show: text without control characters (a name is anyone's: one
    could clear a terminal), at most ``MAX_NAME_CHARS``; else "region N"."""
    if not isinstance(value, str) or not value.strip():
        return f"region {index + 1}"
    clean = "".join(c if c.isprintable() else " " for c in value).strip()
    return clean if len(clean) <= MAX_NAME_CHARS else clean[:MAX_NAME_CHARS - 1] + "\u2026"


def decode_mask(text: Any, what: str) -> np.ndarray:
    """A mask written by ``encode_mask``, decoded within the recipe's bounds (size first)."""
    if not isinstance(text, str) or len(text) > MAX_MASK_CHARS:
        raise StudioInputError(f"{what} is not a mask studio writes (too long, or not text).")
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise StudioInputError(f"{what} is not base64 text.") from None
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "mask.png"
        if not data.startswith(b"\x89PNG\r\n\x1a\n"):
            raise StudioInputError(f"{what} is not a PNG image.")
        path.write_bytes(data)
        try:
            mask, _ = load_mask(path, what, max_side=MAX_MASK_SIDE)
        except StudioInputError as e:  # it names the temporary file; say which mask it was
            if "colour image" in str(e):
                raise StudioInputError(f"{what} is a colour image; a mask must be black and white.") from None
            reason = str(e).replace(repr(str(path)), "it").replace(str(path), "it")
            raise StudioInputError(f"{what} cannot be read: {reason}") from None
    return mask


def recipe_regions(regions: list[LoadedRegion]) -> list[dict[str, Any]]:
    """The regions as a recipe keeps them (their weights are in the parameters)."""
    return [{"name": r.region.name, "mask": encode_mask(r.region.mask), "keep": r.region.keeps_photo,
             "painting_mask": None if r.region.style_mask is None else encode_mask(r.region.style_mask)}
            for r in regions]


def regions_from_recipe(entries: Any, painting_paths: dict[str, str], max_side: int,
                        source: str = "The recipe") -> list[LoadedRegion]:
    """The regions a recipe keeps, their paintings read from ``painting_paths`` (role -> path)."""
    if not isinstance(entries, list) or len(entries) > MAX_REGIONS:
        raise StudioInputError(f"{source} holds a list of regions studio does not write.")
    out = []
    for i, e in enumerate(entries):
        if not isinstance(e, dict) or not isinstance(e.get("keep"), bool):
            raise StudioInputError(f"{source}: region {i + 1} is damaged.")
        name = region_name(e.get("name"), i)
        mask = decode_mask(e.get("mask"), f"{source}: the mask of {name}")
        if e["keep"]:
            out.append(LoadedRegion(Region(mask, None, name=name), None, None))
            continue
        path = painting_paths.get(painting_role(i))
        if path is None:
            raise StudioInputError(f"{source}: {name} names no painting.")
        img = load_image(path, max_side=max_side)
        pm = e.get("painting_mask")
        painting_mask = None if pm is None else decode_mask(pm, f"{source}: the painting mask of {name}")
        if painting_mask is not None and painting_mask.shape != img.rgb.shape[:2]:
            painting_mask = fit_mask(painting_mask, img.rgb.shape[:2], f"painting mask of {name}", "its painting")
        out.append(LoadedRegion(Region(mask, img.rgb, painting_mask, name=name), str(path), img.sha256))
    return out


def describe_regions(entries: Any) -> str:
    """One line for the recipe's reader: what the regions stored inside it are."""
    n = len(entries) if isinstance(entries, list) else 0
    kept = sum(1 for e in entries if isinstance(e, dict) and e.get("keep")) if n else 0
    return f"uses the masks of {n} region{'s' if n != 1 else ''} stored in the recipe ({kept} keeping the photo)"

