"""A speaker's beliefs on a line: splits of a prior over (at most) two signals, and their values.

When a speaker's own signal takes at most two values of positive probability (every two-state
game whose speakers see the state), a split of its prior is a distribution over one number
``t`` in [0, 1], the belief that its signal is the second one; a split with weights ``tau_j`` on
beliefs ``t_j`` is the scheme ``pi(m_j | x) = tau_j q_j(x) / q0(x)`` (one message per belief).
:class:`BeliefLine` holds a belief set ``S`` on this line with the user's value and the speakers'
expected utilities at each belief (:func:`~persuaders.eval.theory.beliefs.values_over_types`); the best
two-point split over ``S`` (:func:`best_pair`) is the concave closure there, refined for a
smooth response by :func:`refine_pair` (docs/science.md, "Best-response dynamics").

The belief set ``S``. For a best responder, the exact candidates: 0, 1, the prior, and both sides
of every belief where some type of the user is indifferent, offset so that her expected-utility
gap is about :data:`GAP` (above the tie tolerance
:data:`~persuaders.envs.game.users.TIE_TOL`): splits at those points are realised exactly by
:func:`persuaders.envs.payoff.evaluate` (no ties), within about 1e-8 of the supremum that puts
posteriors on the indifference beliefs. With ``sup`` the indifference beliefs themselves are used
and her ties are broken for the speaker (the LP suprema). For any other user model, a uniform
grid of ``grid`` points and the prior.
"""

from __future__ import annotations

import numpy as np

from persuaders.envs.game.spec import Game
from persuaders.eval.theory.beliefs import PROB_TOL, values_over_types

__all__ = ["GAP", "MAX_OFFSET", "REFINE_ROUNDS", "REFINE_POINTS", "BeliefLine", "best_pair", "refine_pair"]

#: Target expected-utility gap at the offset indifference beliefs (above TIE_TOL = 1e-9).
GAP = 1e-8
#: Largest accelerated offset of a belief from an indifference belief (simultaneous races).
MAX_OFFSET = 0.02
#: Rounds of local refinement of a smooth response's splits, and lattice points per belief.
REFINE_ROUNDS, REFINE_POINTS = 3, 21


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
        self,
        game: Game,
        i: int,
        types: np.ndarray,
        utils: np.ndarray,
        grid: int,
        offset_scale: float = 1.0,
        sup: bool = False,
    ):
        self.game, self.i = game, i
        self.offset_scale = offset_scale
        self.model = game.user.model
        self.sup = sup and self.model.best_responder
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
        self.n_signals = spk.n_signals
        if len(self.keep) == 1:
            support = np.array([0.0])
        elif self.model.best_responder:
            support = self._exact_candidates()
        else:
            support = np.unique(np.concatenate([np.linspace(0.0, 1.0, grid), [self.t0]]))
        self.t = support
        self.v, self.g = self.values(support)
        self.region = self._regions(support) if self.model.best_responder else None

    # -------------------------------------------------------------- values
    def state_beliefs(self, t: np.ndarray) -> np.ndarray:
        t = np.asarray(t, dtype=np.float64)
        out: np.ndarray = (1.0 - t)[:, None] * self.post[0] + t[:, None] * self.post[1]
        return out

    def values(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """User value ``v`` [n] and expected ``utils`` ``g`` [n, J] at beliefs ``t`` (ties split evenly,
        or for ``utils[0]`` in ``sup`` mode)."""
        t = np.atleast_1d(np.asarray(t, dtype=np.float64))
        step = max(1, 2_000_000 // max(1, self.types.shape[1] * self.u.shape[0]))
        if len(t) > step:  # many user types: in blocks
            parts = [self.values(t[a : a + step]) for a in range(0, len(t), step)]
            return np.concatenate([a for a, _ in parts]), np.concatenate([b for _, b in parts])
        p = self.state_beliefs(t)
        return values_over_types(p, self.types, self.u, self.model, self.utils, favour=0 if self.sup else None)

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
                    delta = min(max(GAP * sc * mass / abs(d1 - d0), 1e-12), 1e-6 * sc, MAX_OFFSET)
                    ties.append(ts)
                    pts += [ts] if self.sup else [ts - delta, ts + delta]
        tie_arr = np.array(ties)
        cand = np.array(pts)
        cand = cand[(cand >= 0.0) & (cand <= 1.0)]
        if self.sup or len(tie_arr) == 0 or np.min(np.abs(tie_arr - self.t0)) > 1e-6:
            cand = np.append(cand, self.t0)
        return np.unique(cand)

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


def best_pair(line: BeliefLine, j: int = 0) -> tuple[float, float]:
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


def refine_pair(line: BeliefLine, tl: float, tr: float, j: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Local refinement of a smooth response's best two-point split ``(tl, tr)`` around the prior."""
    t0 = line.t0
    h = 1.0 / max(len(line.t) - 1, 1)

    def value(left: np.ndarray, right: np.ndarray) -> np.ndarray:
        _, gl = line.values(left)
        _, gr = line.values(right)
        d = right[None, :] - left[:, None]
        wr = np.where(d > 0, (t0 - left[:, None]) / np.where(d > 0, d, 1.0), 0.0)
        out: np.ndarray = (1 - wr) * gl[:, j][:, None] + wr * gr[:, j][None, :]
        return out

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
