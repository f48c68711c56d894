"""The networks of the original CycleGAN code, with state dicts that match its checkpoints exactly.

``ResnetGenerator``: reflection padding, a 7x7 stem, two stride-2 downsamplings, N residual blocks,
two transposed-conv upsamplings, instance norm without affine parameters, tanh. With ngf 64 and
9 blocks its state dict has 48 tensors (``model.1.weight`` ... ``model.26.bias``) and 11,378,179
parameters, like the official ``latest_net_G.pth`` files; the 6-block variant ends at ``model.23``.

``NLayerDiscriminator``: the 70x70 PatchGAN (3 strided layers) of the same code.

The instance norm layers can record their statistics on one image and reuse them later
(``StatsInstanceNorm``), so an image processed tile by tile is normalised like the whole image.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

NormMode = Literal["instance", "record", "fixed"]

_STALE_SUFFIXES = ("running_mean", "running_var", "num_batches_tracked")


class StatsInstanceNorm(nn.Module):
    """InstanceNorm2d without affine parameters or running statistics (no state dict entries).

    ``mode``: ``instance`` normalises each image by its own statistics (the usual behaviour);
    ``record`` does the same and keeps the per-channel mean and variance; ``fixed`` normalises
    with the kept statistics, whatever the input (used for tiles of a larger image).
    """

    def __init__(self, num_features: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.num_features = num_features
        self.eps = eps
        self.mode: NormMode = "instance"
        self.mean: torch.Tensor | None = None
        self.var: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.mode == "fixed":
            if self.mean is None or self.var is None:
                raise RuntimeError("fixed instance-norm statistics were not recorded")
            return (x - self.mean.to(x)) * torch.rsqrt(self.var.to(x) + self.eps)
        if self.mode == "record":
            var, mean = torch.var_mean(x, dim=(2, 3), keepdim=True, correction=0)
            self.mean, self.var = mean.detach(), var.detach()
            return (x - mean) * torch.rsqrt(var + self.eps)
        return F.instance_norm(x, eps=self.eps)

    def extra_repr(self) -> str:
        return f"{self.num_features}, eps={self.eps}, affine=False"


def _init_normal(module: nn.Module, gain: float = 0.02) -> None:
    """The official 'normal' initialisation: N(0, 0.02) conv weights, zero biases."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d | nn.ConvTranspose2d):
            nn.init.normal_(m.weight, 0.0, gain)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


