"""Belief-space geometry shared by the analytic solvers: simplex grids and upper concave hulls.

Concavification (the value of persuasion at a prior is the concave closure of the sender's
value over beliefs) is computed on grids of beliefs: an exact upper hull in one dimension and a
linear program over a simplex grid otherwise.
"""

from __future__ import annotations

import itertools
import math

import numpy as np


def grid_resolution(dim: int, max_points: int) -> int:
    """The largest ``n`` whose simplex grid over ``dim`` coordinates has at most ``max_points`` points."""
    if math.comb(1 + dim - 1, dim - 1) > max_points:
        raise ValueError(f"a belief grid over {dim} signals needs more than {max_points} points")
    n = 1
    while math.comb(n + 1 + dim - 1, dim - 1) <= max_points:
        n += 1
    return n


def simplex_grid(dim: int, n: int) -> np.ndarray:
    """All points of the simplex in ``dim`` coordinates with denominator ``n`` (stars and bars)."""
    bars = np.array(list(itertools.combinations(range(n + dim - 1), dim - 1)), dtype=np.int64).reshape(-1, dim - 1)
    ext = np.hstack([np.full((bars.shape[0], 1), -1), bars, np.full((bars.shape[0], 1), n + dim - 1)])
    return (np.diff(ext, axis=1) - 1) / n


def upper_hull(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Positions of the upper concave hull of points sorted by ``x`` (strictly increasing).

    Vectorised: repeatedly drop every point that is not strictly above the chord of its current
    neighbours; a hull vertex is never dropped (it lies above any chord that straddles it).
    """
    idx = np.arange(len(x))
    while len(idx) > 2:
        xa, xb, xc = x[idx[:-2]], x[idx[1:-1]], x[idx[2:]]
        ya, yb, yc = y[idx[:-2]], y[idx[1:-1]], y[idx[2:]]
        above = (xc - xa) * (yb - ya) - (yc - ya) * (xb - xa) > 1e-15 * (np.abs(yb) + 1.0) * (xc - xa)
        if above.all():
            break
        idx = idx[np.concatenate([[True], above, [True]])]
    return idx
