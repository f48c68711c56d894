"""Choosing the torch device: auto prefers CUDA, then Apple MPS, then the CPU."""

from __future__ import annotations

import torch

from studio.engines.errors import StudioInputError


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def available_devices() -> list[str]:
    devices = ["auto", "cpu"]
    if torch.cuda.is_available():
        devices.append("cuda")
    if _mps_available():
        devices.append("mps")
    return devices


def resolve_device(name: str = "auto") -> torch.device:
    """The device for ``name`` (auto|cpu|cuda|cuda:N|mps); a clear error when it is absent."""
    name = (name or "auto").lower()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise StudioInputError(f"device {name!r} was asked for, but this machine has no usable CUDA GPU; "
                             "use --device cpu or auto")
        return torch.device(name)
    if name == "mps":
        if not _mps_available():
            raise StudioInputError("device 'mps' was asked for, but Apple MPS is not available here; "
                             "use --device cpu or auto")
        return torch.device("mps")
    if name == "cpu":
        return torch.device("cpu")
    raise StudioInputError(f"unknown device {name!r}; expected auto, cpu, cuda or mps")


def describe(device: torch.device) -> str:
    if device.type == "cuda":
        return f"CUDA ({torch.cuda.get_device_name(device)})"
    if device.type == "mps":
        return "Apple MPS"
    return f"CPU ({torch.get_num_threads()} threads)"
