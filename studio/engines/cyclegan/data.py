"""Training data for CycleGAN: two folders of images, sampled as unaligned pairs.

Images are decoded once (downscaled so the short side is at most a few crop sizes) and kept in
memory as uint8 (a quarter of float32's bytes); every sample is a fresh random resize-and-crop with an
optional horizontal flip, made float in [0, 1] only then.
"""

from __future__ import annotations

import os
from collections.abc import Generator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch

from studio.engines.errors import StudioInputError
from studio.engines.image_files import ImageFiles
from studio.engines.pixels import to_uint8

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff", ".bmp"})


def list_images(folder: str | os.PathLike[str], role: str = "image") -> list[Path]:
    """The image files directly inside ``folder`` (sorted); one clear sentence when there are none."""
    p = Path(folder)
    if not p.exists():
        raise StudioInputError(f"the {role} folder {str(p)!r} does not exist.")
    if not p.is_dir():
        raise StudioInputError(f"the {role} folder {str(p)!r} is a file, not a folder.")
    files = sorted(f for f in p.iterdir() if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES
                   and not f.name.startswith("."))
    if not files:
        raise StudioInputError(f"the {role} folder {str(p)!r} holds no images (.png, .jpg, .webp, .tif or .bmp).")
    return files


def _short_side_at_most(rgb: np.ndarray, side: int) -> np.ndarray:
    h, w = rgb.shape[:2]
    if min(h, w) <= side:
        return rgb
    s = side / min(h, w)
    return cv2.resize(rgb, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)


@dataclass
class Domain:
    """The decoded images of one folder, and the files that could not be read."""

    name: str
    images: list[np.ndarray]
    paths: list[Path]
    skipped: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.images)


def read_domain(folder: str | os.PathLike[str], name: str, keep_side: int,
                files: ImageFiles) -> Generator[tuple[int, int], None, Domain]:
    """``load_domain`` one file at a time: yields (files read, files in all) after each, returns the Domain."""
    images, paths, skipped = [], [], []
    listed = list_images(folder, f"domain {name}")
    for n, f in enumerate(listed, 1):
        try:
            rgb = files.read(f, max_pixels=16_000_000)
        except StudioInputError as e:
            skipped.append(str(e))
        else:
            small = _short_side_at_most(rgb, keep_side)
            images.append(small if small.dtype == np.uint8 else to_uint8(small))
            paths.append(f)
        yield n, len(listed)
    if not images:
        raise StudioInputError(f"none of the images in the domain {name} folder {str(folder)!r} could be read "
                               f"({skipped[0] if skipped else 'no images'})")
    return Domain(name, images, paths, skipped)


def load_domain(folder: str | os.PathLike[str], name: str, keep_side: int, files: ImageFiles) -> Domain:
    """Decode every image of ``folder`` (short side at most ``keep_side``) and keep it as uint8; unreadable
    files are skipped and reported, a folder with no readable image is an error (``read_domain`` at once; the
    trainer reads it a file at a time, saying how far it is)."""
    steps = read_domain(folder, name, keep_side, files)
    while True:
        try:
            next(steps)
        except StopIteration as stop:
            return stop.value


def random_crop(img: np.ndarray, crop: int, load: int, preprocess: str, flip: bool,
                rng: np.random.Generator) -> np.ndarray:
    """One training sample (crop x crop x 3 float32 [0, 1]) of a uint8 (or float [0, 1]) picture.

    ``resize_and_crop`` (the official default): resize to load x load, ignoring the aspect ratio,
    then a random crop. ``scale_and_crop``: scale so the short side is a random size between crop
    and load, keeping the aspect ratio, then a random crop (suits a few large pictures).
    """
    h, w = img.shape[:2]
    if preprocess == "resize_and_crop":
        size = (load, load)
    else:
        short = int(rng.integers(crop, max(crop, load) + 1))
        s = short / min(h, w)
        size = (max(crop, round(w * s)), max(crop, round(h * s)))
    interp = cv2.INTER_AREA if size[0] < w else cv2.INTER_CUBIC
    r = cv2.resize(img, size, interpolation=interp)
    y = int(rng.integers(0, r.shape[0] - crop + 1))
    x = int(rng.integers(0, r.shape[1] - crop + 1))
    out = r[y:y + crop, x:x + crop]
    if flip and rng.random() < 0.5:
        out = out[:, ::-1]
    if out.dtype == np.uint8:
        return np.ascontiguousarray(out, dtype=np.float32) * np.float32(1 / 255)
    return np.clip(np.ascontiguousarray(out, dtype=np.float32), 0.0, 1.0)


class ImagePool:
    """The history of generated images (Shrivastava et al.): with probability 1/2 the discriminator sees an
    older fake instead of the newest one, once the pool holds ``size`` images."""

    def __init__(self, size: int, rng: np.random.Generator) -> None:
        self.size = size
        self.rng = rng
        self.images: list[torch.Tensor] = []

    def query(self, batch: torch.Tensor) -> torch.Tensor:
        if self.size <= 0:
            return batch
        out = []
        for img in batch:
            img = img[None].detach()
            if len(self.images) < self.size:
                self.images.append(img.clone())
                out.append(img)
            elif self.rng.random() > 0.5:
                i = int(self.rng.integers(0, self.size))
                old = self.images[i].clone()
                self.images[i] = img.clone()
                out.append(old)
            else:
                out.append(img)
        return torch.cat(out, 0)
