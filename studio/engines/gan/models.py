"""The DCGAN generator and critic of the Wasserstein GAN work (Radford et al. 2015; Arjovsky et al. 2017).

The generator maps a latent ``z`` (``nz`` numbers) through a 4x4 transposed convolution and a
pyramid of stride-2 transposed convolutions (each with batch norm and ReLU) to a ``tanh`` image in
[-1, 1]; ``n_extra_layers`` 3x3 convolutions sit before the last layer. The critic mirrors it:
stride-2 convolutions with LeakyReLU (batch norm after the first), then one single-channel 4x4
convolution averaged to one score per image. The image size is a multiple of 16.

The layer order and widths are those of the original WGAN code's ``DCGAN_G``/``DCGAN_D``; the
generator's ``main`` is a plain numbered ``nn.Sequential``, so for 64 px, ``n_extra_layers`` 0 its
state dict has exactly the keys of the PyTorch examples' DCGAN (``main.0.weight`` ...).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from studio.engines.errors import StudioInputError
from studio.engines.limits import Limit
from studio.engines.params import Params

Norm = Literal["batch", "none"]


@dataclass(frozen=True)
class GanArch(Params):
    """The shape of a generator/critic pair."""

    LIMITS = {
        "image_size": Limit(8, 1024, "a DCGAN above 1024 px does not train"), "nz": Limit(1, 4096),
        "ngf": Limit(1, 1024), "ndf": Limit(1, 1024), "nc": Limit(1, 4),
        "n_extra_layers": Limit(0, 16, "each extra layer adds a full-size convolution"),
    }

    image_size: int = 64
    nz: int = 100
    ngf: int = 64
    ndf: int = 64
    nc: int = 3
    n_extra_layers: int = 0
    generator_norm: Norm = "batch"
    critic_norm: Norm = "batch"  # "none" for wgan-gp (the gradient penalty is per sample)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> GanArch:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


def check_arch(arch: GanArch) -> None:
    """Raise StudioInputError with one sentence for an architecture that cannot be built."""
    s = arch.image_size
    if not isinstance(s, int) or s < 16 or s % 16:
        raise StudioInputError(f"the image size must be a multiple of 16 of at least 16 pixels, got {s!r}")
    for name in ("nz", "ngf", "ndf", "nc"):
        v = getattr(arch, name)
        if not isinstance(v, int) or v < 1:
            raise StudioInputError(f"{name} must be a whole number of at least 1, got {v!r}")
    if arch.ngf < 2:
        raise StudioInputError(f"ngf must be at least 2, got {arch.ngf!r}")
    if not isinstance(arch.n_extra_layers, int) or arch.n_extra_layers < 0:
        raise StudioInputError(f"n_extra_layers must be 0 or more, got {arch.n_extra_layers!r}")
    for name in ("generator_norm", "critic_norm"):
        if getattr(arch, name) not in ("batch", "none"):
            raise StudioInputError(f"{name} must be batch or none, got {getattr(arch, name)!r}")


def generator_base_width(image_size: int, ngf: int) -> int:
    """Channels after the generator's first (4x4) layer: ngf/2 doubled once per factor 2 up to the size."""
    cngf, tisize = ngf // 2, 4
    while tisize != image_size:
        cngf *= 2
        tisize *= 2
    return cngf


