"""Latent-space tools (Qt-free): sampling with a seed, grids, truncation, interpolation, export.

Latents are float32 numpy arrays of shape (n, nz) (or (nz,) for one). ``render`` turns latents into
uint8 RGB images with a generator in eval mode.
"""

from __future__ import annotations

import io
import math
import os
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from studio.engines.errors import StudioInputError
from studio.engines.files import atomic_write_bytes, check_parent_folder

Interpolation = Literal["slerp", "lerp"]


def sample_latents(n: int, nz: int, seed: int, truncation: float | None = None) -> np.ndarray:
    """``n`` standard-normal latents from ``seed``; with ``truncation`` t every coordinate beyond ±t is
    redrawn until it falls inside (the truncation trick: less variety, more typical samples)."""
    if n < 0 or nz < 1:
        raise StudioInputError(f"cannot sample {n} latents of {nz} dimensions")
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, nz)).astype(np.float32)
    if truncation is not None:
        if not math.isfinite(truncation) or truncation <= 0:
            raise StudioInputError(f"truncation must be greater than 0, got {truncation!r}")
        for _ in range(1000):
            bad = np.abs(z) > truncation
            if not bad.any():
                break
            z[bad] = rng.standard_normal(int(bad.sum())).astype(np.float32)
        else:  # pragma: no cover - only for absurdly small thresholds
            z = np.clip(z, -truncation, truncation)
    return z


@torch.no_grad()
def render(model: torch.nn.Module, z: np.ndarray, device: torch.device | str = "cpu",
           batch: int = 64, detail: np.ndarray | None = None) -> np.ndarray:
    """uint8 (n, H, W, 3) images of latents ``z`` ((n, nz) or (nz,)), each with a fitted photo's ``detail``
    (``project.py``) when one is given."""
    from studio.engines.gan.models import generate, to_uint8_images

    zz = np.atleast_2d(np.asarray(z, dtype=np.float32))
    d = None if detail is None else torch.from_numpy(np.asarray(detail, np.float32)).to(device)
    model.eval()
    outs = [to_uint8_images(generate(model, torch.from_numpy(zz[i:i + batch]).to(device), d))
            for i in range(0, len(zz), batch)]
    return np.concatenate(outs) if outs else np.zeros((0, 1, 1, 3), np.uint8)


def image_grid(images: np.ndarray, cols: int | None = None, pad: int = 2, background: int = 24) -> np.ndarray:
    """Tile uint8 images (n, h, w, 3) into one picture, ``cols`` per row (default: a near-square grid)."""
    n, h, w = images.shape[:3]
    cols = cols or max(1, math.ceil(math.sqrt(n)))
    rows = max(1, math.ceil(n / cols))
    out = np.full((rows * h + (rows + 1) * pad, cols * w + (cols + 1) * pad, 3), background, np.uint8)
    for i in range(n):
        r, c = divmod(i, cols)
        y, x = pad + r * (h + pad), pad + c * (w + pad)
        out[y:y + h, x:x + w] = images[i]
    return out


def grid_cell(index_xy: tuple[int, int], n: int, h: int, w: int, cols: int | None = None,
              pad: int = 2) -> int | None:
    """Which image of an ``image_grid`` lies at pixel (x, y), or None (padding or outside)."""
    cols = cols or max(1, math.ceil(math.sqrt(n)))
    x, y = index_xy
    c, rx = divmod(x - pad, w + pad)
    r, ry = divmod(y - pad, h + pad)
    if x < pad or y < pad or rx >= w or ry >= h or c >= cols:
        return None
    i = r * cols + c
    return i if 0 <= i < n else None


