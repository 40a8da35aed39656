"""The outputs of a sweep: one row per trial, ``results.csv``, ``results.md`` and plots."""

from __future__ import annotations

import csv
import json
import math
import re
import sys
from pathlib import Path
from typing import Any

import numpy as np

from persuaders.envs.game.profiles import read_json
from persuaders.envs.game.validation import is_number
from persuaders.train.rundir import SUMMARY, TIMING
from persuaders.train.sweep_plan import is_replicate

__all__ = [
    "RESULTS_CSV",
    "RESULTS_MD",
    "trial_metrics",
    "collect_rows",
    "write_results",
    "markdown_table",
    "plot_results",
]

RESULTS_CSV, RESULTS_MD = "results.csv", "results.md"


def trial_metrics(summary: dict[str, Any], reused: bool, seconds: float, run_dir: str) -> dict[str, Any]:
    """What a trial reports to Tune: exact values, analytic bounds and exploitability."""
    b = summary["bounds"]
    ex = summary.get("exploitability", {})
    nan = float("nan")
    return {
        "user_value": summary["user_value"],
        "speaker_values": dict(summary["speaker_values"]),
        "no_information": b["no_information"],
        "full_information": b["full_information"],
        "bayes_optimal": b.get("bayes_optimal", nan),
        "competition_bound": nan if b.get("competition_bound") is None else b["competition_bound"],
        "epsilon": b["hull"]["epsilon"],
        "single_sender": {n: v["sender_value"] for n, v in b["single_sender"].items()},
        "exploitability": ex.get("exploitability", nan),
        "converged_at": converged_at(summary),
        "gain": dict(ex.get("gain", {})),
        "global_step": summary.get("global_step", 0),
        "reused": reused,
        "seconds": seconds,
        "run_dir": run_dir,
    }


#: A run has converged once the user's exact value stays within this of its final value.
CONVERGENCE_TOL = 0.005


def converged_at(summary: dict[str, Any], tol: float = CONVERGENCE_TOL) -> int | float:
    """The first environment step after which the user's exact value stays within ``tol`` of its
    final value (from the summary's evaluation history; NaN without one)."""
    history = summary.get("history") or []
    if not history:
        return float("nan")
    final = summary["user_value"]
    step = history[-1]["step"]
    for h in reversed(history):
        if abs(h["user_value"] - final) > tol:
            break
        step = h["step"]
    return int(step)


def _error_text(err: Any) -> str:
    cause = getattr(err, "cause", None) or err
    lines = [s for s in str(cause).strip().splitlines() if s.strip()]
    text = f"{type(cause).__name__}: {lines[-1] if lines else ''}"
    return text.replace("|", "/")[:200]


def collect_rows(trials: list[dict[str, Any]], out: Path, results: Any) -> list[dict[str, Any]]:
    """One row per trial, from its ``summary.json`` and Tune's record of it."""
    tune_result = {}
    if results is not None:
        for r in results:
            tid = (r.config or {}).get("trial")
            if tid is not None:
                tune_result[tid] = r
    rows = []
    for t in trials:
        run_dir = out / "trials" / t["dir"]
        row: dict[str, Any] = {
            "trial": t["id"],
            "params": t["params"],
            "run_dir": str(run_dir.relative_to(out)),
            "game": t["config"].game,
        }
        summary_file = run_dir / SUMMARY
        r = tune_result.get(t["id"])
        summary = read_json(summary_file, "summary") if summary_file.exists() else None
        if r is not None and r.error is not None:
            row["status"] = "error: " + _error_text(r.error)
        elif summary is not None:
            reused = bool(r is not None and (r.metrics or {}).get("reused"))
            row["status"] = "ok (reused)" if reused else "ok"
        else:
            row["status"] = "unfinished"
        if summary is not None:
            m = trial_metrics(summary, False, 0.0, "")
            row.update(
                {
                    k: m[k]
                    for k in (
                        "user_value",
                        "no_information",
                        "full_information",
                        "competition_bound",
                        "epsilon",
                        "exploitability",
                        "converged_at",
                    )
                }
            )
            row["game"] = summary["game"]
            row["speaker_values"] = summary["speaker_values"]
            ex = summary.get("exploitability", {})
            row["exploitability_exact"] = all(ex.get("exact", {}).values()) if "exact" in ex else None
            timing = run_dir / TIMING
            if timing.exists():
                row["seconds"] = read_json(timing, "timing").get("seconds_this_session")
        rows.append(row)
    return rows


