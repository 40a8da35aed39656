"""``python -m train --config configs/train/NAME.yaml [--set key=value ...] [--out DIR] [--resume RUN_DIR]``.

Trains the speakers with PPO (see :mod:`train.ppo`), prints the exact learned outcome beside the
theory, and says where the TensorBoard logs are. A bad config exits with status 2 and a message
naming the key.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


from envs.validation import SpecError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m train", description=__doc__.splitlines()[0])
    parser.add_argument("--config", help="training config (YAML); see configs/train/")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config key (dotted for nested keys), e.g. --set seed=3 --set ppo.learning_rate=1e-3")
    parser.add_argument("--out", help="run directory (default runs/<game>__seed<seed>)")
    parser.add_argument("--resume", metavar="RUN_DIR", help="resume an interrupted run from its last checkpoint")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    args = parser.parse_args(argv)

    from train.config import load_config
    from train.ppo import CONFIG, format_outcome, train

    try:
        if args.resume:
            run_dir = Path(args.resume)
            if not (run_dir / CONFIG).exists():
                raise SpecError("--resume", f"{run_dir} holds no {CONFIG}: not a run directory")
            cfg = load_config(run_dir / CONFIG, args.overrides)
        else:
            if not args.config and not any(o.startswith("game=") for o in args.overrides):
                raise SpecError("--config", "give a config file or at least --set game=NAME")
            cfg = load_config(args.config, args.overrides)
            run_dir = Path(args.out) if args.out else Path("runs") / f"{Path(str(cfg['game'])).stem}__seed{cfg['seed']}"
        summary = train(cfg, run_dir, resume=bool(args.resume), progress=not args.no_progress)
    except (SpecError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(format_outcome(summary))
    print(f"\nsummary: {run_dir / 'summary.json'}")
    print(f"TensorBoard: tensorboard --logdir {run_dir / 'tb'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
