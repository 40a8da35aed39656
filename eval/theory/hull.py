"""The convex-hull distance: how well combinations of the speakers' utilities fit the user's.

``eps = min_{w, c} max_{a, y} |sum_i w_i U_i[a, y] + c - u[a, y]|`` over ``w`` in the simplex
(the hull) or ``w >= 0`` (the cone), with a free offset ``c`` (docs/science.md, "The convex-hull
distance"). :func:`fit_hull` solves it on plain arrays, :func:`hull_distance` on a game.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import optimize

from persuaders.envs.game.spec import Game

__all__ = ["HullFit", "fit_hull", "hull_distance"]


@dataclass(frozen=True)
class HullFit:
    """Best fit ``sum_i w_i U_i + c`` to the user's utility in the sup norm.

    ``epsilon = max_{a,y} |sum_i weights[i] U_i[a, y] + offset - u[a, y]|`` at the optimum;
    ``weights`` lie in the simplex, or only ``>= 0`` for the cone fit (``cone=True``).
    """

    epsilon: float
    weights: np.ndarray
    offset: float
    cone: bool = False


def fit_hull(u: np.ndarray, us: np.ndarray, cone: bool = False) -> HullFit:
    """The sup-norm fit of ``u`` (any shape) by ``sum_i w_i us[i] + c`` (``us`` ``[k, *u.shape]``).

    The LP ``min t`` subject to ``-t <= sum_i w_i us[i] + c - u <= t`` (every entry), ``w >= 0``,
    ``sum_i w_i = 1`` unless ``cone`` (or ``k = 0``) and ``c`` free, solved with HiGHS. The
    reported epsilon is re-evaluated at the returned weights.
    """
    u = np.asarray(u, dtype=np.float64)
    us = np.asarray(us, dtype=np.float64)
    k = us.shape[0]
    cells = us.reshape(k, -1).T  # [cells, k]
    target = u.reshape(-1)
    n = cells.shape[0]
    ones = np.ones((n, 1))
    # variables: w (k), c, t
    a_ub = np.vstack([np.hstack([cells, ones, -ones]), np.hstack([-cells, -ones, -ones])])
    b_ub = np.concatenate([target, -target])
    cost = np.zeros(k + 2)
    cost[-1] = 1.0
    bounds = [(0, None)] * k + [(None, None), (0, None)]
    if cone or k == 0:
        a_eq = b_eq = None
    else:
        a_eq = np.concatenate([np.ones(k), [0.0, 0.0]])[None, :]
        b_eq = np.array([1.0])
    res = optimize.linprog(cost, A_ub=a_ub, b_ub=b_ub, A_eq=a_eq, b_eq=b_eq, bounds=bounds, method="highs")
    if res.status != 0:
        raise RuntimeError(f"hull-distance LP failed: {res.message}")
    w = np.clip(res.x[:k], 0.0, None)
    c = float(res.x[k]) + 0.0  # no negative zero
    eps = float(np.max(np.abs(np.tensordot(w, us, axes=1) + c - u))) if k else float(np.max(np.abs(c - u)))
    return HullFit(epsilon=eps, weights=w, offset=c, cone=cone)


def hull_distance(game: Game, cone: bool = False) -> HullFit:
    """Distance of the user's utility to the convex hull (or cone) of the speakers' utilities.

    :func:`fit_hull` of ``u[a, y]`` by the speakers' ``U_i[a, y]``. The cone distance is never
    larger than the hull distance.
    """
    return fit_hull(game.user.utility, game.speaker_utilities, cone)
