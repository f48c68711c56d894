"""Reading a ``.pth``/``.pt`` file the one safe way: ``torch.load(..., weights_only=True)``, with one sentence
of our own for every failure.

PyTorch's own message for a refused file runs over several lines and advises "re-running with
weights_only=False will likely succeed": loading that way would run whatever code the file holds, so
that advice never reaches the user. The sentence says what is wrong with the file instead.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from studio.engines.errors import StudioInputError

#: the largest .pth/.pt read (loading takes all of it into memory): the largest network studio loads, the
#: torchvision VGG-19, is 548 MB, a CycleGAN training checkpoint with its optimisers about 200 MB
MAX_CHECKPOINT_BYTES = 2 * 1024**3


def load_tensors(path: str | os.PathLike[str], what: str = "checkpoint") -> Any:
    """The tensors (and plain containers and numbers) a file holds; never code, never arbitrary objects."""
    p = Path(path)
    if not p.exists():
        raise StudioInputError(f"{str(p)!r} does not exist.")
    if p.is_dir():
        raise StudioInputError(f"{str(p)!r} is a folder, not a {what} file.")
    if not p.is_file():
        raise StudioInputError(f"{str(p)!r} is not a regular file.")
    size = p.stat().st_size
    if size == 0:
        raise StudioInputError(f"{str(p)!r} is empty (0 bytes).")
    if size > MAX_CHECKPOINT_BYTES:
        raise StudioInputError(f"{str(p)!r} is {size / 1024**3:.1f} GB; a {what} studio loads is at most "
                               f"{MAX_CHECKPOINT_BYTES // 1024**3} GB.")
    try:
        return torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - every failure means one of the two sentences below
        text = str(exc)
        if "Unsupported global" in text:  # the file names a Python function or class to build
            raise StudioInputError(
                f"{str(p)!r} holds Python objects besides tensors (which could run code when loaded), so studio "
                f"does not load it as a {what}; use a file that holds only weights.") from None
        raise StudioInputError(f"{str(p)!r} is not a {what} file studio can read: it is damaged, cut short or "
                               "another kind of file.") from None
