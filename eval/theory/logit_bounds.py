"""Values and certified bounds for a user whose response is continuous (logit) at last-round posteriors.

At a last-round information set a speaker's mass vector ``q`` (over its signals) gives a user of
type ``tau`` the weight ``b_tau = q . C_I[tau]`` and the posterior ``b_tau / |b_tau|``; a logit user
plays ``softmax(lam EU)`` there. The speaker's value ``G_I(q) = sum_tau F(b_tau)`` with
``F(b) = sum_a s_a(b / |b|) (b . U_i[a])`` is homogeneous of degree 1 and smooth but not concave,
so the best split is a concave closure that a grid only approximates from below.

**Lipschitz constant** (docs/science.md, "Logit users: certified bounds"). With
``U_i`` centred (``c0`` the midpoint of its range, ``R_i`` the range, ``R_u`` the range of ``u``),

    d F / d b_y = sum_a s_a (U_i[a, y] - c0) + lam Cov_s(u[., y] - EU_., p . (U_i - c0)[.])

so ``|dF / db_y| <= kappa = R_i / 2 + lam R_u R_i / 2`` (a covariance is at most a quarter of the
product of the ranges; the first variable has range at most ``2 R_u``). Hence
``|G_I(q) - G_I(q')| <= kappa max_x omega(x) ||q - q'||_1`` for the centred part, with
``omega(x) = sum_{tau, y} C_I[tau, x, y]``, plus an exactly known linear part.

**Certified maximum** (:func:`certified_max`). ``max_q h(q)`` over the simplex, for ``h`` with
an ``l1``-Lipschitz constant ``L``, by branch and bound on the unit cube of stick-breaking
coordinates (``q_1 = s_1``, ``q_2 = (1 - s_1) s_2``, ...; ``||dq||_1 <= 2 ||ds||_1``): a cube of
half-width ``w`` centred at ``s`` holds no value above ``h(q(s)) + 2 L d w``; cubes that could beat
the best value found by more than ``eps`` are split. The result is the largest bound left, a
certified upper bound of the maximum.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from persuaders.envs.game.users import UserModel
from persuaders.eval.theory.geometry import grid_resolution, simplex_grid

__all__ = ["belief_grid", "certified_max", "lipschitz_constant", "smooth_values", "stick_breaking"]

#: Evaluations the branch and bound may spend on one maximisation.
MAX_EVALUATIONS = 400_000


def smooth_values(q: np.ndarray, c: np.ndarray, u: np.ndarray, utils: np.ndarray, model: UserModel) -> np.ndarray:
    """``G[j](q)`` ``[V, J]``: the expected ``utils[j]`` when the user acts by ``model`` at each type's posterior."""
    out = np.empty((len(q), len(utils)))
    step = max(1, 200_000 // max(1, c.shape[0] * c.shape[2]))
    for lo in range(0, len(q), step):
        b = np.einsum("vx,txy->vty", q[lo : lo + step], c)
        mass = b.sum(axis=2)
        post = b / np.where(mass > 0, mass, 1.0)[..., None]
        s = model.respond(post @ u.T)
        out[lo : lo + step] = np.einsum("vt,vta,vty,jay->vj", mass, s, post, utils)
    return out


def lipschitz_constant(
    c: np.ndarray, u: np.ndarray, utils: np.ndarray, weights: np.ndarray, lam: float, linear: np.ndarray
) -> float:
    """``l1``-Lipschitz constant on the simplex of ``h(q) = sum_j weights[j] G[j](q) + linear . q`` (module docstring).

    ``G[j]`` is split into its centred part (``kappa_j max omega``) and the linear
    ``c0_j omega . q``, which is added to ``linear``; a linear function ``l . q`` has constant
    ``(max l - min l) / 2`` on the simplex (differences of beliefs sum to zero).
    """
    omega = c.sum(axis=(0, 2))  # [X]
    r_u = float(u.max() - u.min())
    lin = np.array(linear, dtype=np.float64)
    total = 0.0
    for wj, uj in zip(weights, utils, strict=True):
        r_j = float(uj.max() - uj.min())
        c0 = float(uj.max() + uj.min()) / 2.0
        total += abs(wj) * (r_j / 2.0 + lam * r_u * r_j / 2.0) * float(omega.max())
        lin = lin + wj * c0 * omega
    return total + float(lin.max() - lin.min()) / 2.0


def stick_breaking(s: np.ndarray) -> np.ndarray:
    """Simplex points ``[N, d + 1]`` from cube points ``[N, d]``: ``q_k = s_k prod_{j<k} (1 - s_j)``, the rest last."""
    n, d = s.shape
    q = np.empty((n, d + 1))
    rest = np.ones(n)
    for k in range(d):
        q[:, k] = rest * s[:, k]
        rest = rest * (1.0 - s[:, k])
    q[:, d] = rest
    return q


def certified_max(
    h: Callable[[np.ndarray], np.ndarray],
    n: int,
    lip: float,
    eps: float,
    budget: int = MAX_EVALUATIONS,
    start: int | None = None,
) -> tuple[float, float]:
    """(best value found, certified upper bound) of ``max h(q)`` over the simplex of ``n``
    coordinates (module docstring)."""
    if n == 1:
        v = float(h(np.ones((1, 1)))[0])
        return v, v
    d = n - 1
    k0 = start or max(2, round(4096 ** (1.0 / d)))
    axes = (np.arange(k0) + 0.5) / k0
    centres = np.stack(np.meshgrid(*([axes] * d), indexing="ij"), axis=-1).reshape(-1, d)
    half = 0.5 / k0
    vals = h(stick_breaking(centres))
    best = float(vals.max())
    used = len(centres)
    offsets = np.stack(np.meshgrid(*([np.array([-0.5, 0.5])] * d), indexing="ij"), axis=-1).reshape(-1, d)
    while True:
        ub = vals + 2.0 * lip * d * half
        open_ = ub > best + eps
        if not open_.any():
            return best, best + eps if lip > 0 else best
        if used + open_.sum() * 2**d > budget:
            return best, float(max(best, ub[open_].max()))
        half /= 2.0
        centres = (centres[open_][:, None, :] + offsets[None] * half * 2.0).reshape(-1, d)
        vals = h(stick_breaking(centres))
        used += len(centres)
        best = max(best, float(vals.max()))


def belief_grid(n: int, max_points: int = 3000) -> np.ndarray:
    """Grid of mass vectors over ``n`` signals: the simplex lattice with at most ``max_points`` points."""
    if n == 1:
        return np.ones((1, 1))
    if n == 2:
        t = np.linspace(0.0, 1.0, max(3, max_points))
        return np.stack([1.0 - t, t], axis=1)
    return simplex_grid(n, grid_resolution(n, max_points))
