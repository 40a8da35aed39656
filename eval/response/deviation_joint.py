"""Exact deviations in a one-round joint conversation (``simultaneous``).

With the others' messages ``m_-i`` drawn from their fixed schemes, speaker ``i`` faces a user whose
private information is ``(x0, m_-i)`` (docs/science.md, "Exploitability"). :func:`auxiliary_game`
builds that single-speaker game, with user channel

    O_0'[y, (x0, m_-i)] = O_0[y, x0] * prod_{j != i} sum_x O_j[y, x] pi_j[x, m_j]

(types with proportional columns merged), and :func:`~persuaders.eval.theory.single_sender.single_sender_optimum`
solves it: the obedience LP for a best-responding user, concavification for a smooth response.
Its value is a supremum over schemes with enough messages; when the optimal split needs more
than ``M`` messages the value is only an upper bound of what ``M`` messages can do
(``bound="upper"``). When the user has too many types for those solvers (many speakers) and the
speaker's signal takes two values, the concave closure is computed directly on its
one-dimensional beliefs (:func:`line_concavification`: exact candidates for a best responder, a
refined grid otherwise).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from persuaders.envs.game.spec import Game
from persuaders.eval.response.belief_line import BeliefLine, best_pair, refine_pair
from persuaders.eval.response.deviation import GRID_1D, Deviation, count_distinct
from persuaders.eval.theory.beliefs import PROB_TOL
from persuaders.eval.theory.geometry import upper_hull
from persuaders.eval.theory.single_sender import single_sender_optimum

__all__ = [
    "MAX_OBEDIENCE_VARIABLES",
    "PREFER_LINE",
    "MAX_LOGIT_TYPES",
    "auxiliary_channel",
    "auxiliary_game",
    "line_concavification",
    "simultaneous_deviation",
]

#: Limits on the auxiliary game handed to the exact single-sender solvers (obedience LP variables).
MAX_OBEDIENCE_VARIABLES = 200_000
#: Above this many obedience-LP variables the direct one-dimensional closure is used when it applies.
PREFER_LINE = 5_000
#: Most user types handed to the concavification on the auxiliary game.
MAX_LOGIT_TYPES = 200


def auxiliary_channel(game: Game, i: int, schemes: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """The user's types when speaker ``i`` alone is free: her signal and the others' messages.

    Returns ``O_0'[y, t]`` (row-stochastic) and, for each type, her round-1 conversation row
    ``C_1[x0(t), :]``. ``O_0'[y, (x0, m_-i)] = O_0[y, x0] prod_{j != i} sum_x O_j[y, x] pi_j[x, m_j]``
    with the one-round schemes ``schemes[j][0]``; types of zero probability are dropped and types
    with proportional columns (the same posterior from any prior) and the same conversation row
    are merged.
    """
    n_y, m = game.n_states, game.messages
    cols = game.user.observation.copy()  # [Y, T]
    x0_of = np.arange(cols.shape[1])
    for j, s in enumerate(game.speakers):
        if j == i:
            continue
        lik = s.observation @ np.asarray(schemes[j])[0]  # [Y, M]
        cols = (cols[:, :, None] * lik[:, None, :]).reshape(n_y, -1)
        x0_of = np.repeat(x0_of, m)
    keep = game.prior @ cols > 1e-15
    cols, x0_of = cols[:, keep], x0_of[keep]
    conv = game.user.conversation[0][x0_of]  # [T, Z]
    norm = cols / cols.sum(axis=0, keepdims=True)
    key = np.round(np.hstack([norm.T, conv]), 12)
    _, first, inv = np.unique(key, axis=0, return_index=True, return_inverse=True)
    inv = np.asarray(inv).reshape(-1)
    merged = np.zeros((n_y, len(first)))
    np.add.at(merged.T, inv, cols.T)
    rows = merged.sum(axis=1, keepdims=True)
    merged = np.where(rows > 0, merged / np.where(rows > 0, rows, 1.0), 1.0 / merged.shape[1])
    return merged, conv[first]


def auxiliary_game(game: Game, i: int, schemes: Sequence[np.ndarray]) -> Game:
    """Speaker ``i`` alone against a user who also observes the other speakers' messages.

    One round; her channel is :func:`auxiliary_channel`. What she says in the round depends on
    ``x0`` only, so her conversation channel is lifted to the new types.
    """
    if game.rounds != 1:
        raise ValueError("auxiliary_game: one-round games only")
    merged, conv = auxiliary_channel(game, i, schemes)
    d = game.to_dict()
    d["name"] = f"{game.name}__{game.speakers[i].name}_vs_fixed"
    d["speakers"] = [d["speakers"][i]]
    d["user"]["observation"] = merged.tolist()
    silent = all(c.shape[1] == 1 for c in game.user.conversation)
    d["user"]["conversation"] = "silent" if silent else [conv.tolist()]
    d["rounds"] = 1
    return Game.from_dict(d)


def line_concavification(game: Game, i: int, types: np.ndarray, current: float) -> Deviation | None:
    """One-dimensional concave closure against many user types (two signals of positive probability).

    A best responder: the exact candidates (0, 1, the prior and every indifference belief of every
    type), ties broken for speaker ``i``; the upper hull at the prior is the supremum. Any other
    user model: the best pair on a 2001-point grid, refined on finer lattices around it.
    """
    spk = game.speakers[i]
    if int((game.prior @ spk.observation > PROB_TOL).sum()) > 2:
        return None
    best_responder = game.user.model.best_responder
    line = BeliefLine(game, i, types, spk.utility[None], GRID_1D, sup=True)
    if len(line.keep) == 1:
        best = float(line.g[0, 0])
    elif best_responder:
        t, g = line.t, line.g[:, 0]
        hull = upper_hull(t, g)
        th, gh = t[hull], g[hull]
        best = float(np.interp(line.t0, th, gh))
    else:
        tt, ww = refine_pair(line, *best_pair(line))
        best = float(ww @ line.values(tt)[1][:, 0])
    kind = "lp" if best_responder else "concavification"
    method = (
        f"{kind} (exact one-dimensional concave closure over {types.shape[1]} user types "
        "= her signal x the others' messages)"
    )
    bound = "exact" if game.messages >= 2 or len(line.keep) == 1 else "upper"
    return Deviation(best=best, current=current, method=method, exact=True, bound=bound)


def simultaneous_deviation(
    game: Game, i: int, schemes: Sequence[np.ndarray], current: float, solver: str = "auto"
) -> Deviation | None:
    """Speaker ``i``'s exact best deviation in a one-round joint conversation (None when too large).

    ``current`` is its current value (ties its way for a best responder). ``solver``: ``theory``
    (:func:`~persuaders.eval.theory.single_sender.single_sender_optimum` on the :func:`auxiliary_game`),
    ``line`` (:func:`line_concavification`, the direct one-dimensional closure) or ``auto``
    (theory unless the user has many types and the line applies).
    """
    obedience = game.user.model.analytic == "obedience"
    types, _conv = auxiliary_channel(game, i, schemes)
    n_types = types.shape[1]
    spk = game.speakers[i]
    silent = all(c.shape[1] == 1 for c in game.user.conversation)
    size = game.n_actions ** min(n_types, 64) * spk.n_signals
    if solver == "line" or (
        solver == "auto" and silent and (size > PREFER_LINE if obedience else n_types > MAX_LOGIT_TYPES)
    ):
        line = line_concavification(game, i, types, current) if silent else None
        if line is not None or solver == "line":
            return line
    if size > MAX_OBEDIENCE_VARIABLES if obedience else n_types > MAX_LOGIT_TYPES:
        return None
    aux = auxiliary_game(game, i, schemes)
    r = single_sender_optimum(aux, 0, condition_on_user=True)
    needed = 0
    for c in r.components:
        n_pos = int((c.prior @ spk.observation > PROB_TOL).sum())
        needed = max(needed, min(count_distinct(np.array([p.signal_belief for p in c.points])), n_pos))
    kind = "lp" if obedience else "concavification"
    method = f"{kind} ({r.method} on the auxiliary game: {n_types} user types = her signal x the others' messages)"
    n_pos = int((game.prior @ spk.observation > PROB_TOL).sum())
    exact = obedience or n_pos <= 2
    bound = "exact" if exact else "lower"
    if not exact:
        method += "; grid over three or more signals: a lower bound"
    if needed > game.messages:
        bound = "upper"
        method += f"; upper bound: the optimal split uses {needed} messages > M = {game.messages}"
    scheme = None
    if len(r.components) == 1 and r.components[0].user_message is None and needed <= game.messages:
        c = r.components[0]
        if c.scheme.shape[1] <= game.messages:
            scheme = np.zeros((spk.n_signals, game.messages))
            scheme[:, : c.scheme.shape[1]] = c.scheme
            scheme = scheme[None]
    return Deviation(best=r.sender_value, current=current, method=method, exact=exact, bound=bound, scheme=scheme)
