"""The certified maximisation behind a logit user's upper bounds, against dense grids and finite differences.

``h(q) = sum_tau |b_tau| f(b_tau / |b_tau|) + linear . q`` over the simplex of a speaker's signal
masses (docs/science.md, "Logit users: certified bounds"): the certified top must bound the true
maximum (a dense grid's) from above and come within the requested precision of it, and the
curvature bound must dominate the second differences of ``h`` along random segments.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from persuaders.eval.theory.logit_bounds import (
    SliceObjective,
    SmoothObjective,
    certified_argmax_smooth,
    certified_lift,
    posterior_spread,
)


def _objective(
    rng: np.random.Generator, types: int, signals: int, states: int, flat: int = 0, lam: float = 10.0
) -> SmoothObjective:
    c = rng.random((types, signals, states)) * (rng.random((types, signals, 1)) > 0.2)
    for t in range(flat):  # types whose posterior no signal moves: C[t, x, y] = omega(x) p(y)
        c[t] = np.outer(rng.random(signals), rng.dirichlet(np.ones(states)))
    u = rng.random((3, states))
    utils = rng.random((2, 3, states))
    linear = rng.normal(size=signals) * 0.3
    return SmoothObjective(c, u, utils, np.array([1.0, 0.5]), lam, linear)


def _simplex_grid(n: int, k: int) -> np.ndarray:
    if n == 2:
        t = np.linspace(0.0, 1.0, k)
        return np.stack([1 - t, t], axis=1)
    pts = [(i, j, k - 1 - i - j) for i in range(k) for j in range(k - i)]
    return np.array(pts, dtype=float) / (k - 1)


def _second_differences(
    values: Callable[[np.ndarray], np.ndarray], a: np.ndarray, b: np.ndarray, step: float, t: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Central second differences of ``values`` along the segment ``a -> b`` at its points ``t``, per
    ``|dq|_1^2`` (``step`` in units of the segment), and the segment's ends widened by ``step`` as
    one cell ``[1, 2, X]``: an independent estimate of the curvature the bounds must dominate."""
    direction = b - a
    mid = a[None] + t[:, None] * direction[None]
    v = values(np.concatenate([mid - step * direction, mid, mid + step * direction])).reshape(3, -1)
    second = (v[0] - 2 * v[1] + v[2]) / (step**2 * np.abs(direction).sum() ** 2)
    return second, np.stack([a - step * direction, b + step * direction])[None]


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


@pytest.mark.parametrize("signals, short", [(2, False), (3, False), (2, True), (3, True), (4, True)])
def test_curvature_bound_dominates_second_differences(signals, short):
    """Long segments with the global bound (no centre), and short ones with the per-cell bound,
    whose ``nu = min(1/4, 1 - s_max)`` is small where the user is decisive."""
    rng = np.random.default_rng(signals + 10 * short)
    obj = _objective(rng, 4, signals, 3, flat=1, lam=40.0 if short else 10.0)
    decisive = 0
    for _ in range(60):
        a = rng.dirichlet(np.ones(signals))
        b = rng.dirichlet(np.ones(signals))
        if short:
            b = a + 0.02 * (b - a)
        step = 0.05 if short else 1e-3  # in units of the segment: about 1e-3 in l1 either way
        # mass is linear along the segment: its least is at an end, and so is the largest distance
        # from the midpoint
        second, corners = _second_differences(obj.values, a, b, step, np.array([0.0, 0.25, 0.5, 0.75, 1.0]))
        bound = obj.curvature(corners, ((a + b) / 2)[None] if short else None)[0]
        assert np.all(np.abs(second) <= bound * (1 + 1e-6) + 1e-5), (second, bound)
        decisive += bool(bound < obj.curvature(corners)[0] / 2)
    if short:
        assert decisive > 0  # the per-cell bound is exercised, not only its cap


def test_four_signals_certified_top_bounds_every_sampled_point():
    """Three-dimensional cells: the certified top is above every one of 200,000 sampled points
    (vertices, edges and the interior) and within ``eps`` of the best of them or the bracket says
    how far it is."""
    rng = np.random.default_rng(4)
    for _ in range(2):
        obj = _objective(rng, 2, 4, 4)
        best, top, arg = certified_argmax_smooth(obj, 4, 1e-6)
        sample = np.concatenate([np.eye(4), rng.dirichlet(np.ones(4), 150_000), rng.dirichlet(np.full(4, 0.2), 50_000)])
        sampled = float(obj.values(sample).max())
        assert top >= sampled - 1e-12
        assert best <= top and abs(float(obj.values(arg[None])[0]) - best) < 1e-12
        assert top - max(best, sampled) <= 1e-3


def _one_type(rng: np.random.Generator, signals: int, lam: float = 10.0) -> SmoothObjective:
    """A lone speaker who sees the state, with a skewed prior: ``C = diag(prior)``, one type whose
    mass ``prior . q`` gets small near the rare states' vertices (a large perspective factor)."""
    prior = rng.dirichlet(np.full(signals, 0.6))
    prior = np.maximum(prior, 0.01) / np.maximum(prior, 0.01).sum()
    u = rng.random((3, signals))
    utils = rng.random((1, 3, signals))
    return SmoothObjective(np.diag(prior)[None], u, utils, np.ones(1), lam, -rng.random(signals) * 0.6)


