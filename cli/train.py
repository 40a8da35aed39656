"""``persuaders-train --config configs/train/NAME.yaml [--set key=value ...] [--out DIR] [--resume RUN_DIR]``.

Trains the speakers (see :mod:`persuaders.train.loop`), prints the exact learned outcome beside
the theory, and says where the TensorBoard logs are. ``--config`` is a YAML path or the name of a
bundled training config (``kg_logit``). A bad config exits with status 2 and a message naming
the key. Also ``persuaders-train``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from persuaders.cli.common import command
from persuaders.envs.game.catalog import bundled_config_file, bundled_configs
from persuaders.envs.game.validation import SpecError
from persuaders.train.config import load_config
from persuaders.train.loop import train
from persuaders.train.rundir import CONFIG, SUMMARY, TENSORBOARD
from persuaders.train.summary import format_outcome

__all__ = ["main", "config_path"]


def config_path(value: str) -> Path | str:
    """A training config: an existing file, or the name of a bundled one (``kg_logit``)."""
    if Path(value).is_file():
        return Path(value)
    if not Path(value).suffix and bundled_config_file("train", value) is not None:
        return str(bundled_config_file("train", value))
    raise SpecError(
        "--config", f"{value!r} is neither a file nor a bundled training config ({', '.join(bundled_configs('train'))})"
    )


@command
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="persuaders-train", description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--config", help="training config (YAML path or bundled name); see configs/train/")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config key (dotted for nested keys), e.g. --set seed=3 --set ppo.learning_rate=1e-3",
    )
    parser.add_argument("--out", help="run directory (default runs/<game>__seed<seed>)")
    parser.add_argument(
        "--resume",
        metavar="RUN_DIR",
        help="resume an interrupted run from its last checkpoint "
        "(only total_steps, the intervals, threads and target may change, and the change is recorded)",
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace a previous run in --out (only its own files; "
        "anything else there is kept); without it a non-empty --out is refused",
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    args = parser.parse_args(argv)
    try:
        if args.resume:
            for option, given in (("--config", args.config), ("--out", args.out)):
                if given:
                    raise SpecError(
                        option,
                        "cannot be combined with --resume: a resumed run keeps its own config.yaml and folder "
                        "(change resumable settings with --set; start a new run with --config/--out)",
                    )
            run_dir = Path(args.resume)
            if not (run_dir / CONFIG).exists():
                raise SpecError("--resume", f"{run_dir} holds no {CONFIG}: not a run directory")
            cfg = load_config(run_dir / CONFIG, args.overrides, confine_paths=False)
        else:
            if not args.config and not any(o.startswith("game=") for o in args.overrides):
                raise SpecError("--config", "give a config file or at least --set game=NAME")
            cfg = load_config(config_path(args.config) if args.config else None, args.overrides)
            run_dir = Path(args.out) if args.out else Path("runs") / f"{Path(cfg.game).stem}__seed{cfg.seed}"
        if args.resume and args.overwrite:
            raise SpecError("--overwrite", "cannot be combined with --resume")
        summary = train(cfg, run_dir, resume=bool(args.resume), progress=not args.no_progress, overwrite=args.overwrite)
    except (SpecError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(format_outcome(summary))
    print(f"\nsummary: {run_dir / SUMMARY}")
    print(f"TensorBoard: tensorboard --logdir {run_dir / TENSORBOARD}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
