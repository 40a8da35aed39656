"""``persuaders-sb3 --config CONFIG``: one speaker trained with stable-baselines3 (:mod:`persuaders.train.sb3`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from persuaders.cli.common import command
from persuaders.cli.train import config_path
from persuaders.envs.game.validation import SpecError
from persuaders.train.config import load_config
from persuaders.train.rundir import SUMMARY, TENSORBOARD
from persuaders.train.sb3 import train_sb3
from persuaders.train.summary import format_outcome


@command
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="persuaders-sb3", description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--config", required=True)
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--out")
    parser.add_argument("--overwrite", action="store_true", help="replace a previous run in --out (only its own files)")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    try:
        cfg = load_config(config_path(args.config), args.overrides)
        run_dir = Path(args.out) if args.out else Path("runs") / f"{Path(cfg.game).stem}__sb3__seed{cfg.seed}"
        summary = train_sb3(cfg, run_dir, progress=not args.no_progress, overwrite=args.overwrite)
    except (SpecError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(format_outcome(summary))
    print(f"\nsummary: {run_dir / SUMMARY}\nTensorBoard: tensorboard --logdir {run_dir / TENSORBOARD}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
