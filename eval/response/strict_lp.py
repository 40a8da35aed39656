"""Strict recommendations: a best response whose last-round posteriors leave the user no ties.

The vertex LP (:mod:`persuaders.eval.response.multiround`) puts the user's posteriors on indifference
beliefs and counts her ties in the speaker's favour: a supremum (docs/science.md, "Exploitability",
tie conventions). A profile of such rules is no equilibrium of the game the evaluator scores
(ties split evenly), so best-response dynamics play the *strict* version: the obedience LP over
the recommendation profiles the solution uses, each recommended action required to beat every
other by ``gamma`` in the user's expected utility at her posterior,

    sum_x y(x, I, r) sum_y C_I[tau, x, y] (u[r(tau), y] - u[a', y] - gamma) >= 0   for all tau, a' != r(tau),

(``y(x, I, r)`` the speaker's mass on recommendation ``r`` with signal ``x``), which every rule
realises without ties; its value is within ``O(gamma)`` of the supremum when the recommended
cells have interiors (docs/science.md, "Strict rules"). As in the one-round
dynamics, ``gamma = 1e-8`` is above the evaluator's tie tolerance of 1e-9.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import sparse

from persuaders.eval.response.arrangement import favourable_values
from persuaders.eval.response.conversation_tree import SpeakerTree
from persuaders.eval.response.rules import TableRule
from persuaders.eval.response.sequence_lp import USED, LPSolution, SequenceLP

__all__ = ["GAMMA", "obedience_columns", "pool_by_profile", "strict_solution", "used_profiles"]

#: The user's expected-utility margin of a strict recommendation.
GAMMA = 1e-8


def _adjacent_profiles(
    q: np.ndarray, c: np.ndarray, u: np.ndarray, ui: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Recommendation profiles of the full-dimensional cells around the point ``q`` ``[X]``.

    The best responses just off ``q`` towards each signal's vertex, the centre and a few random
    directions (generic, so inside a cell): each is obeyed at ``q`` too (best responses are
    closed), and its cell has an interior where a strict version can sit.
    """
    n = len(q)
    targets = np.vstack([np.eye(n), np.full((1, n), 1.0 / n), rng.dirichlet(np.ones(n), size=6)])
    pts = (1.0 - 1e-7) * q[None] + 1e-7 * targets
    _, _, prof = favourable_values(pts, c, u, ui)
    return np.unique(prof, axis=0)


def used_profiles(
    tree: SpeakerTree, sol: LPSolution, q: Sequence[np.ndarray], every: bool = False
) -> list[list[np.ndarray]]:
    """For every used column, the recommendation profile (an action per type) its strict version plays.

    Among the profiles of the full-dimensional cells around the column's posterior
    (``_adjacent_profiles``), the one worth most to the speaker there (ties: to the user):
    the favourable profile at the posterior itself may belong to no cell with an interior.
    ``every``: all of those profiles, for the LP to choose among. A column on an indifference
    belief that no single cell can hold strictly (the prior on a tie: every posterior of a strict
    rule averaging to it cannot sit in one cell) needs the LP to split its mass over cells.
    """
    g = tree.game
    u, ui = g.user.utility, g.speakers[tree.i].utility
    rng = np.random.default_rng(0)
    out = []
    for info, w in enumerate(sol.weights):
        c = tree.coefficients(info)
        prof: list[np.ndarray] = []
        for v in np.flatnonzero(w > USED):
            qv = q[info][v]
            cand = _adjacent_profiles(qv, c, u, ui, rng)
            b = np.einsum("x,txy->ty", qv, c)  # [T, Y]
            tau = np.arange(c.shape[0])
            own = np.array([(b[tau] * ui[r]).sum() for r in cand])
            usr = np.array([(b[tau] * u[r]).sum() for r in cand])
            if every:
                prof.extend(cand)
            else:
                prof.append(cand[np.lexsort((-usr, -np.round(own, 12)))[0]])
        uniq = {tuple(int(a) for a in p) for p in prof}
        out.append([np.array(p, dtype=int) for p in sorted(uniq)])
    return out


