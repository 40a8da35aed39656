"""Best-response dynamics for games the one-round two-signal machinery refuses: any rounds, states, signals.

The loop is the belief line's (:func:`persuaders.eval.dynamics.acceleration.accelerated_passes`, docs/science.md,
"Best-response dynamics"): Gauss-Seidel passes from babbling, a speaker moving only when its best
response gains more than ``tol``; only the best responses differ (docs/science.md,
"Best-response dynamics over several rounds").

* ``simultaneous`` (:class:`GeneralJointState`): speaker ``i`` moves to the strict version of its
  sequence-form best response (:mod:`persuaders.eval.response.multiround`, :mod:`persuaders.eval.response.strict_lp`),
  a history-dependent rule; its current value has its ties (none, in practice) broken its way.
* ``best_ai`` with exact scores (:class:`GeneralSelectionState`): closed-loop rules on the solo
  threads. With ``V*`` the best rival's solo user value the speaker stays passed over, is passed
  over deliberately (babbling), or is selected: the best strict rule of
  :mod:`persuaders.eval.response.solo_rules` giving the user more than ``V*`` by the increment. Races are
  accelerated as before.

A best response that is only a lower bound (the relaxation needs more than ``M`` last-round
messages) is still an actual rule: the dynamics play it, and the final profile's certified
exploitability says how far from an equilibrium they stopped.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from tqdm.auto import tqdm

from persuaders.envs.game.protocols import SCORE_TOL, exact_selection
from persuaders.envs.game.schemes import babbling_scheme
from persuaders.envs.game.spec import Game
from persuaders.envs.payoff.exact import evaluate, history_distribution
from persuaders.eval.dynamics.acceleration import DynamicsOutcome, accelerated_passes
from persuaders.eval.dynamics.selection import MAX_INCREMENT
from persuaders.eval.response.deviation import ETA, favourable_value
from persuaders.eval.response.deviation_general import as_open_loop
from persuaders.eval.response.multiround import multiround_best_response
from persuaders.eval.response.solo_rules import SoloRule, SoloThread
from persuaders.eval.response.strict_lp import GAMMA

__all__ = ["MILP_TIME_DYNAMICS", "GeneralJointState", "GeneralSelectionState", "general_dynamics"]

#: Seconds a best response's cardinality MILP may run inside the dynamics.
MILP_TIME_DYNAMICS = 5.0


class GeneralJointState:
    """``simultaneous`` dynamics over history-dependent rules (module docstring)."""

    def __init__(self, game: Game):
        self.game = game
        self.rules: list[Any] = [babbling_scheme(game, i) for i in range(game.n_speakers)]
        self.restricted = 0

    def snapshot(self) -> Any:
        return list(self.rules), self.restricted

    def restore(self, snap: Any) -> None:
        self.rules, self.restricted = list(snap[0]), snap[1]

    def user_value(self) -> float:
        return evaluate(self.game, self.rules).user_value

    def current(self, i: int) -> float:
        if self.game.user.model.best_responder:
            return favourable_value(self.game, history_distribution(self.game, self.rules), i)
        return evaluate(self.game, self.rules).speaker_values[self.game.speakers[i].name]

    def best_response(self, i: int, scale: float, tol: float) -> bool:
        """Move ``i`` to its strict best response (margin ``GAMMA * scale``) if that gains more than ``tol``.

        Strict responses race as the belief line's offsets do (each speaker nudging posteriors across an
        indifference belief): the margin is scaled by the accelerated passes, and divided by 8
        until the move still gains more than ``tol`` (the literal margin last; the favourable
        rule when even that has no strict version).
        """
        cur = self.current(i)
        margins = [GAMMA * scale / 8.0**n for n in range(12) if GAMMA * scale / 8.0**n > GAMMA]
        r = multiround_best_response(
            self.game,
            i,
            self.rules,
            milp=True,
            milp_time=MILP_TIME_DYNAMICS,
            strict=True,
            certify=False,
            accept=cur + tol,
            margins=margins,
        )
        if r.strict_rule is not None:
            assert r.strict_value is not None  # set together with strict_rule
            value, rule = r.strict_value, r.strict_rule
        else:
            value, rule = r.lower, r.rule
        if r.needed > self.game.messages:
            self.restricted += 1
        if value > cur + tol:
            self.rules[i] = as_open_loop(self.game, rule)
            return True
        return False


class GeneralSelectionState:
    """``best_ai`` dynamics over closed-loop rules on the solo threads (module docstring)."""

    def __init__(self, game: Game):
        self.game = game
        k = game.n_speakers
        self.threads = [SoloThread(game, i) for i in range(k)]
        self.rules: list[Any] = [babbling_scheme(game, i) for i in range(k)]
        self.V = np.zeros(k)
        self.O = np.zeros((k, k))
        for i in range(k):
            self.V[i], self.O[i] = self.threads[i].evaluate(self.rules[i])
        self.restricted = 0
        self._top: dict[int, SoloRule | None] = {}
        self._free: dict[int, SoloRule | None] = {}

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

    def _realised(self, i: int, floor: float | None) -> SoloRule | None:
        """The best rule of ``i`` giving the user more than ``floor`` (any, if None)."""
        r = self.threads[i].best_rule(floor)
        if r is not None and r.speakers[i] < self.threads[i].upper(floor) - 1e-7:
            self.restricted += 1  # the rule found falls short of the relaxation (more messages needed)
        return r

    def _win(self, i: int, vstar: float, increment: float) -> tuple[str, SoloRule] | None:
        top = self.top(i)
        if top is None:
            return None
        level = vstar + increment
        if level > top.user and vstar + ETA <= top.user:
            return "win", top
        if level > top.user + 1e-15:
            return None
        r = self._realised(i, level)
        if r is None:
            return None
        if i not in self._free:
            self._free[i] = self._realised(i, None)
        free = self._free[i]
        if free is not None and free.user > vstar + SCORE_TOL and free.speakers[i] >= r.speakers[i] - 1e-15:
            return "win-free", free
        return "win", r

    def best_response(self, i: int, delta: float, tol: float) -> tuple[str, float]:
        """Move ``i`` to its best response if it gains more than ``tol`` (the one-round decision rule)."""
        k = self.game.n_speakers
        cur = self.payoff(i)
        options: list[tuple[float, str, SoloRule | None]] = []
        vstar = -np.inf
        if k == 1:
            r = self._realised(i, None)
            if r is not None:
                options.append((float(r.speakers[i]), "win", r))
        else:
            rivals = np.arange(k) != i
            vstar = float(self.V[rivals].max())
            top = rivals & (vstar - SCORE_TOL <= self.V)
            lose = float(self.O[top, i].mean())
            if self.V[i] < vstar - SCORE_TOL:
                options.append((lose, "stay", None))
            else:
                babble = babbling_scheme(self.game, i)
                user, spk = self.threads[i].evaluate(babble)
                if user < vstar - SCORE_TOL:
                    options.append((lose, "lose", SoloRule(babble, user, spk)))
            win = self._win(i, vstar, ETA)
            if win is not None:
                options.append((float(win[1].speakers[i]), win[0], win[1]))
        if not options:
            return "stay", 0.0
        val, kind, r = max(options, key=lambda o: o[0])
        gain = val - cur
        if kind == "stay" or gain <= tol or r is None:
            return "stay", max(gain, 0.0)
        if kind == "win" and self.V[i] >= vstar - SCORE_TOL:
            kind = "relax"
        elif kind == "win" and delta > ETA:
            jump = self._win(i, vstar, delta)
            if jump is not None and jump[0] == "win":
                r = jump[1]
        self.V[i], self.rules[i], self.O[i] = r.user, r.rule, r.speakers
        return kind, gain


def general_dynamics(
    game: Game, protocol_joint: bool, tol: float, max_passes: int, progress: bool = False
) -> DynamicsOutcome:
    """Best-response dynamics with the general best responses (module docstring).

    ``progress``: a bar on stderr counting the best responses solved (each an LP: seconds to
    minutes in games of many rounds), when stderr is a terminal."""
    k = game.n_speakers
    bar = tqdm(desc="best responses", unit=" LP", disable=None if progress else True, leave=False)

    def counted(result: Any) -> Any:
        bar.update(1)
        return result

    if protocol_joint:
        st: Any = GeneralJointState(game)

        ties = game.user.model.best_responder

        def step(scale: float) -> tuple[tuple[bool | str, ...], bool, bool]:
            pattern = tuple(counted(st.best_response(i, scale, tol)) for i in range(k))
            moved = any(pattern)
            return pattern, moved, moved and ties

        def signature() -> tuple[float, ...]:
            return tuple(np.round([st.user_value()] + [st.current(i) for i in range(k)], 12))

        converged, passes, accel, history = accelerated_passes(
            st, step, max_passes, 1e9, rollback=False, signature=signature
        )
        rules = st.rules
    else:
        st = GeneralSelectionState(game)

        def step(scale: float) -> tuple[tuple[bool | str, ...], bool, bool]:
            pattern = tuple(counted(st.best_response(i, ETA * scale, tol))[0] for i in range(k))
            moved = any(p != "stay" for p in pattern)
            return pattern, moved, moved and all(p in ("stay", "win") for p in pattern)

        converged, passes, accel, history = accelerated_passes(st, step, max_passes, MAX_INCREMENT / ETA)
        rules = st.rules
    bar.close()
    schemes = {s.name: rules[i] for i, s in enumerate(game.speakers)}
    return DynamicsOutcome(schemes, converged, passes, accel, history, st.restricted)
