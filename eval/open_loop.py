"""Open-loop rules that realise a speaker's solo splits under best-AI selection: the lower bounds.

An open-loop rule says one scheme per round whatever was said (docs/science.md,
"Protocols"). The family searched here (docs/science_multiround.md, "Best-AI
selection over several rounds"): in rounds ``2..R`` the speaker spells, deterministically, the
block of a partition ``f`` of its signals into at most ``M^(R-1)`` blocks (digit ``t`` of the block
index in round ``t``); in round 1 it says a randomised scheme with ``M`` messages. The user then
learns the block and the round-1 message, so with ``f`` fixed the round-1 problem is a one-round
problem whose user types are (her signal, the block): coefficients ``C_f[(block, tau), x, y] =
C[tau, x, y] 1[x in block]``. For each ``f`` it is solved like the one-round problem (columns:
arrangement vertices or a belief grid, a floor on the user's value, pooled by recommendation, a
cardinality MILP when more than ``M`` are needed). ``f`` with one block is the one-round split;
a deterministic round 1 gives every partition into at most ``M^R`` blocks (full revelation when
``M^R >= |X_i|``). Every rule found is an actual open-loop rule, so the best one is a lower bound;
the upper bound is the unlimited one-round problem (:mod:`persuaders.eval.solo_splits`).
"""

from __future__ import annotations

import numpy as np

from persuaders.eval.arrangement import arrangement_vertices, favourable_values, indifference_normals
from persuaders.eval.logit_bounds import smooth_values
from persuaders.eval.sequence_lp import USED, LPSolution, SequenceLP, merge_columns
from persuaders.eval.solo_splits import SoloSplits, set_partitions
from persuaders.eval.strict_lp import pool_by_profile, strict_solution, used_profiles
from persuaders.game.schemes import babbling_scheme

__all__ = ["MAX_PARTITION_SIGNALS", "OpenLoopRules"]

#: Largest number of signals whose set partitions are enumerated.
MAX_PARTITION_SIGNALS = 6
#: Seconds a family's cardinality MILP may run.
FAMILY_MILP_TIME = 3.0