def pool_by_profile(
    c: np.ndarray, q: np.ndarray, w: np.ndarray, u: np.ndarray, ui: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Used columns pooled by recommendation profile: ``(weights [n], mass vectors' directions [n, X])``.

    Columns recommending the same action to every type both give weight (types one of them does
    not reach may differ) are one recommendation: pooling sums their obedience constraints, so
    the pooled message is still obeyed, and its favourable value is at least the sum
    (docs/science.md, "Exact best responses over several rounds"). The number of pools is the number of
    last-round messages the solution needs.
    """
    used = np.flatnonzero(w > USED)
    if len(used) == 0:
        return np.zeros(0), np.zeros((0, q.shape[1]))
    vec = w[used, None] * q[used]
    _, _, prof = favourable_values(q[used], c, u, ui)
    reach = np.einsum("vx,txy->vt", q[used], c) > 0
    groups: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # (profile, reached, mass vector)
    for n in range(len(used)):
        for g, (pr, rc, mv) in enumerate(groups):
            both = rc & reach[n]
            if np.all(pr[both] == prof[n][both]):
                groups[g] = (np.where(rc, pr, prof[n]), rc | reach[n], mv + vec[n])
                break
        else:
            groups.append((prof[n].copy(), reach[n].copy(), vec[n].copy()))
    mass = np.array([g[2].sum() for g in groups])
    return mass, np.stack([g[2] / g[2].sum() for g in groups])


def obedience_columns(
    tree: SpeakerTree, profiles: list[list[np.ndarray]], gamma: float
) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray], Any]:  # Any: a scipy.sparse csr_matrix
    """Unit columns (one per profile and signal), their values, and the obedience (and user-value) rows."""
    g = tree.game
    u, ui = g.user.utility, g.speakers[tree.i].utility
    nx = tree.n_signals
    q, val, uval, rows, cols, vals = [], [], [], [], [], []
    col0, row0 = 0, 0
    for info, profs in enumerate(profiles):
        c = tree.coefficients(info)
        qi, vi, wi = [], [], []
        for r in profs:
            qi.append(np.eye(nx))
            vi.append(np.einsum("txy,ty->x", c, ui[r]))
            wi.append(np.einsum("txy,ty->x", c, u[r]))
            for a in range(g.n_actions):
                gap = np.einsum("txy,ty->tx", c, u[r] - u[a][None] - gamma)  # [T, X]
                active = np.flatnonzero((r != a) & (c.sum(axis=(1, 2)) > 0))
                for t in active:
                    rows.append(np.full(nx, row0))
                    cols.append(col0 + np.arange(nx))
                    vals.append(-gap[t])
                    row0 += 1
            col0 += nx
        q.append(np.vstack(qi) if qi else np.zeros((0, nx)))
        val.append(np.concatenate(vi) if vi else np.zeros(0))
        uval.append(np.concatenate(wi) if wi else np.zeros(0))
    a = sparse.csr_matrix(
        (
            np.concatenate(vals) if vals else [],
            (np.concatenate(rows) if rows else [], np.concatenate(cols) if cols else []),
        ),
        shape=(row0, col0),
    )
    return q, val, uval, a


def strict_solution(
    tree: SpeakerTree,
    lp: SequenceLP,
    profiles: list[list[np.ndarray]],
    gamma: float = GAMMA,
    floor: float | None = None,
) -> tuple[float, TableRule, float] | None:
    """The best strict rule over ``profiles`` (module docstring): (value, rule, user value), or None.

    ``floor``: the user's value must be at least this (best-AI selection). The last-round message
    is the index of the recommendation profile among those used at the information set, so at
    most ``M`` profiles may carry weight (None otherwise).
    """
    q, val, uval, a = obedience_columns(tree, profiles, gamma)
    b = np.zeros(a.shape[0])
    if floor is not None:
        a = sparse.vstack([a, -sparse.csr_matrix(np.concatenate(uval)[None])]).tocsr()
        b = np.concatenate([b, [-floor]])
    sol = lp.solve_user_best(q, val, uval, ub=(a, b) if a.shape[0] else None)
    if sol is None:
        return None
    nx, m = tree.n_signals, tree.game.messages
    weights, qq = [], []
    for w in sol.weights:
        per = w.reshape(-1, nx)  # [profiles, X]: mass of each profile per signal
        mass = per.sum(axis=1)
        used = np.flatnonzero(mass > USED)
        if len(used) > m:
            return None
        weights.append(mass[used])
        qq.append(per[used] / mass[used][:, None])
    user = float(sum(w @ v for w, v in zip(sol.weights, uval, strict=True)))
    real = LPSolution(sol.value, sol.rho, weights, sol.phi)
    return sol.value, lp.realise(real, qq), user
