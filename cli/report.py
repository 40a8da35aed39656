"""``persuaders-report RUN_DIR``: a report of a training run (:mod:`persuaders.train.report`)."""

from __future__ import annotations

import argparse
import sys

from persuaders.cli.common import command
from persuaders.envs.game.validation import SpecError
from persuaders.train.report import write_report


@command
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="persuaders-report", description=__doc__.splitlines()[0])
    parser.add_argument("run_dir")
    parser.add_argument("--out", help="where to write report.md and the figures (default: the run directory)")
    args = parser.parse_args(argv)
    try:
        path = write_report(args.run_dir, args.out)
    except (FileNotFoundError, SpecError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
