"""The convex-hull experiment: how close combinations of many utility functions come to the user's.

Usage::

    python -m eval.hull_experiment [--csv PATH [--user-column NAME] [--item-column NAME] | --synthetic]
                                   [--models N] [--orderings R] [--noise S] [--user-noise S]
                                   [--items M] [--seed N] [--out DIR]

The input is a table of utilities over items: ``U[i, j]`` is model ``i``'s utility for item ``j``
(an item is an (action, state) cell of a game or any scored item) and ``u[j]`` is the user's.
In the paper's second experiment (DESIGN.md section 4) the models are language-model "personas"
made by rephrasing one prompt and the items are MovieLens ratings or ETHICS judgements; here the
table comes from a CSV file (``--csv``, one row per item, one column per model and a ``user``
column) or from a seeded synthetic generator (``--synthetic``, the default): models are a shared
base utility plus Gaussian noise of standard deviation ``--noise``, clipped to [0, 1], and the
user is the base (plus optional noise ``--user-noise``, also clipped).

For each of ``R`` random orderings of the models and each ``n = 1..N``, the first ``n`` models of
the ordering are fitted to the user's utility, and six numbers are recorded:

``eps_hull``
    ``min_{w in simplex, c} max_j |sum_i w_i U[i, j] + c - u[j]|``: the sup-norm distance of the
    user's utility to the convex hull of the models, with a free additive offset ``c`` (the
    paper's Definition 1, DESIGN.md section 2). A linear program (HiGHS, via
    :func:`eval.theory._fit`).
``eps_cone``
    the same over any ``w >= 0`` (nonnegative combinations, still with a free offset). Never
    larger than ``eps_hull``; the competition bound holds with either.
``mse_simplex``
    ``min_{w in simplex} mean_j (sum_i w_i U[i, j] - u[j])^2``: the paper's own metric for a
    simplex-weighted combination fitted to the ground truth. **No offset**: the combination
    itself is scored, as in the paper. Solved exactly by a primal active-set method
    (:func:`simplex_lsq`), with SLSQP as a fallback.
``mse_nonneg``
    ``min_{w >= 0} mean_j (sum_i w_i U[i, j] - u[j])^2``, no offset: nonnegative least squares
    (:func:`scipy.optimize.nnls`).
``mse_best_single``
    the smallest MSE of a single model among the first ``n`` (a vertex of the simplex).
``mse_average``
    the MSE of the plain average of the first ``n`` models (the simplex's centre).

The models are nested along an ordering, so every fitted quantity is non-increasing in ``n``
(extra models can get weight 0), and ``eps_cone <= eps_hull``,
``mse_nonneg <= mse_simplex <= min(mse_best_single, mse_average)``. Each reported value is the
objective at the best feasible point known: the solver's solution, and also the previous ``n``'s
solution padded with a zero weight (and, for the cone, this ``n``'s hull fit; for the nonnegative
fit, this ``n``'s simplex fit; for the simplex fit, the best single model and the plain average).
All of these are feasible, so a reported value is never below the true optimum; it makes the
curves exactly monotone despite solver tolerances (about 1e-9). For the sup-norm fits the offset
is re-optimised for the chosen weights (``c`` = mid-range of ``u - sum_i w_i U_i``).

The summary over orderings is the mean and a 95% band given by the 2.5th and 97.5th percentiles
(numpy's linear interpolation) of the ``R`` values. At ``n`` equal to the number of models in
the table every ordering holds the same set, so the band closes.

Outputs in ``--out`` (default ``results/hull_experiment/``): ``results.csv`` (columns ``n,
metric, mean, lo, hi``), ``results.json`` (configuration, every per-ordering value and the fits
on all ``N`` models in table order, with weights by model name) and ``hull_experiment.png``.
A short table is printed. Exit status: 0 ok, 1 computation error, 2 bad input (the message
names the column and line at fault).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy import optimize

from eval.theory import _fit as _theory_sup_fit

__all__ = [
    "TableError",
    "UtilityTable",
    "Fit",
    "METRICS",
    "load_utilities",
    "synthetic_utilities",
    "sup_fit",
    "simplex_lsq",
    "nonneg_lsq",
    "mse",
    "nested_curves",
    "run_experiment",
    "summarise",
    "main",
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
DEFAULT_MODELS = 30
DEFAULT_ORDERINGS = 20
DEFAULT_ITEMS = 40
DEFAULT_NOISE = 0.2
DEFAULT_USER_NOISE = 0.0
DEFAULT_OUT = os.path.join("results", "hull_experiment")


# ------------------------------------------------------------------------------------ the table
class TableError(ValueError):
    """An invalid table of utilities; the message names the file, column and line at fault."""


@dataclass(frozen=True)
class UtilityTable:
    """``models[i, j]``: model ``i``'s utility for item ``j``; ``user[j]``: the user's."""

    models: np.ndarray
    user: np.ndarray
    model_names: tuple[str, ...]
    item_labels: tuple[str, ...]
    source: str

    @property
    def n_models(self) -> int:
        return int(self.models.shape[0])

    @property
    def n_items(self) -> int:
        return int(self.user.shape[0])


def load_utilities(path: str | os.PathLike, user_column: str = "user", item_column: str | None = "item") -> UtilityTable:
    """Read a CSV table of utilities: one row per item, one column per model, and the user's column.

    The header names the columns. ``user_column`` holds the user's utility; ``item_column``, if
    the header has it, holds item labels (any text) and is not a model; every other column is a
    model. Every model and user entry must be a finite number. Blank lines are skipped.

    Raises :class:`TableError` naming the column and line (the header is line 1) when the user's
    column is missing, an entry is empty, not a number, NaN or infinite, a row has the wrong
    number of fields, column names are empty or repeated, there are no data rows, or there is no
    model column.
    """
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            lines = list(csv.reader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise TableError(f"{path}: cannot read the table: {exc}") from exc
    numbered = [(i + 1, row) for i, row in enumerate(lines) if any(cell.strip() for cell in row)]
    if not numbered:
        raise TableError(f"{path}: the file is empty; expected a header row naming the columns")
    _, header = numbered[0]
    header = [h.strip() for h in header]
    for j, name in enumerate(header):
        if not name:
            raise TableError(f"{path}: column {j + 1} of the header has no name")
    seen: set[str] = set()
    for name in header:
        if name in seen:
            raise TableError(f"{path}: column {name!r} appears more than once in the header")
        seen.add(name)
    if user_column not in header:
        raise TableError(
            f"{path}: no user column {user_column!r}; the columns are {', '.join(map(repr, header))} "
            f"(choose the user's column with --user-column)"
        )
    label_j = header.index(item_column) if item_column and item_column in header else None
    model_js = [j for j, name in enumerate(header) if name != user_column and j != label_j]
    if not model_js:
        raise TableError(
            f"{path}: no model column: the table needs at least 1 model column besides the user's "
            f"column {user_column!r}" + (f" and the item column {item_column!r}" if label_j is not None else "")
        )
    user_j = header.index(user_column)
    rows = numbered[1:]
    if not rows:
        raise TableError(f"{path}: no data rows after the header")
    values = np.empty((len(rows), len(header)))
    labels = []
    for r, (line, row) in enumerate(rows):
        if len(row) != len(header):
            raise TableError(f"{path}: line {line} has {len(row)} fields but the header has {len(header)}")
        label = row[label_j].strip() if label_j is not None else f"row {r + 1}"
        labels.append(label)
        where = f"line {line}" + (f" (item {label!r})" if label_j is not None else "")
        for j in [user_j] + model_js:
            cell = row[j].strip()
            if not cell:
                raise TableError(f"{path}: column {header[j]!r}, {where}: empty entry")
            try:
                v = float(cell)
            except ValueError:
                raise TableError(f"{path}: column {header[j]!r}, {where}: {cell!r} is not a number") from None
            if not math.isfinite(v):
                raise TableError(f"{path}: column {header[j]!r}, {where}: {cell!r} is not finite (NaN or infinite)")
            values[r, j] = v
    return UtilityTable(
        models=np.ascontiguousarray(values[:, model_js].T),
        user=values[:, user_j].copy(),
        model_names=tuple(header[j] for j in model_js),
        item_labels=tuple(labels),
        source=str(path),
    )


def synthetic_utilities(
    n_models: int,
    n_items: int = DEFAULT_ITEMS,
    noise: float = DEFAULT_NOISE,
    user_noise: float = DEFAULT_USER_NOISE,
    rng: np.random.Generator | int | None = 0,
) -> UtilityTable:
    """Seeded synthetic table: a base utility ``b ~ Uniform(0, 1)`` per item,
    models ``clip(b + noise * N(0, 1), 0, 1)`` (independent noise per model and item) and the user
    ``clip(b + user_noise * N(0, 1), 0, 1)``."""
    if n_models < 1 or n_items < 1:
        raise ValueError(f"need at least one model and one item, got {n_models} models and {n_items} items")
    if not (noise >= 0 and user_noise >= 0):
        raise ValueError(f"noise levels must be >= 0, got noise {noise} and user noise {user_noise}")
    rng = np.random.default_rng(rng)
    base = rng.uniform(0.0, 1.0, size=n_items)
    models = np.clip(base[None, :] + noise * rng.normal(size=(n_models, n_items)), 0.0, 1.0)
    user = np.clip(base + user_noise * rng.normal(size=n_items), 0.0, 1.0)
    return UtilityTable(
        models=models,
        user=user,
        model_names=tuple(f"model_{i + 1:02d}" for i in range(n_models)),
        item_labels=tuple(f"item_{j + 1:02d}" for j in range(n_items)),
        source=f"synthetic (noise {noise:g}, user noise {user_noise:g})",
    )


# ------------------------------------------------------------------------------------------ fits
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
    or ``w >= 0`` (``cone=True``), ``c`` free: the LP of :func:`eval.theory.hull_distance` on plain
    arrays (``models`` [k, items], ``user`` [items]). The value is re-evaluated at the returned
    weights with the offset re-optimised for them."""
    models = np.atleast_2d(np.asarray(models, dtype=float))
    user = np.asarray(user, dtype=float)
    res = _theory_sup_fit(user, models, cone)
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
    return sol[:s]


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
        return 2.0 * a.T @ (a @ w - b)

    res = optimize.minimize(
        f, w0, jac=grad, method="SLSQP", bounds=[(0.0, 1.0)] * k,
        constraints=[{"type": "eq", "fun": lambda w: w.sum() - 1.0, "jac": lambda w: np.ones(k)}],
        options={"ftol": 1e-15, "maxiter": 500},
    )
    w = np.clip(res.x, 0.0, None)
    return w / w.sum()


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


