"""Best-response dynamics among the speakers of a one-round game.

Gauss-Seidel: the speakers, in turn, replace their scheme by an exact best response to the
others' current schemes; a speaker moves only when that gains it more than ``tol``. The dynamics
start from babbling and stop after a full pass in which nobody moves (converged) or after
``max_passes`` passes. Both protocols are supported: ``simultaneous`` and ``best_ai`` with exact
evaluation. The final profile is scored with :func:`eval.exact.evaluate` and its exploitability
is checked independently with :func:`eval.exploitability.exploitability` (LPs, not the machinery
here).

**Best responses.** Each speaker's own signal must take at most two values of positive
probability (every two-state game whose speakers see the state), so a split of its prior is a
distribution over one number ``t`` in [0, 1], the belief that its signal is the second one. A
split with weights ``tau_j`` on beliefs ``t_j`` becomes the scheme
``pi(m_j | x) = tau_j q_j(x) / q0(x)`` (one message per belief).

* ``simultaneous``: speaker ``i`` faces a user whose types are her signal and the others'
  messages (:func:`eval.exploitability.auxiliary_channel`); its best response is the concave
  closure of its value at the prior over a set of beliefs ``S``: the best two-point split.
* ``best_ai`` (exact evaluation): with ``V*`` the best rival's solo user value, the best of being
  passed over (its utility under the best rival's solo outcome, ties at the top split) and of
  being selected: the best split giving the user ``>= V* + eta``. All splits over ``S`` map to
  the convex hull of the points ``(V, U_i)`` of the two-point splits, so the constrained optimum
  is read off the upper hull of that cloud (the optimum of the LP over ``S``; the cloud is built
  once per game): a mixture of two two-point splits, reduced to at most three beliefs
  (Caratheodory, keeping the prior and the user-value floor) and, for a best responder, to one
  belief per region of constant best response. A speaker passed over keeps its scheme; one that
  prefers to be passed over takes its best split giving the user ``<= V* - eta``.

The belief set ``S``. For a best responder, the exact candidates: 0, 1, the prior, and both sides
of every belief where some type of the user is indifferent, offset so that her expected-utility
gap is about 1e-8 (above the tie tolerance of :func:`envs.quantal.quantal_response`): splits at
those points are realised exactly by :func:`eval.exact.evaluate` (no ties), within about 1e-8 of
the supremum that puts posteriors on the indifference beliefs. For a logit user, a uniform grid
of ``grid`` points (default 501) and the prior, with local refinement: in ``simultaneous`` the
best pair is refined on finer lattices around it; in ``best_ai`` the dynamics run on the grid and
then continue ("polishing") with every best response refined on lattices around its beliefs.

**Messages.** The constrained problem has optimal splits with at most ``n_states + 1`` beliefs
and the unconstrained one with at most ``n_states``. If a best response needs more beliefs than
``M`` messages, the best split with at most two beliefs is used instead and ``restricted``
counts it; games built with ``messages = n_states + 1`` never need this.

**Races.** In ``best_ai``, when two speakers both prefer being selected to the other's outcome,
each best response beats the other's user value by just ``eta`` (1e-9): a Bertrand race whose
literal dynamics would take ``(V_end - V_start) / eta`` passes. The race is accelerated: after two
consecutive passes made only of challengers' binding beats, passes run with a growing increment
``delta`` (times 4 per kept pass): each speaker still decides as in the literal dynamics, and a
challenger's beat is then made by ``delta`` instead of ``eta`` (capped at its largest achievable
user value). A pass is kept while it stays such a race pass among the recent movers; otherwise it
is undone together with the accelerated pass before it (which may have jumped past the point
where the race changes) and ``delta`` is divided by 8. The selected speaker lowering the user's
value to just above the runner-up ("relax") is never accelerated. In ``simultaneous``, a best
responder's ties make a similar race (each speaker nudging a posterior across an indifference
belief by the offset); there the offset is scaled the same way. ``passes`` counts passes at the
literal increment; ``accelerated_passes`` the kept accelerated ones; ``max_passes`` bounds the
former and ``20 * max_passes`` the latter, per stage.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from envs.game import Game, load_game
from envs.protocols import SCORE_TOL, check_protocol
from envs.quantal import quantal_response
from eval.exact import evaluate, exact_selection
from eval.geometry import upper_hull
from eval.exploitability import Exploitability, auxiliary_channel, exploitability

__all__ = ["BRDynamicsResult", "best_response_dynamics", "ETA", "BeliefLine"]

#: Literal increment by which a best response beats the best rival's user value (best_ai).
ETA = 1e-9
#: Probabilities below this are treated as zero.
PROB_TOL = 1e-12
#: Target expected-utility gap at the offset indifference beliefs (above TIE_TOL = 1e-9).
GAP = 1e-8
#: Largest accelerated increment of the user value in a best_ai race.
MAX_INCREMENT = 0.05
#: Largest accelerated offset of a belief from an indifference belief (simultaneous races).
MAX_OFFSET = 0.02
#: Rounds of local refinement of a logit user's splits, and lattice points per belief.
REFINE_ROUNDS, REFINE_POINTS = 3, 21
#: A grid solution worth this much less than the alternatives is not refined.
REFINE_SLACK = 1e-3


# ---------------------------------------------------------------------------------------- result
@dataclass
class BRDynamicsResult:
    """Outcome of best-response dynamics.

    ``schemes[s]`` is speaker ``s``'s final scheme ``[X, M]``; ``user_value`` and
    ``speaker_values`` are exact (:func:`eval.exact.evaluate`); ``exploitability`` is the
    independent check of :func:`eval.exploitability.exploitability` (None if not requested);
    ``history`` the user's value after each accepted pass.
    """

    game: str
    protocol: str
    converged: bool
    passes: int
    schemes: dict[str, np.ndarray]
    user_value: float
    speaker_values: dict[str, float]
    exploitability: Exploitability | None
    history: list[float] = field(default_factory=list)
    accelerated_passes: int = 0
    selection: dict[str, float] = field(default_factory=dict)
    restricted: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "game": self.game,
            "protocol": self.protocol,
            "converged": self.converged,
            "passes": self.passes,
            "accelerated_passes": self.accelerated_passes,
            "user_value": float(self.user_value),
            "speaker_values": {k: float(v) for k, v in self.speaker_values.items()},
            "selection": dict(self.selection),
            "exploitability": None if self.exploitability is None else self.exploitability.to_dict(),
            "schemes": {k: np.round(v, 12).tolist() for k, v in self.schemes.items()},
            "history": [float(h) for h in self.history],
            "restricted": self.restricted,
        }


# ----------------------------------------------------------------------------------- belief line
def _dedupe_x(x: np.ndarray, y: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """Among positions ``pos`` (sorted by ``x``) with equal ``x`` keep the one with the largest ``y``."""
    if len(pos) < 2:
        return pos
    order = np.lexsort((y[pos], x[pos]))  # by x, then y ascending
    pos = pos[order]
    last = np.concatenate([x[pos][1:] != x[pos][:-1], [True]])
    return pos[last]


class BeliefLine:
    """A speaker's beliefs over its (at most two) signals of positive probability, ``t`` in [0, 1].

    ``types[y, tau]`` is the user's type channel (her signal, and in ``simultaneous`` the other
    speakers' messages); ``utils[j]`` the utilities whose expectations are wanted. ``t`` maps to
    the state belief ``p(t) = (1 - t) P(y | x_a) + t P(y | x_b)``. ``support`` is the belief set
    ``S`` (see the module docstring), with user values ``v`` and values ``g[:, j]``. With ``sup``
    (a best responder) ``S`` holds the indifference beliefs themselves and her ties are broken in
    favour of ``utils[0]``: the values whose concave closure is the supremum of the LPs.
    """

    def __init__(
        self, game: Game, i: int, types: np.ndarray, utils: np.ndarray, grid: int, offset_scale: float = 1.0, sup: bool = False
    ):
        self.game, self.i = game, i
        self.offset_scale = offset_scale
        self.sup = sup and math.isinf(game.user.rationality)
        spk = game.speakers[i]
        mu = game.prior
        px_full = mu @ spk.observation
        self.keep = np.flatnonzero(px_full > PROB_TOL)
        if len(self.keep) > 2:
            raise NotImplementedError(
                f"speaker '{spk.name}' has {len(self.keep)} signals of positive probability; "
                "best-response dynamics need at most two (one-dimensional beliefs)"
            )
        self.px = px_full[self.keep]
        post = (mu[:, None] * spk.observation[:, self.keep]).T / self.px[:, None]  # [X, Y]
        self.post = post if len(self.keep) == 2 else np.vstack([post, post])
        self.t0 = float(self.px[1] / self.px.sum()) if len(self.keep) == 2 else 0.0
        self.types = types[:, mu @ types > PROB_TOL]
        self.utils = np.asarray(utils, dtype=np.float64)
        self.u = game.user.utility
        self.lam = game.user.rationality
        self.n_signals = spk.n_signals
        if len(self.keep) == 1:
            support = np.array([0.0])
        elif math.isinf(self.lam):
            support = self._exact_candidates()
        else:
            support = np.unique(np.concatenate([np.linspace(0.0, 1.0, grid), [self.t0]]))
        self.t = support
        self.v, self.g = self.values(support)
        self.region = self._regions(support) if math.isinf(self.lam) else None

    # -------------------------------------------------------------- values
    def state_beliefs(self, t: np.ndarray) -> np.ndarray:
        t = np.asarray(t, dtype=np.float64)
        return (1.0 - t)[:, None] * self.post[0] + t[:, None] * self.post[1]

    def values(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """User value ``v`` [n] and expected ``utils`` ``g`` [n, J] at beliefs ``t`` (ties split evenly,
        or for ``utils[0]`` in ``sup`` mode)."""
        t = np.atleast_1d(np.asarray(t, dtype=np.float64))
        step = max(1, 2_000_000 // max(1, self.types.shape[1] * self.u.shape[0]))
        if len(t) > step:  # many user types: in blocks
            parts = [self.values(t[a : a + step]) for a in range(0, len(t), step)]
            return np.concatenate([a for a, _ in parts]), np.concatenate([b for _, b in parts])
        p = self.state_beliefs(t)
        joint = p[:, None, :] * self.types.T[None]  # [n, T, Y]
        pt = joint.sum(axis=2)
        post = joint / np.where(pt > 0, pt, 1.0)[..., None]
        eu = post @ self.u.T  # [n, T, A]
        if self.sup:
            from eval.exploitability import _favourable_response

            q = _favourable_response(eu, post @ self.utils[0].T)
        else:
            q = quantal_response(eu, self.lam)
        v = (pt * (q * eu).sum(axis=-1)).sum(axis=1)
        g = np.einsum("nt,nta,nty,jay->nj", pt, q, post, self.utils)
        return v, g

    def _regions(self, t: np.ndarray) -> np.ndarray:
        """Region id of each belief: the user's (strict) best action for every type."""
        p = self.state_beliefs(t)
        eu = np.einsum("ny,yt,ay->nta", p, self.types, self.u)
        key = eu.argmax(axis=-1)
        _, inv = np.unique(key, axis=0, return_inverse=True)
        return np.asarray(inv).reshape(-1)

    def _exact_candidates(self) -> np.ndarray:
        """0, 1, the prior and both sides of every indifference belief of every user type."""
        pts = [0.0, 1.0]
        ties = []
        u = self.u
        for tau in range(self.types.shape[1]):
            a0 = self.post[0] * self.types[:, tau]
            a1 = self.post[1] * self.types[:, tau]
            n0, n1 = u @ a0, u @ a1  # EU numerators at t = 0 and t = 1, per action
            for a in range(len(n0)):
                for b in range(a + 1, len(n0)):
                    d0, d1 = n0[a] - n0[b], n1[a] - n1[b]
                    if d0 == d1:
                        continue
                    ts = d0 / (d0 - d1)
                    if not -1e-15 <= ts <= 1 + 1e-15:
                        continue
                    ts = min(max(ts, 0.0), 1.0)
                    top = (1 - ts) * n0 + ts * n1
                    if top[a] < top.max() - 1e-12:
                        continue
                    mass = (1 - ts) * a0.sum() + ts * a1.sum()
                    sc = self.offset_scale
                    delta = min(max(GAP * sc * mass / abs(d1 - d0), 1e-12), min(1e-6 * sc, MAX_OFFSET))
                    ties.append(ts)
                    pts += [ts] if self.sup else [ts - delta, ts + delta]
        ties = np.array(ties)
        pts = np.array(pts)
        pts = pts[(pts >= 0.0) & (pts <= 1.0)]
        if self.sup or len(ties) == 0 or np.min(np.abs(ties - self.t0)) > 1e-6:
            pts = np.append(pts, self.t0)
        return np.unique(pts)

    # -------------------------------------------------------------- splits
    def reduce(self, t: np.ndarray, w: np.ndarray, j: int, floor: bool, m: int) -> tuple[np.ndarray, np.ndarray] | None:
        """Fewest beliefs for the split ``(t, w)``, keeping the prior (and the user value if ``floor``).

        A best responder's beliefs in one region of constant best response merge into their
        mean (every value is linear there). Then Caratheodory: while more beliefs than
        constraints, move along a null direction of ``[1; t; v]`` that does not lower ``g[:, j]``.
        Returns None if more than ``m`` beliefs remain.
        """
        keep = w > PROB_TOL
        t, w = t[keep], w[keep]
        t, inv = np.unique(t, return_inverse=True)
        w = np.bincount(np.asarray(inv).reshape(-1), weights=w, minlength=len(t))
        if len(t) > 1 and self.region is not None:
            reg = self._regions(t)
            ids, inv = np.unique(reg, return_inverse=True)
            inv = np.asarray(inv).reshape(-1)
            if len(ids) < len(t):
                ww = np.bincount(inv, weights=w, minlength=len(ids))
                t = np.bincount(inv, weights=w * t, minlength=len(ids)) / ww
                w = ww
        rows = 3 if floor else 2
        while len(t) > m and len(t) > rows:
            v, g = self.values(t)
            a = np.vstack([np.ones_like(t), t, v] if floor else [np.ones_like(t), t])
            z = np.linalg.svd(a)[2][-1]
            if z @ g[:, j] < 0:
                z = -z
            neg = z < -1e-15
            if not neg.any():
                break
            s = np.min(w[neg] / -z[neg])
            w = w + s * z
            keep = w > 1e-14
            t, w = t[keep], w[keep]
        if len(t) > m:
            return None
        return t, w / w.sum()

    def scheme(self, t: np.ndarray, w: np.ndarray, m: int) -> np.ndarray:
        """``[X_i, M]``: ``pi(m_j | x) = w_j q_j(x) / q0(x)`` on the kept signals (uniform elsewhere)."""
        out = np.full((self.n_signals, m), 1.0 / m)
        out[self.keep] = 0.0
        if len(self.keep) == 1:
            out[self.keep, 0] = 1.0
            return out
        q = np.stack([1.0 - t, t], axis=1)  # [n, 2]
        cols = (w[:, None] * q / self.px[None, :]).T
        out[np.ix_(self.keep, np.arange(len(t)))] = np.clip(cols, 0.0, None)
        out[self.keep] /= out[self.keep].sum(axis=1, keepdims=True)
        return out

    def split_of(self, scheme: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The split ``(t, w)`` a scheme ``[X_i, M]`` induces."""
        if len(self.keep) == 1:
            return np.array([0.0]), np.array([1.0])
        pi = np.asarray(scheme)[self.keep]
        pm = self.px @ pi
        used = pm > PROB_TOL
        t = self.px[1] * pi[1, used] / pm[used]
        return t, pm[used] / pm[used].sum()


class _Cloud:
    """All two-point splits of the prior over a line's belief set, sorted by the user's value."""

    def __init__(self, line: BeliefLine, t: np.ndarray | None = None, v: np.ndarray | None = None, g: np.ndarray | None = None):
        if t is None:
            t, v, g = line.t, line.v, line.g
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
        self._front: dict[int, tuple] = {}

    def front(self, j: int):
        if j in self._front:
            return self._front[j]
        V, G = self.V, self.G[:, j]
        top = G.max()
        imax = int(np.flatnonzero(G >= top - 1e-13)[-1])
        n = len(G)
        # decreasing part: records from the right
        after = np.concatenate([np.maximum.accumulate(G[::-1])[::-1][1:], [-np.inf]])
        dec = np.flatnonzero((G > after + 1e-15) & (np.arange(n) >= imax))
        dec = np.union1d(dec, [imax])
        dec = _dedupe_x(V, G, dec)
        dec = dec[upper_hull(V[dec], G[dec])]
        # increasing part: records from the left
        before = np.concatenate([[-np.inf], np.maximum.accumulate(G)[:-1]])
        inc = np.flatnonzero((G > before + 1e-15) & (np.arange(n) <= imax))
        inc = np.union1d(inc, [imax])
        inc = _dedupe_x(V, G, inc)
        inc = inc[upper_hull(V[inc], G[inc])]
        # pure pairs: best single pair with V >= c (position of the max of G over [k:]), V <= c
        rmax = np.maximum.accumulate(G[::-1])[::-1]
        is_r = G >= rmax
        nxt = np.where(is_r, np.arange(n), n)
        nxt = np.minimum.accumulate(nxt[::-1])[::-1]
        fmax = np.maximum.accumulate(G)
        is_f = G >= fmax
        prv = np.where(is_f, np.arange(n), -1)
        prv = np.maximum.accumulate(prv)
        self._front[j] = (imax, dec, inc, nxt, prv)
        return self._front[j]

    def _pairs_to_split(self, pos: list[tuple[int, float]]) -> tuple[np.ndarray, np.ndarray]:
        t = self.t
        ts, ws = [], []
        for k, a in pos:
            ts += [t[self.li[k]], t[self.ri[k]]]
            ws += [a * (1 - self.wr[k]), a * self.wr[k]]
        return np.array(ts), np.array(ws)

    def at_least(self, j: int, c: float):
        """Best split for ``j`` with user value ``>= c`` (hull mixture), or None; and the pure fallback."""
        imax, dec, inc, nxt, prv = self.front(j)
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

    def at_most(self, j: int, c: float):
        """Best split for ``j`` with user value ``<= c``, or None; and the pure fallback."""
        imax, dec, inc, nxt, prv = self.front(j)
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

    def best(self, j: int):
        imax = self.front(j)[0]
        return [(imax, 1.0)], [(imax, 1.0)]


# ------------------------------------------------------------------------------------ dynamics
def _check_game(game: Game) -> None:
    if game.rounds != 1:
        raise ValueError("best-response dynamics: one-round games only")


def _solo_types(game: Game) -> np.ndarray:
    o0 = game.user.observation
    return o0[:, game.prior @ o0 > PROB_TOL]


class _AIState:
    """best_ai dynamics: each speaker's split, solo user value V[i] and solo outcome values O[i, :]."""

    def __init__(self, game: Game, grid: int):
        self.game = game
        k = game.n_speakers
        types = _solo_types(game)
        utils = game.speaker_utilities
        cache: dict[bytes, tuple[BeliefLine, _Cloud]] = {}
        self.lines, self.clouds = [], []
        for i, s in enumerate(game.speakers):
            key = s.observation.tobytes()
            if key not in cache:
                line = BeliefLine(game, i, types, utils, grid)
                cache[key] = (line, _Cloud(line))
            self.lines.append(cache[key][0])
            self.clouds.append(cache[key][1])
        self.t: list[np.ndarray] = [np.array([ln.t0]) for ln in self.lines]
        self.w: list[np.ndarray] = [np.ones(1) for _ in range(k)]
        self.V = np.zeros(k)
        self.O = np.zeros((k, k))
        for i in range(k):
            self._set(i, self.t[i], self.w[i])
        self.restricted = 0
        self.refine = False
        self._vmax: dict[int, float] = {}

    def _set(self, i: int, t: np.ndarray, w: np.ndarray) -> None:
        v, g = self.lines[i].values(t)
        self.t[i], self.w[i] = t, w
        self.V[i] = float(w @ v)
        self.O[i] = w @ g

    def snapshot(self):
        return ([a.copy() for a in self.t], [a.copy() for a in self.w], self.V.copy(), self.O.copy(), self.restricted)

    def restore(self, snap) -> None:
        self.t, self.w, self.V, self.O, self.restricted = ([a.copy() for a in snap[0]], [a.copy() for a in snap[1]],
                                                           snap[2].copy(), snap[3].copy(), snap[4])

    def payoff(self, i: int) -> float:
        sel = exact_selection(self.V)
        return float(sel @ self.O[:, i])

    def user_value(self) -> float:
        sel = exact_selection(self.V)
        return float(sel @ self.V)

    def _choose(self, cloud: _Cloud, i: int, side: str, level: float):
        if side == "ge":
            return cloud.at_least(i, level)
        if side == "le":
            return cloud.at_most(i, level)
        return cloud.best(i)

    def _refined(self, i: int, side: str, level: float, hull, pure):
        """Local refinement of a logit user's split: the same choice over fine lattices around its beliefs."""
        line, cloud = self.lines[i], self.clouds[i]
        t, _ = cloud._pairs_to_split(hull)
        tp, _ = cloud._pairs_to_split(pure)
        h = 1.0 / max(len(line.t) - 1, 1)
        for _ in range(REFINE_ROUNDS):
            offs = h * np.linspace(-1.0, 1.0, REFINE_POINTS)
            pts = np.unique(np.clip(np.concatenate([(np.concatenate([t, tp])[:, None] + offs).ravel(), [line.t0]]), 0.0, 1.0))
            v, g = line.values(pts)
            local = _Cloud(line, pts, v, g)
            h2, p2 = self._choose(local, i, side, level)
            if h2 is None:
                if side == "ge" and level > local.vmax:  # not reachable yet: climb towards the top
                    top = [(len(local.V) - 1, 1.0)]
                    cloud, hull, pure = local, top, top
                    t, _ = cloud._pairs_to_split(hull)
                    tp = t
                    h = 2.0 * h / (REFINE_POINTS - 1)
                    continue
                break
            cloud, hull, pure = local, h2, p2
            t, _ = cloud._pairs_to_split(hull)
            tp, _ = cloud._pairs_to_split(pure)
            h = 2.0 * h / (REFINE_POINTS - 1)
        if side == "ge" and level > cloud.vmax + 1e-15:
            return cloud, None, None
        return cloud, hull, pure

    def vmax(self, i: int) -> float:
        """Largest user value speaker ``i`` can give her (refined around the grid's best in polishing)."""
        cloud, line = self.clouds[i], self.lines[i]
        if not (self.refine and not math.isinf(self.game.user.rationality) and len(line.keep) == 2):
            return cloud.vmax
        if i not in self._vmax:
            top = [(len(cloud.V) - 1, 1.0)]
            local, _, _ = self._refined(i, "ge", np.inf, top, top)
            self._vmax[i] = max(cloud.vmax, local.vmax)
        return self._vmax[i]

    def _realise(self, i: int, side: str, level: float, floor: bool, refine: bool = False):
        """The chosen split, refined if asked (logit user, polishing stage), reduced to at most M beliefs."""
        cloud, line, m = self.clouds[i], self.lines[i], self.game.messages
        hull, pure = self._choose(cloud, i, side, level)
        refine = refine and self.refine and not math.isinf(self.game.user.rationality) and len(line.keep) == 2
        if hull is None and refine and side == "ge" and level <= self.vmax(i):
            hull = pure = [(len(cloud.V) - 1, 1.0)]  # refine from the grid's most informative split
        if hull is None:
            return None
        if refine:
            cloud, hull, pure = self._refined(i, side, level, hull, pure)
            if hull is None:
                return None
        t, w = cloud._pairs_to_split(hull)
        red = line.reduce(t, w, i, floor, m)
        if red is None:
            t, w = cloud._pairs_to_split(pure)
            red = line.reduce(t, w, i, False, m)
            if red is None:
                return None
            self.restricted += 1
        t, w = red
        v, g = line.values(t)
        return t, w, float(w @ v), w @ g

    def _win(self, i: int, vstar: float, increment: float, worth: float = -np.inf):
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
        options = []
        vstar = -np.inf
        if k == 1:
            r = self._realise(i, "best", 0.0, floor=False, refine=True)
            if r is not None:
                options.append((float(r[3][i]), "win", r))
        else:
            rivals = np.arange(k) != i
            vstar = float(self.V[rivals].max())
            top = rivals & (self.V >= vstar - SCORE_TOL)
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


def _accelerated(state, step, max_passes: int, max_scale: float, rollback: bool = True):
    """Passes of ``step(scale) -> (pattern, moved, race)`` with race acceleration (module docstring).

    ``pattern[i]`` is speaker ``i``'s move in the pass (falsy or ``"stay"`` when it kept its
    scheme); ``race`` says every move was a race move. ``scale`` multiplies the literal increment.
    After two consecutive race passes at the literal increment, passes run at a growing scale and
    are kept while they remain race passes whose movers already moved in the last two kept
    passes. Any other pass is undone (with ``rollback``, together with the accelerated pass
    before it, which may have jumped past the point where the race changes) and the scale is
    divided by 8. Returns
    (converged, passes at the literal increment, accelerated passes, the user's value after each
    kept pass).
    """
    scale = 1.0
    kept: list[tuple[frozenset, bool, float, Any]] = []
    history: list[float] = []
    passes = accel = 0
    converged = False
    for _ in range(200 * max_passes):
        if passes >= max_passes or accel >= 20 * max_passes:
            break
        snap = state.snapshot()
        pattern, moved, race = step(scale)
        movers = frozenset(i for i, p in enumerate(pattern) if p and p != "stay")
        recent = frozenset().union(*(m for m, *_ in kept[-2:])) if kept else frozenset()
        steady = race and bool(movers) and len(kept) >= 2 and movers <= recent and all(r for _, r, *_ in kept[-2:])
        if scale > 1.0:
            if steady:
                accel += 1
                kept.append((movers, race, scale, snap))
                history.append(state.user_value())
                scale = min(4.0 * scale, max_scale)
            else:
                state.restore(snap)
                if rollback and kept and kept[-1][2] > 1.0:
                    _, _, prev_scale, prev_snap = kept.pop()
                    history.pop()
                    state.restore(prev_snap)
                    scale = max(1.0, prev_scale / 8.0)
                else:
                    scale = max(1.0, scale / 8.0)
            continue
        passes += 1
        if not moved:
            converged = True
            history.append(state.user_value())
            break
        if race and kept and kept[-1][1]:
            scale = 4.0
        kept.append((movers, race, 1.0, snap))
        history.append(state.user_value())
    return converged, passes, accel, history


def _best_ai_dynamics(game: Game, tol: float, max_passes: int, grid: int):
    st = _AIState(game, grid)
    k = game.n_speakers

    def step(scale: float):
        pattern = tuple(st.best_response(i, ETA * scale, tol)[0] for i in range(k))
        moved = any(p != "stay" for p in pattern)
        race = moved and all(p in ("stay", "win") for p in pattern)
        return pattern, moved, race

    converged, passes, accel, history = _accelerated(st, step, max_passes, MAX_INCREMENT / ETA)
    if not math.isinf(game.user.rationality):  # polish on refined beliefs around the grid solution
        st.refine = True
        converged, p2, a2, h2 = _accelerated(st, step, max_passes, MAX_INCREMENT / ETA)
        passes, accel, history = passes + p2, accel + a2, history + h2
    schemes = {s.name: st.lines[i].scheme(st.t[i], st.w[i], game.messages) for i, s in enumerate(game.speakers)}
    return schemes, converged, passes, accel, history, st.restricted


def _best_pair(line: BeliefLine, j: int = 0) -> tuple[float, float]:
    """The two-point split of the prior over ``line.t`` best for ``utils[j]`` (ties: best for the user)."""
    t, t0 = line.t, line.t0
    left, right = np.flatnonzero(t <= t0 + 1e-15), np.flatnonzero(t >= t0 - 1e-15)
    tl, tr = t[left][:, None], t[right][None, :]
    d = tr - tl
    wr = np.where(d > 0, (t0 - tl) / np.where(d > 0, d, 1.0), 0.0)
    g = (1 - wr) * line.g[left, j][:, None] + wr * line.g[right, j][None, :]
    v = (1 - wr) * line.v[left][:, None] + wr * line.v[right][None, :]
    top = g >= g.max() - 1e-13
    a, b = np.unravel_index(np.argmax(np.where(top, v, -np.inf)), g.shape)
    return float(t[left[a]]), float(t[right[b]])


def _refine_pair(line: BeliefLine, tl: float, tr: float, j: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Local refinement of a logit user's best two-point split ``(tl, tr)`` around the prior."""
    t0 = line.t0
    h = 1.0 / max(len(line.t) - 1, 1)

    def value(l: np.ndarray, r: np.ndarray) -> np.ndarray:
        _, gl = line.values(l)
        _, gr = line.values(r)
        d = r[None, :] - l[:, None]
        wr = np.where(d > 0, (t0 - l[:, None]) / np.where(d > 0, d, 1.0), 0.0)
        return (1 - wr) * gl[:, j][:, None] + wr * gr[:, j][None, :]

    best = float(value(np.array([tl]), np.array([tr]))[0, 0])
    for _ in range(REFINE_ROUNDS):
        offs = h * np.linspace(-1.0, 1.0, REFINE_POINTS)
        ls = np.unique(np.clip(tl + offs, 0.0, t0))
        rs = np.unique(np.clip(tr + offs, t0, 1.0))
        val = value(ls, rs)
        a, b = np.unravel_index(np.argmax(val), val.shape)
        if val[a, b] > best:
            best, tl, tr = float(val[a, b]), float(ls[a]), float(rs[b])
        h = 2.0 * h / (REFINE_POINTS - 1)
    if tr - tl <= 1e-15:
        return np.array([t0]), np.ones(1)
    wr = (t0 - tl) / (tr - tl)
    return np.array([tl, tr]), np.array([1.0 - wr, wr])


class _SimState:
    """simultaneous dynamics: the speakers' current schemes [X, M]."""

    def __init__(self, game: Game, grid: int):
        self.game, self.grid = game, grid
        m = game.messages
        self.schemes = [np.full((s.n_signals, m), 1.0 / m) for s in game.speakers]
        self.restricted = 0

    def snapshot(self):
        return [s.copy() for s in self.schemes], self.restricted

    def restore(self, snap) -> None:
        self.schemes, self.restricted = [s.copy() for s in snap[0]], snap[1]

    def user_value(self) -> float:
        return evaluate(self.game, self.schemes).user_value

    def best_response(self, i: int, scale: float, tol: float) -> bool:
        game, m = self.game, self.game.messages
        types, _ = auxiliary_channel(game, i, [s[None] for s in self.schemes])
        line = BeliefLine(game, i, types, game.speakers[i].utility[None], self.grid, offset_scale=scale)
        tl, tr = _best_pair(line)
        if not math.isinf(game.user.rationality) and len(line.keep) == 2:
            t, w = _refine_pair(line, tl, tr)
        elif tr - tl <= 1e-15:
            t, w = np.array([line.t0]), np.ones(1)
        else:
            wr = (line.t0 - tl) / (tr - tl)
            t, w = np.array([tl, tr]), np.array([1.0 - wr, wr])
        red = line.reduce(t, w, 0, False, m)
        if red is None:
            self.restricted += 1
            return False
        t, w = red
        value = float(w @ line.values(t)[1][:, 0])
        cur = evaluate(game, self.schemes).speaker_values[game.speakers[i].name]
        if value > cur + tol:
            self.schemes[i] = line.scheme(t, w, m)
            return True
        return False


def _simultaneous_dynamics(game: Game, tol: float, max_passes: int, grid: int):
    st = _SimState(game, grid)
    k = game.n_speakers
    ties = math.isinf(game.user.rationality)

    def step(scale: float):
        pattern = tuple(st.best_response(i, scale, tol) for i in range(k))
        moved = any(pattern)
        return pattern, moved, moved and ties

    converged, passes, accel, history = _accelerated(st, step, max_passes, 1e9, rollback=False)
    schemes = {s.name: st.schemes[i] for i, s in enumerate(game.speakers)}
    return schemes, converged, passes, accel, history, st.restricted


def best_response_dynamics(
    game: Game | str,
    protocol: str = "best_ai",
    *,
    tol: float = 1e-6,
    max_passes: int = 50,
    grid: int | None = None,
    check: bool = True,
) -> BRDynamicsResult:
    """Gauss-Seidel best-response dynamics from babbling (see the module docstring).

    ``protocol``: ``best_ai`` (exact evaluation) or ``simultaneous``. ``tol``: a speaker moves only
    if it gains more than this, and the dynamics have converged after a pass where nobody moves.
    ``grid``: belief-grid size for a logit user (default 501 for best_ai, 2001 for simultaneous).
    ``check``: also compute the final profile's exploitability with :mod:`eval.exploitability`.
    """
    game = load_game(game)
    check_protocol(protocol)
    _check_game(game)
    if protocol == "best_ai":
        schemes, conv, passes, accel, hist, restricted = _best_ai_dynamics(game, tol, max_passes, grid or 501)
    else:
        schemes, conv, passes, accel, hist, restricted = _simultaneous_dynamics(game, tol, max_passes, grid or 501)
    final = evaluate(game, schemes, protocol=protocol, n_eval="exact")
    expl = exploitability(schemes, game, protocol=protocol, n_eval="exact") if check else None
    return BRDynamicsResult(
        game=game.name,
        protocol=protocol,
        converged=conv,
        passes=passes,
        schemes=schemes,
        user_value=final.user_value,
        speaker_values=final.speaker_values,
        exploitability=expl,
        history=hist,
        accelerated_passes=accel,
        selection=final.selection,
        restricted=restricted,
    )
