"""One pass through a VGG stack as a single autograd node with a hand-written, in-place backward.

Autograd's own backward through conv → relu → … allocates a fresh tensor for every relu mask
and every gradient sum where a layer feeds both a loss and the next conv (at 512 px the first
block's tensors are 50 MB each). Here the backward walks the stack once in reverse and reuses
its running gradient: loss gradients are added in place, the relu mask is applied in place,
and only the convolutions and pools make new tensors. The convolutions come from a ``ConvBank``
(Winograd where it is faster, the library's direct convolution elsewhere), so the gradient is
the direct convolution's up to float rounding (about 1e-5 of its range where Winograd is used).

Only the input gradient is computed (the weights are frozen). Used for relu/pool outputs; a
request for a conv's pre-activation output goes through ordinary autograd instead.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F

if TYPE_CHECKING:
    from studio.engines.features.conv_bank import ConvBank
    from studio.engines.features.vgg import LayerSpec

# Plan entries: (layer name, kind, index of the first saved tensor, output slot or -1)
_Step = tuple[str, str, int, int]


class FeaturePass(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, specs: Sequence[LayerSpec], convs: ConvBank,  # type: ignore[override]
                wanted: Sequence[str], pooling: str, check: Callable[[], None] | None) -> tuple[torch.Tensor, ...]:
        saved: list[torch.Tensor] = []
        plan: list[_Step] = []
        outs: list[torch.Tensor] = []
        slot_of = {name: i for i, name in enumerate(wanted)}
        for s in specs:
            if s.kind == "conv":
                plan.append((s.name, "conv", len(saved), -1))
                saved.append(x)
                x = convs.forward(s.name, x)
            elif s.kind == "relu":
                x = x.relu_()
                plan.append((s.name, "relu", len(saved), -1))
                saved.append(x)
                if check is not None:
                    check()
            elif pooling == "avg":
                plan.append((s.name, "avg", len(saved), -1))
                saved.append(x)
                x = F.avg_pool2d(x, 2, 2, ceil_mode=True)
            else:
                plan.append((s.name, "max", len(saved), -1))
                x_in = x
                x, idx = F.max_pool2d(x, 2, 2, ceil_mode=True, return_indices=True)
                saved += [x_in, idx]
            if s.name in slot_of:
                name, kind, at, _ = plan[-1]
                plan[-1] = (name, kind, at, slot_of[s.name])
                outs.append(x)
        ctx.save_for_backward(*saved)
        ctx.plan = plan
        ctx.convs = convs
        ctx.check = check
        return tuple(outs)

    @staticmethod
    def backward(ctx: Any, *grads: torch.Tensor | None) -> tuple[torch.Tensor | None, ...]:
        saved = ctx.saved_tensors
        check: Callable[[], None] | None = ctx.check
        g: torch.Tensor | None = None
        owned = False  # whether g is a tensor this backward made (and may write into)
        for name, kind, at, slot in reversed(ctx.plan):
            if slot >= 0 and grads[slot] is not None:
                if g is None:
                    g, owned = grads[slot], False
                elif owned:
                    g.add_(grads[slot])
                else:
                    g, owned = g + grads[slot], True
            if g is None:
                continue
            if kind == "relu":
                y = saved[at]
                if owned:
                    torch.ops.aten.threshold_backward.grad_input(g, y, 0, grad_input=g)
                else:
                    g, owned = torch.ops.aten.threshold_backward(g, y, 0), True
                if check is not None:
                    check()
            elif kind == "conv":
                g = ctx.convs.input_grad(name, g, saved[at])
                owned = True
            elif kind == "max":
                x_in, idx = saved[at], saved[at + 1]
                g = torch.ops.aten.max_pool2d_with_indices_backward(
                    g, x_in, [2, 2], [2, 2], [0, 0], [1, 1], True, idx)
                owned = True
            else:
                x_in = saved[at]
                g = torch.ops.aten.avg_pool2d_backward(g, x_in, [2, 2], [2, 2], [0, 0], True, True, None)
                owned = True
        return (g, None, None, None, None, None)
