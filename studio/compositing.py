"""Compositing an object into a painting (Qt-free): the naive composite and the masks harmonization needs.

An ``ObjectLayer`` is an RGBA cut-out (a PNG with alpha, or a photo with a mask) with a
``Transform`` (centre position, scale, rotation, flips) and an edge ``feather``. ``composite``
places it over the painting and returns the naive composite and the tight mask; ``loose_mask``
dilates the tight mask. Masks for photos come from ``grabcut_mask`` (a rectangle, refined with
foreground / background brush strokes) or from a mask file (``load_mask_file``).

Coordinates are continuous pixel coordinates: the painting's pixel (row i, column j) covers
[j, j + 1) x [i, i + 1), so an object of even size at scale 1 placed at an integer centre
lands exactly on the painting's pixel grid.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from studio.engines.errors import StudioInputError

MIN_SCALE = 0.01
MAX_SCALE = 20.0
GRABCUT_MAX_SIDE = 512  # GrabCut runs on a copy of the photo at most this large, the mask is scaled back


@dataclass(frozen=True)
class Transform:
    """Where the object sits: its centre (x, y) in painting pixels, scale, rotation in degrees
    (counter-clockwise as seen on screen) and flips (about the object's own centre, applied first)."""

    x: float = 0.0
    y: float = 0.0
    scale: float = 1.0
    rotation: float = 0.0
    flip_h: bool = False
    flip_v: bool = False

    def with_changes(self, **changes: Any) -> Transform:
        t = replace(self, **changes)
        return replace(t, scale=min(max(float(t.scale), MIN_SCALE), MAX_SCALE))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Transform:
        try:
            return cls(
                x=float(d.get("x", 0.0)), y=float(d.get("y", 0.0)), scale=float(d.get("scale", 1.0)),
                rotation=float(d.get("rotation", 0.0)), flip_h=bool(d.get("flip_h", False)),
                flip_v=bool(d.get("flip_v", False)),
            ).with_changes()
        except (TypeError, ValueError, AttributeError) as exc:
            raise StudioInputError(f"The object placement {d!r} could not be read ({exc}).") from exc


@dataclass(frozen=True, eq=False)
class ObjectLayer:
    """An RGBA cut-out and where it sits. ``rgb`` float32 HxWx3 and ``alpha`` float32 HxW in [0, 1];
    ``feather`` is the width of the soft inner edge in painting pixels (0: hard edge).
    ``source`` names the file it came from (and ``mask_source`` the mask file, if any)."""

    rgb: np.ndarray
    alpha: np.ndarray
    transform: Transform = field(default_factory=Transform)
    feather: float = 0.0
    source: str = ""
    source_sha256: str = ""
    mask_source: str = ""

    def __post_init__(self) -> None:
        if self.rgb.ndim != 3 or self.rgb.shape[2] != 3 or self.alpha.shape != self.rgb.shape[:2]:
            raise ValueError(f"an object layer needs HxWx3 colour and HxW alpha, not {self.rgb.shape} "
                             f"and {self.alpha.shape}")

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the cut-out."""
        return int(self.rgb.shape[1]), int(self.rgb.shape[0])

    def with_transform(self, **changes: Any) -> ObjectLayer:
        return replace(self, transform=self.transform.with_changes(**changes))

    def with_feather(self, feather: float) -> ObjectLayer:
        return replace(self, feather=max(0.0, float(feather)))


# --------------------------------------------------------------------------------------------
# layers


def layer_from_rgba(rgb: np.ndarray, alpha: np.ndarray, *, source: str = "", source_sha256: str = "",
                    mask_source: str = "", crop: bool = True, margin: int = 2) -> ObjectLayer:
    """An object layer from colour and alpha, cropped to the alpha's bounding box (plus ``margin``) and
    placed where it was: on a painting of the source's size it covers the same pixels."""
    rgb = np.ascontiguousarray(rgb, dtype=np.float32)
    alpha = np.clip(np.asarray(alpha, dtype=np.float32), 0.0, 1.0)
    if alpha.shape != rgb.shape[:2]:
        raise StudioInputError(
            f"The mask is {alpha.shape[1]}x{alpha.shape[0]} pixels but the photo is "
            f"{rgb.shape[1]}x{rgb.shape[0]}: a mask must have the photo's size."
        )
    ys, xs = np.nonzero(alpha > 1.0 / 255.0)
    if ys.size == 0:
        name = Path(source).name if source else "The object"
        raise StudioInputError(f"{name} has no visible pixels: its alpha or mask is empty.")
    h, w = alpha.shape
    x0, y0, x1, y1 = 0, 0, w, h
    if crop:
        y0, y1 = max(int(ys.min()) - margin, 0), min(int(ys.max()) + 1 + margin, h)
        x0, x1 = max(int(xs.min()) - margin, 0), min(int(xs.max()) + 1 + margin, w)
        rgb, alpha = rgb[y0:y1, x0:x1], alpha[y0:y1, x0:x1]
    return ObjectLayer(np.ascontiguousarray(rgb), np.ascontiguousarray(alpha),
                       Transform(x=(x0 + x1) / 2.0, y=(y0 + y1) / 2.0), source=source,
                       source_sha256=source_sha256, mask_source=mask_source)


def centred(layer: ObjectLayer, painting_size: tuple[int, int], *, fill: float = 0.5) -> ObjectLayer:
    """The layer placed in the middle of a painting of (width, height), scaled down so that its
    long side is at most ``fill`` of the painting's matching side (never scaled up)."""
    pw, ph = painting_size
    w, h = layer.size
    scale = min(1.0, fill * pw / max(w, 1), fill * ph / max(h, 1))
    return replace(layer, transform=Transform(x=pw / 2.0, y=ph / 2.0, scale=scale))


def _linear_part(t: Transform, sx: float, sy: float) -> np.ndarray:
    """2x2 map from object offsets to painting offsets: rotation . flip . scale (y points down)."""
    th = math.radians(t.rotation)
    c, s = math.cos(th), math.sin(th)
    rot = np.array([[c, s], [-s, c]], dtype=np.float64)  # counter-clockwise on screen
    flip = np.diag([-1.0 if t.flip_h else 1.0, -1.0 if t.flip_v else 1.0])
    a = rot @ flip @ np.diag([sx, sy])
    near = np.abs(a - np.round(a)) < 1e-12  # exact quarter turns and flips stay exact
    a[near] = np.round(a[near])
    return a


def layer_matrix(layer: ObjectLayer, source_size: tuple[int, int] | None = None) -> np.ndarray:
    """The 2x3 affine map from the cut-out's pixel indices (of an image of ``source_size``, default the
    layer's own size, covering the same extent) to the painting's pixel indices, as cv2 expects."""
    w, h = layer.size
    sw, sh = source_size or (w, h)
    t = layer.transform
    a = _linear_part(t, t.scale * w / sw, t.scale * h / sh)
    offset = np.array([0.5 - sw / 2.0, 0.5 - sh / 2.0])
    b = np.array([t.x - 0.5, t.y - 0.5]) + a @ offset
    return np.concatenate([a, b[:, None]], axis=1)


def layer_corners(layer: ObjectLayer) -> np.ndarray:
    """The four corners of the placed cut-out in painting coordinates (continuous), clockwise from top-left."""
    w, h = layer.size
    t = layer.transform
    a = _linear_part(t, t.scale, t.scale)
    local = np.array([[-w / 2, -h / 2], [w / 2, -h / 2], [w / 2, h / 2], [-w / 2, h / 2]], dtype=np.float64)
    return local @ a.T + np.array([t.x, t.y])


def contains(layer: ObjectLayer, x: float, y: float) -> bool:
    """True when the painting point (x, y) (continuous coordinates) lies on the placed cut-out's rectangle."""
    t = layer.transform
    a = _linear_part(t, t.scale, t.scale)
    try:
        u, v = np.linalg.solve(a, np.array([x - t.x, y - t.y]))
    except np.linalg.LinAlgError:
        return False
    w, h = layer.size
    return abs(u) <= w / 2 and abs(v) <= h / 2


def rotation_handle(layer: ObjectLayer, reach: float) -> tuple[float, float]:
    """Where the rotation handle sits: ``reach`` painting pixels beyond the middle of the object's top edge,
    along its turned (not flipped) up direction."""
    t = layer.transform
    th = math.radians(t.rotation)
    up = np.array([-math.sin(th), -math.cos(th)])  # the rotation of _linear_part applied to (0, -1)
    far = layer.size[1] / 2 * t.scale + reach
    return float(t.x + up[0] * far), float(t.y + up[1] * far)


def scale_from_corner_drag(start: Transform, grab: tuple[float, float], now: tuple[float, float]) -> float:
    """The scale when a corner grabbed at ``grab`` (painting pixels) is dragged to ``now``: the object grows
    about its centre as the pointer moves away from it (bounded as every scale is)."""
    before = math.hypot(grab[0] - start.x, grab[1] - start.y)
    after = math.hypot(now[0] - start.x, now[1] - start.y)
    if before < 1e-6:
        return start.scale
    return start.with_changes(scale=start.scale * after / before).scale


def rotation_from_handle_drag(start: Transform, grab: tuple[float, float], now: tuple[float, float]) -> float:
    """The rotation (degrees, counter-clockwise on screen, in [-180, 180)) when the rotation handle grabbed at
    ``grab`` is dragged to ``now``: the object turns about its centre with the pointer."""
    a0 = math.atan2(grab[1] - start.y, grab[0] - start.x)
    a1 = math.atan2(now[1] - start.y, now[0] - start.x)
    turned = start.rotation - math.degrees(a1 - a0)  # y points down: a growing screen angle is clockwise
    return (turned + 180.0) % 360.0 - 180.0


def feather_alpha(alpha: np.ndarray, feather: float) -> np.ndarray:
    """Soften the edge inwards: a pixel at distance d (pixels) inside the edge keeps ``min(d / feather, 1)``
    of its alpha, so nothing spreads outside the object. Where the object runs off the image's border
    it is taken to continue (no soft edge along the frame)."""
    alpha = np.asarray(alpha, dtype=np.float32)
    if feather <= 0:
        return alpha.copy()
    inside = (alpha >= 0.5).astype(np.uint8)
    padded = cv2.copyMakeBorder(inside, 1, 1, 1, 1, cv2.BORDER_REPLICATE)
    dist = cv2.distanceTransform(padded, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)[1:-1, 1:-1]
    ramp = np.clip(dist / float(feather), 0.0, 1.0).astype(np.float32)
    return alpha * ramp


def layer_box(layer: ObjectLayer, painting_size: tuple[int, int], margin: int = 2) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1): the pixels the placed cut-out can touch, clipped to the painting (may be empty)."""
    pw, ph = painting_size
    c = layer_corners(layer)
    x0 = int(np.clip(math.floor(c[:, 0].min()) - margin, 0, pw))
    x1 = int(np.clip(math.ceil(c[:, 0].max()) + margin, 0, pw))
    y0 = int(np.clip(math.floor(c[:, 1].min()) - margin, 0, ph))
    y1 = int(np.clip(math.ceil(c[:, 1].max()) + margin, 0, ph))
    return x0, y0, max(x0, x1), max(y0, y1)


def warp_layer(layer: ObjectLayer, painting_size: tuple[int, int],
               box: tuple[int, int, int, int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The cut-out placed on a transparent canvas of (width, height): (premultiplied RGB, alpha).
    With ``box`` (x0, y0, x1, y1) only that part of the canvas is made (the same pixels, cropped)."""
    pw, ph = painting_size
    bx0, by0, bx1, by1 = box if box is not None else (0, 0, pw, ph)
    rgb, alpha = layer.rgb, layer.alpha
    w, h = layer.size
    scale = layer.transform.scale
    if scale < 0.999:  # shrink with area averaging first, so small objects do not alias
        sw, sh = max(1, round(w * scale)), max(1, round(h * scale))
        premult = cv2.resize(rgb * alpha[:, :, None], (sw, sh), interpolation=cv2.INTER_AREA)
        alpha = cv2.resize(alpha, (sw, sh), interpolation=cv2.INTER_AREA)
    else:
        sw, sh = w, h
        premult = rgb * alpha[:, :, None]
    m = layer_matrix(layer, (sw, sh))
    m[:, 2] -= (bx0, by0)
    flags = cv2.INTER_LINEAR
    size = (bx1 - bx0, by1 - by0)
    out_rgb = cv2.warpAffine(np.ascontiguousarray(premult, np.float32), m, size, flags=flags,
                             borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0)).reshape(size[1], size[0], 3)
    out_a = cv2.warpAffine(np.ascontiguousarray(alpha, np.float32), m, size, flags=flags,
                           borderMode=cv2.BORDER_CONSTANT, borderValue=0).reshape(size[1], size[0])
    return np.clip(out_rgb, 0.0, 1.0), np.clip(out_a, 0.0, 1.0)


