"""Training data for GANs: every image under a folder, as random crops resized to the training size.

Images are decoded once (at a bounded long side) and kept as uint8. Each batch takes, for every
sample, a random image, a random square crop whose side is a random fraction of the image's short
side, resizes it to the training size (area averaging) and flips it left-right half the time.
Unreadable files are skipped and listed; a folder with no readable image is an error.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch

from studio.engines.errors import StudioInputError
from studio.engines.image_files import ImageFiles
from studio.engines.pixels import to_uint8

IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff", ".gif", ".tga", ".ppm"})


def list_images(folder: str | os.PathLike[str], leave_out: str | os.PathLike[str] | None = None) -> list[Path]:
    """Image files under ``folder`` (recursively, hidden files and folders skipped, and the folder ``leave_out``:
    a training run's own output inside it), sorted."""
    root = Path(folder)
    skip = Path(leave_out).resolve() if leave_out is not None else None
    if not root.exists():
        raise StudioInputError(f"the folder {str(root)!r} does not exist")
    if not root.is_dir():
        raise StudioInputError(f"{str(root)!r} is a file, not a folder of images")
    out: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".")
                             and (skip is None or (Path(dirpath) / d).resolve() != skip))
        for name in sorted(filenames):
            if not name.startswith(".") and Path(name).suffix.lower() in IMAGE_EXTENSIONS:
                out.append(Path(dirpath) / name)
    if not out:
        raise StudioInputError(f"the folder {str(root)!r} holds no image files (.png, .jpg, .webp, ...)")
    return out


@dataclass
class ImageSet:
    """Decoded training images (uint8 HxWx3) and the files that could not be read."""

    images: list[np.ndarray]
    files: list[Path]
    skipped: list[tuple[Path, str]] = field(default_factory=list)
    description: str = ""

    def __len__(self) -> int:
        return len(self.images)


def load_image_set(paths: list[Path], load_side: int, min_side: int, image_files: ImageFiles,
                   check: Callable[[], None] | None = None, description: str = "") -> ImageSet:
    """Decode ``paths`` at a long side of at most ``load_side``; skip unreadable or too-small files."""
    images: list[np.ndarray] = []
    files: list[Path] = []
    skipped: list[tuple[Path, str]] = []
    for p in paths:
        if check is not None:
            check()
        try:
            img = image_files.read(p, max_side=load_side)
        except StudioInputError as exc:
            skipped.append((p, str(exc)))
            continue
        rgb = to_uint8(img)
        if min(rgb.shape[:2]) < min_side:
            skipped.append((p, f"{str(p)!r} is {rgb.shape[1]}x{rgb.shape[0]}, smaller than {min_side} px."))
            continue
        images.append(rgb)
        files.append(p)
    if not images:
        first = skipped[0][1] if skipped else ""
        raise StudioInputError(f"none of the {len(paths)} image files could be used for training ({first})")
    return ImageSet(images=images, files=files, skipped=skipped, description=description)


def load_folder(folder: str | os.PathLike[str], size: int, files: ImageFiles, load_side: int | None = None,
                check: Callable[[], None] | None = None, leave_out: str | os.PathLike[str] | None = None) -> ImageSet:
    """Every image under ``folder`` (but those under ``leave_out``), decoded for training at ``size`` px."""
    side = load_side or max(4 * size, 256)
    paths = list_images(folder, leave_out)
    return load_image_set(paths, side, max(8, size // 4), files, check=check,
                          description=f"images under {Path(folder).name}")


def random_batch(data: ImageSet, n: int, size: int, rng: np.random.Generator, crop_min: float = 0.5,
                 crop_max: float = 1.0, flip: bool = True, indices: Iterator[int] | None = None) -> torch.Tensor:
    """(n, 3, size, size) float32 in [-1, 1]: random square crops, resized, optionally flipped, of random
    images (or of the images ``indices`` gives: a distributed run's share of each epoch)."""
    out = np.empty((n, size, size, 3), dtype=np.uint8)
    for i in range(n):
        img = data.images[int(next(indices)) if indices is not None else int(rng.integers(len(data.images)))]
        h, w = img.shape[:2]
        short = min(h, w)
        side = max(1, int(round(short * rng.uniform(crop_min, crop_max))))
        y = int(rng.integers(0, h - side + 1))
        x = int(rng.integers(0, w - side + 1))
        crop = img[y:y + side, x:x + side]
        interp = cv2.INTER_AREA if side > size else cv2.INTER_CUBIC
        patch = cv2.resize(crop, (size, size), interpolation=interp) if side != size else crop
        if flip and rng.random() < 0.5:
            patch = patch[:, ::-1]
        out[i] = patch
    t = torch.from_numpy(out).permute(0, 3, 1, 2).float()
    return t / 127.5 - 1.0
