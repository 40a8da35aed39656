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
import time
from collections.abc import Callable

import numpy as np

from persuaders.envs.game.users import LogitUser, UserModel, response_at
from persuaders.eval.theory.geometry import grid_resolution, simplex_grid

__all__ = [
    "SliceObjective",
    "SmoothObjective",
    "belief_grid",
    "certifiable_rationality",
    "certified_argmax",
    "certified_argmax_smooth",
    "certified_lift",
    "certified_max",
    "lipschitz_constant",
    "posterior_spread",
    "smooth_values",
    "stick_breaking",
]

#: Evaluations the branch and bound may spend on one maximisation.
MAX_EVALUATIONS = 400_000
#: A maximisation whose bracket is still wider than :data:`COARSE_GAP` after ``MAX_EVALUATIONS``
#: may go on to this many evaluations (until the bracket is that narrow).
EXTENDED_EVALUATIONS = 2_000_000
#: The bracket width below which a maximisation stops at the regular budget.
COARSE_GAP = 1e-6


def _type_posteriors(q: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each type's mass ``|b_tau|`` ``[V, T]`` and posterior ``b_tau / |b_tau|`` ``[V, T, Y]`` at signal
    masses ``q`` ``[V, X]``, ``b_tau = q . C[tau]`` (a type without mass gets ``0``)."""
    b = np.einsum("vx,txy->vty", q, c)
    mass = b.sum(axis=2)
    post = b / np.where(mass > 0, mass, 1.0)[..., None]
    return mass, post


def smooth_values(
    q: np.ndarray, c: np.ndarray, u: np.ndarray, utils: np.ndarray, model: UserModel, prior: np.ndarray | None = None
) -> np.ndarray:
    """``G[j](q)`` ``[V, J]``: the expected ``utils[j]`` when the user acts by ``model`` at each type's posterior
    (a non-Bayesian model needs the common ``prior``: docs/science.md, "Non-Bayesian users")."""
    out = np.empty((len(q), len(utils)))
    step = max(1, 200_000 // max(1, c.shape[0] * c.shape[2]))
    for lo in range(0, len(q), step):
        mass, post = _type_posteriors(q[lo : lo + step], c)
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
    lin = np.array(linear, dtype=np.float64)
    total = 0.0
    for wj, uj, kappa_j in zip(weights, utils, _centred_kappas(u, utils, weights, lam), strict=True):
        total += kappa_j * float(omega.max())
        lin = lin + wj * float(uj.max() + uj.min()) / 2.0 * omega
    return total + float(lin.max() - lin.min()) / 2.0


def _centred_kappas(u: np.ndarray, utils: np.ndarray, weights: np.ndarray, lam: float) -> list[float]:
    """Per weighted utility, ``|weights[j]| (R_j / 2 + lam R_u R_j / 2)``: its share of the bound on
    ``|dF / db_y|`` of the centred ``G`` (module docstring); their sum is also the ``l1``-Lipschitz
    constant of the centred ``f`` on the belief simplex."""
    r_u = float(u.max() - u.min())
    return [
        abs(wj) * (float(uj.max() - uj.min()) / 2.0 + lam * r_u * float(uj.max() - uj.min()) / 2.0)
        for wj, uj in zip(weights, utils, strict=True)
    ]


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
    direction ``v``, ``v^T grad^2 f v = 2 lam Cov_s(X, Y) + lam^2 E_s[(X - X_bar)^2 (E - E_bar)]`` with
    ``X_a = u_a . v``, ``Y_a = W_a . v``, ``E_a = p . W_a``. Every variance under ``s`` is at most
    ``nu`` times the squared range, ``nu = min(1/4, 1 - s_max)`` (Popoviciu; or the mass off the
    likeliest action), so ``|v^T grad^2 f v| <= (2 lam R_W R_u + lam^2 R_W R_u^2) nu |v|_1^2``
    (``R`` the largest spread of a utility over the actions in one state): ``kappa2`` is its value at
    ``nu = 1/4``, and :meth:`curvature` bounds ``nu`` per cell. Homogeneity
    gives ``grad^2 F(b) = P^T grad^2 f P / |b|`` with ``|P z|_1 <= 2 |z|_1``, so on a set where type
    ``tau`` keeps mass at least ``m_tau``, ``h`` curves by at most
    ``kappa2 sum_tau delta_tau^2 max_x omega_tau(x)^2 / m_tau`` per ``|dq|_1^2``
    (``omega_tau(x) = sum_y C[tau, x, y]``): ``P dz = sum_x dq_x omega_tau(x) (p_x - p)`` with ``p_x``
    the type's posterior after signal ``x`` alone, so ``|P dz|_1 <= delta_tau max_x omega_tau(x)
    |dq|_1`` with ``delta_tau <= 2`` the l1 diameter of the ``p_x`` (:func:`posterior_spread`). A type
    whose posterior no signal moves (``delta_tau = 0``: what it hears from others already settles
    its belief) is linear in ``q`` and adds no curvature at all.
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
        self.spread = posterior_spread(self.c)  # [T]
        spread_w = float((self.w.max(axis=0) - self.w.min(axis=0)).max())
        spread_u = float((self.u.max(axis=0) - self.u.min(axis=0)).max())
        # f'' <= (2 lam R_W R_u + lam^2 R_W R_u^2) nu |v|_1^2, nu = min(1/4, 1 - s_max): see the docstring
        self.kappa_nu = 2.0 * self.lam * spread_w * spread_u + self.lam**2 * spread_w * spread_u**2
        self.kappa2 = self.kappa_nu / 4.0  # nu = 1/4 (Popoviciu): the bound anywhere on the simplex
        d = self.u[:, None, :] - self.u[None, :, :]  # [A, A, Y]
        self.pair_span = d.max(axis=2) - d.min(axis=2)  # max_y (u_a - u_b) - min_y (u_a - u_b)
        self.lip = lipschitz_constant(self.c, self.u, np.asarray(utils), np.asarray(weights), lam, self.linear)
        # |dF/db_y| of the centred G (utilities less their midpoints), summed over the weighted utilities
        self.kappa_centred = sum(_centred_kappas(self.u, np.asarray(utils), np.asarray(weights), self.lam))

    def _logit_gaps(self, q: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Each type's mass, posterior and logits less their largest, ``z - max_a z`` ``[V, T, A]``."""
        mass, post = _type_posteriors(q, self.c)
        z = self.lam * post @ self.u.T
        return mass, post, z - z.max(axis=2, keepdims=True)

    def _parts(self, q: np.ndarray) -> tuple[np.ndarray, ...]:
        """Each type's mass, posterior, logit gaps, response ``s`` and ``E_a = p . W_a`` at ``q``."""
        mass, post, z = self._logit_gaps(q)
        s = np.exp(z)
        s /= s.sum(axis=2, keepdims=True)
        e = post @ self.w.T  # [V, T, A]: p . W_a
        return mass, post, z, s, e

    def values(self, q: np.ndarray) -> np.ndarray:
        mass, _post, _z, s, e = self._parts(q)
        out: np.ndarray = np.einsum("vt,vta,vta->v", mass, s, e) + q @ self.linear
        return out

    def _type_gradients(self, q: np.ndarray) -> tuple[np.ndarray, ...]:
        """Each type's mass ``[V, T]``, posterior ``[V, T, Y]``, logit gaps ``[V, T, A]``, ``f`` at its
        posterior ``[V, T]`` and ``dF/db`` ``[V, T, Y]``."""
        mass, post, z, s, e = self._parts(q)
        f = (s * e).sum(axis=2)  # [V, T]
        ew = np.einsum("vta,ay->vty", s, self.w)
        ubar = np.einsum("vta,ay->vty", s, self.u)
        cov = np.einsum("vta,vta,vtay->vty", s, e - f[..., None], self.u[None, None] - ubar[:, :, None, :])
        grad_f = ew + self.lam * cov
        g = f[..., None] + grad_f - (post * grad_f).sum(axis=2, keepdims=True)  # dF/db [V, T, Y]
        return mass, post, z, f, g

    def value_and_gradient(self, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``h(q)`` ``[V]`` and ``grad_q h`` ``[V, X]`` at points with every type's mass positive."""
        mass, _post, _z, f, g = self._type_gradients(q)
        value = (mass * f).sum(axis=1) + q @ self.linear
        grad = np.einsum("txy,vty->vx", self.c, g) + self.linear
        return value, grad

    def curvature(self, corners: np.ndarray, centre: np.ndarray | None = None) -> np.ndarray:
        """Per cell, a bound on ``d^2 h / dt^2`` along ``q(t)`` per ``|dq/dt|_1^2`` on the cell (the
        convex hull of its vertices ``[N, K, X]``: a simplex's, or a segment's two ends) and,
        optionally, its centre ``[N, X]``.

        Mass is linear in ``q``, so a type's least mass ``m_tau`` on a cell is at a vertex, and so is
        the largest ``|q - centre|_1`` (``r_q``, a convex function). With the centre, each type's
        ``nu = min(1/4, 1 - s_max)`` is bounded on the cell:
        its posterior moves by at most ``rho = delta_tau max_x omega_tau(x) r_q / m_tau`` (in ``l1``),
        so each logit gap ``z_b - z_a*`` (``a*`` the centre's likeliest action) by at most
        ``lam span(u_b - u_a*) rho / 2``, and ``1 - s_a* <= sum_{b != a*} exp(z_b - z_a*)``. Where the
        user is decisive the curvature vanishes (docs/science.md, "Logit users: certified bounds").
        ``inf`` where a type can vanish.
        """
        least = np.einsum("nkx,tx->nkt", corners, self.omega).min(axis=1)  # [N, T]
        nu = np.full(least.shape, 0.25)
        if centre is not None:
            r_q = np.abs(corners - centre[:, None, :]).sum(axis=2).max(axis=1)  # [N]
            with np.errstate(divide="ignore", invalid="ignore"):
                rho = np.where(least > 1e-300, self.spread * self.omega.max(axis=1) * r_q[:, None] / least, np.inf)
            nu = self.spread_nu(centre, rho)
        out: np.ndarray = self._type_curvature(least, nu).sum(axis=1)
        return out

    def _type_curvature(self, least: np.ndarray, nu: np.ndarray) -> np.ndarray:
        """Per cell and type ``[N, T]``, ``kappa_nu nu delta_tau^2 max_x omega_tau(x)^2 / m_tau`` with
        ``m_tau`` its ``least`` mass on the cell (:meth:`curvature`): ``inf`` where the type can vanish,
        zero for a type whose posterior never moves or where one action is certain (``nu = 0``)."""
        top = self.spread**2 * self.omega.max(axis=1) ** 2  # [T]
        ratio = np.where(least > 1e-300, top[None] / np.where(least > 1e-300, least, 1.0), np.inf)
        ratio[:, self.spread == 0.0] = 0.0  # a type whose posterior never moves adds no curvature
        with np.errstate(invalid="ignore"):
            out: np.ndarray = np.where(nu > 0.0, self.kappa_nu * nu * ratio, 0.0)
        return out

    def cell_bounds(self, corners: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per cell (vertices ``corners`` ``[N, K, X]``): its barycentre ``c``, ``h(c)``, and an upper
        bound of ``h`` on the cell, type by type (docs/science.md, "Logit users: certified bounds").

        The posterior map ``q -> p_tau(q)`` is projective, so the cell's posteriors fill the convex
        hull of those at its vertices (the vertices where the type has mass); they stay within
        ``D_tau`` (the largest vertex distance) of ``p_c``, and ``m_tau`` is at most its largest vertex
        value. Each type's term ``F(b_tau) = m_tau f(p_tau)`` is bounded in one of two ways, both
        linear in ``q`` plus a constant:

        * **tangent**: by homogeneity the tangent of ``F`` at ``b_tau(c)`` is
          ``m_tau (f(p_c) + grad f(p_c) . (p - p_c))``, leaving at most
          ``max m_tau min(kappa_nu nu D_tau^2 / 2, 2 kappa D_tau)`` (``nu`` bounded over the ball by
          :meth:`spread_nu`, ``kappa`` the Lipschitz constant of the centred ``f``), or the type's
          curvature bound of :meth:`curvature` times ``|q - c|_1^2 / 2`` where smaller;
        * **ceiling**: ``f(p) <= max_a p . W_a``, a convex function of ``p``, so
          ``F(b_tau) <= m_tau(q) max_j max_a p_tau(v_j) . W_a``: no perspective factor and no
          Lipschitz constant, the bound for a type whose posterior swings across the cell while its
          mass is small (near a face where it vanishes).

        A type takes the ceiling where that lies below its tangent bound at every vertex; the linear
        parts are summed and maximised over the vertices. The Lipschitz bound ``h(c) + L R`` is used
        where smaller.
        """
        centre = corners.mean(axis=1)
        c_mass, c_post, c_gaps, c_f, g = self._type_gradients(centre)
        vals = (c_mass * c_f).sum(axis=1) + centre @ self.linear
        b = np.einsum("nkx,txy->nkty", corners, self.c)
        mass = b.sum(axis=3)  # [N, K, T]
        post = b / np.where(mass > 0, mass, 1.0)[..., None]
        live = mass > 0
        d_tau = np.where(live, np.abs(post - c_post[:, None]).sum(axis=3), 0.0).max(axis=1)  # [N, T]
        top_mass = mass.max(axis=1)  # [N, T]
        nu = self.spread_nu(centre, d_tau, gaps=c_gaps)
        rest = top_mass * np.minimum(self.kappa_nu * nu * d_tau**2 / 2.0, 2.0 * self.kappa_centred * d_tau)
        radius = np.abs(corners - centre[:, None, :]).sum(axis=2).max(axis=1)  # [N]
        # the curvature bound (zero for a type whose posterior never moves: it is linear in q)
        rest = np.fmin(rest, self._type_curvature(mass.min(axis=1), nu) * radius[:, None] ** 2 / 2.0)
        tangent = np.einsum("nkty,nty->nkt", b, g)  # [N, K, T]
        ceiling = np.where(live, np.einsum("nkty,ay->nkta", post, self.w).max(axis=3), -np.inf).max(axis=1)
        ceiling = np.where(np.isfinite(ceiling), ceiling, 0.0)  # [N, T]; a type without mass adds nothing
        roof = mass * ceiling[:, None, :]  # [N, K, T]
        use_roof = ((roof - tangent).max(axis=1) < rest) & (top_mass > 0)  # [N, T]
        per_vertex = np.where(use_roof[:, None, :], roof, tangent).sum(axis=2) + corners @ self.linear
        bound = per_vertex.max(axis=1) + np.where(use_roof, 0.0, rest).sum(axis=1)
        return centre, vals, np.fmin(bound, vals + self.lip * radius)

    def spread_nu(self, centre: np.ndarray, rho: np.ndarray, gaps: np.ndarray | None = None) -> np.ndarray:
        """Per point ``[N, X]`` and type, a bound on ``nu = min(1/4, 1 - s_max)`` over every posterior
        within ``rho`` ``[N, T]`` (in ``l1``) of the type's posterior at ``centre``: each logit gap
        ``z_b - z_a*`` (``a*`` the centre's likeliest action) moves by at most
        ``lam span(u_b - u_a*) rho / 2``, and ``1 - s_a* <= sum_{b != a*} exp(z_b - z_a*)``. ``gaps``: the
        logit gaps at ``centre`` when the caller has them already."""
        gap = self._logit_gaps(centre)[2] if gaps is None else gaps  # z_b - z_a* [N, T, A]: <= 0, 0 at a*
        star = gap.argmax(axis=2)
        rho = np.minimum(rho, 2.0)  # two beliefs are at most 2 apart in l1
        span = self.pair_span[:, star].transpose(1, 2, 0)  # [N, T, A]: span(u_b - u_a*)
        with np.errstate(over="ignore"):
            terms = np.exp(gap + self.lam * span * rho[..., None] / 2.0)
        np.put_along_axis(terms, star[..., None], 0.0, axis=2)
        out: np.ndarray = np.minimum(0.25, terms.sum(axis=2))
        return out


class SliceObjective:
    """A one-type :class:`SmoothObjective` on the slice where the type's mass is one, the same
    branch-and-bound interface without the perspective factor (docs/science.md, "Logit users:
    certified bounds").

    With ``omega(x) > 0`` the type's weight on signal ``x`` and ``p_x = C[x] / omega(x)`` its
    posterior after ``x`` alone, a point ``l`` of the simplex stands for the masses ``r = l / omega``
    (so ``omega . r = 1``), whose posterior ``p(l) = sum_x l_x p_x`` is affine in ``l``. By homogeneity
    ``k(l) = h(r) = h(q) / (omega . q)`` for ``q`` proportional to ``r``, so ``max_l k`` is the least
    ``t`` with ``h(q) <= t omega . q`` on every ``q``: a lift of the duals along ``omega`` (a
    uniform lift ``max_q h`` pays ``1 / (omega . q)`` in curvature). On the slice ``F(b) = f(b)``
    (``|b| = 1``) and ``|dp|_1 <= delta |dl|_1 / 2`` (``delta`` the l1 diameter of the ``p_x``;
    ``dl`` sums to zero), so ``d^2 k / dt^2 <= kappa_nu nu (delta / 2)^2 |dl/dt|_1^2`` everywhere.
    """

    def __init__(self, obj: SmoothObjective):
        if obj.c.shape[0] != 1 or not (obj.omega[0] > 0).all():
            raise ValueError("SliceObjective needs one type that hears every signal (omega > 0)")
        self.obj = obj
        self.omega = obj.omega[0]
        self.half = float(obj.spread[0]) / 2.0
        # k(l) = f(p(l)) + sum_x l_x linear_x / omega_x with dl summing to zero: the centred part of f
        # moves by at most kappa |dp|_1 <= kappa delta |dl|_1 / 2 (its midpoints add a constant on the
        # slice), the linear part by at most half its spread times |dl|_1
        self.lip = obj.kappa_centred * self.half + float(np.ptp(obj.linear / self.omega)) / 2.0

    def masses(self, point: np.ndarray) -> np.ndarray:
        """Signal masses ``q`` on the simplex proportional to ``r = l / omega``."""
        r = point / self.omega
        out: np.ndarray = r / r.sum(axis=-1, keepdims=True)
        return out

    def values(self, point: np.ndarray) -> np.ndarray:
        return self.obj.values(point / self.omega)

    def value_and_gradient(self, point: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        value, grad = self.obj.value_and_gradient(point / self.omega)
        return value, grad / self.omega

    def curvature(self, corners: np.ndarray, centre: np.ndarray | None = None) -> np.ndarray:
        """A bound on ``d^2 k / dt^2`` per ``|dl/dt|_1^2`` on each cell (class docstring)."""
        if self.half == 0.0:  # no signal moves the posterior: k is linear
            return np.zeros(len(corners))
        nu = np.full(len(corners), 0.25)
        if centre is not None:
            r_l = np.abs(corners - centre[:, None, :]).sum(axis=2).max(axis=1)
            nu = self.obj.spread_nu(centre / self.omega, (self.half * r_l)[:, None])[:, 0]
        out: np.ndarray = self.obj.kappa_nu * nu * self.half**2
        return out

    def cell_bounds(self, corners: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per cell: its barycentre ``c``, ``k(c)`` and the bound of Taylor's theorem,
        ``k(c) + max_j grad k(c) . (v_j - c) + H R^2 / 2`` (``H`` of :meth:`curvature`, ``R`` the
        largest vertex distance from ``c``), or the Lipschitz bound ``k(c) + L R`` where smaller."""
        centre = corners.mean(axis=1)
        vals, grad = self.value_and_gradient(centre)
        offsets = corners - centre[:, None, :]
        radius = np.abs(offsets).sum(axis=2).max(axis=1)
        linear = np.einsum("nkx,nx->nk", offsets, grad).max(axis=1)
        quad = vals + linear + self.curvature(corners, centre) * radius**2 / 2.0
        return centre, vals, np.fmin(quad, vals + self.lip * radius)


def posterior_spread(c: np.ndarray) -> np.ndarray:
    """Per type ``tau`` of ``c`` ``[T, X, Y]``, the l1 diameter ``max_{x, x'} |p_x - p_x'|_1`` of its
    posteriors ``p_x = C[tau, x] / omega_tau(x)`` over the signals ``x`` it can hear (at most 2)."""
    omega = c.sum(axis=2)
    live = omega > 0
    post = c / np.where(live, omega, 1.0)[..., None]  # [T, X, Y]
    diff = np.abs(post[:, :, None, :] - post[:, None, :, :]).sum(axis=3)  # [T, X, X]
    both = live[:, :, None] & live[:, None, :]
    out: np.ndarray = np.where(both, diff, 0.0).max(axis=(1, 2)) if c.shape[1] else np.zeros(len(c))
    return out


def _bisect(cells: np.ndarray) -> np.ndarray:
    """Children ``[2N, n, n]`` of simplices ``[N, n, n]`` (vertices as rows): each is cut at the
    midpoint of its longest edge (in ``l1``), which keeps the cells' shapes bounded."""
    n = cells.shape[1]
    diff = np.abs(cells[:, :, None, :] - cells[:, None, :, :]).sum(axis=3).reshape(len(cells), -1)
    edge = diff.argmax(axis=1)
    a, b = edge // n, edge % n
    rows = np.arange(len(cells))
    mid = (cells[rows, a] + cells[rows, b]) / 2.0
    left, right = cells.copy(), cells.copy()
    left[rows, a] = mid
    right[rows, b] = mid
    return np.concatenate([left, right])


def certified_argmax_smooth(
    obj: SmoothObjective | SliceObjective,
    n: int,
    eps: float,
    budget: int = MAX_EVALUATIONS,
    *,
    extended: int = EXTENDED_EVALUATIONS,
    coarse: float = COARSE_GAP,
    deadline: float | None = None,
) -> tuple[float, float, np.ndarray]:
    """:func:`certified_argmax` of a :class:`SmoothObjective`, with second-order bounds.

    Branch and bound on simplices (the belief simplex cut by longest-edge bisection, so ``q`` is
    affine on each cell and no map adds curvature). Each cell's upper bound is the objective's
    ``cell_bounds``: on a cell with vertices ``v_j`` and barycentre ``c``, Taylor's theorem with a
    curvature bound ``H`` gives, for every ``q`` in it (the linear term is largest at a vertex,
    ``|q - c|_1`` too)::

        h(q) <= h(c) + max_j grad h(c) . (v_j - c) + H R^2 / 2,   R = max_j |v_j - c|_1,

    (:meth:`SliceObjective.cell_bounds`; :meth:`SmoothObjective.cell_bounds` bounds the remainder
    type by type, without the perspective factor), and the Lipschitz bound ``h(c) + L R`` is used
    where it is smaller. Cells that could beat the best value found by more than
    ``eps`` are split, those of the highest bound first, until none is left or ``budget``
    evaluations are spent (up to ``extended`` while the bracket is wider than ``coarse``) or the
    clock passes ``deadline`` (a :func:`time.monotonic` reading); the upper end is then the highest
    open bound. Converges quadratically where the maximum's types keep
    mass, and the curvature vanishes where the user is decisive.
    """
    if n == 1:
        v = float(obj.values(np.ones((1, 1)))[0])
        return v, v, np.ones(1)
    cells = np.eye(n)[None]
    while len(cells) < 256:
        cells = _bisect(cells)
    best, arg, used = -np.inf, np.full(n, 1.0 / n), 0
    pool_cells, pool_bound = np.zeros((0, n, n)), np.zeros(0)
    while True:
        centre, vals, bound = obj.cell_bounds(cells)
        used += len(cells)
        b = int(np.argmax(vals))
        if vals[b] > best:
            best, arg = float(vals[b]), centre[b].copy()
        pool_cells = np.concatenate([pool_cells, cells])
        pool_bound = np.concatenate([pool_bound, bound])
        keep = pool_bound > best + eps
        pool_cells, pool_bound = pool_cells[keep], pool_bound[keep]
        if len(pool_bound) == 0:
            return best, best + eps, arg
        limit = budget if pool_bound.max() <= best + coarse else max(budget, extended)
        batch = min(len(pool_bound), max(256, len(pool_bound) // 4), (limit - used) // 2)
        if batch <= 0 or (deadline is not None and time.monotonic() >= deadline):
            return best, float(max(best + eps, pool_bound.max())), arg
        top = np.argpartition(-pool_bound, batch - 1)[:batch] if batch < len(pool_bound) else np.arange(batch)
        cells = _bisect(pool_cells[top])
        rest = np.ones(len(pool_bound), dtype=bool)
        rest[top] = False
        pool_cells, pool_bound = pool_cells[rest], pool_bound[rest]


def certified_lift(
    obj: SmoothObjective,
    n: int,
    eps: float,
    budget: int = MAX_EVALUATIONS,
    mass: np.ndarray | None = None,
    extended: int = EXTENDED_EVALUATIONS,
    deadline: float | None = None,
) -> tuple[float, np.ndarray, np.ndarray]:
    """A certified linear majorant of ``h`` on the simplex: ``(best, d, q)`` with ``h(q') <= d . q'``
    for every ``q'``, ``best`` the largest value found (positive: the point ``q`` beats the duals and
    is a column to add).

    Lifting duals ``phi`` to ``phi + d`` keeps them feasible, so the dual bound stays an upper bound
    (weak duality). Two lifts are certified:

    * uniform, ``d = max_q h(q) 1``;
    * along the weights ``omega`` of a lone type that hears every signal, ``d = max_l k(l) omega`` on
      the :class:`SliceObjective` (the scale-free maximum of ``h / omega . q``, whose branch and bound
      has no perspective factor, so it closes where the uniform one stays open).

    With one such type the slice comes first, to precision ``eps / max omega`` (the same precision
    as the uniform lift's on the simplex); where its lift costs more than ``eps`` per unit of
    ``mass`` (the masses the dual bound will charge, ``d . mass``), the uniform one is certified too
    (on a quarter of the budget) and the cheaper of the two returned (the slice when ``mass`` is
    None). Otherwise the uniform one. ``best`` is in the units of its maximisation (per unit of the
    type's mass, or of signal mass): its sign is what pricing reads. Negative maxima lift by zero.
    Only the slice gets the ``extended`` budget (:func:`certified_argmax_smooth`): several types'
    brackets mostly stay open however many cells they get. Smaller budgets give a looser lift, as
    certain (a pricing step that needs the argmax and not the bound can afford them), as is a
    lift cut short at ``deadline`` (a :func:`time.monotonic` reading).
    """
    if n > 1 and obj.c.shape[0] == 1 and (obj.omega[0] > 0).all():
        sliced = SliceObjective(obj)
        top_eps = eps / float(sliced.omega.max())
        best, top, point = certified_argmax_smooth(
            sliced, n, top_eps, budget, extended=max(budget, extended), deadline=deadline
        )
        lift = max(0.0, top) * sliced.omega
        if mass is None or float(lift @ mass) <= eps * float(np.sum(mass)):  # the uniform one cannot save more
            return best, lift, sliced.masses(point)
        best_u, top_u, q_u = certified_argmax_smooth(obj, n, eps, budget // 4, extended=budget // 4, deadline=deadline)
        if max(0.0, top_u) * float(np.sum(mass)) < float(lift @ mass):
            return best_u, np.full(n, max(0.0, top_u)), q_u
        return best, lift, sliced.masses(point)
    best, top, q = certified_argmax_smooth(obj, n, eps, budget, extended=budget, deadline=deadline)
    return best, np.full(n, max(0.0, top)), q


def belief_grid(n: int, max_points: int = 3000) -> np.ndarray:
    """Grid of mass vectors over ``n`` signals: the simplex lattice with at most ``max_points`` points."""
    if n == 1:
        return np.ones((1, 1))
    if n == 2:
        t = np.linspace(0.0, 1.0, max(3, max_points))
        return np.stack([1.0 - t, t], axis=1)
    return simplex_grid(n, grid_resolution(n, max_points))