class _Family:
    """One partition ``f``: the coefficient array ``C_f``, its columns and their values."""

    def __init__(self, prob: SoloSplits, blocks: list[list[int]]):
        g = prob.game
        self.blocks = blocks
        nx = prob.tree.n_signals
        masks = np.zeros((len(blocks), nx))
        for b, block in enumerate(blocks):
            masks[b, block] = 1.0
        self.c = (prob.c[None] * masks[:, None, :, None]).reshape(-1, nx, g.n_states)
        self.c = self.c[self.c.sum(axis=(1, 2)) > 0]
        self.tree = prob.tree.with_coefficients([self.c])
        self.lp = SequenceLP(self.tree)
        u, ui = g.user.utility, g.speakers[prob.i].utility
        if prob.best_responder:
            self.q = prob.q if len(blocks) == 1 else arrangement_vertices(indifference_normals(self.c, u), nx)
            self.gi, self.gu, _ = favourable_values(self.q, self.c, u, ui)
        else:
            self.q = prob.q[:: max(1, len(prob.q) // 400)] if len(blocks) > 1 else prob.q
            out = smooth_values(self.q, self.c, u, np.stack([ui, u]), g.user.model)
            self.gi, self.gu = out[:, 0], out[:, 1]


class OpenLoopRules:
    """Open-loop rules ``[R, X_i, M]`` of speaker ``i`` alone (module docstring)."""

    def __init__(self, prob: SoloSplits):
        self.prob = prob
        g = prob.game
        self.m, self.r = g.messages, g.rounds
        n = prob.tree.n_signals
        self.families: list[_Family] | None = None
        self.pure: list[np.ndarray] = []
        if n <= MAX_PARTITION_SIGNALS:
            self.pure = [self._spell(p, None) for p in set_partitions(n, min(self.m**self.r, n))]
        self._n = n

    def _families(self) -> list[_Family]:
        if self.families is None:
            most = self.m ** (self.r - 1)
            parts = (
                [p for p in set_partitions(self._n, min(most, self._n))]
                if self._n <= MAX_PARTITION_SIGNALS and most > 1
                else []
            )
            parts = [[list(range(self._n))]] + [p for p in parts if len(p) > 1]
            self.families = [_Family(self.prob, p) for p in parts]
        return self.families

    def _spell(self, blocks: list[list[int]], first: np.ndarray | None) -> np.ndarray:
        """``[R, X_i, M]``: ``first`` (a round-1 scheme) or, if None, the block's digit 0 in round 1;
        block ``b``'s remaining digits (base ``M``) in the later rounds."""
        g, prob = self.prob.game, self.prob
        out = babbling_scheme(g, prob.i)
        shift = 0 if first is None else 1
        if first is not None:
            out[0] = first
        for b, block in enumerate(blocks):
            for x in block:
                xi = prob.tree.keep[x]
                for t in range(shift, g.rounds):
                    out[t, xi] = 0.0
                    out[t, xi, (b // self.m ** (t - shift)) % self.m] = 1.0
        return out

    def _first_round(self, w: np.ndarray, q: np.ndarray) -> np.ndarray:
        """A round-1 scheme ``[X_i, M]`` saying column ``c`` with probability ``w_c q_c(x)`` (at most ``M`` columns)."""
        g, prob = self.prob.game, self.prob
        first = np.full((g.speakers[prob.i].n_signals, self.m), 1.0 / self.m)
        keep = prob.tree.keep
        mass = (w[:, None] * q).T
        first[keep] = 0.0
        first[np.ix_(keep, np.arange(len(w)))] = mass / mass.sum(axis=1, keepdims=True)
        return first

    def _pooled(self, fam: _Family, sol: LPSolution) -> tuple[np.ndarray, np.ndarray]:
        w = sol.weights[0]
        if not self.prob.best_responder:
            used = w > USED
            return w[used], fam.q[used]
        g = self.prob.game
        return pool_by_profile(fam.c, fam.q, w, g.user.utility, g.speakers[self.prob.i].utility)

    def _merged(self, fam: _Family, w: np.ndarray, q: np.ndarray, floor: float | None, user_objective: bool):
        """A logit user's split merged down to ``M`` columns (:func:`~persuaders.eval.sequence_lp.merge_columns`),
        or ``(None, None)`` when the merged split misses the floor."""
        g = self.prob.game
        utils = np.stack([g.speakers[self.prob.i].utility, g.user.utility])

        def vals(a: np.ndarray) -> np.ndarray:
            return smooth_values(a, fam.c, g.user.utility, utils, g.user.model)

        vec, _ = merge_columns(w[:, None] * q, self.m, lambda a: vals(a)[:, 1 if user_objective else 0])
        if floor is not None and float(vals(vec)[:, 1].sum()) < floor:
            return None, None
        mass = vec.sum(axis=1)
        return mass, vec / mass[:, None]

    def _strict(self, fam: _Family, sol: LPSolution, floor: float | None) -> list[np.ndarray]:
        if not self.prob.best_responder:
            return []
        st = strict_solution(fam.tree, fam.lp, used_profiles(fam.tree, sol, [fam.q]), floor=floor)
        if st is None:
            return []
        return [self._spell(fam.blocks, st[1].scheme(fam.tree.keys[0][0]))]

    def _family_rules(self, fam: _Family, floor: float | None, user_objective: bool, strict: bool) -> list[np.ndarray]:
        obj = fam.gu if user_objective else fam.gi
        ub = None if floor is None else (-fam.gu[None], np.array([-floor]))
        sol = fam.lp.solve([fam.q], [obj], ub=ub)
        if sol is None:
            return []
        w, q = self._pooled(fam, sol)
        if len(w) > self.m and not self.prob.best_responder:  # a logit user: merge columns greedily
            w, q = self._merged(fam, w, q, floor, user_objective)
            if w is None:
                return []
        elif len(w) > self.m:
            sol = fam.lp.solve_cardinality([fam.q], [obj], self.m, ub=ub, time_limit=FAMILY_MILP_TIME)
            if sol is None:
                return []
            w, q = self._pooled(fam, sol)
            if len(w) > self.m:
                return []
        out = self._strict(fam, sol, floor) if strict else []
        return out + [self._spell(fam.blocks, self._first_round(w, q))]

    def candidates(self, floor: float | None, strict: bool, user_objective: bool = False) -> list[np.ndarray]:
        """Open-loop rules for the best split with user value at least ``floor`` in every family, and
        every pure partition (``user_objective``: the most informative instead). ``strict``: also the
        strict versions (no ties for the user), which best-response dynamics play."""
        out: list[np.ndarray] = []
        for fam in self._families():
            out += self._family_rules(fam, floor, user_objective, strict)
        return out + self.pure
