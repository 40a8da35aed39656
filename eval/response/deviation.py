"""One speaker's best unilateral deviation: its result, and the conventions the exact methods share.

Exploitability (docs/science.md, "Exploitability") asks, for each speaker with the others' schemes
held fixed, how much more it could get. The exact methods (:mod:`persuaders.eval.response.deviation_joint`
for the joint protocol, :mod:`persuaders.eval.response.deviation_selection` for best-AI selection) and the
numerical one (:mod:`persuaders.eval.response.numerical_deviation`) each return a :class:`Deviation`.

Ties for a best-responding user. The persuasion LPs give suprema: ties go the deviating
speaker's way. So that current and best values use one convention, the exact methods score the
current profile with her ties broken in that speaker's favour (:func:`favourable_value`) wherever
its own messages are what she acts on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from persuaders.envs.game.spec import Game
from persuaders.envs.game.users import favourable_response

__all__ = [
    "ETA",
    "GRID_1D",
    "GRID_MAX_POINTS",
    "Deviation",
    "count_distinct",
    "split_to_scheme",
    "favourable_value",
    "solo_game",
]

#: Best-AI selection: a speaker that wants to be selected must give the user at least this much
#: more than the best rival (the literal increment of the best-response dynamics, too).
ETA = 1e-9
#: Grid of the one-dimensional belief LP (beliefs over two signals) of the exact deviations.
GRID_1D = 2001
#: Largest simplex grid for beliefs over three or more signals.
GRID_MAX_POINTS = 20000


@dataclass
class Deviation:
    """A speaker's best value ``best`` beside its ``current`` one, how it was found and how good it is.

    ``method`` names the solver; ``exact`` is False for a lower bound; ``bound`` is ``exact``,
    ``lower`` or ``upper`` (the best value needs more messages than the game allows); ``scheme``
    a best deviation ``[R, X_i, M]`` (or a history-dependent rule) when one with at most ``M``
    messages was found. ``upper`` and ``lower`` certify the best value: no rule beats ``upper``
    (``inf`` when nothing is certified) and an actual rule achieves ``lower``
    (docs/science.md, "Certified exploitability"); None where not computed.
    """

    best: float
    current: float
    method: str
    exact: bool
    bound: str
    scheme: Any = None
    upper: float | None = None
    lower: float | None = None
    detail: str = ""


def count_distinct(points: np.ndarray, tol: float = 1e-9) -> int:
    """Number of distinct rows of ``points`` (rounded to ``tol``)."""
    if len(points) == 0:
        return 0
    return len(np.unique(np.round(np.asarray(points) / tol) * tol, axis=0))


def split_to_scheme(
    n_signals: int, keep: np.ndarray, px: np.ndarray, weights: np.ndarray, beliefs: np.ndarray, m: int
) -> np.ndarray | None:
    """Scheme ``[X_i, M]`` inducing own-signal beliefs ``beliefs[j]`` with probabilities ``weights[j]``.

    ``pi(m_j | x) = weights[j] * beliefs[j, x] / px[x]`` on the kept signals (uniform elsewhere);
    None if more than ``m`` beliefs are used.
    """
    n = len(weights)
    if n > m:
        return None
    cols = (weights[:, None] * beliefs / px[None, :]).T  # [X_kept, n]
    scheme = np.zeros((n_signals, m))
    scheme[:, :] = 1.0 / m
    scheme[keep, :] = 0.0
    scheme[np.ix_(keep, np.arange(n))] = np.clip(cols, 0.0, None)
    scheme[keep] /= scheme[keep].sum(axis=1, keepdims=True)
    return scheme


def favourable_value(game: Game, joint: np.ndarray, i: int) -> float:
    """Speaker ``i``'s value from ``P(y, x0, h)`` ``[H, Y, X0]`` when a best-responding user breaks
    ties in ``i``'s favour (the convention of the LP suprema)."""
    mass = joint.sum(axis=1, keepdims=True)
    post = np.where(mass > 0, joint / np.where(mass > 0, mass, 1.0), 1.0 / game.n_states)
    eu = np.einsum("hyx,ay->hxa", post, game.user.utility)
    ui = game.speakers[i].utility
    eu_i = np.einsum("hyx,ay->hxa", post, ui)
    q = favourable_response(eu, eu_i)
    out = np.einsum("hyx,hxa->ay", joint, q)
    return float((out * ui).sum())


def solo_game(game: Game, i: int) -> Game:
    """The game with speaker ``i`` alone."""
    d = game.to_dict()
    d["speakers"] = [d["speakers"][i]]
    return Game.from_dict(d)
