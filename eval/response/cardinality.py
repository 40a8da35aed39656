"""Best responses with at most ``M`` last-round messages: mixed-integer programs on the sequence form.

The sequence-form LP (:mod:`persuaders.eval.response.sequence_lp`) lets the last round carry as
many messages as its relaxation wants. When one round's ``M`` messages are fewer than the
posteriors it uses, the best rule must split over rounds instead: earlier messages separate the
states so that each last-round information set needs at most ``M``. That is a combinatorial
choice, solved here exactly by HiGHS's branch and bound (``scipy.optimize.milp``;
docs/science.md, "Exact best responses with M messages").

**A best-responding user: message slots.** At each last-round information set ``I`` the speaker
has ``M`` slots. Slot ``s`` carries a mass vector ``y_{I,s}`` over its signals (what it sends with
message ``s``) and recommends one action to each user type ``tau`` (binaries ``b_{I,s,tau,a}``,
one action per type). With ``D[tau, a, a'](x) = sum_y C_I[tau, x, y] (u[a, y] - u[a', y])``,

    sum_s y_{I,s} = a_I                                         (the plan's mass at I)
    D[tau, a, a'] . y_{I,s} >= gamma |y|_tau - K (1 - b_{I,s,tau,a})    (obedience, big-K)
    w_{I,s,tau,a} <= V[tau, a] . y_{I,s} + K' (1 - b),  w <= K'' b      (the speaker's value)

maximising ``sum w`` with ``V[tau, a](x) = sum_y C_I[tau, x, y] U_i[a, y]``. Every rule with at
most ``M`` last-round messages is a solution (each message's posterior is obeyed by its
favourable recommendation), and every solution is such a rule: the program is exact, its optimum
the supremum over ``M``-message rules (ties for the speaker; ``gamma > 0`` asks for strict
recommendations). Slots are ordered by mass (no symmetric copies).

**Columns with a cardinality** (:func:`column_milp`): the LP's own columns (grid beliefs of a logit
user, say) with a binary per column and at most ``M`` per information set: the best rule whose
last-round posteriors are among the columns. With only the columns the relaxation can use at an
optimum (reduced cost about 0) it finds a rule worth the relaxation's value whenever one exists
among them.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass

import numpy as np
from scipy import optimize, sparse

from persuaders.eval.response.conversation_tree import SpeakerTree
from persuaders.eval.response.sequence_lp import USED, LPSolution, SequenceLP

__all__ = ["MILP_OPTIONS", "MILP_TIME_FLOOR", "SlotSolution", "column_milp", "cut_time", "slot_milp"]

#: Seconds a mixed-integer program still gets when its deadline has passed (its first incumbent).
MILP_TIME_FLOOR = 0.2


def cut_time(seconds: float, deadline: float | None) -> float:
    """``seconds``, cut to what is left before ``deadline`` (a :func:`time.monotonic` reading; at least
    :data:`MILP_TIME_FLOOR`)."""
    if deadline is None:
        return seconds
    return max(MILP_TIME_FLOOR, min(seconds, deadline - time.monotonic()))


#: HiGHS MILP options: tight feasibility (big-K rows amplify integrality slack) and a tiny relative gap.
MILP_OPTIONS = {
    "mip_rel_gap": 1e-10,
    "mip_feasibility_tolerance": 1e-10,
    "primal_feasibility_tolerance": 1e-10,
    "dual_feasibility_tolerance": 1e-10,
}


@dataclass
class SlotSolution:
    """A slot program's answer: ``value`` of the incumbent (ties for the speaker), ``bound`` the
    solver's proven upper bound, ``solution`` in the LP's form (weights and posteriors of the used
    slots) and ``profiles[I]`` the recommendation profile of each used slot; ``optimal`` when
    the search finished."""

    value: float
    bound: float
    solution: LPSolution
    q: list[np.ndarray]
    profiles: list[list[np.ndarray]]
    optimal: bool


class _Rows:
    """A sparse system assembled row by row (COO triplets)."""

    def __init__(self) -> None:
        self.r: list[np.ndarray] = []
        self.c: list[np.ndarray] = []
        self.v: list[np.ndarray] = []
        self.b: list[float] = []

    def add(self, cols: np.ndarray, vals: np.ndarray, rhs: float) -> None:
        self.r.append(np.full(len(cols), len(self.b)))
        self.c.append(np.asarray(cols, dtype=np.int64))
        self.v.append(np.asarray(vals, dtype=np.float64))
        self.b.append(rhs)

    def matrix(self, n: int) -> sparse.csr_matrix:
        if not self.b:
            return sparse.csr_matrix((0, n))
        return sparse.csr_matrix(
            (np.concatenate(self.v), (np.concatenate(self.r), np.concatenate(self.c))), shape=(len(self.b), n)
        )


def _plan_rows(lp: SequenceLP, n_var: int) -> tuple[sparse.csr_matrix, np.ndarray]:
    """The flow rows of the earlier rounds' plan (the LP's own), padded to ``n_var`` columns."""
    rows, cols, vals = lp.flow()
    n_rows = lp.nx * lp.n_rows_x
    if rows:
        a = sparse.csr_matrix(
            (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n_rows, n_var)
        )
    else:
        a = sparse.csr_matrix((n_rows, n_var))
    b = np.zeros(n_rows)
    xs, first = np.meshgrid(np.arange(lp.nx), np.arange(lp.n_info[0]), indexing="ij")
    b[lp.row(xs.ravel(), 0, first.ravel())] = 1.0
    return a, b


def slot_milp(
    tree: SpeakerTree, lp: SequenceLP, m: int, *, gamma: float = 0.0, time_limit: float = 20.0
) -> SlotSolution | None:
    """The slot program of the module docstring (a best-responding user); None when HiGHS finds no
    solution in ``time_limit`` seconds (or, with ``gamma > 0``, none exists)."""
    # long: one program assembled from the plan's rows, the slots' split rows and their obedience and value rows
    g = tree.game
    u, ui = g.user.utility, g.speakers[tree.i].utility
    nx, n_a, r_last = lp.nx, g.n_actions, lp.r - 1
    n_last = lp.n_info[-1]
    coeff = [tree.coefficients(info) for info in range(n_last)]
    base = nx * lp.n_seq
    y0 = base  # y[I, s, x]
    b0 = y0 + n_last * m * nx
    t_off = np.concatenate([[0], np.cumsum([c.shape[0] for c in coeff])]).astype(int)
    n_b = int(t_off[-1]) * m * n_a
    w0 = b0 + n_b
    n_var = w0 + n_b

    def ycols(info: int, s: int) -> np.ndarray:
        out: np.ndarray = y0 + (info * m + s) * nx + np.arange(nx)
        return out

    def bcol(info: int, s: int, tau: int) -> int:
        return int(b0 + ((t_off[info] + tau) * m + s) * n_a)

    a_plan, b_plan = _plan_rows(lp, n_var)
    eq = _Rows()
    for info in range(n_last):  # the slots split the plan's mass at I
        for x in range(nx):
            cols = [y0 + (info * m + s) * nx + x for s in range(m)]
            vals = [1.0] * m
            if lp.r >= 2:
                cols.append(x * lp.n_seq + lp.seq_off[r_last - 1] + lp.parent(r_last)[info])
                vals.append(-1.0)
            eq.add(np.array(cols), np.array(vals), 0.0)
    split_rows = eq.matrix(n_var)
    split_b = np.array(eq.b)
    if lp.r == 1:  # no plan: the mass at each (round-0) information set is 1 per signal
        split_b = np.ones(len(eq.b))
        a_plan, b_plan = sparse.csr_matrix((0, n_var)), np.zeros(0)
    one = _Rows()
    ub = _Rows()
    obj = np.zeros(n_var)
    for info, c in enumerate(coeff):
        for tau in range(c.shape[0]):
            ct = c[tau]  # [X, Y]
            mass_x = ct.sum(axis=1)
            gain = ct @ ui.T  # [X, A]: V[tau, a](x)
            k_hi = float(np.clip(gain, 0.0, None).sum(axis=0).max()) + 1e-9
            k_lo = float(np.clip(-gain, 0.0, None).sum(axis=0).max()) + 1e-9
            for s in range(m):
                bc = bcol(info, s, tau)
                one.add(bc + np.arange(n_a), np.ones(n_a), 1.0)
                yc = ycols(info, s)
                for a in range(n_a):
                    for a2 in range(n_a):
                        if a2 == a:
                            continue
                        d = ct @ (u[a] - u[a2]) - gamma * mass_x
                        big = float(np.clip(-d, 0.0, None).sum()) + 1e-9
                        ub.add(np.append(yc, bc + a), np.append(-d, big), big)  # -D.y + K b <= K
                    wc = w0 + (bc - b0) + a
                    ub.add(np.concatenate([[wc], yc, [bc + a]]), np.concatenate([[1.0], -gain[:, a], [k_lo]]), k_lo)
                    ub.add(np.array([wc, bc + a]), np.array([1.0, -k_hi]), 0.0)
                    obj[wc] = -1.0
        for s in range(m - 1):  # slots ordered by mass
            ub.add(np.concatenate([ycols(info, s + 1), ycols(info, s)]), np.r_[np.ones(nx), -np.ones(nx)], 0.0)
    a_eq = sparse.vstack([a_plan, split_rows, one.matrix(n_var)]).tocsr()
    b_eq = np.concatenate([b_plan, split_b, np.array(one.b)])
    integrality = np.zeros(n_var)
    integrality[b0:w0] = 1
    lower = np.zeros(n_var)
    lower[w0:] = -np.inf
    upper = np.full(n_var, np.inf)
    upper[b0:w0] = 1.0
    with warnings.catch_warnings():  # HiGHS options scipy does not list are passed on to HiGHS
        warnings.filterwarnings("ignore", message="Unrecognized options")
        res = optimize.milp(
            obj,
            constraints=[
                optimize.LinearConstraint(a_eq, b_eq, b_eq),
                optimize.LinearConstraint(ub.matrix(n_var), -np.inf, np.array(ub.b)),
            ],
            integrality=integrality,
            bounds=optimize.Bounds(lower, upper),
            options={**MILP_OPTIONS, "time_limit": float(time_limit)},
        )
    if res.x is None:
        return None
    z = np.clip(res.x, 0.0, None)
    weights, qs, profiles = [], [], []
    for info, c in enumerate(coeff):
        w_i, q_i, p_i = [], [], []
        for s in range(m):
            y = z[ycols(info, s)]
            mass = float(y.sum())
            if mass <= USED:
                continue
            w_i.append(mass)
            q_i.append(y / mass)
            p_i.append(
                np.array([int(np.argmax(res.x[bcol(info, s, t) : bcol(info, s, t) + n_a])) for t in range(c.shape[0])])
            )
        weights.append(np.array(w_i))
        qs.append(np.array(q_i) if q_i else np.zeros((0, nx)))
        profiles.append(p_i)
    bound = -float(getattr(res, "mip_dual_bound", res.fun))
    sol = LPSolution(-float(res.fun), z[:base].reshape(nx, lp.n_seq), weights, np.zeros((n_last, nx)))
    return SlotSolution(-float(res.fun), max(bound, -float(res.fun)), sol, qs, profiles, res.status == 0)


def column_milp(
    lp: SequenceLP,
    q: list[np.ndarray],
    value: list[np.ndarray],
    m: int,
    keep: list[np.ndarray] | None = None,
    ub: tuple[sparse.csr_matrix, np.ndarray] | None = None,
    time_limit: float = 20.0,
) -> tuple[LPSolution, list[np.ndarray]] | None:
    """The best solution using at most ``m`` of the columns ``q[I]`` (values ``value[I]``) at every
    last-round information set (module docstring), restricted to the columns ``keep[I]`` (indices;
    all when None). Returns the solution in the LP's form with its (restricted) columns, or None."""
    if keep is not None:
        offsets = np.concatenate([[0], np.cumsum([len(qi) for qi in q])]).astype(int)
        if ub is not None:
            cols = np.concatenate([np.asarray(k, dtype=int) + offsets[n] for n, k in enumerate(keep)])
            ub = (ub[0][:, cols], ub[1])
        q = [qi[k] for qi, k in zip(q, keep, strict=True)]
        value = [vi[k] for vi, k in zip(value, keep, strict=True)]
    sol = lp.solve_cardinality(q, value, m, ub=ub, time_limit=time_limit, options=MILP_OPTIONS)
    if sol is None:
        return None
    return sol, q
