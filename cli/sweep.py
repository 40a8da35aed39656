"""``persuaders-sweep --config SWEEP``: a sweep of training runs on Ray Tune (:mod:`persuaders.train.sweep`)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from persuaders.cli.common import command
from persuaders.envs.game.validation import SpecError
from persuaders.train.sweep import INSTALL_HINT, load_sweep, run_sweep
from persuaders.train.sweep_report import RESULTS_CSV, RESULTS_MD, markdown_table


@command
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="persuaders-sweep", description=" ".join((__doc__ or "").split("\n\n")[0].split())
    )
    parser.add_argument("--config", required=True, help="sweep file (YAML); see configs/sweeps/")
    parser.add_argument(
        "--address", help="join this Ray cluster (e.g. auto or HOST:PORT) instead of starting a local one"
    )
    parser.add_argument(
        "--auth-token-file",
        help="with --address: the cluster's authentication token "
        "(the head node's ~/.ray/auth_token), for clusters with RAY_AUTH_MODE=token",
    )
    parser.add_argument("--out", help="sweep directory (default sweeps/<name>)")
    parser.add_argument(
        "--workers",
        type=int,
        help="CPUs of the local Ray instance (default: every core); "
        "with --address, the largest number of concurrent trials",
    )
    args = parser.parse_args(argv)
    if args.workers is not None and args.workers < 1:
        print("error: --workers: must be >= 1", file=sys.stderr)
        return 2
    try:
        sweep = load_sweep(args.config)
    except (SpecError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        import ray  # noqa: F401
        from ray import tune  # noqa: F401
    except ImportError:
        print(f"error: {INSTALL_HINT}", file=sys.stderr)
        return 2
    out = Path(args.out) if args.out else Path("sweeps") / sweep["name"]
    print(f"sweep {sweep['name']}: {len(sweep['trials'])} trials -> {out}", flush=True)
    t0 = time.perf_counter()
    try:
        rows, status = run_sweep(
            sweep, out, address=args.address, workers=args.workers, auth_token_file=args.auth_token_file
        )
    except SpecError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print()
    print(markdown_table(sweep, rows))
    print(f"wall time {time.perf_counter() - t0:.1f} s; table: {out / RESULTS_MD}, {out / RESULTS_CSV}")
    if any(r["status"] == "unfinished" for r in rows):
        print("some trials are unfinished: run the same command again to resume them", file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
