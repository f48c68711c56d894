"""Loss terms of Deep Painterly Harmonization and the forward/backward pass that combines them.

As in the paper's Torch code, each loss lives at one VGG layer and sends its gradient back into
the network at that layer: the gradient arriving at a loss layer (its own plus what comes from
deeper layers) is multiplied by that layer's mask, and in pass 2 each loss's own gradient is
divided by its L2 norm before being weighted. ``evaluate`` runs the network once, computes the
losses at their layers as it goes, and returns the pixel gradient built that way.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from studio.engines.features.vgg import FeatureNetwork
from studio.engines.harmonize.histogram import HistogramTarget, histogram_remap

# Pass 1 constants of the paper's code (neural_gram.lua), for features of a Caffe VGG on 0-255 pixels.
PASS1_CONTENT_WEIGHT = 5.0
PASS1_STYLE_WEIGHT = 100.0
PASS1_TV_WEIGHT = 1e-3
PASS1_STYLE_LAYERS = ("relu3_1", "relu4_1", "relu5_1")
PASS2_STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1")
PASS2_HIST_LAYERS = ("relu1_1", "relu4_1")
CONTENT_LAYER = "relu4_1"
#: pass 2 keeps the composite's content at relu3_1 as well as at the paper's relu4_1 (each normalised, weight 1):
#: studio's edge-tuned VGG16-hed holds an object's outline at relu4_1 but hardly its shading, so with relu4_1
#: alone the figure of case 19 (tau 1) came out as a pale, streaked ghost of the stairs it was mapped to
PASS2_CONTENT_LAYERS = (CONTENT_LAYER, "relu3_1")
REFERENCE_LAYER = "relu4_1"


@dataclass(frozen=True)
class Pass2Weights:
    content: float
    style: float
    histogram: float
    tv: float


def noise_level(painting: torch.Tensor | np.ndarray) -> float:
    """The painting's noise level (paper's code): median of the mean squared horizontal and vertical
    neighbour differences, on RGB in [0, 1] (H, W, 3 numpy or (3, H, W) tensor)."""
    t = painting if isinstance(painting, torch.Tensor) else torch.from_numpy(painting).permute(2, 0, 1)
    t = t.float()
    dx = t[:, :-1, :-1] - t[:, :-1, 1:]
    dy = t[:, :-1, :-1] - t[:, 1:, :-1]
    return float(((dx.pow(2) + dy.pow(2)) / 2).flatten().median())


def pass2_weights(tau: float, noise: float, tv_factor: float = 1.0) -> Pass2Weights:
    """Weights from the style strength tau and the painting's noise level, as the paper's code:
    a smooth painting gets a strong total variation term, a textured one a strong histogram term.
    ``tv_factor`` scales the TV weight only (1: the paper)."""
    x = 1e4 * noise - 25.0
    tv = 10.0 / (1.0 + math.exp(min(x, 700.0)))
    return Pass2Weights(content=1.0, style=tau, histogram=(10.0 - tv) * tau, tv=tv * tau * tv_factor)


def set_pass2_weights(obj: Objective, weights: Pass2Weights) -> None:
    """Give a pass-2 objective other weights (a style strength changed while it runs)."""
    for term in obj.terms:
        term.weight = {"content": weights.content, "style": weights.style, "histogram": weights.histogram}.get(
            term.key, term.weight)
    obj.tv_weight = weights.tv


def gram_masked(features: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Gram matrix (C, C) of features (C, H, W) multiplied by mask (H, W) (not normalised)."""
    c = features.shape[0]
    m = (features * mask[None]).reshape(c, -1)
    return m @ m.t()


@dataclass
class LayerTerm:
    """One loss at one layer: ``fn(features (C, H, W)) -> scalar``."""

    key: str
    layer: str
    weight: float
    fn: Callable[[torch.Tensor], torch.Tensor]
    normalise: bool = False
    # gradient given directly (histogram loss: O - R), instead of autograd of fn
    grad_fn: Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]] | None = None


@dataclass
class Objective:
    """Everything one pass optimises: layer terms, per-layer masks, a pixel TV term and mask."""

    net: FeatureNetwork
    terms: list[LayerTerm]
    masks: dict[str, torch.Tensor]  # per layer (h, w); the arriving gradient is multiplied by it
    pixel_mask: torch.Tensor  # (H, W) loose mask: the pixel gradient is limited to it
    tv_weight: float = 0.0
    tv_normalise: bool = False
    check: Callable[[], None] | None = None
    layers: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.layers = sorted({t.layer for t in self.terms}, key=lambda n: self.net.deepest([n]))


