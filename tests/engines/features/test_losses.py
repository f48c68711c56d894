"""Gram matrices and loss terms on tiny tensors, with hand-computed values."""

from __future__ import annotations

import pytest
import torch

from studio.engines.features.losses import content_loss, energy, gram, range_loss, style_loss, tv_loss, tv_raw


def test_gram_by_hand():
    # 2 channels, 1x2 pixels: channel a = [1, 2], channel b = [3, 4]
    f = torch.tensor([[[[1.0, 2.0]], [[3.0, 4.0]]]])
    g = gram(f)
    expected = torch.tensor([[1 + 4, 3 + 8], [3 + 8, 9 + 16]]) / 2
    torch.testing.assert_close(g, expected)


def test_gram_same_for_channels_last():
    f = torch.rand(1, 5, 4, 3)
    torch.testing.assert_close(gram(f), gram(f.contiguous(memory_format=torch.channels_last)))


def test_content_and_style_loss_values():
    t = torch.tensor([[[[1.0, 3.0]]]])
    f = torch.tensor([[[[2.0, 3.0]]]])
    e = energy(t)  # (1 + 9) / 2 = 5
    assert float(e) == pytest.approx(5.0)
    assert float(content_loss(f, t, e)) == pytest.approx((1.0 / 2) / 5.0)
    gt = gram(t)
    assert float(style_loss(t, gt, energy(gt))) == 0.0
    assert float(style_loss(f, gt, energy(gt))) > 0


def test_tv_by_hand():
    img = torch.tensor([[[[0.0, 1.0], [0.0, 1.0]]]])
    # dx: [1, 1] -> mean 1; dy: [0, 0] -> mean 0
    assert float(tv_raw(img)) == pytest.approx(1.0)
    assert float(tv_loss(img, torch.tensor(0.5))) == pytest.approx(2.0)


def test_range_by_hand():
    img = torch.tensor([[[[-0.5, 0.5], [1.0, 1.25]]]], requires_grad=True)
    loss = range_loss(img)
    assert float(loss.detach()) == pytest.approx((0.25 + 0.0625) / 4)
    loss.backward()
    # the gradient pushes the out-of-range pixels back in and leaves the others alone
    torch.testing.assert_close(img.grad, torch.tensor([[[[-0.25, 0.0], [0.0, 0.125]]]]))
    assert float(range_loss(torch.rand(1, 3, 8, 8))) == 0.0
