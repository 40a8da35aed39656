"""Exact best responses of one speaker over a multi-round joint conversation, the others' rules fixed.

The speaker's rules are realisation plans in sequence form (:mod:`persuaders.eval.response.sequence_lp`) on
its information sets (:mod:`persuaders.eval.response.conversation_tree`); its last-round messages are
columns, mass vectors ``q`` over its signals (docs/science.md, "Exact best responses over several rounds").

* **A best-responding user.** The columns are the vertices of the indifference arrangement
  (:mod:`persuaders.eval.response.arrangement`), valued with her ties broken for the speaker: the LP is
  the relaxation in which the last round carries recommendations (a message per action profile
  of the user's types), and its value is the supremum over rules whose last round has as many
  messages as it uses. **Exact** when at every last-round information set the solution (reduced
  to a basic one, at most ``|X_i|`` columns) uses at most ``M`` columns: relabelled, they are the
  last messages of an actual rule with that value. Otherwise the LP is an **upper bound** and the
  columns are merged down to ``M`` per information set (a MILP with a cardinality constraint
  may improve on that): an actual rule, a **lower bound**.
* **A logit user.** Columns on a belief grid refined around the solution: the value of an actual
  rule (a lone speaker's columns regrouped over rounds where more than ``M`` share an
  information set, :meth:`~persuaders.eval.response.sequence_lp.SequenceLP.regroup`; else the
  ``M``-message program or merging down to ``M``), a lower bound. The duals ``phi_I`` of the
  last-round rows, lifted by the certified ``delta_I = max_q G_I(q) - phi_I . q``
  (:mod:`persuaders.eval.theory.logit_bounds`), give by weak duality an upper bound on every rule.

With one round this is the obedience LP (respectively the concavification) on the auxiliary game
whose user types are her signal and the others' messages (docs/science.md, "Exploitability").
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from persuaders.envs.game.spec import Game
from persuaders.eval.response.arrangement import arrangement_vertices, favourable_values, indifference_normals
from persuaders.eval.response.cardinality import column_milp, cut_time, slot_milp
from persuaders.eval.response.conversation_tree import SpeakerTree
from persuaders.eval.response.rules import TableRule
from persuaders.eval.response.sequence_lp import USED, LPSolution, SequenceLP, merge_columns, reduce_columns
from persuaders.eval.response.strict_lp import GAMMA, pool_by_profile, strict_solution, used_profiles
from persuaders.eval.theory.logit_bounds import (
    SmoothObjective,
    belief_grid,
    certifiable_rationality,
    certified_lift,
    smooth_values,
)

__all__ = ["LOGIT_GRID", "MILP_TIME", "MultiroundResponse", "local_points", "multiround_best_response"]

#: Grid points per last-round information set for a logit user (before local refinement).
LOGIT_GRID = 2001
#: Seconds the cardinality MILP may run (its incumbent is an actual rule either way).
MILP_TIME = 20.0
#: Target precision of the certified maximum of ``G_I - phi_I . q`` for a logit user.
CERT_EPS = 1e-8
#: Column generation stops when the certified bound is within this of the relaxation's value.
PRICE_TOL = 1e-9
#: Rounds of column generation (each adds the priced argmax of every information set that gains).
PRICING_ROUNDS = 8
#: Columns with a reduced cost below this may carry an optimum of the relaxation.
REDUCED_COST_TOL = 1e-7


@dataclass
class MultiroundResponse:
    """A best response's bounds: ``upper`` (no rule does better), ``lower`` (the value of ``rule``,
    an actual ``M``-message rule), ``needed`` (most last-round messages the relaxation used at an
    information set), ``method``; ``exact`` when ``upper - lower`` is zero by construction.
    ``strict_rule`` (when asked for) plays the same recommendations with no ties for the user
    (:mod:`persuaders.eval.response.strict_lp`), worth ``strict_value`` under any tie convention.
    ``lp_shape`` is (equality rows, variables) of the first LP."""

    upper: float
    lower: float
    rule: TableRule
    exact: bool
    needed: int
    method: str
    strict_value: float | None = None
    strict_rule: TableRule | None = None
    lp_shape: tuple[int, int] = (0, 0)


def _best_responder_columns(tree: SpeakerTree) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
    """Arrangement vertices at every last-round information set, with the speaker's and the user's values."""
    g = tree.game
    u, ui = g.user.utility, g.speakers[tree.i].utility
    q, val, user = [], [], []
    for info in range(tree.info_sets(g.rounds - 1)):
        c = tree.coefficients(info)
        if len(c) == 0:
            verts = np.eye(tree.n_signals)
            q.append(verts)
            val.append(np.zeros(len(verts)))
            user.append(np.zeros(len(verts)))
            continue
        verts = arrangement_vertices(indifference_normals(c, u), tree.n_signals)
        gi, gu, _ = favourable_values(verts, c, u, ui)
        q.append(verts)
        val.append(gi)
        user.append(gu)
    return q, val, user


class _Columns:
    """Column values of one speaker at last-round information sets, for its user model."""

    def __init__(self, tree: SpeakerTree):
        self.tree = tree
        g = tree.game
        self.u, self.ui = g.user.utility, g.speakers[tree.i].utility
        self.model = g.user.model
        self.c = [tree.coefficients(info) for info in range(tree.info_sets(g.rounds - 1))]

    def value(self, info: int, q: np.ndarray) -> np.ndarray:
        c = self.c[info]
        if len(c) == 0:
            return np.zeros(len(q))
        if self.model.best_responder:
            return favourable_values(q, c, self.u, self.ui)[0]
        return smooth_values(q, c, self.u, self.ui[None], self.model)[:, 0]


def _reduce(
    lp: SequenceLP, sol: LPSolution, q: list[np.ndarray], val: list[np.ndarray], cols: _Columns, m: int
) -> tuple[int, list[np.ndarray]]:
    """Where more than ``m`` columns are used: a basic re-solve, then (a best responder) pooling by
    recommendation profile. Returns the most last-round messages any information set needs, and
    the (possibly pooled) columns."""
    masses = lp.masses(sol)
    needed = 0
    q = list(q)
    for info, w0 in enumerate(sol.weights):
        w = w0
        if int((w > USED).sum()) > m:
            w = sol.weights[info] = reduce_columns(masses[info], q[info], val[info], w)
        if int((w > USED).sum()) > m and cols.model.best_responder and len(cols.c[info]):
            sol.weights[info], q[info] = pool_by_profile(cols.c[info], q[info], w, cols.u, cols.ui)
        needed = max(needed, int((sol.weights[info] > USED).sum()))
    return needed, q


def _merged(
    lp: SequenceLP, sol: LPSolution, q: list[np.ndarray], cols: _Columns, m: int
) -> tuple[LPSolution, list[np.ndarray], float]:
    """The solution with each last-round split merged down to ``m`` columns, and its value."""
    new_w, new_q, total = [], [], 0.0
    for info, w in enumerate(sol.weights):
        used = np.flatnonzero(w > USED)
        vec = w[used, None] * q[info][used]
        if len(used) > m:
            vec, _ = merge_columns(vec, m, functools.partial(cols.value, info))
        mass = vec.sum(axis=1) if len(vec) else np.zeros(0)
        nq = vec / np.where(mass > 0, mass, 1.0)[:, None] if len(vec) else np.zeros((0, lp.nx))
        new_w.append(mass)
        new_q.append(nq)
        total += float(mass @ cols.value(info, nq)) if len(nq) else 0.0
    return LPSolution(total, sol.rho, new_w, sol.phi), new_q, total


def _logit_columns(
    tree: SpeakerTree, cols: _Columns, lp: SequenceLP
) -> tuple[LPSolution, list[np.ndarray], list[np.ndarray]]:
    """Grid columns at every last-round information set, refined three times around the used ones."""
    grid = belief_grid(tree.n_signals, LOGIT_GRID)
    q = [grid.copy() for _ in cols.c]
    val = [cols.value(n, grid) for n in range(len(cols.c))]
    sol = lp.solve(q, val)
    assert sol is not None, "the LP without extra rows is feasible"
    step = (
        1.0 / (LOGIT_GRID - 1)
        if tree.n_signals == 2
        else 1.0 / max(2, round(len(grid) ** (1 / max(1, tree.n_signals - 1))))
    )
    for _ in range(3):
        step /= 20.0
        for n, w in enumerate(sol.weights):
            used = q[n][w > USED]
            local = local_points(used, step)
            if len(local):
                q[n] = np.vstack([q[n], local])
                val[n] = np.concatenate([val[n], cols.value(n, local)])
        sol = lp.solve(q, val)
        assert sol is not None, "the LP without extra rows is feasible"
    return sol, q, val


def local_points(points: np.ndarray, step: float) -> np.ndarray:
    """Points of the simplex within a few ``step`` of ``points`` (a local lattice around each)."""
    if len(points) == 0 or points.shape[1] == 1:
        return np.zeros((0, points.shape[1]))
    n = points.shape[1]
    offs = np.arange(-10, 11) * step
    if n == 2:
        t = np.clip((points[:, 1][:, None] + offs[None]).ravel(), 0.0, 1.0)
        return np.stack([1.0 - t, t], axis=1)
    dirs = np.eye(n)[:, None, :] - np.eye(n)[None, :, :]  # move mass from one signal to another
    dirs = dirs.reshape(-1, n)
    cand = (points[:, None, None, :] + offs[None, :, None, None] * dirs[None, None, :, :]).reshape(-1, n)
    cand = cand[(cand >= -1e-15).all(axis=1)]
    out: np.ndarray = np.clip(cand, 0.0, None) / np.clip(cand, 0.0, None).sum(axis=1, keepdims=True)
    return out


def _certify(
    tree: SpeakerTree,
    cols: _Columns,
    lp: SequenceLP,
    sol: LPSolution,
    budget: int | None = None,
    deadline: float | None = None,
) -> tuple[float, list[tuple[int, float, np.ndarray]]]:
    """The weak-duality bound and, per last-round information set, ``(I, delta_I, argmax q)``: where
    the columns miss value (``delta_I > 0``) the argmax is the column to add (pricing)."""
    lam = certifiable_rationality(cols.model)
    if lam is None:
        return math.inf, []
    phi = sol.phi.copy()
    masses = lp.masses(sol)
    found = []
    for n, c in enumerate(cols.c):
        if len(c) == 0:
            continue
        obj = SmoothObjective(c, cols.u, cols.ui[None], np.ones(1), lam, -phi[n])
        opts: dict[str, Any] = {"deadline": deadline}
        if budget is not None:
            opts.update(budget=budget, extended=0)
        best, lift, arg = certified_lift(obj, tree.n_signals, CERT_EPS, mass=masses[n], **opts)
        phi[n] += lift
        found.append((n, best, arg))
    return lp.dual_bound(phi), found


def _generate_columns(
    tree: SpeakerTree,
    cols: _Columns,
    lp: SequenceLP,
    sol: LPSolution,
    q: list[np.ndarray],
    val: list[np.ndarray],
    budget: int | None = None,
    deadline: float | None = None,
) -> tuple[LPSolution, float]:
    """Column generation with certified pricing (docs/science.md, "Logit users: certified bounds"):
    while the certified maximum of ``G_I(q) - phi_I . q`` exceeds :data:`PRICE_TOL` somewhere, add its
    argmax (and a local lattice around it) as columns and re-solve; ``q`` and ``val`` grow in place.
    Returns the last solution and its certified upper bound (``budget`` evaluations per certified
    maximisation, None: the full budget; past ``deadline``, a :func:`time.monotonic` reading, the
    bound in hand)."""
    upper, found = _certify(tree, cols, lp, sol, budget, deadline)
    for _ in range(PRICING_ROUNDS):
        if upper - sol.value <= PRICE_TOL or (deadline is not None and time.monotonic() >= deadline):
            break
        added = False
        for n, best, arg in found:
            if best <= PRICE_TOL:
                continue
            pts = np.vstack([arg[None], local_points(arg[None], 1e-3), local_points(arg[None], 1e-5)])
            q[n] = np.vstack([q[n], pts])
            val[n] = np.concatenate([val[n], cols.value(n, pts)])
            added = True
        if not added:
            break
        new = lp.solve(q, val)
        assert new is not None, "the LP without extra rows is feasible"
        sol = new
        upper, found = _certify(tree, cols, lp, sol, budget, deadline)
    return sol, max(upper, sol.value)


def _reduced_keep(sol: LPSolution, q: list[np.ndarray], val: list[np.ndarray], tol: float) -> list[np.ndarray]:
    """Per last-round information set, the columns an optimum of the relaxation can use: those whose
    reduced cost ``phi_I . q_c - G_I(q_c)`` is below ``tol`` (and every used one)."""
    out = []
    for n, (qi, vi) in enumerate(zip(q, val, strict=True)):
        rc = qi @ sol.phi[n] - vi
        keep = np.flatnonzero((rc <= tol) | (sol.weights[n] > USED))
        out.append(keep)
    return out


def multiround_best_response(
    game: Game,
    i: int,
    profile: Sequence[Any],
    *,
    milp: bool = True,
    strict: bool = False,
    gamma: float = GAMMA,
    certify: bool = True,
    accept: float = -math.inf,
    margins: Sequence[float] = (),
    milp_time: float = MILP_TIME,
    incumbent: float = -math.inf,
    settle: float = 0.0,
    pricing_budget: int | None = None,
    deadline: float | None = None,
) -> MultiroundResponse:
    """Speaker ``i``'s best response to the others' fixed rules in ``profile`` (module docstring).

    ``profile`` lists every speaker's rule (fixed arrays or functions of the observation; ``i``'s
    own entry is used only to read the others' functions on its path). ``milp``: when the
    relaxation needs more than ``M`` last-round messages, solve the exact ``M``-message program
    (:mod:`persuaders.eval.response.cardinality`; a best responder's slot program, a logit user's
    columns with a cardinality) for at most ``milp_time`` seconds; without it (or when it finds
    nothing) the columns are merged down to ``M``. Ties of a best responder go the speaker's way (a
    supremum). ``strict``: also compute the strict rule with margin ``gamma`` (a best responder; a
    logit user has no ties and it is ``rule``); with ``margins``, the first of them (in order)
    whose strict rule is worth more than ``accept``, else ``gamma``. ``certify=False`` skips a
    logit user's certified upper bound and its column generation (``upper`` is then ``inf``).
    ``incumbent``: the value of a rule the caller already holds (its current one); the ``M``-message
    program is not run when the upper bound is within ``settle`` of it or of the merged rule, as no
    rule the program could find would gain more than ``settle`` over what is in hand.
    ``pricing_budget``: evaluations of each certified maximisation pricing a logit user's columns
    (None: the full budget). ``deadline`` (a :func:`time.monotonic` reading): pricing stops and the
    ``M``-message program is cut there; the bounds stay certified, only wider.
    """
    # long: the relaxation, then the M-message program where it needs more messages, then the strict rule
    tree = SpeakerTree(game, i, profile)
    lp = SequenceLP(tree)
    cols = _Columns(tree)
    m = game.messages
    best_responder = game.user.model.best_responder
    if best_responder:
        q, val, user = _best_responder_columns(tree)
        sol = lp.solve_user_best(q, val, user)
        assert sol is not None, "the LP without extra rows is feasible"
        upper = sol.value
        kind = "lp (sequence form; last-round columns: vertices of the indifference arrangement, ties for the speaker)"
    else:
        sol, q, val = _logit_columns(tree, cols, lp)
        upper = math.inf
        if certify:
            sol, upper = _generate_columns(tree, cols, lp, sol, q, val, pricing_budget, deadline)
        kind = (
            "concavification (sequence form over a refined belief grid, columns priced by certified branch and "
            "bound; upper bound by weak duality)"
        )
    q0, val0 = [a.copy() for a in q], [a.copy() for a in val]
    n_rows, n_vars = lp.last_system[0].shape
    lp_shape = (int(n_rows), int(n_vars))
    relaxed = sol
    needed, q = _reduce(lp, sol, q, val, cols, m)
    final, final_q = sol, q
    method = (
        f"{kind}; {game.rounds} round(s), {tree.histories} histories, {sum(len(v) for v in val)} last-round columns"
    )
    exact = best_responder
    regrouped = None if needed <= m or best_responder else lp.regroup(sol, q)
    if needed <= m:
        lower, rule = sol.value, lp.realise(sol, q)
    elif regrouped is not None:  # the speaker alone: the same columns, split over rounds
        final, final_q = regrouped
        lower, rule = sol.value, lp.realise(*regrouped)
        method += (
            f"; the relaxation uses {needed} last-round messages > M = {m} at an information set: "
            "its columns regrouped over rounds"
        )
    else:
        merged, mq, lower = _merged(lp, sol, q, cols, m)
        final, final_q = merged, mq
        rule = lp.realise(merged, mq)
        how = "merging"
        exact = False
        if upper - max(lower, incumbent) <= settle:
            how += f" (the upper bound is within {settle:.0e} of the rule in hand: no program run)"
        elif milp and best_responder:
            slot = slot_milp(tree, lp, m, time_limit=cut_time(milp_time, deadline))
            if slot is not None:
                upper = min(upper, slot.bound)
                if slot.value >= lower - 1e-12:
                    lower, final, final_q = slot.value, slot.solution, slot.q
                    rule = lp.realise(slot.solution, slot.q)
                    how = "the exact M-message program" + ("" if slot.optimal else " (time limit reached)")
                exact = slot.optimal and upper - lower <= 1e-9
        elif milp:
            keep = _reduced_keep(relaxed, q0, val0, REDUCED_COST_TOL)
            got = column_milp(lp, q0, val0, m, keep=keep, time_limit=cut_time(milp_time, deadline))
            if got is not None and got[0].value > lower + 1e-12:
                final, final_q = got
                lower = got[0].value
                rule = lp.realise(final, final_q)
                how = "the M-message program over the relaxation's optimal columns"
        method += f"; the relaxation uses {needed} last-round messages > M = {m}: rule by {how}"
    upper = max(upper, lower)
    out = MultiroundResponse(
        upper=float(upper), lower=float(lower), rule=rule, exact=exact, needed=needed, method=method, lp_shape=lp_shape
    )
    if strict:
        out.strict_value, out.strict_rule = lower, rule
        if best_responder:
            out.strict_value, out.strict_rule = _strict_rule(tree, lp, final, final_q, [*margins, gamma], accept)
    return out


def _strict_rule(
    tree: SpeakerTree, lp: SequenceLP, sol: LPSolution, q: list[np.ndarray], margins: list[float], accept: float
) -> tuple[float | None, TableRule | None]:
    """The strict version of a best responder's solution: ``(value, rule)``, or ``(None, None)``.

    The first margin whose strict rule over the used columns' profiles is worth more than
    ``accept``; failing that, the same over every profile adjacent to them (the LP splits a
    column's mass over cells, needed when a column sits on a tie no one cell holds strictly);
    failing that, the best rule at the last (literal) margin.
    """
    fallback: tuple[float, TableRule] | None = None
    for every in (False, True):
        profiles = used_profiles(tree, sol, q, every=every)
        for g_ in margins:
            st = strict_solution(tree, lp, profiles, gamma=g_)
            if st is None:
                continue
            if st[0] > accept:
                return st[0], st[1]
            if g_ == margins[-1] and (fallback is None or st[0] > fallback[0]):
                fallback = (st[0], st[1])
    return fallback if fallback is not None else (None, None)
