"""Small array operations of the batched simulator, vectorised over leading axes."""

from __future__ import annotations

import numpy as np

from persuaders.game.spec import Game

__all__ = [
    "sample_index",
    "rowsum",
    "normalise",
    "normalise_positive",
    "product_over_speakers",
    "padded_channels",
    "expected_last_round",
]


def sample_index(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """One index per row of ``probs`` [..., n] by inverse-CDF sampling (any leading shape).

    With ``u`` uniform in [0, 1) the index is the number of cumulative weights ``<= u * total``
    (capped at ``n - 1``, which only a row of zeros would exceed)."""
    cdf = np.cumsum(probs, axis=-1)
    u = rng.random(probs.shape[:-1]) * cdf[..., -1]
    out: np.ndarray = np.minimum((cdf <= u[..., None]).sum(axis=-1), probs.shape[-1] - 1)
    return out


def rowsum(w: np.ndarray) -> np.ndarray:
    """Sum over the last axis (einsum: much faster than ``sum(axis=-1)`` for short rows)."""
    out: np.ndarray = np.einsum("...i->...", w)
    return out


def normalise(w: np.ndarray) -> np.ndarray:
    """Divide by the sum over the last axis (rows of zeros stay zero).

    Also used to rescale non-negative likelihood weights: only their ratios matter, and after it
    the largest is at least ``1 / n``, so repeated products neither underflow nor overflow."""
    s = rowsum(w)[..., None]
    return w / np.where(s > 0, s, 1.0)


def normalise_positive(w: np.ndarray) -> np.ndarray:
    """Divide by the sum over the last axis, for rows known to have a positive sum (beliefs and
    posteriors of conversations that happened)."""
    out: np.ndarray = w / rowsum(w)[..., None]
    return out


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


def expected_last_round(game: Game, channels: np.ndarray, p: np.ndarray, q0: np.ndarray, pi: np.ndarray) -> np.ndarray:
    """Every speaker's expected payoff ``[N, k]`` given a transcript and the last-round schemes.

    ``channels`` ``[k, Y, X]`` (padded), ``p`` ``[N, k, X]`` each speaker's signal weights
    ``prod_t pi_i^t[x, m_i^t]`` so far, ``q0`` ``[N, X0]`` the user's ``prod_t C_t[x0, z_t]``,
    ``pi`` ``[N, k, X, M]`` the last-round schemes. A sum over the ``M^k`` last message profiles:

        P(y, x0, m | so far) sum_a P(a | x0, so far, m) U_i[a, y],
        P(y, x0, m | so far) ∝ mu0(y) O_0[y, x0] Q_0(x0) prod_i sum_x O_i[y, x] P_i(x) pi_i[x, m_i],

    and the user's posterior at ``(m, x0)`` is ``∝ mu0(y) O_0[y, x0] prod_i L_i(y | m_i)`` (what she
    said herself depends on ``x0`` only, which she knows).
    """
    n, k = p.shape[:2]
    lik = np.einsum("kyx,nkx,nkxm->nkmy", channels, p, pi, optimize=True)  # L_i(y | m_i): [N, k, M, Y]
    prof = lik[:, 0]  # [N, M, Y] -> [N, M^k, Y] by successive outer products (speaker order)
    for i in range(1, k):
        prof = (prof[:, :, None, :] * lik[:, i][:, None, :, :]).reshape(n, -1, game.n_states)
    wx = (game.prior * prof)[..., None] * game.user.observation  # [N, H, Y, X0]: mu0 O_0 prod_i L_i
    joint = wx * q0[:, None, None, :]  # P(y, x0, m | so far), unnormalised
    joint /= joint.sum(axis=(1, 2, 3), keepdims=True)
    post = normalise(np.swapaxes(wx, 2, 3))  # [N, H, X0, Y]
    q = game.user.model.respond(post @ game.user.utility.T)  # [N, H, X0, A]
    out: np.ndarray = np.einsum("nhyx,nhxa,kay->nk", joint, q, game.speaker_utilities, optimize=True)
    return out
