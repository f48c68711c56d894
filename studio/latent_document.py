"""The Latent document: which generator sample is chosen and how it is steered, and the latent that
follows from it (the chosen z or a point between A and B, moved along principal directions in standard
deviations, and along one raw z coordinate). Qt-free: the Latent tab shows it and edits it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from studio.engines.gan.latent import lerp, slerp
from studio.engines.gan.params import TrainGanParams

if TYPE_CHECKING:
    from studio.engines.gan.checkpoints import LoadedGenerator
    from studio.engines.gan.directions import Directions
    from studio.recipe import Recipe


@dataclass(frozen=True, eq=False)
class LatentState:
    """What the Latent workspace shows. Arrays compare by identity; ``frame`` is the rendered picture."""

    model_path: str = ""  # "" = the default generator
    seed: int = 0
    truncation: float | None = None
    choice: int = 0
    z: np.ndarray | None = None  # the chosen latent (nz,), before slider edits
    # a fitted photo's detail over the generator's own (``engines.gan.project``), (C, H, W); it belongs to ``z``
    # and goes when another latent is chosen
    detail: np.ndarray | None = None
    detail_on: bool = True  # False: the fitted latent shown alone (the detail kept, to turn back on)
    directions: tuple[float, ...] = ()  # σ along each principal direction
    raw_index: int = 0
    raw_amount: float = 0.0
    z_a: np.ndarray | None = None
    z_b: np.ndarray | None = None
    ab_t: float | None = None  # position between A and B; None: the chosen latent
    ab_mode: str = "slerp"
    smooth: bool = True  # smooth upscaling of the 64 px picture, not a pixel mosaic
    run_kind: str = "train"  # what Run does: "train" a generator, or "project" the opened picture
    project_target: Any = None  # a LoadedImage to fit (File > Open)
    train_folder: str = ""
    train: TrainGanParams = field(default_factory=lambda: TrainGanParams(loss="dcgan", iterations=2000, ngf=32,
                                                                         ndf=32, batch_size=32))
    frame: np.ndarray | None = None  # uint8 HxWx3, enlarged for display
    #: the opened picture to fit as the canvas shows it (uint8), in place of ``frame`` until a slider, a sample, the
    #: fit or "Run trains" replaces it; ``frame`` stays the generator's picture (what Export PNG saves)
    target_view: np.ndarray | None = None


def compose_latent(s: LatentState, directions: Directions | None) -> np.ndarray | None:
    """The latent shown: the chosen one (or the A\u2194B point), with the slider edits applied; the principal
    directions are needed only when a σ slider is off zero."""
    if s.z is None:
        return None
    z = s.z
    if s.ab_t is not None and s.z_a is not None and s.z_b is not None:
        z = (slerp if s.ab_mode == "slerp" else lerp)(s.z_a, s.z_b, s.ab_t)
    z = np.array(z, np.float32, copy=True)
    if any(s.directions):
        if directions is None:
            raise ValueError("σ edits need the generator's principal directions")
        z = directions.apply(z, {i: v for i, v in enumerate(s.directions) if v})
    if s.raw_amount:
        z[s.raw_index] += s.raw_amount
    return z


def shown_detail(s: LatentState) -> np.ndarray | None:
    """The fitted detail the shown picture carries: the chosen latent's, unless it is switched off, and not on the
    A↔B walk (its ends are latents alone)."""
    return s.detail if s.ab_t is None and s.detail_on else None


def with_direction(directions: tuple[float, ...], index: int, sigma: float) -> tuple[float, ...]:
    """The σ of every direction after one slider moved (the tuple grows to reach ``index``)."""
    d = list(directions) + [0.0] * max(0, index + 1 - len(directions))
    d[index] = float(sigma)
    return tuple(d)


def detail_record(detail: np.ndarray) -> dict[str, Any]:
    """A fitted detail as a recipe holds it: its shape and its numbers (float16, base64; 32 KB for the face
    generator's 256x8x8), so the picture can be made again from the recipe alone."""
    import base64

    d = np.asarray(detail, np.float32)
    return {"joins": "after the second block", "shape": list(d.shape),
            "float16_base64": base64.b64encode(d.astype("<f2").tobytes()).decode("ascii")}


def latent_recipe(what: str, s: LatentState, gen: LoadedGenerator, z: np.ndarray | None) -> Recipe:
    """The recipe of a picture or walk from the Latent tab: the generator (file and weights hash), the sample
    and every slider, and the latent itself."""
    from studio import __version__
    from studio.engines.files import file_sha256
    from studio.recipe import InputRef, Recipe

    inputs = []
    if gen.path is not None and gen.path.is_file():
        inputs.append(InputRef("generator", str(gen.path.resolve()), file_sha256(gen.path)))
    params = {"seed": s.seed, "choice": s.choice, "truncation": s.truncation, "directions": list(s.directions),
              "raw_index": s.raw_index, "raw_amount": s.raw_amount, "ab_t": s.ab_t, "ab_mode": s.ab_mode,
              "smooth": s.smooth, "z": [round(float(v), 6) for v in z] if z is not None else None}
    detail = shown_detail(s)
    if detail is not None:
        params["detail"] = detail_record(detail)
    return Recipe(engine=what, params=params, inputs=inputs, weights=gen.name, studio_version=__version__,
                  extra={"weights_hash": gen.weights_hash})
