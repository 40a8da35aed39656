"""Exact analytic quantities of a persuasion game (docs/science.md, "Analytic quantities").

Notation: states ``y`` with prior ``mu0``; the user's utility ``u[a, y]``, user model and
private channel ``O_0[y, x0]``; speaker ``i`` with utility ``U_i[a, y]`` and channel ``O_i[y, x]``.
Signals are independent given ``y``. At a belief ``p`` the user acts by her user model and her
value is ``v(p) = sum_a P(a | p) EU_p(a)``.

This module holds the alignment bounds and the summary of every quantity (the others live in
their own modules of :mod:`persuaders.eval.theory`):

* :func:`competition_bound`, :func:`best_ai_bound`  ``full information - 2 eps`` (cone eps)
  (docs/science.md, "The competition bound" and "The best-AI bound")
* :func:`analytic_quantities`    every quantity of the game as a JSON-ready mapping
"""

from __future__ import annotations

import math
import sys
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from persuaders.envs.game.nonbayesian import bayesian_equivalent_game
from persuaders.envs.game.spec import Game
from persuaders.eval.theory.beliefs import PROB_TOL
from persuaders.eval.theory.hull import HullFit, fit_hull, hull_distance
from persuaders.eval.theory.information import (
    bayes_optimal_value,
    full_information_value,
    no_information_value,
)
from persuaders.eval.theory.single_sender import (
    NoAnalyticOptimum,
    single_sender_optimum,
)

__all__ = [
    "JSON_DECIMALS",
    "single_sender_values",
    "competition_bound",
    "best_ai_bound",
    "bound_fit",
    "bound_premise_failure",
    "analytic_quantities",
    "validity",
]

#: Decimals kept in :func:`analytic_quantities` (the LPs are solved to about 1e-9 or better).
JSON_DECIMALS = 10


# ------------------------------------------------------------------------------------- bounds
def bound_premise_failure(game: Game) -> str | None:
    """Why the competition bound's premises fail, or ``None`` when they hold (docs/science.md,
    "The competition bound").

    Premises: some speaker observes the state exactly (so it can deviate to full revelation)
    and ``messages ** rounds >= |Y|`` (so full revelation fits in the conversation).
    """
    if game.messages**game.rounds < game.n_states:
        return (
            f"messages**rounds = {game.messages}**{game.rounds} < {game.n_states} states: full revelation does not fit"
        )
    if not any(s.sees_state for s in game.speakers):
        return "no speaker observes the state exactly, so none can deviate to full revelation"
    return None


def bound_fit(game: Game) -> HullFit | None:
    """Cone fit whose positive weights sit only on speakers that observe the state.

    The cone fit over all speakers is used when its positive weights satisfy this; otherwise it
    is refitted over the state-observing speakers alone (a larger but valid epsilon).
    """
    if bound_premise_failure(game) is not None:
        return None
    fit = hull_distance(game, cone=True)
    sees = np.array([s.sees_state for s in game.speakers])
    if np.all(sees | (fit.weights <= PROB_TOL)):
        return fit
    sub = fit_hull(game.user.utility, game.speaker_utilities[sees], cone=True)
    w = np.zeros(game.n_speakers)
    w[sees] = sub.weights
    return HullFit(epsilon=sub.epsilon, weights=w, offset=sub.offset, cone=True)


def competition_bound(game: Game) -> float | None:
    """Every equilibrium of the simultaneous protocol gives the user ``>= full information - 2 eps``
    (docs/science.md, "The competition bound").

    ``eps`` is the cone distance (the proof never uses ``sum_i w_i = 1``, so it may replace the
    hull distance and is never larger). Premises: every speaker with positive weight observes
    the state exactly and ``messages ** rounds >= |Y|``. When a positive weight of the best cone
    fit falls on a speaker that does not see the state, the fit is redone over the speakers that
    do. Returns ``None`` when no speaker sees the state or the messages are too few.
    """
    fit = bound_fit(game)
    if fit is None:
        return None
    return full_information_value(game) - 2.0 * fit.epsilon


def best_ai_bound(game: Game) -> float | None:
    """Best-AI selection with exact evaluation: the user gets ``>= full information - 2 eps``
    (docs/science.md, "The best-AI bound").

    Same number and premises as :func:`competition_bound`: a positive-weight speaker that sees
    the state could deviate to full revelation and would then be selected.
    """
    return competition_bound(game)


# ------------------------------------------------------------------------------------- summary
def _fit_dict(fit: HullFit) -> dict[str, Any]:
    return {"epsilon": float(fit.epsilon), "weights": [float(w) for w in fit.weights], "offset": float(fit.offset)}