class _Inject(torch.autograd.Function):
    """Identity forward; backward adds the losses' gradient at this layer and applies the mask."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, injected: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        ctx.save_for_backward(injected, mask)
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):  # type: ignore[override]
        injected, mask = ctx.saved_tensors
        return (grad + injected) * mask, None, None


def _local(term: LayerTerm, f: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(loss, gradient w.r.t. f) of one term on detached features f (C, H, W)."""
    if term.grad_fn is not None:
        return term.grad_fn(f)
    fg = f.detach().requires_grad_(True)
    with torch.enable_grad():
        loss = term.fn(fg)
        (g,) = torch.autograd.grad(loss, fg)
    return loss.detach(), g


def _tv(v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """0.5 * sum of squared neighbour differences of (1, 3, H, W) and its gradient."""
    dx = v[..., :, 1:] - v[..., :, :-1]
    dy = v[..., 1:, :] - v[..., :-1, :]
    g = torch.zeros_like(v)
    g[..., :, 1:] += dx
    g[..., :, :-1] -= dx
    g[..., 1:, :] += dy
    g[..., :-1, :] -= dy
    return 0.5 * (dx.pow(2).sum() + dy.pow(2).sum()), g


def evaluate(obj: Objective, v: torch.Tensor) -> tuple[float, torch.Tensor, dict[str, float]]:
    """Losses and pixel gradient at the image ``v`` (1, 3, H, W) in 0-255 units.

    Returns (total loss, gradient like v, weighted loss per term key).
    """
    net = obj.net
    values: dict[str, float] = {}
    by_layer: dict[str, list[LayerTerm]] = {}
    for t in obj.terms:
        by_layer.setdefault(t.layer, []).append(t)
    with torch.enable_grad():
        vg = v.detach().requires_grad_(True)
        x = net.normalize(vg / 255.0)
        deepest = obj.layers[-1] if obj.layers else None
        for s in net.specs:
            if deepest is None:
                break
            if s.kind == "conv":
                x = net.conv_bank(s.name, x)
            elif s.kind == "relu":
                x = F.relu(x)
                if obj.check is not None:
                    obj.check()
            else:
                x = F.max_pool2d(x, 2, 2, ceil_mode=True)
            if s.name in by_layer:
                f = x.detach()[0]
                injected = torch.zeros_like(f)
                for term in by_layer[s.name]:
                    loss, g = _local(term, f)
                    if term.normalise:
                        g = g / (g.norm() + 1e-8)
                    injected += term.weight * g
                    values[term.key] = values.get(term.key, 0.0) + term.weight * float(loss)
                mask = obj.masks[s.name][None, None].to(x.dtype)
                x = _Inject.apply(x, injected[None].to(x.dtype), mask)
            if s.name == deepest:
                break
        if deepest is not None:
            x.backward(torch.zeros_like(x))
            grad = vg.grad.detach().clone() if vg.grad is not None else torch.zeros_like(v)
        else:
            grad = torch.zeros_like(v)
    if obj.tv_weight > 0:
        tv, g = _tv(v.detach())
        pm = obj.pixel_mask[None, None]
        if obj.tv_normalise:
            g = g * pm
            g = g / (g.norm() + 1e-8)
        grad = grad + obj.tv_weight * g
        values["tv"] = obj.tv_weight * float(tv) / max(1, v.numel())
    grad = grad * obj.pixel_mask[None, None]
    values["total"] = float(sum(values.values()))
    return values["total"], grad, values


# ---------------------------------------------------------------------------------------------
# term builders


def content_term(layer: str, target: torch.Tensor, weight: float, mask: torch.Tensor | None = None,
                 normalise: bool = False) -> LayerTerm:
    """Mean squared feature error; with ``mask`` both sides are masked first (pass 2)."""
    if mask is None:
        def fn(f: torch.Tensor) -> torch.Tensor:
            return (f - target).pow(2).mean()
    else:
        tm = target * mask[None]

        def fn(f: torch.Tensor) -> torch.Tensor:
            return (f * mask[None] - tm).pow(2).mean()
    return LayerTerm("content", layer, weight, fn, normalise)


def style_term(layer: str, target_gram: torch.Tensor, mask: torch.Tensor, norm: float, weight: float,
               normalise: bool = False) -> LayerTerm:
    """Mean squared error between the Gram matrix of the masked features divided by ``norm`` and the
    target Gram (already normalised the same way)."""
    def fn(f: torch.Tensor) -> torch.Tensor:
        return (gram_masked(f, mask) / norm - target_gram).pow(2).mean()
    return LayerTerm("style", layer, weight, fn, normalise)


def histogram_term(layer: str, target: HistogramTarget, mask_i: torch.Tensor, weight: float) -> LayerTerm:
    """Histogram loss at ``layer``: the gradient is O - R (R: the remapped activations)."""
    def grad_fn(f: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        r = histogram_remap(f, mask_i, target)
        g = f - r
        return g.pow(2).sum() / f.numel(), g

    def fn(f: torch.Tensor) -> torch.Tensor:
        return (f - histogram_remap(f, mask_i, target)).pow(2).sum() / f.numel()
    return LayerTerm("histogram", layer, weight, fn, True, grad_fn)
