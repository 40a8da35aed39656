"""Small array operations of the batched simulator, vectorised over leading axes."""

from __future__ import annotations

import numpy as np

from persuaders.game.spec import Game

__all__ = ["sample_index", "rowsum", "normalise", "normalise_positive", "product_over_speakers", "padded_channels"]


def sample_index(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """One index per row of ``probs`` [..., n] by inverse-CDF sampling (any leading shape).

    With ``u`` uniform in [0, 1) the index is the number of cumulative weights ``<= u * total``
    (capped at ``n - 1``, which only a row of zeros would exceed)."""
    cdf = np.cumsum(probs, axis=-1)
    u = rng.random(probs.shape[:-1]) * cdf[..., -1]
    return np.minimum((cdf <= u[..., None]).sum(axis=-1), probs.shape[-1] - 1)


def rowsum(w: np.ndarray) -> np.ndarray:
    """Sum over the last axis (einsum: much faster than ``sum(axis=-1)`` for short rows)."""
    return np.einsum("...i->...", w)


def normalise(w: np.ndarray) -> np.ndarray:
    """Divide by the sum over the last axis (rows of zeros stay zero).

    Also used to rescale non-negative likelihood weights: only their ratios matter, and after it
    the largest is at least ``1 / n``, so repeated products neither underflow nor overflow."""
    s = rowsum(w)[..., None]
    return w / np.where(s > 0, s, 1.0)


def normalise_positive(w: np.ndarray) -> np.ndarray:
    """Divide by the sum over the last axis, for rows known to have a positive sum (beliefs and
    posteriors of conversations that happened)."""
    return w / rowsum(w)[..., None]


def product_over_speakers(lik: np.ndarray) -> np.ndarray:
    """``prod_i L_i(y)`` over the speaker axis of ``[N, k, Y]`` (a view when ``k = 1``)."""
    return lik[:, 0] if lik.shape[1] == 1 else np.prod(lik, axis=1)


def padded_channels(game: Game) -> np.ndarray:
    """Speakers' observation channels ``[k, Y, X_max]``, zero columns beyond each ``X_i``."""
    x_max = max(s.n_signals for s in game.speakers)
    out = np.zeros((game.n_speakers, game.n_states, x_max))
    for i, s in enumerate(game.speakers):
        out[i, :, : s.n_signals] = s.observation
    return out
