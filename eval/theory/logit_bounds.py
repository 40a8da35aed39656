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

import math
from collections.abc import Callable

import numpy as np

from persuaders.envs.game.users import LogitUser, UserModel, response_at
from persuaders.eval.theory.geometry import grid_resolution, simplex_grid

__all__ = [
    "SmoothObjective",
    "belief_grid",
    "certifiable_rationality",
    "certified_argmax",
    "certified_argmax_smooth",
    "certified_max",
    "lipschitz_constant",
    "smooth_values",
    "stick_breaking",
]

#: Evaluations the branch and bound may spend on one maximisation.
MAX_EVALUATIONS = 400_000


def smooth_values(
    q: np.ndarray, c: np.ndarray, u: np.ndarray, utils: np.ndarray, model: UserModel, prior: np.ndarray | None = None
) -> np.ndarray:
    """``G[j](q)`` ``[V, J]``: the expected ``utils[j]`` when the user acts by ``model`` at each type's posterior
    (a non-Bayesian model needs the common ``prior``: docs/science.md, "Non-Bayesian users")."""
    out = np.empty((len(q), len(utils)))
    step = max(1, 200_000 // max(1, c.shape[0] * c.shape[2]))
    for lo in range(0, len(q), step):
        b = np.einsum("vx,txy->vty", q[lo : lo + step], c)
        mass = b.sum(axis=2)
        post = b / np.where(mass > 0, mass, 1.0)[..., None]
        s = response_at(post, u, model, prior)
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
    best, upper, _ = certified_argmax(h, n, lip, eps, budget, start)
    return best, upper


def certified_argmax(
    h: Callable[[np.ndarray], np.ndarray],
    n: int,
    lip: float,
    eps: float,
    budget: int = MAX_EVALUATIONS,
    start: int | None = None,
) -> tuple[float, float, np.ndarray]:
    """:func:`certified_max` and the point ``q`` ``[n]`` where the best value was found (a column
    to add when the bound says the grid missed something)."""
    if n == 1:
        v = float(h(np.ones((1, 1)))[0])
        return v, v, np.ones(1)
    d = n - 1
    k0 = start or max(2, round(4096 ** (1.0 / d)))
    axes = (np.arange(k0) + 0.5) / k0
    centres = np.stack(np.meshgrid(*([axes] * d), indexing="ij"), axis=-1).reshape(-1, d)
    half = 0.5 / k0
    vals = h(stick_breaking(centres))
    b = int(np.argmax(vals))
    best, arg = float(vals[b]), centres[b].copy()
    used = len(centres)
    offsets = np.stack(np.meshgrid(*([np.array([-0.5, 0.5])] * d), indexing="ij"), axis=-1).reshape(-1, d)
    while True:
        ub = vals + 2.0 * lip * d * half
        open_ = ub > best + eps
        if not open_.any():
            return best, (best + eps if lip > 0 else best), stick_breaking(arg[None])[0]
        if used + open_.sum() * 2**d > budget:
            return best, float(max(best, ub[open_].max())), stick_breaking(arg[None])[0]
        half /= 2.0
        centres = (centres[open_][:, None, :] + offsets[None] * half * 2.0).reshape(-1, d)
        vals = h(stick_breaking(centres))
        used += len(centres)
        b = int(np.argmax(vals))
        if vals[b] > best:
            best, arg = float(vals[b]), centres[b].copy()


def certifiable_rationality(model: UserModel) -> float | None:
    """The rationality ``lam`` of a logit user, whose values the bounds here certify; None for any
    other user model (a best responder, or a registered model these bounds do not describe)."""
    if isinstance(model, LogitUser) and math.isfinite(model.rationality):
        return float(model.rationality)
    return None


class SmoothObjective:
    """``h(q) = sum_j weights[j] G[j](q) + linear . q`` for a logit user of rationality ``lam``, with
    exact gradients and curvature bounds (docs/science.md, "Logit users: certified bounds").

    ``G`` is linear in the utility, so ``sum_j w_j G[j]`` is one ``G`` with ``W = sum_j w_j utils[j]``:
    ``G(q) = sum_tau F(b_tau)``, ``b_tau = q . C[tau]``, ``F(b) = |b| f(b / |b|)``,
    ``f(p) = sum_a s_a(p) p . W_a``, ``s = softmax(lam p . u)``. Its gradient is
    ``dF/db = f(p) 1 + (I - 1 p^T) grad f``, ``grad f = E_s[W] + lam Cov_s(p . W, u)``, and along any
    direction ``v``, ``|v^T grad^2 f v| <= kappa2 |v|_1^2`` with
    ``kappa2 = lam R_W R_u / 2 + lam^2 R_W R_u^2`` (``R`` the largest spread of a utility over the
    actions in one state): two covariances of ranges ``R_W, R_u`` and a third moment. Homogeneity
    gives ``grad^2 F(b) = P^T grad^2 f P / |b|`` with ``|P z|_1 <= 2 |z|_1``, so on a set where type
    ``tau`` keeps mass at least ``m_tau``, ``h`` curves by at most
    ``4 kappa2 sum_tau max_x omega_tau(x)^2 / m_tau`` per ``|dq|_1^2`` (``omega_tau(x) = sum_y C[tau, x, y]``).
    """

    def __init__(
        self, c: np.ndarray, u: np.ndarray, utils: np.ndarray, weights: np.ndarray, lam: float, linear: np.ndarray
    ):
        self.c = np.asarray(c, dtype=np.float64)
        self.u = np.asarray(u, dtype=np.float64)
        self.w = np.einsum("j,jay->ay", np.asarray(weights, dtype=np.float64), np.asarray(utils, dtype=np.float64))
        self.lam = float(lam)
        self.linear = np.asarray(linear, dtype=np.float64)
        self.omega = self.c.sum(axis=2)  # [T, X]
        spread_w = float((self.w.max(axis=0) - self.w.min(axis=0)).max())
        spread_u = float((self.u.max(axis=0) - self.u.min(axis=0)).max())
        self.kappa2 = self.lam * spread_w * spread_u / 2.0 + self.lam**2 * spread_w * spread_u**2
        self.lip = lipschitz_constant(self.c, self.u, np.asarray(utils), np.asarray(weights), lam, self.linear)

    def _parts(self, q: np.ndarray) -> tuple[np.ndarray, ...]:
        b = np.einsum("vx,txy->vty", q, self.c)
        mass = b.sum(axis=2)
        post = b / np.where(mass > 0, mass, 1.0)[..., None]
        z = self.lam * post @ self.u.T  # [V, T, A]
        z -= z.max(axis=2, keepdims=True)
        s = np.exp(z)
        s /= s.sum(axis=2, keepdims=True)
        e = post @ self.w.T  # [V, T, A]: p . W_a
        return mass, post, s, e

    def values(self, q: np.ndarray) -> np.ndarray:
        mass, _post, s, e = self._parts(q)
        out: np.ndarray = np.einsum("vt,vta,vta->v", mass, s, e) + q @ self.linear
        return out

    def value_and_gradient(self, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``h(q)`` ``[V]`` and ``grad_q h`` ``[V, X]`` at points with every type's mass positive."""
        mass, post, s, e = self._parts(q)
        f = (s * e).sum(axis=2)  # [V, T]
        ew = np.einsum("vta,ay->vty", s, self.w)
        ubar = np.einsum("vta,ay->vty", s, self.u)
        cov = np.einsum("vta,vta,vtay->vty", s, e - f[..., None], self.u[None, None] - ubar[:, :, None, :])
        grad_f = ew + self.lam * cov
        g = f[..., None] + grad_f - (post * grad_f).sum(axis=2, keepdims=True)  # dF/db [V, T, Y]
        value = (mass * f).sum(axis=1) + q @ self.linear
        grad = np.einsum("txy,vty->vx", self.c, g) + self.linear
        return value, grad

    def curvature(self, corners: np.ndarray) -> np.ndarray:
        """Per box, a bound on ``d^2 h / dt^2`` along ``q(t)`` per ``|dq/dt|_1^2``, from the least mass of
        each type at the box's corners ``[N, 2^d, X]`` (mass is multilinear in the stick-breaking
        coordinates, so its least value on a box is at a corner); ``inf`` where a type can vanish."""
        least = np.einsum("nkx,tx->nkt", corners, self.omega).min(axis=1)  # [N, T]
        top = self.omega.max(axis=1) ** 2  # [T]
        with np.errstate(divide="ignore"):
            ratio = np.where(least > 1e-300, top[None] / np.where(least > 1e-300, least, 1.0), np.inf)
        out: np.ndarray = 4.0 * self.kappa2 * ratio.sum(axis=1)
        return out


def _stick_jacobian(s: np.ndarray) -> np.ndarray:
    """``d q / d s`` ``[N, d + 1, d]`` of :func:`stick_breaking`: column ``i`` is ``r_i`` at ``q_i`` and
    ``-q_k / (1 - s_i)`` at every later ``k`` (``r_i = prod_{j<i} (1 - s_j)``)."""
    n, d = s.shape
    q = stick_breaking(s)
    jac = np.zeros((n, d + 1, d))
    rest = np.ones(n)
    for i in range(d):
        jac[:, i, i] = rest
        jac[:, i + 1 :, i] = -q[:, i + 1 :] / np.maximum(1.0 - s[:, i], 1e-300)[:, None]
        rest = rest * (1.0 - s[:, i])
    return jac


def certified_argmax_smooth(
    obj: SmoothObjective, n: int, eps: float, budget: int = MAX_EVALUATIONS
) -> tuple[float, float, np.ndarray]:
    """:func:`certified_argmax` of a :class:`SmoothObjective`, with second-order bounds.

    On a cube of half-width ``w`` around ``s`` (stick-breaking coordinates, ``d = n - 1``), with
    ``q'' `` the second derivative of the map (entries at most 1, ``|q''|_1 <= (d + 1) |ds|_1^2``,
    and ``sum q'' = 0`` so the gradient enters only through its spread, at most ``2 L``) and
    ``|dq|_1 <= 2 |ds|_1``::

        h <= h(s) + |grad_s h(s)|_1 w + (4 H + L (d + 1)) (d w)^2 / 2,

    ``H`` the curvature bound of :meth:`SmoothObjective.curvature` on the cube; the Lipschitz
    bound ``h(s) + 2 L d w`` is used where it is smaller (near faces where a type's mass
    vanishes, ``H`` is infinite). Converges quadratically where the maximum's types keep mass.
    """
    if n == 1:
        v = float(obj.values(np.ones((1, 1)))[0])
        return v, v, np.ones(1)
    d = n - 1
    k0 = max(2, round(512 ** (1.0 / d)))
    axes = (np.arange(k0) + 0.5) / k0
    centres = np.stack(np.meshgrid(*([axes] * d), indexing="ij"), axis=-1).reshape(-1, d)
    half = 0.5 / k0
    signs = np.stack(np.meshgrid(*([np.array([-1.0, 1.0])] * d), indexing="ij"), axis=-1).reshape(-1, d)
    best, arg, used = -np.inf, centres[0], 0
    while True:
        q = stick_breaking(centres)
        vals, grad_q = obj.value_and_gradient(q)
        used += len(centres)
        b = int(np.argmax(vals))
        if vals[b] > best:
            best, arg = float(vals[b]), centres[b].copy()
        grad_s = np.einsum("nkd,nk->nd", _stick_jacobian(centres), grad_q)
        corners = stick_breaking(np.clip(centres[:, None, :] + half * signs[None], 0.0, 1.0).reshape(-1, d))
        curv = obj.curvature(corners.reshape(len(centres), len(signs), n))
        second = (4.0 * curv + obj.lip * (d + 1)) * (d * half) ** 2 / 2.0
        quad = vals + np.abs(grad_s).sum(axis=1) * half + second
        bound = np.minimum(quad, vals + 2.0 * obj.lip * d * half)
        open_ = bound > best + eps
        if not open_.any():
            return best, best + eps, stick_breaking(arg[None])[0]
        if used + open_.sum() * 2**d > budget:
            return best, float(max(best, bound[open_].max())), stick_breaking(arg[None])[0]
        half /= 2.0
        centres = (centres[open_][:, None, :] + signs[None] * half).reshape(-1, d)


def belief_grid(n: int, max_points: int = 3000) -> np.ndarray:
    """Grid of mass vectors over ``n`` signals: the simplex lattice with at most ``max_points`` points."""
    if n == 1:
        return np.ones((1, 1))
    if n == 2:
        t = np.linspace(0.0, 1.0, max(3, max_points))
        return np.stack([1.0 - t, t], axis=1)
    return simplex_grid(n, grid_resolution(n, max_points))
