"""Best-response dynamics of best-AI selection with exact scores (one round).

Each speaker's own signal takes at most two values of positive probability, so its splits live on
a :class:`~persuaders.eval.response.belief_line.BeliefLine` (docs/science.md, "Best-response dynamics").
With ``V*`` the best rival's solo user value, a speaker's best response is the best of being
passed over (its utility under the best rival's solo outcome, ties at the top split) and of being
selected: the best split giving the user ``>= V* + ETA``. All splits over the belief set ``S``
map to the convex hull of the points ``(V, U_i)`` of the two-point splits (:class:`SplitCloud`),
so the constrained optimum is read off the upper hull of that cloud (the optimum of the LP over
``S``; the cloud is built once per game): a mixture of two two-point splits, reduced to at most
three beliefs (Caratheodory, keeping the prior and the user-value floor) and, for a best
responder, to one belief per region of constant best response. A speaker passed over keeps its
scheme; one that prefers to be passed over takes its best split giving the user ``<= V* - ETA``.

For a smooth response (logit) the dynamics run on a uniform grid of ``grid`` beliefs and then
continue ("polishing") with every best response refined on lattices around its beliefs. If a best
response needs more beliefs than ``M`` messages, the best split with at most two beliefs is used
instead and ``restricted`` counts it. Races are accelerated
(:mod:`persuaders.eval.dynamics.acceleration`). The best responses are the ``belief_line_selection``
solver of the best-response interface
(:class:`~persuaders.eval.response.line_solvers.BeliefLineSelection`), on the game's split clouds,
built once.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from persuaders.envs.game.protocols import exact_selection, resolve_protocol
from persuaders.envs.game.spec import Game
from persuaders.eval.dynamics.acceleration import DynamicsOutcome, accelerated_passes
from persuaders.eval.response import ResponseProblem, best_response
from persuaders.eval.response.deviation import ETA
from persuaders.eval.response.line_solvers import MAX_INCREMENT, SelectionLine

__all__ = ["MAX_INCREMENT", "SelectionState", "best_ai_dynamics"]

#: What :meth:`SelectionState.snapshot` saves.
Snapshot = tuple[list[np.ndarray], list[np.ndarray], np.ndarray, np.ndarray, int]


class SelectionState:
    """best_ai dynamics: each speaker's split, solo user value V[i] and solo outcome values O[i, :]."""

    def __init__(self, game: Game, grid: int, start: list[Any] | None = None):
        self.game = game
        k = game.n_speakers
        self.line = SelectionLine(game, grid)
        self.lines = self.line.lines
        self.t: list[np.ndarray] = []
        self.w: list[np.ndarray] = []
        for i, ln in enumerate(self.lines):
            if start is None:
                t, w = np.array([ln.t0]), np.ones(1)
            else:
                t, w = ln.split_of(np.asarray(start[i]).reshape(-1, *np.asarray(start[i]).shape[-2:])[0])
            self.t.append(t)
            self.w.append(w)
        self.V = np.zeros(k)
        self.O = np.zeros((k, k))
        for i in range(k):
            self.set_split(i, self.t[i], self.w[i])
        self.protocol = resolve_protocol("best_ai", "exact")

    @property
    def restricted(self) -> int:
        return self.line.restricted

    @property
    def refine(self) -> bool:
        return self.line.refine

    @refine.setter
    def refine(self, value: bool) -> None:
        self.line.refine = value

    def set_split(self, i: int, t: np.ndarray, w: np.ndarray) -> None:
        """Give speaker ``i`` the split ``(t, w)`` (beliefs on its line and their weights)."""
        v, g = self.lines[i].values(t)
        self.t[i], self.w[i] = t, w
        self.V[i] = float(w @ v)
        self.O[i] = w @ g

    def snapshot(self) -> Snapshot:
        return ([a.copy() for a in self.t], [a.copy() for a in self.w], self.V.copy(), self.O.copy(), self.restricted)

    def restore(self, snap: Snapshot) -> None:
        self.t, self.w = [a.copy() for a in snap[0]], [a.copy() for a in snap[1]]
        self.V, self.O, self.line.restricted = snap[2].copy(), snap[3].copy(), snap[4]

    def payoff(self, i: int) -> float:
        sel = exact_selection(self.V)
        return float(sel @ self.O[:, i])

    def user_value(self) -> float:
        sel = exact_selection(self.V)
        return float(sel @ self.V)

    def schemes(self) -> list[np.ndarray]:
        return [ln.scheme(self.t[i], self.w[i], self.game.messages) for i, ln in enumerate(self.lines)]

    def best_response(self, i: int, delta: float, tol: float) -> tuple[str, float]:
        """Move speaker ``i`` to its best response if it gains more than ``tol``; returns (kind, gain).

        The decision is the literal one (beating the best rival by :data:`ETA`); in an
        accelerated pass (``delta > ETA``) a race move is then made with the increment ``delta``.
        """
        problem = ResponseProblem(
            self.game,
            self.protocol,
            tuple(self.schemes()),
            i,
            increment=delta,
            context={"selection_line": self.line, "solo": (self.V, self.O), "tol": tol},
        )
        r = best_response(problem, solver="belief_line_selection", current=self.payoff(i))
        if "split" not in r.extra:
            return "stay", r.gain_lower
        t, w, v, o = r.extra["split"]
        self.t[i], self.w[i], self.V[i], self.O[i] = t, w, v, o
        return r.detail, r.lower - r.current


def best_ai_dynamics(
    game: Game, tol: float, max_passes: int, grid: int, start: list[Any] | None = None, deadline: float | None = None
) -> DynamicsOutcome:
    """Best-response dynamics of best-AI selection (exact scores) from ``start`` (babbling when None;
    the module docstring). A smooth response is first solved on the ``grid`` and then polished on
    refined beliefs. No pass starts after ``deadline`` (a :func:`time.monotonic` reading)."""
    st = SelectionState(game, grid, start)
    k = game.n_speakers

    def step(scale: float) -> tuple[tuple[str, ...], bool, bool]:
        pattern = tuple(st.best_response(i, ETA * scale, tol)[0] for i in range(k))
        moved = any(p != "stay" for p in pattern)
        race = moved and all(p in ("stay", "win") for p in pattern)
        return pattern, moved, race

    run = accelerated_passes(st, step, max_passes, MAX_INCREMENT / ETA, deadline=deadline)
    # polish on refined beliefs around the grid solution
    if not game.user.model.best_responder and run.stop != "time budget":
        st.refine = True
        polish = accelerated_passes(st, step, max_passes, MAX_INCREMENT / ETA, deadline=deadline)
        run = polish._replace(
            passes=run.passes + polish.passes,
            accelerated=run.accelerated + polish.accelerated,
            history=run.history + polish.history,
        )
    schemes = {s.name: sch for s, sch in zip(game.speakers, st.schemes(), strict=True)}
    return DynamicsOutcome(schemes, run.converged, run.passes, run.accelerated, run.history, st.restricted, run.stop)
