"""Time per best response, this version against another installed one, side by side.

    python benchmarks/exact_scale_compare.py --baseline /path/to/other/venv/bin/python [--budget 60]

The games of benchmarks/exact_scale.py (seeded random games, 2 speakers, 3 actions, 2 messages
per round, speakers who see the state, inside the hull), growing one round at a time. For each, one
best response of speaker 0 (the other babbling) is timed in a fresh process of each version, the
two runs alternating so that both see the same load; each process stops at the budget, and the
clock starts after the imports. This
version answers through the best-response interface (every applicable solver, the exact
``M``-message programs and the certified logit bounds); the baseline through its own
multi-round solvers (``persuaders.eval.multiround`` and ``persuaders.eval.solo_rules``, the module
names of the previous release). Prints a Markdown table: seconds of each, their ratio (this /
baseline) and each one's certified gap ``upper - lower``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

ROUNDS = {("simultaneous", "inf"): 6, ("simultaneous", "10"): 4, ("best_ai", "inf"): 6}

GAME = (
    "from persuaders.envs.game.random_games import random_game\n"
    "g = random_game(2, {states}, 3, seed=7, regime='inside', rationality={lam!r}, messages=2, rounds={rounds})\n"
)
#: The same game under the previous release's module name (``persuaders.game``).
BASELINE_GAME = GAME.replace("persuaders.envs.game.", "persuaders.game.")
THIS = {
    "simultaneous": (
        "from persuaders.eval.response import ResponseProblem, best_response\n"
        "from persuaders.envs.game.schemes import babbling_scheme\n"
        "s = [babbling_scheme(g, 0), babbling_scheme(g, 1)]\n"
        "r = best_response(ResponseProblem.make(g, s, 0, 'simultaneous'))\n"
        "upper, lower = r.upper, r.lower\n"
    ),
    "best_ai": (
        "from persuaders.eval.response import ResponseProblem, best_response\n"
        "from persuaders.envs.game.schemes import babbling_scheme\n"
        "s = [babbling_scheme(g, 0), babbling_scheme(g, 1)]\n"
        "r = best_response(ResponseProblem.make(g, s, 0, 'best_ai'))\n"
        "upper, lower = r.upper, r.lower\n"
    ),
}
BASELINE = {
    "simultaneous": (
        "from persuaders.eval.multiround import multiround_best_response\n"
        "from persuaders.game.schemes import babbling_scheme\n"
        "r = multiround_best_response(g, 0, [babbling_scheme(g, 0), babbling_scheme(g, 1)], milp=True)\n"
        "upper, lower = r.upper, r.lower\n"
    ),
    "best_ai": (
        "from persuaders.eval.deviation_general import selection_deviation\n"
        "from persuaders.game.schemes import babbling_scheme\n"
        "from persuaders.payoff import solo_outcomes\n"
        "s = [babbling_scheme(g, 0), babbling_scheme(g, 1)]\n"
        "d = selection_deviation(g, 0, s, *solo_outcomes(g, s))\n"
        "upper, lower = d.upper, d.lower\n"
    ),
}
TIMED = (
    "import time, json\n{game}{imports}t = time.perf_counter()\n{solve}"
    "print(json.dumps([time.perf_counter() - t, upper - lower]))\n"
)


def program(game: str, solve: str) -> str:
    """The timed program: the game and the solver's imports first, so that the clock measures the
    best response alone (not the import of a version's modules)."""
    lines = solve.splitlines(keepends=True)
    imports = "".join(line for line in lines if line.startswith(("from ", "import ")))
    rest = "".join(line for line in lines if not line.startswith(("from ", "import ")))
    return TIMED.format(game=game, imports=imports, solve=rest)


def timed(python: str, code: str, budget: float) -> tuple[float, float] | None:
    """(seconds, upper - lower) of one best response in a fresh process, or None past the budget."""
    try:
        res = subprocess.run(
            [python, "-W", "ignore", "-c", code], capture_output=True, text=True, timeout=budget, check=False
        )
    except subprocess.TimeoutExpired:
        return None
    if res.returncode != 0:
        raise RuntimeError(res.stderr[-2000:])
    seconds, gap = json.loads(res.stdout.strip().splitlines()[-1])
    return float(seconds), float(gap)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", required=True, help="python of the other version's environment")
    parser.add_argument("--budget", type=float, default=60.0, help="seconds per best response and version")
    parser.add_argument("--states", type=int, nargs="+", default=[2, 3])
    args = parser.parse_args()
    print(f"budget {args.budget:g} s per best response; this: {sys.executable}; baseline: {args.baseline}\n")
    print("| protocol | user | states | rounds | this (s) | baseline (s) | this / baseline | gap this | gap baseline |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    t0 = time.perf_counter()
    for (protocol, lam), max_rounds in ROUNDS.items():
        for states in args.states:
            for rounds in range(1, max_rounds + 1):
                fields = {"states": states, "lam": "inf" if lam == "inf" else float(lam), "rounds": rounds}
                game, base_game = GAME.format(**fields), BASELINE_GAME.format(**fields)
                mine = timed(sys.executable, program(game, THIS[protocol]), args.budget)
                base = timed(args.baseline, program(base_game, BASELINE[protocol]), args.budget)

                def cell(r: tuple[float, float] | None) -> tuple[str, str]:
                    return ("over budget", "") if r is None else (f"{r[0]:.2f}", f"{r[1]:.1e}")

                (ms, mg), (bs, bg) = cell(mine), cell(base)
                ratio = f"{mine[0] / base[0]:.2f}" if mine and base else ""
                user = "best response" if lam == "inf" else f"logit {lam}"
                row = [protocol, user, states, rounds, ms, bs, ratio, mg, bg]
                print("| " + " | ".join(str(x) for x in row) + " |", flush=True)
                if mine is None and base is None:
                    break
    print(f"\n{time.perf_counter() - t0:.0f} s in all")


if __name__ == "__main__":
    main()
