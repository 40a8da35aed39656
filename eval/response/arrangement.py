"""Candidate last-round posteriors for a best-responding user: vertices of an indifference arrangement.

At a last-round information set ``I`` a speaker with signals ``X`` splits its mass into vectors
``a = w q`` with ``q`` in the simplex over ``X``. A user of type ``tau`` then holds the belief
``b_tau(y) ∝ sum_x q(x) C_I[tau, x, y]`` and best-responds. Her best response is constant on the
cells of the arrangement of the *indifference hyperplanes*

    { q : sum_x q(x) sum_y C_I[tau, x, y] (u[a, y] - u[b, y]) = 0 },   one per type and pair of actions,

so the speaker's value (ties broken in its favour) is the maximum of linear functions on closed
cells, and the user's value is linear on each cell. Splitting a point of a cell into the cell's
vertices keeps the mean and both linear values and can only raise the favourable value, so the
concave closure of the speaker's value, with or without a floor on the user's value, is attained
on the vertices of the arrangement inside the simplex (docs/science.md, "Candidate
posteriors"). :func:`arrangement_vertices` enumerates them: every point where ``|X| - 1``
independent hyperplanes or simplex facets meet inside the simplex. In one dimension these are
the candidate beliefs of the belief line (docs/science.md, "Best-response dynamics"): 0, 1 and every indifference
belief.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from persuaders.envs.game.users import favourable_response

__all__ = [
    "MAX_VERTEX_SYSTEMS",
    "ArrangementTooLarge",
    "arrangement_vertices",
    "favourable_values",
    "indifference_normals",
]

#: Largest number of linear systems (choices of |X| - 1 hyperplanes and facets) solved per information set.
MAX_VERTEX_SYSTEMS = 3_000_000
#: Systems solved at once (memory bound).
VERTEX_CHUNK = 200_000


class ArrangementTooLarge(ValueError):
    """An information set whose arrangement has too many candidate vertices to enumerate."""


def indifference_normals(c: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Normals ``[H, X]`` of the indifference hyperplanes that cut the simplex's interior.

    ``c`` is ``C_I[tau, x, y]``; the normal of (type, a, b) is ``sum_y c[tau, x, y] (u[a, y] - u[b, y])``.
    Hyperplanes meeting the simplex only on a face (all coefficients of one sign) add no vertex
    beyond the simplex's own and are dropped; duplicates (up to scale) are merged.
    """
    n_a = u.shape[0]
    pairs = [(a, b) for a in range(n_a) for b in range(a + 1, n_a)]
    if not pairs or len(c) == 0:
        return np.zeros((0, c.shape[1] if c.ndim == 3 else 1))
    diff = np.stack([u[a] - u[b] for a, b in pairs])  # [P, Y]
    h: np.ndarray = np.einsum("txy,py->tpx", c, diff).reshape(-1, c.shape[1])
    scale = np.abs(h).max(axis=1)
    top = scale.max() if len(scale) else 0.0
    h = h[scale > 1e-13 * max(top, 1e-300)]
    scale = np.abs(h).max(axis=1, keepdims=True)
    h = h / scale
    tol = 1e-12
    cuts = (h > tol).any(axis=1) & (h < -tol).any(axis=1)
    h = h[cuts]
    if len(h) == 0:
        return h
    first = np.argmax(np.abs(h) > tol, axis=1)
    h = h * np.sign(h[np.arange(len(h)), first])[:, None]
    return np.unique(np.round(h, 12), axis=0)


def arrangement_vertices(normals: np.ndarray, n: int, limit: int = MAX_VERTEX_SYSTEMS) -> np.ndarray:
    """Every vertex ``[V, n]`` of the arrangement of hyperplanes ``normals . q = 0`` in the simplex
    of ``n`` coordinates.

    A vertex solves ``|X| - 1`` independent equations chosen among the hyperplanes and the facets
    ``q(x) = 0``, with ``sum q = 1``, and lies in the simplex. Raises :class:`ArrangementTooLarge`
    (naming the count and :data:`MAX_VERTEX_SYSTEMS`) when there are too many choices.
    """
    if n == 1:
        return np.ones((1, 1))
    rows = np.vstack([normals.reshape(-1, n), np.eye(n)])
    total = math.comb(len(rows), n - 1)
    if total > limit:
        raise ArrangementTooLarge(
            f"{len(normals)} indifference hyperplanes over {n} signals give {total:,} candidate vertices to solve for "
            f"(limit {limit:,}); use fewer actions, user types (signals, speakers, messages) or rounds"
        )
    found = []
    combos = itertools.combinations(range(len(rows)), n - 1)
    while True:
        chunk = np.array(list(itertools.islice(combos, VERTEX_CHUNK)), dtype=np.int64)
        if len(chunk) == 0:
            break
        a = np.concatenate([rows[chunk], np.ones((len(chunk), 1, n))], axis=1)  # [N, n, n]
        det = np.linalg.det(a)
        ok = np.abs(det) > 1e-12
        if not ok.any():
            continue
        rhs = np.zeros((int(ok.sum()), n, 1))
        rhs[:, -1, 0] = 1.0
        q = np.linalg.solve(a[ok], rhs)[..., 0]
        q = q[(q >= -1e-10).all(axis=1)]
        q = np.clip(q, 0.0, None)
        q = q / q.sum(axis=1, keepdims=True)
        found.append(q)
    q = np.vstack(found) if found else np.eye(n)
    return np.unique(np.round(q, 12), axis=0)


def favourable_values(
    q: np.ndarray, c: np.ndarray, u: np.ndarray, ui: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The speaker's and the user's value of mass vectors ``q`` ``[V, X]`` at a last-round information set.

    With ``b_tau = q . C_I[tau]`` her type's weight ``|b_tau|`` and posterior ``b_tau / |b_tau|``,
    she best-responds with ties broken for the speaker (utility ``ui``):
    ``G(q) = sum_tau |b_tau| sum_a r_tau(a) E_post U_i(a)`` and likewise her value with ``u``.
    Both are positively homogeneous of degree 1 in ``q``. Returns ``(G_i [V], G_user [V],
    recommended action [V, T])``.
    """
    b = np.einsum("vx,txy->vty", q, c)
    mass = b.sum(axis=2)
    post = b / np.where(mass > 0, mass, 1.0)[..., None]
    eu = post @ u.T
    eui = post @ ui.T
    resp = favourable_response(eu, eui)
    gi = (mass * (resp * eui).sum(axis=2)).sum(axis=1)
    gu = (mass * (resp * eu).sum(axis=2)).sum(axis=1)
    return gi, gu, resp.argmax(axis=2)
