"""DCGAN generator / critic: shapes and parameter counts at several sizes."""

from __future__ import annotations

import pytest
import torch

from studio.engines.errors import StudioInputError
from studio.engines.gan.models import DCGAN_D, DCGAN_G, GanArch, count_parameters, generator_base_width

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.mark.parametrize("size", [16, 32, 64, 128])
def test_shapes_at_several_sizes(size: int) -> None:
    arch = GanArch(image_size=size, nz=8, ngf=4, ndf=4)
    g, d = DCGAN_G(arch).eval(), DCGAN_D(arch).eval()
    x = g(torch.randn(3, 8))
    assert x.shape == (3, 3, size, size)
    assert float(x.detach().abs().max()) <= 1.0  # tanh output
    assert g(torch.randn(3, 8, 1, 1)).shape == x.shape  # both latent layouts
    assert d(x).shape == (3,)  # one score per image: the single-channel conv, averaged


def test_parameter_counts_match_the_reference_dcgan() -> None:
    # The PyTorch DCGAN tutorial's 64 px models (nz 100, ngf = ndf = 64): 3,576,704 and 2,765,568 parameters.
    arch = GanArch()
    assert count_parameters(DCGAN_G(arch)) == 3_576_704
    assert count_parameters(DCGAN_D(arch)) == 2_765_568


@pytest.mark.parametrize("size,expected", [(16, (100 * 128 * 16 + 256) + (128 * 64 * 16 + 128) + 64 * 3 * 16),
                                           (32, None)])
def test_parameter_count_formula(size: int, expected: int | None) -> None:
    arch = GanArch(image_size=size)
    g = DCGAN_G(arch)
    if expected is not None:
        assert count_parameters(g) == expected
    # the generator's first layer is ngf/2 doubled per factor two from 4 px: 8*ngf at 64 px, 2*ngf at 16 px
    assert generator_base_width(64, 64) == 512 and generator_base_width(16, 64) == 128
    assert g.main[0].weight.shape[1] == generator_base_width(size, 64)


def test_extra_layers_and_critic_without_batch_norm() -> None:
    base = GanArch(image_size=32, nz=10, ngf=8, ndf=8)
    extra = base.with_changes(n_extra_layers=2)
    g0, g2 = DCGAN_G(base), DCGAN_G(extra)
    # each extra layer: a 3x3 conv (c*c*9) and a batch norm (2c) at the last width (ngf = 8)
    assert count_parameters(g2) - count_parameters(g0) == 2 * (8 * 8 * 9 + 16)
    assert g2(torch.randn(2, 10)).shape == (2, 3, 32, 32)
    d_bn, d_plain = DCGAN_D(base), DCGAN_D(base.with_changes(critic_norm="none"))
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in d_bn.modules())
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in d_plain.modules())
    assert d_plain(torch.randn(1, 3, 32, 32)).shape == (1,)  # works per sample (no batch statistics)


@pytest.mark.parametrize("bad", [dict(image_size=40), dict(image_size=8), dict(nz=0), dict(n_extra_layers=-1)])
def test_bad_architecture_is_one_sentence(bad: dict) -> None:
    with pytest.raises(StudioInputError):
        DCGAN_G(GanArch(**bad))


def test_fused_generator_makes_the_same_pictures() -> None:
    from studio.engines.gan.models import FusedGenerator

    torch.manual_seed(0)
    g = DCGAN_G(GanArch(image_size=32, nz=10, ngf=8, n_extra_layers=1))
    g.train()
    with torch.no_grad():
        for _ in range(3):
            g(torch.randn(16, 10))  # real running statistics
    g.eval()
    fused = FusedGenerator(g)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in fused.modules())
    z = torch.randn(4, 10)
    with torch.no_grad():
        assert torch.allclose(fused(z), g(z), atol=1e-5)
