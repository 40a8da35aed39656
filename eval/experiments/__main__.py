"""``python -m persuaders.experiments EXPERIMENT [options]``: the paper's experiments, one command each.

* ``competition``: best-response dynamics of the best-AI game on random games
  (:mod:`persuaders.experiments.competition`);
* ``hull``: how close combinations of many utility functions come to the user's
  (:mod:`persuaders.experiments.hull`).

``python -m persuaders.experiments EXPERIMENT --help`` lists an experiment's options.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence

from persuaders.experiments import competition, hull
from persuaders.game.commands import command

EXPERIMENTS: dict[str, Callable[[Sequence[str] | None], int]] = {"competition": competition.main, "hull": hull.main}


@command
def main(argv: Sequence[str] | None = None) -> int:
    """Dispatch to the experiment named by the first argument; returns its exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in EXPERIMENTS:
        names = ", ".join(EXPERIMENTS)
        if argv and argv[0] in ("-h", "--help"):
            print(__doc__)
            return 0
        print(f"usage: python -m persuaders.experiments {{{names}}} [options]", file=sys.stderr)
        if argv:
            print(f"error: unknown experiment {argv[0]!r}; choose one of {names}", file=sys.stderr)
        return 2
    return EXPERIMENTS[argv[0]](argv[1:])


if __name__ == "__main__":
    sys.exit(main())
