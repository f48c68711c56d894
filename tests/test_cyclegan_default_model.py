"""studio's shipped translator: present, half precision, described by its model card, and it changes a photo."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from studio.cyclegan_catalogue import default_model_path, list_models, resolve_model
from studio.engines.cyclegan.infer import translate
from studio.engines.cyclegan.io import load_generator
from studio.engines.cyclegan.params import TranslateParams
from studio.engines.files import file_sha256


@pytest.fixture(scope="module")
def path():
    p = default_model_path()
    if not p.is_file():
        pytest.skip(f"the default translator is not in this checkout ({p})")
    return p


def test_default_model_is_half_precision_and_matches_its_card(path, monkeypatch):
    monkeypatch.delenv("STUDIO_DEFAULT_TRANSLATOR", raising=False)
    sd = torch.load(path, map_location="cpu", weights_only=True)
    assert all(v.dtype == torch.float16 for v in sd.values())
    card = json.loads(path.with_suffix(".json").read_text())
    assert card["file"]["sha256"] == file_sha256(path)
    assert card["training"]["iterations"] > 0 and card["data"]["B_paintings"]
    assert path.with_suffix(".md").is_file()
    net = load_generator(path)
    assert (net.ngf, net.n_blocks) == (card["architecture"]["ngf"], card["architecture"]["n_blocks"])
    assert resolve_model("default") == path
    assert next(e for e in list_models() if e.kind == "default").available


def test_default_model_translates_a_photo(path):
    import skimage.data

    img = skimage.data.chelsea()[::4, ::4].astype(np.float32) / 255
    out = translate(load_generator(path), img, TranslateParams(tile=0))
    assert out.shape == img.shape
    assert 0.02 < np.abs(out - img).mean() < 0.5  # it changes the picture, without destroying it
