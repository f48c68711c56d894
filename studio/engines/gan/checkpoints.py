"""Loading and saving generators: studio's own files and two foreign formats, told apart by their keys.

- studio: a dict ``{"format": "studio-gan-generator", "arch": {...}, "state_dict": {...}}`` (or the
  full training checkpoint ``"studio-gan-checkpoint"``), with a JSON model card next to it
  (``generator.pt`` -> ``generator.json``).
- ``pytorch-examples``: the PyTorch examples' DCGAN ``netG_epoch_N.pth``, a bare state dict with
  numbered keys ``main.0.weight`` ... (nz 100, ngf 64, 64 px there; read from the shapes here).
- ``wgan``: the original Wasserstein GAN code's ``DCGAN_G`` (keys such as
  ``main.initial:100-512:convt.weight``), with its ``generator_config.json`` when it lies next to
  the weights (else the shapes decide).

Every file is read with ``torch.load(..., weights_only=True)``; writes are atomic.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from studio.engines.errors import StudioInputError
from studio.engines.files import atomic_write, atomic_write_text, read_json
from studio.engines.gan.models import DCGAN_G, GanArch, check_arch
from studio.engines.torch_files import load_tensors

GENERATOR_FORMAT = "studio-gan-generator"
CHECKPOINT_FORMAT = "studio-gan-checkpoint"
FORMAT_VERSION = 1


@dataclass
class LoadedGenerator:
    """A generator ready to sample from (eval mode, float32), and where it came from."""

    model: DCGAN_G
    arch: GanArch
    source_format: str  # studio | pytorch-examples | wgan
    path: Path | None
    weights_hash: str  # SHA-256 of the float32 weights (stable across file formats)
    card: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return str(self.card.get("name") or (self.path.name if self.path else "generator"))


# --------------------------------------------------------------------------------------------
# atomic writes


def atomic_torch_save(obj: Any, path: Path) -> None:
    atomic_write(path, lambda f: torch.save(obj, f))


def atomic_json_save(obj: Any, path: Path) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, ensure_ascii=False) + "\n")


def card_path(weights: Path) -> Path:
    return Path(weights).with_suffix(".json")


# --------------------------------------------------------------------------------------------
# reading


def _torch_load(path: Path) -> Any:
    return load_tensors(path, "checkpoint")


def weights_hash(state_dict: dict[str, torch.Tensor]) -> str:
    """SHA-256 over the names and float32 values of a state dict (the same for half and float files)."""
    h = hashlib.sha256()
    for k in sorted(state_dict):
        v = state_dict[k]
        h.update(k.encode())
        t = v.detach().cpu()
        t = t.float() if t.is_floating_point() else t
        h.update(t.contiguous().numpy().tobytes())
    return h.hexdigest()


def _strip_module(sd: dict[str, Any]) -> dict[str, Any]:
    if sd and all(k.startswith("module.") for k in sd):
        return {k[len("module."):]: v for k, v in sd.items()}
    return sd


#: keys other programs keep a generator's state dict under, in the order they are looked for (the PyTorch DCGAN
#: tutorial's training loop saves ``netG_state_dict``; Lightning and many scripts ``state_dict``)
WRAPPER_KEYS = ("netG_state_dict", "state_dict", "generator", "netG", "model", "G", "generator_state_dict")


def unwrap(obj: Any) -> tuple[Any, str | None]:
    """A state dict kept inside a wrapper dict (``WRAPPER_KEYS``), and the key it was found under (None: ``obj``
    itself, unwrapped, or a studio file)."""
    if not isinstance(obj, dict) or obj.get("format") in (GENERATOR_FORMAT, CHECKPOINT_FORMAT):
        return obj, None
    if obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
        return obj, None
    for key in WRAPPER_KEYS:
        inner = obj.get(key)
        if isinstance(inner, dict) and inner and all(isinstance(v, torch.Tensor) for v in inner.values()):
            return inner, key
    return obj, None


def detect_format(obj: Any) -> str:
    """``studio``, ``pytorch-examples`` or ``wgan`` for a loaded object; StudioInputError otherwise."""
    if isinstance(obj, dict) and obj.get("format") in (GENERATOR_FORMAT, CHECKPOINT_FORMAT):
        return "studio"
    if not isinstance(obj, dict) or not obj or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise StudioInputError("the file is neither a studio generator nor a generator state dict (nor one kept "
                               f"under {', '.join(WRAPPER_KEYS)})")
    keys = list(_strip_module(obj))
    if all(re.fullmatch(r"main\.\d+\.[a-z_]+", k) for k in keys):
        return "pytorch-examples"
    if all(k.startswith("main.") for k in keys) and any(":convt." in k for k in keys):
        return "wgan"
    raise StudioInputError(f"the state dict's keys (e.g. {keys[0]!r}) are not those of a DCGAN generator")


def _modules_in_order(sd: dict[str, torch.Tensor]) -> list[tuple[str, dict[str, torch.Tensor]]]:
    """Group ``main.<name>.<param>`` keys by module, in the order they appear."""
    groups: dict[str, dict[str, torch.Tensor]] = {}
    for k, v in sd.items():
        mod, _, param = k.rpartition(".")
        groups.setdefault(mod, {})[param] = v
    return list(groups.items())


def _is_bn(params: dict[str, torch.Tensor]) -> bool:
    return "running_mean" in params


def infer_arch(sd: dict[str, torch.Tensor]) -> GanArch:
    """The architecture of a DCGAN generator state dict, from its weight shapes (either key style)."""
    mods = _modules_in_order(sd)
    convs = [p["weight"] for _, p in mods if not _is_bn(p) and "weight" in p]
    if len(convs) < 2:
        raise StudioInputError("the state dict has too few layers for a DCGAN generator")
    first, last = convs[0], convs[-1]
    if first.dim() != 4 or first.shape[2:] != (4, 4) or last.dim() != 4:
        raise StudioInputError("the state dict's first and last layers are not 4x4 transposed convolutions")
    extra = sum(1 for w in convs[1:-1] if tuple(w.shape[2:]) == (3, 3))
    pyramid = len(convs) - 2 - extra
    image_size = 4 * 2 ** (pyramid + 1)
    nz, nc = int(first.shape[0]), int(last.shape[1])
    ngf = int(last.shape[0])  # the final layer's input width is ngf (ngf//2 * 2)
    has_bn = any(_is_bn(p) for _, p in mods)
    return GanArch(image_size=image_size, nz=nz, ngf=ngf, ndf=ngf, nc=nc, n_extra_layers=extra,
                   generator_norm="batch" if has_bn else "none")


def _wgan_config(path: Path | None) -> dict[str, Any] | None:
    if path is None:
        return None
    cfg = path.parent / "generator_config.json"
    if not cfg.is_file():
        return None
    data = read_json(cfg)
    if not isinstance(data, dict):
        raise StudioInputError(f"{str(cfg)!r} does not hold a JSON object.")
    if data.get("mlp_G"):
        raise StudioInputError(f"{str(cfg)!r} describes an MLP generator (mlp_G); only DCGAN generators load.")
    return data


def arch_from_wgan_config(cfg: dict[str, Any]) -> GanArch:
    """The WGAN code's generator_config.json (imageSize, nz, nc, ngf, n_extra_layers, noBN)."""
    try:
        return GanArch(image_size=int(cfg["imageSize"]), nz=int(cfg["nz"]), nc=int(cfg["nc"]),
                       ngf=int(cfg["ngf"]), ndf=int(cfg["ngf"]), n_extra_layers=int(cfg.get("n_extra_layers", 0)),
                       generator_norm="none" if cfg.get("noBN") else "batch")
    except (KeyError, TypeError, ValueError) as exc:
        raise StudioInputError(f"generator_config.json lacks or has a bad value for {exc}.") from exc


