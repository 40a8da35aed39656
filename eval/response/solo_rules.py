"""One speaker alone with the user on its solo thread: closed-loop rules in sequence form, with a floor.

Under ``best_ai`` a speaker commits to a conversation rule on its solo thread (docs/science.md,
"Protocols", closed-loop commitment): its round-``t`` scheme may depend on what the user said
through round ``t`` and on its own earlier messages. Its information sets are the thread nodes, so
its rules are the realisation plans of :class:`~persuaders.eval.response.conversation_tree.SpeakerTree` on
the game with that speaker alone (:func:`persuaders.eval.response.deviation.solo_game`), and every solo
problem of the protocol is a sequence-form LP (docs/science.md, "Exact best responses over
several rounds"):

    max  sum_{I, c} w_{I,c} G_i^I(c)   s.t.  flow,  sum_c w_{I,c} q_c = a_I,  sum_{I, c} w_{I,c} G_u^I(c) >= floor,

with the user's value ``G_u`` (linear in the plan) under a floor: being selected needs her solo
value above the best rival's.

* **A best-responding user.** The columns are *recommendations*: at a last-round information set
  ``I`` (types ``tau``: her signal, merged), a profile ``r`` of an action per type, one column per
  signal, with the obedience rows ``sum_x y(x, I, r) sum_y C_I[tau, x, y] (u[r(tau), y] -
  u[a', y] - gamma) >= 0``. With ``gamma = 0`` the LP is the supremum over every rule with any
  number of last-round messages and any tie-breaking (its value bounds every rule from above);
  with ``gamma = 1e-8`` every recommendation beats the others by ``gamma``, so a realised rule
  has no ties and is scored alike under every convention (an actual rule, the lower bound).
  It is an actual ``M``-message rule when at most ``M`` profiles carry weight at every ``I``;
  otherwise the exact ``M``-message program (a binary per profile, at most ``M`` per ``I``;
  :mod:`persuaders.eval.response.cardinality`) gives both the rule and, with ``gamma = 0``, the bound.
* **A logit user.** Columns on a belief grid refined around the solution; an actual rule: the
  solution's own columns regrouped over rounds (nobody else speaks on the thread, so a column is
  worth the same at every information set: the LP's value whenever it uses at most ``M^R``), else
  the ``M``-message program over the columns an optimum can use, or merging down to ``M`` (the
  lower bound); the duals ``phi_I`` and the floor's ``nu >= 0`` give by weak duality the upper
  bound ``dual_bound(phi_I + delta_I) - nu floor`` with the certified
  ``delta_I = max_q (G_i + nu G_u)(q) - phi_I . q`` (:mod:`persuaders.eval.theory.logit_bounds`).

Every rule returned is a :class:`~persuaders.eval.response.rules.TableRule` over thread nodes, and its
values are recomputed by the exact engine on the solo thread of the full game.
"""

from __future__ import annotations

import itertools
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import numpy as np
from scipy import sparse
from scipy.optimize import minimize_scalar

from persuaders.envs.game.schemes import Scheme, babbling_scheme
from persuaders.envs.game.spec import Game
from persuaders.envs.payoff.engine import ExactEngine
from persuaders.envs.payoff.exact import history_distribution, scheme_source
from persuaders.eval.response.arrangement import ArrangementTooLarge
from persuaders.eval.response.cardinality import MILP_OPTIONS, column_milp, cut_time
from persuaders.eval.response.conversation_tree import SpeakerTree
from persuaders.eval.response.deviation import favourable_value, solo_game
from persuaders.eval.response.multiround import local_points
from persuaders.eval.response.rules import TableRule
from persuaders.eval.response.sequence_lp import USED, LPSolution, SequenceLP, merge_columns
from persuaders.eval.response.strict_lp import GAMMA, obedience_columns
from persuaders.eval.theory.logit_bounds import (
    SmoothObjective,
    belief_grid,
    certifiable_rationality,
    certified_lift,
    smooth_values,
)

__all__ = ["MAX_PROFILE_COLUMNS", "MEMO_SIZE", "SOLO_GRID", "SoloRule", "SoloThread"]

