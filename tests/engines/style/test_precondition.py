"""The spectral preconditioner: an exact, symmetric, invertible filter, and the stepper optimising
through it gives L-BFGS the gradient of the loss with respect to its own variable."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from studio.engines.events import JobControl
from studio.engines.style.objective import Objective, Stepper
from studio.engines.style.params import StyleParams
from studio.engines.style.precondition import SpectralBoost


def test_inverse_undoes_the_filter_on_odd_sizes():
    boost = SpectralBoost(gain=10.0, period=16.0)
    t = torch.rand(2, 3, 37, 50, dtype=torch.float64)
    assert torch.allclose(boost.inverse(boost.apply(t)), t, atol=1e-12)
    assert torch.allclose(boost.apply(boost.inverse(t)), t, atol=1e-12)


def test_the_filter_is_symmetric():
    """<K a, b> = <a, K b>: what makes K applied to the image gradient the gradient with respect to z."""
    boost = SpectralBoost(gain=10.0, period=16.0)
    a, b = torch.rand(1, 3, 33, 48, dtype=torch.float64), torch.rand(1, 3, 33, 48, dtype=torch.float64)
    assert float((boost.apply(a) * b).sum()) == pytest.approx(float((a * boost.apply(b)).sum()), rel=1e-12)


def test_low_frequencies_are_boosted_and_fine_texture_is_left_alone():
    boost = SpectralBoost(gain=10.0, period=64.0)
    h, w = 128, 128
    yy, xx = np.mgrid[0:h, 0:w]
    flat = torch.ones(1, 1, h, w, dtype=torch.float64)
    checker = torch.from_numpy(((yy + xx) % 2 * 2 - 1).astype(np.float64))[None, None]  # Nyquist
    assert torch.allclose(boost.apply(flat), 11.0 * flat)
    assert torch.allclose(boost.apply(checker), checker, atol=0.02)  # x11 for the flat image


def test_stepper_gives_lbfgs_the_gradient_with_respect_to_its_variable(random_net):
    content, style = torch.rand(1, 3, 32, 40), torch.rand(1, 3, 32, 40)
    params = StyleParams(style_weight=10.0)
    objective = Objective(random_net, content, [style], params)
    image = (0.5 * content + 0.25).requires_grad_(True)
    stepper = Stepper(image, objective, params, JobControl())
    assert stepper.boost is not None and stepper.x is not image
    assert torch.allclose(stepper.boost.apply(stepper.x.detach()), image.detach(), atol=1e-6)

    stepper._closure()
    z = stepper.x.detach().clone().requires_grad_(True)
    loss, _ = objective(stepper.boost.apply(z))
    (expected,) = torch.autograd.grad(loss, z)
    assert stepper.x.grad is not None
    assert torch.allclose(stepper.x.grad, expected, rtol=1e-3, atol=1e-3 * float(expected.abs().max()))


def test_after_a_step_the_image_is_the_accepted_point(random_net):
    content, style = torch.rand(1, 3, 32, 40), torch.rand(1, 3, 32, 40)
    params = StyleParams(style_weight=10.0)
    objective = Objective(random_net, content, [style], params)
    image = content.clone().requires_grad_(True)
    stepper = Stepper(image, objective, params, JobControl())
    for _ in range(3):
        terms = stepper.step()
    _, again = objective(image.detach().clone().requires_grad_(True))
    assert again["total"] == pytest.approx(terms["total"], rel=1e-4)
    assert torch.allclose(stepper.boost.apply(stepper.x.detach()), image.detach(), atol=1e-5)


def test_plain_lbfgs_and_adam_optimise_the_pixels_themselves(random_net):
    content = torch.rand(1, 3, 16, 16)
    objective = Objective(random_net, content, [torch.rand(1, 3, 16, 16)], StyleParams())
    for params in (StyleParams(precondition=False), StyleParams(optimizer="adam")):
        image = content.clone().requires_grad_(True)
        stepper = Stepper(image, objective, params, JobControl())
        assert stepper.boost is None and stepper.x is image


def test_the_first_step_moves_large_structures_more_than_plain_lbfgs(random_net):
    """The point of it: the same gradient becomes a step that holds more low-frequency energy."""
    content, style = torch.rand(1, 3, 64, 64), torch.rand(1, 3, 64, 64)
    objective = Objective(random_net, content, [style], StyleParams(style_weight=10.0))
    low_share = {}
    for pre in (False, True):
        image = content.clone().requires_grad_(True)
        Stepper(image, objective, StyleParams(precondition=pre), JobControl()).step()
        step = torch.fft.rfft2((image.detach() - content)[0]).abs().pow(2)
        fy = torch.fft.fftfreq(64)[:, None].abs()
        fx = torch.fft.rfftfreq(64)[None, :]
        # without the constant term: a uniform colour shift is no structure, and at relu1_1's default weight of 5
        # a random painting's mean colour made even plain L-BFGS's step 73 % "low frequency" through it alone
        constant = (fy == 0) & (fx == 0)
        low = (fy < 1 / 16) & (fx < 1 / 16) & ~constant
        low_share[pre] = float(step[:, low].sum() / step[:, ~constant].sum())
    assert low_share[True] > 2 * low_share[False]



def test_nothing_wraps_from_one_edge_to_the_other():
    """A change at the left edge reaches no further than the kernel's width, not the right edge."""
    boost = SpectralBoost(gain=10.0, period=16.0)
    t = torch.zeros(1, 1, 32, 200, dtype=torch.float64)
    t[..., :, 0] = 1.0
    out = boost.apply(t)
    assert float(out[..., :, :4].abs().max()) > 0.1
    assert float(out[..., :, -40:].abs().max()) < 1e-6