def convert_foreign(sd: dict[str, torch.Tensor], arch: GanArch) -> dict[str, torch.Tensor]:
    """Map a foreign generator state dict onto studio's ``DCGAN_G(arch)`` keys, module by module, in order."""
    target = DCGAN_G(arch).state_dict()
    theirs = _modules_in_order(sd)
    ours = _modules_in_order(target)
    if len(theirs) != len(ours):
        raise StudioInputError(f"the generator has {len(theirs)} layers with weights, but a {arch.image_size} px "
                               f"DCGAN with nz {arch.nz}, ngf {arch.ngf} has {len(ours)}")
    out: dict[str, torch.Tensor] = {}
    for (their_name, tp), (our_name, op) in zip(theirs, ours, strict=True):
        for param, ref in op.items():
            if param not in tp:
                if param == "num_batches_tracked":  # checkpoints from PyTorch < 0.4.1
                    out[f"{our_name}.{param}"] = torch.zeros((), dtype=torch.long)
                    continue
                raise StudioInputError(f"the layer {their_name!r} has no {param!r}")
            v = tp[param]
            if tuple(v.shape) != tuple(ref.shape):
                raise StudioInputError(f"the layer {their_name!r} has {param} of shape {tuple(v.shape)}, "
                                       f"expected {tuple(ref.shape)}")
            out[f"{our_name}.{param}"] = v.to(ref.dtype) if ref.is_floating_point() else v
    return out