def composite(painting: np.ndarray, layer: ObjectLayer) -> tuple[np.ndarray, np.ndarray]:
    """The naive composite (RGB float32, the painting's size) and the tight mask (float32 HxW, 0 or 1).

    The tight mask is the placed object's alpha, thresholded at one half; the composite blends the
    object with its alpha softened by ``layer.feather`` (inwards, see ``feather_alpha``).
    """
    painting = np.asarray(painting, dtype=np.float32)
    ph, pw = painting.shape[:2]
    out = painting.copy()
    tight = np.zeros((ph, pw), np.float32)
    x0, y0, x1, y1 = layer_box(layer, (pw, ph))
    if x1 <= x0 or y1 <= y0:  # entirely off the painting
        return out, tight
    premult, alpha = warp_layer(layer, (pw, ph), (x0, y0, x1, y1))
    soft = feather_alpha(alpha, layer.feather)[:, :, None]
    safe = np.where(alpha > 1e-6, alpha, 1.0)[:, :, None]
    colour = np.clip(premult / safe, 0.0, 1.0)
    region = out[y0:y1, x0:x1]
    out[y0:y1, x0:x1] = region * (1.0 - soft) + colour * soft
    tight[y0:y1, x0:x1] = alpha >= 0.5
    return out, tight


def loose_mask(tight: np.ndarray, radius: float) -> np.ndarray:
    """The tight mask dilated by a disc of ``radius`` pixels (float32, 0 or 1)."""
    binary = (np.asarray(tight) >= 0.5).astype(np.uint8)
    r = int(round(radius))
    if r <= 0 or not binary.any():
        return binary.astype(np.float32)
    h, w = binary.shape
    rows, cols = np.nonzero(binary.any(axis=1))[0], np.nonzero(binary.any(axis=0))[0]
    y0, y1 = max(int(rows[0]) - r, 0), min(int(rows[-1]) + r + 1, h)
    x0, x1 = max(int(cols[0]) - r, 0), min(int(cols[-1]) + r + 1, w)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    out = np.zeros((h, w), np.float32)
    out[y0:y1, x0:x1] = cv2.dilate(binary[y0:y1, x0:x1], kernel, borderType=cv2.BORDER_CONSTANT, borderValue=0)
    return out


