"""Best responses on the belief line: one round, speakers whose signal takes at most two values.

A split of such a speaker's prior is a distribution over one number (:mod:`.belief_line`), so its
best reply is read off the candidate beliefs of the line (docs/science.md, "Best-response
dynamics"): for a best responder both sides of every indifference belief, offset so that the
rule leaves her no ties (a strict rule, what dynamics play); for a smooth response a grid
refined around the best split. Two registered solvers:

* ``belief_line_joint``: a joint protocol; the user's types are her signal and the others'
  messages (:func:`~persuaders.eval.response.deviation_joint.auxiliary_channel`), the best
  two-point split, reduced to at most ``M`` beliefs;
* ``belief_line_selection``: best-AI selection with exact scores; the best of being passed over
  and being selected, on the split cloud of :mod:`.split_cloud` (:class:`SelectionLine`, built
  once per game).

They answer with an actual rule and its exact value (no upper bound: the line is a candidate
set); the one-round dynamics move speakers with them, and the exact solvers certify the result.
"""

from __future__ import annotations

import math

import numpy as np

from persuaders.envs.game.limits import check_count
from persuaders.envs.game.protocols import SCORE_TOL, exact_selection
from persuaders.envs.game.spec import Game
from persuaders.eval.response.base import Response, ResponseProblem, ResponseSolver, register_solver
from persuaders.eval.response.belief_line import REFINE_POINTS, REFINE_ROUNDS, BeliefLine, best_pair, refine_pair
from persuaders.eval.response.deviation import ETA
from persuaders.eval.response.deviation_joint import auxiliary_channel
from persuaders.eval.response.split_cloud import Pairs, SplitCloud
from persuaders.eval.theory.beliefs import PROB_TOL

__all__ = [
    "DEFAULT_GRID",
    "MAX_INCREMENT",
    "REFINE_SLACK",
    "Realised",
    "SelectionLine",
    "BeliefLineJoint",
    "BeliefLineSelection",
    "on_belief_line",
]

#: Default belief-grid size for a smooth response.
DEFAULT_GRID = 501
#: Largest accelerated increment of the user value in a best_ai race.
MAX_INCREMENT = 0.05
#: A grid solution worth this much less than the alternatives is not refined.
REFINE_SLACK = 1e-3
#: A realised split: beliefs, weights, the user's value and every speaker's value.
Realised = tuple[np.ndarray, np.ndarray, float, np.ndarray]


def on_belief_line(game: Game) -> bool:
    """Whether the belief-line solvers apply: one round, every speaker with at most two signals of
    positive probability."""
    return game.rounds == 1 and all(int((game.prior @ s.observation > PROB_TOL).sum()) <= 2 for s in game.speakers)


def _solo_types(game: Game) -> np.ndarray:
    o0 = game.user.observation
    return o0[:, game.prior @ o0 > PROB_TOL]


