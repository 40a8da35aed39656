"""``persuaders-experiment EXPERIMENT [options]``: the paper's experiments, one command each.

* ``competition``: best-response dynamics of the best-AI game on random games
  (:mod:`persuaders.eval.experiments.competition`);
* ``hull``: how close combinations of many utility functions come to the user's
  (:mod:`persuaders.eval.experiments.hull`; its options in :mod:`persuaders.cli.hull`);
* ``sensitivity``: best-response dynamics on games inside the hull whose AIs' utilities are
  perturbed (:mod:`persuaders.eval.experiments.sensitivity`).

``--ray`` runs the games of ``competition`` and ``sensitivity`` as Ray tasks (a local instance,
or ``--ray ADDRESS`` to join a cluster); an interrupted run resumes from its journal.

``persuaders-experiment EXPERIMENT --help`` lists an experiment's options.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from persuaders.cli import hull
from persuaders.cli.common import command
from persuaders.envs.game.validation import SpecError
from persuaders.eval.experiments.competition import load_competition_config, run_competition
from persuaders.eval.experiments.sensitivity import load_sensitivity_config, run_sensitivity


@command
def competition_main(argv: Sequence[str] | None = None) -> int:
    """``persuaders-experiment competition [--config PATH] [--games N] [--seed N] [--workers N]
    [--out DIR] [--rounds R ...] [--states S ...]``."""
    parser = argparse.ArgumentParser(
        prog="persuaders-experiment competition",
        description="Best-response dynamics of the best-AI game, inside and outside the hull.",
    )
    parser.add_argument("--config", help="configs/experiments/competition.yaml")
    parser.add_argument("--games", type=int, help="games per (regime, k)")
    parser.add_argument("--seed", type=int)
    parser.add_argument("--workers", type=int)
    parser.add_argument("--rounds", type=int, nargs="+", help="numbers of rounds to compare (default 1)")
    parser.add_argument("--states", type=int, nargs="+", help="numbers of states to compare (default n_states)")
    parser.add_argument("--messages", type=int, help="messages per speaker per round (default states + 1)")
    parser.add_argument("--protocol", choices=["best_ai", "simultaneous"], help="default best_ai")
    parser.add_argument("--out", default="results/competition")
    _ray_option(parser)
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    try:
        cfg = load_competition_config(
            args.config,
            {
                "games": args.games,
                "seed": args.seed,
                "workers": args.workers,
                "rounds": args.rounds,
                "states": args.states,
                "messages": args.messages,
                "protocol": args.protocol,
            },
        )
    except SpecError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    run_competition(cfg, Path(args.out), progress=not args.no_progress, ray=args.ray)
    return 0


def _ray_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--ray",
        nargs="?",
        const="local",
        metavar="ADDRESS",
        help="run one Ray task per game: a local Ray instance, or join the cluster at ADDRESS (auto, HOST:PORT)",
    )


@command
def sensitivity_main(argv: Sequence[str] | None = None) -> int:
    """``persuaders-experiment sensitivity [--config PATH] [--games N] [--deltas D ...] [--ks K ...]``."""
    parser = argparse.ArgumentParser(
        prog="persuaders-experiment sensitivity",
        description="Best-response dynamics on games inside the hull with perturbed AI utilities.",
    )
    parser.add_argument("--config", help="configs/experiments/sensitivity.yaml")
    parser.add_argument("--games", type=int, help="games per (k, delta)")
    parser.add_argument("--deltas", type=float, nargs="+", help="perturbation sizes (sup norm)")
    parser.add_argument("--ks", type=int, nargs="+", help="numbers of speakers")
    parser.add_argument("--seed", type=int)
    parser.add_argument("--workers", type=int)
    parser.add_argument("--protocol", choices=["best_ai", "simultaneous"], help="default best_ai")
    parser.add_argument("--out", default="results/sensitivity")
    _ray_option(parser)
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    cfg = load_sensitivity_config(
        args.config,
        {
            "games": args.games,
            "deltas": args.deltas,
            "k_values": args.ks,
            "seed": args.seed,
            "workers": args.workers,
            "protocol": args.protocol,
        },
    )
    run_sensitivity(cfg, Path(args.out), progress=not args.no_progress, ray=args.ray)
    return 0


EXPERIMENTS: dict[str, Callable[[Sequence[str] | None], int]] = {
    "competition": competition_main,
    "hull": hull.main,
    "sensitivity": sensitivity_main,
}


@command
def main(argv: Sequence[str] | None = None) -> int:
    """Dispatch to the experiment named by the first argument; returns its exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in EXPERIMENTS:
        names = ", ".join(EXPERIMENTS)
        if argv and argv[0] in ("-h", "--help"):
            print(__doc__)
            return 0
        print(f"usage: persuaders-experiment {{{names}}} [options]", file=sys.stderr)
        if argv:
            print(f"error: unknown experiment {argv[0]!r}; choose one of {names}", file=sys.stderr)
        return 2
    return EXPERIMENTS[argv[0]](argv[1:])


if __name__ == "__main__":
    sys.exit(main())
