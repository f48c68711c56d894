"""studio's L-BFGS (``studio.engines.lbfgs``): torch's steps, in bounded memory, with a half-precision history."""

from __future__ import annotations

import gc
import warnings

import pytest
import torch

from studio.engines.lbfgs import LBFGS, History

N = 200


def _problem(dtype: torch.dtype = torch.float64):
    """A smooth non-convex loss of N values (Rosenbrock's valley and a random quadratic) and its evaluation."""
    a = torch.randn(N, N, dtype=dtype, generator=torch.Generator().manual_seed(1))

    def f(x: torch.Tensor) -> torch.Tensor:
        return ((1 - x[:-1]) ** 2).sum() + 10 * ((x[1:] - x[:-1] ** 2) ** 2).sum() + 0.01 * (a @ x).pow(2).sum() / N

    def evaluate(x: torch.Tensor) -> tuple[float, torch.Tensor, None]:
        xg = x.detach().clone().requires_grad_(True)
        loss = f(xg)
        loss.backward()
        assert xg.grad is not None
        return float(loss.detach()), xg.grad, None

    x0 = 0.5 * torch.randn(N, dtype=dtype, generator=torch.Generator().manual_seed(2))
    return f, evaluate, x0


def test_it_takes_torchs_steps():
    f, evaluate, x0 = _problem()
    xt = x0.clone().requires_grad_(True)
    ref = torch.optim.LBFGS([xt], lr=1, max_iter=1, max_eval=40, history_size=10, tolerance_grad=1e-9,
                            tolerance_change=1e-12, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        ref.zero_grad()
        loss = f(xt)
        loss.backward()
        return loss

    mine = LBFGS(x0.clone(), evaluate, 10, dtype=torch.float64)
    for _ in range(10):
        ref.step(closure)
        assert mine.step()
        # the same point, up to the order of float64 sums (they agreed to the last bit when measured)
        assert torch.allclose(mine.x, xt.detach(), rtol=0, atol=1e-9)
    assert mine.loss == pytest.approx(float(f(xt.detach())), rel=1e-12)
    assert mine.loss < float(f(x0)) * 0.8


def test_a_half_precision_history_converges_as_far():
    f, evaluate, x0 = _problem()
    full = LBFGS(x0.clone(), evaluate, 10, dtype=torch.float64)
    half = LBFGS(x0.clone(), evaluate, 10, dtype=torch.float16)
    for _ in range(60):
        full.step()
        half.step()
    assert half.history._slots[0][0].dtype == torch.float16
    assert full.loss is not None and half.loss is not None
    # measured: 155.96 against 155.99 after 60 iterations, from 185
    assert half.loss == pytest.approx(full.loss, rel=0.01)


def test_a_tiny_step_does_not_underflow_in_half_precision():
    # steps of 1e-7 are below float16's smallest normal value (6e-5): each vector is stored scaled by its largest
    h = History(4, 2, torch.float16, torch.device("cpu"))
    s = torch.tensor([1e-7, -2e-7, 3e-7, 1e-7], dtype=torch.float32)
    assert h.push(s, 1e5 * s) == pytest.approx(1e-5, rel=1e-3)
    out = h.direction(1e5 * s, 1e-5, torch.empty(4))  # the curvature is 1e5: -H g = -s
    assert torch.allclose(out, -s, rtol=1e-3)


def test_the_history_is_a_ring_allocated_as_it_fills():
    h = History(8, 3, torch.float32, torch.device("cpu"))
    assert len(h._slots) == 0  # nothing allocated up front
    for k in range(5):
        s = torch.randn(8, generator=torch.Generator().manual_seed(k))
        assert h.push(s, 3 * s) is not None
    assert len(h) == 3 and len(h._slots) == 3
    # a pair with negative curvature is refused and its slot kept for the next one
    s = torch.ones(8)
    assert h.push(s, -s) is None
    assert len(h) == 2 and len(h._slots) == 3
    assert h.push(s, s) == pytest.approx(1.0)
    assert len(h) == 3 and len(h._slots) == 3
    assert History.bytes_per_step(1000, torch.float16) == 4000


def _image_sized(numel: int) -> set[int]:
    """The storages of the tensors of ``numel`` values alive now (views of one storage counted once)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # isinstance() on deprecated torch names in gc's objects warns
        gc.collect()  # garbage is not alive
        return {o.untyped_storage().data_ptr() for o in gc.get_objects()
                if isinstance(o, torch.Tensor) and o.numel() == numel}


def test_a_step_holds_at_most_five_copies_of_the_picture():
    f, evaluate, x0 = _problem(torch.float32)
    peak = 0
    before = _image_sized(N) - {x0.untyped_storage().data_ptr()}  # other tests' tensors of this size

    def counting(x: torch.Tensor) -> tuple[float, torch.Tensor, None]:
        nonlocal peak
        out = evaluate(x)
        peak = max(peak, len(_image_sized(N) - before))
        return out

    opt = LBFGS(x0, counting, 0)  # no history: only the working copies count
    del x0
    for _ in range(8):
        opt.step()
    # the point, the direction, the start's gradient, the line search's last two gradients (the one just
    # returned among them); torch's LBFGS holds 8 besides its history (measured)
    assert peak <= 5


def test_an_interrupted_step_leaves_the_accepted_point():
    _, evaluate, x0 = _problem(torch.float32)
    calls = 0

    def interrupted(x: torch.Tensor) -> tuple[float, torch.Tensor, None]:
        nonlocal calls
        calls += 1
        if calls == 6:
            raise KeyboardInterrupt
        return evaluate(x)

    opt = LBFGS(x0.clone(), interrupted, 5)
    opt.step()
    opt.step()
    accepted = opt.x.clone()
    with pytest.raises(KeyboardInterrupt):
        for _ in range(10):
            accepted = opt.x.clone()
            opt.step()
    assert torch.allclose(opt.x, accepted, rtol=0, atol=1e-6)  # moved back in place: within float rounding
