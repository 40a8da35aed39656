"""Exact deviations under best-AI selection with exact scores (one round): the solo problem with a floor.

Speaker ``i`` is paid its own solo outcome if selected, else the selected rival's
(docs/science.md, "Exploitability"). With ``V*`` the best rival's solo user value, its best
deviation is the larger of (a) being passed over: its utility under the best rival's solo outcome
(rivals tied at the top split evenly), available when it can give the user less than ``V*``; and
(b) being selected: the constrained persuasion problem

    max  sum_j tau_j g_i(p_j)   s.t.  sum_j tau_j p_j = prior,  sum_j tau_j = 1,
                                      sum_j tau_j v(p_j) >= V* + ETA,  tau >= 0,

over beliefs ``p_j`` on the simplex of its own signals (``g_i`` its expected utility and ``v``
the user's value when she acts at ``p_j``, averaged over her own signal). For a smooth response
(concavification) this is an LP over a grid of beliefs (two signals: 2001 points with the prior
and the vertices, then two rounds of local refinement; more signals: a simplex grid of at most
20000 points, a lower bound); for a best responder it is the obedience LP over recommendations
with the same linear constraint on her utility. Solved with HiGHS (``scipy.optimize.linprog``),
by column generation.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import optimize

from persuaders.envs.game.protocols import SCORE_TOL, exact_selection
from persuaders.envs.game.spec import Game
from persuaders.envs.payoff.exact import history_distribution
from persuaders.eval.response.deviation import (
    ETA,
    GRID_1D,
    GRID_MAX_POINTS,
    Deviation,
    count_distinct,
    favourable_value,
    solo_game,
    split_to_scheme,
)
from persuaders.eval.theory.beliefs import PROB_TOL, values_over_types
from persuaders.eval.theory.geometry import grid_resolution, simplex_grid

__all__ = ["HIGHS_OPTIONS", "SoloProblem", "best_ai_deviation"]

#: HiGHS options: tight tolerances, since gains of order 1e-6 matter.
HIGHS_OPTIONS = {"primal_feasibility_tolerance": 1e-10, "dual_feasibility_tolerance": 1e-10}
#: A split: its value, the weights and the beliefs (or the support) they sit on.
Split = tuple[float, np.ndarray, np.ndarray]


class SoloProblem:
    """Speaker ``i`` alone (open-loop, one round): its persuasion problem with a user-value floor."""

    def __init__(self, game: Game, i: int):
        self.game, self.i = game, i
        spk = game.speakers[i]
        mu = game.prior
        self.px_full = mu @ spk.observation
        self.keep = np.flatnonzero(self.px_full > PROB_TOL)
        self.oi = spk.observation[:, self.keep]
        self.px = self.px_full[self.keep]
        self.post_x = (mu[:, None] * self.oi).T / self.px[:, None]  # [X, Y]
        o0 = game.user.observation
        self.o0 = o0[:, mu @ o0 > PROB_TOL]
        self.model = game.user.model
        self.obedience = self.model.analytic == "obedience"
        self.n_x = len(self.keep)
        self._grid: np.ndarray | None = None
        self._grid_values: tuple[np.ndarray, np.ndarray] | None = None

    # values at own-signal beliefs q [n, X]
    def values(self, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        p = q @ self.post_x
        g = self.game
        v, s = values_over_types(p, self.o0, g.user.utility, self.model, g.speakers[self.i].utility[None])
        return v, s[:, 0]

    def babbling_user_value(self) -> float:
        return float(self.values(self.px[None])[0][0])

    # ---------------------------------------------------------------- best responder: obedience LP
    def _obedience(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        g = self.game
        u, ui = g.user.utility, g.speakers[self.i].utility
        n_a, n_x0 = g.n_actions, self.o0.shape[1]
        recs = np.array(list(itertools.product(range(n_a), repeat=n_x0)), dtype=np.int64).reshape(-1, n_x0)
        n_r = len(recs)
        joint = g.prior[:, None, None] * self.oi[:, :, None] * self.o0[:, None, :]  # [Y, X, X0]
        c_send = np.einsum("yxz,rzy->xr", joint, ui[recs])
        c_user = np.einsum("yxz,rzy->xr", joint, u[recs])
        gain = u[recs][:, :, None, :] - u[None, None, :, :]  # [R, X0, A', Y]
        d = np.einsum("yxz,rzay->zrax", joint, gain)
        zz, rr, aa = np.meshgrid(np.arange(n_x0), np.arange(n_r), np.arange(n_a), indexing="ij")
        active = aa != recs[rr, zz]
        zz, rr, aa = zz[active], rr[active], aa[active]
        n_rows = zz.size
        a_ub = np.zeros((n_rows, self.n_x * n_r))
        for x in range(self.n_x):
            a_ub[np.arange(n_rows), x * n_r + rr] = -d[zz, rr, aa, x]
        a_eq = np.kron(np.eye(self.n_x), np.ones((1, n_r)))
        return recs, c_send, c_user, a_ub, a_eq

    def _solve_obedience(self, c: float | None) -> Split | None:
        _recs, c_send, c_user, a_ub, a_eq = self._obedience()
        n_x, n_r = c_send.shape
        if c is not None:
            a_ub = np.vstack([a_ub, -c_user.reshape(1, -1)])
            b_ub = np.concatenate([np.zeros(len(a_ub) - 1), [-c]])
        else:
            b_ub = np.zeros(len(a_ub))
        res = optimize.linprog(
            -c_send.reshape(-1),
            A_ub=a_ub if len(a_ub) else None,
            b_ub=b_ub if len(a_ub) else None,
            A_eq=a_eq,
            b_eq=np.ones(n_x),
            bounds=(0, None),
            method="highs",
            options=HIGHS_OPTIONS,
        )
        if res.status == 2:
            return None
        if res.status != 0:
            raise RuntimeError(f"obedience LP failed: {res.message}")
        pi = np.clip(res.x.reshape(n_x, n_r), 0.0, None)
        pi /= pi.sum(axis=1, keepdims=True)
        pr = self.px @ pi
        used = np.flatnonzero(pr > PROB_TOL)
        beliefs = (self.px[:, None] * pi[:, used] / pr[used]).T
        return -float(res.fun), pr[used], beliefs

    # ---------------------------------------------------------------- logit user: grid LP
    def _grid_points(self) -> np.ndarray:
        if self._grid is None:
            if self.n_x == 2:
                t = np.unique(np.concatenate([np.linspace(0.0, 1.0, GRID_1D), [self.px[1]]]))
                self._grid = np.stack([1.0 - t, t], axis=1)
            else:
                self._grid = np.vstack(
                    [simplex_grid(self.n_x, grid_resolution(self.n_x, GRID_MAX_POINTS - 1)), self.px[None]]
                )
        return self._grid

    def _cg(
        self, q: np.ndarray, obj: np.ndarray, con: np.ndarray | None, c: float | None, start: np.ndarray
    ) -> Split | None:
        """max sum tau obj s.t. sum tau q = px, (sum tau con >= c), tau >= 0, by column generation."""
        assert con is None or c is not None, "a constraint comes with its floor c"
        idx = np.unique(start)
        for _ in range(60):
            a_eq = q[idx].T
            kw: dict[str, Any] = {}
            if con is not None and c is not None:
                kw = dict(A_ub=-con[idx][None, :], b_ub=np.array([-c]))
            res = optimize.linprog(
                -obj[idx], A_eq=a_eq, b_eq=self.px, bounds=(0, None), method="highs", options=HIGHS_OPTIONS, **kw
            )
            if res.status not in (0, 2):  # numerical trouble at tight tolerances: retry with the defaults
                res = optimize.linprog(-obj[idx], A_eq=a_eq, b_eq=self.px, bounds=(0, None), method="highs", **kw)
            if res.status != 0 and con is not None and c is not None:  # infeasible (or nearly so) on these columns
                top, sup, _ = self._unconstrained(q, con, idx)
                if top < c - 1e-12:
                    return None
                new = np.setdiff1d(sup, idx)
                if len(new) == 0:
                    return None
                idx = np.union1d(idx, new)
                continue
            if res.status != 0:
                raise RuntimeError(f"belief LP failed: {res.message}")
            sol_idx = idx
            red = -obj - q @ res.eqlin.marginals
            if con is not None:
                red = red + con * res.ineqlin.marginals[0]
            red[idx] = 0.0
            cand = np.flatnonzero(red < -1e-10)  # the duals are accurate to about the dual tolerance
            if len(cand) == 0:
                break
            if len(cand) > 32:
                cand = cand[np.argpartition(red[cand], 32)[:32]]
            idx = np.union1d(idx, cand)
        x = res.x
        sup = sol_idx[x > PROB_TOL]
        return -float(res.fun), sup, x[x > PROB_TOL]

    def _unconstrained(self, q: np.ndarray, obj: np.ndarray, start: np.ndarray) -> Split:
        """:meth:`_cg` without a floor (always solved)."""
        out = self._cg(q, obj, None, None, start)
        assert out is not None
        return out

    def _cg_feasible(
        self, q: np.ndarray, obj: np.ndarray, con: np.ndarray | None, c: float | None, start: np.ndarray
    ) -> Split | None:
        """:meth:`_cg`, with the user-value floor re-tightened until the returned split meets it
        (HiGHS meets constraints only to its tolerance, and a floor near the top matters to 1e-9).

        The split with the largest user value is found first: it makes the floor's feasibility
        plain, seeds the columns, and is the answer when the floor is within tolerance of the top.
        """
        if con is None or c is None:
            return self._cg(q, obj, con, c, start)
        top, top_sup, top_w = self._unconstrained(q, con, start)
        top_w = top_w / top_w.sum()
        if top < c - 1e-13:
            return None
        fallback = (float(top_w @ obj[top_sup]), top_sup, top_w) if float(top_w @ con[top_sup]) >= c else None
        start = np.union1d(start, top_sup)
        c_eff = c
        for _ in range(4):
            try:
                out = self._cg(q, obj, con, c_eff, start)
            except RuntimeError:
                out = None
            if out is None:
                return fallback
            _, sup, w = out
            w = w / w.sum()
            v = float(w @ con[sup])
            if v >= c - 1e-13:
                val = float(w @ obj[sup])
                if fallback is not None and fallback[0] > val:
                    return fallback
                return val, sup, w
            c_eff += 2.0 * (c - v) + 1e-13
        return fallback

    def _solve_grid(self, c: float | None, minimise_user: bool = False) -> Split | None:
        q = self._grid_points()
        if self._grid_values is None:
            self._grid_values = self.values(q)
        v, gi = self._grid_values
        obj, con = (-v, None) if minimise_user else (gi, None if c is None else v)
        step = max(1, len(q) // 128)
        verts = np.flatnonzero(np.isclose(q.max(axis=1), 1.0))
        start = np.unique(np.concatenate([np.arange(0, len(q), step), verts, [len(q) - 1]]))
        out = self._cg_feasible(q, obj, con, c, start)
        if out is None:
            return None
        val, sup, w = out
        if self.n_x == 2:  # local refinement around the support
            h = 1.0 / (GRID_1D - 1)
            for spacing in (h / 20, h / 400):
                ts = q[sup, 1]
                local = np.clip((ts[:, None] + spacing * np.arange(-20, 21)[None, :]).ravel(), 0.0, 1.0)
                q2 = np.vstack([q[sup], np.stack([1.0 - local, local], axis=1)])
                v2, g2 = self.values(q2)
                obj2, con2 = (-v2, None) if minimise_user else (g2, None if c is None else v2)
                try:
                    out2 = self._cg_feasible(q2, obj2, con2, c, np.arange(len(sup)))
                except RuntimeError:  # a failed refinement keeps the grid solution
                    out2 = None
                if out2 is not None and out2[0] >= val - 1e-15:
                    val, sup_local, w = out2
                    q, sup = q2, sup_local
        beliefs = q[sup]
        return (-val if minimise_user else val), w, beliefs

    # ---------------------------------------------------------------- public
    def maximise(self, c: float | None) -> Split | None:
        """(value, weights, own-signal beliefs) of the best split with user value >= c, or None."""
        if self.n_x == 1:
            v, gi = self.values(self.px[None])
            return None if (c is not None and v[0] < c) else (float(gi[0]), np.ones(1), self.px[None])
        if self.obedience:
            return self._solve_obedience(c)
        return self._solve_grid(c)

    def min_user_value(self) -> float:
        if self.n_x == 1 or self.model.best_responder:  # a best responder's value is convex in the belief
            return self.babbling_user_value()
        split = self._solve_grid(None, minimise_user=True)
        assert split is not None  # without a floor the LP is always solved
        return float(split[0])


def best_ai_deviation(
    game: Game, i: int, schemes: Sequence[np.ndarray], solo_user: np.ndarray, solo_spk: np.ndarray
) -> Deviation:
    """Speaker ``i``'s exact best deviation under best-AI selection with exact scores (one round).

    ``solo_user[j]`` and ``solo_spk[j, :]`` are the user's and the speakers' exact values with
    speaker ``j`` alone (:func:`persuaders.envs.payoff.solo_outcomes`). The larger of being passed over
    and of being selected (the module docstring); the current value breaks a best responder's ties
    in ``i``'s favour in its own solo outcome.
    """
    model = game.user.model
    k = game.n_speakers
    sel = exact_selection(solo_user)
    own = solo_spk[i, i]
    if model.best_responder:
        sg = solo_game(game, i)
        own = favourable_value(sg, history_distribution(sg, [schemes[i]]), 0)
    current = float(sum(sel[w] * (own if w == i else solo_spk[w, i]) for w in range(k)))
    prob = SoloProblem(game, i)
    rivals = [j for j in range(k) if j != i]
    options: list[tuple[float, str, Any]] = []
    if rivals:
        vstar = float(max(solo_user[j] for j in rivals))
        top = [j for j in rivals if solo_user[j] >= vstar - SCORE_TOL]
        lose = float(np.mean([solo_spk[j, i] for j in top]))
        if prob.babbling_user_value() < vstar - SCORE_TOL or prob.min_user_value() < vstar - SCORE_TOL:
            options.append((lose, "passed over", None))
        win = prob.maximise(vstar + ETA)
    else:
        win = prob.maximise(None)
    needed = 0
    if win is not None:
        options.append((win[0], "selected", win))
    kind = "lp"
    detail = (
        "obedience LP with a floor on the user's utility"
        if prob.obedience
        else (
            f"belief-grid LP with a floor on the user's utility ({'1-D, refined' if prob.n_x == 2 else 'simplex grid'})"
        )
    )
    if not options:  # neither strictly above nor below the best rival is possible: keep the current value
        return Deviation(
            best=current, current=current, method=f"{kind} ({detail}; only ties possible)", exact=True, bound="exact"
        )
    best, which, sol = max(options, key=lambda o: o[0])
    exact = prob.obedience or prob.n_x <= 2
    bound = "exact" if exact else "lower"
    scheme = None
    if sol is not None:
        _, w, beliefs = sol
        needed = count_distinct(beliefs)
        scheme = split_to_scheme(game.speakers[i].n_signals, prob.keep, prob.px, w, beliefs, game.messages)
        if scheme is not None:
            scheme = scheme[None]
    method = f"{kind} ({detail}; best deviation: {which})"
    if needed > game.messages:
        bound = "upper"
        method += f"; upper bound: the optimal split uses {needed} messages > M = {game.messages}"
    if not exact:
        method += "; grid over three or more signals: a lower bound"
    return Deviation(best=float(best), current=current, method=method, exact=exact, bound=bound, scheme=scheme)
