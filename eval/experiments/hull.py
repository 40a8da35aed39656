"""The convex-hull experiment: how close combinations of many utility functions come to the user's.

Usage::

    python -m persuaders.experiments hull [--csv PATH [--user-column NAME] [--item-column NAME] | --synthetic]
                                          [--models N] [--orderings R] [--noise S] [--user-noise S]
                                          [--items M] [--seed N] [--out DIR] [--figure PATH]
    python -m persuaders.experiments hull --dataset {movielens,gss_spending} [--dataset-csv PATH]
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
real people's ratings instead (:mod:`persuaders.experiments.hull_personas`: personas are real users,
the AI profiles other users, intervals bootstrapped over personas; the data sets and their
construction are in :mod:`persuaders.experiments.hull_datasets`, read from the optional extra
``[data]`` or, with ``--dataset-csv``, from a CSV file with the same columns).

For each of ``R`` random orderings of the models and each ``n = 1..N``, the first ``n`` models of
the ordering are fitted to the user's utility, and six numbers are recorded:

``eps_hull``
    ``min_{w in simplex, c} max_j |sum_i w_i U[i, j] + c - u[j]|``: the sup-norm distance of the
    user's utility to the convex hull of the models, with a free additive offset ``c`` (the
    paper's Definition 1; docs/science.md, "The convex-hull distance"). A linear program (HiGHS,
    via :func:`persuaders.eval.hull.fit_hull`).
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
``n`` (see :mod:`persuaders.experiments.hull_personas`). A short table is printed. Exit status: 0
ok, 1 computation error, 2 bad input (the message names the column and line at fault).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from persuaders.experiments.hull_datasets import DATASETS
from persuaders.experiments.hull_fits import (
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
from persuaders.experiments.hull_output import json_ready, plot
from persuaders.experiments.hull_personas import run_dataset
from persuaders.experiments.hull_table import (
    DEFAULT_ITEMS,
    DEFAULT_NOISE,
    DEFAULT_USER_NOISE,
    TableError,
    UtilityTable,
    load_utilities,
    synthetic_utilities,
)
from persuaders.game.commands import command

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
    "main",
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


def _per_dataset(key: str) -> str:
    """The data sets' defaults of one setting, for the help text (``None``: all; personas: every complete user)."""
    return ", ".join(
        f"{name} {'all' if spec.defaults.get(key) is None else spec.defaults[key]}"
        for name, spec in sorted(DATASETS.items())
    )


def _parser() -> argparse.ArgumentParser:
    # long: one add_argument per option, each with its help text
    p = argparse.ArgumentParser(
        prog="python -m persuaders.experiments hull",
        description="How the distance of the user's utility to combinations of model utilities "
        "(sup-norm eps for the hull and the cone; MSE of simplex and nonnegative fits, the best single "
        "model and the plain average) falls as the number of models grows.",
    )
    src = p.add_mutually_exclusive_group()
    src.add_argument(
        "--csv",
        metavar="PATH",
        help="table of utilities: one row per item, one column per model, and the user's column",
    )
    src.add_argument(
        "--synthetic",
        action="store_true",
        help="seeded synthetic models: base utility + Gaussian noise, clipped to [0, 1] (the default)",
    )
    src.add_argument(
        "--dataset",
        choices=sorted(DATASETS),
        help="real people's ratings (the [data] extra, or --dataset-csv): personas are users, AI profiles other users",
    )
    p.add_argument("--user-column", default="user", help="the user's column in the CSV (default: user)")
    p.add_argument(
        "--item-column", default="item", help="column of item labels in the CSV, used if present (default: item)"
    )
    p.add_argument(
        "--models",
        type=int,
        default=None,
        metavar="N",
        help=f"largest n (default: all the CSV's models; synthetic: {DEFAULT_MODELS}; "
        f"--dataset: {_per_dataset('models')})",
    )
    p.add_argument(
        "--orderings",
        type=int,
        default=None,
        metavar="R",
        help=f"random orderings of the models (default {DEFAULT_ORDERINGS}; "
        f"--dataset: per persona, {_per_dataset('orderings')})",
    )
    p.add_argument(
        "--noise",
        type=float,
        default=None,
        metavar="S",
        help=f"synthetic: noise std of the models (default {DEFAULT_NOISE})",
    )
    p.add_argument(
        "--user-noise",
        type=float,
        default=None,
        metavar="S",
        help=f"synthetic: noise std of the user (default {DEFAULT_USER_NOISE})",
    )
    p.add_argument(
        "--items",
        type=int,
        default=None,
        metavar="M",
        help=f"synthetic: number of items (default {DEFAULT_ITEMS}); "
        f"--dataset: items picked for dense overlap ({_per_dataset('items')})",
    )
    p.add_argument(
        "--dataset-csv",
        metavar="PATH",
        help="--dataset: read the table from a CSV with the package's columns (e.g. data/movielens_sample.csv)",
    )
    p.add_argument(
        "--min-coverage",
        type=float,
        default=None,
        metavar="C",
        help=f"--dataset: keep users who rated at least this fraction of the items ({_per_dataset('min_coverage')})",
    )
    p.add_argument(
        "--personas",
        type=int,
        default=None,
        metavar="P",
        help=f"--dataset: personas drawn at random from the users who rated every item ({_per_dataset('personas')})",
    )
    p.add_argument(
        "--bootstrap",
        type=int,
        default=None,
        metavar="B",
        help="--dataset: bootstrap resamples of the personas (default 2000)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the synthetic table and the orderings (default 0)")
    p.add_argument(
        "--out",
        default=None,
        metavar="DIR",
        help=f"output directory (default {DEFAULT_OUT}; --dataset: results/hull_NAME)",
    )
    p.add_argument("--figure", metavar="PATH", help="where to write the figure (default DIR/hull_experiment.png)")
    return p


