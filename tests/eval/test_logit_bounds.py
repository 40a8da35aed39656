"""The certified maximisation behind a logit user's upper bounds, against dense grids and finite differences.

``h(q) = sum_tau |b_tau| f(b_tau / |b_tau|) + linear . q`` over the simplex of a speaker's signal
masses (docs/science.md, "Logit users: certified bounds"): the certified top must bound the true
maximum (a dense grid's) from above and come within the requested precision of it, and the
curvature bound must dominate the second differences of ``h`` along random segments.
"""

from __future__ import annotations

import numpy as np
import pytest

from persuaders.eval.theory.logit_bounds import SmoothObjective, certified_argmax_smooth, posterior_spread


def _objective(rng: np.random.Generator, types: int, signals: int, states: int, flat: int = 0) -> SmoothObjective:
    c = rng.random((types, signals, states)) * (rng.random((types, signals, 1)) > 0.2)
    for t in range(flat):  # types whose posterior no signal moves: C[t, x, y] = omega(x) p(y)
        c[t] = np.outer(rng.random(signals), rng.dirichlet(np.ones(states)))
    u = rng.random((3, states))
    utils = rng.random((2, 3, states))
    linear = rng.normal(size=signals) * 0.3
    return SmoothObjective(c, u, utils, np.array([1.0, 0.5]), 10.0, linear)


def _simplex_grid(n: int, k: int) -> np.ndarray:
    if n == 2:
        t = np.linspace(0.0, 1.0, k)
        return np.stack([1 - t, t], axis=1)
    pts = [(i, j, k - 1 - i - j) for i in range(k) for j in range(k - i)]
    return np.array(pts, dtype=float) / (k - 1)


@pytest.mark.parametrize("signals, flat", [(2, 0), (2, 3), (3, 0), (3, 2)])
def test_certified_top_bounds_a_dense_grid_and_meets_it(signals, flat):
    rng = np.random.default_rng(10 * signals + flat)
    for _ in range(3):
        obj = _objective(rng, 3, signals, 3, flat=flat)
        best, top, arg = certified_argmax_smooth(obj, signals, 1e-7)
        dense = float(obj.values(_simplex_grid(signals, 20001 if signals == 2 else 401)).max())
        assert top >= dense - 1e-12  # a bound: nothing on the grid beats it
        assert best <= dense + 1e-9 and abs(float(obj.values(arg[None])[0]) - best) < 1e-12
        assert top - dense <= 1e-7 + 1e-6  # within eps of the maximum (plus the grid's own resolution)


def test_a_node_whose_beliefs_never_move_is_settled_at_once():
    """Every type flat: h is linear in q, its maximum a vertex; the certificate is tight."""
    rng = np.random.default_rng(3)
    obj = _objective(rng, 3, 2, 3, flat=3)
    assert np.all(posterior_spread(obj.c) < 1e-12)
    vertices = obj.values(np.eye(2))
    best, top, _ = certified_argmax_smooth(obj, 2, 1e-8)
    assert vertices.max() - 1e-8 - 1e-12 <= best <= top and vertices.max() <= top <= vertices.max() + 1e-8 + 1e-12


def test_posterior_spread_is_the_l1_diameter_of_the_signals_posteriors():
    c = np.array([[[0.2, 0.2], [0.3, 0.1], [0.0, 0.0]]])  # posteriors (0.5, 0.5), (0.75, 0.25); signal 2 unheard
    assert posterior_spread(c)[0] == pytest.approx(0.5, abs=1e-15)


@pytest.mark.parametrize("signals", [2, 3])
def test_curvature_bound_dominates_second_differences(signals):
    rng = np.random.default_rng(signals)
    obj = _objective(rng, 4, signals, 3, flat=1)
    for _ in range(40):
        a, b = rng.dirichlet(np.ones(signals)), rng.dirichlet(np.ones(signals))
        direction = b - a
        step = 1e-3
        t = np.array([0.25, 0.5, 0.75])
        mid = a[None] + t[:, None] * direction[None]
        pts = np.concatenate([mid - step * direction, mid, mid + step * direction])
        v = obj.values(pts).reshape(3, -1)
        second = (v[0] - 2 * v[1] + v[2]) / (step**2 * np.abs(direction).sum() ** 2)
        corners = np.stack([a, b])[None]  # mass is linear along the segment: its least is at an end
        bound = obj.curvature(corners)[0]
        assert np.all(np.abs(second) <= bound + 1e-6), (second, bound)
