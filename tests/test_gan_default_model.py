"""The generator shipped in assets/ loads on a fresh machine and makes 64 px pictures (quality not judged)."""

from __future__ import annotations

import json

import numpy as np
import torch

from studio.engines.gan.latent import render, sample_latents
from studio.generators import default_generator_path, load_default_generator


def test_shipped_generator_loads_and_renders_64px(monkeypatch) -> None:
    monkeypatch.delenv("STUDIO_GAN_MODEL", raising=False)
    path = default_generator_path()
    assert path.is_file(), f"{path} is missing"
    assert path.stat().st_size < 8_000_000  # weights only, half precision
    raw = torch.load(path, map_location="cpu", weights_only=True)
    assert all(v.dtype == torch.float16 for v in raw["state_dict"].values() if v.is_floating_point())
    card = json.loads(path.with_suffix(".json").read_text())
    for key in ("training_data", "generator_iterations", "training_seconds", "hardware", "date", "loss"):
        assert card.get(key), f"the model card lacks {key}"
    assert path.with_suffix(".md").is_file()
    gen = load_default_generator()
    assert gen.source_format == "studio" and gen.arch.image_size == 64
    imgs = render(gen.model, sample_latents(4, gen.arch.nz, seed=0))
    assert imgs.shape == (4, 64, 64, 3) and imgs.dtype == np.uint8
    assert imgs.std() > 1.0  # not a blank picture