class DCGAN_G(nn.Module):  # noqa: N801 - the name of the papers' code
    """z (B, nz) or (B, nz, 1, 1) -> image (B, nc, S, S) in [-1, 1]."""

    def __init__(self, arch: GanArch) -> None:
        super().__init__()
        check_arch(arch)
        self.arch = arch
        bn = arch.generator_norm == "batch"
        cngf = generator_base_width(arch.image_size, arch.ngf)
        layers: list[nn.Module] = [nn.ConvTranspose2d(arch.nz, cngf, 4, 1, 0, bias=False)]
        if bn:
            layers.append(nn.BatchNorm2d(cngf))
        layers.append(nn.ReLU(True))
        csize = 4
        while csize < arch.image_size // 2:
            layers.append(nn.ConvTranspose2d(cngf, cngf // 2, 4, 2, 1, bias=False))
            if bn:
                layers.append(nn.BatchNorm2d(cngf // 2))
            layers.append(nn.ReLU(True))
            cngf //= 2
            csize *= 2
        for _ in range(arch.n_extra_layers):
            layers.append(nn.Conv2d(cngf, cngf, 3, 1, 1, bias=False))
            if bn:
                layers.append(nn.BatchNorm2d(cngf))
            layers.append(nn.ReLU(True))
        layers += [nn.ConvTranspose2d(cngf, arch.nc, 4, 2, 1, bias=False), nn.Tanh()]
        self.main = nn.Sequential(*layers)
        # the end of the first block (after its ReLU): the "early layer" GANSpace looks at
        self.first_block_end = 3 if bn else 2

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if z.dim() == 2:
            z = z[:, :, None, None]
        return self.main(z)

    def first_block(self, z: torch.Tensor) -> torch.Tensor:
        """The activations after the first block (B, C, 4, 4)."""
        if z.dim() == 2:
            z = z[:, :, None, None]
        return self.main[: self.first_block_end](z)


def detail_split(main: nn.Sequential) -> int:
    """Where a fitted photo's detail joins a generator (``project.py``): just after its second block's ReLU
    (8x8 for a DCGAN), or its first where only one comes before the last layer. Counted in ReLUs, so a
    generator and its ``FusedGenerator`` (batch norms folded away) agree."""
    ends = [i + 1 for i, m in enumerate(main) if isinstance(m, nn.ReLU)]
    if not ends:
        raise StudioInputError("this generator has no block a fitted detail could join")
    return ends[1] if len(ends) >= 2 else ends[0]


@torch.no_grad()
def detail_shape(model: nn.Module) -> tuple[int, ...]:
    """The shape (C, H, W) a fitted detail has for ``model``: that of one latent's activations at ``detail_split``."""
    main = model.main
    z = torch.zeros(1, model.arch.nz, 1, 1, device=next(model.parameters()).device)
    return tuple(main[:detail_split(main)](z).shape[1:])


def generate(model: nn.Module, z: torch.Tensor, detail: torch.Tensor | None = None) -> torch.Tensor:
    """``model(z)``, or with ``detail`` (C, H, W) added to every latent's activations at ``detail_split``."""
    if detail is None:
        return model(z)
    if z.dim() == 2:
        z = z[:, :, None, None]
    main = model.main
    k = detail_split(main)
    early = main[:k](z)
    if tuple(detail.shape) != tuple(early.shape[1:]):
        raise StudioInputError(f"the fitted detail has the shape {tuple(detail.shape)}, not this generator's "
                               f"{tuple(early.shape[1:])}: it was fitted with another generator")
    return main[k:](early + detail)


class DCGAN_D(nn.Module):  # noqa: N801
    """image (B, nc, S, S) -> one score per image (B,): the final 1-channel conv, averaged."""

    def __init__(self, arch: GanArch) -> None:
        super().__init__()
        check_arch(arch)
        self.arch = arch
        bn = arch.critic_norm == "batch"
        layers: list[nn.Module] = [nn.Conv2d(arch.nc, arch.ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, True)]
        csize, cndf = arch.image_size // 2, arch.ndf
        for _ in range(arch.n_extra_layers):
            layers.append(nn.Conv2d(cndf, cndf, 3, 1, 1, bias=False))
            if bn:
                layers.append(nn.BatchNorm2d(cndf))
            layers.append(nn.LeakyReLU(0.2, True))
        while csize > 4:
            layers.append(nn.Conv2d(cndf, cndf * 2, 4, 2, 1, bias=False))
            if bn:
                layers.append(nn.BatchNorm2d(cndf * 2))
            layers.append(nn.LeakyReLU(0.2, True))
            cndf *= 2
            csize //= 2
        layers.append(nn.Conv2d(cndf, 1, 4, 1, 0, bias=False))
        self.main = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.main(x).mean(dim=(1, 2, 3))


def init_weights(module: nn.Module) -> None:
    """The DCGAN initialisation: convolutions N(0, 0.02), batch-norm scales N(1, 0.02), shifts 0."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d | nn.ConvTranspose2d):
            nn.init.normal_(m.weight, 0.0, 0.02)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


class FusedGenerator(nn.Module):
    """An inference copy of a generator with each batch norm folded into the layer before it (eval-mode
    statistics): the same pictures with fewer operations, for interactive rendering."""

    def __init__(self, g: DCGAN_G) -> None:
        super().__init__()
        self.arch = g.arch
        layers: list[nn.Module] = []
        mods = list(g.main)
        i = 0
        while i < len(mods):
            m = mods[i]
            nxt = mods[i + 1] if i + 1 < len(mods) else None
            if isinstance(m, nn.ConvTranspose2d | nn.Conv2d) and isinstance(nxt, nn.BatchNorm2d):
                layers.append(_fold(m, nxt))
                i += 2
                continue
            layers.append(m)
            i += 1
        self.main = nn.Sequential(*layers).eval()

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if z.dim() == 2:
            z = z[:, :, None, None]
        return self.main(z)


@torch.no_grad()
def _fold(conv: nn.Module, bn: nn.BatchNorm2d) -> nn.Module:
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    shift = bn.bias - bn.running_mean * scale
    transposed = isinstance(conv, nn.ConvTranspose2d)
    w = conv.weight.detach().clone()
    out_dim = 1 if transposed else 0
    shape = [1, 1, 1, 1]
    shape[out_dim] = -1
    w = w * scale.reshape(shape)
    new = (nn.ConvTranspose2d if transposed else nn.Conv2d)(
        conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding, bias=True)
    new.weight.copy_(w)
    bias = conv.bias.detach() * scale + shift if conv.bias is not None else shift
    new.bias.copy_(bias)
    return new


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def to_uint8_images(x: torch.Tensor) -> np.ndarray:
    """Generator output (B, C, H, W) in [-1, 1] -> uint8 (B, H, W, 3)."""
    x = x.detach().float().cpu()
    if x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)
    x = ((x[:, :3] + 1.0) * 127.5 + 0.5).clamp(0, 255).to(torch.uint8)
    return x.permute(0, 2, 3, 1).contiguous().numpy()