def nested_curves(models: np.ndarray, user: np.ndarray, order: Sequence[int] | None = None, n_max: int | None = None) -> dict[str, np.ndarray]:
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
        prev["cone"] = _best(cone + [prev["hull"]])
        prev["simplex"] = _best(simp)
        prev["nonneg"] = _best(nonneg + [prev["simplex"]])
        out["eps_hull"][n - 1] = prev["hull"].value
        out["eps_cone"][n - 1] = prev["cone"].value
        out["mse_simplex"][n - 1] = prev["simplex"].value
        out["mse_nonneg"][n - 1] = prev["nonneg"].value
        out["mse_best_single"][n - 1] = min(mse(m, user) for m in sub)
        out["mse_average"][n - 1] = mse(sub.mean(axis=0), user)
    return out


# ---------------------------------------------------------------------------------- experiment
def run_experiment(table: UtilityTable, n_models: int, n_orderings: int, rng: np.random.Generator | int | None = 0) -> dict[str, np.ndarray]:
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


def _full_fits(table: UtilityTable, n_models: int) -> dict[str, Any]:
    """The fits on the first ``n_models`` models in table order (all of them when ``n_models`` is
    the table's size), with weights by model name."""
    sub = table.models[:n_models]
    names = table.model_names[:n_models]
    single = [mse(m, table.user) for m in sub]
    best = int(np.argmin(single))

    def named(fit: Fit) -> dict[str, Any]:
        w = {n: float(x) for n, x in zip(names, fit.weights) if x > 1e-9}
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


