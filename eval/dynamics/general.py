"""Best-response dynamics for games the one-round two-signal machinery refuses: any rounds, states, signals.

The loop is the belief line's (:func:`persuaders.eval.dynamics.acceleration.accelerated_passes`, docs/science.md,
"Best-response dynamics"): Gauss-Seidel passes from babbling, a speaker moving only when its best
response gains more than ``tol``; only the best responses differ (docs/science.md,
"Best-response dynamics over several rounds").

* ``simultaneous`` (:class:`GeneralJointState`): speaker ``i`` moves to the strict version of its
  sequence-form best response (:mod:`persuaders.eval.response.multiround`, :mod:`persuaders.eval.response.strict_lp`),
  a history-dependent rule; its current value is the evaluator's (the user's ties split evenly, as in
  the one-round dynamics), so a speaker left on a tie moves to a strict rule that breaks it its way.
* ``best_ai`` with exact scores (:class:`GeneralSelectionState`): closed-loop rules on the solo
  threads. With ``V*`` the best rival's solo user value the speaker stays passed over, is passed
  over deliberately (babbling), or is selected: the best strict rule of
  :mod:`persuaders.eval.response.solo_rules` giving the user more than ``V*`` by the increment. Races are
  accelerated as before.

Both move speakers with the best-response interface (:func:`persuaders.eval.response.best_response`:
the ``sequence_form`` and ``solo_thread`` solvers), so a move is the rule a certificate would
name. A best response whose bracket stays open is still an actual rule: the dynamics play it,
and the final profile's certified exploitability says how far from an equilibrium they stopped.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from tqdm.auto import tqdm

from persuaders.envs.game.protocols import SCORE_TOL, exact_selection, resolve_protocol
from persuaders.envs.game.schemes import babbling_scheme
from persuaders.envs.game.spec import Game
from persuaders.envs.payoff.exact import evaluate
from persuaders.eval.dynamics.acceleration import DynamicsOutcome, accelerated_passes
from persuaders.eval.response import ResponseProblem, best_response
from persuaders.eval.response.deviation import ETA
from persuaders.eval.response.line_solvers import MAX_INCREMENT
from persuaders.eval.response.solo_rules import SoloRule, SoloThread
from persuaders.eval.response.strict_lp import GAMMA

__all__ = [
    "MILP_TIME_DYNAMICS",
    "MILP_TIME_LOGIT_MOVES",
    "PRICING_BUDGET_DYNAMICS",
    "GeneralJointState",
    "GeneralSelectionState",
    "general_dynamics",
]

#: Seconds a best response's M-message program may run inside the dynamics.
MILP_TIME_DYNAMICS = 5.0
#: Evaluations of each certified maximisation that prices a solo thread's columns inside the
#: dynamics (a move needs the columns it finds, not the bound; the final certificate prices in full).
PRICING_BUDGET_DYNAMICS = 50_000
#: Seconds the M-message program of a logit user's ``simultaneous`` move may run: its incumbent,
#: from the relaxation's columns, comes within a fraction of a second; the rest is spent proving it.
MILP_TIME_LOGIT_MOVES = 1.0


class GeneralJointState:
    """``simultaneous`` dynamics over history-dependent rules (module docstring)."""

    def __init__(self, game: Game, start: list[Any] | None = None):
        self.game = game
        self.rules: list[Any] = (
            list(start) if start is not None else [babbling_scheme(game, i) for i in range(game.n_speakers)]
        )
        self.restricted = 0
        self.protocol = resolve_protocol("simultaneous")

    def snapshot(self) -> Any:
        return list(self.rules), self.restricted

    def restore(self, snap: Any) -> None:
        self.rules, self.restricted = list(snap[0]), snap[1]

    def user_value(self) -> float:
        return evaluate(self.game, self.rules).user_value

    def current(self, i: int) -> float:
        return evaluate(self.game, self.rules).speaker_values[self.game.speakers[i].name]

    def best_response(self, i: int, scale: float, tol: float) -> bool:
        """Move ``i`` to its strict best response (margin ``GAMMA * scale``) if that gains more than ``tol``.

        A logit user's move is the best rule over the refined belief grid's columns, without the
        certified pricing (which only the bound needs, and which can take minutes per move); a gain
        the grid misses is found by the certificate, whose rule the dynamics then play
        (:func:`persuaders.eval.dynamics.best_response.best_response_dynamics`, "Continuation").

        Strict responses race as the belief line's offsets do (each speaker nudging posteriors across an
        indifference belief): the margin is scaled by the accelerated passes, and divided by 8
        until the move still gains more than ``tol`` (the literal margin last; the favourable
        rule when even that has no strict version).
        """
        cur = self.current(i)
        margins = tuple(GAMMA * scale / 8.0**n for n in range(12) if GAMMA * scale / 8.0**n > GAMMA)
        logit = not self.game.user.model.best_responder
        problem = ResponseProblem(
            self.game,
            self.protocol,
            tuple(self.rules),
            i,
            strict=True,
            margins=margins,
            time_limit=MILP_TIME_LOGIT_MOVES if logit else MILP_TIME_DYNAMICS,
            context={"certify": False} if logit else {},
        )
        r = best_response(problem, solver="sequence_form", current=cur + tol)
        if r.needed > self.game.messages:
            self.restricted += 1
        if r.lower > cur + tol:
            self.rules[i] = r.rule
            return True
        return False


class GeneralSelectionState:
    """``best_ai`` dynamics over closed-loop rules on the solo threads (module docstring)."""

    def __init__(self, game: Game, start: list[Any] | None = None):
        self.game = game
        k = game.n_speakers
        self.threads = [
            SoloThread(game, i, time_limit=MILP_TIME_DYNAMICS, pricing_budget=PRICING_BUDGET_DYNAMICS) for i in range(k)
        ]
        self.rules: list[Any] = list(start) if start is not None else [babbling_scheme(game, i) for i in range(k)]
        self.V = np.zeros(k)
        self.O = np.zeros((k, k))
        for i in range(k):
            self.V[i], self.O[i] = self.threads[i].evaluate(self.rules[i])
        self.restricted = 0
        self.protocol = resolve_protocol("best_ai", "exact")
        self._top: dict[int, SoloRule | None] = {}

    def snapshot(self) -> Any:
        return list(self.rules), self.V.copy(), self.O.copy(), self.restricted

    def restore(self, snap: Any) -> None:
        self.rules, self.V, self.O, self.restricted = list(snap[0]), snap[1].copy(), snap[2].copy(), snap[3]

    def payoff(self, i: int) -> float:
        return float(exact_selection(self.V) @ self.O[:, i])

    def user_value(self) -> float:
        return float(exact_selection(self.V) @ self.V)

    def top(self, i: int) -> SoloRule | None:
        """The most informative rule of ``i`` found (the user's solo value at its largest)."""
        if i not in self._top:
            self._top[i] = self.threads[i].best_rule(None, user_objective=True)
        return self._top[i]

    def _respond(self, i: int, increment: float) -> Any:
        problem = ResponseProblem(
            self.game,
            self.protocol,
            tuple(self.rules),
            i,
            strict=True,
            increment=increment,
            time_limit=MILP_TIME_DYNAMICS,
            # a move needs the rule and its value, not the upper bounds (the final certificate has them)
            context={"solo": (self.V, self.O), "threads": self.threads, "certify": False},
        )
        return best_response(problem, solver="solo_thread", current=self.payoff(i))

    def _capped(self, i: int, vstar: float, increment: float) -> float:
        """A race's increment, capped at the most the speaker can give the user (as the literal
        dynamics would reach it)."""
        top = self.top(i)
        if top is not None and vstar + increment > top.user and vstar + ETA <= top.user:
            return max(ETA, top.user - vstar)
        return increment

    def best_response(self, i: int, delta: float, tol: float) -> tuple[str, float]:
        """Move ``i`` to its best response if it gains more than ``tol`` (the one-round decision rule:
        stay, be passed over deliberately, or be selected by beating the best rival's user value by
        :data:`~persuaders.eval.response.deviation.ETA`; a race move is then made with the larger
        increment ``delta`` of an accelerated pass)."""
        k = self.game.n_speakers
        rivals = np.arange(k) != i
        vstar = float(self.V[rivals].max()) if k > 1 else -np.inf
        r = self._respond(i, self._capped(i, vstar, ETA) if k > 1 else ETA)
        gain = r.lower - r.current
        if r.detail in ("", "keep") or gain <= tol:
            return "stay", max(gain, 0.0)
        rule = r.rule
        user, spk = self.threads[i].evaluate(rule)
        if r.detail == "passed over":
            kind = "lose"
        elif k > 1 and self.V[i] >= vstar - SCORE_TOL:
            kind = "relax"  # the selected speaker gives the user less: not a race move
        else:
            kind = "win" if k > 1 and user <= vstar + ETA + 1e-7 else "win-free"
            if kind == "win" and delta > ETA:  # a challenger's race move, made with the larger increment
                jump = self._respond(i, self._capped(i, vstar, delta))
                if jump.detail == "selected":
                    rule = jump.rule
                    user, spk = self.threads[i].evaluate(rule)
        if r.needed > self.game.messages:
            self.restricted += 1
        self.V[i], self.rules[i], self.O[i] = user, rule, spk
        return kind, gain


def general_dynamics(
    game: Game,
    protocol_joint: bool,
    tol: float,
    max_passes: int,
    progress: bool = False,
    start: list[Any] | None = None,
    deadline: float | None = None,
) -> DynamicsOutcome:
    """Best-response dynamics with the general best responses from ``start`` (babbling when None;
    module docstring); no pass starts after ``deadline`` (a :func:`time.monotonic` reading).

    ``progress``: a bar on stderr counting the best responses solved (each an LP: seconds to
    minutes in games of many rounds), when stderr is a terminal."""
    k = game.n_speakers
    bar = tqdm(desc="best responses", unit=" LP", disable=None if progress else True, leave=False)

    def counted(result: Any) -> Any:
        bar.update(1)
        return result

    if protocol_joint:
        st: Any = GeneralJointState(game, start)
        ties = game.user.model.best_responder

        def step(scale: float) -> tuple[tuple[bool | str, ...], bool, bool]:
            pattern = tuple(counted(st.best_response(i, scale, tol)) for i in range(k))
            moved = any(pattern)
            return pattern, moved, moved and ties

        def signature() -> tuple[float, ...]:
            return tuple(np.round([st.user_value()] + [st.current(i) for i in range(k)], 12))

        run = accelerated_passes(st, step, max_passes, 1e9, rollback=False, signature=signature, deadline=deadline)
    else:
        st = GeneralSelectionState(game, start)

        def step(scale: float) -> tuple[tuple[bool | str, ...], bool, bool]:
            pattern = tuple(counted(st.best_response(i, ETA * scale, tol))[0] for i in range(k))
            moved = any(p != "stay" for p in pattern)
            return pattern, moved, moved and all(p in ("stay", "win") for p in pattern)

        def signature() -> tuple[float, ...]:
            return tuple(np.round([st.user_value()] + [st.payoff(i) for i in range(k)], 12))

        run = accelerated_passes(
            st, step, max_passes, MAX_INCREMENT / ETA, signature=signature, stall=tol, deadline=deadline
        )
    bar.close()
    schemes = {s.name: st.rules[i] for i, s in enumerate(game.speakers)}
    return DynamicsOutcome(schemes, run.converged, run.passes, run.accelerated, run.history, st.restricted, run.stop)
