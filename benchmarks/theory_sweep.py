"""Theory sweep: every converged best-response equilibrium must satisfy the theorems' bounds.

    python benchmarks/theory_sweep.py [--games 1200] [--workers 2] [--seed 0] [--out results/theory_sweep]

Draws seeded random games (envs.random_games: k = 1..4 speakers who see the state, 2 states,
2-3 actions, the user's utility inside the convex hull or at least 0.25 from it, rationality inf,
50 or 10, messages = states + 1), runs exact best-response dynamics (eval.best_response) for
both protocols, and for every converged outcome checks

    simultaneous:  user value >= full information - 2 eps   (eval.theory.competition_bound)
    best_ai:       user value >= full information - 2 eps   (eval.theory.best_ai_bound, exact scores)

with eps the cone distance (docs/science.md, "The competition bound"). Prints the fraction satisfied (theory says
100%) and the distribution of the slack ``user value - bound``, per protocol and regime; writes
every record as JSON. A violation is a bug in the code or in the theory: the record says which
game, so it can be replayed.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from persuaders.eval.best_response import best_response_dynamics
from persuaders.eval.theory import best_ai_bound, competition_bound
from persuaders.game import random_game

ROOT = Path(__file__).resolve().parent.parent

TOL = 1e-6  # numerical tolerance on the bound (the dynamics stop at gains below 1e-6)


def one_game(args: tuple[int, int]) -> list[dict]:
    index, base_seed = args
    rng = np.random.default_rng([base_seed, index])
    k = int(rng.integers(1, 5))
    regime = "inside" if index % 2 == 0 else "outside"
    n_actions = int(rng.integers(2, 4))
    lam = ["inf", 50.0, 10.0][index % 3]
    seed = int(rng.integers(0, 2**31 - 1))
    game = random_game(k, 2, n_actions, seed=seed, regime=regime, epsilon=0.25, rationality=lam, messages=3)
    out = []
    for protocol, bound_fn in (("simultaneous", competition_bound), ("best_ai", best_ai_bound)):
        rec = {
            "index": index,
            "seed": seed,
            "k": k,
            "regime": regime,
            "n_actions": n_actions,
            "rationality": lam,
            "protocol": protocol,
        }
        bound = bound_fn(game)
        try:
            res = best_response_dynamics(game, protocol=protocol)
        except ValueError as exc:  # a best response needing more messages than the game has
            rec.update(error=str(exc))
            out.append(rec)
            continue
        rec.update(converged=bool(res.converged), user_value=float(res.user_value), bound=bound)
        if res.converged and bound is not None:
            rec["slack"] = float(res.user_value - bound)
            rec["satisfied"] = bool(res.user_value >= bound - TOL)
        out.append(rec)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--games", type=int, default=1200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(ROOT / "results" / "theory_sweep"))
    args = parser.parse_args()
    t0 = time.perf_counter()
    jobs = [(i, args.seed) for i in range(args.games)]
    with ProcessPoolExecutor(args.workers) as pool:
        records = [r for rs in pool.map(one_game, jobs, chunksize=16) for r in rs]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "records.json").write_text(json.dumps(records, indent=1) + "\n")
    print(f"{args.games} games x 2 protocols in {time.perf_counter() - t0:.0f} s\n")
    print("| protocol | regime | games | converged | checked | satisfied | min slack | 5% | median | 95% |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    violations = []
    for protocol in ("simultaneous", "best_ai"):
        for regime in ("inside", "outside"):
            rs = [r for r in records if r["protocol"] == protocol and r["regime"] == regime]
            conv = [r for r in rs if r.get("converged")]
            checked = [r for r in conv if "slack" in r]
            ok = [r for r in checked if r["satisfied"]]
            violations += [r for r in checked if not r["satisfied"]]
            s = np.array([r["slack"] for r in checked]) if checked else np.array([np.nan])
            pct = np.percentile(s, [5, 50, 95]) if checked else [np.nan] * 3
            print(
                f"| {protocol} | {regime} | {len(rs)} | {len(conv)} | {len(checked)} | "
                f"{len(ok) / max(1, len(checked)):.2%} | {s.min():.2e} | {pct[0]:.2e} | {pct[1]:.2e} | {pct[2]:.2e} |"
            )
    errors = [r for r in records if "error" in r]
    total = sum(1 for r in records if "slack" in r)
    print(
        f"\nbounds satisfied in {total - len(violations)} of {total} converged equilibria "
        f"({(total - len(violations)) / max(1, total):.2%}); {len(errors)} runs stopped with an error"
    )
    for r in violations[:10]:
        print("VIOLATION", r)
    if violations:
        sys.exit(1)


if __name__ == "__main__":
    main()
