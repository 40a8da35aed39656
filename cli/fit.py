"""Fit user models to observed choices, or simulate choices (docs/fitting.md).

Usage::

    persuaders-fit DATA --game GAME [--models logit,grether] [--by participant] [--json]
                   [--out fitted.yaml [--overwrite]] [--bootstrap N] [--seed S] [--starts K]
    persuaders-fit simulate --game GAME --model MODEL [--set KEY=VALUE ...] [--profile PROFILE]
                   --decisions N [--participants P] [--seed S] --out choices.csv [--overwrite]

``DATA`` is a CSV or Parquet file of decisions (:mod:`persuaders.eval.fitting.data`). The fit
prints, per model, the maximum-likelihood parameters (named as in a game file), their standard
errors and 95% intervals, log-likelihood, AIC and BIC, and the chosen model (smallest BIC);
``--json`` prints ``{"models": {name: {"params", "se", "ci", "loglik", "aic", "bic"}}, "chosen"}``
(with ``--by participant``: ``{"participants": {id: that mapping}}``). ``--out`` writes the game
file with the fitted user (the chosen model), which every other command accepts.

``simulate`` draws decisions from the game with its user replaced by ``--model`` and the
``--set`` parameters (:mod:`persuaders.eval.fitting.simulate`) and writes the same contract.
Bad data or options: one ``error:`` line naming the row and column (or option), exit status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from persuaders.cli.common import command
from persuaders.envs.game.catalog import load_game
from persuaders.envs.game.spec import Game
from persuaders.envs.game.users import user_model_class
from persuaders.envs.game.validation import SpecError
from persuaders.eval.fitting import (
    FIT_MODELS,
    PROFILES,
    ChoiceData,
    DataError,
    fit_models,
    model_from_params,
    read_choices,
    simulate_choices,
    write_choices,
)

__all__ = ["main"]


def _fit_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="persuaders-fit",
        description="Maximum-likelihood user models from choice data (or 'persuaders-fit simulate ...').",
    )
    p.add_argument("data", help="a CSV or Parquet file: participant, action, likelihood_<state>..., [prior_<state>...]")
    p.add_argument("--game", required=True, help="a bundled game or a YAML game file (its states and actions)")
    p.add_argument("--models", default="logit,grether", help=f"comma-separated, of {', '.join(FIT_MODELS)}")
    p.add_argument("--by", choices=["participant"], help="one fit per participant")
    p.add_argument("--json", action="store_true", help="print the fits as JSON")
    p.add_argument("--out", help="write the game file with the fitted user (the chosen model)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    p.add_argument("--bootstrap", type=int, default=0, help="participant-clustered bootstrap refits for the intervals")
    p.add_argument("--seed", type=int, default=0, help="seed of the starts and the bootstrap")
    p.add_argument("--starts", type=int, default=4, help="optimiser starts per model")
    return p


def _simulate_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="persuaders-fit simulate", description="Draw decisions from a game, a user model and a profile."
    )
    p.add_argument("--game", required=True, help="a bundled game or a YAML game file")
    p.add_argument("--model", required=True, help="the user model (logit, best_response, grether, shrinkage...)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a model parameter")
    p.add_argument("--profile", default="random", help=f"{', '.join(PROFILES)}, or a schemes file or run directory")
    p.add_argument("--decisions", type=int, required=True, help="number of decisions (rows)")
    p.add_argument("--participants", type=int, default=1, help="participants sharing the decisions evenly")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, help="the CSV file to write")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    return p


def _check_out(path: str, overwrite: bool) -> None:
    if Path(path).exists() and not overwrite:
        raise SpecError("--out", f"{path} exists; choose another path or pass --overwrite")


def _format(result: dict[str, Any]) -> str:
    lines = []
    for name, m in result["models"].items():
        mark = "  (chosen: smallest BIC)" if name == result["chosen"] else ""
        lines.append(f"{name}: loglik {m['loglik']:.3f}, AIC {m['aic']:.3f}, BIC {m['bic']:.3f}{mark}")
        for k, v in m["params"].items():
            se = m["se"][k]
            lo, hi = m["ci"][k]
            ci = "n/a" if lo is None else f"[{lo:.4g}, {hi:.4g}]"
            lines.append(f"  {k:<12} {v:>10.4g}  se {'n/a' if se is None else f'{se:.3g}':>8}  95% {ci}")
    return "\n".join(lines)


def _fit(args: argparse.Namespace, game: Game, data: ChoiceData, models: list[str]) -> dict[str, Any]:
    return fit_models(models, data, game, starts=args.starts, bootstrap=args.bootstrap, seed=args.seed)


def _run_fit(argv: Sequence[str]) -> int:
    args = _fit_parser().parse_args(argv)
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    bad = [m for m in models if m not in FIT_MODELS]
    if bad or not models:
        raise SpecError("--models", f"expected a comma-separated list of {', '.join(FIT_MODELS)}, got {args.models!r}")
    if args.bootstrap < 0 or args.starts < 1:
        raise SpecError(
            "--bootstrap" if args.bootstrap < 0 else "--starts", "must be >= 0 (--bootstrap), >= 1 (--starts)"
        )
    if args.out and args.by:
        raise SpecError("--out", "one game file holds one user: fit without --by to write it")
    if args.out:
        _check_out(args.out, args.overwrite)
    game = load_game(args.game)
    data = read_choices(args.data, game)
    if args.by:
        per = {}
        for p in data.participants():
            sub = data.subset((data.participant == p).nonzero()[0])
            try:
                per[p] = _fit(args, game, sub, models)
            except DataError as exc:
                raise DataError(f"participant {p}: {exc}") from None
        if args.json:
            print(json.dumps({"participants": {p: _public(r) for p, r in per.items()}}, indent=2))
        else:
            print("\n\n".join(f"participant {p}\n{_format(r)}" for p, r in per.items()))
        return 0
    result = _fit(args, game, data, models)
    if args.out:
        chosen = result["chosen"]
        fitted = game.replace(user_model=model_from_params(chosen, result["models"][chosen]["params"]))
        Path(args.out).write_text(fitted.to_yaml(), encoding="utf-8")
    if args.json:
        print(json.dumps(_public(result), indent=2))
    else:
        print(f"{len(data)} decisions, {len(data.participants())} participant(s), game {game.name}")
        print(_format(result))
        if args.out:
            print(f"wrote {args.out} (user model {result['chosen']})")
    return 0


def _public(result: dict[str, Any]) -> dict[str, Any]:
    return {"models": result["models"], "chosen": result["chosen"]}


def _run_simulate(argv: Sequence[str]) -> int:
    args = _simulate_parser().parse_args(argv)
    _check_out(args.out, args.overwrite)
    game = load_game(args.game)
    fields: dict[str, Any] = {}
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep:
            raise SpecError("--set", f"expected KEY=VALUE, got {item!r}")
        fields[key.strip()] = yaml.safe_load(value.strip())  # 8 -> int, 0.6 -> float, inf -> "inf"
    cls = user_model_class(args.model, "--model")
    model = cls.from_fields(fields, "--set")
    if args.decisions < 1 or args.participants < 1 or args.participants > args.decisions:
        raise SpecError("--decisions", "need --decisions >= --participants >= 1")
    profile = args.profile
    if profile not in PROFILES and not Path(profile).exists():
        raise SpecError(
            "--profile", f"expected one of {', '.join(PROFILES)}, or an existing schemes file; got {profile!r}"
        )
    try:
        data = simulate_choices(game, model, profile, args.decisions, args.participants, args.seed)
    except ValueError as exc:
        raise SpecError("--profile", str(exc)) from None
    write_choices(args.out, game, data)
    print(f"wrote {args.out}: {len(data)} decisions of {args.participants} participant(s), user {model.label()}")
    return 0


@command
def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status (0 ok, 2 bad data or options)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv and argv[0] == "simulate":
            return _run_simulate(argv[1:])
        return _run_fit(argv)
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
