"""Certified deviations in games the one-round machinery does not cover: any rounds, states, signals.

Each returns a :class:`~persuaders.eval.deviation.Deviation` whose ``upper`` no rule of the
speaker beats and whose ``lower`` an actual rule achieves (docs/science_multiround.md,
"Certified exploitability"); ``best`` is ``lower``, flagged ``exact`` when the two agree to
:data:`EXACT_GAP`.

* :func:`joint_deviation` (``simultaneous``): the sequence-form best response of
  :mod:`persuaders.eval.multiround` against the others' rules, which may depend on the history.
* :func:`selection_deviation` (``best_ai`` with exact scores, open-loop rules): the larger of
  being passed over and of being selected, with the selected problem bounded above by the
  one-round problem with unlimited messages and below by open-loop rules that realise it
  (:mod:`persuaders.eval.solo_splits`).

Current values use the convention of docs/science.md, "Exploitability": a best responder's ties go
the deviating speaker's way wherever its own messages are what she acts on.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from persuaders.eval.deviation import ETA, Deviation, favourable_value, solo_game
from persuaders.eval.multiround import multiround_best_response
from persuaders.eval.rules import TableRule
from persuaders.eval.open_loop import OpenLoopRules
from persuaders.eval.solo_splits import SoloSplits
from persuaders.game.protocols import SCORE_TOL, exact_selection
from persuaders.game.spec import Game
from persuaders.payoff.exact import history_distribution

__all__ = ["EXACT_GAP", "joint_deviation", "selection_deviation", "as_open_loop"]

#: Bounds closer than this count as exact.
EXACT_GAP = 1e-9


def as_open_loop(game: Game, rule: Any) -> Any:
    """A table rule of a one-round game with a silent user as its scheme ``[1, X_i, M]`` (else unchanged)."""
    if isinstance(rule, TableRule) and game.rounds == 1 and game.user_message_counts == (1,):
        return rule.scheme((0, (0,), ()))[None]
    return rule


def joint_deviation(game: Game, i: int, profile: Sequence[Any], current: float, *, milp: bool = True) -> Deviation:
    """Speaker ``i``'s certified best deviation in a joint conversation (module docstring)."""
    r = multiround_best_response(game, i, profile, milp=milp)
    lower = max(r.lower, current)
    upper = max(r.upper, lower)
    exact = upper - lower <= EXACT_GAP
    scheme = as_open_loop(game, r.rule) if r.lower >= current else profile[i]
    return Deviation(
        best=lower,
        current=current,
        method=r.method,
        exact=exact,
        bound="exact" if exact else "lower",
        scheme=scheme,
        upper=upper,
        lower=lower,
    )


def _own_favourable(game: Game, i: int, scheme: Any) -> float:
    sg = solo_game(game, i)
    return favourable_value(sg, history_distribution(sg, [scheme]), 0)


def selection_deviation(
    game: Game,
    i: int,
    schemes: Sequence[np.ndarray],
    solo_user: np.ndarray,
    solo_spk: np.ndarray,
    prob: SoloSplits | None = None,
    rules: OpenLoopRules | None = None,
) -> Deviation:
    """Speaker ``i``'s certified best open-loop deviation under best-AI selection with exact scores.

    ``prob`` and ``rules`` may be passed to reuse them across calls (they depend on the game only).
    """
    k = game.n_speakers
    sel = exact_selection(solo_user)
    own = _own_favourable(game, i, schemes[i]) if game.user.model.best_responder else solo_spk[i, i]
    current = float(sum(sel[w] * (own if w == i else solo_spk[w, i]) for w in range(k)))
    prob = prob or SoloSplits(game, i)
    rules = rules or OpenLoopRules(prob)
    rivals = [j for j in range(k) if j != i]
    lows, ups = [current], [current]
    best_rule, detail = np.asarray(schemes[i]), "keep"
    floor = None
    if rivals:
        vstar = float(max(solo_user[j] for j in rivals))
        top = [j for j in rivals if solo_user[j] >= vstar - SCORE_TOL]
        lose = float(np.mean([solo_spk[j, i] for j in top]))
        babble = np.full((game.rounds, game.speakers[i].n_signals, game.messages), 1.0 / game.messages)
        if prob.min_user_value()[0] < vstar - SCORE_TOL:
            ups.append(lose)
        if prob.evaluate([babble])[0][0] < vstar - SCORE_TOL:
            lows.append(lose)
            if lose > current:
                best_rule, detail = babble, "passed over"
        floor = vstar + ETA
    win = prob.maximise(floor)
    if win is not None:
        ups.append(prob.upper_bound(floor, win[1]))
        cands = rules.candidates(floor, strict=False)
        user, spk = prob.evaluate(cands, favourable=True)
        for n in range(len(cands)):
            if floor is None or user[n] > floor - ETA + SCORE_TOL:
                val = float(spk[n, i])
                if val > max(lows) + 1e-15:
                    best_rule, detail = cands[n], "selected"
                lows.append(val)
    lower, upper = max(lows), max(max(ups), max(lows))
    exact = upper - lower <= EXACT_GAP
    method = (
        f"lp ({'obedience over arrangement vertices' if prob.best_responder else 'belief grid with a certified dual bound'}"
        f" on the solo problem with a floor on the user's utility, unlimited messages as the upper bound; "
        f"open-loop rules over {game.rounds} round(s) as the lower bound; best deviation: {detail})"
    )
    if not math.isfinite(upper):
        method += "; no certified upper bound for this user model"
    return Deviation(
        best=lower,
        current=current,
        method=method,
        exact=exact,
        bound="exact" if exact else "lower",
        scheme=best_rule,
        upper=upper,
        lower=lower,
    )