def single_sender_values(game: Game, progress: bool = False) -> dict[str, dict[str, Any]]:
    """Each speaker's single-sender optimum ``{speaker: {sender_value, user_value}}`` (unrounded).

    When the user model names no analytic solver both values are None and ``reason`` says why.
    ``progress``: a progress bar on stderr when the speakers take more than a second and stderr is
    a terminal (never in a log or a pipe).
    """
    single: dict[str, dict[str, Any]] = {}
    for s in tqdm(
        game.speakers,
        desc="single-sender optima",
        unit="speaker",
        delay=1.0,
        disable=None if progress else True,  # None: off unless stderr is a terminal
        file=sys.stderr,
        leave=False,
    ):
        try:
            r = single_sender_optimum(game, s.name)
        except NoAnalyticOptimum as exc:
            single[s.name] = {"sender_value": None, "user_value": None, "reason": str(exc)}
            continue
        single[s.name] = {"sender_value": float(r.sender_value), "user_value": float(r.user_value)}
    return single


def analytic_quantities(game: Game, progress: bool = False) -> dict[str, Any]:
    """All analytic quantities as plain floats and lists (JSON-serialisable).

    Keys, in order: ``no_information``, ``full_information``, ``bayes_optimal``, ``hull``
    {``epsilon``, ``weights``, ``offset``}, ``single_sender`` {speaker: {``sender_value``,
    ``user_value``}} (both None, with a ``reason``, for a user model with no analytic
    single-sender solver), ``competition_bound`` (``None`` when its premises fail), ``cone``
    {``epsilon``, ``weights``, ``offset``}, ``best_ai_bound``, and for a non-Bayesian user model
    ``validity`` (:func:`validity`: which of these hold for her). Values are rounded to
    :data:`JSON_DECIMALS` decimals, below the linear programs' tolerance, so that an exact answer
    (0.7) is not printed as its solver rendering (0.700000000001). ``progress`` shows a progress
    bar on stderr for long computations (many speakers).
    """
    hull = hull_distance(game)
    cone = hull_distance(game, cone=True)
    single = single_sender_values(game, progress=progress)
    bound = competition_bound(game)
    out: dict[str, Any] = _rounded(
        {
            "no_information": no_information_value(game),
            "full_information": full_information_value(game),
            "bayes_optimal": bayes_optimal_value(game),
            "hull": _fit_dict(hull),
            "single_sender": single,
            "competition_bound": bound,
            "cone": _fit_dict(cone),
            "best_ai_bound": best_ai_bound(game) if bound is not None else None,
        }
    )
    if not game.user.model.bayesian:
        out["validity"] = validity(game)
    return out


def validity(game: Game) -> dict[str, str]:
    """Which quantities hold for the game's user model, and why (docs/science.md, "Non-Bayesian users").

    For a Bayesian user everything holds. A non-Bayesian user acts on ``perceive(p, mu0)``, a
    function of the Bayesian posterior ``p``: the information values are computed with her own
    response; the hull and cone distances do not involve her; the single-sender optimum is the
    concavification of a response that is a function of the posterior (the splitting argument),
    valid for a continuous (finite-rationality) response; the competition and best-AI bounds use
    her response only at ``p = delta_y`` (full revelation), a fixed distribution, so they hold with
    the full-information value computed with her response; the logit loss (``v(p) >= max_a EU_p(a)
    - ln|A| / lam``) compares with her *true* expected utilities and is not guaranteed.
    """
    model = game.user.model
    if model.bayesian:
        return {}
    smooth = math.isfinite(model.rationality or math.inf)
    has_eq = bayesian_equivalent_game(game) is not None
    return {
        "no_information": "valid: computed with her perceived-belief response",
        "full_information": "valid: computed with her perceived-belief response",
        "bayes_optimal": "valid: does not involve her model",
        "logit_loss": "not guaranteed: she does not act on the Bayesian posterior",
        "hull": "valid: does not involve her model",
        "single_sender": (
            "valid: concavification (splitting argument; her response is a continuous function of the posterior)"
            if smooth
            else "unavailable: a best response to a perceived belief has no analytic solver here"
        ),
        "competition_bound": "valid: the proof uses her response only at full revelation, r(perceive(delta_y))",
        "best_ai_bound": "valid: the proof uses her response only at full revelation, r(perceive(delta_y))",
        "exploitability": (
            "exact: through the Bayesian-equivalent game (simultaneous protocol)"
            if has_eq
            else "not certified: numerical search only (a lower bound)"
        ),
        "dynamics": (
            "exact: through the Bayesian-equivalent game (simultaneous protocol)"
            if has_eq
            else "not certified: on numerical best responses"
        ),
    }


def _rounded(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: _rounded(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_rounded(v) for v in x]
    if isinstance(x, float):
        return round(x, JSON_DECIMALS) + 0.0  # + 0.0 turns -0.0 into 0.0
    return x