# -------------------------------------------------------------------------------------- output
def _table_rows(n_max: int) -> list[int]:
    if n_max <= 12:
        return list(range(1, n_max + 1))
    rows = {1, 2, 3, 5, n_max}
    rows.update(range(10, n_max, 10 if n_max <= 60 else 20))
    return sorted(rows)


def format_table(summary: dict[str, dict[str, np.ndarray]]) -> str:
    """Means over orderings for a few values of ``n``, one column per metric."""
    n_max = len(summary["eps_hull"]["mean"])
    keys = list(METRICS)
    lines = ["mean over orderings (sup-norm eps with a free offset; MSE without offset)",
             f"{'n':>4}" + "".join(f"{k:>17}" for k in keys)]
    for n in _table_rows(n_max):
        lines.append(f"{n:>4}" + "".join(f"{summary[k]['mean'][n - 1]:>17.6g}" for k in keys))
    return "\n".join(lines)


def write_csv(path: Path, summary: dict[str, dict[str, np.ndarray]]) -> None:
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["n", "metric", "mean", "lo", "hi"])
        for m, s in summary.items():
            for n in range(len(s["mean"])):
                writer.writerow([n + 1, m, repr(float(s["mean"][n])), repr(float(s["lo"][n])), repr(float(s["hi"][n]))])


