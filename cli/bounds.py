"""Print the exact analytic quantities of a game (docs/science.md, "Analytic quantities").

Usage::

    persuaders-bounds GAME [--json]

``GAME`` is a bundled game name (``kg``, ``hull_pair``...) or a path to a YAML game file.
Without ``--json`` a readable table is printed; with it, the mapping of
:func:`persuaders.eval.theory.analytic_quantities`. An invalid game exits with status 2 and the validation
message (naming the bad field) on stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

from persuaders.cli.common import command
from persuaders.envs.game.catalog import bundled_games, load_game
from persuaders.envs.game.spec import Game
from persuaders.envs.game.validation import SpecError
from persuaders.eval.theory import (
    analytic_quantities,
    bound_premise_failure,
    logit_loss,
)

__all__ = ["format_table", "main"]


def _num(x: float | None, digits: int = 6) -> str:
    return "n/a" if x is None else f"{x:.{digits}f}"


def _fit_line(fit: dict[str, Any], names: Sequence[str]) -> str:
    ws = "  ".join(f"{n} {w:.4f}" for n, w in zip(names, fit["weights"], strict=True))
    return f"weights: {ws}; offset {fit['offset']:+.4f}"


def format_table(game: Game, q: dict[str, Any]) -> str:
    """The analytic quantities of ``game`` as an aligned, human-readable table."""
    names = list(game.speaker_names)
    lines = [
        f"game {game.name}: {game.n_states} states, {game.n_actions} actions, speakers {', '.join(names)}; "
        f"user {game.user.model.label()}, messages = {game.messages}, rounds = {game.rounds}, "
        f"visibility = {game.visibility}",
        "",
    ]
    width = 34
    rows = [
        ("no information", _num(q["no_information"]), "E_x0 v(P(y|x0))"),
        ("full information", _num(q["full_information"]), "E v(P(y|x0..xk))"),
        ("Bayes-optimal (OPT)", _num(q["bayes_optimal"]), "full information, best response"),
        ("logit loss ln|A|/lam", _num(logit_loss(game)), "full information >= OPT - this"),
        ("hull distance eps", _num(q["hull"]["epsilon"]), _fit_line(q["hull"], names)),
        ("cone distance eps", _num(q["cone"]["epsilon"]), _fit_line(q["cone"], names)),
    ]
    lines.append(f"{'quantity':<{width}}{'value':>10}  note")
    for label, val, note in rows:
        lines.append(f"{label:<{width}}{val:>10}  {note}")
    lines.append("")
    lines.append(f"{'single sender (alone vs. the user)':<{width}}{'sender':>10}  {'user':>10}")
    for name, r in q["single_sender"].items():
        why = f"  {r['reason']}" if r.get("reason") else ""
        lines.append(f"{'  ' + name:<{width}}{_num(r['sender_value']):>10}  {_num(r['user_value']):>10}{why}")
    lines.append("")
    failure = bound_premise_failure(game)
    note = f"premise fails: {failure}" if failure else "full information - 2 x cone eps, in every equilibrium"
    lines.append(f"{'competition bound':<{width}}{_num(q['competition_bound']):>10}  {note}")
    note = f"premise fails: {failure}" if failure else "same bound, best-AI selection with exact evaluation"
    lines.append(f"{'best-AI bound':<{width}}{_num(q['best_ai_bound']):>10}  {note}")
    if q.get("validity"):
        lines += ["", f"non-Bayesian user {game.user.model.label()}: what holds (docs/science.md, Non-Bayesian users)"]
        lines += [f"  {key:<{width - 2}}{why}" for key, why in q["validity"].items()]
    return "\n".join(lines)


@command
def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status (0 ok, 1 computation error, 2 bad game)."""
    parser = argparse.ArgumentParser(
        prog="persuaders-bounds",
        description="Exact analytic quantities of a persuasion game: information values, hull "
        "distance, single-sender optima and the competition bound.",
    )
    parser.add_argument("game", help=f"a bundled game ({', '.join(bundled_games())}) or a YAML game file")
    parser.add_argument("--json", action="store_true", help="print the quantities as JSON")
    args = parser.parse_args(argv)
    try:
        game = load_game(args.game)
    except SpecError as exc:
        print(f"error: invalid game: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: cannot read game {args.game!r}: {exc}", file=sys.stderr)
        return 2
    try:
        q = analytic_quantities(game, progress=True)
    except ValueError as exc:  # a game the analytic solvers refuse (too many signal profiles, ...)
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except RuntimeError as exc:  # a solver failed on a valid game
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(q, indent=2))
    else:
        print(format_table(game, q))
    return 0


if __name__ == "__main__":
    sys.exit(main())