# --------------------------------------------------------------------------------------------
# masks for photos


@dataclass(frozen=True)
class Stroke:
    """A brush stroke on the photo: points (x, y) in photo pixels, a radius, and what it marks."""

    points: tuple[tuple[float, float], ...]
    radius: float
    foreground: bool


def _paint_strokes(labels: np.ndarray, strokes: tuple[Stroke, ...] | list[Stroke], factor: float) -> None:
    for stroke in strokes:
        value = cv2.GC_FGD if stroke.foreground else cv2.GC_BGD
        r = max(1, int(round(stroke.radius * factor)))
        pts = [(int(round(x * factor)), int(round(y * factor))) for x, y in stroke.points]
        for p in pts:
            cv2.circle(labels, p, r, int(value), -1)
        for p, q in zip(pts, pts[1:], strict=False):
            cv2.line(labels, p, q, int(value), 2 * r)


def refined_alpha(alpha: np.ndarray, strokes: tuple[Stroke, ...] | list[Stroke]) -> np.ndarray:
    """An object's own transparency (float32 HxW in [0, 1]) with brush strokes on it: the Keep brush makes
    what it covers opaque, the Remove brush transparent; the rest keeps its soft edge."""
    out = np.clip(np.asarray(alpha, dtype=np.float32), 0, 1).copy()
    if not strokes:
        return out
    labels = np.full(out.shape, 255, np.uint8)  # 255: not painted
    _paint_strokes(labels, strokes, 1.0)
    out[labels == cv2.GC_FGD] = 1.0
    out[labels == cv2.GC_BGD] = 0.0
    return out


