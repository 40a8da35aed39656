"""Does competition protect a non-Bayesian user? The competition experiment, user by user.

    nice -n 10 python benchmarks/competition_nonbayesian.py [--games 20] [--workers 1] \\
        [--out docs/results/competition_nonbayesian]

Exact best-response dynamics (``simultaneous`` protocol) on the random games of the competition
experiment (persuaders.eval.experiments.competition: 2 states, 3 actions, 3 messages, a
best-responding user, k = 1..4 speakers who see the state, inside and outside the hull), played
with the Bayesian user and, on the same games, with Grether users of base-rate neglect
(``alpha`` 0.6 and 0.3, ``beta`` 1) and of conservatism (``alpha`` 1, ``beta`` 0.6 and 0.3)
(docs/science.md, "Non-Bayesian users": in two-state games a best responder to a perceived belief
has a Bayesian equivalent, so the dynamics and their certificates stay exact).

Printed (Markdown) and written to ``--out``: per (user, regime, k) the mean normalised utility
(the Bayesian user's no information = 0, full information = 1, a common scale) with its 95%
confidence interval over converged games, the fraction converged, the fraction of converged
games where her utility is below the Bayesian user's competition bound (``V_full - 2 eps``), and
the largest shortfall below it; ``competition_nonbayesian.png`` plots the first against k.
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from persuaders.eval.experiments.competition import load_competition_config, one_game
from persuaders.eval.experiments.runner import run_games

USERS: list[tuple[str, dict[str, Any] | None]] = [
    ("Bayesian", None),
    ("base-rate neglect, alpha 0.6", {"model": "grether", "alpha": 0.6, "beta": 1.0}),
    ("base-rate neglect, alpha 0.3", {"model": "grether", "alpha": 0.3, "beta": 1.0}),
    ("conservatism, beta 0.6", {"model": "grether", "alpha": 1.0, "beta": 0.6}),
    ("conservatism, beta 0.3", {"model": "grether", "alpha": 1.0, "beta": 0.3}),
]
K_VALUES = [1, 2, 3, 4]


def _rows(label: str, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for regime in ("inside", "outside"):
        for k in K_VALUES:
            used = [r for r in records if r["regime"] == regime and r["k"] == k]
            conv = [r for r in used if r["converged"]]
            x = np.array([r["normalized"] for r in conv])
            bound = [r for r in conv if r.get("bayes_bound", r["best_ai_bound"]) is not None]
            short = [max(0.0, r.get("bayes_bound", r["best_ai_bound"]) - r["user_value"]) for r in bound]
            rows.append(
                {
                    "user": label,
                    "regime": regime,
                    "k": k,
                    "games": len(used),
                    "converged": len(conv) / len(used) if used else math.nan,
                    "mean": float(x.mean()) if len(x) else math.nan,
                    "ci95": float(1.96 * x.std(ddof=1) / math.sqrt(len(x))) if len(x) > 1 else math.nan,
                    "below_bayes_bound": float(np.mean([s > 1e-6 for s in short])) if short else math.nan,
                    "max_shortfall": float(max(short)) if short else math.nan,
                }
            )
    return rows


def _plot(rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), sharey=True)
    colours = ["black", "tab:blue", "tab:cyan", "tab:red", "tab:orange"]
    for ax, regime in zip(axes, ("inside", "outside"), strict=True):
        for (label, _), colour in zip(USERS, colours, strict=True):
            rs = [r for r in rows if r["user"] == label and r["regime"] == regime]
            k = np.array([r["k"] for r in rs])
            m = np.array([r["mean"] for r in rs])
            c = np.nan_to_num(np.array([r["ci95"] for r in rs]))
            ax.plot(k, m, "o-", color=colour, label=label)
            ax.fill_between(k, m - c, m + c, color=colour, alpha=0.12)
        ax.axhline(1.0, color="gray", linestyle="--", linewidth=1)
        ax.axhline(0.0, color="gray", linestyle=":", linewidth=1)
        ax.set_xticks(K_VALUES)
        ax.set_xlabel("number of competing speakers k")
        ax.set_title(f"{regime} the hull" if regime == "inside" else "outside the hull (eps >= 0.25)")
    axes[0].set_ylabel("user utility (Bayesian: 0 = no info, 1 = full info)")
    axes[1].legend(fontsize=7)
    fig.suptitle("Competition and non-Bayesian users (simultaneous, exact best-response dynamics)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--games", type=int, default=20, help="games per (regime, k)")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--out", default="docs/results/competition_nonbayesian")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows, games = [], {}
    for index, (label, user) in enumerate(USERS):
        cfg = load_competition_config(
            None,
            {
                "protocol": "simultaneous",
                "user": user,
                "k_values": K_VALUES,
                "games": args.games,
                "workers": args.workers,
            },
        )
        jobs = [(regime, k, g, cfg) for regime in cfg["regimes"] for k in K_VALUES for g in range(args.games)]
        records = run_games(one_game, jobs, workers=args.workers, journal=out / f"games_{index}.jsonl", desc=label)
        games[label] = records
        rows += _rows(label, records)
    (out / "results.json").write_text(json.dumps(rows, indent=2) + "\n")
    _plot(rows, out / "competition_nonbayesian.png")
    print(
        "| user | regime | k | games | converged | mean normalised | 95% CI "
        "| below the Bayesian bound | largest shortfall |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['user']} | {r['regime']} | {r['k']} | {r['games']} | {r['converged']:.2f} | {r['mean']:.4f} | "
            f"±{r['ci95']:.4f} | {r['below_bayes_bound']:.2f} | {r['max_shortfall']:.4f} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
