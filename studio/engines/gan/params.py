"""Parameters of GAN training (``studio train-gan`` and the Latent workspace's Train job)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from studio.engines.errors import StudioInputError
from studio.engines.limits import PREVIEW, SECONDS, SEED, WEIGHT, Limit
from studio.engines.params import Params

#: latents sampled, loaded or shown at once (a grid of 32 x 32)
MAX_SAMPLES = 1024

GanLoss = Literal["wgan", "wgan-gp", "dcgan"]
LOSSES: tuple[str, ...] = ("wgan", "wgan-gp", "dcgan")

# Optimiser defaults per loss, as in the papers' code.
DEFAULT_LR: dict[str, float] = {"wgan": 5e-5, "wgan-gp": 1e-4, "dcgan": 2e-4}


@dataclass(frozen=True)
class TrainGanParams(Params):
    SOURCE = "checkpoint"
    """Everything that decides a training run, apart from the image folder.

    ``iterations`` counts generator steps. ``wgan``: RMSprop, critic clamped to ±``clamp`` before
    each critic step, ``n_critic`` critic steps per generator step (100 during the first 25
    generator steps and every 500th). ``wgan-gp``: Adam (0, 0.9), gradient penalty ``gp_weight``,
    no batch norm in the critic. ``dcgan``: BCE, Adam (0.5, 0.999), one critic step.
    """

    LIMITS = {
        "size": Limit(8, 1024, "a DCGAN above 1024 px does not train"), "iterations": Limit(1, 10_000_000),
        "batch_size": Limit(1, 4096, "a batch of 4096 64 px images is already 200 MB"),
        "nz": Limit(1, 4096), "ngf": Limit(1, 1024), "ndf": Limit(1, 1024),
        "n_extra_layers": Limit(0, 16, "each extra layer adds a full-size convolution"),
        "learning_rate": Limit(0, 1, "Adam and RMSprop diverge far below that", above_lowest=True),
        "n_critic": Limit(1, 1000), "clamp": Limit(0, 10, "weights are clamped to a small box", above_lowest=True),
        "gp_weight": WEIGHT, "crop_min": Limit(0.01, 1.0), "crop_max": Limit(0.01, 1.0),
        "load_side": Limit(8, 16384), "sample_every": PREVIEW, "sample_count": Limit(1, 1024),
        "checkpoint_every": PREVIEW, "max_seconds": SECONDS, "seed": SEED,
    }

    size: int = 64
    loss: GanLoss = "wgan"
    iterations: int = 2000
    batch_size: int = 64
    nz: int = 100
    ngf: int = 64
    ndf: int = 64
    n_extra_layers: int = 0
    learning_rate: float | None = None  # None: the loss's default (DEFAULT_LR)
    n_critic: int = 5
    clamp: float = 0.01
    gp_weight: float = 10.0
    crop_min: float = 0.5  # random crop side, as a fraction of the image's short side
    crop_max: float = 1.0
    flip: bool = True
    load_side: int | None = None  # decode images at this long side at most; None: 4 x size (>= 256)
    sample_every: int = 100  # generator steps between sample grids of the fixed noise
    sample_count: int = 64
    checkpoint_every: int = 500
    max_seconds: float | None = None
    seed: int = 0
    device: str = "auto"
    data_description: str = ""  # for the model card

    @property
    def lr(self) -> float:
        return self.learning_rate if self.learning_rate is not None else DEFAULT_LR[self.loss]


def validate_train_params(p: TrainGanParams) -> None:
    """Raise StudioInputError with one sentence for a bad value."""
    if p.loss not in LOSSES:
        raise StudioInputError(f"loss must be wgan, wgan-gp or dcgan, got {p.loss!r}")
    if not isinstance(p.size, int) or p.size < 16 or p.size % 16:
        raise StudioInputError(f"size must be a multiple of 16 of at least 16 pixels, got {p.size!r}")
    for name, low in (("iterations", 0), ("batch_size", 2), ("nz", 1), ("ngf", 2), ("ndf", 1), ("n_critic", 1),
                      ("sample_every", 1), ("sample_count", 1), ("checkpoint_every", 1), ("n_extra_layers", 0)):
        v = getattr(p, name)
        if not isinstance(v, int) or isinstance(v, bool) or v < low:
            raise StudioInputError(f"{name.replace('_', '-')} must be a whole number of at least {low}, got {v!r}")
    for name in ("clamp", "gp_weight"):
        v = getattr(p, name)
        if not math.isfinite(v) or v <= 0:
            raise StudioInputError(f"{name.replace('_', '-')} must be greater than 0, got {v!r}")
    if p.learning_rate is not None and (not math.isfinite(p.learning_rate) or p.learning_rate <= 0):
        raise StudioInputError(f"learning-rate must be greater than 0, got {p.learning_rate!r}")
    if not (0 < p.crop_min <= p.crop_max <= 1):
        raise StudioInputError(f"the crop range must satisfy 0 < crop-min <= crop-max <= 1, got "
                               f"{p.crop_min!r} and {p.crop_max!r}")
    if p.max_seconds is not None and p.max_seconds <= 0:
        raise StudioInputError(f"max-seconds must be greater than 0, got {p.max_seconds!r}")
    if p.load_side is not None and p.load_side < p.size:
        raise StudioInputError(f"load-side must be at least the size ({p.size}), got {p.load_side!r}")