class SelectionLine:
    """Every speaker's belief line and split cloud in a one-round best-AI game (built once per game),
    and the best-response decision on them (the docstring of :mod:`persuaders.eval.dynamics.selection`).

    ``refine`` turns on the polishing of a smooth response's splits on lattices around them;
    ``restricted`` counts best responses that needed more beliefs than ``M`` messages.
    """

    def __init__(self, game: Game, grid: int):
        check_count(grid, "grid", "grid")  # memory grows with the grid: refused before any line is built
        self.game = game
        types = _solo_types(game)
        utils = game.speaker_utilities
        cache: dict[bytes, tuple[BeliefLine, SplitCloud]] = {}
        self.lines, self.clouds = [], []
        for i, s in enumerate(game.speakers):
            key = s.observation.tobytes()
            if key not in cache:
                line = BeliefLine(game, i, types, utils, grid)
                cache[key] = (line, SplitCloud(line))
            self.lines.append(cache[key][0])
            self.clouds.append(cache[key][1])
        self.restricted = 0
        self.refine = False
        self._vmax: dict[int, float] = {}

    def _choose(self, cloud: SplitCloud, i: int, side: str, level: float) -> tuple[Pairs | None, Pairs | None]:
        if side == "ge":
            return cloud.at_least(i, level)
        if side == "le":
            return cloud.at_most(i, level)
        return cloud.best(i)

    def _refined(
        self, i: int, side: str, level: float, hull: Pairs, pure: Pairs
    ) -> tuple[SplitCloud, Pairs | None, Pairs | None]:
        """Local refinement of a logit user's split: the same choice over fine lattices around its beliefs."""
        line, cloud = self.lines[i], self.clouds[i]
        t, _ = cloud.pairs_to_split(hull)
        tp, _ = cloud.pairs_to_split(pure)
        h = 1.0 / max(len(line.t) - 1, 1)
        for _ in range(REFINE_ROUNDS):
            offs = h * np.linspace(-1.0, 1.0, REFINE_POINTS)
            pts = np.unique(
                np.clip(np.concatenate([(np.concatenate([t, tp])[:, None] + offs).ravel(), [line.t0]]), 0.0, 1.0)
            )
            v, g = line.values(pts)
            local = SplitCloud(line, pts, v, g)
            h2, p2 = self._choose(local, i, side, level)
            if h2 is None:
                if side == "ge" and level > local.vmax:  # not reachable yet: climb towards the top
                    top = [(len(local.V) - 1, 1.0)]
                    cloud, hull, pure = local, top, top
                    t, _ = cloud.pairs_to_split(hull)
                    tp = t
                    h = 2.0 * h / (REFINE_POINTS - 1)
                    continue
                break
            assert p2 is not None  # a split comes with its pure fallback
            cloud, hull, pure = local, h2, p2
            t, _ = cloud.pairs_to_split(hull)
            tp, _ = cloud.pairs_to_split(pure)
            h = 2.0 * h / (REFINE_POINTS - 1)
        if side == "ge" and level > cloud.vmax + 1e-15:
            return cloud, None, None
        return cloud, hull, pure

    def vmax(self, i: int) -> float:
        """Largest user value speaker ``i`` can give her (refined around the grid's best in polishing)."""
        cloud, line = self.clouds[i], self.lines[i]
        if not (self.refine and not self.game.user.model.best_responder and len(line.keep) == 2):
            return cloud.vmax
        if i not in self._vmax:
            top = [(len(cloud.V) - 1, 1.0)]
            local, _, _ = self._refined(i, "ge", np.inf, top, top)
            self._vmax[i] = max(cloud.vmax, local.vmax)
        return self._vmax[i]

    def _realise(self, i: int, side: str, level: float, floor: bool, refine: bool = False) -> Realised | None:
        """The chosen split, refined if asked (logit user, polishing stage), reduced to at most M beliefs."""
        cloud, line, m = self.clouds[i], self.lines[i], self.game.messages
        hull, pure = self._choose(cloud, i, side, level)
        refine = refine and self.refine and not self.game.user.model.best_responder and len(line.keep) == 2
        if hull is None and refine and side == "ge" and level <= self.vmax(i):
            hull = pure = [(len(cloud.V) - 1, 1.0)]  # refine from the grid's most informative split
        if hull is None:
            return None
        assert pure is not None  # a split comes with its pure fallback
        if refine:
            cloud, hull, pure = self._refined(i, side, level, hull, pure)
            if hull is None or pure is None:
                return None
        t, w = cloud.pairs_to_split(hull)
        red = line.reduce(t, w, i, floor, m)
        if red is None:
            t, w = cloud.pairs_to_split(pure)
            red = line.reduce(t, w, i, False, m)
            if red is None:
                return None
            self.restricted += 1
        t, w = red
        v, g = line.values(t)
        return t, w, float(w @ v), w @ g

    def _win(self, i: int, vstar: float, increment: float, worth: float = -np.inf) -> tuple[str, Realised] | None:
        """Best split beating ``vstar`` by ``increment`` (capped at its largest user value), or None.

        In the polishing stage the grid solution is refined unless it is worth less than
        ``worth - REFINE_SLACK`` to the speaker (refinement gains far less than that).
        """
        level = vstar + increment
        vmax = self.vmax(i)
        if level > vmax and vstar + ETA <= vmax:
            level = vmax
        if level > vmax + 1e-15:
            return None
        r = self._realise(i, "ge", level, floor=True)
        if self.refine and (r is None or r[3][i] >= worth - REFINE_SLACK):
            r = self._realise(i, "ge", level, floor=True, refine=True)
        if r is None or r[2] <= vstar + SCORE_TOL:
            return None
        cloud = self.clouds[i]
        # "win": the floor binds (a race move); "win-free": its unconstrained optimum wins anyway
        kind = "win" if level > cloud.V[cloud.front(i)[0]] else "win-free"
        return kind, r

    def decide(
        self, i: int, solo_user: np.ndarray, solo_values: np.ndarray, cur: float, delta: float, tol: float
    ) -> tuple[str, float, Realised | None]:
        """Speaker ``i``'s best response given every speaker's solo user value ``solo_user`` and solo outcome
        values ``solo_values`` and its current payoff ``cur``: ``(kind, gain, split)``, ``kind`` ``stay`` when
        nothing gains more than ``tol`` (then ``split`` is None).

        The decision is the literal one (beating the best rival by :data:`ETA`); in an
        accelerated pass (``delta > ETA``) a race move is then made with the increment ``delta``.
        """
        k = self.game.n_speakers
        options: list[tuple[float, str, Realised | None]] = []
        vstar = -np.inf
        if k == 1:
            r = self._realise(i, "best", 0.0, floor=False, refine=True)
            if r is not None:
                options.append((float(r[3][i]), "win", r))
        else:
            rivals = np.arange(k) != i
            vstar = float(solo_user[rivals].max())
            top = rivals & (vstar - SCORE_TOL <= solo_user)
            lose = float(solo_values[top, i].mean())
            if solo_user[i] < vstar - SCORE_TOL:
                options.append((lose, "stay", None))
            else:
                r = self._realise(i, "le", vstar - ETA, floor=True)
                if r is not None and r[2] < vstar - SCORE_TOL:
                    options.append((lose, "lose", r))
            win = self._win(i, vstar, ETA, worth=max([cur + tol] + [o[0] for o in options]))
            if win is not None:
                options.append((float(win[1][3][i]), win[0], win[1]))
        if not options:
            return "stay", 0.0, None
        val, kind, r = max(options, key=lambda o: o[0])
        gain = val - cur
        if kind == "stay" or gain <= tol or r is None:
            return "stay", max(gain, 0.0), None
        if kind == "win" and solo_user[i] >= vstar - SCORE_TOL:
            kind = "relax"  # the selected speaker gives the user less: not a race move
        elif kind == "win" and delta > ETA:  # a challenger's race move, made with the larger increment
            jump = self._win(i, vstar, delta, worth=cur + tol)
            if jump is not None and jump[0] == "win":
                r = jump[1]
        return kind, gain, r


