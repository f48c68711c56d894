"""L-BFGS in bounded memory: the optimiser of pictures too large for torch's.

``torch.optim.LBFGS`` holds about a dozen copies of the optimised tensor at once (its direction, the previous
gradient, the line search's start, a clone of every gradient the line search brackets with, the flattened
gradient) and its history as float32 pairs. At print size each copy is hundreds of megabytes. ``LBFGS`` here
runs the same algorithm (Nocedal & Wright's two-loop recursion and strong-Wolfe line search with cubic
interpolation, with torch's constants, so with a float32 history it takes torch's steps) holding at most five
copies: the point (moved along the direction in place), the direction, the gradient at the start, and the
gradients of the line search's last two points (those an evaluation returns; referenced, never cloned).

The history is a ring of ``History`` slots allocated as they fill, in float32 or in float16: each vector is
stored divided by its largest magnitude, so none of it underflows; half the bytes, 5e-4 relative rounding.

The optimised tensor is flat; ``evaluate(x)`` returns (loss, gradient of the same shape, anything the caller
wants back with the accepted point: ``aux``) at it, and ``step()`` runs one iteration: one line search of up to
``MAX_LINE_EVALS`` evaluations. An exception from ``evaluate`` (a cancelled job) leaves ``x`` at the last
accepted point.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

#: vectors are combined in chunks of this many values, so a float16 history never needs a float32 copy
CHUNK = 1 << 20
#: the strong Wolfe conditions' sufficient decrease and curvature constants (torch's, Nocedal & Wright's)
C1, C2 = 1e-4, 0.9
#: evaluations one line search may make (torch's ``max_ls``)
MAX_LINE_EVALS = 25
#: the line search stops when its bracket moves no pixel by more than this (torch's)
BRACKET_TOLERANCE = 1e-9

Evaluate = Callable[[torch.Tensor], tuple[float, torch.Tensor, Any]]


def _chunks(n: int) -> range:
    return range(0, n, CHUNK)


def _dot(a: torch.Tensor, b: torch.Tensor) -> float:
    """a · b, in chunks raised to the wider of their precisions (at least float32) when they differ."""
    if a.dtype == b.dtype and a.dtype != torch.float16:
        return float(torch.dot(a, b))
    wide = torch.promote_types(torch.promote_types(a.dtype, b.dtype), torch.float32)
    return sum(float(torch.dot(a[c:c + CHUNK].to(wide), b[c:c + CHUNK].to(wide))) for c in _chunks(a.numel()))


class History:
    """Up to ``capacity`` (step, gradient change) pairs of ``numel`` values, oldest first, with 1 / (y·s)."""

    def __init__(self, numel: int, capacity: int, dtype: torch.dtype, device: torch.device) -> None:
        self.numel, self.capacity, self.dtype, self.device = numel, max(0, capacity), dtype, device
        self._slots: list[tuple[torch.Tensor, torch.Tensor]] = []
        self._scales: list[tuple[float, float]] = []
        self._rho: list[float] = []
        self._order: list[int] = []  # the slots in use, oldest first
        self._spare: list[int] = []  # allocated and not in use

    @staticmethod
    def bytes_per_step(numel: int, dtype: torch.dtype) -> int:
        """The bytes one remembered step takes (its two vectors)."""
        return 2 * numel * torch.empty((), dtype=dtype).element_size()

    def __len__(self) -> int:
        return len(self._order)

    def push(self, s: torch.Tensor, y: torch.Tensor) -> float | None:
        """Remember the pair if its curvature y·s (of the values as stored) is positive, dropping the oldest when
        full; return y·s / y·y then (the scale of the next step's initial inverse Hessian), else None."""
        if self.capacity == 0:
            return None
        if self._spare:
            slot = self._spare.pop()
        elif len(self._slots) < self.capacity:
            slot = len(self._slots)
            self._slots.append((torch.empty(self.numel, dtype=self.dtype, device=self.device),
                                torch.empty(self.numel, dtype=self.dtype, device=self.device)))
            self._scales.append((1.0, 1.0))
            self._rho.append(0.0)
        else:
            slot = self._order.pop(0)
        vs, vy = self._slots[slot]
        self._scales[slot] = (self._store(vs, s), self._store(vy, y))
        ys, yy = self._dot_stored(slot, slot), self._dot_stored(slot, slot, both_y=True)
        if not ys > 1e-10:
            self._spare.append(slot)
            return None
        self._rho[slot] = 1.0 / ys
        self._order.append(slot)
        return ys / yy

    def _store(self, into: torch.Tensor, v: torch.Tensor) -> float:
        if into.dtype == v.dtype:
            into.copy_(v)
            return 1.0
        scale = float(v.abs().max()) or 1.0
        for a in _chunks(self.numel):
            into[a:a + CHUNK].copy_(v[a:a + CHUNK] / scale)
        return scale

    def _dot_stored(self, i: int, j: int, both_y: bool = False) -> float:
        """s_i · y_j (or y_i · y_j) of the stored values."""
        k = 1 if both_y else 0
        return _dot(self._slots[i][k], self._slots[j][1]) * self._scales[i][k] * self._scales[j][1]

    @staticmethod
    def _dot(stored: torch.Tensor, scale: float, v: torch.Tensor) -> float:
        return _dot(stored, v) * scale

    def _axpy(self, v: torch.Tensor, alpha: float, stored: torch.Tensor, scale: float) -> None:
        """v += alpha * the stored vector."""
        if stored.dtype == v.dtype:
            v.add_(stored, alpha=alpha * scale)
            return
        for c in _chunks(self.numel):
            v[c:c + CHUNK].add_(stored[c:c + CHUNK].to(v.dtype), alpha=alpha * scale)

    def direction(self, g: torch.Tensor, h_diag: float, out: torch.Tensor) -> torch.Tensor:
        """The two-loop recursion: ``out`` = -H g, with H the inverse-Hessian estimate of the pairs over the initial
        ``h_diag`` * I."""
        out.copy_(g).neg_()
        alphas = []
        for slot in reversed(self._order):
            (vs, vy), (ss, sy) = self._slots[slot], self._scales[slot]
            a = self._rho[slot] * self._dot(vs, ss, out)
            self._axpy(out, -a, vy, sy)
            alphas.append(a)
        out.mul_(h_diag)
        for slot, a in zip(self._order, reversed(alphas), strict=True):
            (vs, vy), (ss, sy) = self._slots[slot], self._scales[slot]
            b = self._rho[slot] * self._dot(vy, sy, out)
            self._axpy(out, a - b, vs, ss)
        return out


@dataclass
class _Point:
    """A point of the line search: its step, loss, directional derivative, gradient (None: not kept) and the
    evaluation's ``aux``."""

    t: float
    f: float
    gtd: float
    g: torch.Tensor | None
    aux: Any = None


def cubic_minimum(a: _Point, b: _Point, bounds: tuple[float, float] | None = None) -> float:
    """The minimiser of the cubic through two points' values and slopes, within ``bounds`` (default: between
    them); their midpoint when the cubic has no minimum (Nocedal & Wright, eq. 3.59)."""
    lo, hi = bounds if bounds is not None else (min(a.t, b.t), max(a.t, b.t))
    if a.t == b.t:
        return min(max(a.t, lo), hi)
    d1 = a.gtd + b.gtd - 3 * (a.f - b.f) / (a.t - b.t)
    d2_square = d1 * d1 - a.gtd * b.gtd
    if d2_square < 0:
        return (lo + hi) / 2
    d2 = math.sqrt(d2_square)
    first, second = (a, b) if a.t <= b.t else (b, a)
    denominator = second.gtd - first.gtd + 2 * d2
    if denominator == 0:
        return (lo + hi) / 2
    t = second.t - (second.t - first.t) * ((second.gtd + d2 - d1) / denominator)
    return min(max(t, lo), hi)


class LBFGS:
    """L-BFGS over the flat tensor ``x`` (changed in place) remembering up to ``history`` steps stored as
    ``dtype``; ``loss``, ``grad`` and ``aux`` are those of ``x`` once it has been evaluated."""

    def __init__(self, x: torch.Tensor, evaluate: Evaluate, history: int, dtype: torch.dtype = torch.float32,
                 tolerance_grad: float = 1e-9, tolerance_change: float = 1e-12) -> None:
        if x.dim() != 1:
            raise ValueError("LBFGS optimises a flat tensor")
        self.x = x
        self.evaluate = evaluate
        self.history = History(x.numel(), history, dtype, x.device)
        self.tolerance_grad, self.tolerance_change = tolerance_grad, tolerance_change
        self.h_diag = 1.0
        self.iterations = 0
        self.evals = 0
        self.loss: float | None = None
        self.grad: torch.Tensor | None = None
        self.aux: Any = None

    def _evaluate(self) -> tuple[float, torch.Tensor, Any]:
        loss, g, aux = self.evaluate(self.x)
        self.evals += 1
        return float(loss), g, aux

    def start(self) -> tuple[float, torch.Tensor]:
        """The loss and gradient at ``x`` (evaluated once)."""
        if self.loss is None or self.grad is None:
            self.loss, self.grad, self.aux = self._evaluate()
        return self.loss, self.grad

    def step(self, first_step: float | None = None, first_move: float | None = None) -> bool:
        """One iteration; False when it could not move (the gradient or the descent vanished). The first
        iteration's trial step is ``first_step`` times the negative gradient, or the step that moves the values
        by ``first_move`` on average, else torch's 1 / |g|_1 (which moves each by about 1 / N of the gradient's
        mean: many evaluations of extrapolation follow on a large picture)."""
        loss, g = self.start()
        if float(g.abs().max()) <= self.tolerance_grad:
            return False
        d = self.history.direction(g, self.h_diag, torch.empty_like(g))
        if self.iterations == 0:
            if first_step is not None:
                t = first_step
            elif first_move is not None:
                t = first_move / max(float(g.abs().mean()), 1e-30)
            else:
                t = min(1.0, 1.0 / float(g.abs().sum()))
        else:
            t = 1.0
        gtd = float(torch.dot(g, d))
        if not math.isfinite(gtd) or gtd > -self.tolerance_change:  # no descent (or a non-finite gradient)
            return False
        start = _Point(0.0, loss, gtd, g, self.aux)
        self._t = 0.0  # where x stands along d
        try:
            best = self._line_search(d, start, t)
        except BaseException:
            self._move(d, 0.0)
            raise
        self._move(d, best.t)
        if best is start:  # no point along d was better: stay
            return False
        if best.g is None:  # the best point's gradient was not kept (a tie in the zoom): evaluate it again
            best.f, best.g, best.aux = self._evaluate()
        s = d.mul_(best.t)
        y = g.sub_(best.g).neg_()  # g is not needed any more: it becomes g_new - g
        self.grad, self.loss, self.aux = best.g, best.f, best.aux
        h = self.history.push(s, y)
        if h is not None:
            self.h_diag = h
        self.iterations += 1
        return True

    def _move(self, d: torch.Tensor, t: float) -> None:
        """Put x at step ``t`` along ``d`` from the line search's start (moved in place: no copy of the start
        is kept; float rounding puts it within an ulp of start + t d)."""
        if t != self._t:
            with torch.no_grad():
                self.x.add_(d, alpha=t - self._t)
            self._t = t

    def _at(self, d: torch.Tensor, t: float) -> _Point:
        self._move(d, t)
        f, g, aux = self._evaluate()
        if not math.isfinite(f):  # a step too far (overflow): the line search backs off from an infinite loss
            f = math.inf
        return _Point(t, f, float(torch.dot(g, d)), g, aux)

    def _line_search(self, d: torch.Tensor, start: _Point, t: float) -> _Point:
        """A step along ``d`` from ``x`` that satisfies the strong Wolfe conditions (or the best found within
        ``MAX_LINE_EVALS`` evaluations): torch's ``_strong_wolfe``, keeping only the gradients it may return."""
        f0, gtd0 = start.f, start.gtd
        d_norm = float(d.abs().max())

        def sufficient(p: _Point) -> bool:
            return p.f <= f0 + C1 * p.t * gtd0

        def curvature(p: _Point) -> bool:
            return abs(p.gtd) <= -C2 * gtd0

        prev, new = start, self._at(d, t)
        tries = 0  # evaluations after the first (torch's ls_iter)
        bracket: list[_Point] | None = None
        while tries < MAX_LINE_EVALS:
            if not sufficient(new) or (tries > 1 and new.f >= prev.f):
                bracket = [prev, new]
                break
            if curvature(new):
                return new
            if new.gtd >= 0:
                bracket = [prev, new]
                break
            t_next = cubic_minimum(prev, new, bounds=(new.t + 0.01 * (new.t - prev.t), new.t * 10))
            self._drop_gradient(prev, start)  # the next point takes its place
            prev, new = new, self._at(d, t_next)
            tries += 1
        if bracket is None:  # out of evaluations while still extrapolating
            return min((start, new), key=lambda p: p.f)
        # zoom: shrink the bracket (low: the lower loss) until a point satisfies both conditions
        low, high = (0, 1) if bracket[0].f <= bracket[1].f else (1, 0)
        self._drop_gradient(bracket[high], start)
        insufficient_progress = False
        while tries < MAX_LINE_EVALS:
            a, b = bracket
            if abs(b.t - a.t) * d_norm < BRACKET_TOLERANCE:
                break
            t = cubic_minimum(a, b)
            lo_t, hi_t = min(a.t, b.t), max(a.t, b.t)
            eps = 0.1 * (hi_t - lo_t)
            if min(hi_t - t, t - lo_t) < eps:
                # close to an end of the bracket: move away from it unless the last step made progress
                if insufficient_progress or t >= hi_t or t <= lo_t:
                    t = hi_t - eps if abs(t - hi_t) < abs(t - lo_t) else lo_t + eps
                    insufficient_progress = False
                else:
                    insufficient_progress = True
            else:
                insufficient_progress = False
            new = self._at(d, t)
            tries += 1
            if not sufficient(new) or new.f >= bracket[low].f:
                bracket[high] = new
                low, high = (0, 1) if bracket[0].f <= bracket[1].f else (1, 0)
            else:
                if curvature(new):
                    return new
                if new.gtd * (bracket[high].t - bracket[low].t) >= 0:
                    bracket[high] = bracket[low]
                bracket[low] = new
            self._drop_gradient(bracket[high], start)
        return bracket[low]

    @staticmethod
    def _drop_gradient(p: _Point, start: _Point) -> None:
        """Forget the gradient of a point that is not the best so far (the start's is the caller's to keep)."""
        if p is not start:
            p.g = None
