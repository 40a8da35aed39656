"""``persuaders-experiment hull [options]``: the convex-hull experiment's command line.

The experiment, its metrics and its outputs are described in :mod:`persuaders.eval.experiments.hull`.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from persuaders.cli.common import command
from persuaders.envs.game.validation import MAX_SEED
from persuaders.eval.experiments.hull import (
    DEFAULT_MODELS,
    DEFAULT_ORDERINGS,
    DEFAULT_OUT,
    format_table,
    write_csv,
)
from persuaders.eval.experiments.hull_datasets import DATASETS
from persuaders.eval.experiments.hull_fits import METRICS, full_fits, run_experiment, summarise
from persuaders.eval.experiments.hull_output import json_ready, plot
from persuaders.eval.experiments.hull_personas import run_dataset
from persuaders.eval.experiments.hull_table import (
    DEFAULT_ITEMS,
    DEFAULT_NOISE,
    DEFAULT_USER_NOISE,
    TableError,
    UtilityTable,
    load_utilities,
    synthetic_utilities,
)

__all__ = ["main"]


def _per_dataset(key: str) -> str:
    """The data sets' defaults of one setting, for the help text (``None``: all; personas: every complete user)."""
    return ", ".join(
        f"{name} {'all' if spec.defaults.get(key) is None else spec.defaults[key]}"
        for name, spec in sorted(DATASETS.items())
    )


def _parser() -> argparse.ArgumentParser:
    # long: one add_argument per option, each with its help text
    p = argparse.ArgumentParser(
        prog="persuaders-experiment hull",
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
            "weight, and the nested candidates described in persuaders.eval.experiments.hull); never below the optimum",
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
    if not 0 <= args.seed <= MAX_SEED:
        return _input_error(f"--seed: must be an integer in [0, {MAX_SEED}], got {args.seed}")
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
