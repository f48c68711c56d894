"""Winograd F(4x4, 3x3) convolutions equal the direct convolution, forward and input gradient, and
the feature network takes that route where it is faster."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from studio.engines.features import winograd
from studio.engines.features.vgg import FeatureNetwork


@pytest.mark.parametrize("shape", [(1, 8, 16, 20), (2, 5, 13, 7), (1, 3, 1, 1), (1, 4, 6, 9)])
def test_conv3x3_is_the_direct_convolution(shape: tuple[int, int, int, int]):
    # float64: the transforms are exact up to rounding, whatever the size (tiles overhang the
    # image when a side is not a multiple of 4).
    g = torch.Generator().manual_seed(0)
    x = torch.randn(*shape, generator=g, dtype=torch.float64)
    w = torch.randn(6, shape[1], 3, 3, generator=g, dtype=torch.float64)
    b = torch.randn(6, generator=g, dtype=torch.float64)
    y = winograd.conv3x3(x, winograd.transform_kernel(w), b)
    torch.testing.assert_close(y, F.conv2d(x, w, b, padding=1), rtol=1e-10, atol=1e-10)
    assert y.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(winograd.conv3x3(x, winograd.transform_kernel(w)), F.conv2d(x, w, None, padding=1),
                               rtol=1e-10, atol=1e-10)


def test_input_grad_kernel_gives_the_input_gradient():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(1, 7, 10, 12, generator=g, dtype=torch.float64, requires_grad=True)
    w = torch.randn(5, 7, 3, 3, generator=g, dtype=torch.float64)
    grad_out = torch.randn(1, 5, 10, 12, generator=g, dtype=torch.float64)
    F.conv2d(x, w, padding=1).backward(grad_out)
    assert x.grad is not None
    got = winograd.conv3x3(grad_out, winograd.transform_kernel_for_input_grad(w))
    torch.testing.assert_close(got, x.grad, rtol=1e-10, atol=1e-10)


def test_float32_error_is_small_at_vgg_channel_counts():
    g = torch.Generator().manual_seed(2)
    x = torch.rand(1, 256, 24, 32, generator=g).contiguous(memory_format=torch.channels_last)
    w = torch.randn(256, 256, 3, 3, generator=g) / 48
    ref = F.conv2d(x, w, padding=1)
    err = (winograd.conv3x3(x, winograd.transform_kernel(w)) - ref).abs().max() / ref.abs().max()
    assert float(err) < 5e-5


def test_worthwhile_only_for_many_channels_in_float32_on_the_cpu():
    x = torch.zeros(1, 1, 4, 4)
    assert winograd.worthwhile(x, 256, 256)
    assert winograd.worthwhile(x, 128, 256)
    assert not winograd.worthwhile(x, 64, 128)  # measured slower than the direct convolution
    assert not winograd.worthwhile(x.double(), 256, 256)


def test_feature_network_uses_winograd_and_matches_the_direct_route(random_net: FeatureNetwork,
                                                                    monkeypatch: pytest.MonkeyPatch):
    calls: list[int] = []
    real = winograd.conv3x3

    def counting(x: torch.Tensor, u: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
        calls.append(x.shape[1])
        return real(x, u, bias)

    monkeypatch.setattr(winograd, "conv3x3", counting)
    rgb = torch.rand(1, 3, 40, 36, generator=torch.Generator().manual_seed(0))
    layers = ["relu1_1", "relu3_1", "relu4_2"]

    def run() -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        x = rgb.clone().requires_grad_(True)
        feats = random_net(x, layers)
        sum(f.pow(2).mean() for f in feats.values()).backward()  # type: ignore[union-attr]
        assert x.grad is not None
        return {k: v.detach() for k, v in feats.items()}, x.grad

    fast_feats, fast_grad = run()
    # conv2_2 to conv4_2 have >= 128 channels on both sides: 6 forward, 6 input gradients.
    assert len(calls) == 12
    calls.clear()
    random_net.conv_bank.winograd = False
    try:
        ref_feats, ref_grad = run()
    finally:
        random_net.conv_bank.winograd = True
    assert calls == []
    for name in layers:
        torch.testing.assert_close(fast_feats[name], ref_feats[name], rtol=1e-4, atol=1e-4 * float(
            ref_feats[name].abs().max()))
    # The gradient cannot be compared element by element between any two float32 routes: where a
    # max-pool window holds a near tie or a ReLU input is near 0, a rounding difference sends a
    # pixel's gradient elsewhere (over 150 random inputs, even the direct route in float32 against
    # float64 once differed by 2.9 % of the maximum). What must hold is the direction and size:
    # over 300 inputs the worst 1 - cosine between the two routes was 3.5e-5.
    cos = torch.nn.functional.cosine_similarity(fast_grad.flatten(), ref_grad.flatten(), dim=0)
    assert float(cos) > 1 - 1e-4
    assert abs(float(fast_grad.norm() / ref_grad.norm()) - 1) < 1e-3


def test_bank_convolution_is_differentiable_like_the_direct_one(random_net: FeatureNetwork):
    # A conv's pre-activation output goes through ordinary autograd (and harmonization's own
    # pass does the same): the bank's node must give the direct convolution's input gradient.
    rgb = torch.rand(1, 3, 24, 28, generator=torch.Generator().manual_seed(0))

    def grad() -> torch.Tensor:
        x = rgb.clone().requires_grad_(True)
        random_net(x, ["conv4_1"])["conv4_1"].pow(2).mean().backward()
        assert x.grad is not None
        return x.grad

    fast = grad()
    random_net.conv_bank.winograd = False
    try:
        ref = grad()
    finally:
        random_net.conv_bank.winograd = True
    assert float(ref.abs().max()) > 0
    # Compared by direction and size, as above (ReLU and max-pool ties make element-wise checks flaky).
    assert float(torch.nn.functional.cosine_similarity(fast.flatten(), ref.flatten(), dim=0)) > 1 - 1e-4
    assert abs(float(fast.norm() / ref.norm()) - 1) < 1e-3


def test_prepare_makes_the_kernels_of_eligible_convolutions_only(random_net: FeatureNetwork):
    bank = random_net.conv_bank
    bank._kernels.clear()
    bank.prepare(["conv1_2", "conv2_1", "conv3_1", "conv4_2"])
    assert set(bank._kernels) == {("conv3_1", False), ("conv3_1", True), ("conv4_2", False), ("conv4_2", True)}
    u = bank._kernels[("conv4_2", False)][1]
    random_net(torch.rand(1, 3, 20, 20), ["relu4_2"])
    assert bank._kernels[("conv4_2", False)][1] is u  # reused, not made again


@pytest.mark.parametrize("shape", [(1, 4, 37, 22), (2, 3, 16, 12)])
def test_conv3x3_in_bands_is_the_direct_convolution(shape: tuple[int, int, int, int], monkeypatch: pytest.MonkeyPatch):
    # Large images go through in bands of tile rows; force several bands (and a short last one).
    monkeypatch.setattr(winograd, "CHUNK_BYTES", 1)
    monkeypatch.setattr(winograd, "MIN_TILES", 1)
    g = torch.Generator().manual_seed(3)
    x = torch.randn(*shape, generator=g, dtype=torch.float64)
    w = torch.randn(5, shape[1], 3, 3, generator=g, dtype=torch.float64)
    b = torch.randn(5, generator=g, dtype=torch.float64)
    torch.testing.assert_close(winograd.conv3x3(x, winograd.transform_kernel(w), b), F.conv2d(x, w, b, padding=1),
                               rtol=1e-10, atol=1e-10)