def _read_card(path: Path) -> dict[str, Any]:
    cp = card_path(path)
    if not cp.is_file():
        return {}
    try:
        data = read_json(cp)
    except (OSError, StudioInputError):  # the card is a description: a broken one is left out
        return {}
    return data if isinstance(data, dict) else {}


def generator_from_state(sd: dict[str, torch.Tensor], arch: GanArch) -> DCGAN_G:
    check_arch(arch)
    model = DCGAN_G(arch)
    try:
        model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in sd.items()})
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()
        raise StudioInputError(f"the weights do not fit the architecture: {first[1] if len(first) > 1 else first[0]}"
                               ) from exc
    return model.eval()


#: the generator file in a training run's output folder
RUN_GENERATOR = "generator.pt"


def run_generator(path: Path) -> Path:
    """``path``, or the generator file of the run folder ``path`` names (one sentence when it has none)."""
    if not path.is_dir():
        return path
    if (path / RUN_GENERATOR).is_file():
        return path / RUN_GENERATOR
    raise StudioInputError(f"{str(path)!r} is a folder without a {RUN_GENERATOR} (the generator a train-gan run "
                           "writes); name a generator file or a train-gan output folder.")


def load_generator(path: str | os.PathLike[str]) -> LoadedGenerator:
    """Load a generator from any of the three formats (see the module docstring), or the ``generator.pt`` of a
    folder (a ``train-gan`` run's output)."""
    p = run_generator(Path(path))
    obj, wrapper = unwrap(_torch_load(p))
    try:
        fmt = detect_format(obj)
    except StudioInputError as exc:
        raise StudioInputError(f"{str(p)!r}: {exc}.") from None
    card: dict[str, Any] = {}
    if fmt == "studio":
        try:
            arch = GanArch.from_dict(obj["arch"])
            sd = obj["state_dict"] if obj["format"] == GENERATOR_FORMAT else obj["generator"]
        except (KeyError, TypeError) as exc:
            raise StudioInputError(f"{str(p)!r} is a damaged studio generator file (missing {exc}).") from None
        card = dict(obj.get("card") or {}) | _read_card(p)
    else:
        sd = _strip_module(obj)
        if fmt == "wgan":
            cfg = _wgan_config(p)
            arch = arch_from_wgan_config(cfg) if cfg is not None else infer_arch(sd)
            card = {"name": p.stem, "source": "Wasserstein GAN code (DCGAN_G)", "config": cfg or {}}
        else:
            arch = infer_arch(sd)
            card = {"name": p.stem, "source": "PyTorch examples DCGAN"}
        if wrapper is not None:
            card["found"] = f"the generator's state dict under {wrapper!r}"
        try:
            sd = convert_foreign(sd, arch)
        except StudioInputError as exc:
            raise StudioInputError(f"{str(p)!r}: {exc}.") from None
    try:
        model = generator_from_state(sd, arch)
    except StudioInputError as exc:
        raise StudioInputError(f"{str(p)!r}: {exc}.") from None
    return LoadedGenerator(model=model, arch=arch, source_format=fmt, path=p,
                           weights_hash=weights_hash(model.state_dict()), card=card)


def save_generator(path: str | os.PathLike[str], model: DCGAN_G, card: dict[str, Any], *, half: bool = True) -> Path:
    """Write the generator alone (half precision by default) and its JSON model card, both atomically."""
    p = Path(path)
    sd = {k: (v.detach().cpu().half() if half and v.is_floating_point() else v.detach().cpu())
          for k, v in model.state_dict().items()}
    card = {**card, "arch": model.arch.to_dict(), "precision": "float16" if half else "float32"}
    atomic_torch_save({"format": GENERATOR_FORMAT, "version": FORMAT_VERSION, "arch": model.arch.to_dict(),
                       "state_dict": sd, "card": card}, p)
    atomic_json_save(card, card_path(p))
    return p


def load_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A studio training checkpoint (for resuming)."""
    p = Path(path)
    obj = _torch_load(p)
    if not isinstance(obj, dict) or obj.get("format") != CHECKPOINT_FORMAT:
        raise StudioInputError(f"{str(p)!r} is not a studio GAN training checkpoint.")
    if int(obj.get("version", 0)) > FORMAT_VERSION:
        raise StudioInputError(f"{str(p)!r} was written by a newer studio; update studio to resume it.")
    return obj