def _set_yscale(ax: Any, values: list[np.ndarray]) -> None:
    v = np.concatenate([np.ravel(x) for x in values])
    pos = v[v > 1e-12]
    if pos.size == 0:
        return
    if v.min() > 1e-12:
        ax.set_yscale("log")
    else:  # some values are (numerically) zero: linear near zero, logarithmic above
        ax.set_yscale("symlog", linthresh=float(pos.min()))


def plot(path: Path, summary: dict[str, dict[str, np.ndarray]], title: str) -> None:
    """Two panels: sup-norm eps (hull, cone) and MSE (simplex, nonnegative, best single, average)
    against ``n``, each with its 2.5-97.5 percentile band over orderings."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = np.arange(1, len(summary["eps_hull"]["mean"]) + 1)
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.6))
    panels = [
        (axes[0], {"eps_hull": "hull (simplex weights)", "eps_cone": "cone (nonnegative weights)"},
         "sup-norm distance eps (free offset)", "distance of the user's utility to combinations"),
        (axes[1], {"mse_simplex": "simplex-weighted fit", "mse_nonneg": "nonnegative fit",
                   "mse_best_single": "best single model", "mse_average": "plain average"},
         "mean squared error (no offset)", "fit to the user's utility"),
    ]
    for ax, metrics, ylabel, sub in panels:
        shown = []
        for m, label in metrics.items():
            s = summary[m]
            (line,) = ax.plot(n, s["mean"], marker="o", ms=3, label=label)
            ax.fill_between(n, s["lo"], s["hi"], color=line.get_color(), alpha=0.2, lw=0)
            shown += [s["mean"], s["lo"], s["hi"]]
        _set_yscale(ax, shown)
        ax.set_xlabel("number of models n")
        ax.set_ylabel(ylabel)
        ax.set_title(sub, fontsize=10)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8, title="mean, 2.5-97.5 percentile band", title_fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _json_ready(x: Any) -> Any:
    if isinstance(x, np.ndarray):
        return [_json_ready(v) for v in x.tolist()]
    if isinstance(x, dict):
        return {k: _json_ready(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_json_ready(v) for v in x]
    if isinstance(x, (float, np.floating)):
        return float(x)
    if isinstance(x, np.integer):
        return int(x)
    return x


# ----------------------------------------------------------------------------------------- CLI
def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m eval.hull_experiment",
        description="How the distance of the user's utility to combinations of model utilities "
        "(sup-norm eps for the hull and the cone; MSE of simplex and nonnegative fits, the best single "
        "model and the plain average) falls as the number of models grows.",
    )
    src = p.add_mutually_exclusive_group()
    src.add_argument("--csv", metavar="PATH", help="table of utilities: one row per item, one column per model, and the user's column")
    src.add_argument("--synthetic", action="store_true", help="seeded synthetic models: base utility + Gaussian noise, clipped to [0, 1] (the default)")
    p.add_argument("--user-column", default="user", help="the user's column in the CSV (default: user)")
    p.add_argument("--item-column", default="item", help="column of item labels in the CSV, used if present (default: item)")
    p.add_argument("--models", type=int, default=None, metavar="N",
                   help=f"largest n (default: all the CSV's models; synthetic: {DEFAULT_MODELS})")
    p.add_argument("--orderings", type=int, default=DEFAULT_ORDERINGS, metavar="R", help=f"random orderings of the models (default {DEFAULT_ORDERINGS})")
    p.add_argument("--noise", type=float, default=None, metavar="S", help=f"synthetic: noise std of the models (default {DEFAULT_NOISE})")
    p.add_argument("--user-noise", type=float, default=None, metavar="S", help=f"synthetic: noise std of the user (default {DEFAULT_USER_NOISE})")
    p.add_argument("--items", type=int, default=None, metavar="M", help=f"synthetic: number of items (default {DEFAULT_ITEMS})")
    p.add_argument("--seed", type=int, default=0, help="seed of the synthetic table and the orderings (default 0)")
    p.add_argument("--out", default=DEFAULT_OUT, metavar="DIR", help=f"output directory (default {DEFAULT_OUT})")
    return p


def _input_error(msg: str) -> int:
    print(f"error: {msg}", file=sys.stderr)
    return 2


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status (0 ok, 1 computation error, 2 bad input)."""
    args = _parser().parse_args(argv)
    t0 = time.perf_counter()
    seeds = np.random.SeedSequence(args.seed).spawn(2)
    if args.orderings < 1:
        return _input_error(f"--orderings must be >= 1, got {args.orderings}")
    if args.models is not None and args.models < 1:
        return _input_error(f"--models must be >= 1, got {args.models}")
    if args.csv is not None:
        given = [f for f, v in (("--noise", args.noise), ("--user-noise", args.user_noise), ("--items", args.items)) if v is not None]
        if given:
            return _input_error(f"{', '.join(given)} apply only to --synthetic, not to --csv")
        try:
            table = load_utilities(args.csv, args.user_column, args.item_column)
        except TableError as exc:
            return _input_error(str(exc))
        n_models = table.n_models if args.models is None else args.models
        if n_models > table.n_models:
            return _input_error(f"--models {n_models} but {args.csv} has only {table.n_models} model columns")
        synth = None
    else:
        n_models = DEFAULT_MODELS if args.models is None else args.models
        synth = {
            "n_items": DEFAULT_ITEMS if args.items is None else args.items,
            "noise": DEFAULT_NOISE if args.noise is None else args.noise,
            "user_noise": DEFAULT_USER_NOISE if args.user_noise is None else args.user_noise,
        }
        if synth["n_items"] < 1:
            return _input_error(f"--items must be >= 1, got {synth['n_items']}")
        if not (synth["noise"] >= 0 and synth["user_noise"] >= 0):
            return _input_error(f"--noise and --user-noise must be >= 0, got {synth['noise']} and {synth['user_noise']}")
        table = synthetic_utilities(n_models, rng=np.random.default_rng(seeds[0]), **synth)
    try:
        raw = run_experiment(table, n_models, args.orderings, np.random.default_rng(seeds[1]))
        summary = summarise(raw)
        full = _full_fits(table, table.n_models)
    except (ValueError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
        write_csv(out / "results.csv", summary)
        title = (f"{table.source} ({table.n_items} items; first n of {args.orderings} random orderings "
                 f"of {table.n_models} models)")
        plot(out / "hull_experiment.png", summary, title)
        elapsed = time.perf_counter() - t0
        record = {
            "source": table.source,
            "config": {
                "csv": args.csv, "user_column": args.user_column if args.csv else None,
                "models": n_models, "orderings": args.orderings, "seed": args.seed, "synthetic": synth,
            },
            "n_items": table.n_items,
            "n_models_in_table": table.n_models,
            "model_names": list(table.model_names),
            "definitions": {
                **METRICS,
                "offset": "the sup-norm fits have a free additive offset c (DESIGN.md Definition 1); the MSE fits have none",
                "band": "lo, hi: 2.5th and 97.5th percentiles over orderings (numpy linear interpolation)",
                "values": "objective at the best feasible point known (solver solution, previous n padded with a zero weight, and the "
                          "nested candidates described in eval/hull_experiment.py); never below the optimum",
            },
            "n": list(range(1, n_models + 1)),
            "summary": summary,
            "per_ordering": raw,
            "fits_on_all_models_in_table_order": full,
            "seconds": elapsed,
        }
        with open(out / "results.json", "w") as fh:
            json.dump(_json_ready(record), fh, indent=1)
    except OSError as exc:
        print(f"error: cannot write to {out}: {exc}", file=sys.stderr)
        return 1
    print(f"{table.source}: {table.n_items} items; n = 1..{n_models} of {table.n_models} models, {args.orderings} orderings")
    print(format_table(summary))
    print(f"band: 2.5-97.5 percentiles over orderings (in {out / 'results.csv'})")
    print(f"wrote {out / 'results.csv'}, {out / 'results.json'}, {out / 'hull_experiment.png'} in {elapsed:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