class ResnetBlock(nn.Module):
    """conv_block: pad, conv3x3, norm, relu, pad, conv3x3, norm (keys conv_block.1 and conv_block.5)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.conv_block = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3, bias=True), StatsInstanceNorm(dim), nn.ReLU(True),
            nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3, bias=True), StatsInstanceNorm(dim),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv_block(x)


class ResnetGenerator(nn.Module):
    """The CycleGAN ResNet generator; input and output in [-1, 1], NCHW, sides a multiple of 4."""

    def __init__(self, input_nc: int = 3, output_nc: int = 3, ngf: int = 64, n_blocks: int = 9) -> None:
        super().__init__()
        if n_blocks < 0 or ngf < 1:
            raise ValueError(f"bad generator shape: ngf={ngf}, n_blocks={n_blocks}")
        self.input_nc, self.output_nc, self.ngf, self.n_blocks = input_nc, output_nc, ngf, n_blocks
        layers: list[nn.Module] = [nn.ReflectionPad2d(3), nn.Conv2d(input_nc, ngf, 7, bias=True),
                                   StatsInstanceNorm(ngf), nn.ReLU(True)]
        for i in range(2):
            mult = 2**i
            layers += [nn.Conv2d(ngf * mult, ngf * mult * 2, 3, stride=2, padding=1, bias=True),
                       StatsInstanceNorm(ngf * mult * 2), nn.ReLU(True)]
        layers += [ResnetBlock(ngf * 4) for _ in range(n_blocks)]
        for i in range(2):
            mult = 2 ** (2 - i)
            layers += [nn.ConvTranspose2d(ngf * mult, ngf * mult // 2, 3, stride=2, padding=1, output_padding=1,
                                          bias=True),
                       StatsInstanceNorm(ngf * mult // 2), nn.ReLU(True)]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, output_nc, 7), nn.Tanh()]
        self.model = nn.Sequential(*layers)
        _init_normal(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)

    def norm_layers(self) -> list[StatsInstanceNorm]:
        return [m for m in self.modules() if isinstance(m, StatsInstanceNorm)]

    def set_norm_mode(self, mode: NormMode) -> None:
        for m in self.norm_layers():
            m.mode = mode

    @contextmanager
    def norm_mode(self, mode: NormMode) -> Iterator[None]:
        old = [m.mode for m in self.norm_layers()]
        self.set_norm_mode(mode)
        try:
            yield
        finally:
            for m, o in zip(self.norm_layers(), old, strict=True):
                m.mode = o

    def flops(self, height: int, width: int) -> int:
        """Multiply-adds x 2 of one forward pass at this input size (convolutions only)."""
        total = 0
        h, w = height, width
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                if m.stride[0] == 2:
                    h, w = h // 2, w // 2
                k = m.kernel_size[0] * m.kernel_size[1]
                total += 2 * h * w * m.in_channels * m.out_channels * k
            elif isinstance(m, nn.ConvTranspose2d):
                h, w = h * 2, w * 2
                k = m.kernel_size[0] * m.kernel_size[1]
                total += 2 * (h // 2) * (w // 2) * m.in_channels * m.out_channels * k
        return total


class NLayerDiscriminator(nn.Module):
    """The PatchGAN discriminator (n_layers=3: the 70x70 receptive field) with instance norm."""

    def __init__(self, input_nc: int = 3, ndf: int = 64, n_layers: int = 3) -> None:
        super().__init__()
        seq: list[nn.Module] = [nn.Conv2d(input_nc, ndf, 4, stride=2, padding=1), nn.LeakyReLU(0.2, True)]
        mult = 1
        for n in range(1, n_layers):
            prev, mult = mult, min(2**n, 8)
            seq += [nn.Conv2d(ndf * prev, ndf * mult, 4, stride=2, padding=1, bias=True),
                    StatsInstanceNorm(ndf * mult), nn.LeakyReLU(0.2, True)]
        prev, mult = mult, min(2**n_layers, 8)
        seq += [nn.Conv2d(ndf * prev, ndf * mult, 4, stride=1, padding=1, bias=True),
                StatsInstanceNorm(ndf * mult), nn.LeakyReLU(0.2, True)]
        seq += [nn.Conv2d(ndf * mult, 1, 4, stride=1, padding=1)]
        self.model = nn.Sequential(*seq)
        _init_normal(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


# ------------------------------------------------------------------------------------------------
# state dicts


_BLOCK_KEY = re.compile(r"^model\.(\d+)\.conv_block\.1\.weight$")


def clean_state_dict(sd: dict[str, object]) -> dict[str, torch.Tensor]:
    """The official loader's clean-up: drop ``module.`` prefixes, ``_metadata`` and the stale
    ``running_mean``/``running_var``/``num_batches_tracked`` entries older files hold for
    instance norm layers (which keep no running statistics)."""
    out: dict[str, torch.Tensor] = {}
    for k, v in sd.items():
        if not isinstance(k, str) or k == "_metadata":
            continue
        key = k[len("module."):] if k.startswith("module.") else k
        if key.rsplit(".", 1)[-1] in _STALE_SUFFIXES:
            continue
        if isinstance(v, torch.Tensor):
            out[key] = v
    return out


def generator_shape(sd: dict[str, torch.Tensor]) -> tuple[int, int, int, int]:
    """(input_nc, output_nc, ngf, n_blocks) read from a generator state dict; KeyError if not one."""
    stem = sd["model.1.weight"]
    blocks = sorted(int(m.group(1)) for k in sd if (m := _BLOCK_KEY.match(k)))
    n_blocks = len(blocks)
    last = sd[f"model.{n_blocks + 17}.weight"]
    return int(stem.shape[1]), int(last.shape[0]), int(stem.shape[0]), n_blocks


def mismatches(model: nn.Module, sd: dict[str, torch.Tensor]) -> list[str]:
    """Human-readable differences between a model's state dict and ``sd`` (empty when they match)."""
    own = model.state_dict()
    problems = [f"missing {k}" for k in own if k not in sd]
    problems += [f"unexpected {k}" for k in sd if k not in own]
    problems += [f"{k} has shape {tuple(sd[k].shape)} instead of {tuple(v.shape)}"
                 for k, v in own.items() if k in sd and tuple(sd[k].shape) != tuple(v.shape)]
    return problems


def generator_from_state_dict(sd: dict[str, object]) -> ResnetGenerator:
    """Build a ResnetGenerator shaped like ``sd`` and load it (float32). ValueError when it does not fit."""
    clean = clean_state_dict(sd)
    try:
        input_nc, output_nc, ngf, n_blocks = generator_shape(clean)
    except (KeyError, IndexError) as e:
        if "model.0.weight" in clean and "model.2.weight" in clean:
            raise ValueError("it holds a PatchGAN discriminator (a D_A/D_B file), not a generator") from None
        raise ValueError(f"it is not a CycleGAN ResNet generator (no {e} entry)") from None
    net = ResnetGenerator(input_nc, output_nc, ngf, n_blocks)
    bad = mismatches(net, clean)
    if bad:
        more = f" and {len(bad) - 3} more" if len(bad) > 3 else ""
        raise ValueError("its tensors do not match a CycleGAN ResNet generator (" + "; ".join(bad[:3]) + more + ")")
    net.load_state_dict({k: v.float() for k, v in clean.items()})
    return net


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