@pytest.mark.parametrize("signals", [3, 4])
def test_slice_lift_majorises_every_sampled_point(signals):
    """``h(q) <= d . q`` for the lift ``d`` of one type (along its weights ``omega``), on 200,000
    sampled masses, and the lift is tight: some sampled point comes within the bracket of it."""
    rng = np.random.default_rng(20 + signals)
    for _ in range(3):
        obj = _one_type(rng, signals)
        sample = np.concatenate(
            [np.eye(signals), rng.dirichlet(np.ones(signals), 150_000), rng.dirichlet(np.full(signals, 0.2), 50_000)]
        )
        values = obj.values(sample)
        # charged at some masses, the cheaper of the slice and uniform lifts: a majorant either way
        _, d_charged, _ = certified_lift(obj, signals, 1e-8, mass=rng.random(signals))
        assert np.all(d_charged >= 0) and (values - sample @ d_charged).max() <= 1e-12
        best, d, q = certified_lift(obj, signals, 1e-8)
        assert np.all(d >= 0) and d.shape == (signals,)
        excess = values - sample @ d
        assert excess.max() <= 1e-12
        if best > 0:  # d = t omega with t the certified top of h / (omega . q): met at q, up to the bracket
            omega = obj.omega[0]
            assert float(obj.values(q[None])[0]) / float(q @ omega) == pytest.approx(best, abs=1e-12)
            assert d @ q - float(obj.values(q[None])[0]) <= 2e-6 * float(q @ omega)


def test_slice_curvature_dominates_second_differences():
    """On the slice ``l -> h(l / omega)`` the curvature bound holds along random segments, long
    ones (the global bound) and short ones (the per-cell ``nu``)."""
    rng = np.random.default_rng(7)
    for _ in range(4):
        sliced = SliceObjective(_one_type(rng, 4, lam=20.0))
        for short in (False, True):
            for _ in range(40):
                a, b = rng.dirichlet(np.ones(4)), rng.dirichlet(np.ones(4))
                if short:
                    b = a + 0.02 * (b - a)
                step = 0.05 if short else 1e-3
                second, corners = _second_differences(sliced.values, a, b, step, np.array([0.0, 0.5, 1.0]))
                bound = sliced.curvature(corners, ((a + b) / 2)[None] if short else None)[0]
                assert np.all(np.abs(second) <= bound * (1 + 1e-6) + 1e-5), (second, bound)


def test_slice_lipschitz_constant_dominates_differences():
    """``|k(l) - k(l')| <= L |l - l'|_1`` for random pairs of the slice's simplex, near ones too."""
    rng = np.random.default_rng(8)
    for _ in range(6):
        sliced = SliceObjective(_one_type(rng, 4))
        a = rng.dirichlet(np.ones(4), 20_000)
        b = np.concatenate(
            [rng.dirichlet(np.ones(4), 10_000), a[10_000:] + 1e-3 * (rng.dirichlet(np.ones(4), 10_000) - a[10_000:])]
        )
        ratio = np.abs(sliced.values(a) - sliced.values(b)) / np.abs(a - b).sum(axis=1)
        assert ratio.max() <= sliced.lip * (1 + 1e-9)


def test_slice_needs_one_type_that_hears_every_signal():
    rng = np.random.default_rng(1)
    with pytest.raises(ValueError, match="one type"):
        SliceObjective(_objective(rng, 2, 3, 3))


def _cells_with_inside_points(
    rng: np.random.Generator, signals: int, count: int, per_cell: int
) -> tuple[np.ndarray, np.ndarray]:
    """Random simplices ``[count, signals, signals]`` of the signal simplex (large ones, small ones,
    and small ones with a vertex on a face, where a type may lose its mass) and ``per_cell`` points of
    each ``[count, per_cell, signals]`` (vertices first, then random barycentric mixtures)."""
    cells = []
    for k in range(count):
        centre = rng.dirichlet(np.full(signals, 0.3))
        size = [1.0, 0.1, 0.01][k % 3]
        corners = centre[None] + size * (rng.dirichlet(np.ones(signals), signals) - centre[None])
        if k % 2:  # pin one vertex to a face: zero on a random signal
            corners[0, rng.integers(signals)] = 0.0
            corners[0] /= corners[0].sum()
        cells.append(corners)
    cells_arr = np.array(cells)
    vertices = np.broadcast_to(np.eye(signals), (count, signals, signals))
    weights = np.concatenate([vertices, rng.dirichlet(np.full(signals, 0.5), (count, per_cell - signals))], axis=1)
    return cells_arr, np.einsum("nmk,nkx->nmx", weights, cells_arr)


@pytest.mark.parametrize("signals, types", [(3, 3), (4, 2), (4, 4)])
def test_cell_bounds_dominate_every_sampled_point_of_the_cell(signals, types):
    """The per-cell upper bound of the branch and bound (tangent or ceiling per type) is above ``h``
    at every sampled point of the cell, on cells where a type's mass vanishes at a vertex too, for a
    decisive user (``lam = 40``) and a moderate one; its centre value is ``h`` at the barycentre."""
    rng = np.random.default_rng(30 + signals + types)
    for lam in (10.0, 40.0):
        obj = _objective(rng, types, signals, 3, lam=lam)
        cells, inside = _cells_with_inside_points(rng, signals, 300, 400)
        centre, vals, bound = obj.cell_bounds(cells)
        assert np.allclose(centre, cells.mean(axis=1)) and np.allclose(vals, obj.values(centre), atol=1e-12)
        sampled = obj.values(inside.reshape(-1, signals)).reshape(len(cells), -1).max(axis=1)
        assert np.all(sampled <= bound + 1e-12), float((sampled - bound).max())
        small = np.abs(cells - centre[:, None]).sum(axis=2).max(axis=1) < 0.05
        assert np.median((bound - sampled)[small]) < 0.05  # the bound is informative on small cells
