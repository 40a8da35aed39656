"""One speaker alone with the user under best-AI selection: splits, floors, and open-loop realisations.

Under ``best_ai`` a speaker is paid its own solo outcome if selected (docs/science.md, "Protocols"),
and its rule is an open-loop commitment: one scheme per round, seeing only the round and the prior
(the user's messages cannot move her posterior nor the rule). Whatever the rounds, a rule induces
one experiment on the speaker's signal, so the best value with the user's value at least ``c`` is
at most the one-round problem with unlimited messages (docs/science_multiround.md, "Best-AI
selection over several rounds"):

    max sum_c w_c G_i(q_c)   s.t.  sum_c w_c q_c = 1,  sum_c w_c G_u(q_c) >= c,

columns ``q_c`` the vertices of the indifference arrangement for a best responder (exact: both
values are linear on the arrangement's cells, docs/science_multiround.md, "Candidate posteriors")
or a refined belief grid for a logit user (a lower bound; its duals with the certified
``delta = max_q G_i + nu G_u - phi . q`` give the upper bound, :mod:`persuaders.eval.logit_bounds`).

The open-loop rules that realise splits, lower bounds, are in :mod:`persuaders.eval.open_loop`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np

from persuaders.eval.arrangement import arrangement_vertices, favourable_values, indifference_normals
from persuaders.eval.conversation_tree import SpeakerTree
from persuaders.eval.logit_bounds import belief_grid, certified_max, lipschitz_constant, smooth_values
from persuaders.eval.sequence_lp import USED, LPSolution, SequenceLP
from persuaders.game.schemes import babbling_scheme
from persuaders.game.spec import Game
from persuaders.game.users import favourable_response
from persuaders.payoff.engine import ExactEngine

__all__ = ["SoloSplits", "solo_tree_game", "set_partitions"]

#: Grid of a logit user's solo columns (before refinement).
SOLO_GRID = 2001


def solo_tree_game(game: Game, i: int) -> Game:
    """Speaker ``i`` alone for one round with a silent user: the experiment its open-loop rule induces."""
    d = game.to_dict()
    d["speakers"] = [d["speakers"][i]]
    d["rounds"] = 1
    d["user"]["conversation"] = "silent"
    d["name"] = f"{game.name}__{game.speakers[i].name}_solo"
    return Game.from_dict(d)


def set_partitions(n: int, most: int) -> Iterator[list[list[int]]]:
    """Every partition of ``range(n)`` into at most ``most`` blocks."""

    def rec(k: int, blocks: list[list[int]]) -> Iterator[list[list[int]]]:
        if k == n:
            yield [list(b) for b in blocks]
            return
        for b in blocks:
            b.append(k)
            yield from rec(k + 1, blocks)
            b.pop()
        if len(blocks) < most:
            blocks.append([k])
            yield from rec(k + 1, blocks)
            blocks.pop()

    yield from rec(0, [])


class SoloSplits:
    """Speaker ``i``'s solo columns: its value, the user's, and every speaker's (module docstring)."""

    def __init__(self, game: Game, i: int):
        self.game, self.i = game, i
        self.solo = solo_tree_game(game, i)
        self.tree = SpeakerTree(self.solo, 0, [babbling_scheme(self.solo, 0)])
        self.lp = SequenceLP(self.tree)
        self.c = self.tree.coefficients(0)
        self.best_responder = game.user.model.best_responder
        u = game.user.utility
        if self.best_responder:
            q = arrangement_vertices(indifference_normals(self.c, u), self.tree.n_signals)
        else:
            q = belief_grid(self.tree.n_signals, SOLO_GRID)
        self.q = q
        self.gi, self.gu = self.values(q)
        self.engine = ExactEngine(game, [i], open_loop=True)

    def values(self, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(``G_i``, ``G_u``) of mass vectors ``q`` (ties for ``i`` for a best responder)."""
        u, ui = self.game.user.utility, self.game.speakers[self.i].utility
        if self.best_responder:
            gi, gu, _ = favourable_values(q, self.c, u, ui)
            return gi, gu
        out = smooth_values(q, self.c, u, np.stack([ui, u]), self.game.user.model)
        return out[:, 0], out[:, 1]

    def _solve(self, floor: float | None, minimise_user: bool = False) -> LPSolution | None:
        obj = -self.gu if minimise_user else self.gi
        ub = None
        if floor is not None:
            ub = (-self.gu[None], np.array([-floor]))
        sol = self.lp.solve([self.q], [obj], ub=ub)
        if sol is None or self.best_responder or minimise_user:
            return sol
        for step in (1.0 / (SOLO_GRID * 20), 1.0 / (SOLO_GRID * 400)):  # refine a logit split locally
            used = self.q[sol.weights[0] > USED]
            local = _local(used, step)
            if len(local) == 0:
                break
            gi, gu = self.values(local)
            self.q = np.vstack([self.q, local])
            self.gi, self.gu = np.concatenate([self.gi, gi]), np.concatenate([self.gu, gu])
            sol = self.lp.solve([self.q], [self.gi], ub=None if floor is None else (-self.gu[None], np.array([-floor])))
            if sol is None:
                return None
        return sol

    def maximise(self, floor: float | None) -> tuple[float, LPSolution] | None:
        """The best split (unlimited messages) with user value at least ``floor``, or None if none."""
        sol = self._solve(floor)
        return None if sol is None else (sol.value, sol)

    def upper_bound(self, floor: float | None, sol: LPSolution) -> float:
        """A certified upper bound on every rule with user value at least ``floor`` (exact for a best responder)."""
        if self.best_responder:
            return sol.value
        lam = self.game.user.model.rationality
        if lam is None or not math.isfinite(lam):
            return math.inf
        nu = float(sol.nu[0]) if floor is not None and sol.nu is not None and len(sol.nu) else 0.0
        nu = max(nu, 0.0)
        phi = sol.phi[0]
        u, ui = self.game.user.utility, self.game.speakers[self.i].utility
        lip = lipschitz_constant(self.c, u, np.stack([ui, u]), np.array([1.0, nu]), lam, -phi)

        def h(q: np.ndarray) -> np.ndarray:
            gi, gu = self.values(q)
            return gi + nu * gu - q @ phi

        _, top = certified_max(h, self.tree.n_signals, lip, 1e-8)
        return self.lp.dual_bound(phi[None] + max(0.0, top)) - (nu * floor if floor is not None else 0.0)

    def min_user_value(self) -> tuple[float, LPSolution | None]:
        """The least user value of any split (babbling for a best responder, whose value is convex)."""
        sol = self._solve(None, minimise_user=True)
        return (-sol.value, sol) if sol is not None else (math.inf, None)

    def evaluate(self, rules: list[np.ndarray], favourable: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """``(user value [n], every speaker's value [n, k])`` of open-loop rules of ``i`` alone.

        Ties split evenly, or (``favourable``, a best responder) broken for ``i`` in every
        speaker's value (the convention of the exploitability's suprema; her value is the same).
        """
        g = self.game
        if not rules:
            return np.zeros(0), np.zeros((0, g.n_speakers))
        batch = np.stack(rules)

        def source(t: int, observations: object, p: int) -> np.ndarray:
            return batch[:, t][:, None]

        if favourable and self.best_responder:
            joint = self.engine.joint([source], batch=len(batch))  # [n, H, Y, X0]
            mass = joint.sum(axis=2, keepdims=True)
            post = np.where(mass > 0, joint / np.where(mass > 0, mass, 1.0), 1.0 / g.n_states)
            eu = np.einsum("nhyx,ay->nhxa", post, g.user.utility)
            eui = np.einsum("nhyx,ay->nhxa", post, g.speakers[self.i].utility)
            out = np.einsum("nhyx,nhxa->nay", joint, favourable_response(eu, eui))
        else:
            out = self.engine.outcome([source], batch=len(batch))  # [n, A, Y]
        return np.einsum("nay,ay->n", out, g.user.utility), np.einsum("nay,jay->nj", out, g.speaker_utilities)


def _local(points: np.ndarray, step: float) -> np.ndarray:
    """A lattice of spacing ``step`` around each two-signal point (none for other dimensions)."""
    if len(points) == 0 or points.shape[1] != 2:
        return np.zeros((0, points.shape[1]))
    t = np.clip((points[:, 1][:, None] + step * np.arange(-20, 21)[None]).ravel(), 0.0, 1.0)
    return np.stack([1.0 - t, t], axis=1)
