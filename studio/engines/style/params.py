"""Parameters of the Gatys style engine."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from studio.engines.params import Params

CONTENT_LAYERS_DEFAULT: tuple[str, ...] = ("relu4_2",)
STYLE_LAYERS_DEFAULT: tuple[str, ...] = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")

Optimizer = Literal["lbfgs", "adam"]
Init = Literal["content", "noise", "median-noise"]
Pooling = Literal["max", "avg"]

# Fields a running job accepts through JobControl.update(); they take effect at the next iteration.
LIVE_FIELDS: frozenset[str] = frozenset(
    {
        "content_weight",
        "style_weight",
        "tv_weight",
        "content_layers",
        "style_layers",
        "style_layer_weights",
        "style_blend",
        "original_colors",
    }
)


@dataclass(frozen=True)
class StyleParams(Params):
    """Everything that decides a stylization, apart from the images themselves.

    Loss terms are normalised (content by the content features' energy, each style layer by
    its target Gram's energy), so the weights mean the same at any size and with any network.
    """

    size: int = 512  # long side of the output, in pixels
    content_weight: float = 1.0
    style_weight: float = 50.0
    tv_weight: float = 0.05
    content_layers: tuple[str, ...] = CONTENT_LAYERS_DEFAULT
    style_layers: tuple[str, ...] = STYLE_LAYERS_DEFAULT
    style_layer_weights: tuple[float, ...] | None = None  # one per style layer; None: all 1
    style_blend: tuple[float, ...] | None = None  # one per style image; None: equal
    style_scale: float = 1.0  # style image size relative to the output size
    iterations: int = 100  # at each scale
    optimizer: Optimizer = "lbfgs"
    # L-BFGS steps boosted at low spatial frequencies (engines/precondition.py); False: plain L-BFGS
    # on the pixels, as the classic implementations run it
    precondition: bool = True
    learning_rate: float = 0.02  # Adam only, in [0, 1] pixel units
    init: Init = "content"
    seed: int = 0
    original_colors: bool = False
    scales: int = 3  # coarse-to-fine levels, each twice the size of the one before; 1 = single scale
    pooling: Pooling = "max"
    preview_every: int = 10  # iterations between previews (the first preview comes sooner)
    max_seconds: float | None = None  # plan the iterations of every scale to fit this wall-clock time
    device: str = "auto"  # auto | cpu | cuda | mps
    weights: str = "auto"  # feature network source: auto | vgg16-hed | vgg19-torchvision | ... | a path

    @classmethod
    def from_recipe(cls, d: dict[str, Any]) -> StyleParams:
        """``from_dict`` for a saved recipe: one written before studio preconditioned L-BFGS holds no
        ``precondition`` key and was made with plain L-BFGS, so it re-runs that way."""
        return cls.from_dict({"precondition": False, **d})

