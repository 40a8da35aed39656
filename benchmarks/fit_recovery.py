"""Parameter recovery and power of the user-model fits (docs/fitting.md, docs/results/fit_recovery.md).

    nice -n 10 python benchmarks/fit_recovery.py [--seeds 50] [--power-seeds 30] [--decisions 2000]

Prints Markdown tables.

**Coverage.** For each setting (a game, a true user model), ``--seeds`` data sets of ``--decisions``
decisions by 20 participants are simulated under the ``random`` profile (fresh full-support
schemes every decision: varied likelihoods, which identify ``alpha`` and ``beta``;
persuaders.eval.fitting.simulate), the true model is fitted by maximum likelihood, and the table
gives, per parameter, the share of seeds whose 95% interval (Wald on the transformed scale:
``g(theta +- 1.96 se)``) covers the true value (about 0.95 expected; with 50 seeds a share in
[0.88, 1] is within two binomial standard errors), the median estimate, and the share of seeds in
which BIC picks the true model among the models identified in the game. A few seeds also get
participant-clustered bootstrap intervals (``--bootstrap-seeds``, 30 refits each).

**Power.** Grether users with several ``(alpha, beta)`` (rationality 4, game ``kg``) decide ``N``
times; the grether and logit models are fitted, and the test rejects Bayesian logit when the
likelihood ratio ``2 (loglik_grether - loglik_logit)`` exceeds the 95% quantile of chi-square with
2 degrees of freedom (5.991; logit is grether with ``alpha = beta = 1``), or when BIC prefers
grether. For each ``(alpha, beta)`` the table gives the power (share of ``--power-seeds`` data
sets rejecting) at each ``N`` of a doubling grid, stopping at the first ``N`` where both reach 0.8.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from persuaders.envs.game import GretherUser, LogitUser, ShrinkageUser, load_game, random_game
from persuaders.envs.game.spec import Game
from persuaders.envs.game.users import UserModel
from persuaders.eval.fitting import DataError, fit_model, simulate_choices

#: chi-square(2) 95% quantile: -2 ln(0.05).
CHI2_2_95 = -2 * math.log(0.05)
PARTICIPANTS = 20


def _settings() -> list[tuple[str, Game, UserModel, str, dict[str, float]]]:
    kg = load_game("kg")
    r33 = random_game(1, 3, 3, seed=7)
    r23 = random_game(1, 2, 3, seed=7)
    return [
        (
            "kg (2 states, 2 actions)",
            kg,
            GretherUser(4.0, 0.6, 1.5),
            "grether",
            {"alpha": 0.6, "beta": 1.5, "rationality": 4.0},
        ),
        ("kg", kg, LogitUser(4.0), "logit", {"rationality": 4.0}),
        (
            "random 3 states, 3 actions (seed 7)",
            r33,
            GretherUser(8.0, 0.6, 1.5),
            "grether",
            {"alpha": 0.6, "beta": 1.5, "rationality": 8.0},
        ),
        (
            "random 2 states, 3 actions (seed 7)",
            r23,
            ShrinkageUser(10.0, 0.4),
            "shrinkage",
            {"w": 0.4, "rationality": 10.0},
        ),
    ]


def _candidates(game: Game) -> list[str]:
    out = ["logit", "grether"]
    if np.ptp(game.user.utility.mean(axis=1)) > 1e-12:  # shrinkage is identified (estimate.py)
        out.append("shrinkage")
    return out


def coverage(seeds: int, decisions: int, bootstrap_seeds: int) -> list[str]:
    rows = [
        "| game | true model | parameter | true | median estimate | coverage of 95% intervals "
        "| bootstrap coverage | BIC picks the true model |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for label, game, model, name, truth in _settings():
        covered: dict[str, list[bool]] = {k: [] for k in truth}
        boot: dict[str, list[bool]] = {k: [] for k in truth}
        est: dict[str, list[float]] = {k: [] for k in truth}
        picked = []
        for seed in range(seeds):
            data = simulate_choices(game, model, "random", decisions, PARTICIPANTS, seed=seed)
            fits = {m: fit_model(m, data, game, starts=2, seed=seed) for m in _candidates(game)}
            fit = fits[name]
            picked.append(min(fits, key=lambda m: fits[m].bic) == name)
            for k, v in truth.items():
                lo, hi = fit.ci[k]
                covered[k].append(lo is not None and hi is not None and lo <= v <= hi)
                est[k].append(fit.params[k])
            if seed < bootstrap_seeds:
                b = fit_model(name, data, game, starts=1, bootstrap=30, seed=seed)
                for k, v in truth.items():
                    boot[k].append(b.ci[k][0] <= v <= b.ci[k][1])
        for k, v in truth.items():
            bcov = f"{np.mean(boot[k]):.2f} ({len(boot[k])} seeds)" if boot[k] else "-"
            rows.append(
                f"| {label} | {model.label()} | {k} | {v:g} | {statistics.median(est[k]):.3f} | "
                f"{np.mean(covered[k]):.2f} ({seeds} seeds) | {bcov} | {np.mean(picked):.2f} |"
            )
    return rows


def power(seeds: int, grid: Sequence[int]) -> list[str]:
    game = load_game("kg")
    rows = [
        "| alpha | beta | decisions N | power, likelihood ratio (5%) | power, BIC |",
        "|---|---|---|---|---|",
    ]
    needed = []
    for alpha, beta in [(0.6, 1.0), (1.0, 0.6), (1.0, 1.5), (0.6, 1.5), (0.8, 1.2)]:
        found: dict[str, Any] = {"lr": None, "bic": None}
        for n in grid:
            lr, bic = [], []
            for seed in range(seeds):
                data = simulate_choices(
                    game, GretherUser(4.0, alpha, beta), "random", n, PARTICIPANTS, seed=1000 + seed
                )
                try:
                    g, lg = fit_model("grether", data, game, starts=1), fit_model("logit", data, game, starts=1)
                except DataError:
                    lr.append(False)
                    bic.append(False)
                    continue
                lr.append(2 * (g.loglik - lg.loglik) > CHI2_2_95)
                bic.append(g.bic < lg.bic)
            p_lr, p_bic = float(np.mean(lr)), float(np.mean(bic))
            rows.append(f"| {alpha:g} | {beta:g} | {n} | {p_lr:.2f} | {p_bic:.2f} |")
            found["lr"] = found["lr"] or (n if p_lr >= 0.8 else None)
            found["bic"] = found["bic"] or (n if p_bic >= 0.8 else None)
            if found["lr"] and found["bic"]:
                break
        needed.append((alpha, beta, found["lr"], found["bic"]))
    summary = [
        "| alpha | beta | decisions for 80% power, likelihood ratio | decisions for 80% power, BIC |",
        "|---|---|---|---|",
    ]
    for a, b, n_lr, n_bic in needed:
        summary.append(f"| {a:g} | {b:g} | {n_lr or f'> {grid[-1]}'} | {n_bic or f'> {grid[-1]}'} |")
    return [*summary, "", *rows]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=50, help="data sets per setting for coverage")
    parser.add_argument("--decisions", type=int, default=2000, help="decisions per data set for coverage")
    parser.add_argument("--bootstrap-seeds", type=int, default=3, help="seeds that also get bootstrap intervals")
    parser.add_argument("--power-seeds", type=int, default=30, help="data sets per (alpha, beta, N) for power")
    parser.add_argument("--grid", type=int, nargs="+", default=[100, 200, 400, 800, 1600, 3200])
    args = parser.parse_args(argv)
    t0 = time.process_time()
    print(f"## Coverage ({args.decisions} decisions, {PARTICIPANTS} participants, random profile)\n")
    print("\n".join(coverage(args.seeds, args.decisions, args.bootstrap_seeds)), flush=True)
    print(f"\n## Power: grether against Bayesian logit (kg, rationality 4, {args.power_seeds} data sets per cell)\n")
    print("\n".join(power(args.power_seeds, args.grid)))
    print(f"\nCPU time: {time.process_time() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
