"""``persuaders-lab``: put people in the user's seat (docs/lab.md).

``persuaders-lab create --game kg --run runs/kg__seed0 --out lab/`` writes a ready oTree project
(``--schemes FILE`` or ``--profile full_revelation`` instead of a run); ``cd lab && otree
devserver`` runs it. ``persuaders-lab export lab/ --out choices.csv`` writes one row per decision
with the exact likelihood columns the fitting of user models reads. Bad input ends with one
``error:`` line naming the field and exit status 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from persuaders.cli.common import command
from persuaders.envs.game.catalog import bundled_games
from persuaders.envs.game.validation import SpecError
from persuaders.lab.design import Design, read_design
from persuaders.lab.export import DB_FILE, decision_rows, read_player_rows, write_choices
from persuaders.lab.project import BUNDLED_PROFILES, create_project, make_treatments, profile_schemes

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="persuaders-lab", description="Run the user's seat as an oTree experiment.")
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("create", help="write a ready oTree project for a game and committed schemes")
    c.add_argument("--game", required=True, help=f"a bundled game ({', '.join(bundled_games())}) or a YAML game file")
    c.add_argument("--run", help="a training run's directory (its summary.json holds the committed schemes)")
    c.add_argument("--schemes", help="a schemes file {speaker: scheme} (YAML or JSON)")
    c.add_argument("--profile", help=f"a bundled profile ({', '.join(BUNDLED_PROFILES)})")
    c.add_argument("--out", required=True, help="the project folder to write (must not exist)")
    c.add_argument("--trials", type=int, default=10, help="trials per participant (default 10)")
    c.add_argument(
        "--speakers",
        action="append",
        help="a treatment's speakers, comma-separated, or 'all' (repeat for several treatments; default all)",
    )
    c.add_argument("--show-schemes", default="yes", help="show the committed schemes: yes, no or both (default yes)")
    c.add_argument("--points-per-utility", type=float, default=10.0, help="points per unit of her utility (default 10)")
    c.add_argument("--payment-per-point", type=float, default=0.01, help="payment per point (default 0.01)")
    e = sub.add_parser("export", help="write the choice data (one row per decision) of a session")
    e.add_argument("project", help="the project folder written by 'persuaders-lab create'")
    e.add_argument("--data", help=f"oTree's database or CSV export of the app (default PROJECT/{DB_FILE})")
    e.add_argument("--out", required=True, help="the CSV file to write (must not exist)")
    return p


def _create(args: argparse.Namespace) -> int:
    if args.trials < 1:
        raise SpecError("trials", f"expected a positive number of trials, got {args.trials}")
    if args.payment_per_point < 0 or args.points_per_utility <= 0:
        raise SpecError("payment-per-point", "payment per point must be >= 0 and points per utility > 0")
    game, schemes = profile_schemes(args.game, args.run, args.schemes, args.profile)
    design = Design(
        game,
        schemes,
        args.trials,
        make_treatments(game, args.speakers, args.show_schemes),
        args.points_per_utility,
        args.payment_per_point,
    )
    out = create_project(design, args.out)
    names = ", ".join(t.name for t in design.treatments)
    print(f"wrote {out} (game {game.name}, {args.trials} trials, treatments {names}); run: cd {out} && otree devserver")
    return 0


def _export(args: argparse.Namespace) -> int:
    design = read_design(args.project)
    data = args.data if args.data is not None else f"{args.project}/{DB_FILE}"
    rows = decision_rows(design, read_player_rows(data))
    write_choices(rows, args.out)
    print(f"wrote {args.out}: {len(rows)} decisions of {len({r['participant'] for r in rows})} participants")
    return 0


@command
def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status (0 ok, 2 bad input)."""
    args = _parser().parse_args(argv)
    return _create(args) if args.cmd == "create" else _export(args)


if __name__ == "__main__":
    sys.exit(main())
