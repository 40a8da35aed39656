"""The competition experiment (the paper's Experiment 1): best-response dynamics on random games.

``python -m persuaders.experiments competition --config configs/experiments/competition.yaml
[--games N] [--out DIR] [--seed N] [--workers N]`` (or ``python -m persuaders.experiments.competition ...``)

Best-response dynamics of the best-AI selection game on
many seeded random games (:func:`persuaders.game.random_games.random_game`), for k = 1..8 speakers, in two
regimes: the user's utility inside the convex hull of the speakers' (eps = 0) and far from it
(eps >= ``epsilon``, 0.25 by default). For each game the dynamics start from babbling; the user's
exact utility at the outcome is normalised so that no information is 0 and full information is 1,

    normalised = (V - V_no_information) / (V_full_information - V_no_information),

(games where information is worth less than ``min_information_value`` to the user are redrawn
and counted). Reported per (regime, k): the number of games, the fraction where the dynamics
converged, the mean normalised utility over converged games with a 95% confidence interval
(1.96 standard errors), the same over all games, and the fraction of converged games within
1e-6 of the best-AI bound. Theory (docs/science.md, "The best-AI bound"): inside the hull, every converged
outcome gives the user at least her full-information value (normalised >= 1 up to the logit
loss) when k >= 2; outside it, not necessarily.

``python -m persuaders.experiments hull`` is the convex-hull experiment (Experiment 2,
:mod:`persuaders.experiments.hull`); docs/science.md, "Experiments", describes both.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from tqdm.auto import tqdm

from persuaders.game.commands import command
from persuaders.eval.best_response import best_response_dynamics
from persuaders.eval.theory import (
    best_ai_bound,
    full_information_value,
    no_information_value,
)
from persuaders.game.random_games import random_game
from persuaders.game.validation import SpecError, as_float, as_int, check_keys

__all__ = [
    "COMPETITION_DEFAULTS",
    "FULL_INFO_TOL",
    "load_competition_config",
    "game_seed",
    "one_game",
    "aggregate",
    "plot_competition",
    "run_competition",
    "main",
]

COMPETITION_DEFAULTS: dict[str, Any] = {
    "k_values": [1, 2, 3, 4, 5, 6, 7, 8],
    "games": 200,
    "regimes": ["inside", "outside"],
    "epsilon": 0.25,
    "n_states": 2,
    "n_actions": 3,
    "rationality": "inf",
    "messages": None,  # default n_states + 1: enough for any constrained best response
    "seed": 0,
    "tol": 1e-6,
    "max_passes": 50,
    "min_information_value": 0.01,
    "workers": 2,
}


def load_competition_config(path: str | Path | None, overrides: dict[str, Any]) -> dict[str, Any]:
    """The experiment's configuration: :data:`COMPETITION_DEFAULTS`, then the YAML file at ``path``,
    then the ``overrides`` that are not None; a bad key or value raises :class:`SpecError` naming it."""
    raw: dict[str, Any] = {}
    if path is not None:
        p = Path(path)
        if not p.exists():
            raise SpecError("config", f"{p} does not exist")
        raw = yaml.safe_load(p.read_text()) or {}
    raw.update({k: v for k, v in overrides.items() if v is not None})
    check_keys(raw, "", COMPETITION_DEFAULTS.keys())
    cfg = {**COMPETITION_DEFAULTS, **raw}
    ks = cfg["k_values"]
    if not isinstance(ks, list) or not ks:
        raise SpecError("k_values", "expected a non-empty list of speaker counts")
    cfg["k_values"] = [as_int(k, "k_values", minimum=1) for k in ks]
    for key, minimum in [
        ("games", 1),
        ("n_states", 2),
        ("n_actions", 2),
        ("seed", 0),
        ("max_passes", 1),
        ("workers", 1),
    ]:
        cfg[key] = as_int(cfg[key], key, minimum=minimum)
    if not isinstance(cfg["regimes"], list) or not set(cfg["regimes"]) <= {"inside", "outside"} or not cfg["regimes"]:
        raise SpecError("regimes", "expected a list drawn from inside, outside")
    cfg["epsilon"] = as_float(cfg["epsilon"], "epsilon", exclusive_minimum=0.0)
    cfg["tol"] = as_float(cfg["tol"], "tol", exclusive_minimum=0.0)
    cfg["min_information_value"] = as_float(cfg["min_information_value"], "min_information_value", minimum=0.0)
    lam = as_float(cfg["rationality"], "rationality", exclusive_minimum=0.0, allow_inf=True)
    cfg["rationality"] = "inf" if math.isinf(lam) else lam
    if cfg["messages"] is not None:
        cfg["messages"] = as_int(cfg["messages"], "messages", minimum=1)
    return cfg


#: A converged outcome counts as full information when the user's value is within this of it
#: (the dynamics stop at gains below ``tol`` = 1e-6).
FULL_INFO_TOL = 1e-6


def game_seed(base: int, regime: str, k: int, index: int) -> int:
    """A distinct, reproducible seed for each game of the experiment."""
    return (base * 1_000_003 + (0 if regime == "inside" else 500_009) + k * 10_007 + index) % (2**31 - 1)


def one_game(args: tuple) -> dict[str, Any]:
    """Draw the ``index``-th usable game of (regime, k) and run best-AI best-response dynamics on it.

    Games where information is worth less than ``min_information_value`` to the user (for a best
    responder: the same action is best in every state) have no meaningful normalisation; they are
    redrawn (with the next seed) and counted in ``redrawn``.
    """
    regime, k, index, cfg = args
    for attempt in range(1000):
        seed = game_seed(cfg["seed"], regime, k, index * 1000 + attempt)
        game = random_game(
            k,
            cfg["n_states"],
            cfg["n_actions"],
            seed=seed,
            regime=regime,
            epsilon=cfg["epsilon"],
            rationality=cfg["rationality"],
            messages=cfg["messages"] if cfg["messages"] is not None else cfg["n_states"] + 1,
        )
        ni, fi = no_information_value(game), full_information_value(game)
        if fi - ni >= cfg["min_information_value"]:
            break
    else:
        raise RuntimeError(f"no game with information worth {cfg['min_information_value']} found for {regime}, k={k}")
    res = best_response_dynamics(game, protocol="best_ai", tol=cfg["tol"], max_passes=cfg["max_passes"])
    bound = best_ai_bound(game)
    return {
        "regime": regime,
        "k": k,
        "index": index,
        "seed": seed,
        "redrawn": attempt,
        "no_information": ni,
        "full_information": fi,
        "best_ai_bound": bound,
        "converged": bool(res.converged),
        "passes": int(res.passes),
        "user_value": float(res.user_value),
        "normalized": (res.user_value - ni) / (fi - ni),
        "exploitability": float(res.exploitability.exploitability) if res.exploitability is not None else None,
    }


def aggregate(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (regime, k): counts, convergence, mean normalised utility with a 95% CI."""
    rows = []
    keys = sorted({(r["regime"], r["k"]) for r in records})
    for regime, k in keys:
        used = [r for r in records if r["regime"] == regime and r["k"] == k]
        conv = [r for r in used if r["converged"]]
        x = np.array([r["normalized"] for r in conv])
        xa = np.array([r["normalized"] for r in used])

        def ci(a: np.ndarray) -> float:
            return float(1.96 * a.std(ddof=1) / math.sqrt(len(a))) if len(a) > 1 else float("nan")

        rows.append(
            {
                "regime": regime,
                "k": k,
                "n_games": len(used),
                "n_redrawn": int(sum(r["redrawn"] for r in used)),
                "converged_fraction": len(conv) / len(used) if used else float("nan"),
                "mean_normalized_user_utility": float(x.mean()) if len(x) else float("nan"),
                "ci95": ci(x),
                "mean_normalized_user_utility_all": float(xa.mean()) if len(xa) else float("nan"),
                "ci95_all": ci(xa),
                "fraction_at_full_information": float(
                    np.mean([r["user_value"] >= r["full_information"] - FULL_INFO_TOL for r in conv])
                )
                if conv
                else float("nan"),
                "min_normalized_user_utility": float(x.min()) if len(x) else float("nan"),
                "fraction_meeting_best_ai_bound": float(
                    np.mean(
                        [r["user_value"] >= r["best_ai_bound"] - 1e-6 for r in conv if r["best_ai_bound"] is not None]
                    )
                )
                if conv
                else float("nan"),
            }
        )
    return rows


