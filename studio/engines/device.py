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
    if name == "cuda" or name.startswith("cuda:"):
        index = name.partition(":")[2]
        if name.endswith(":") or index and not (index.isascii() and index.isdigit() and len(index) <= 3):
            raise StudioInputError(f"unknown device {name!r}; a CUDA GPU is named cuda or cuda:N, N its number "
                                   "from 0")
        if not torch.cuda.is_available():
            raise StudioInputError(f"device {name!r} was asked for, but this machine has no usable CUDA GPU; "
                             "use --device cpu or auto")
        count = torch.cuda.device_count()
        if index and int(index) >= count:
            raise StudioInputError(f"device {name!r} was asked for, but this machine has {gpus(count)} "
                                   f"(cuda:0 to cuda:{count - 1})")
        return torch.device(name)
    if name == "mps":
        if not _mps_available():
            raise StudioInputError("device 'mps' was asked for, but Apple MPS is not available here; "
                             "use --device cpu or auto")
        return torch.device("mps")
    if name == "cpu":
        return torch.device("cpu")
    raise StudioInputError(f"unknown device {name!r}; expected auto, cpu, cuda or mps")


def gpus(count: int) -> str:
    """"one CUDA GPU", "2 CUDA GPUs": how many this machine has, in words."""
    return "one CUDA GPU" if count == 1 else f"{count} CUDA GPUs"


def describe(device: torch.device) -> str:
    if device.type == "cuda":
        return f"CUDA ({torch.cuda.get_device_name(device)})"
    if device.type == "mps":
        return "Apple MPS"
    return f"CPU ({torch.get_num_threads()} threads)"