class GrabCut:
    """GrabCut on one photo, run again and again as the rectangle and strokes change.

    The photo is processed at most ``max_side`` pixels large; masks come back at its full size. The
    rectangle's result is kept, so a new stroke only costs the refinement. Results depend only on
    (rect, strokes): the random generator is seeded before each run.
    """

    def __init__(self, photo: np.ndarray, *, iterations: int = 5, max_side: int = GRABCUT_MAX_SIDE) -> None:
        photo = np.asarray(photo, dtype=np.float32)
        self.height, self.width = photo.shape[:2]
        self.iterations = iterations
        self.factor = min(1.0, max_side / max(self.height, self.width))
        sw, sh = max(1, round(self.width * self.factor)), max(1, round(self.height * self.factor))
        small = photo if self.factor == 1.0 else cv2.resize(photo, (sw, sh), interpolation=cv2.INTER_AREA)
        self.image = np.ascontiguousarray(np.clip(small * 255.0 + 0.5, 0, 255).astype(np.uint8)[:, :, ::-1])  # BGR
        self._rect_cache: tuple[tuple[int, int, int, int] | None, np.ndarray] | None = None

    def _rect_labels(self, rect: tuple[int, int, int, int] | None) -> np.ndarray:
        if self._rect_cache is not None and self._rect_cache[0] == rect:
            return self._rect_cache[1].copy()
        sh, sw = self.image.shape[:2]
        f = self.factor
        labels = np.full((sh, sw), cv2.GC_PR_BGD if rect is not None else cv2.GC_PR_FGD, np.uint8)
        if rect is not None:
            x, y, rw, rh = rect
            x0, y0 = int(np.clip(math.floor(x * f), 0, sw - 1)), int(np.clip(math.floor(y * f), 0, sh - 1))
            x1 = int(np.clip(math.ceil((x + rw) * f), x0 + 1, sw))
            y1 = int(np.clip(math.ceil((y + rh) * f), y0 + 1, sh))
            if x1 - x0 < 2 or y1 - y0 < 2:
                raise StudioInputError("The rectangle is too small: drag a box around the whole object.")
            labels[y0:y1, x0:x1] = cv2.GC_PR_FGD
            if (x1 - x0) < sw or (y1 - y0) < sh:
                bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
                cv2.setRNGSeed(0)
                cv2.grabCut(self.image, labels, (x0, y0, x1 - x0, y1 - y0), bgd, fgd, self.iterations,
                            cv2.GC_INIT_WITH_RECT)
        self._rect_cache = (rect, labels.copy())
        return labels

    def mask(self, rect: tuple[int, int, int, int] | None,
             strokes: tuple[Stroke, ...] | list[Stroke] = ()) -> np.ndarray:
        """A foreground mask (float32 HxW, 0 or 1): GrabCut from ``rect`` (x, y, width, height in photo
        pixels), then again with ``strokes`` marking sure foreground or background."""
        labels = self._rect_labels(tuple(int(v) for v in rect) if rect is not None else None)
        if strokes:
            _paint_strokes(labels, strokes, self.factor)
            has_fg = np.any((labels == cv2.GC_FGD) | (labels == cv2.GC_PR_FGD))
            has_bg = np.any((labels == cv2.GC_BGD) | (labels == cv2.GC_PR_BGD))
            if has_fg and has_bg:
                bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
                cv2.setRNGSeed(0)
                cv2.grabCut(self.image, labels, None, bgd, fgd, self.iterations, cv2.GC_INIT_WITH_MASK)
        fg = ((labels == cv2.GC_FGD) | (labels == cv2.GC_PR_FGD)).astype(np.float32)
        if self.factor != 1.0:
            fg = (cv2.resize(fg, (self.width, self.height), interpolation=cv2.INTER_LINEAR) >= 0.5).astype(np.float32)
        return fg


