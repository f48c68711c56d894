"""Parameters of the CycleGAN engine: applying a translator, and training one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, TypeVar

from studio.engines.limits import PREVIEW, SECONDS, SEED, WEIGHT, Limit
from studio.engines.params import Params

NormStats = Literal["global", "tile"]
Preprocess = Literal["resize_and_crop", "scale_and_crop"]

T = TypeVar("T")


@dataclass(frozen=True)
class TranslateParams(Params):
    """How a generator is applied to one image.

    ``tile``: images whose long side exceeds it are processed in tiles of this side (0: never),
    overlapping by ``overlap`` pixels and blended with linear feathering. ``norm_stats``: with
    ``global`` every tile is instance-normalised with the statistics of the whole image (measured
    once on a copy whose long side is at most ``stats_side``); ``tile`` lets each tile use its own.
    ``strength`` blends the original (0) and the translation (1); ``preserve_colors`` keeps the
    original's chroma (YIQ) and takes only the translation's luminance.
    """

    LIMITS = {
        "strength": Limit(0, 1), "tile": Limit(0, 8192, "a larger tile is no tile"),
        "overlap": Limit(0, 1024), "stats_side": Limit(64, 8192),
    }

    strength: float = 1.0
    preserve_colors: bool = False
    tile: int = 1024
    overlap: int = 64
    norm_stats: NormStats = "global"
    stats_side: int = 2048
    device: str = "auto"


@dataclass(frozen=True)
class TrainParams(Params):
    """A CycleGAN training run (the official defaults, apart from the network size and the epochs).

    The learning rate stays at ``lr`` for ``epochs`` epochs, then decays linearly to zero over
    ``epochs_decay`` more. An epoch is ``max(len(A), len(B))`` iterations, or ``epoch_size`` when set.
    With ``max_seconds`` the decay also follows the clock (the same share of the time at the full rate),
    so a time-boxed run still ends at a low learning rate.
    """

    LIMITS = {
        "ngf": Limit(1, 512), "ndf": Limit(1, 512),
        "n_blocks": Limit(1, 32, "the official models use 6 or 9"),
        # a crop under 32 px leaves the critic's normalised layers a single pixel (instance norm fails)
        "load_size": Limit(32, 4096), "crop_size": Limit(32, 4096),
        "batch_size": Limit(1, 256), "lr": Limit(0, 1, "Adam diverges far below that", above_lowest=True),
        "lambda_a": WEIGHT, "lambda_b": WEIGHT, "lambda_identity": WEIGHT, "pool_size": Limit(0, 10_000),
        "epochs": Limit(0, 1_000_000), "epochs_decay": Limit(0, 1_000_000), "epoch_size": Limit(1, 10_000_000),
        "save_every_s": Limit(1, 7 * 24 * 3600), "save_epoch_every": Limit(1, 1_000_000),
        "preview_every": PREVIEW, "max_seconds": SECONDS, "seed": SEED, "threads": Limit(1, 1024),
    }

    ngf: int = 64
    ndf: int = 64
    n_blocks: int = 9
    load_size: int = 286
    crop_size: int = 256
    preprocess: Preprocess = "resize_and_crop"
    flip: bool = True
    batch_size: int = 1
    lr: float = 2e-4
    beta1: float = 0.5
    lambda_a: float = 10.0  # cycle weight A -> B -> A
    lambda_b: float = 10.0  # cycle weight B -> A -> B
    lambda_identity: float = 0.5  # relative to the cycle weights
    pool_size: int = 50
    epochs: int = 100
    epochs_decay: int = 100
    epoch_size: int | None = None
    save_every_s: float = 300.0  # write latest_net_*.pth at most this often (and at the end)
    save_epoch_every: int = 5  # also keep {epoch}_net_*.pth every this many epochs
    preview_every: int = 50  # iterations between sample grids
    max_seconds: float | None = None  # stop (and save) after this long
    seed: int = 0
    device: str = "auto"
    threads: int | None = None  # torch CPU threads; None: leave torch's default
