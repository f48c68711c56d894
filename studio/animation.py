"""Animations out of frames: an animated GIF or a numbered PNG sequence, each file written atomically."""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from studio.engines.errors import StudioInputError
from studio.engines.files import atomic_write_bytes, check_parent_folder
from studio.image_save import save_image


def save_gif(frames: Sequence[np.ndarray], path: str | os.PathLike[str], fps: float = 12.0,
             loop: bool = True, boomerang: bool = False) -> Path:
    """An animated GIF of uint8 frames (atomic). ``boomerang`` plays forwards then backwards."""
    p = Path(path)
    if p.suffix.lower() != ".gif":
        raise StudioInputError(f"{str(p)!r} should end in .gif")
    check_parent_folder(p)
    seq = list(frames)
    if not seq:
        raise StudioInputError("there are no frames to write")
    if boomerang and len(seq) > 2:
        seq = seq + seq[-2:0:-1]
    pil = [Image.fromarray(np.ascontiguousarray(f)) for f in seq]
    buf = io.BytesIO()
    pil[0].save(buf, format="GIF", save_all=True, append_images=pil[1:], duration=max(20, round(1000 / fps)),
                loop=0 if loop else 1, optimize=False)
    atomic_write_bytes(p, buf.getvalue())
    return p


def save_png_sequence(frames: Sequence[np.ndarray], folder: str | os.PathLike[str], stem: str = "frame",
                      metadata: dict[str, str] | None = None) -> list[Path]:
    """``folder/stem_0000.png`` ... (each written atomically); returns the paths."""
    d = Path(folder)
    if d.exists() and not d.is_dir():
        raise StudioInputError(f"{str(d)!r} is a file, not a folder for the frames.")
    d.mkdir(parents=True, exist_ok=True)
    digits = max(4, len(str(len(frames) - 1)))
    written: list[Path] = []
    try:
        for i, f in enumerate(frames):
            written.append(save_image(d / f"{stem}_{i:0{digits}d}.png", f, metadata=metadata))
    except KeyboardInterrupt as exc:  # Ctrl-C or SIGTERM: the frames so far are whole, and said to be a part
        exc.add_note(f"{len(written)} of {len(frames)} frames were written to {d} before the interruption; "
                     "the sequence is incomplete.")
        raise
    return written
