"""Reading and writing CycleGAN checkpoints: plain state dicts in the official layout, written atomically."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from studio.engines.cyclegan.models import ResnetGenerator, generator_from_state_dict
from studio.engines.errors import StudioInputError
from studio.engines.files import atomic_write
from studio.engines.torch_files import load_tensors


def read_state_dict(path: str | os.PathLike[str]) -> dict[str, Any]:
    """``torch.load(..., weights_only=True)`` of a file, with one clear sentence for every failure."""
    p = Path(path)
    sd = load_tensors(p, "weights")
    if isinstance(sd, dict) and isinstance(sd.get("state_dict"), dict):
        sd = sd["state_dict"]
    if not isinstance(sd, dict):
        raise StudioInputError(f"{str(p)!r} does not hold a state dict (it holds a {type(sd).__name__}).")
    return sd


def load_generator(path: str | os.PathLike[str]) -> ResnetGenerator:
    """A CycleGAN ResNet generator from a ``.pth`` (official, studio-trained, half precision or not)."""
    sd = read_state_dict(path)
    try:
        return generator_from_state_dict(sd)
    except ValueError as e:
        raise StudioInputError(f"{str(path)!r} cannot be used as a translator: {e}.") from None


def save_state_dict(module_or_sd: nn.Module | dict[str, Any], path: str | os.PathLike[str],
                    half: bool = False) -> Path:
    """Write a state dict atomically (temp file in the same folder, then os.replace), on the CPU."""
    p = Path(path)
    sd = module_or_sd.state_dict() if isinstance(module_or_sd, nn.Module) else module_or_sd
    sd = {k: (v.detach().cpu().half() if half and v.is_floating_point() else v.detach().cpu())
          if isinstance(v, torch.Tensor) else v for k, v in sd.items()}
    atomic_write(p, lambda f: torch.save(sd, f))
    return p
