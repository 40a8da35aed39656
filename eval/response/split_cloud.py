"""All two-point splits of a speaker's prior on its belief line, and the best split with a floor on the user's value.

Under best-AI selection a speaker's splits (on a :class:`~persuaders.eval.response.belief_line.BeliefLine`)
map to points ``(V, U_i)``, the user's and its own value; every split over the line's belief set
lies in the convex hull of the two-point splits (:class:`SplitCloud`), so the best split for a
speaker with a floor (or ceiling) on the user's value is read off their upper hull
(docs/science.md, "Best-response dynamics"). The cloud is built once per game and speaker.
"""

from __future__ import annotations

import numpy as np

from persuaders.eval.response.belief_line import BeliefLine
from persuaders.eval.theory.geometry import upper_hull

__all__ = ["Pairs", "Front", "SplitCloud"]

#: A split as positions in a cloud with their weights.
Pairs = list[tuple[int, float]]
#: A cloud's front for one speaker: the top position and the decreasing, increasing, next and
#: previous record indices.
Front = tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def _dedupe_x(x: np.ndarray, y: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """Among positions ``pos`` (sorted by ``x``) with equal ``x`` keep the one with the largest ``y``."""
    if len(pos) < 2:
        return pos
    order = np.lexsort((y[pos], x[pos]))  # by x, then y ascending
    pos = pos[order]
    last = np.concatenate([x[pos][1:] != x[pos][:-1], [True]])
    out: np.ndarray = pos[last]
    return out


class SplitCloud:
    """All two-point splits of the prior over a line's belief set, sorted by the user's value.

    ``V[k]`` is the user's value of split ``k`` and ``G[k, j]`` speaker ``j``'s; every split over
    the belief set maps into the convex hull of these points, so the best split for ``j`` with a
    floor (or ceiling) on ``V`` is read off their upper hull (:meth:`at_least`, :meth:`at_most`).
    """

    def __init__(
        self, line: BeliefLine, t: np.ndarray | None = None, v: np.ndarray | None = None, g: np.ndarray | None = None
    ):
        if t is None:
            t, v, g = line.t, line.v, line.g
        assert v is not None and g is not None, "SplitCloud: t, v and g are given together"
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
        self._front: dict[int, Front] = {}

    def front(self, j: int) -> Front:
        if j in self._front:
            return self._front[j]
        V, G = self.V, self.G[:, j]
        top = G.max()
        imax = int(np.flatnonzero(top - 1e-13 <= G)[-1])
        n = len(G)
        # decreasing part: records from the right
        after = np.concatenate([np.maximum.accumulate(G[::-1])[::-1][1:], [-np.inf]])
        dec = np.flatnonzero((after + 1e-15 < G) & (np.arange(n) >= imax))
        dec = np.union1d(dec, [imax])
        dec = _dedupe_x(V, G, dec)
        dec = dec[upper_hull(V[dec], G[dec])]
        # increasing part: records from the left
        before = np.concatenate([[-np.inf], np.maximum.accumulate(G)[:-1]])
        inc = np.flatnonzero((before + 1e-15 < G) & (np.arange(n) <= imax))
        inc = np.union1d(inc, [imax])
        inc = _dedupe_x(V, G, inc)
        inc = inc[upper_hull(V[inc], G[inc])]
        # pure pairs: best single pair with V >= c (position of the max of G over [k:]), V <= c
        rmax = np.maximum.accumulate(G[::-1])[::-1]
        is_r = rmax <= G
        nxt = np.where(is_r, np.arange(n), n)
        nxt = np.minimum.accumulate(nxt[::-1])[::-1]
        fmax = np.maximum.accumulate(G)
        is_f = fmax <= G
        prv = np.where(is_f, np.arange(n), -1)
        prv = np.maximum.accumulate(prv)
        self._front[j] = (imax, dec, inc, nxt, prv)
        return self._front[j]

    def pairs_to_split(self, pos: list[tuple[int, float]]) -> tuple[np.ndarray, np.ndarray]:
        t = self.t
        ts, ws = [], []
        for k, a in pos:
            ts += [t[self.li[k]], t[self.ri[k]]]
            ws += [a * (1 - self.wr[k]), a * self.wr[k]]
        return np.array(ts), np.array(ws)

    def at_least(self, j: int, c: float) -> tuple[Pairs | None, Pairs | None]:
        """Best split for ``j`` with user value ``>= c`` (hull mixture), or None; and the pure fallback."""
        imax, dec, _inc, nxt, _prv = self.front(j)
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

    def at_most(self, j: int, c: float) -> tuple[Pairs | None, Pairs | None]:
        """Best split for ``j`` with user value ``<= c``, or None; and the pure fallback."""
        imax, _dec, inc, _nxt, prv = self.front(j)
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

    def best(self, j: int) -> tuple[Pairs, Pairs]:
        imax = self.front(j)[0]
        return [(imax, 1.0)], [(imax, 1.0)]
