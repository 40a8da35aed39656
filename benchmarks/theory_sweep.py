"""Theory sweep: every converged best-response equilibrium must satisfy the theorems' bounds.

    python benchmarks/theory_sweep.py [--games 1200] [--workers 2] [--seed 0] [--out results/theory_sweep]
    python benchmarks/theory_sweep.py --rounds 1 2 3 --states 2 3 4 --max-speakers 3 --rationality inf 10 \\
        --games 1008 --timeout 60 --out results/theory_sweep_rounds

Draws seeded random games (envs.random_games: k = 1..``--max-speakers`` speakers who see the
state, 2-3 actions, the user's utility inside the convex hull or at least 0.25 from it,
rationality ``--rationality``, default inf, 50 and 10), runs exact best-response dynamics (eval.best_response) for both
protocols, and checks every converged outcome against

    simultaneous:  user value >= full information - 2 eps   (eval.theory.competition_bound)
    best_ai:       user value >= full information - 2 eps   (eval.theory.best_ai_bound, exact scores)

with eps the cone distance (docs/science.md, "The competition bound"). Games cycle through the
cells of ``--rounds`` x ``--states`` in blocks (each block holds every regime and rationality
once). Messages: ``states + 1`` in one round; over several rounds 2, or 3 in every
other two-round game of at most two speakers, so some conversations must spread the state over
rounds (messages < states, the premise ``messages ** rounds >= states`` still holding).

**Which outcomes are checked.** Converged dynamics stop where no speaker's computed best response
gains more than 1e-6; the final profile's exploitability is then certified independently
(eval.exploitability: the certified best value of speaker ``i``, a supremum over the user's
tie-breaking). With ``delta_i`` that bound minus ``i``'s value as the evaluator scores it (ties
split evenly, as in the user's value), the profile is a ``delta``-equilibrium of the game the
evaluator scores. (``delta_i`` exceeds ``gain_upper[i]`` where the profile leaves the user ties,
which eval.exploitability breaks in each speaker's own favour.) A profile with every
``delta_i <= 1e-5`` (a best responder; ``1e-4`` for a logit user) is a **certified equilibrium**
and must meet the bound itself; on every converged
profile the theorem's proof gives ``user value >= bound - sum_i w_i delta_i`` (``w`` the cone
fit's weights, docs/science.md, "The competition bound"), checked too. Prints the fraction
satisfied (theory says 100% for both) and the distribution of the slack ``user value - bound``, per
protocol and regime, and per cell; writes every record as JSON. A violation is a bug in the code or
in the theory: the record says which game, so it can be replayed. A game whose dynamics run past
``--timeout`` seconds is recorded as stopped; the dynamics' starts share
``DYNAMICS_SHARE`` of it (eval.dynamics.best_response, "Time budget"), so that a slow start leaves
time for the next and for the last certificate. ``--reuse RECORDS --rerun-rationality inf`` keeps an
earlier run's records except those of the named user rationalities, which run again. ``--ray``
runs one Ray task per game (a local instance, or ``--ray ADDRESS`` to join a cluster); every run
keeps a journal (``games.jsonl`` in ``--out``) from which the same command resumes without redoing
finished games (eval.experiments.runner).
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import signal
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from persuaders.envs.game import random_game
from persuaders.eval.dynamics.best_response import best_response_dynamics
from persuaders.eval.experiments.runner import run_games
from persuaders.eval.theory import best_ai_bound, bound_fit, competition_bound

ROOT = Path(__file__).resolve().parent.parent

TOL = 1e-6  # numerical tolerance on the bound (the dynamics stop at gains below 1e-6)
#: Certified exploitability at most this: an equilibrium (strict rules' margins are ~1e-6 for a best
#: responder; a logit user's certified brackets close to about 1e-7 per information set).
EQUILIBRIUM = {"inf": 1e-5, "logit": 1e-4}
#: The fraction of ``--timeout`` the dynamics' starts share (the rest is left for the last certificate).
DYNAMICS_SHARE = 0.75


def equilibrium_tolerance(lam: float | str) -> float:
    return EQUILIBRIUM["inf"] if lam == "inf" else EQUILIBRIUM["logit"]


class _Timeout(Exception):
    pass


def _alarm(signum: int, frame: Any) -> None:
    raise _Timeout


def rationality(text: str) -> float | str:
    """A command-line rationality: ``inf`` or a number."""
    return "inf" if text == "inf" else float(text)


def game_spec(
    index: int, base_seed: int, cells: list[tuple[int, int]], max_speakers: int, rationalities: list[float | str]
) -> dict[str, Any]:
    """The ``index``-th game's parameters (seeded by ``base_seed`` and ``index`` alone)."""
    rng = np.random.default_rng([base_seed, index])
    block = 2 * len(rationalities)
    rounds, states = cells[(index // block) % len(cells)]
    k = int(rng.integers(1, max_speakers + 1))
    regime = "inside" if index % 2 == 0 else "outside"
    n_actions = int(rng.integers(2, 4))
    lam = rationalities[(index // 2) % len(rationalities)]
    seed = int(rng.integers(0, 2**31 - 1))
    three = rounds == 2 and k <= 2 and (index // (block * len(cells))) % 2 == 1
    messages = states + 1 if rounds == 1 else (3 if three else 2)
    return {
        "index": index,
        "seed": seed,
        "k": k,
        "regime": regime,
        "n_actions": n_actions,
        "rationality": lam,
        "rounds": rounds,
        "states": states,
        "messages": messages,
    }


def one_game(args: tuple[int, int, list[tuple[int, int]], int, list[float | str], float]) -> list[dict]:
    index, base_seed, cells, max_speakers, rationalities, timeout = args
    signal.signal(signal.SIGALRM, _alarm)
    spec = game_spec(index, base_seed, cells, max_speakers, rationalities)
    game = random_game(
        spec["k"],
        spec["states"],
        spec["n_actions"],
        seed=spec["seed"],
        regime=spec["regime"],
        epsilon=0.25,
        rationality=spec["rationality"],
        messages=spec["messages"],
        rounds=spec["rounds"],
    )
    fit = bound_fit(game)
    out = []
    for protocol, bound_fn in (("simultaneous", competition_bound), ("best_ai", best_ai_bound)):
        rec = dict(spec, protocol=protocol)
        bound = bound_fn(game)
        t0 = time.perf_counter()
        signal.setitimer(signal.ITIMER_REAL, timeout)
        try:
            res = best_response_dynamics(
                game,
                protocol=protocol,
                tolerance=equilibrium_tolerance(spec["rationality"]),
                time_limit=DYNAMICS_SHARE * timeout,
            )
        except ValueError as exc:  # a best response needing more messages than the game has
            rec.update(error=str(exc))
            out.append(rec)
            continue
        except _Timeout:
            rec.update(error=f"timeout after {timeout:.0f} s")
            out.append(rec)
            continue
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        rec["seconds"] = time.perf_counter() - t0
        rec.update(converged=bool(res.converged), user_value=float(res.user_value), bound=bound)
        rec.update(reason=res.reason, start=res.start, starts_tried=len(res.attempts))
        expl = res.exploitability
        assert expl is not None  # check=True
        rec["exploitability_upper"] = float(expl.upper) if math.isfinite(expl.upper) else None
        rec["exploitability_lower"] = float(expl.lower)
        # delta_i: the certified best value (a supremum over the user's tie-breaking) minus the
        # value the evaluator gives speaker i (ties split evenly, as in the user's value). It
        # exceeds gain_upper where the profile leaves the user ties, which
        # eval.exploitability breaks in each speaker's own favour.
        names = game.speaker_names
        delta = {n: max(0.0, expl.current_value[n] + expl.gain_upper[n] - float(res.speaker_values[n])) for n in names}
        rec["delta"] = {n: (d if math.isfinite(d) else None) for n, d in delta.items()}
        if res.converged and bound is not None and fit is not None:
            pairs = zip(fit.weights, names, strict=True)
            relax = float(sum(w * delta[n] for w, n in pairs if w > 0))
            rec["slack"] = float(res.user_value - bound)
            rec["certified_slack"] = relax if math.isfinite(relax) else None
            rec["satisfied_relaxed"] = bool(res.user_value >= bound - relax - TOL) if math.isfinite(relax) else None
            rec["equilibrium"] = bool(max(delta.values()) <= equilibrium_tolerance(spec["rationality"]))
            if rec["equilibrium"]:
                rec["satisfied"] = bool(res.user_value >= bound - TOL)
        out.append(rec)
    return out


def one_game_record(args: tuple[int, int, list[tuple[int, int]], int, list[float | str], float]) -> dict:
    """:func:`one_game` as one record (the runner's unit: a game and both of its protocols)."""
    return {"records": one_game(args)}


def _row(label: str, rs: list[dict]) -> tuple[str, list[dict], list[dict]]:
    conv = [r for r in rs if r.get("converged")]
    checked = [r for r in conv if "slack" in r]
    eq = [r for r in checked if r["equilibrium"]]
    ok = [r for r in eq if r["satisfied"]]
    certified = [r for r in checked if r["satisfied_relaxed"] is not None]
    ok_relaxed = [r for r in certified if r["satisfied_relaxed"]]
    s = np.array([r["slack"] for r in eq]) if eq else np.array([np.nan])
    pct = np.percentile(s, [5, 50]) if eq else [np.nan] * 2
    errors = sum(1 for r in rs if "error" in r)
    line = (
        f"| {label} | {len(rs)} | {len(conv)} | {errors} | {len(checked)} | {len(eq)} | "
        f"{len(ok) / max(1, len(eq)):.2%} | {len(certified)} | {len(ok_relaxed) / max(1, len(certified)):.2%} | "
        f"{s.min():.2e} | {pct[0]:.2e} | {pct[1]:.2e} |"
    )
    return line, [r for r in eq if not r["satisfied"]], [r for r in certified if not r["satisfied_relaxed"]]


HEADER = (
    "| {} | runs | converged | stopped | checked | equilibria | bound holds (equilibria) | "
    "certified | relaxed bound holds (certified) | min slack | 5% | median |\n"
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--games", type=int, default=1200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rounds", type=int, nargs="+", default=[1])
    parser.add_argument("--states", type=int, nargs="+", default=[2])
    parser.add_argument("--max-speakers", type=int, default=4)
    parser.add_argument("--rationality", nargs="+", default=["inf", "50", "10"], help="the user's lambdas, cycled")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per game and protocol")
    parser.add_argument("--out", default=str(ROOT / "results" / "theory_sweep"))
    parser.add_argument(
        "--ray",
        nargs="?",
        const="local",
        metavar="ADDRESS",
        help="one Ray task per game: a local Ray instance, or join the cluster at ADDRESS (auto, HOST:PORT)",
    )
    parser.add_argument("--reuse", help="records.json of an earlier run: keep its games except those re-run")
    parser.add_argument(
        "--rerun-rationality", nargs="+", default=[], help="with --reuse: the rationalities whose games run again"
    )
    args = parser.parse_args()
    out = Path(args.out)
    if (out / "records.json").exists():
        sys.exit(f"error: {out / 'records.json'} exists; choose another --out")
    cells = list(itertools.product(args.rounds, args.states))
    t0 = time.perf_counter()
    lams = [rationality(r) for r in args.rationality]
    indices = list(range(args.games))
    kept: list[dict] = []
    if args.reuse:
        # Records of an earlier run of the same sweep for every game whose user's rationality is not
        # re-run; each must be the same game (its parameters are recomputed and compared).
        rerun = {rationality(r) for r in args.rerun_rationality}
        old = json.loads(Path(args.reuse).read_text())
        for r in old:
            spec = game_spec(r["index"], args.seed, cells, args.max_speakers, lams)
            if any(r[key] != value for key, value in spec.items()):
                sys.exit(f"error: --reuse record {r['index']} is not this sweep's game {r['index']}")
        kept = [r for r in old if r["rationality"] not in rerun]
        done = {r["index"] for r in kept}
        indices = [i for i in indices if i not in done]
    jobs = [(i, args.seed, cells, args.max_speakers, lams, args.timeout) for i in indices]
    out.mkdir(parents=True, exist_ok=True)
    games = run_games(one_game_record, jobs, workers=args.workers, ray=args.ray, journal=out / "games.jsonl")
    records = [r for g in games for r in g["records"]]
    records = sorted(kept + records, key=lambda r: (r["index"], r["protocol"] != "simultaneous"))
    out.mkdir(parents=True, exist_ok=True)
    (out / "records.json").write_text(json.dumps(records, indent=1) + "\n")
    reused = f" ({len(kept) // 2} reused from {args.reuse})" if kept else ""
    print(
        f"{args.games} games x 2 protocols in {time.perf_counter() - t0:.0f} s{reused}; "
        f"cells (rounds, states) {cells}\n"
    )
    violations, relaxed = [], []
    print(HEADER.format("protocol, regime"))
    for protocol in ("simultaneous", "best_ai"):
        for regime in ("inside", "outside"):
            rs = [r for r in records if r["protocol"] == protocol and r["regime"] == regime]
            line, v, w = _row(f"{protocol}, {regime}", rs)
            print(line)
            violations += v
            relaxed += w
    if len(cells) > 1:
        print("\n" + HEADER.format("rounds, states, messages"))
        shapes = sorted({(r["rounds"], r["states"], r["messages"]) for r in records})
        for shape in shapes:
            rs = [r for r in records if (r["rounds"], r["states"], r["messages"]) == shape]
            print(_row("{}, {}, {}".format(*shape), rs)[0])
    total = sum(1 for r in records if r.get("equilibrium"))
    print(f"\ncertified equilibria: {total} of {len(records)} runs ({total / max(1, len(records)):.2%})")
    checked = sum(1 for r in records if r.get("satisfied_relaxed") is not None)
    errors = [r for r in records if "error" in r]
    print(
        f"\nbounds satisfied in {total - len(violations)} of {total} converged equilibria "
        f"({(total - len(violations)) / max(1, total):.2%}); relaxed bounds in {checked - len(relaxed)} of "
        f"{checked} converged profiles with a finite certificate ({(checked - len(relaxed)) / max(1, checked):.2%}); "
        f"{len(errors)} runs stopped ({sum('timeout' in r['error'] for r in errors)} timeouts)"
    )
    for r in (violations + relaxed)[:10]:
        print("VIOLATION", r)
    if violations or relaxed:
        sys.exit(1)


if __name__ == "__main__":
    main()
