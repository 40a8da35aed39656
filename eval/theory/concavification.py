"""Concave closures of a function of beliefs at a prior: the value of persuasion by splitting it.

A speaker that splits the prior ``q0`` (a belief over its own signals) into beliefs ``q_j`` with
weights ``tau_j`` (``sum_j tau_j q_j = q0``) gets ``sum_j tau_j g(q_j)``; the best split is the
concave closure of ``g`` at ``q0`` (docs/science.md, "Single-sender optimum").
:func:`concavify_1d` computes it on [0, 1] (two signals) by an exact upper hull on a fine grid,
refined; :func:`concavify_grid` over a simplex by an LP over a grid of beliefs, refined locally.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np
from scipy import optimize

from persuaders.eval.theory.beliefs import PROB_TOL
from persuaders.eval.theory.geometry import grid_resolution, simplex_grid, upper_hull

__all__ = ["GRID_1D", "GRID_MAX_POINTS", "concavify_1d", "concavify_grid"]

#: Grid points of the 1-D concavification.
GRID_1D = 20001
#: Largest number of grid beliefs in the general (simplex-grid) concavification.
GRID_MAX_POINTS = 20000


def concavify_1d(g: Callable[[np.ndarray], np.ndarray], q0: float) -> tuple[float, list[tuple[float, float]]]:
    """Concave closure at ``q0`` of ``g`` on [0, 1]: returns (value, [(weight, q), ...]).

    The upper concave hull of ``g`` on a grid of :data:`GRID_1D` points brackets ``q0`` by the
    best pair ``q_lo <= q0 <= q_hi``; the pair is then refined by bounded scalar optimisation of
    the chord value ``((q_hi - q0) g(q_lo) + (q0 - q_lo) g(q_hi)) / (q_hi - q_lo)``. Not
    splitting (value ``g(q0)``) is always a candidate.
    """
    grid = np.linspace(0.0, 1.0, GRID_1D)
    h = grid[1] - grid[0]
    vals = g(grid)
    g1: Callable[[float], float] = lambda q: float(g(np.array([q]))[0])
    g0 = g1(q0)

    def chord(lo: float, hi: float) -> float:
        if hi - lo <= 1e-15:
            return g0
        return ((hi - q0) * g1(lo) + (q0 - lo) * g1(hi)) / (hi - lo)

    hull = upper_hull(grid, vals)
    hx = grid[hull]
    j = int(np.searchsorted(hx, q0, side="right"))  # hx[j-1] <= q0 < hx[j]
    pairs = [
        (min(hx[a], q0), max(hx[a + 1], q0))
        for a in (j - 2, j - 1, j)
        if a >= 0 and a + 1 < len(hx) and hx[a] <= q0 + h and hx[a + 1] >= q0 - h
    ]
    best_val, best_pair = g0, (q0, q0)
    for pair in pairs:
        lo, hi = pair  # refined below by coordinate ascent
        cur = chord(lo, hi)
        for _ in range(20):
            prev = cur
            lo_b = (max(0.0, lo - 2 * h), min(q0, lo + 2 * h))
            cands = [lo, lo_b[0], lo_b[1]]
            if lo_b[1] > lo_b[0]:
                r = optimize.minimize_scalar(
                    lambda v, hi=hi: -chord(v, hi), bounds=lo_b, method="bounded", options={"xatol": 1e-13}
                )
                cands.append(float(r.x))
            lo = max(cands, key=lambda v: chord(v, hi))
            hi_b = (max(q0, hi - 2 * h), min(1.0, hi + 2 * h))
            cands = [hi, hi_b[0], hi_b[1]]
            if hi_b[1] > hi_b[0]:
                r = optimize.minimize_scalar(
                    lambda v, lo=lo: -chord(lo, v), bounds=hi_b, method="bounded", options={"xatol": 1e-13}
                )
                cands.append(float(r.x))
            hi = max(cands, key=lambda v: chord(lo, v))
            cur = chord(lo, hi)
            if cur - prev <= 1e-15:
                break
        if cur > best_val:
            best_val, best_pair = cur, (lo, hi)
    lo, hi = best_pair
    if hi - lo <= 1e-15:
        return g0, [(1.0, q0)]
    w_hi = (q0 - lo) / (hi - lo)
    points = [(1.0 - w_hi, lo), (w_hi, hi)]
    return best_val, [(w, q) for w, q in points if w > PROB_TOL]


def concavify_grid(
    g: Callable[[np.ndarray], np.ndarray], q0: np.ndarray
) -> tuple[float, list[tuple[float, np.ndarray]], int]:
    """Concave closure at ``q0`` of ``g`` over the simplex: LP over weights of a grid of beliefs.

    ``max sum_j tau_j g(q_j)`` subject to ``sum_j tau_j q_j = q0`` and ``tau >= 0`` (which
    implies ``sum_j tau_j = 1``), over a simplex grid with denominators ``n`` (vertices included,
    at most :data:`GRID_MAX_POINTS` points) plus ``q0``. The support is then refined: each round
    re-solves the LP over the current support and a fine lattice around each support belief
    (spacing a fraction of the last), so the value never decreases; the final split is made
    exactly Bayes plausible. Returns (value, [(weight, belief)], number of beliefs in the first grid).
    """
    d = q0.size
    n = grid_resolution(d, GRID_MAX_POINTS - 1)
    grid = np.vstack([simplex_grid(d, n), q0[None, :]])
    n_grid = grid.shape[0]
    step = 1.0 / n

    def solve(points: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        vals = g(points)
        res = optimize.linprog(-vals, A_eq=points.T, b_eq=q0, bounds=(0, None), method="highs")
        if res.status != 0:
            raise RuntimeError(f"concavification LP failed: {res.message}")
        sup = np.flatnonzero(res.x > PROB_TOL)
        w = res.x[sup] / res.x[sup].sum()
        return float(w @ vals[sup]), w, points[sup]

    best, w, qs = solve(grid)
    # Local lattices in the tangent directions e_i - e_d, at most ~1500 points per support belief.
    k_side = 1
    while (2 * (k_side + 1) + 1) ** (d - 1) <= 1500:
        k_side += 1
    offs = np.array(list(itertools.product(range(-k_side, k_side + 1), repeat=d - 1)), dtype=float)
    basis = np.hstack([np.eye(d - 1), -np.ones((d - 1, 1))])  # rows e_i - e_d
    moves = offs @ basis  # [L, d]
    for _ in range(60):
        if step < 1e-10:
            break
        s = step / k_side
        local = (qs[:, None, :] + s * moves[None, :, :]).reshape(-1, d)
        local = local[np.all(local >= -1e-15, axis=1)]
        local = np.clip(local, 0.0, None)
        local = local / local.sum(axis=1, keepdims=True)
        cand = np.vstack([qs, q0[None, :], local])
        val, w2, qs2 = solve(cand)
        if val >= best:
            best, w, qs = val, w2, qs2
        step = s
    # The LP meets sum_j tau_j q_j = q0 only to its tolerance (~1e-7). Make the split exactly
    # Bayes plausible by scaling the columns of T[j, x] = tau_j q_j(x) to sum to q0(x) (new
    # weights are its row sums), merge beliefs closer than 1e-6 and re-evaluate.
    t = w[:, None] * qs
    t = t * (q0 / t.sum(axis=0))[None, :]
    merged: list[np.ndarray] = []
    for row in t:
        q = row / row.sum()
        for j, m in enumerate(merged):
            if np.abs(m / m.sum() - q).sum() < 1e-6:
                merged[j] = m + row
                break
        else:
            merged.append(row)
    t = np.array(merged)
    w = t.sum(axis=1)
    qs = t / w[:, None]
    best = float(w @ g(qs))
    return best, list(zip(w.tolist(), qs, strict=True)), n_grid
