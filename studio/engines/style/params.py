"""Parameters of the Gatys style engine."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from studio.engines.limits import (
    ITERATIONS,
    PREVIEW,
    SECONDS,
    SEED,
    WEIGHT,
    Limit,
    largest_pixels,
    largest_side,
    memory_words,
)
from studio.engines.params import Params
from studio.engines.style.fade import FadeMode

CONTENT_LAYERS_DEFAULT: tuple[str, ...] = ("relu4_2",)
STYLE_LAYERS_DEFAULT: tuple[str, ...] = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
# Each style layer's weight when none is chosen (``StyleParams.layer_weights``); a layer not named here weighs 1.
# studio divides each layer's Gram error by the painting's Gram energy, so at equal weights every layer counts alike;
# the classic (neural-style: Grams over C*H*W, their mean squared error) weighs a layer by that energy over C^2
# instead. Measured on the ImageNet VGG16 with The Scream (normalised so the five default layers sum to 8.5):
# relu1_1 0.28, relu2_1 2.26, relu3_1 5.42, relu4_1 0.50, relu5_1 0.04 (the Starry Night and Udnie gave 0.24-0.27,
# 1.7-2.8, 5.3-5.5, 0.15-0.94, 0.01-0.07). So the classic's strokes come from the middle layers, with almost nothing
# from relu5_1; at studio's old weights (relu1_1 5, relu2_1 0.5, the rest 1; 6a39fa0, 6dffb1c) the painting's large
# shapes (a moon, dark patches over a face) were laid over the photo. These are The Scream's figures, with relu1_1
# (the colours) at 2 instead of 0.28 (issue 20, judged by eye on sheets beside the classic: README, "The style layers
# weigh"): the astronaut's face stays a face under The Scream and The Shipwreck (a face detector finds it at 256 and
# 512 px; none in the old defaults' results), The Scream's sky takes its long bands (stroke coherence at 512 px
# 0.579 -> 0.650, the classic's 0.724). The other layers a user can tick come in at the same balance (The Scream's
# figures, two digits; none under 0.01, ten times the least the app's weight slider offers).
LAYER_WEIGHT_DEFAULTS: dict[str, float] = {
    "relu1_1": 2.0, "relu1_2": 4.1, "relu2_1": 2.26, "relu2_2": 5.0, "relu3_1": 5.42, "relu3_2": 5.1, "relu3_3": 1.8,
    "relu4_1": 0.5, "relu4_2": 0.13, "relu4_3": 0.01, "relu5_1": 0.04, "relu5_2": 0.01, "relu5_3": 0.01,
}


def default_layer_weights(layers: tuple[str, ...]) -> tuple[float, ...]:
    """The weight of each of ``layers`` when the user chose none (``LAYER_WEIGHT_DEFAULTS``)."""
    return tuple(LAYER_WEIGHT_DEFAULTS.get(name, 1.0) for name in layers)


Optimizer = Literal["lbfgs", "adam"]
Init = Literal["content", "noise", "median-noise"]
Pooling = Literal["max", "avg"]

# Fields a running job accepts through JobControl.update(); they take effect at the next iteration.
#: applied to a finished picture (``studio.engines.style.fade``): never a reason to run again
FADE_FIELDS: frozenset[str] = frozenset({"strength", "fade"})

#: the looks the Style tab's Look buttons and ``studio stylize --look`` choose: two coarse-to-fine settings together
#: (``StyleParams.photo_detail`` and ``coarse_content`` have the measured trade). "portrait" is the defaults.
LOOKS: dict[str, dict[str, float]] = {
    "portrait": {"photo_detail": 1.0, "coarse_content": 3.0},  # faces and fine detail hold
    "landscape": {"photo_detail": 0.0, "coarse_content": 1.0},  # the painting's large shapes and bold strokes
}


def look_of(params: StyleParams) -> str | None:
    """The name of the look ``params`` has (``LOOKS``), or None for another mix of the two settings."""
    return next((name for name, values in LOOKS.items()
                 if all(getattr(params, k) == v for k, v in values.items())), None)


LIVE_FIELDS: frozenset[str] = frozenset(
    {
        "content_weight",
        "style_weight",
        "tv_weight",
        "content_layers",
        "style_layers",
        "style_layer_weights",
        "style_blend",
        "region_weights",
        "original_colors",
    }
)


@dataclass(frozen=True)
class StyleParams(Params):
    """Everything that decides a stylization, apart from the images themselves.

    Loss terms are normalised (content by the content features' energy, each style layer by
    its target Gram's energy), so the weights mean the same at any size and with any network.
    """

    #: a style run needs about 1 KB a pixel of the picture: the network runs over tiles once one pass over the
    #: whole picture would take a quarter of the memory (``tiles.py``: a tile's pass is a fixed 1.4 GB on 24 GB),
    #: and what is left grows with the picture: the peak less the tile's 1.4 GB came to about 680 B a pixel at
    #: 2048x1536 and 370 at 4000x3000 (fixed costs shared out; it rises by about 260 B a pixel: the optimised image
    #: and its gradient, L-BFGS's working copies, the content's features, copies of the photo and the result) and
    #: the L-BFGS history, which keeps fewer steps on a large picture (``objective.history_plan``); ``run_style``
    #: checks the real shape's pixels against ``most_pixels``.
    BYTES_PER_PIXEL: ClassVar[int] = 1_000
    MEMORY_FRACTION: ClassVar[float] = 0.75
    LIMITS = {
        "size": Limit(16, largest_side(BYTES_PER_PIXEL / 2, MEMORY_FRACTION),
                      f"the largest a style run fits in this machine's {memory_words()}"),
        "content_weight": WEIGHT, "style_weight": WEIGHT, "tv_weight": WEIGHT,
        "style_layer_weights": Limit(0, 1000), "style_blend": Limit(0, 1000),
        "region_weights": Limit(0, 1000),
        "strength": Limit(0, 1),
        "style_scale": Limit(0.05, 8.0, "the style image at eight times the output is already huge"),
        "iterations": ITERATIONS, "learning_rate": Limit(0, 10, above_lowest=True),
        "seed": SEED, "scales": Limit(1, 8, "eight scales go from the output size down to 1/128 of it"),
        "coarsest_side": Limit(16, 4096),
        "photo_detail": Limit(0, 1),
        "coarse_content": Limit(0.1, 100),
        "preview_every": PREVIEW, "max_seconds": SECONDS,
        "tile": Limit(0, 8192, "a tile of 8192 px is already larger than any picture a single pass fits"),
    }

    size: int = 512  # long side of the output, in pixels
    content_weight: float = 1.0
    style_weight: float = 50.0
    tv_weight: float = 0.05
    content_layers: tuple[str, ...] = CONTENT_LAYERS_DEFAULT
    style_layers: tuple[str, ...] = STYLE_LAYERS_DEFAULT
    # one per style layer; None: each layer's default (``default_layer_weights``)
    style_layer_weights: tuple[float, ...] | None = None
    style_blend: tuple[float, ...] | None = None  # one per style image; None: equal
    # one per region (``regions.Region``): its style weight relative to the rest's, or how firmly a region that
    # keeps the photo holds it; None: all 1
    region_weights: tuple[float, ...] | None = None
    # the painting's long side at each scale, relative to the output's: 1 is the classic's; at 1.25 the strokes
    # come out a quarter larger (bigger swirls, facets and waves), with the subject's outlines kept as well or
    # better on eight pairs at 256 px; at 1.5 The Scream's orange washed over Tübingen's houses
    style_scale: float = 1.25
    iterations: int = 100  # at each scale
    optimizer: Optimizer = "lbfgs"
    # L-BFGS steps boosted at low spatial frequencies (engines/precondition.py); False: plain L-BFGS
    # on the pixels, as the classic implementations run it
    precondition: bool = True
    learning_rate: float = 0.02  # Adam only, in [0, 1] pixel units
    init: Init = "content"
    seed: int = 0
    original_colors: bool = False
    strength: float = 1.0  # fade: 1 the stylised picture, 0 the photo (applied after the run; live in the app)
    fade: FadeMode = "rgb"  # what the fade mixes back: "rgb" (colour and tone) or "luminance" (tone only)
    # coarse-to-fine: up to this many sizes, each twice the one before, none under ``coarsest_side``, so the
    # run starts at about 128 px whatever the output's size (256 px: 2 sizes, 512: 3, 1024: 4, 2048: 5): every
    # size lays down the same large structures and adds finer brushwork; 1 = single scale
    scales: int = 5
    # VGG16-hed sees a painting's structures only from about 128 px up: with a 64 px first scale (the old
    # 3 scales at 256 px) the coarse blotches it laid down covered the town at every later scale (issue 20)
    coarsest_side: int = 128
    # how much of the photo's own fine detail each finer size starts with, on top of the coarser size's picture
    # enlarged (``run.next_scale_start``). At 0 the painting's strokes carry over and the finished picture loses
    # the photo's busy fine texture (The Scream at 512 px: stroke coherence 0.650 -> 0.687, the classic's 0.724),
    # but the astronaut's face under The Scream blurs and doubles its features (outline agreement over the face
    # 0.761 -> 0.559; at 0.5 the face detector no longer finds it), so the default keeps all of it (session 30).
    # A full-size render always adds all of it: it runs few iterations on a picture enlarged 2-8 times
    photo_detail: float = 1.0
    # coarse-to-fine: the sizes before the final one weigh the content this many times the content weight (the
    # final size weighs it as set; the recipe and the reported losses keep the user's weight). Chosen at 3 early
    # on by the equal-time figures of studio's own network (at 180 s the full-size style distance 0.0069 -> 0.0064
    # and content 0.701 -> 0.690). At 1 the painting's large shapes come in: the Starry Night's big swirling moon
    # comes back at 512 px (coherence 0.490 -> 0.504, the classic's 0.517) and The Scream's sky turns the classic's
    # orange (palette 1.44 -> 1.11); but at 256 px the astronaut's face under The Scream takes dark patches round
    # the eyes again, and at 2 as well the face detector no longer finds it there (session 30)
    coarse_content: float = 3.0
    pooling: Pooling = "max"
    preview_every: int = 10  # iterations between previews (the first preview comes sooner)
    max_seconds: float | None = None  # plan the iterations of every scale to fit this wall-clock time
    # the network runs over tiles of this many pixels a side (``tiles.py``: the same picture in bounded memory);
    # 0: automatically, only where one pass over the whole picture would not fit the device's memory
    tile: int = 0
    device: str = "auto"  # auto | cpu | cuda | mps
    weights: str = "auto"  # feature network source: auto | vgg16-hed | vgg19-torchvision | ... | a path

    #: what each field does, for a person: the app's tooltips and the command line's help
    HELP: ClassVar[dict[str, str]] = {
        "content_weight": "How strongly the result keeps the shapes of the photo. Higher: more photo.",
        "style_weight": "How strongly the painting's texture and strokes are applied. Higher: more painting.",
        "tv_weight": "Smoothness: removes speckle noise. 0 turns it off; high values blur fine detail.",
        "original_colors": "Keep the photo's colours and take only the brush strokes from the painting.",
        "strength": "Fade: how much of the stylised picture to keep, from 0 (the photo) to 1 (all of it). "
                    "Changes the finished picture at once, without a new run.",
        "fade": "What the fade mixes back: rgb (the photo's colour and tone) or luminance (its tone only).",
        "size": "Long side of the result in pixels. Larger is slower (time grows with the pixel count).",
        "iterations": "Optimisation steps at each size (see Coarse-to-fine steps). More steps: a more finished "
                      "look, more time.",
        "seed": "Random seed: the same seed and settings give the same picture.",
        "init": "What the picture starts from before the style is painted in.",
        "content_layers": "The network layer that decides what 'the same content' means. Deeper: looser shapes.",
        "style_layers": "Which network layers describe the style. Shallow layers: colour and fine texture; "
                        "deep layers: larger strokes and patterns. The slider weights each layer.",
        "region_weights": "How strongly each region takes its painting (1: as strongly as the rest of the picture "
                          "takes the style weight), or, for a region that keeps the photo, how firmly it holds it.",
        "optimizer": "The optimisation method.",
        "learning_rate": "Step size of Adam (ignored by L-BFGS).",
        "scales": "Coarse-to-fine: render small first, then refine at double size, up to this many sizes (none "
                  "smaller than the coarsest side). 1 = only the final size.",
        "coarsest_side": "The smallest size (long side, px) coarse-to-fine starts from. Smaller: larger, looser "
                         "structures, and below 128 px the photo washes out.",
        "photo_detail": "Coarse-to-fine: how much of the photo's fine detail each finer size starts from, on top "
                        "of the coarser size's picture. 1 (default): the photo's detail comes back at every size "
                        "(crisp faces and windows, busier texture); 0: the painting's strokes carry over (bolder, "
                        "smoother strokes, as the classic; softer faces).",
        "coarse_content": "Coarse-to-fine: how many times the content weight the smaller sizes before the final "
                          "one hold the photo with. 3 (default): the photo's layout and faces hold; 1: the "
                          "painting's large shapes come in (big swirls, skies), faces can blotch.",
        "pooling": "How the network downsamples. Average gives softer, smoother results.",
        "style_scale": "Size of the painting's brush strokes relative to the output: the painting is seen at this "
                       "many times the output's size (default 1.25; 1 as the classic; above, larger strokes).",
        "preview_every": "How often (in iterations) the canvas shows a new preview.",
        "tile": "Run the network over tiles of this many pixels a side, so a print-size picture fits in memory (the "
                "same picture, about twice the time). 0: only where the whole picture would not fit.",
        "weights": "The network whose features define content and style: the one chosen in Preferences, or a "
                   "named one this picture keeps (an opened recipe keeps the network that made it, so a re-run "
                   "gives the same picture).",
        "max_seconds": "Stop planning more work than fits into this many seconds (iterations are spread over scales).",
    }

    @classmethod
    def most_pixels(cls) -> int:
        """The most pixels a style run fits in this machine's memory, whatever the picture's shape."""
        return largest_pixels(cls.BYTES_PER_PIXEL, cls.MEMORY_FRACTION)

    def layer_weights(self) -> tuple[float, ...]:
        """Each style layer's weight: the chosen ones, or each layer's default."""
        if self.style_layer_weights is not None:
            return self.style_layer_weights
        return default_layer_weights(self.style_layers)

    def resolved(self) -> StyleParams:
        """These parameters with every default that may change between studio versions written out (the style
        layers' weights), as a recipe keeps them."""
        return self.with_changes(style_layer_weights=self.layer_weights())

    @classmethod
    def from_recipe(cls, d: dict[str, Any]) -> StyleParams:
        """``from_dict`` for a saved recipe: one written before studio preconditioned L-BFGS holds no
        ``precondition`` key and was made with plain L-BFGS, so it re-runs that way; one written before the
        coarsest side was a setting holds no ``coarsest_side`` and started at 64 px, as it re-runs. A recipe
        written since the style layers had weights of their own holds them (``resolved``): one without
        weights weighed every layer 1, and re-runs that way; one without a stroke size saw the painting at the
        output's size (1, before 1.25 was the default)."""
        p = cls.from_dict({"precondition": False, "coarsest_side": 64, "style_scale": 1.0, **d})
        if p.style_layer_weights is None:
            p = p.with_changes(style_layer_weights=(1.0,) * len(p.style_layers))
        return p