#: Answers a solo thread remembers (the most recent; each holds at most a grid solution and its columns).
MEMO_SIZE = 64
#: Largest number of recommendation columns (profiles x signals, over all last-round information sets).
MAX_PROFILE_COLUMNS = 200_000
#: Grid points per last-round information set for a logit user (before refinement).
SOLO_GRID = 2001
#: Target precision of a logit user's certified maxima.
CERT_EPS = 1e-8
#: Columns with a reduced cost below this may carry an optimum of the grid LP.
REDUCED_COST_TOL = 1e-7
#: Column generation stops when the certified bound is within this of the LP's value, or after this many rounds.
PRICE_TOL, PRICING_ROUNDS = 1e-9, 8
#: Multipliers of the user's value tried for the Lagrangian bound of a floor the grid cannot meet.
LAGRANGE_LADDER = (1.0, 10.0, 100.0, 1e3, 1e4)
# The Lagrangian bound's multiplier, refined between the rungs (Brent's bounded search, relative tolerance):
LAGRANGE_XTOL = 1e-6
LAGRANGE_ITERATIONS = 40


class SoloRule:
    """A realised solo rule: ``rule`` (a :class:`TableRule` of the solo game, or a fixed scheme such
    as babbling), the user's exact solo value ``user`` and every speaker's ``speakers [k]`` (ties
    split evenly)."""

    def __init__(self, rule: TableRule | np.ndarray, user: float, speakers: np.ndarray):
        self.rule, self.user, self.speakers = rule, float(user), np.asarray(speakers, dtype=np.float64)


