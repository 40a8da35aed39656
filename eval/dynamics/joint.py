"""Best-response dynamics of the simultaneous protocol (one round).

Speaker ``i`` faces a user whose types are her signal and the others' messages
(:func:`~persuaders.eval.response.deviation_joint.auxiliary_channel`); with its own signal taking at most
two values, its best response is the concave closure of its value at the prior over a set of
beliefs on a :class:`~persuaders.eval.response.belief_line.BeliefLine`: the best two-point split
(refined on finer lattices around it for a smooth response). A speaker moves only when that
gains it more than ``tol`` (docs/science.md, "Best-response dynamics"). A best responder's ties
make a race of offsets around indifference beliefs, accelerated by
:mod:`persuaders.eval.dynamics.acceleration`. The best responses are the ``belief_line_joint``
solver of the best-response interface (:class:`~persuaders.eval.response.line_solvers.BeliefLineJoint`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from persuaders.envs.game.protocols import resolve_protocol
from persuaders.envs.game.spec import Game
from persuaders.envs.payoff.exact import evaluate
from persuaders.eval.dynamics.acceleration import DynamicsOutcome, accelerated_passes
from persuaders.eval.response import ResponseProblem, best_response

__all__ = ["JointState", "simultaneous_dynamics"]


class JointState:
    """simultaneous dynamics: the speakers' current schemes [X, M]."""

    def __init__(self, game: Game, grid: int, start: list[Any] | None = None):
        self.game, self.grid = game, grid
        m = game.messages
        if start is None:
            self.schemes = [np.full((s.n_signals, m), 1.0 / m) for s in game.speakers]
        else:
            self.schemes = [
                np.asarray(r, dtype=np.float64).reshape(-1, s.n_signals, m)[0].copy()
                for r, s in zip(start, game.speakers, strict=True)
            ]
        self.restricted = 0
        self.protocol = resolve_protocol("simultaneous")

    def snapshot(self) -> Any:
        return [s.copy() for s in self.schemes], self.restricted

    def restore(self, snap: Any) -> None:
        self.schemes, self.restricted = [s.copy() for s in snap[0]], snap[1]

    def user_value(self) -> float:
        return evaluate(self.game, self.schemes).user_value

    def best_response(self, i: int, scale: float, tol: float) -> bool:
        """Move speaker ``i`` to its best response if it gains more than ``tol`` (offsets scaled by ``scale``)."""
        cur = evaluate(self.game, self.schemes).speaker_values[self.game.speakers[i].name]
        problem = ResponseProblem(
            self.game, self.protocol, tuple(self.schemes), i, strict=True, scale=scale, grid=self.grid
        )
        r = best_response(problem, solver="belief_line_joint", current=cur)
        if r.detail == "restricted":
            self.restricted += 1
            return False
        if r.lower > cur + tol:
            self.schemes[i] = np.asarray(r.rule)
            return True
        return False


def simultaneous_dynamics(
    game: Game, tol: float, max_passes: int, grid: int, start: list[Any] | None = None, deadline: float | None = None
) -> DynamicsOutcome:
    """Best-response dynamics of the simultaneous protocol from ``start`` (babbling when None; the module
    docstring); no pass starts after ``deadline`` (a :func:`time.monotonic` reading)."""
    st = JointState(game, grid, start)
    k = game.n_speakers
    ties = game.user.model.best_responder

    def step(scale: float) -> tuple[tuple[bool, ...], bool, bool]:
        pattern = tuple(st.best_response(i, scale, tol) for i in range(k))
        moved = any(pattern)
        return pattern, moved, moved and ties

    run = accelerated_passes(st, step, max_passes, 1e9, rollback=False, deadline=deadline)
    schemes = {s.name: st.schemes[i] for i, s in enumerate(game.speakers)}
    return DynamicsOutcome(schemes, run.converged, run.passes, run.accelerated, run.history, st.restricted, run.stop)
