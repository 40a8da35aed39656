"""``persuaders-dynamics GAME``: best-response dynamics among the speakers of a game.

The dynamics are :mod:`persuaders.eval.dynamics`; this is their command line.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

import numpy as np

from persuaders.cli.common import command
from persuaders.eval.dynamics.best_response import DEFAULT_GRID, DEFAULT_TOLERANCE, best_response_dynamics
from persuaders.eval.dynamics.starts import DEFAULT_STARTS


@command
def main(argv: Sequence[str] | None = None) -> int:
    """``persuaders-dynamics GAME [--protocol P] [--tol T] [--max-passes N] [--time-limit S] [--json]``."""
    parser = argparse.ArgumentParser(
        prog="persuaders-dynamics",
        description="Best-response dynamics among the speakers of a game, with a certified verdict.",
    )
    parser.add_argument("game", help="a bundled game name, a YAML game file or a random:... string")
    parser.add_argument("--protocol", default="best_ai", choices=["best_ai", "simultaneous"])
    parser.add_argument("--tol", type=float, default=1e-6, help="a speaker moves only if it gains more than this")
    parser.add_argument(
        "--tolerance",
        type=float,
        default=DEFAULT_TOLERANCE,
        help=f"converged when every speaker's certified upper gain is at most this (default {DEFAULT_TOLERANCE:g})",
    )
    parser.add_argument(
        "--starts",
        nargs="+",
        default=list(DEFAULT_STARTS),
        metavar="START",
        help="starting profiles tried in order until one converges: babbling, full_revelation, random:SEED "
        f"(default {' '.join(DEFAULT_STARTS)})",
    )
    parser.add_argument("--max-passes", type=int, default=50)
    parser.add_argument(
        "--time-limit",
        type=float,
        metavar="SECONDS",
        help="seconds the starts share (each may use half of what is left, the last all of it; default: no limit)",
    )
    parser.add_argument("--grid", type=int, help=f"belief grid for a smooth response (default {DEFAULT_GRID})")
    parser.add_argument("--no-check", action="store_true", help="skip the independent exploitability check")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    args = parser.parse_args(argv)
    try:
        res = best_response_dynamics(
            args.game,
            args.protocol,
            tol=args.tol,
            tolerance=args.tolerance,
            starts=args.starts,
            max_passes=args.max_passes,
            time_limit=args.time_limit,
            grid=args.grid,
            check=not args.no_check,
            progress=not args.no_progress,
        )
    except (ValueError, NotImplementedError) as exc:  # SpecError is a ValueError
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(res.to_dict(), indent=2))
        return 0
    state = "converged" if res.converged else f"did not converge ({res.reason})"
    print(
        f"{res.game} ({res.protocol}): {state} after {res.passes} passes (+{res.accelerated_passes} accelerated) "
        f"from {res.start}; tolerance {res.tolerance:g}"
    )
    print(f"  user value {res.user_value:.6f}")
    for name, v in res.speaker_values.items():
        rule = res.schemes[name]
        shown = (
            np.round(rule, 4).tolist()
            if isinstance(rule, np.ndarray)
            else f"history-dependent rule ({len(rule.table)} information sets)"
        )
        print(f"  {name}: {v:.6f}  scheme {shown}")
    if res.exploitability is not None:
        e = res.exploitability
        print(
            f"  exploitability {e.exploitability:.3g}: {e.status} in [{e.lower:.3g}, {e.upper:.3g}] (gap {e.gap:.3g})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
