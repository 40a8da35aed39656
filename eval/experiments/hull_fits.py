"""The convex-hull experiment's fits and curves: sup-norm distances and least-squares fits of many models.

For each of ``R`` random orderings of the models and each ``n``, the first ``n`` models are fitted
to the user's utility (docs/science.md, "Experiments"; the metrics are :data:`METRICS`): the
sup-norm distance to their hull and cone with a free offset (:func:`sup_fit`, the LP of
:func:`persuaders.eval.theory.hull.fit_hull`), the MSE of the best simplex-weighted and nonnegative
combinations without offset (:func:`simplex_lsq`, :func:`nonneg_lsq`), of the best single model
and of the plain average. :func:`nested_curves` makes every curve exactly monotone by keeping the
best feasible point known (see :mod:`persuaders.eval.experiments.hull`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import optimize

from persuaders.eval.experiments.hull_table import UtilityTable
from persuaders.eval.theory.hull import fit_hull

__all__ = [
    "METRICS",
    "BAND",
    "Fit",
    "mse",
    "sup_fit",
    "simplex_lsq",
    "nonneg_lsq",
    "nested_curves",
    "run_experiment",
    "summarise",
    "full_fits",
]

#: Metric keys, in output order, with a short description.
METRICS: dict[str, str] = {
    "eps_hull": "sup-norm distance to the convex hull (simplex weights, free offset)",
    "eps_cone": "sup-norm distance to the cone (nonnegative weights, free offset)",
    "mse_simplex": "MSE of the best simplex-weighted combination (no offset)",
    "mse_nonneg": "MSE of the best nonnegative combination (no offset)",
    "mse_best_single": "MSE of the best single model among the first n",
    "mse_average": "MSE of the plain average of the first n models",
}
#: Percentiles of the band over orderings.
BAND = (2.5, 97.5)


@dataclass(frozen=True)
class Fit:
    """A fitted combination: ``value`` (sup-norm eps or MSE), ``weights`` [k] and ``offset``."""

    value: float
    weights: np.ndarray
    offset: float = 0.0


def mse(pred: np.ndarray, user: np.ndarray) -> float:
    """Mean squared error ``mean_j (pred[j] - user[j])^2``."""
    d = np.asarray(pred, dtype=float) - np.asarray(user, dtype=float)
    return float(np.mean(d * d))


def _sup_at(models: np.ndarray, user: np.ndarray, w: np.ndarray) -> Fit:
    """Sup-norm error at weights ``w`` with the best offset for them (mid-range of the residual)."""
    r = user - w @ models
    hi, lo = float(r.max()), float(r.min())
    return Fit(value=(hi - lo) / 2.0, weights=w, offset=(hi + lo) / 2.0 + 0.0)


def sup_fit(models: np.ndarray, user: np.ndarray, cone: bool = False) -> Fit:
    """``min_{w, c} max_j |sum_i w_i models[i, j] + c - user[j]|`` over the simplex (``cone=False``)
    or ``w >= 0`` (``cone=True``), ``c`` free: the LP of :func:`persuaders.eval.theory.hull.fit_hull`
    (``models`` [k, items], ``user`` [items]). The value is re-evaluated at the returned
    weights with the offset re-optimised for them."""
    models = np.atleast_2d(np.asarray(models, dtype=float))
    user = np.asarray(user, dtype=float)
    res = fit_hull(user, models, cone)
    return _sup_at(models, user, np.asarray(res.weights, dtype=float))


def _kkt_on_support(q: np.ndarray, c: np.ndarray, support: np.ndarray) -> np.ndarray:
    """Minimiser of ``w'Qw - 2c'w`` on ``{w : w_i = 0 off support, sum w = 1}`` (weights on support)."""
    s = support.size
    kkt = np.zeros((s + 1, s + 1))
    kkt[:s, :s] = q[np.ix_(support, support)]
    kkt[:s, s] = 1.0
    kkt[s, :s] = 1.0
    rhs = np.concatenate([c[support], [1.0]])
    sol = np.linalg.lstsq(kkt, rhs, rcond=None)[0]
    out: np.ndarray = sol[:s]
    return out


def _simplex_active_set(a: np.ndarray, b: np.ndarray, start: int, max_iter: int) -> tuple[np.ndarray, bool]:
    """Primal active-set method for ``min ||a w - b||^2`` over the simplex, from vertex ``start``.

    Returns the final weights and whether the KKT conditions were certified: on the support the
    gradient ``g = Q w - c`` (``Q = a'a``, ``c = a'b``) is constant, ``-nu``, and off it
    ``g_i >= -nu``.
    """
    k = a.shape[1]
    q, c = a.T @ a, a.T @ b
    tol = 1e-11 * max(1.0, float(np.abs(q).max()), float(np.abs(c).max()))
    w = np.zeros(k)
    w[start] = 1.0
    active = np.zeros(k, dtype=bool)
    active[start] = True
    last_added = -1
    for _ in range(max_iter):
        sup = np.flatnonzero(active)
        z_s = _kkt_on_support(q, c, sup)
        neg = z_s < 0.0
        if neg.any():
            # move from w towards z until the first weight reaches zero; drop it
            w_s = w[sup]
            ratios = w_s[neg] / (w_s[neg] - z_s[neg])
            t = float(ratios.min())
            if t <= 0.0 and sup[neg][np.argmin(ratios)] == last_added:
                return w, False  # rounding blocks the step that theory guarantees
            w_s = w_s + t * (z_s - w_s)
            drop = sup[neg][np.argmin(ratios)]
            w[sup] = np.clip(w_s, 0.0, None)
            w[drop] = 0.0
            active[drop] = False
            w /= w.sum()
            continue
        w = np.zeros(k)
        w[sup] = z_s
        g = q @ w - c
        nu = -float(g[sup].mean())
        slack = g + nu
        slack[active] = np.inf
        j = int(np.argmin(slack))
        if not slack[j] < -tol:
            return w, True
        active[j] = True
        last_added = j
    return w, False


def _simplex_slsqp(a: np.ndarray, b: np.ndarray, w0: np.ndarray) -> np.ndarray:
    """SLSQP on ``min ||a w - b||^2`` over the simplex (fallback when the active set is not certified)."""
    k = a.shape[1]

    def f(w: np.ndarray) -> float:
        r = a @ w - b
        return float(r @ r)

    def grad(w: np.ndarray) -> np.ndarray:
        out: np.ndarray = 2.0 * a.T @ (a @ w - b)
        return out

    res = optimize.minimize(
        f,
        w0,
        jac=grad,
        method="SLSQP",
        bounds=[(0.0, 1.0)] * k,
        constraints=[{"type": "eq", "fun": lambda w: w.sum() - 1.0, "jac": lambda w: np.ones(k)}],
        options={"ftol": 1e-15, "maxiter": 500},
    )
    w = np.clip(res.x, 0.0, None)
    out: np.ndarray = w / w.sum()
    return out


def simplex_lsq(models: np.ndarray, user: np.ndarray) -> Fit:
    """``min_{w in simplex} mean_j (sum_i w_i models[i, j] - user[j])^2``, no offset.

    A primal active-set method started at the best single model (exact up to rounding: it stops
    when the KKT conditions hold); if it does not certify optimality, SLSQP is run too. The best
    of these, the best single model and the plain average is returned.
    """
    models = np.atleast_2d(np.asarray(models, dtype=float))
    user = np.asarray(user, dtype=float)
    k = models.shape[0]
    single = np.array([mse(m, user) for m in models])
    best = int(np.argmin(single))
    cands = [np.eye(k)[best], np.full(k, 1.0 / k)]
    if k > 1:
        w, certified = _simplex_active_set(models.T, user, best, max_iter=10 * k + 10)
        cands.append(w)
        if not certified:
            cands.append(_simplex_slsqp(models.T, user, w))
    vals = [mse(w @ models, user) for w in cands]
    vals[1] = mse(models.mean(axis=0), user)  # the plain average, computed as the average itself
    i = int(np.argmin(vals))
    return Fit(value=vals[i], weights=cands[i])


def nonneg_lsq(models: np.ndarray, user: np.ndarray) -> Fit:
    """``min_{w >= 0} mean_j (sum_i w_i models[i, j] - user[j])^2``, no offset (Lawson-Hanson NNLS)."""
    models = np.atleast_2d(np.asarray(models, dtype=float))
    user = np.asarray(user, dtype=float)
    w = optimize.nnls(models.T, user, maxiter=max(50, 30 * models.shape[0]))[0]
    return Fit(value=mse(w @ models, user), weights=w)


def _best(cands: list[Fit]) -> Fit:
    return min(cands, key=lambda f: f.value)


def _padded(fit: Fit) -> Fit:
    return Fit(value=fit.value, weights=np.append(fit.weights, 0.0), offset=fit.offset)


def nested_curves(
    models: np.ndarray, user: np.ndarray, order: Sequence[int] | np.ndarray | None = None, n_max: int | None = None
) -> dict[str, np.ndarray]:
    """Every metric of :data:`METRICS` for the first ``n = 1..n_max`` models of ``order``.

    ``models`` [K, items], ``user`` [items]; ``order`` defaults to the table order and ``n_max`` to
    ``len(order)``. Returns ``{metric: array [n_max]}`` (entry ``n - 1`` for the first ``n``
    models). Each value is the objective at the best feasible point known (see the module
    docstring), so the curves are non-increasing and ``eps_cone <= eps_hull``,
    ``mse_nonneg <= mse_simplex <= min(mse_best_single, mse_average)`` hold exactly.
    """
    models = np.atleast_2d(np.asarray(models, dtype=float))
    user = np.asarray(user, dtype=float)
    order = np.arange(models.shape[0]) if order is None else np.asarray(order, dtype=int)
    n_max = len(order) if n_max is None else int(n_max)
    out = {m: np.empty(n_max) for m in METRICS}
    prev: dict[str, Fit] = {}
    for n in range(1, n_max + 1):
        sub = models[order[:n]]
        hull = [sup_fit(sub, user, cone=False)]
        cone = [sup_fit(sub, user, cone=True)]
        simp = [simplex_lsq(sub, user)]
        nonneg = [nonneg_lsq(sub, user)]
        if prev:
            # the previous solution with a zero weight on the new model: the same combination, so
            # its value is carried over as it is (recomputing it could differ in the last bit)
            hull.append(_padded(prev["hull"]))
            cone.append(_padded(prev["cone"]))
            simp.append(_padded(prev["simplex"]))
            nonneg.append(_padded(prev["nonneg"]))
        prev["hull"] = _best(hull)
        prev["cone"] = _best([*cone, prev["hull"]])
        prev["simplex"] = _best(simp)
        prev["nonneg"] = _best([*nonneg, prev["simplex"]])
        out["eps_hull"][n - 1] = prev["hull"].value
        out["eps_cone"][n - 1] = prev["cone"].value
        out["mse_simplex"][n - 1] = prev["simplex"].value
        out["mse_nonneg"][n - 1] = prev["nonneg"].value
        out["mse_best_single"][n - 1] = min(mse(m, user) for m in sub)
        out["mse_average"][n - 1] = mse(sub.mean(axis=0), user)
    return out


# ---------------------------------------------------------------------------------- experiment
def run_experiment(
    table: UtilityTable, n_models: int, n_orderings: int, rng: np.random.Generator | int | None = 0
) -> dict[str, np.ndarray]:
    """``{metric: array [n_orderings, n_models]}``: the curves of :func:`nested_curves` along
    ``n_orderings`` random orderings (uniform permutations of all the table's models; the first
    ``n`` of each, ``n = 1..n_models``)."""
    if not 1 <= n_models <= table.n_models:
        raise ValueError(f"n_models must be between 1 and {table.n_models} (the table's models), got {n_models}")
    if n_orderings < 1:
        raise ValueError(f"n_orderings must be >= 1, got {n_orderings}")
    rng = np.random.default_rng(rng)
    raw = {m: np.empty((n_orderings, n_models)) for m in METRICS}
    for r in range(n_orderings):
        order = rng.permutation(table.n_models)
        curves = nested_curves(table.models, table.user, order, n_models)
        for m in METRICS:
            raw[m][r] = curves[m]
    return raw


def summarise(raw: dict[str, np.ndarray]) -> dict[str, dict[str, np.ndarray]]:
    """Mean and the 2.5-97.5 percentile band over orderings: ``{metric: {mean, lo, hi}}``."""
    out = {}
    for m, v in raw.items():
        lo, hi = np.percentile(v, BAND, axis=0)
        out[m] = {"mean": v.mean(axis=0), "lo": lo, "hi": hi}
    return out


def full_fits(table: UtilityTable, n_models: int) -> dict[str, Any]:
    """The fits on the first ``n_models`` models in table order (all of them when ``n_models`` is
    the table's size), with weights by model name."""
    sub = table.models[:n_models]
    names = table.model_names[:n_models]
    single = [mse(m, table.user) for m in sub]
    best = int(np.argmin(single))

    def named(fit: Fit) -> dict[str, Any]:
        w = {n: float(x) for n, x in zip(names, fit.weights, strict=True) if x > 1e-9}
        return {"value": fit.value, "offset": fit.offset, "weights": w}

    return {
        "models": list(names),
        "hull": named(sup_fit(sub, table.user, cone=False)),
        "cone": named(sup_fit(sub, table.user, cone=True)),
        "simplex_mse": named(simplex_lsq(sub, table.user)),
        "nonneg_mse": named(nonneg_lsq(sub, table.user)),
        "best_single": {"model": names[best], "mse": single[best]},
        "average_mse": mse(sub.mean(axis=0), table.user),
    }