def _input_error(msg: str) -> int:
    print(f"error: {msg}", file=sys.stderr)
    return 2


def _table(
    args: argparse.Namespace, seed: np.random.SeedSequence
) -> tuple[UtilityTable, int, dict[str, Any] | None] | str:
    """The table of utilities the arguments ask for, its ``n_models`` and synthetic options, or an input error."""
    only = [
        f
        for f, v in (
            ("--dataset-csv", args.dataset_csv),
            ("--min-coverage", args.min_coverage),
            ("--personas", args.personas),
            ("--bootstrap", args.bootstrap),
        )
        if v is not None
    ]
    if only:
        return f"{', '.join(only)} apply only to --dataset"
    if args.orderings < 1:
        return f"--orderings must be >= 1, got {args.orderings}"
    if args.models is not None and args.models < 1:
        return f"--models must be >= 1, got {args.models}"
    if args.csv is not None:
        given = [
            f
            for f, v in (("--noise", args.noise), ("--user-noise", args.user_noise), ("--items", args.items))
            if v is not None
        ]
        if given:
            return f"{', '.join(given)} apply only to --synthetic, not to --csv"
        try:
            table = load_utilities(args.csv, args.user_column, args.item_column)
        except TableError as exc:
            return str(exc)
        n_models = table.n_models if args.models is None else args.models
        if n_models > table.n_models:
            return f"--models {n_models} but {args.csv} has only {table.n_models} model columns"
        return table, n_models, None
    n_models = DEFAULT_MODELS if args.models is None else args.models
    synth: dict[str, Any] = {
        "n_items": DEFAULT_ITEMS if args.items is None else args.items,
        "noise": DEFAULT_NOISE if args.noise is None else args.noise,
        "user_noise": DEFAULT_USER_NOISE if args.user_noise is None else args.user_noise,
    }
    if synth["n_items"] < 1:
        return f"--items must be >= 1, got {synth['n_items']}"
    if not (synth["noise"] >= 0 and synth["user_noise"] >= 0):
        return f"--noise and --user-noise must be >= 0, got {synth['noise']} and {synth['user_noise']}"
    return synthetic_utilities(n_models, rng=np.random.default_rng(seed), **synth), n_models, synth


def _record(
    args: argparse.Namespace,
    table: UtilityTable,
    n_models: int,
    synth: dict[str, Any] | None,
    raw: dict[str, np.ndarray],
    summary: dict[str, dict[str, np.ndarray]],
    full: dict[str, Any],
    elapsed: float,
) -> dict[str, Any]:
    """The content of ``results.json``."""
    return {
        "source": table.source,
        "config": {
            "csv": args.csv,
            "user_column": args.user_column if args.csv else None,
            "models": n_models,
            "orderings": args.orderings,
            "seed": args.seed,
            "synthetic": synth,
        },
        "n_items": table.n_items,
        "n_models_in_table": table.n_models,
        "model_names": list(table.model_names),
        "definitions": {
            **METRICS,
            "offset": 'the sup-norm fits have a free additive offset c (docs/science.md, "The convex-hull distance"); '
            "the MSE fits have none",
            "band": "lo, hi: 2.5th and 97.5th percentiles over orderings (numpy linear interpolation)",
            "values": "objective at the best feasible point known (solver solution, previous n padded with a zero "
            "weight, and the nested candidates described in persuaders.experiments.hull); never below the optimum",
        },
        "n": list(range(1, n_models + 1)),
        "summary": summary,
        "per_ordering": raw,
        "fits_on_all_models_in_table_order": full,
        "seconds": elapsed,
    }


@command
def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status (0 ok, 1 computation error, 2 bad input)."""
    args = _parser().parse_args(argv)
    if args.dataset is not None:
        return run_dataset(args)
    args.orderings = DEFAULT_ORDERINGS if args.orderings is None else args.orderings
    args.out = DEFAULT_OUT if args.out is None else args.out
    t0 = time.perf_counter()
    seeds = np.random.SeedSequence(args.seed).spawn(2)
    got = _table(args, seeds[0])
    if isinstance(got, str):
        return _input_error(got)
    table, n_models, synth = got
    try:
        raw = run_experiment(table, n_models, args.orderings, np.random.default_rng(seeds[1]))
        summary = summarise(raw)
        full = full_fits(table, table.n_models)
    except (ValueError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    out = Path(args.out)
    figure = Path(args.figure) if args.figure else out / "hull_experiment.png"
    try:
        out.mkdir(parents=True, exist_ok=True)
        figure.parent.mkdir(parents=True, exist_ok=True)
        write_csv(out / "results.csv", summary)
        title = (
            f"{table.source} ({table.n_items} items; first n of {args.orderings} random orderings "
            f"of {table.n_models} models)"
        )
        plot(figure, summary, title)
        elapsed = time.perf_counter() - t0
        with open(out / "results.json", "w") as fh:
            json.dump(json_ready(_record(args, table, n_models, synth, raw, summary, full, elapsed)), fh, indent=1)
    except OSError as exc:
        print(f"error: cannot write to {out}: {exc}", file=sys.stderr)
        return 1
    print(
        f"{table.source}: {table.n_items} items; n = 1..{n_models} of {table.n_models} models, "
        f"{args.orderings} orderings"
    )
    print(format_table(summary))
    print(f"band: 2.5-97.5 percentiles over orderings (in {out / 'results.csv'})")
    print(f"wrote {out / 'results.csv'}, {out / 'results.json'}, {figure} in {elapsed:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
