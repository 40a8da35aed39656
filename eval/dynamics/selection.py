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
instead and ``restricted`` counts it. Races are accelerated (:mod:`persuaders.eval.dynamics.acceleration`).
"""

from __future__ import annotations

import numpy as np

from persuaders.envs.game.protocols import SCORE_TOL, exact_selection
from persuaders.envs.game.spec import Game
from persuaders.eval.dynamics.acceleration import DynamicsOutcome, accelerated_passes
from persuaders.eval.response.belief_line import REFINE_POINTS, REFINE_ROUNDS, BeliefLine
from persuaders.eval.response.deviation import ETA
from persuaders.eval.theory.beliefs import PROB_TOL
from persuaders.eval.theory.geometry import upper_hull

__all__ = ["MAX_INCREMENT", "REFINE_SLACK", "SplitCloud", "SelectionState", "best_ai_dynamics"]

#: Largest accelerated increment of the user value in a best_ai race.
MAX_INCREMENT = 0.05
#: A grid solution worth this much less than the alternatives is not refined.
REFINE_SLACK = 1e-3


#: A split as positions in a cloud with their weights.
Pairs = list[tuple[int, float]]
#: A cloud's front for one speaker: the top position and the decreasing, increasing, next and
#: previous record indices.
Front = tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray]
#: A realised split: beliefs, weights, the user's value and every speaker's value.
Realised = tuple[np.ndarray, np.ndarray, float, np.ndarray]
#: What :meth:`SelectionState.snapshot` saves.
Snapshot = tuple[list[np.ndarray], list[np.ndarray], np.ndarray, np.ndarray, int]


def _dedupe_x(x: np.ndarray, y: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """Among positions ``pos`` (sorted by ``x``) with equal ``x`` keep the one with the largest ``y``."""
    if len(pos) < 2:
        return pos
    order = np.lexsort((y[pos], x[pos]))  # by x, then y ascending
    pos = pos[order]
    last = np.concatenate([x[pos][1:] != x[pos][:-1], [True]])
    out: np.ndarray = pos[last]
    return out


class SplitCloud:
    """All two-point splits of the prior over a line's belief set, sorted by the user's value.

    ``V[k]`` is the user's value of split ``k`` and ``G[k, j]`` speaker ``j``'s; every split over
    the belief set maps into the convex hull of these points, so the best split for ``j`` with a
    floor (or ceiling) on ``V`` is read off their upper hull (:meth:`at_least`, :meth:`at_most`).
    """

    def __init__(
        self, line: BeliefLine, t: np.ndarray | None = None, v: np.ndarray | None = None, g: np.ndarray | None = None
    ):
        if t is None:
            t, v, g = line.t, line.v, line.g
        assert v is not None and g is not None, "SplitCloud: t, v and g are given together"
        t0 = line.t0
        left = np.flatnonzero(t <= t0 + 1e-15)
        right = np.flatnonzero(t >= t0 - 1e-15)
        li, ri = (a.ravel() for a in np.meshgrid(left, right, indexing="ij"))
        ok = (li != ri) | (np.abs(t[li] - t0) <= 1e-15)
        li, ri = li[ok], ri[ok]
        dt = t[ri] - t[li]
        wr = np.where(dt > 0, (t0 - t[li]) / np.where(dt > 0, dt, 1.0), 0.0)
        wr = np.clip(wr, 0.0, 1.0)
        vv = (1 - wr) * v[li] + wr * v[ri]
        order = np.argsort(vv, kind="stable")
        self.line, self.t = line, t
        self.li, self.ri, self.wr = li[order], ri[order], wr[order]
        self.V = vv[order]
        self.G = (1 - self.wr)[:, None] * g[self.li] + self.wr[:, None] * g[self.ri]
        self.vmax = float(self.V[-1])
        self.vmin = float(self.V[0])
        self._front: dict[int, Front] = {}

    def front(self, j: int) -> Front:
        if j in self._front:
            return self._front[j]
        V, G = self.V, self.G[:, j]
        top = G.max()
        imax = int(np.flatnonzero(top - 1e-13 <= G)[-1])
        n = len(G)
        # decreasing part: records from the right
        after = np.concatenate([np.maximum.accumulate(G[::-1])[::-1][1:], [-np.inf]])
        dec = np.flatnonzero((after + 1e-15 < G) & (np.arange(n) >= imax))
        dec = np.union1d(dec, [imax])
        dec = _dedupe_x(V, G, dec)
        dec = dec[upper_hull(V[dec], G[dec])]
        # increasing part: records from the left
        before = np.concatenate([[-np.inf], np.maximum.accumulate(G)[:-1]])
        inc = np.flatnonzero((before + 1e-15 < G) & (np.arange(n) <= imax))
        inc = np.union1d(inc, [imax])
        inc = _dedupe_x(V, G, inc)
        inc = inc[upper_hull(V[inc], G[inc])]
        # pure pairs: best single pair with V >= c (position of the max of G over [k:]), V <= c
        rmax = np.maximum.accumulate(G[::-1])[::-1]
        is_r = rmax <= G
        nxt = np.where(is_r, np.arange(n), n)
        nxt = np.minimum.accumulate(nxt[::-1])[::-1]
        fmax = np.maximum.accumulate(G)
        is_f = fmax <= G
        prv = np.where(is_f, np.arange(n), -1)
        prv = np.maximum.accumulate(prv)
        self._front[j] = (imax, dec, inc, nxt, prv)
        return self._front[j]

    def pairs_to_split(self, pos: list[tuple[int, float]]) -> tuple[np.ndarray, np.ndarray]:
        t = self.t
        ts, ws = [], []
        for k, a in pos:
            ts += [t[self.li[k]], t[self.ri[k]]]
            ws += [a * (1 - self.wr[k]), a * self.wr[k]]
        return np.array(ts), np.array(ws)

    def at_least(self, j: int, c: float) -> tuple[Pairs | None, Pairs | None]:
        """Best split for ``j`` with user value ``>= c`` (hull mixture), or None; and the pure fallback."""
        imax, dec, _inc, nxt, _prv = self.front(j)
        if c > self.vmax + 1e-15:
            return None, None
        k = int(np.searchsorted(self.V, c, side="left"))
        pure = [(int(nxt[min(k, len(nxt) - 1)]), 1.0)]
        if c <= self.V[imax]:
            return [(imax, 1.0)], pure
        vd = self.V[dec]
        p = int(np.searchsorted(vd, c, side="left"))
        if p >= len(dec):
            p = len(dec) - 1
        if p == 0 or vd[p] == c:
            return [(int(dec[p]), 1.0)], pure
        a = (vd[p] - c) / (vd[p] - vd[p - 1])
        return [(int(dec[p - 1]), a), (int(dec[p]), 1.0 - a)], pure

    def at_most(self, j: int, c: float) -> tuple[Pairs | None, Pairs | None]:
        """Best split for ``j`` with user value ``<= c``, or None; and the pure fallback."""
        imax, _dec, inc, _nxt, prv = self.front(j)
        if c < self.vmin - 1e-15:
            return None, None
        k = int(np.searchsorted(self.V, c, side="right")) - 1
        pure = [(int(prv[max(k, 0)]), 1.0)]
        if c >= self.V[imax]:
            return [(imax, 1.0)], pure
        vi = self.V[inc]
        p = int(np.searchsorted(vi, c, side="right")) - 1
        if p < 0:
            p = 0
        if p == len(inc) - 1 or vi[p] == c:
            return [(int(inc[p]), 1.0)], pure
        a = (vi[p + 1] - c) / (vi[p + 1] - vi[p])
        return [(int(inc[p]), a), (int(inc[p + 1]), 1.0 - a)], pure

    def best(self, j: int) -> tuple[Pairs, Pairs]:
        imax = self.front(j)[0]
        return [(imax, 1.0)], [(imax, 1.0)]


def _solo_types(game: Game) -> np.ndarray:
    o0 = game.user.observation
    return o0[:, game.prior @ o0 > PROB_TOL]


class SelectionState:
    """best_ai dynamics: each speaker's split, solo user value V[i] and solo outcome values O[i, :]."""

    def __init__(self, game: Game, grid: int):
        self.game = game
        k = game.n_speakers
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
        self.t: list[np.ndarray] = [np.array([ln.t0]) for ln in self.lines]
        self.w: list[np.ndarray] = [np.ones(1) for _ in range(k)]
        self.V = np.zeros(k)
        self.O = np.zeros((k, k))
        for i in range(k):
            self.set_split(i, self.t[i], self.w[i])
        self.restricted = 0
        self.refine = False
        self._vmax: dict[int, float] = {}

    def set_split(self, i: int, t: np.ndarray, w: np.ndarray) -> None:
        """Give speaker ``i`` the split ``(t, w)`` (beliefs on its line and their weights)."""
        v, g = self.lines[i].values(t)
        self.t[i], self.w[i] = t, w
        self.V[i] = float(w @ v)
        self.O[i] = w @ g

    def snapshot(self) -> Snapshot:
        return ([a.copy() for a in self.t], [a.copy() for a in self.w], self.V.copy(), self.O.copy(), self.restricted)

    def restore(self, snap: Snapshot) -> None:
        self.t, self.w, self.V, self.O, self.restricted = (
            [a.copy() for a in snap[0]],
            [a.copy() for a in snap[1]],
            snap[2].copy(),
            snap[3].copy(),
            snap[4],
        )

    def payoff(self, i: int) -> float:
        sel = exact_selection(self.V)
        return float(sel @ self.O[:, i])

    def user_value(self) -> float:
        sel = exact_selection(self.V)
        return float(sel @ self.V)

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

    def best_response(self, i: int, delta: float, tol: float) -> tuple[str, float]:
        """Move speaker ``i`` to its best response if it gains more than ``tol``; returns (kind, gain).

        The decision is the literal one (beating the best rival by :data:`ETA`); in an
        accelerated pass (``delta > ETA``) a race move is then made with the increment ``delta``.
        """
        k = self.game.n_speakers
        cur = self.payoff(i)
        options: list[tuple[float, str, Realised | None]] = []
        vstar = -np.inf
        if k == 1:
            r = self._realise(i, "best", 0.0, floor=False, refine=True)
            if r is not None:
                options.append((float(r[3][i]), "win", r))
        else:
            rivals = np.arange(k) != i
            vstar = float(self.V[rivals].max())
            top = rivals & (vstar - SCORE_TOL <= self.V)
            lose = float(self.O[top, i].mean())
            if self.V[i] < vstar - SCORE_TOL:
                options.append((lose, "stay", None))
            else:
                r = self._realise(i, "le", vstar - ETA, floor=True)
                if r is not None and r[2] < vstar - SCORE_TOL:
                    options.append((lose, "lose", r))
            win = self._win(i, vstar, ETA, worth=max([cur + tol] + [o[0] for o in options]))
            if win is not None:
                options.append((float(win[1][3][i]), win[0], win[1]))
        if not options:
            return "stay", 0.0
        val, kind, r = max(options, key=lambda o: o[0])
        gain = val - cur
        if kind == "stay" or gain <= tol or r is None:
            return "stay", max(gain, 0.0)
        if kind == "win" and self.V[i] >= vstar - SCORE_TOL:
            kind = "relax"  # the selected speaker gives the user less: not a race move
        elif kind == "win" and delta > ETA:  # a challenger's race move, made with the larger increment
            jump = self._win(i, vstar, delta, worth=cur + tol)
            if jump is not None and jump[0] == "win":
                r = jump[1]
        self.t[i], self.w[i], self.V[i], self.O[i] = r[0], r[1], r[2], r[3]
        return kind, gain