# ---------------------------------------------------------------------------------- outputs
VALUE_COLUMNS = [
    ("user_value", "user"),
    ("no_information", "no-info"),
    ("full_information", "full-info"),
    ("competition_bound", "comp. bound"),
    ("epsilon", "eps"),
    ("exploitability", "exploitability"),
    ("converged_at", "converged at (steps)"),
]


def _fmt(v: Any, digits: int = 4) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        text = f"{v:.{digits}f}"
        return text[1:] if text.startswith("-") and float(text) == 0 else text  # no "-0.0000"
    return str(v)


def write_results(sweep: dict[str, Any], rows: list[dict[str, Any]], out: Path) -> None:
    """``results.csv``, ``results.md`` and ``plot_<key>.png`` in ``out``."""
    keys = list(sweep["grid"]) + list(sweep["random"])
    with open(out / RESULTS_CSV, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(
            [
                "trial",
                *keys,
                "game",
                *(c for c, _ in VALUE_COLUMNS),
                "exploitability_exact",
                "status",
                "speaker_values",
                "seconds",
                "run_dir",
            ]
        )
        for r in rows:
            w.writerow(
                [
                    r["trial"],
                    *(_csv_value(r["params"][k]) for k in keys),
                    r["game"],
                    *(_csv_value(r.get(c)) for c, _ in VALUE_COLUMNS),
                    _csv_value(r.get("exploitability_exact")),
                    r["status"],
                    ";".join(f"{n}={v:.6g}" for n, v in r.get("speaker_values", {}).items()),
                    _csv_value(r.get("seconds")),
                    r["run_dir"],
                ]
            )
    (out / RESULTS_MD).write_text(markdown_table(sweep, rows))
    try:
        plot_results(sweep, rows, out)
    except Exception as exc:  # plots are a convenience: never lose the table for them
        print(f"warning: plots not written: {type(exc).__name__}: {exc}", file=sys.stderr)


def _csv_value(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return "nan" if math.isnan(v) else repr(v)
    if isinstance(v, (list, dict)):
        return json.dumps(v)
    return str(v)


def markdown_table(sweep: dict[str, Any], rows: list[dict[str, Any]]) -> str:
    keys = list(sweep["grid"]) + list(sweep["random"])
    head = ["trial", *keys, *(label for _, label in VALUE_COLUMNS), "status"]
    lines = [
        f"# Sweep {sweep['name']}: exact outcomes against theory",
        "",
        "user = the user's exact expected utility under the learned (committed) schemes; "
        "comp. bound = full information - 2 eps (blank when its premises fail); "
        "exploitability = the largest unilateral gain of a speaker (a lower bound for multi-round games).",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "|".join("---" for _ in head) + "|",
    ]
    for r in rows:
        cells = [
            r["trial"],
            *(_fmt(r["params"][k]) for k in keys),
            *(_fmt(r.get(c)) for c, _ in VALUE_COLUMNS),
            r["status"],
        ]
        lines.append("| " + " | ".join(cells) + " |")
    n_ok = sum(r["status"].startswith("ok") for r in rows)
    lines += ["", f"{n_ok} of {len(rows)} trials finished."]
    return "\n".join(lines) + "\n"


#: Theory lines of the utility plots: column -> (style, line width, alpha, legend label).
THEORY_STYLES = {
    "full_information": ("--", 1.5, 1.0, "full information"),
    "competition_bound": (":", 2.0, 1.0, "competition bound (fi - 2 eps)"),
    "no_information": ("-.", 1.0, 0.4, "no information"),
}
THEORY_MARKERS = {
    "full_information": ("_", 2.0, 1.0, "full information"),
    "competition_bound": ("v", 1.0, 1.0, "competition bound (fi - 2 eps)"),
    "no_information": ("x", 1.0, 0.4, "no information"),
}


def _mean(xs: list[float | None]) -> float:
    kept = [x for x in xs if x is not None and not (isinstance(x, float) and math.isnan(x))]
    return float(np.mean(kept)) if kept else float("nan")


def _mean_line(
    ax: Any,
    at: dict[Any, list[dict[str, Any]]],
    col: str,
    style: str,
    colour: str,
    lw: float = 1.5,
    alpha: float = 1.0,
    lab: str | None = None,
) -> None:
    """Plot, at each x of ``at`` (x -> its trials), the mean of column ``col`` over the trials."""
    ux = list(at)
    ys = [_mean([r.get(col) for r in at[x]]) for x in ux]
    ax.plot(ux, ys, style, color=colour, lw=lw, alpha=alpha, label=lab, markersize=14 if style == "_" else 6)


def plot_results(sweep: dict[str, Any], rows: list[dict[str, Any]], out: Path) -> list[Path]:
    """For each swept key: user utility and exploitability against it, with the theory's lines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    grid, random = sweep["grid"], sweep["random"]
    keys = list(grid) + list(random)
    main_keys = [k for k in keys if not is_replicate(k)] or keys
    done = [r for r in rows if "user_value" in r]
    written: list[Path] = []
    if not done:  # nothing finished yet: no points to plot
        return written
    for key in main_keys:
        group_keys = [k for k in grid if k != key and not is_replicate(k)]
        values = [r["params"][key] for r in done]
        numeric = all(is_number(v) for v in values)
        order = grid[key] if key in grid else sorted({json.dumps(v, default=str) for v in values})
        if numeric:
            xpos = {json.dumps(v, default=str): float(v) for v in values}
        else:
            xpos = {
                json.dumps(v, default=str): float(i)
                for i, v in enumerate(order if key in grid else [json.loads(o) for o in order])
            }
        groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
        for r in done:
            groups.setdefault(tuple(json.dumps(r["params"][g], default=str) for g in group_keys), []).append(r)
        # Categorical keys get markers only (a line between categories means nothing).
        styles = THEORY_STYLES if numeric else THEORY_MARKERS
        fig, (ax_u, ax_e) = plt.subplots(1, 2, figsize=(11, 4.2))
        colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
        for gi, (gval, members) in enumerate(sorted(groups.items())):
            colour = colours[gi % len(colours)]
            label = (
                ", ".join(f"{k.split('.')[-1]}={json.loads(v)}" for k, v in zip(group_keys, gval, strict=True))
                or "trials"
            )
            xs = np.array([xpos[json.dumps(r["params"][key], default=str)] for r in members])
            ax_u.scatter(xs, [r["user_value"] for r in members], color=colour, alpha=0.45, s=18)
            ax_e.scatter(xs, [r["exploitability"] for r in members], color=colour, alpha=0.45, s=18)
            at = {x: [r for r, xr in zip(members, xs, strict=True) if xr == x] for x in np.unique(xs)}
            if key in grid:
                _mean_line(ax_u, at, "user_value", "o-" if numeric else "o", colour, lab=label)
                _mean_line(ax_e, at, "exploitability", "o-" if numeric else "o", colour, lab=label)
            else:
                ax_u.plot([], [], "o", color=colour, label=label)
            for col, (style, lw, alpha, _) in styles.items():
                _mean_line(ax_u, at, col, style, colour, lw=lw, alpha=alpha)
        for style, lw, alpha, lab in styles.values():
            ax_u.plot([], [], style, color="k", lw=lw, alpha=alpha, label=lab, markersize=14 if style == "_" else 6)
        ax_e.axhline(0.0, color="k", lw=0.8)
        for ax, title in ((ax_u, "user's exact utility"), (ax_e, "exploitability (best unilateral gain)")):
            ax.set_xlabel(key)
            ax.set_title(title)
            if not numeric:
                labels = order if key in grid else [json.loads(o) for o in order]
                ax.set_xticks([xpos[json.dumps(v, default=str)] for v in labels if json.dumps(v, default=str) in xpos])
                ax.set_xticklabels([str(v) for v in labels if json.dumps(v, default=str) in xpos])
            elif key in random and "loguniform" in random[key]:
                ax.set_xscale("log")
            elif key in grid:
                ax.set_xticks(sorted({float(v) for v in values}))
        reps = [k for k in keys if is_replicate(k) and k != key]
        note = f" (lines: mean over {', '.join(reps)})" if reps and key in grid else ""
        fig.suptitle(f"{sweep['name']}: against {key}{note}", fontsize=10)
        ax_u.legend(fontsize=7, loc="best")
        fig.tight_layout()
        path = out / f"plot_{re.sub(r'[^A-Za-z0-9_.-]', '_', key)}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)
    return written
