"""The 3x3 convolutions of a frozen VGG, forward and input gradient, each by its faster route.

On the CPU in float32, a convolution with many channels on both sides (VGG's blocks 3 to 5, and
the second conv of block 2) goes through Winograd F(4x4, 3x3) (``winograd.py``), about twice as
fast as oneDNN's direct convolution there; everything else goes through the library's own call
(oneDNN, cuDNN, MPS). The transformed kernels are made once per weight and device and kept: 4x
the size of the weights they come from, for each direction (about 330 MB for VGG16 to relu5_1).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from studio.engines.features import winograd


class _BankConv(torch.autograd.Function):
    """A bank convolution as an autograd node (the input gradient only: the weights are frozen)."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, bank: ConvBank, name: str) -> torch.Tensor:  # type: ignore[override]
        ctx.save_for_backward(x)
        ctx.bank, ctx.name = bank, name
        return bank.forward(name, x)

    @staticmethod
    def backward(ctx: Any, grad_out: torch.Tensor) -> tuple[torch.Tensor | None, None, None]:  # type: ignore[override]
        (x,) = ctx.saved_tensors
        return ctx.bank.input_grad(ctx.name, grad_out, x), None, None


class ConvBank:
    def __init__(self, convs: nn.ModuleDict) -> None:
        self.convs = convs
        self.winograd = True  # off: every convolution takes the library's direct route
        self._kernels: dict[tuple[str, bool], tuple[tuple[object, ...], torch.Tensor]] = {}

    def _kernel(self, name: str, for_grad: bool) -> torch.Tensor:
        w = self.convs[name].weight
        stamp = (w.device, w.dtype, w.data_ptr(), w._version)
        hit = self._kernels.get((name, for_grad))
        if hit is None or hit[0] != stamp:
            u = winograd.transform_kernel_for_input_grad(w) if for_grad else winograd.transform_kernel(w)
            hit = (stamp, u)
            self._kernels[(name, for_grad)] = hit
        return hit[1]

    def prepare(self, names: Iterable[str]) -> None:
        """Make the transformed kernels of these convolutions now (where the Winograd route will be
        taken), so the first evaluation of a run does not pay for them (~0.3 s for VGG16 to relu5_1)."""
        for name in names:
            w = self.convs[name].weight
            if self._fast(name, w):
                self._kernel(name, False)
                self._kernel(name, True)

    def _fast(self, name: str, x: torch.Tensor) -> bool:
        conv = self.convs[name]
        return self.winograd and winograd.worthwhile(x, conv.in_channels, conv.out_channels)

    def forward(self, name: str, x: torch.Tensor) -> torch.Tensor:
        conv = self.convs[name]
        if self._fast(name, x):
            return winograd.conv3x3(x, self._kernel(name, False), conv.bias)
        return F.conv2d(x, conv.weight, conv.bias, padding=1)

    def __call__(self, name: str, x: torch.Tensor) -> torch.Tensor:
        """``forward`` that autograd can differentiate with respect to ``x``."""
        if torch.is_grad_enabled() and x.requires_grad:
            return _BankConv.apply(x, self, name)
        return self.forward(name, x)

    def input_grad(self, name: str, grad_out: torch.Tensor, x_in: torch.Tensor) -> torch.Tensor:
        """The gradient with respect to the convolution's input (the weights are frozen)."""
        if self._fast(name, grad_out):
            return winograd.conv3x3(grad_out, self._kernel(name, True))
        w = self.convs[name].weight
        return torch.ops.aten.convolution_backward(
            grad_out, x_in, w, None, [1, 1], [1, 1], [1, 1], False, [0, 0], 1, [True, False, False])[0]