def best_ai_dynamics(game: Game, tol: float, max_passes: int, grid: int) -> DynamicsOutcome:
    """Best-response dynamics of best-AI selection (exact scores) from babbling (the module docstring).

    A smooth response is first solved on the ``grid`` and then polished on refined beliefs.
    """
    st = SelectionState(game, grid)
    k = game.n_speakers

    def step(scale: float) -> tuple[tuple[str, ...], bool, bool]:
        pattern = tuple(st.best_response(i, ETA * scale, tol)[0] for i in range(k))
        moved = any(p != "stay" for p in pattern)
        race = moved and all(p in ("stay", "win") for p in pattern)
        return pattern, moved, race

    converged, passes, accel, history = accelerated_passes(st, step, max_passes, MAX_INCREMENT / ETA)
    if not game.user.model.best_responder:  # polish on refined beliefs around the grid solution
        st.refine = True
        converged, p2, a2, h2 = accelerated_passes(st, step, max_passes, MAX_INCREMENT / ETA)
        passes, accel, history = passes + p2, accel + a2, history + h2
    schemes = {s.name: st.lines[i].scheme(st.t[i], st.w[i], game.messages) for i, s in enumerate(game.speakers)}
    return DynamicsOutcome(schemes, converged, passes, accel, history, st.restricted)
