"""Real users' ratings as utility functions: a ratings matrix, dense-overlap selection, imputation, [0, 1].

The convex-hull experiment on human data (docs/science.md, "Experiments") needs every utility
function on one fixed set of actions. A :class:`RatingMatrix` holds ``values[u, j]``, user ``u``'s
rating of item ``j`` on the rating scale ``[lo, hi]`` (``NaN`` where she gave none); an item is an
action of a one-state game, so a utility function is a vector over items.

* :func:`greedy_items` picks items with dense overlap: one at a time, the item rated by the most
  users who rated every item picked so far.
* :func:`select` keeps those items and the users who rated at least a given fraction of them.
* :func:`baseline_fill` imputes a missing rating by the baseline predictor "the user's mean plus
  the item's offset", the offsets computed from a given set of users only (so that a persona's
  own ratings never shape the AI profiles' imputed values).
* :func:`normalise` maps the rating scale's range onto [0, 1], as the theory assumes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["RatingMatrix", "from_long", "greedy_items", "select", "complete_rows", "baseline_fill", "normalise"]


@dataclass(frozen=True)
class RatingMatrix:
    """``values[u, j]``: user ``u``'s rating of item ``j`` on the scale ``[scale[0], scale[1]]``,
    ``NaN`` if missing; ``user_ids[u]`` and ``item_labels[j]`` name them."""

    values: np.ndarray
    user_ids: tuple[str, ...]
    item_labels: tuple[str, ...]
    scale: tuple[float, float]
    source: str

    @property
    def n_users(self) -> int:
        return int(self.values.shape[0])

    @property
    def n_items(self) -> int:
        return int(self.values.shape[1])

    @property
    def observed(self) -> np.ndarray:
        """``[users, items]`` bool: where a rating was given."""
        out: np.ndarray = ~np.isnan(self.values)
        return out


def _check_scale(values: np.ndarray, scale: tuple[float, float], source: str) -> None:
    lo, hi = scale
    if not lo < hi:
        raise ValueError(f"{source}: the rating scale needs lo < hi, got {scale}")
    v = values[~np.isnan(values)]
    if v.size and (v.min() < lo or v.max() > hi):
        raise ValueError(f"{source}: ratings from {v.min():g} to {v.max():g} fall outside the scale [{lo:g}, {hi:g}]")


def from_long(
    users: Sequence[Any] | np.ndarray,
    items: Sequence[Any] | np.ndarray,
    ratings: Sequence[float] | np.ndarray,
    scale: tuple[float, float],
    source: str,
    labels: dict[str, Any] | None = None,
) -> RatingMatrix:
    """A :class:`RatingMatrix` from one row per rating (user, item, rating), users and items in
    order of their ids sorted as text; ``labels`` maps an item id to its label. A repeated
    (user, item) pair is an error."""
    users = np.asarray([str(u) for u in users])
    items = np.asarray([str(i) for i in items])
    ratings = np.asarray(ratings, dtype=float)
    if not (users.shape == items.shape == ratings.shape):
        raise ValueError(f"{source}: users, items and ratings differ in length")
    uid, ui = np.unique(users, return_inverse=True)
    iid, ii = np.unique(items, return_inverse=True)
    flat = ui * len(iid) + ii
    if np.unique(flat).size != flat.size:
        _, first, counts = np.unique(flat, return_index=True, return_counts=True)
        k = first[np.argmax(counts > 1)]
        raise ValueError(f"{source}: user {users[k]} rated item {items[k]} more than once")
    values = np.full((len(uid), len(iid)), np.nan)
    values[ui, ii] = ratings
    _check_scale(values, scale, source)
    lab = {} if labels is None else {str(k): str(v) for k, v in labels.items()}
    return RatingMatrix(
        values, tuple(uid), tuple(lab.get(i, i) for i in iid), (float(scale[0]), float(scale[1])), source
    )


def greedy_items(observed: np.ndarray, k: int) -> np.ndarray:
    """Indices of ``k`` items with dense overlap, in the order picked: each step takes the item
    rated by the most users who rated every item picked so far (ties: the most ratings overall,
    then the lowest index)."""
    observed = np.asarray(observed, dtype=bool)
    k = min(int(k), observed.shape[1])
    total = observed.sum(axis=0)
    users = np.ones(observed.shape[0], dtype=bool)
    picked: list[int] = []
    for _ in range(k):
        score = observed[users].sum(axis=0).astype(float)
        score[picked] = -1.0
        best = np.flatnonzero(score == score.max())
        j = int(best[np.argmax(total[best])])
        picked.append(j)
        users &= observed[:, j]
    return np.asarray(picked, dtype=int)


def select(matrix: RatingMatrix, n_items: int | None, min_coverage: float) -> RatingMatrix:
    """The ``n_items`` items of :func:`greedy_items` (every item, in table order, when ``n_items``
    is None or at least the number of items) and the users who rated at least ``min_coverage`` of
    them (a fraction in (0, 1]; 1 keeps only complete rows)."""
    if not 0.0 < min_coverage <= 1.0:
        raise ValueError(f"the minimum coverage must be in (0, 1], got {min_coverage}")
    if n_items is not None and n_items < 1:
        raise ValueError(f"the number of items must be >= 1, got {n_items}")
    if n_items is None or n_items >= matrix.n_items:
        cols = np.arange(matrix.n_items)
    else:
        cols = greedy_items(matrix.observed, n_items)
    sub = matrix.values[:, cols]
    coverage = (~np.isnan(sub)).mean(axis=1)
    rows = np.flatnonzero(coverage >= min_coverage - 1e-12)
    return RatingMatrix(
        values=sub[rows].copy(),
        user_ids=tuple(matrix.user_ids[r] for r in rows),
        item_labels=tuple(matrix.item_labels[c] for c in cols),
        scale=matrix.scale,
        source=matrix.source,
    )


def complete_rows(matrix: RatingMatrix) -> np.ndarray:
    """Indices of the users who rated every item."""
    return np.flatnonzero(matrix.observed.all(axis=1))


def baseline_fill(values: np.ndarray, scale: tuple[float, float], offset_rows: np.ndarray | None = None) -> np.ndarray:
    """``values`` with every missing rating replaced by ``clip(m_u + b_j, lo, hi)``.

    ``m_u`` is user ``u``'s mean observed rating (over the items of ``values``) and ``b_j`` item
    ``j``'s offset: the mean of ``r_vj - m_v`` over the users ``v`` of ``offset_rows`` (default
    all) who rated ``j``. Every row needs at least one rating, and every item one rating among
    ``offset_rows``."""
    values = np.asarray(values, dtype=float)
    miss = np.isnan(values)
    if not miss.any():
        return values.copy()
    counts = (~miss).sum(axis=1)
    if (counts == 0).any():
        raise ValueError(f"user row {int(np.argmax(counts == 0))} has no rating to impute from")
    means = np.nansum(values, axis=1) / counts
    rows = np.arange(values.shape[0]) if offset_rows is None else np.asarray(offset_rows, dtype=int)
    dev = values[rows] - means[rows, None]
    rated = (~np.isnan(dev)).sum(axis=0)
    if (rated == 0).any():
        raise ValueError(
            f"item column {int(np.argmax(rated == 0))} has no rating among the users its offset is computed from"
        )
    offsets = np.nansum(dev, axis=0) / rated
    guess = np.clip(means[:, None] + offsets[None, :], scale[0], scale[1])
    return np.where(miss, guess, values)


def normalise(values: np.ndarray, scale: tuple[float, float]) -> np.ndarray:
    """``(values - lo) / (hi - lo)``: the rating scale's lowest value to 0, its highest to 1."""
    lo, hi = scale
    return (np.asarray(values, dtype=float) - lo) / (hi - lo)
