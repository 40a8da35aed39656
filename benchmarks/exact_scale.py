"""The largest games each exact best-response method solves within a time budget.

    python benchmarks/exact_scale.py [--budget 60] [--states 2 3]

For each method (docs/science.md, "Exact best responses over several rounds") and number of
states, seeded random games (3 actions, 2 messages per round, speakers who see the state, inside
the hull) grow one round at a time from one round, with two speakers, until a best response takes
longer than the budget or the game is refused (the enumeration or vertex limits); the budget is
per best response. Methods:

* ``simultaneous, best responder``: the sequence-form LP over arrangement vertices, speaker 0
  against the other's babbling rule (public threads);
* ``simultaneous, logit (lam = 10)``: the grid LP with its certified dual bound;
* ``best_ai, best responder``: speaker 0's closed-loop solo problem with a floor on the user's
  value (her solo value under a random open-loop rule of the other speaker): the certified upper
  bound and the strict rule.

Prints one Markdown row per solved game (rounds, histories or thread nodes, LP rows x variables,
seconds, the gap between the bounds) and the largest solved per method.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import queue
import re
import time

import numpy as np

from persuaders.envs.game.random_games import random_game
from persuaders.envs.game.schemes import babbling_scheme
from persuaders.envs.payoff.engine import EnumerationTooLarge
from persuaders.eval.response.arrangement import ArrangementTooLarge
from persuaders.eval.response.multiround import multiround_best_response
from persuaders.eval.response.solo_rules import SoloThread

MAX_ROUNDS = 12


def game_for(states: int, rounds: int, lam: str | float):
    return random_game(2, states, 3, seed=7, regime="inside", rationality=lam, messages=2, rounds=rounds)


def simultaneous(states: int, rounds: int, lam: str | float) -> dict:
    game = game_for(states, rounds, lam)
    t = time.perf_counter()
    r = multiround_best_response(game, 0, [babbling_scheme(game, i) for i in range(2)])
    return {
        "seconds": time.perf_counter() - t,
        "size": re.search(r"\d+ histories", r.method).group(0),
        "lp": f"{r.lp_shape[0]:,} x {r.lp_shape[1]:,}",
        "gap": r.upper - r.lower,
    }


def best_ai(states: int, rounds: int, lam: str | float) -> dict:
    game = game_for(states, rounds, lam)
    t = time.perf_counter()
    thread = SoloThread(game, 0)
    rival = np.random.default_rng(0).dirichlet(np.ones(2), size=(rounds, states))
    floor = SoloThread(game, 1).evaluate(rival)[0]
    upper = thread.upper(floor)
    rule = thread.best_rule(floor + 1e-9)
    shape = thread.lp.last_system[0].shape
    lower = rule.speakers[0] if rule is not None else -math.inf
    return {
        "seconds": time.perf_counter() - t,
        "size": f"{sum(thread.tree.info_sets(s) for s in range(rounds))} thread nodes",
        "lp": f"{shape[0]:,} x {shape[1]:,}",
        "gap": upper - lower,
    }


METHODS = [
    ("simultaneous, best responder", simultaneous, "inf"),
    ("simultaneous, logit (lam = 10)", simultaneous, 10.0),
    ("best_ai, best responder", best_ai, "inf"),
]


def _child(out: multiprocessing.Queue, fn, states: int, rounds: int, lam: str | float) -> None:
    try:
        out.put(fn(states, rounds, lam))
    except (EnumerationTooLarge, ArrangementTooLarge) as exc:
        out.put(f"refused: {str(exc)[:70]}...")


def timed(fn, states: int, rounds: int, lam: str | float, budget: float) -> dict | str:
    """``fn`` in a child process, stopped after ``budget`` seconds: its row, or why there is none."""
    out: multiprocessing.Queue = multiprocessing.Queue()
    child = multiprocessing.Process(target=_child, args=(out, fn, states, rounds, lam))
    child.start()
    try:
        return out.get(timeout=budget)
    except queue.Empty:
        child.terminate()
        return f"over {budget:g} s"
    finally:
        child.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--budget", type=float, default=60.0, help="seconds per best response")
    parser.add_argument("--states", type=int, nargs="+", default=[2, 3])
    args = parser.parse_args()
    print(f"budget {args.budget:g} s per best response; 2 speakers, 3 actions, 2 messages per round\n")
    print("| method | states | rounds | size | LP rows x variables | seconds | upper - lower |")
    print("|---|---:|---:|---|---:|---:|---:|")
    largest = []
    for label, fn, lam in METHODS:
        for states in args.states:
            best = None
            for rounds in range(1, MAX_ROUNDS + 1):
                row = timed(fn, states, rounds, lam, args.budget)
                if isinstance(row, str):
                    print(f"| {label} | {states} | {rounds} | {row} | | | |", flush=True)
                    break
                print(
                    f"| {label} | {states} | {rounds} | {row['size']} | {row['lp']} | {row['seconds']:.2f} | "
                    f"{row['gap']:.2g} |",
                    flush=True,
                )
                best = rounds
            largest.append((label, states, best))
    print("\nlargest solved within the budget:")
    for label, states, rounds in largest:
        print(f"  {label}, {states} states: {rounds} round(s)")


if __name__ == "__main__":
    main()
