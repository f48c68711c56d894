"""Parameters of the painterly harmonization engine (Luan et al. 2018, and the quick modes)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from studio.engines.limits import ITERATIONS, PREVIEW, SEED, Limit, largest_side, memory_words
from studio.engines.params import Params

#: dph: the paper's two passes; gatys: masked Gatys (content = composite, style = painting);
#: color: LAB colour statistics inside the mask; poisson / poisson-mixed: OpenCV seamlessClone.
Mode = Literal["dph", "gatys", "color", "poisson", "poisson-mixed"]
MODES: tuple[str, ...] = ("dph", "gatys", "color", "poisson", "poisson-mixed")
#: the modes that optimise through the feature network (the others need none)
NETWORK_MODES: tuple[str, ...] = ("dph", "gatys")

#: the fields a running harmonization takes live (``JobControl.update``): the style strength, at the next
#: iteration of pass 2 (moved during pass 1, it sets pass 2's weights) or of the masked Gatys pass
LIVE_FIELDS: frozenset[str] = frozenset({"tau"})

#: ``size`` 0: work at the painting's own resolution (as far as this machine's memory allows)
OWN_SIZE = 0
#: the smallest working long side other than OWN_SIZE
MIN_SIZE = 32

#: style strength presets (the paper's painting classifier was never published)
TAU_PRESETS: dict[str, float] = {"realistic": 1.0, "impressionist": 5.0, "expressionist": 10.0}


@dataclass(frozen=True)
class HarmonizeParams(Params):
    """Everything that decides a harmonization, apart from the painting, composite and masks."""

    #: a harmonization needs about 8 KB a pixel (two passes of VGG features, patch matching)
    LIMITS = {
        "tau": Limit(0, 100), "size": Limit(0, largest_side(8_000),
                                           f"the largest a harmonization fits in this machine's {memory_words()}"),
        "loose_radius": Limit(0, 512, "a loose mask wider than 512 px is no longer about the object"),
        "feather": Limit(0, 256, "a soft edge wider than 256 px blurs the whole object"),
        "pass1_iterations": ITERATIONS, "pass2_iterations": ITERATIONS,
        "gatys_iterations": ITERATIONS, "crop_margin": Limit(0, 4096), "tv_factor": Limit(0, 100),
        "seed": SEED, "preview_every": PREVIEW,
    }

    mode: Mode = "dph"
    tau: float = 5.0  # style strength: ~1 realistic, ~5 impressionist, ~10 expressionist / cubist
    size: int = 0  # long side the engine works at, in pixels; 0: the painting's own (OWN_SIZE)
    loose_radius: int = 16  # dilation of the tight mask, in pixels at `size`, when no loose mask is given
    feather: float = 2.0  # edge softness of the final blend into the painting, in pixels at `size`
    pass1_iterations: int = 30  # L-BFGS iterations of pass 1 (independent mapping)
    pass2_iterations: int = 60  # L-BFGS iterations of pass 2 (consistent mapping)
    denoise: bool = True  # guided chroma denoising in CIELAB after pass 2
    patch_synthesis: bool = True  # then rebuild the object from the painting's own 7x7 patches (the paper's)
    gatys_iterations: int = 50  # L-BFGS iterations of the masked Gatys quick mode
    pass2_init: str = "composite"  # pass 2 starts from: composite (as the paper's code) | pass1
    # ... with the object's lightness set to that of the painting patches pass 2 maps it to (dph.tone_start)
    pass2_tone: bool = True
    crop_margin: int = 64  # the optimisation runs on the loose mask's bounding box plus this margin (px at size)
    # multiplies the paper's pass-2 total-variation weight (1 = the paper's formula, tuned for its VGG-19 and
    # 1000 iterations; with studio's network and a CPU budget of iterations it blurs the object into a blob)
    tv_factor: float = 0.1
    seed: int = 0
    preview_every: int = 10
    device: str = "auto"  # auto | cpu | cuda | mps
    weights: str = "auto"  # feature network source, as for stylize

    #: what ``weights="auto"`` tries first: the network the settings above were tuned and judged on. On the paper's
    #: eight cases at 700 px, the ImageNet VGG16 that ``auto`` gives a style run (vgg16-lpips) blurred the pasted
    #: objects into flat shapes with these settings (case 24's house, case 19's figure a white blob), where
    #: VGG16-hed keeps their painted detail.
    AUTO_FIRST: ClassVar[str | None] = "vgg16-hed"

    #: what each field a person edits does: the app's tooltips and the command line's help
    HELP: ClassVar[dict[str, str]] = {
        "mode": "How the object is made to belong: the paper's two passes, a single masked style pass, or quick "
                "colour / gradient blending for a preview.",
        "tau": "Style strength: about 1 for realistic paintings, 5 for impressionist, 10 for expressionist or cubist.",
        "size": "Long side the engine works at, in pixels; 0 (the default): the painting's own resolution. "
                "Smaller is a quicker, softer preview; the result always has the painting's size.",
        "pass1_iterations": "Optimisation steps of the first pass (rough match of the painting's style).",
        "pass2_iterations": "Optimisation steps of the second pass (consistent brush strokes and textures).",
        "gatys_iterations": "Optimisation steps of the masked Gatys pass.",
        "denoise": "Remove colour speckles after the second pass.",
        "pass2_tone": "Start the second pass with the object's lightness set to that of the painting's patches it "
                      "is mapped to, so it takes the painting's tone within studio's few iterations (the paper "
                      "gets there in a thousand).",
        "patch_synthesis": "Rebuild the object from the painting's own small patches, keeping its fine detail, so "
                           "it holds only colours and strokes the painting has (the paper's last step).",
        "seed": "Random seed: the same seed and settings give the same picture.",
    }

    @property
    def needs_network(self) -> bool:
        return self.mode in NETWORK_MODES

    @classmethod
    def from_recipe(cls, d: dict[str, Any]) -> HarmonizeParams:
        """``from_dict`` for a saved recipe: one written before pass 2 started from the mapped patches' lightness
        holds no ``pass2_tone`` and re-runs without it, as it was made."""
        return cls.from_dict({"pass2_tone": False, **d})
