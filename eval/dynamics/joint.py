"""Best-response dynamics of the simultaneous protocol (one round).

Speaker ``i`` faces a user whose types are her signal and the others' messages
(:func:`~persuaders.eval.response.deviation_joint.auxiliary_channel`); with its own signal taking at most
two values, its best response is the concave closure of its value at the prior over a set of
beliefs on a :class:`~persuaders.eval.response.belief_line.BeliefLine`: the best two-point split
(refined on finer lattices around it for a smooth response). A speaker moves only when that
gains it more than ``tol`` (docs/science.md, "Best-response dynamics"). A best responder's ties
make a race of offsets around indifference beliefs, accelerated by
:mod:`persuaders.eval.dynamics.acceleration`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from persuaders.envs.game.spec import Game
from persuaders.envs.payoff.exact import evaluate
from persuaders.eval.dynamics.acceleration import DynamicsOutcome, accelerated_passes
from persuaders.eval.response.belief_line import BeliefLine, best_pair, refine_pair
from persuaders.eval.response.deviation_joint import auxiliary_channel

__all__ = ["JointState", "simultaneous_dynamics"]


class JointState:
    """simultaneous dynamics: the speakers' current schemes [X, M]."""

    def __init__(self, game: Game, grid: int):
        self.game, self.grid = game, grid
        m = game.messages
        self.schemes = [np.full((s.n_signals, m), 1.0 / m) for s in game.speakers]
        self.restricted = 0

    def snapshot(self) -> Any:
        return [s.copy() for s in self.schemes], self.restricted

    def restore(self, snap: Any) -> None:
        self.schemes, self.restricted = [s.copy() for s in snap[0]], snap[1]

    def user_value(self) -> float:
        return evaluate(self.game, self.schemes).user_value

    def best_response(self, i: int, scale: float, tol: float) -> bool:
        """Move speaker ``i`` to its best response if it gains more than ``tol`` (offsets scaled by ``scale``)."""
        game, m = self.game, self.game.messages
        types, _ = auxiliary_channel(game, i, [s[None] for s in self.schemes])
        line = BeliefLine(game, i, types, game.speakers[i].utility[None], self.grid, offset_scale=scale)
        tl, tr = best_pair(line)
        if not game.user.model.best_responder and len(line.keep) == 2:
            t, w = refine_pair(line, tl, tr)
        elif tr - tl <= 1e-15:
            t, w = np.array([line.t0]), np.ones(1)
        else:
            wr = (line.t0 - tl) / (tr - tl)
            t, w = np.array([tl, tr]), np.array([1.0 - wr, wr])
        red = line.reduce(t, w, 0, False, m)
        if red is None:
            self.restricted += 1
            return False
        t, w = red
        value = float(w @ line.values(t)[1][:, 0])
        cur = evaluate(game, self.schemes).speaker_values[game.speakers[i].name]
        if value > cur + tol:
            self.schemes[i] = line.scheme(t, w, m)
            return True
        return False


def simultaneous_dynamics(game: Game, tol: float, max_passes: int, grid: int) -> DynamicsOutcome:
    """Best-response dynamics of the simultaneous protocol from babbling (the module docstring)."""
    st = JointState(game, grid)
    k = game.n_speakers
    ties = game.user.model.best_responder

    def step(scale: float) -> tuple[tuple[bool, ...], bool, bool]:
        pattern = tuple(st.best_response(i, scale, tol) for i in range(k))
        moved = any(pattern)
        return pattern, moved, moved and ties

    converged, passes, accel, history = accelerated_passes(st, step, max_passes, 1e9, rollback=False)
    schemes = {s.name: st.schemes[i] for i, s in enumerate(game.speakers)}
    return DynamicsOutcome(schemes, converged, passes, accel, history, st.restricted)
