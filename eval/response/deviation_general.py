"""Certified deviations in games the one-round machinery does not cover: any rounds, states, signals.

Each returns a :class:`~persuaders.eval.response.deviation.Deviation` whose ``upper`` no rule of the
speaker beats and whose ``lower`` an actual rule achieves (docs/science.md, "Certified
exploitability"); ``best`` is ``lower``, flagged ``exact`` when the two agree to
:data:`EXACT_GAP`.

* :func:`joint_deviation` (``simultaneous``): the sequence-form best response of
  :mod:`persuaders.eval.response.multiround` against the others' rules, which may depend on the history.
* :func:`selection_deviation` (``best_ai`` with exact scores, closed-loop rules on the solo
  thread): the larger of being passed over and of being selected. The selected problem is the
  sequence-form LP of :mod:`persuaders.eval.response.solo_rules` with a floor on the user's solo value.
  Upper bound: the larger of the LP with floor ``V* + 1e-12`` (selected for sure) and, for a rule
  tied with the ``n`` top rivals (floor ``V* - 1e-12``), ``(LP + n * passed-over value) / (n + 1)``;
  lower bound: the strict rule with floor ``V* + 1e-9``.

Current values use the convention of docs/science.md, "Exploitability": a best responder's ties go
the deviating speaker's way wherever its own messages are what she acts on.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from persuaders.envs.game.protocols import SCORE_TOL, exact_selection
from persuaders.envs.game.schemes import babbling_scheme
from persuaders.envs.game.spec import Game
from persuaders.eval.response.deviation import ETA, Deviation
from persuaders.eval.response.multiround import multiround_best_response
from persuaders.eval.response.rules import TableRule
from persuaders.eval.response.solo_rules import SoloRule, SoloThread

__all__ = ["EXACT_GAP", "as_open_loop", "joint_deviation", "selection_deviation"]

#: Bounds closer than this count as exact (a strict rule loses up to a few margins of 2e-9 to the supremum).
EXACT_GAP = 1e-8
#: Margin of the strict recommendations of a best-AI deviation's rule (twice the tie tolerance).
DEVIATION_GAMMA = 2e-9


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


def _low_rule(thread: SoloThread, vstar: float, certify: bool) -> SoloRule:
    """A rule of the speaker giving the user a low solo value (to be passed over): for a certificate,
    babbling when it is already below ``V*`` (any such rule is worth the same to the speaker, and the
    grid's minimiser needs a certified pricing), else :meth:`SoloThread.lowest_user_rule`."""
    if certify:
        babble = babbling_scheme(thread.game, thread.i)
        rule = SoloRule(babble, *thread.evaluate(babble))
        if rule.user < vstar - SCORE_TOL:
            return rule
    return thread.lowest_user_rule()


def selection_deviation(
    game: Game,
    i: int,
    schemes: Sequence[Any],
    solo_user: np.ndarray,
    solo_spk: np.ndarray,
    thread: SoloThread | None = None,
    increment: float | None = None,
    certify: bool = True,
) -> Deviation:
    """Speaker ``i``'s certified best deviation under best-AI selection with exact scores (module docstring).

    ``schemes`` may hold closed-loop rules (functions of the thread observation); ``thread`` may
    be passed to reuse it across calls (it depends on the game and ``i`` only). ``increment``: the
    margin by which a rule that wants to be selected beats the best rival's user value (default
    :data:`~persuaders.eval.response.deviation.ETA`; a dynamics accelerating a race passes more).
    ``certify=False`` skips the upper bounds (``upper`` is then ``inf``): a dynamics needs only the rule.
    """
    k = game.n_speakers
    thread = thread or SoloThread(game, i, gamma=DEVIATION_GAMMA)
    sel = exact_selection(solo_user)
    own = thread.favourable(schemes[i]) if game.user.model.best_responder else solo_spk[i, i]
    current = float(sum(sel[w] * (own if w == i else solo_spk[w, i]) for w in range(k)))
    rivals = [j for j in range(k) if j != i]
    lows, ups = [current], [current]
    best_rule: Any = schemes[i]
    detail = "keep"
    floor_low = floor_up = None
    if rivals:
        vstar = float(max(solo_user[j] for j in rivals))
        top = [j for j in rivals if solo_user[j] >= vstar - SCORE_TOL]
        lose = float(np.mean([solo_spk[j, i] for j in top]))
        low = _low_rule(thread, vstar, certify)
        # no rule gives her less than the certified bound, and ``low`` is a rule: when it is below
        # V*, so is the bound, which is then not computed (a certified minimisation with pricing)
        if certify and (low.user <= vstar + SCORE_TOL or thread.lowest_user_bound() <= vstar + SCORE_TOL):
            ups.append(lose)
        if low.user < vstar - SCORE_TOL:
            if lose > max(lows) + 1e-15:
                best_rule, detail = low.rule, "passed over"
            lows.append(lose)
        floor_low, floor_up = vstar + (ETA if increment is None else increment), vstar + SCORE_TOL
        if certify:
            tie = thread.upper(vstar - SCORE_TOL)  # tied with the top rivals: selected with probability 1 / (n + 1)
            if tie > -math.inf:
                ups.append((tie + len(top) * lose) / (len(top) + 1))
    ups.append(thread.upper(floor_up) if certify else math.inf)
    win = thread.best_rule(floor_low)
    if win is not None:
        val = float(win.speakers[i])
        if val > max(lows) + 1e-15:
            best_rule, detail = win.rule, "selected"
        lows.append(val)
    lower, upper = max(lows), max(*ups, *lows)
    exact = upper - lower <= EXACT_GAP
    method = (
        f"lp (sequence form over the solo thread's closed-loop rules, "
        f"{'obedience over recommendations' if thread.best_responder else 'belief grid with a certified dual bound'}, "
        f"a floor on the user's solo value; {game.rounds} round(s); best deviation: {detail})"
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
        detail=detail,
    )