class SoloThread:
    """Speaker ``i``'s solo problems under ``best_ai`` (module docstring); ``gamma`` is the margin of
    a best responder's strict recommendations in the rules it returns (above the evaluator's tie
    tolerance of 1e-9), ``time_limit`` the seconds of each mixed-integer program, and
    ``pricing_budget`` the evaluations of each certified maximisation pricing a logit user's
    columns (None: the full budget of :func:`~persuaders.eval.theory.logit_bounds.certified_lift`;
    fewer give looser bounds, as certain, and the same kind of columns). Past ``deadline`` (a
    :func:`time.monotonic` reading) pricing keeps the bound it has and the programs get a
    fraction of a second: the answers stay certified, only looser, and are not remembered (the
    attribute may change between questions: certificates of one game share threads)."""

    def __init__(
        self,
        game: Game,
        i: int,
        gamma: float = GAMMA,
        time_limit: float = 20.0,
        pricing_budget: int | None = None,
        deadline: float | None = None,
    ):
        self.game, self.i, self.gamma = game, i, gamma
        self.time_limit = time_limit
        self.deadline = deadline
        self.pricing_budget = pricing_budget
        self._certificate: tuple[LPSolution, float] | None = None
        self.last_columns: tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]] = ([], [], [])
        # answers by (method, arguments): a thread depends on the game and i only, and a dynamics asks
        # the same solo questions (the floors of unchanged rivals, the user's extremes) pass after pass;
        # the most recent MEMO_SIZE are kept (a race asks about a new floor every pass)
        self._memo: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
        self.solo = solo_game(game, i)
        self.tree = SpeakerTree(self.solo, 0, [babbling_scheme(self.solo, 0)])
        self.lp = SequenceLP(self.tree)
        self.best_responder = game.user.model.best_responder
        self.engine = ExactEngine(game, [i], thread=True)
        self.c = [self.tree.coefficients(n) for n in range(self.tree.info_sets(game.rounds - 1))]
        self.u, self.ui = game.user.utility, game.speakers[i].utility
        if self.best_responder:
            self.profiles = []
            total = 0
            for c in self.c:
                n_types = max(1, c.shape[0])
                total += game.n_actions**n_types * self.tree.n_signals
                if total > MAX_PROFILE_COLUMNS:
                    raise ArrangementTooLarge(
                        f"speaker '{game.speakers[i].name}' alone: {total:,}+ recommendation columns "
                        f"(limit {MAX_PROFILE_COLUMNS:,}); use fewer actions, user signals or rounds"
                    )
                self.profiles.append(
                    [np.array(p, dtype=int) for p in itertools.product(range(game.n_actions), repeat=n_types)]
                )
            self._cols = {g: obedience_columns(self.tree, self.profiles, g) for g in (0.0, gamma)}
        else:
            grid = belief_grid(self.tree.n_signals, SOLO_GRID if self.tree.n_signals == 2 else 3000)
            self.q = [grid.copy() for _ in self.c]
            self.gi, self.gu = [], []
            for n in range(len(self.c)):
                gi, gu = self.values(n, grid)
                self.gi.append(gi)
                self.gu.append(gu)
            self.step = 1.0 / (len(grid) - 1) if self.tree.n_signals == 2 else 0.05

    # ------------------------------------------------------------------ values
    def values(self, n: int, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """A logit user: (``G_i``, ``G_u``) of mass vectors ``q`` at last-round information set ``n``."""
        c = self.c[n]
        if len(c) == 0:
            return np.zeros(len(q)), np.zeros(len(q))
        out = smooth_values(q, c, self.u, np.stack([self.ui, self.u]), self.game.user.model)
        return out[:, 0], out[:, 1]

    def evaluate(self, rule: Scheme) -> tuple[float, np.ndarray]:
        """(the user's exact solo value, every speaker's value ``[k]``) of a rule of speaker ``i``."""
        out = self.engine.outcome([scheme_source(self.game, self.i, rule)])[0]
        return float((out * self.u).sum()), np.einsum("ay,jay->j", out, self.game.speaker_utilities)

    def favourable(self, rule: Scheme) -> float:
        """Speaker ``i``'s solo value of ``rule`` with a best responder's ties broken its way."""
        return favourable_value(self.solo, history_distribution(self.solo, [rule]), 0)

    # ------------------------------------------------------------------ LPs
    def _floor_rows(
        self, uval: list[np.ndarray], floor: float | None, base: sparse.csr_matrix | None
    ) -> tuple[Any, np.ndarray] | None:
        rows = [] if base is None or base.shape[0] == 0 else [base]
        b = [] if base is None or base.shape[0] == 0 else [np.zeros(base.shape[0])]
        if floor is not None:
            rows.append(-sparse.csr_matrix(np.concatenate(uval)[None]))
            b.append(np.array([-floor]))
        if not rows:
            return None
        return sparse.vstack(rows).tocsr(), np.concatenate(b)

    def _solve_recommendations(
        self, gamma: float, floor: float | None, user_objective: bool, keep: list[list[np.ndarray]] | None = None
    ) -> tuple[LPSolution | None, list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
        q, val, uval, a = self._cols[gamma] if keep is None else obedience_columns(self.tree, keep, gamma)
        obj = uval if user_objective else val
        sol = self.lp.solve_user_best(q, obj, val if user_objective else uval, ub=self._floor_rows(uval, floor, a))
        return sol, q, val, uval

    def _remember(self, key: tuple[Any, ...], compute: Callable[[], Any]) -> Any:
        """``compute()``, once per ``key`` among the last :data:`MEMO_SIZE` asked (every answer depends on
        its arguments only). An answer finished past the ``deadline`` may have been cut short, so it is
        returned but not kept (a later question without the deadline computes it in full)."""
        if key in self._memo:
            self._memo.move_to_end(key)
            return self._memo[key]
        out = compute()
        if not self._past_deadline():
            self._memo[key] = out
            while len(self._memo) > MEMO_SIZE:
                self._memo.popitem(last=False)
        return out

    def upper(self, floor: float | None = None, user_objective: bool = False) -> float:
        """No rule of ``i`` beats this (own value, or the user's with ``user_objective``) with the user's
        solo value at least ``floor``; ``-inf`` when no rule meets the floor."""
        out: float = self._remember(("upper", floor, user_objective), lambda: self._upper(floor, user_objective))
        return out

    def _upper(self, floor: float | None, user_objective: bool) -> float:
        if self.best_responder:
            sol = self._solve_recommendations(0.0, floor, user_objective)[0]
            if sol is None:
                return -math.inf
            if self._profiles_needed(sol) <= self.game.messages:
                return sol.value
            card = self._cardinality(0.0, floor, user_objective)
            return -math.inf if card is None else min(sol.value, self.lp.last_bound)
        sol = self._solve_grid(floor, user_objective)
        if sol is None:
            return -math.inf if floor is None else self._grid_infeasible_bound(floor, user_objective)
        return self._certified(sol, floor, user_objective)

    def lowest_user_bound(self) -> float:
        """A certified lower bound on the least solo value of the user over ``i``'s rules (babbling's
        value for a best responder, whose value is convex in her belief)."""
        out: float = self._remember(("lowest_user_bound",), self._lowest_user_bound)
        return out

    def _lowest_user_bound(self) -> float:
        if self.best_responder:
            return self.evaluate(babbling_scheme(self.game, self.i))[0]
        sol = self._solve_grid(None, user_objective=True, sign=-1.0)
        assert sol is not None, "the grid LP without a floor is feasible"
        return -self._certified(sol, None, True, sign=-1.0)

    def lowest_user_rule(self) -> SoloRule:
        """An actual rule giving the user a low solo value: babbling (her least, for a best
        responder), or the better for that of babbling and the grid's minimiser (a logit user)."""
        out: SoloRule = self._remember(("lowest_user_rule",), self._lowest_user_rule)
        return out

    def _lowest_user_rule(self) -> SoloRule:
        babble = babbling_scheme(self.game, self.i)
        out = SoloRule(babble, *self.evaluate(babble))
        if self.best_responder:
            return out
        sol = self._solve_grid(None, user_objective=True, sign=-1.0)
        low = None if sol is None else self._grid_rule(sol, None, True, sign=-1.0)
        return low if low is not None and low.user < out.user else out

    def best_rule(self, floor: float | None = None, user_objective: bool = False) -> SoloRule | None:
        """An actual rule of ``i`` with at most ``M`` last-round messages, best for itself (or for the
        user) among those found, giving the user more than ``floor``; None when none is found."""
        out: SoloRule | None = self._remember(
            ("best_rule", floor, user_objective), lambda: self._best_rule(floor, user_objective)
        )
        return out

    def _best_rule(self, floor: float | None, user_objective: bool) -> SoloRule | None:
        if self.best_responder:
            return self._strict_rule(floor, user_objective)
        sol = self._solve_grid(floor, user_objective)
        if sol is None:
            return None
        return self._grid_rule(sol, floor, user_objective)

    # ------------------------------------------------------------------ best responder
    def _profiles_needed(self, sol: LPSolution) -> int:
        """The most recommendation profiles a solution uses at a last-round information set."""
        nx = self.tree.n_signals
        return max((int((w.reshape(-1, nx).sum(axis=1) > USED).sum()) for w in sol.weights), default=0)

    def _cardinality(self, gamma: float, floor: float | None, user_objective: bool) -> LPSolution | None:
        """The best solution with at most ``M`` recommendation profiles per last-round information set
        (:meth:`SequenceLP.solve_cardinality` with a profile's unit columns as one group);
        ``self.lp.last_bound`` is then the solver's proven bound."""
        q, val, uval, a = self._cols[gamma]
        obj = uval if user_objective else val
        nx = self.tree.n_signals
        groups = [np.repeat(np.arange(len(p)), nx) for p in self.profiles]
        return self.lp.solve_cardinality(
            q,
            obj,
            self.game.messages,
            ub=self._floor_rows(uval, floor, a),
            time_limit=cut_time(self.time_limit, self.deadline),
            options=MILP_OPTIONS,
            groups=groups,
        )

    def _strict_rule(self, floor: float | None, user_objective: bool) -> SoloRule | None:
        """The best strict rule (margin ``gamma``) giving the user more than ``floor``: the LP, or where it
        needs more than ``M`` recommendations at an information set, the exact ``M``-message program."""
        level = None if floor is None else floor + 1e-10
        sol = self._solve_recommendations(self.gamma, level, user_objective)[0]
        if sol is None:
            return None
        if self._profiles_needed(sol) > self.game.messages:
            sol = self._cardinality(self.gamma, level, user_objective)
            if sol is None:
                return None
        nx = self.tree.n_signals
        weights, qq = [], []
        for w in sol.weights:
            per = w.reshape(-1, nx)
            mass = per.sum(axis=1)
            used = np.flatnonzero(mass > USED)
            weights.append(mass[used])
            qq.append(per[used] / mass[used][:, None])
        rule = self.lp.realise(LPSolution(sol.value, sol.rho, weights, sol.phi), qq)
        user, spk = self.evaluate(rule)
        if floor is not None and user <= floor:
            return None
        return SoloRule(rule, user, spk)

    # ------------------------------------------------------------------ logit user
    def _grid_lp(
        self,
        cols: tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]],
        floor: float | None,
        user_objective: bool,
        sign: float,
    ) -> LPSolution | None:
        q, gis, gus = cols
        obj = [sign * (gu if user_objective else gi) for gi, gu in zip(gis, gus, strict=True)]
        other = [gi if user_objective else gu for gi, gu in zip(gis, gus, strict=True)]
        ub = None if floor is None else self._floor_rows(gus, floor, None)
        if user_objective:
            return self.lp.solve(q, obj, ub)
        return self.lp.solve_user_best(q, obj, other, ub=ub)

    def _solve_grid(self, floor: float | None, user_objective: bool, sign: float = 1.0) -> LPSolution | None:
        """The grid LP, refined three times around the columns it uses (on a copy of the base grid);
        the columns of the last solve are kept in ``last_columns`` (and its certificate, after
        pricing). Solved once per arguments: a repeat restores the solution, columns and certificate."""

        def solve() -> tuple[Any, ...]:
            return self._grid_solution(floor, user_objective, sign), self.last_columns, self._certificate

        out: LPSolution | None
        out, self.last_columns, self._certificate = self._remember(("grid", floor, user_objective, sign), solve)
        return out

    def _grid_solution(self, floor: float | None, user_objective: bool, sign: float) -> LPSolution | None:
        cols = (list(self.q), list(self.gi), list(self.gu))
        sol = self._grid_lp(cols, floor, user_objective, sign)
        step = self.step
        for _ in range(3):
            if sol is None:
                return None
            step /= 20.0
            for n, w in enumerate(sol.weights):
                local = local_points(cols[0][n][w > USED], step)
                if len(local):
                    gi, gu = self.values(n, local)
                    cols[0][n] = np.vstack([cols[0][n], local])
                    cols[1][n] = np.concatenate([cols[1][n], gi])
                    cols[2][n] = np.concatenate([cols[2][n], gu])
            sol = self._grid_lp(cols, floor, user_objective, sign)
        self.last_columns = cols
        if sol is not None and certifiable_rationality(self.game.user.model) is not None:
            sol = self._price(sol, cols, floor, user_objective, sign)
        return sol

    def _price(
        self,
        sol: LPSolution,
        cols: tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]],
        floor: float | None,
        user_objective: bool,
        sign: float,
    ) -> LPSolution:
        """Column generation with certified pricing (docs/science.md, "Logit users: certified bounds"):
        add the maximiser of ``G - phi_I . q`` (and a small lattice around it) wherever it is positive,
        re-solve, until the certified bound meets the LP's value; the certificate of the last
        solution is kept for :meth:`_certified`."""
        bound, found = self._certify(sol, floor, user_objective, sign)
        for _ in range(PRICING_ROUNDS):
            if bound - sol.value <= PRICE_TOL or self._past_deadline():
                break
            added = False
            for n, best, arg in found:
                if best <= PRICE_TOL:
                    continue
                pts = np.vstack([arg[None], local_points(arg[None], 1e-3), local_points(arg[None], 1e-5)])
                gi, gu = self.values(n, pts)
                cols[0][n] = np.vstack([cols[0][n], pts])
                cols[1][n] = np.concatenate([cols[1][n], gi])
                cols[2][n] = np.concatenate([cols[2][n], gu])
                added = True
            new = self._grid_lp(cols, floor, user_objective, sign) if added else None
            if new is None:
                break
            sol = new
            bound, found = self._certify(sol, floor, user_objective, sign)
        self._certificate = (sol, bound)
        return sol

    def _certified(self, sol: LPSolution, floor: float | None, user_objective: bool, sign: float = 1.0) -> float:
        """Weak duality (module docstring): an upper bound on ``sign`` times the objective over every rule."""
        if self._certificate is not None and self._certificate[0] is sol:
            return self._certificate[1]
        return self._certify(sol, floor, user_objective, sign)[0]

    def _certify(
        self, sol: LPSolution, floor: float | None, user_objective: bool, sign: float = 1.0
    ) -> tuple[float, list[tuple[int, float, np.ndarray]]]:
        """The weak-duality bound and, per last-round node, ``(n, max of h, its maximiser)``: where the
        maximum is positive the maximiser is a column the grid missed."""
        lam = certifiable_rationality(self.game.user.model)
        if lam is None:
            return math.inf, []
        nu = 0.0
        if floor is not None and sol.nu is not None and len(sol.nu):
            nu = max(0.0, float(sol.nu[-1]))
        wi, wu = (0.0, sign) if user_objective else (1.0, 0.0)
        wu += nu
        phi = sol.phi.copy()
        masses = self.lp.masses(sol)
        found = []
        for n, c in enumerate(self.c):
            if len(c) == 0:
                continue
            obj = SmoothObjective(c, self.u, np.stack([self.ui, self.u]), np.array([wi, wu]), lam, -phi[n])
            opts: dict[str, Any] = {"deadline": self.deadline}
            if self.pricing_budget is not None:
                opts.update(budget=self.pricing_budget, extended=0)
            best, lift, arg = certified_lift(obj, self.tree.n_signals, CERT_EPS, mass=masses[n], **opts)
            phi[n] += lift
            found.append((n, best, arg))
        return self.lp.dual_bound(phi) - (nu * floor if floor is not None else 0.0), found

    def _grid_infeasible_bound(self, floor: float, user_objective: bool) -> float:
        """The grid meets no floor: ``-inf`` (no rule meets it) if the user's certified maximum is
        below it; else, for the speaker's own value, the least Lagrangian bound
        ``max_rules sum (G_i + nu G_u) - nu floor`` over ``nu >= 0`` (weak duality: any ``nu`` bounds
        every rule that meets the floor; ``nu = 0`` is the bound without it), searched on a ladder
        and refined between the rungs beside its best (the bound is convex in ``nu``). A floor
        within the certificate's precision of the user's maximum (the end of a best-AI race) is
        then bounded by the speaker's value among the rules best for her, not by its free optimum."""
        top = self.upper(None, user_objective=True)
        if top < floor:
            return -math.inf
        if user_objective:
            return top
        best = self.upper(None)
        ladder = [best]
        for nu in LAGRANGE_LADDER:  # past the deadline, the least bound so far (each one is valid)
            if self._past_deadline():
                break
            ladder.append(self._lagrangian(nu) - nu * floor)
        k = int(np.argmin(ladder))
        if k == 0 or self._past_deadline():
            return float(ladder[k])
        # The bound is convex in nu (a maximum of affine functions, less nu * floor): refine it
        # between the rungs beside the best one (every nu evaluated is a valid bound).
        lo = 0.0 if k == 1 else LAGRANGE_LADDER[k - 2]
        hi = LAGRANGE_LADDER[min(k, len(LAGRANGE_LADDER) - 1)]
        fit = minimize_scalar(
            lambda nu: self._lagrangian(nu) - nu * floor,
            bounds=(lo, hi),
            method="bounded",
            options={"xatol": LAGRANGE_XTOL * max(1.0, hi), "maxiter": LAGRANGE_ITERATIONS},
        )
        return float(min(ladder[k], fit.fun))

    def _lagrangian(self, nu: float) -> float:
        """A certified upper bound of ``sum (G_i + nu G_u)`` over every rule (the grid LP without a
        floor, its duals lifted by the certified maxima of :meth:`_certify`)."""
        out: float = self._remember(("lagrangian", float(nu)), lambda: self._lagrangian_bound(nu))
        return out

    def _lagrangian_bound(self, nu: float) -> float:
        q = list(self.q)
        sol = self.lp.solve(q, [gi + nu * gu for gi, gu in zip(self.gi, self.gu, strict=True)])
        assert sol is not None, "the LP without extra rows is feasible"
        lam = certifiable_rationality(self.game.user.model)
        assert lam is not None, "only called for a certifiable user model"
        phi = sol.phi.copy()
        masses = self.lp.masses(sol)
        for n, c in enumerate(self.c):
            if len(c):
                obj = SmoothObjective(c, self.u, np.stack([self.ui, self.u]), np.array([1.0, nu]), lam, -phi[n])
                lift = certified_lift(obj, self.tree.n_signals, CERT_EPS, mass=masses[n], deadline=self.deadline)
                phi[n] += lift[1]
        return self.lp.dual_bound(phi)

    def _past_deadline(self) -> bool:
        return self.deadline is not None and time.monotonic() >= self.deadline

    def _grid_rule(
        self, sol: LPSolution, floor: float | None, user_objective: bool, sign: float = 1.0
    ) -> SoloRule | None:
        """An actual rule from the grid LP's solution: itself where it uses at most ``M`` columns per
        last-round information set; else its columns regrouped over rounds
        (:meth:`~persuaders.eval.response.sequence_lp.SequenceLP.regroup`: the same value, when they
        are at most ``M^R``); else (or when that rule misses the floor) the better of the exact
        ``M``-message program over the columns an optimum can use (reduced cost about 0) and the
        greedy merging of columns."""
        m = self.game.messages
        q, gis, gus = self.last_columns
        over = max((int((w > USED).sum()) for w in sol.weights), default=0) > m
        if over and (regrouped := self.lp.regroup(sol, q)) is not None:
            found = self._best_of([self.lp.realise(*regrouped)], floor, user_objective, sign)
            if found is not None:
                return found
        pick = gus if user_objective else gis
        rules = []
        if over:
            keep = [
                np.flatnonzero((np.abs(qi @ sol.phi[n] - sign * vi) <= REDUCED_COST_TOL) | (sol.weights[n] > USED))
                for n, (qi, vi) in enumerate(zip(q, pick, strict=True))
            ]
            obj = [sign * v for v in pick]
            ub = None if floor is None else self._floor_rows(gus, floor, None)
            got = column_milp(self.lp, q, obj, m, keep=keep, ub=ub, time_limit=cut_time(self.time_limit, self.deadline))
            if got is not None:
                rules.append(self.lp.realise(*got))
        weights, qq = [], []
        for n, w in enumerate(sol.weights):
            used = np.flatnonzero(w > USED)
            vec = w[used, None] * q[n][used]
            if len(used) > m:

                def value_of(a: np.ndarray, n: int = n) -> np.ndarray:
                    return sign * self.values(n, a)[1 if user_objective else 0]

                vec, _ = merge_columns(vec, m, value_of)
            mass = vec.sum(axis=1) if len(vec) else np.zeros(0)
            weights.append(mass)
            qq.append(vec / np.where(mass > 0, mass, 1.0)[:, None] if len(vec) else np.zeros((0, self.tree.n_signals)))
        rules.append(self.lp.realise(LPSolution(sol.value, sol.rho, weights, sol.phi), qq))
        return self._best_of(rules, floor, user_objective, sign)

    def _best_of(
        self, rules: list[TableRule], floor: float | None, user_objective: bool, sign: float
    ) -> SoloRule | None:
        """The best of ``rules`` for ``sign`` times the objective, among those giving the user more than
        ``floor`` (values by the exact engine); None when none does."""
        best: SoloRule | None = None
        for rule in rules:
            user, spk = self.evaluate(rule)
            if floor is not None and user <= floor:
                continue
            score = sign * (user if user_objective else spk[self.i])
            if best is None or score > sign * (best.user if user_objective else best.speakers[self.i]):
                best = SoloRule(rule, user, spk)
        return best