@register_solver
class BeliefLineJoint(ResponseSolver):
    """One round of a joint conversation, a speaker with at most two signals: the best two-point split
    on its belief line against the user's types (her signal and the others' messages), strict for a
    best responder (offsets around indifference beliefs, scaled by ``problem.scale`` in a race)."""

    name = "belief_line_joint"
    priority = 30
    fallback = True

    def supports(self, problem: ResponseProblem) -> str | None:
        game = problem.game
        if not problem.protocol.joint:
            return "not a joint protocol"
        if game.rounds != 1 or not problem.open_loop:
            return "more than one round, or history-dependent rules"
        spk = game.speakers[problem.speaker]
        if int((game.prior @ spk.observation > PROB_TOL).sum()) > 2:
            return "the speaker has more than two signals (no belief line)"
        return None if game.user.model.analytic is not None else "no analytic solver for this user model"

    def respond(self, problem: ResponseProblem, current: float) -> Response:
        game, i, m = problem.game, problem.speaker, problem.game.messages
        schemes = [np.asarray(s) for s in problem.profile]
        types, _ = auxiliary_channel(game, i, [s if s.ndim == 3 else s[None] for s in schemes])
        line = BeliefLine(
            game, i, types, game.speakers[i].utility[None], problem.grid or DEFAULT_GRID, offset_scale=problem.scale
        )
        tl, tr = best_pair(line)
        if not game.user.model.best_responder and len(line.keep) == 2:
            t, w = refine_pair(line, tl, tr)
        elif tr - tl <= 1e-15:
            t, w = np.array([line.t0]), np.ones(1)
        else:
            wr = (line.t0 - tl) / (tr - tl)
            t, w = np.array([tl, tr]), np.array([1.0 - wr, wr])
        red = line.reduce(t, w, 0, False, m)
        method = "belief line (the best two-point split of the speaker's beliefs, strict for a best responder)"
        if red is None:
            return Response(
                problem.name,
                current,
                current,
                math.inf,
                problem.profile[i],
                self.name,
                method + f"; it needs more than M = {m} messages",
                detail="restricted",
            )
        t, w = red
        value = float(w @ line.values(t)[1][:, 0])
        return Response(problem.name, current, value, math.inf, line.scheme(t, w, m), self.name, method)


@register_solver
class BeliefLineSelection(ResponseSolver):
    """One round of best-AI selection with exact scores, speakers with at most two signals: the best
    of being passed over and being selected on the game's split clouds (:class:`SelectionLine`,
    taken from ``problem.context["selection_line"]`` when a dynamics holds it, with the solo values
    in ``problem.context["solo"]``; ``problem.increment`` is the race's increment and
    ``problem.context["tol"]`` the least gain worth a move)."""

    name = "belief_line_selection"
    priority = 30
    fallback = True

    def supports(self, problem: ResponseProblem) -> str | None:
        if not problem.exact_selection:
            return "not best-AI selection with exact scores"
        if not on_belief_line(problem.game) or not problem.open_loop:
            return "not one round with two-signal speakers and fixed schemes"
        return None if problem.game.user.model.analytic is not None else "no analytic solver for this user model"

    def respond(self, problem: ResponseProblem, current: float) -> Response:
        game, i = problem.game, problem.speaker
        line = problem.context.get("selection_line") or SelectionLine(game, problem.grid or DEFAULT_GRID)
        solo_user, solo_values = problem.solo()
        delta = ETA if problem.increment is None else problem.increment
        kind, gain, r = line.decide(i, solo_user, solo_values, current, delta, problem.context.get("tol", 0.0))
        method = "belief line (the split cloud's upper hull with a floor on the user's value)"
        if r is None:
            return Response(
                problem.name, current, current, math.inf, problem.profile[i], self.name, method, detail=kind
            )
        scheme = line.lines[i].scheme(r[0], r[1], game.messages)
        value = float(
            exact_selection(np.where(np.arange(game.n_speakers) == i, r[2], solo_user))
            @ np.where(np.arange(game.n_speakers)[:, None] == i, r[3][None], solo_values)[:, i]
        )
        return Response(
            problem.name,
            current,
            value,
            math.inf,
            scheme,
            self.name,
            method,
            detail=kind,
            extra={"split": r, "gain": gain},
        )