def plot_competition(rows: list[dict[str, Any]], path: Path, cfg: dict[str, Any]) -> None:
    """Mean normalised user utility against k, one line (with its 95% band) per regime."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.2, 4))
    styles = {
        "inside": ("tab:green", "inside the hull (eps = 0)"),
        "outside": ("tab:red", f"outside (eps >= {cfg['epsilon']})"),
    }
    for regime in cfg["regimes"]:
        rs = sorted((r for r in rows if r["regime"] == regime), key=lambda r: r["k"])
        k = np.array([r["k"] for r in rs])
        m = np.array([r["mean_normalized_user_utility"] for r in rs])
        c = np.array([r["ci95"] for r in rs])
        color, label = styles[regime]
        ax.plot(k, m, "o-", color=color, label=label)
        ax.fill_between(k, m - np.nan_to_num(c), m + np.nan_to_num(c), color=color, alpha=0.2)
    ax.axhline(1.0, color="gray", linestyle="--", linewidth=1, label="full information")
    ax.axhline(0.0, color="gray", linestyle=":", linewidth=1, label="no information")
    ax.set_xlabel("number of competing speakers k")
    ax.set_ylabel("user utility (0 = no info, 1 = full info)")
    ax.set_title("Best-AI selection: best-response dynamics outcomes")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def run_competition(cfg: dict[str, Any], out: Path, progress: bool = True) -> list[dict[str, Any]]:
    """Every game of the configuration (in ``workers`` processes), aggregated; writes ``results.csv``,
    ``results.json``, ``games.json``, ``config.yaml`` and ``competition.png`` in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    jobs = [(regime, k, g, cfg) for regime in cfg["regimes"] for k in cfg["k_values"] for g in range(cfg["games"])]
    t0 = time.perf_counter()
    if cfg["workers"] > 1:
        with ProcessPoolExecutor(cfg["workers"]) as pool:
            records = list(
                tqdm(pool.map(one_game, jobs, chunksize=8), total=len(jobs), disable=not progress, desc="competition")
            )
    else:
        records = [one_game(j) for j in tqdm(jobs, disable=not progress, desc="competition")]
    rows = aggregate(records)
    with open(out / "results.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    (out / "results.json").write_text(json.dumps(rows, indent=2) + "\n")
    (out / "games.json").write_text(json.dumps(records, indent=1) + "\n")
    (out / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    plot_competition(rows, out / "competition.png", cfg)
    elapsed = time.perf_counter() - t0
    print(f"{len(jobs)} games in {elapsed:.0f} s; results in {out}")
    print("\n| regime | k | games | converged | mean normalised (converged) | 95% CI | at full info | mean (all) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['regime']} | {r['k']} | {r['n_games']} | {r['converged_fraction']:.3f} | {r['mean_normalized_user_utility']:.4f} | "
            f"±{r['ci95']:.4f} | {r['fraction_at_full_information']:.3f} | {r['mean_normalized_user_utility_all']:.4f} |"
        )
    return rows


@command
def main(argv: Sequence[str] | None = None) -> int:
    """``python -m persuaders.experiments competition [--config PATH] [--games N] [--seed N] [--workers N] [--out DIR]``."""
    parser = argparse.ArgumentParser(
        prog="python -m persuaders.experiments competition",
        description="Best-response dynamics of the best-AI game, inside and outside the hull.",
    )
    parser.add_argument("--config", help="configs/experiments/competition.yaml")
    parser.add_argument("--games", type=int, help="games per (regime, k)")
    parser.add_argument("--seed", type=int)
    parser.add_argument("--workers", type=int)
    parser.add_argument("--out", default="results/competition")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    try:
        cfg = load_competition_config(args.config, {"games": args.games, "seed": args.seed, "workers": args.workers})
    except SpecError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    run_competition(cfg, Path(args.out), progress=not args.no_progress)
    return 0


if __name__ == "__main__":
    sys.exit(main())
