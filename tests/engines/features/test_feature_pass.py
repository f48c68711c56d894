"""The hand-written backward of the feature network and the one-product Gram backward give the
gradients plain autograd gives; the allocator setting that keeps large blocks is applied."""

from __future__ import annotations

import sys

import pytest
import torch
import torch.nn.functional as F

from studio.engines import cpu_memory
from studio.engines.features.losses import gram
from studio.engines.features.vgg import FeatureNetwork


def _autograd_features(net: FeatureNetwork, rgb: torch.Tensor, layers: list[str], pooling: str
                       ) -> dict[str, torch.Tensor]:
    """The same stack written with out-of-place autograd ops: the reference."""
    x = net.normalize(rgb)
    out: dict[str, torch.Tensor] = {}
    for s in net.truncated_specs(layers):
        if s.kind == "conv":
            conv = net.convs[s.name]
            x = F.conv2d(x, conv.weight, conv.bias, padding=1)
        elif s.kind == "relu":
            x = F.relu(x)
        elif pooling == "avg":
            x = F.avg_pool2d(x, 2, 2, ceil_mode=True)
        else:
            x = F.max_pool2d(x, 2, 2, ceil_mode=True)
        if s.name in layers:
            out[s.name] = x
    return out


def _loss(feats: dict[str, torch.Tensor]) -> torch.Tensor:
    # Gram terms and a plain squared term, like the style and content losses; one layer appears
    # twice in the graph through both.
    total = feats["relu4_2"].pow(2).mean()
    for name in ("relu1_1", "relu2_1", "pool2", "relu3_1"):
        total = total + gram(feats[name]).pow(2).mean() * 1e-3
    return total


@pytest.mark.parametrize("pooling", ["max", "avg"])
def test_feature_pass_gradient_equals_autograd(random_net: FeatureNetwork, pooling: str):
    torch.manual_seed(1)
    layers = ["relu1_1", "relu2_1", "pool2", "relu3_1", "relu4_2"]
    rgb = torch.rand(1, 3, 37, 29, dtype=torch.float64)  # odd sizes: ceil-mode pools
    net = random_net.double()
    try:
        x1 = rgb.clone().requires_grad_(True)
        feats = net(x1, layers, pooling=pooling)
        assert type(feats["relu4_2"].grad_fn).__name__ == "FeaturePassBackward"
        _loss(feats).backward()
        x2 = rgb.clone().requires_grad_(True)
        ref = _autograd_features(net, x2, layers, pooling)
        for name in layers:
            torch.testing.assert_close(feats[name], ref[name])
        _loss(ref).backward()
        assert x1.grad is not None and x2.grad is not None
        assert float(x2.grad.abs().max()) > 0
        torch.testing.assert_close(x1.grad, x2.grad, rtol=1e-9, atol=1e-12)
    finally:
        net.float()


def test_feature_pass_only_where_gradients_are_needed(random_net: FeatureNetwork):
    x = torch.rand(1, 3, 16, 16)
    assert net_grad_fn(random_net, x.requires_grad_(True), ["relu2_1"]) == "FeaturePassBackward"
    with torch.no_grad():
        assert random_net(x, ["relu2_1"])["relu2_1"].grad_fn is None
    # A conv's pre-activation output cannot come from the in-place pass: ordinary autograd.
    assert net_grad_fn(random_net, x, ["conv2_1"]) != "FeaturePassBackward"


def net_grad_fn(net: FeatureNetwork, x: torch.Tensor, layers: list[str]) -> str:
    return type(net(x, layers)[layers[0]].grad_fn).__name__


def test_feature_pass_checks_between_layers_in_backward(random_net: FeatureNetwork):
    calls = {"n": 0}

    def check() -> None:
        calls["n"] += 1

    x = torch.rand(1, 3, 16, 16, requires_grad=True)
    out = random_net(x, ["relu2_1"], check=check)["relu2_1"]
    forward_calls = calls["n"]
    assert forward_calls == 3  # relu1_1, relu1_2, relu2_1
    out.sum().backward()
    assert calls["n"] == 2 * forward_calls


def test_gram_backward_matches_gradcheck():
    f = torch.rand(1, 6, 5, 4, dtype=torch.float64).contiguous(memory_format=torch.channels_last)
    assert torch.autograd.gradcheck(lambda t: gram(t), (f.requires_grad_(True),))
    g = torch.rand(1, 6, 5, 4, dtype=torch.float64, requires_grad=True)  # plain layout too
    assert torch.autograd.gradcheck(lambda t: gram(t), (g,))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc allocator settings are Linux-only")
def test_large_blocks_are_kept_on_glibc():
    if cpu_memory._libc() is None:
        pytest.skip("this Linux C library is not glibc")
    assert cpu_memory.keep_large_blocks() is True
    cpu_memory.give_back_memory()  # must not raise