def grabcut_mask(
    photo: np.ndarray,
    rect: tuple[int, int, int, int] | None,
    strokes: tuple[Stroke, ...] | list[Stroke] = (),
    *,
    iterations: int = 5,
    max_side: int = GRABCUT_MAX_SIDE,
) -> np.ndarray:
    """A foreground mask (float32 HxW, 0 or 1) of ``photo`` by GrabCut (see ``GrabCut``).

    ``rect`` (x, y, width, height in photo pixels) bounds the object; ``strokes`` then mark pixels
    as sure foreground or background and GrabCut runs again from the rectangle's result.
    """
    return GrabCut(photo, iterations=iterations, max_side=max_side).mask(rect, strokes)


def mask_from_image(rgb: np.ndarray, alpha: np.ndarray | None = None) -> np.ndarray:
    """A mask image as float32 HxW in [0, 1]: its grey level, or its alpha where the grey is uniform."""
    grey = np.asarray(rgb, dtype=np.float32).mean(axis=2)
    if alpha is not None and float(grey.max() - grey.min()) < 1e-3:
        return np.asarray(alpha, dtype=np.float32).copy()
    return grey.astype(np.float32)


def load_mask_file(path: str | Path, photo_size: tuple[int, int]) -> np.ndarray:
    """Read a mask file (white = object) that must have the photo's (width, height), as a 0/1 mask: from half
    grey up is the object, the one rule for a mask file wherever it is read (a soft edge read as it was gave a
    larger cut-out on restoring a recipe than when the object was added)."""
    from studio.imageio import load_image

    image = load_image(path)
    w, h = image.size
    pw, ph = photo_size
    if (w, h) != (pw, ph):
        raise StudioInputError(
            f"{Path(path).name} is {w}x{h} pixels but the photo is {pw}x{ph}: a mask must have the photo's size."
        )
    return (mask_from_image(image.rgb, image.alpha) >= 0.5).astype(np.float32)
