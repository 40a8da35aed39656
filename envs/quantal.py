"""The user's quantal (logit) response and her value at a belief.

At a posterior ``p`` over states her expected utility of action ``a`` is
``EU(a) = sum_y p(y) u[a, y]`` and she plays

    P(a) = softmax(lam * EU)(a) = exp(lam * (EU(a) - max EU)) / sum_b exp(lam * (EU(b) - max EU)),

computed with the max subtracted so that any ``lam`` up to 1e9 is stable; ``lam = inf`` is the
exact best response with ties (within ``TIE_TOL``) split evenly. Her value at ``p`` is
``v_lam(p) = sum_a P(a) EU(a)``. Everything is vectorised over leading batch axes.
"""

from __future__ import annotations

import math

import numpy as np

#: Expected utilities closer than this count as a tie for a best-responding user.
TIE_TOL = 1e-9


def quantal_response(eu: np.ndarray, lam: float) -> np.ndarray:
    """Action probabilities ``softmax(lam * eu)`` over the last axis (argmax, ties split, if inf)."""
    eu = np.asarray(eu, dtype=np.float64)
    if not lam > 0:
        raise ValueError(f"rationality lam must be > 0, got {lam}")
    top = eu.max(axis=-1, keepdims=True)
    if math.isinf(lam):
        best = (eu >= top - TIE_TOL).astype(np.float64)
        return best / best.sum(axis=-1, keepdims=True)
    z = np.exp(lam * (eu - top))
    return z / z.sum(axis=-1, keepdims=True)


def softmax_rows(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax over the last axis (a scheme from its logits), stable for any finite logits."""
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max(axis=-1, keepdims=True)
    with np.errstate(under="ignore", over="ignore"):
        e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def expected_utilities(posterior: np.ndarray, utility: np.ndarray) -> np.ndarray:
    """``EU[..., a] = sum_y posterior[..., y] * utility[a, y]``."""
    return np.asarray(posterior, dtype=np.float64) @ np.asarray(utility, dtype=np.float64).T


def response_at(posterior: np.ndarray, utility: np.ndarray, lam: float) -> np.ndarray:
    """The user's action probabilities at each posterior (batch over leading axes)."""
    return quantal_response(expected_utilities(posterior, utility), lam)


def user_value(posterior: np.ndarray, utility: np.ndarray, lam: float) -> np.ndarray:
    """``v_lam(p) = sum_a P(a) EU_p(a)``: the user's expected utility at belief ``p``."""
    eu = expected_utilities(posterior, utility)
    return (quantal_response(eu, lam) * eu).sum(axis=-1)


def sender_value(posterior: np.ndarray, user_utility: np.ndarray, utility: np.ndarray, lam: float) -> np.ndarray:
    """``sum_a P(a) E_p U(a)``: a speaker's expected utility when the user acts at belief ``p``."""
    q = response_at(posterior, user_utility, lam)
    return (q * expected_utilities(posterior, utility)).sum(axis=-1)