def lerp(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    return ((1.0 - t) * a + t * b).astype(np.float32)


def slerp(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    """Spherical interpolation: along the great circle between the directions of ``a`` and ``b``, with
    the norm interpolated linearly (so the path stays where Gaussian latents live)."""
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    if na == 0 or nb == 0:
        return lerp(a, b, t)
    ua, ub = a / na, b / nb
    omega = math.acos(float(np.clip(np.dot(ua, ub), -1.0, 1.0)))
    if omega < 1e-6:
        return lerp(a, b, t)
    so = math.sin(omega)
    u = (math.sin((1 - t) * omega) * ua + math.sin(t * omega) * ub) / so
    return (u * ((1 - t) * na + t * nb)).astype(np.float32)


def interpolate(a: np.ndarray, b: np.ndarray, frames: int, mode: Interpolation = "slerp") -> np.ndarray:
    """``frames`` latents from ``a`` to ``b`` inclusive, (frames, nz)."""
    if frames < 2:
        raise StudioInputError(f"an interpolation needs at least 2 frames, got {frames}")
    if mode not in ("slerp", "lerp"):
        raise StudioInputError(f"interpolation must be slerp or lerp, got {mode!r}")
    f = slerp if mode == "slerp" else lerp
    return np.stack([f(a, b, i / (frames - 1)) for i in range(frames)]).astype(np.float32)


def upscale(image: np.ndarray, factor: int, smooth: bool = False) -> np.ndarray:
    """Enlarge uint8 HxWx3 by an integer factor: pixel blocks (nearest) or bicubic (smooth)."""
    if factor <= 1:
        return image
    import cv2

    h, w = image.shape[:2]
    interp = cv2.INTER_CUBIC if smooth else cv2.INTER_NEAREST
    return cv2.resize(np.ascontiguousarray(image), (w * factor, h * factor), interpolation=interp)


# --------------------------------------------------------------------------------------------
# export


def save_latents(path: str | os.PathLike[str], z: np.ndarray) -> Path:
    """Write latents as ``.npy`` (atomic)."""
    p = Path(path)
    if p.suffix.lower() != ".npy":
        raise StudioInputError(f"{str(p)!r} should end in .npy")
    check_parent_folder(p)
    buf = io.BytesIO()
    np.save(buf, np.asarray(z, dtype=np.float32), allow_pickle=False)
    atomic_write_bytes(p, buf.getvalue())
    return p


#: the largest .npy of latents read (MAX_SAMPLES latents of 4096 float64 values, and the header)
LATENTS_FILE_BYTES = 33 * 1024**2


def load_latents(path: str | os.PathLike[str], nz: int | None = None) -> np.ndarray:
    """Latents from ``.npy`` as float32 (n, nz); checks the width against ``nz`` when given."""
    from studio.engines.gan.params import MAX_SAMPLES

    p = Path(path)
    if not p.is_file():
        raise StudioInputError(f"{str(p)!r} does not exist.")
    size = p.stat().st_size
    if size > LATENTS_FILE_BYTES:
        raise StudioInputError(f"{str(p)!r} is {size / 1024**2:.0f} MB; a file of latents is at most "
                               f"{LATENTS_FILE_BYTES // 1024**2} MB ({MAX_SAMPLES} latents of 4096 values).")
    try:
        with open(p, "rb") as f:
            magic = f.read(6)
    except OSError as exc:
        raise StudioInputError(f"{str(p)!r} cannot be read: {exc.strerror or exc}.") from exc
    if magic != b"\x93NUMPY":
        raise StudioInputError(f"{str(p)!r} is not a .npy array (it does not start with NumPy's header).")
    try:
        z = np.load(p, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise StudioInputError(f"{str(p)!r} is not a readable .npy array: {str(exc).rstrip('.')}.") from exc
    if z.dtype.kind not in "fiu" or z.ndim not in (1, 2, 4):
        raise StudioInputError(f"{str(p)!r} holds a {z.dtype} array of shape {z.shape}, not latents.")
    z = z.reshape(z.shape[0], -1) if z.ndim == 4 else np.atleast_2d(z)
    if not 1 <= len(z) <= MAX_SAMPLES:
        raise StudioInputError(f"{str(p)!r} holds {len(z)} latents; give 1 to {MAX_SAMPLES}.")
    if nz is not None and z.shape[1] != nz:
        raise StudioInputError(f"{str(p)!r} holds latents of {z.shape[1]} dimensions; this generator takes {nz}.")
    if not np.isfinite(z).all():
        raise StudioInputError(f"{str(p)!r} holds NaN or infinite values.")
    return z.astype(np.float32)
