"""Which GAN generator the Latent tab and ``studio gan`` open when the user names none."""

from __future__ import annotations

import os
from pathlib import Path

from studio.engines.errors import StudioInputError
from studio.engines.gan.checkpoints import LoadedGenerator, load_generator
from studio.paths import shipped_model

DEFAULT_MODEL_NAME = "gan_paintings64.pt"


def default_generator_path() -> Path:
    """The generator shipped with studio (``assets/models/``), or ``$STUDIO_GAN_MODEL`` when set."""
    env = os.environ.get("STUDIO_GAN_MODEL")
    return Path(env) if env else shipped_model(DEFAULT_MODEL_NAME)


def load_default_generator() -> LoadedGenerator:
    p = default_generator_path()
    if not p.is_file():
        raise StudioInputError(f"the default generator {str(p)!r} is missing; pass --model PATH "
                               "(a studio generator.pt, a DCGAN netG_epoch_N.pth or a WGAN DCGAN_G file)")
    return load_generator(p)
