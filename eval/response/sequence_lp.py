"""The sequence-form linear program of one speaker's best response over a multi-round conversation.

Speaker ``i``'s rule is its realisation plan ``rho(x, s)``: for each of its signals ``x`` and each
of its message sequences ``s`` (an information set ``I`` of round ``t`` and the message ``m`` it
says there), the probability that it says ``s`` when its signal is ``x``, chance and the others
permitting (docs/science.md, "Sequence form"). The flow constraints

    sum_m rho(x, (I, m)) = rho(x, parent(I))      (= 1 in round 0)

describe every behaviour rule exactly. In the last round the speaker's mass ``a_I(x) =
rho(x, parent(I))`` at information set ``I`` is split into *columns* ``w_c q_c`` (``q_c`` in the
simplex over its signals): each column is one last-round message, which the user reads with the
posterior ``q_c`` induces. With ``G_I(q_c)`` the speaker's value of a column,

    max  sum_{I, c} w_{I,c} G_I(q_c)   s.t.  sum_c w_{I,c} q_c(x) = a_I(x),  flow,  w, rho >= 0

is an LP (HiGHS, ``scipy.optimize.linprog``). Its value is that of the best rule whose last-round
messages are the columns, as many per information set as it uses; it is an actual ``M``-message
rule when it uses at most ``M`` columns at every last-round information set.

**Duals.** With ``phi_I(x)`` the duals of the last-round rows, ``phi_I . q >= G_I(q)`` for every
column priced; if this holds for *every* ``q`` (after adding ``delta_I = max_q G_I(q) - phi_I . q``),
then by weak duality every rule is worth at most :meth:`SequenceLP.dual_bound`, the value of the
linear objective ``sum_I phi_I . a_I`` over the flow polytope, found by backward induction.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import optimize, sparse

from persuaders.eval.response.conversation_tree import SpeakerTree
from persuaders.eval.response.rules import InfoKey, TableRule

__all__ = ["HIGHS", "USED", "LPSolution", "SequenceLP", "merge_columns", "reduce_columns"]

#: HiGHS options: tight tolerances, since gains of order 1e-6 matter.
HIGHS = {"primal_feasibility_tolerance": 1e-10, "dual_feasibility_tolerance": 1e-10}
#: A column with less weight than this is unused.
USED = 1e-11


@dataclass
class LPSolution:
    """An optimum: its value, the plan ``rho [X, S]`` of earlier rounds, the columns' weights per
    last-round information set, the duals ``phi [I, X]`` of the last-round rows and ``nu >= 0``
    those of the extra rows (the price of a floor)."""

    value: float
    rho: np.ndarray
    weights: list[np.ndarray]
    phi: np.ndarray
    nu: np.ndarray | None = None


class SequenceLP:
    """The LP of the module docstring on a :class:`~persuaders.eval.response.conversation_tree.SpeakerTree`."""

    def __init__(self, tree: SpeakerTree):
        self.tree = tree
        g = tree.game
        self.r, self.m, self.nx = g.rounds, g.messages, tree.n_signals
        self.n_info = [tree.info_sets(t) for t in range(self.r)]
        self.seq_off = np.concatenate([[0], np.cumsum([n * self.m for n in self.n_info[:-1]])]).astype(int)
        self.n_seq = int(self.seq_off[-1])
        self.info_off = np.concatenate([[0], np.cumsum(self.n_info)]).astype(int)
        self.n_rows_x = int(self.info_off[-1])
        #: The proven upper bound of the last :meth:`solve_cardinality` (``inf`` before one).
        self.last_bound = float("inf")

    def row(self, x: np.ndarray | int, t: int, info: np.ndarray | int) -> np.ndarray:
        out: np.ndarray = np.asarray(x) * self.n_rows_x + self.info_off[t] + np.asarray(info)
        return out

    def parent(self, t: int) -> np.ndarray:
        """The tree's ``parent[t]`` (defined for ``t >= 1``)."""
        parent = self.tree.parent[t]
        assert parent is not None, "round 0 has no parent sequences"
        return parent

    def flow(self) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
        """Entries of the earlier rounds' flow rows (rows, columns, values) and the rho columns' count."""
        rows, cols, vals = [], [], []
        nx, m, s = self.nx, self.m, self.n_seq
        for t in range(self.r - 1):
            n = self.n_info[t]
            x, info, msg = (a.ravel() for a in np.meshgrid(np.arange(nx), np.arange(n), np.arange(m), indexing="ij"))
            rows.append(self.row(x, t, info))
            cols.append(x * s + self.seq_off[t] + info * m + msg)
            vals.append(np.ones(len(x)))
            if t >= 1:
                x2, info2 = (a.ravel() for a in np.meshgrid(np.arange(nx), np.arange(n), indexing="ij"))
                rows.append(self.row(x2, t, info2))
                cols.append(x2 * s + self.seq_off[t - 1] + self.parent(t)[info2])
                vals.append(-np.ones(len(x2)))
        return rows, cols, vals

    def solve(
        self, q: Sequence[np.ndarray], value: Sequence[np.ndarray], ub: tuple[Any, Any] | None = None
    ) -> LPSolution | None:
        """Solve with columns ``q[I]`` ``[V_I, X]`` of values ``value[I]``; None when infeasible.

        ``ub = (A, b)`` adds rows ``A w <= b`` on the last-round weights (all information sets'
        columns in order): a floor on the user's value, or obedience rows.
        """
        rows, cols, vals = self.flow()
        nx, s, t_last = self.nx, self.n_seq, self.r - 1
        col_off = np.concatenate([[0], np.cumsum([len(v) for v in value])]).astype(int)
        base = nx * s
        for info, qi in enumerate(q):
            v, x = (a.ravel() for a in np.meshgrid(np.arange(len(qi)), np.arange(nx), indexing="ij"))
            rows.append(self.row(x, t_last, info))
            cols.append(base + col_off[info] + v)
            vals.append(qi[v, x])
            if self.r >= 2:
                rows.append(self.row(np.arange(nx), t_last, info))
                cols.append(np.arange(nx) * s + self.seq_off[t_last - 1] + self.parent(t_last)[info])
                vals.append(-np.ones(nx))
        n_var = base + int(col_off[-1])
        a_eq = sparse.csr_matrix(
            (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(nx * self.n_rows_x, n_var)
        )
        b_eq = np.zeros(nx * self.n_rows_x)
        xs, first = np.meshgrid(np.arange(nx), np.arange(self.n_info[0]), indexing="ij")
        b_eq[self.row(xs.ravel(), 0, first.ravel())] = 1.0
        c = np.zeros(n_var)
        c[base:] = -np.concatenate(value) if len(value) else []
        kw = {}
        if ub is not None:
            a_w, b_ub = ub
            kw = dict(
                A_ub=sparse.hstack([sparse.csr_matrix((a_w.shape[0], base)), sparse.csr_matrix(a_w)]).tocsr(),
                b_ub=np.asarray(b_ub),
            )
        self.last_system = (a_eq, b_eq, c, base, kw)
        res = optimize.linprog(c, A_eq=a_eq, b_eq=b_eq, bounds=(0, None), method="highs", options=HIGHS, **kw)
        for how in ("highs-ds", "highs-ipm"):  # numerical trouble at tight tolerances: other solvers
            if res.status in (0, 2):
                break
            res = optimize.linprog(c, A_eq=a_eq, b_eq=b_eq, bounds=(0, None), method=how, **kw)
        if res.status == 2 or (res.status != 0 and ub is not None):  # infeasible, or a floor at the edge of feasibility
            return None
        if res.status != 0:
            raise RuntimeError(f"sequence-form LP failed: {res.message}")
        z = np.clip(res.x, 0.0, None)
        y = -res.eqlin.marginals
        phi = np.stack([y[self.row(np.arange(nx), t_last, info)] for info in range(len(q))]) if q else np.zeros((0, nx))
        weights = [z[base + col_off[i] : base + col_off[i + 1]] for i in range(len(q))]
        nu = -np.asarray(res.ineqlin.marginals) if ub is not None else np.zeros(0)
        return LPSolution(-float(res.fun), z[:base].reshape(nx, s), weights, phi, nu)

    def solve_user_best(
        self,
        q: Sequence[np.ndarray],
        value: Sequence[np.ndarray],
        user: Sequence[np.ndarray],
        ub: tuple[Any, Any] | None = None,
        slack: float = 1e-10,
    ) -> LPSolution | None:
        """:meth:`solve`, then, among the solutions within ``slack`` of the optimum, the one best for the
        user (a second LP; the convention of the one-round obedience LP, docs/science.md, "Best
        responder: the obedience LP"). The value and duals are the first stage's."""
        sol = self.solve(q, value, ub)
        if sol is None:
            return None
        row = sparse.csr_matrix(-np.concatenate(value)[None])
        a = row if ub is None else sparse.vstack([sparse.csr_matrix(ub[0]), row]).tocsr()
        b = np.concatenate([[] if ub is None else np.asarray(ub[1]), [-(sol.value - slack)]])
        second = self.solve(q, user, (a, b))
        if second is None:
            return sol
        own = float(sum(w @ v for w, v in zip(second.weights, value, strict=True)))
        return LPSolution(own, second.rho, second.weights, sol.phi, sol.nu)

    def _cardinality_rows(
        self, value: Sequence[np.ndarray], m: int, groups: Sequence[np.ndarray] | None
    ) -> tuple[list[optimize.LinearConstraint], np.ndarray, int]:
        """The program's rows on the last solve's system: its equalities (and extra rows), the links
        ``w_c <= |X| z_g`` and ``sum_g z_g <= m`` per information set; with each column's group."""
        a_eq, b_eq, c, base, kw = self.last_system
        n_col = len(c) - base
        gid = [
            np.arange(len(v)) if groups is None else np.unique(groups[n], return_inverse=True)[1].reshape(-1)
            for n, v in enumerate(value)
        ]
        g_off = np.concatenate([[0], np.cumsum([int(g.max()) + 1 if len(g) else 0 for g in gid])]).astype(int)
        n_grp = int(g_off[-1])
        col_grp = np.concatenate([g + g_off[n] for n, g in enumerate(gid)]).astype(int) if n_col else np.zeros(0, int)
        info_of = np.concatenate([np.full(g_off[n + 1] - g_off[n], n) for n in range(len(value))]).astype(int)
        zero = sparse.csr_matrix
        link = sparse.hstack(
            [
                zero((n_col, base)),
                sparse.eye(n_col),
                zero((-self.nx * np.ones(n_col), (np.arange(n_col), col_grp)), shape=(n_col, n_grp)),
            ]
        )
        count = sparse.hstack(
            [
                zero((len(value), base + n_col)),
                zero((np.ones(n_grp), (info_of, np.arange(n_grp))), shape=(len(value), n_grp)),
            ]
        )
        cons = [
            optimize.LinearConstraint(sparse.hstack([a_eq, zero((a_eq.shape[0], n_grp))]), b_eq, b_eq),
            optimize.LinearConstraint(link, -np.inf, 0.0),
            optimize.LinearConstraint(count, -np.inf, m),
        ]
        if kw:
            extra = sparse.hstack([kw["A_ub"], zero((kw["A_ub"].shape[0], n_grp))])
            cons.append(optimize.LinearConstraint(extra, -np.inf, kw["b_ub"]))
        return cons, col_grp, n_grp

    def solve_cardinality(
        self,
        q: Sequence[np.ndarray],
        value: Sequence[np.ndarray],
        m: int,
        ub: tuple[Any, Any] | None = None,
        time_limit: float = 20.0,
        options: dict[str, float] | None = None,
        groups: Sequence[np.ndarray] | None = None,
    ) -> LPSolution | None:
        """The best solution using at most ``m`` messages per last-round information set (HiGHS MILP).

        A message is a column, or with ``groups`` (an id per column of each information set) a
        group of columns (a recommendation profile's unit columns, one per signal). Binary ``z_g``
        per group, ``w_c <= |X| z_g`` for its columns (a column's mass vector is at most the
        speaker's mass, at most 1 per signal, so its weight is at most ``|X|``), ``sum_g z_g <= m``.
        The incumbent after ``time_limit`` seconds is returned (an actual rule with at most ``m``
        last-round messages); None when there is none. ``self.last_bound`` is the solver's proven
        upper bound on the value.
        """
        if self.solve(q, value, ub) is None:
            return None
        c, base = self.last_system[2], self.last_system[3]
        n_col = len(c) - base
        cons, col_grp, n_grp = self._cardinality_rows(value, m, groups)
        integrality = np.concatenate([np.zeros(base + n_col), np.ones(n_grp)])
        upper = np.concatenate([np.full(base + n_col, np.inf), np.ones(n_grp)])
        with warnings.catch_warnings():  # HiGHS options scipy does not list are passed on to HiGHS
            warnings.filterwarnings("ignore", message="Unrecognized options")
            res = optimize.milp(
                np.concatenate([c, np.zeros(n_grp)]),
                constraints=cons,
                integrality=integrality,
                bounds=optimize.Bounds(0, upper),
                options={"mip_rel_gap": 1e-9, **(options or {}), "time_limit": time_limit},
            )
        if res.x is None:
            self.last_bound = np.inf
            return None
        self.last_bound = -float(getattr(res, "mip_dual_bound", res.fun))
        z = np.clip(res.x, 0.0, None)
        on = z[base + n_col :][col_grp] > 0.5
        w = z[base : base + n_col] * on
        off = np.concatenate([[0], np.cumsum([len(v) for v in value])]).astype(int)
        weights = [w[off[n] : off[n + 1]] for n in range(len(value))]
        return LPSolution(
            float(sum(wi @ vi for wi, vi in zip(weights, value, strict=True))),
            z[:base].reshape(self.nx, self.n_seq),
            weights,
            np.zeros((len(value), self.nx)),
        )

    def dual_bound(self, phi: np.ndarray) -> float:
        """``max sum_I phi_I . a_I(rho)`` over the flow polytope (backward induction, signal by signal)."""
        value = np.asarray(phi, dtype=np.float64).T  # [X, I_last]
        for t in range(self.r - 2, -1, -1):
            seq = np.zeros((self.nx, self.n_info[t] * self.m))
            np.add.at(seq.T, self.parent(t + 1), value.T)
            value = seq.reshape(self.nx, self.n_info[t], self.m).max(axis=2)
        return float(value.sum())

    def regroup(self, sol: LPSolution, q: Sequence[np.ndarray]) -> tuple[LPSolution, list[np.ndarray]] | None:
        """The solution's last-round columns rearranged on the speaker's own message tree, at most
        ``M`` per last-round information set; None where that cannot be done.

        Where the information sets are the speaker's own message sequences and every last-round one
        has the same coefficients (:meth:`SpeakerTree.own_messages_only`), a leaf ``w_c q_c`` (a
        last-round message's mass vector) is worth the same wherever it is said, leaves with one
        posterior are worth their sum, and the leaves sum to one per signal. So any ``L <= M^R``
        leaves, in consecutive groups of ``M^(R-1-t)`` under the round-``t`` messages, are the last
        messages of an actual rule (each earlier sequence's plan mass the sum of the leaves below
        it) worth the solution's value (docs/science.md, "Exact best responses with M messages").
        Returns the solution and its columns in the LP's form (the duals are the original's)."""
        if not self.tree.own_messages_only():
            return None
        m, r = self.m, self.r
        used = [(w[c], qi[c]) for w, qi in zip(sol.weights, q, strict=True) for c in np.flatnonzero(w > USED)]
        if not used:
            return None
        # leaves with one posterior are one leaf (G is homogeneous: their values add up)
        post = np.array([qc for _, qc in used])
        _, which = np.unique(np.round(post, 12), axis=0, return_inverse=True)
        which = np.asarray(which).reshape(-1)
        pooled = np.zeros((int(which.max()) + 1, self.nx))
        np.add.at(pooled, which, np.array([wc * qc for wc, qc in used]))
        leaves = list(pooled)
        if len(leaves) > m**r:
            return None
        rho = np.zeros((self.nx, self.n_seq))
        weights = [np.zeros(0) for _ in range(self.n_info[-1])]
        cols = [np.zeros((0, self.nx)) for _ in range(self.n_info[-1])]
        # child[t][s]: the round-t information set that follows sequence s of round t - 1
        child = [np.zeros(0, dtype=int)] + [np.argsort(self.parent(t)) for t in range(1, r)]

        def place(t: int, info: int, group: list[np.ndarray]) -> None:
            if t == r - 1:
                if group:
                    vec = np.array(group)
                    weights[info] = vec.sum(axis=1)
                    cols[info] = vec / weights[info][:, None]
                return
            size = m ** (r - 1 - t)
            for msg in range(m):
                part = group[msg * size : (msg + 1) * size]
                seq = info * m + msg
                if part:
                    rho[:, self.seq_off[t] + seq] = np.sum(part, axis=0)
                place(t + 1, int(child[t + 1][seq]), part)

        place(0, 0, leaves)
        return LPSolution(sol.value, rho, weights, sol.phi, sol.nu), cols

    def masses(self, sol: LPSolution) -> np.ndarray:
        """``a_I(x)`` ``[I, X]``: the speaker's mass at each last-round information set."""
        if self.r == 1:
            return np.ones((self.n_info[0], self.nx))
        par = self.seq_off[self.r - 2] + self.parent(self.r - 1)
        return sol.rho[:, par].T

    def realise(self, sol: LPSolution, q: Sequence[np.ndarray]) -> TableRule:
        """The behaviour rule of a solution using at most ``M`` columns per last-round information set.

        Earlier rounds: ``pi(m | x, I) = rho(x, (I, m)) / rho(x, parent(I))``; the last round says
        the ``c``-th used column of ``I`` with probability ``w_c q_c(x) / a_I(x)``. Signals and
        information sets the rule never reaches babble.
        """
        tree, m = self.tree, self.m
        n_sig = tree.game.speakers[tree.i].n_signals
        table = {}
        for t in range(self.r - 1):
            part = sol.rho[:, self.seq_off[t] : self.seq_off[t] + self.n_info[t] * m].reshape(
                self.nx, self.n_info[t], m
            )
            for info, key in enumerate(tree.keys[t]):
                table[key] = _rows(part[:, info, :], tree.keep, n_sig, m)
        for info, key in enumerate(tree.keys[-1]):
            w = sol.weights[info]
            used = np.flatnonzero(w > USED)
            if len(used) > m:
                raise ValueError(f"information set {key} uses {len(used)} last-round messages > M = {m}")
            cols = np.zeros((self.nx, m))
            cols[:, : len(used)] = (w[used, None] * q[info][used]).T
            table[key] = _rows(cols, tree.keep, n_sig, m)
        rule = TableRule(tree.game, tree.i, table)
        best: dict[InfoKey, tuple[float, np.ndarray]] = {}
        for t in range(self.r):
            for info, key in enumerate(tree.keys[t]):
                own = rule.own_key(key)
                if own not in best or tree.reach[t][info] > best[own][0]:
                    best[own] = (tree.reach[t][info], table[key])
        rule.fallback = {k: v for k, (_, v) in best.items()}
        return rule


def _rows(mass: np.ndarray, keep: np.ndarray, n_sig: int, m: int) -> np.ndarray:
    """A scheme ``[X_i, M]`` from unnormalised message masses on the kept signals (babbling elsewhere)."""
    out = np.full((n_sig, m), 1.0 / m)
    tot = mass.sum(axis=1)
    ok = tot > 1e-14
    out[keep[ok]] = np.clip(mass[ok], 0.0, None) / np.clip(mass[ok], 0.0, None).sum(axis=1, keepdims=True)
    return out


def reduce_columns(a: np.ndarray, q: np.ndarray, value: np.ndarray, w: np.ndarray) -> np.ndarray:
    """A basic optimum of one information set's split: at most ``|X|`` columns with the same value.

    ``max sum_c w_c value_c  s.t. sum_c w_c q_c = a`` restricted to the used columns, solved by the
    dual simplex (a vertex, hence at most as many positive weights as rows).
    """
    used = np.flatnonzero(w > USED)
    res = optimize.linprog(-value[used], A_eq=q[used].T, b_eq=a, bounds=(0, None), method="highs-ds", options=HIGHS)
    out = np.zeros_like(w)
    if res.status == 0 and -res.fun >= w[used] @ value[used] - 1e-12:
        out[used] = np.clip(res.x, 0.0, None)
        return out
    return w


def merge_columns(
    vectors: np.ndarray, m: int, value_of: Callable[[np.ndarray], np.ndarray]
) -> tuple[np.ndarray, float]:
    """Greedy merging of a split's columns (mass vectors ``[n, X]``) down to ``m``: each step merges the
    pair that loses the least value. Returns the merged vectors and their total value (an actual
    ``m``-message split, so a lower bound)."""
    vecs = list(vectors)
    vals = list(value_of(np.array(vecs)))
    while len(vecs) > m:
        best: tuple[float, int, int, np.ndarray, float] | None = None
        for a in range(len(vecs)):
            for b in range(a + 1, len(vecs)):
                merged = vecs[a] + vecs[b]
                val = float(value_of(merged[None])[0])
                loss = vals[a] + vals[b] - val
                if best is None or loss < best[0]:
                    best = (loss, a, b, merged, val)
        assert best is not None, "two or more columns have a pair to merge"
        _, a, b, merged, val = best
        vecs = [v for n, v in enumerate(vecs) if n not in (a, b)] + [merged]
        vals = [v for n, v in enumerate(vals) if n not in (a, b)] + [val]
    return np.array(vecs), float(sum(vals))
