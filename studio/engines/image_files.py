"""How an engine that reads a folder of images or writes sample grids touches image files.

Engines never decode or encode image files themselves: the caller hands them an ``ImageFiles`` (the app
and the CLI pass ``studio.imageio.IMAGE_FILES``, with its size guards and atomic writes), so every image
that enters or leaves studio goes through the same checks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np


@dataclass(frozen=True)
class ImageFiles:
    #: ``read(path, max_side=None, max_pixels=None)`` -> RGB float32 HxWx3 in [0, 1]; a file that cannot be
    #: used raises StudioInputError with one sentence naming it
    read: Callable[..., np.ndarray]
    #: ``write(path, image)``: an RGB image (uint8, or float in [0, 1]) written atomically; returns the path
    write: Callable[[Path, np.ndarray], Any]
