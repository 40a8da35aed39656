"""The convex-hull experiment: how close combinations of many utility functions come to the user's.

Usage::

    persuaders-experiment hull [--csv PATH [--user-column NAME] [--item-column NAME] | --synthetic]
                                          [--models N] [--orderings R] [--noise S] [--user-noise S]
                                          [--items M] [--seed N] [--out DIR] [--figure PATH]
    persuaders-experiment hull --dataset {movielens,gss_spending} [--dataset-csv PATH]
                                          [--items M] [--min-coverage C] [--personas P] [--models N]
                                          [--orderings R] [--bootstrap B] [--seed N] [--out DIR] [--figure PATH]

The input is a table of utilities over items: ``U[i, j]`` is model ``i``'s utility for item ``j``
(an item is an (action, state) cell of a game or any scored item) and ``u[j]`` is the user's.
In the paper's second experiment (docs/science.md, "Experiments") the models are language-model "personas"
made by rephrasing one prompt and the items are MovieLens ratings or ETHICS judgements; here the
table comes from a CSV file (``--csv``, one row per item, one column per model and a ``user``
column) or from a seeded synthetic generator (``--synthetic``, the default): models are a shared
base utility plus Gaussian noise of standard deviation ``--noise``, clipped to [0, 1], and the
user is the base (plus optional noise ``--user-noise``, also clipped). ``--dataset`` runs it on
real people's ratings instead (:mod:`persuaders.eval.experiments.hull_personas`: personas are real users,
the AI profiles other users, intervals bootstrapped over personas; the data sets and their
construction are in :mod:`persuaders.eval.experiments.hull_datasets`, read from the optional extra
``[data]`` or, with ``--dataset-csv``, from a CSV file with the same columns).

For each of ``R`` random orderings of the models and each ``n = 1..N``, the first ``n`` models of
the ordering are fitted to the user's utility, and six numbers are recorded:

``eps_hull``
    ``min_{w in simplex, c} max_j |sum_i w_i U[i, j] + c - u[j]|``: the sup-norm distance of the
    user's utility to the convex hull of the models, with a free additive offset ``c`` (the
    paper's Definition 1; docs/science.md, "The convex-hull distance"). A linear program (HiGHS,
    via :func:`persuaders.eval.theory.hull.fit_hull`).
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
on all ``N`` models in table order, with weights by model name) and ``hull_experiment.png`` (or
``--figure``). With ``--dataset`` the default is ``results/hull_NAME/`` and the CSV has one row per
``n`` (see :mod:`persuaders.eval.experiments.hull_personas`). A short table is printed. Exit status: 0
ok, 1 computation error, 2 bad input (the message names the column and line at fault).
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np

from persuaders.eval.experiments.hull_fits import (
    BAND,
    METRICS,
    Fit,
    full_fits,
    mse,
    nested_curves,
    nonneg_lsq,
    run_experiment,
    simplex_lsq,
    summarise,
    sup_fit,
)
from persuaders.eval.experiments.hull_output import plot
from persuaders.eval.experiments.hull_table import (
    TableError,
    UtilityTable,
    load_utilities,
    synthetic_utilities,
)

__all__ = [
    "TableError",
    "UtilityTable",
    "Fit",
    "METRICS",
    "BAND",
    "load_utilities",
    "synthetic_utilities",
    "sup_fit",
    "simplex_lsq",
    "nonneg_lsq",
    "mse",
    "nested_curves",
    "run_experiment",
    "summarise",
    "full_fits",
    "format_table",
    "write_csv",
    "plot",
]

DEFAULT_MODELS = 30
DEFAULT_ORDERINGS = 20
DEFAULT_OUT = os.path.join("results", "hull_experiment")


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
    lines = [
        "mean over orderings (sup-norm eps with a free offset; MSE without offset)",
        f"{'n':>4}" + "".join(f"{k:>17}" for k in keys),
    ]
    lines.extend(f"{n:>4}" + "".join(f"{summary[k]['mean'][n - 1]:>17.6g}" for k in keys) for n in _table_rows(n_max))
    return "\n".join(lines)


def write_csv(path: Path, summary: dict[str, dict[str, np.ndarray]]) -> None:
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["n", "metric", "mean", "lo", "hi"])
        for m, s in summary.items():
            for n in range(len(s["mean"])):
                writer.writerow([n + 1, m, repr(float(s["mean"][n])), repr(float(s["lo"][n])), repr(float(s["hi"][n]))])
