"""Small array operations of the batched simulator, vectorised over leading axes."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from persuaders.envs.game.spec import Game
from persuaders.envs.game.users import response_at

__all__ = [
    "expected_last_round",
    "normalise",
    "normalise_positive",
    "padded_channels",
    "product_over_speakers",
    "rowsum",
    "sample_index",
    "softmax_weights",
]


#: Largest |logit| for which ``exp`` needs no per-row shift: ``exp(±300)`` neither overflows nor
#: underflows in float64, and no row of such logits sums to zero.
EXP_SAFE = 300.0


def softmax_weights(
    logits: Any, shape: tuple[int, ...], valid: np.ndarray, checked: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Validated logits ``[N, k, X, M]`` as row-softmax weights: ``e`` and its row sums ``s``.

    The schemes are ``pi = e / s[..., None]``, ``pi[x, m] = exp(z[x, m]) / sum_m' exp(z[x, m'])``
    (float64). ``valid`` ``[k, X]`` marks the rows that are real signals; rows beyond a speaker's
    signals are ignored (replaced by zeros, i.e. uniform rows, when they are not finite).
    ``checked``: the caller has already validated the logits (the shape and finite values)."""
    try:
        z = np.asarray(logits, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"logits: not a numeric array; expected shape {shape}") from None
    if z.shape != shape:
        raise ValueError(f"logits: expected shape {shape} [env, speaker, signal, message], got {z.shape}")
    top = float(np.abs(z).max())  # NaN propagates
    if not checked and not math.isfinite(top):
        if valid.all() or not np.isfinite(z[:, valid]).all():
            raise ValueError("logits: contain NaN or inf")
        z = np.where(valid[None, :, :, None], z, 0.0)
        top = float(np.abs(z).max())
    if top <= EXP_SAFE:  # exp can neither overflow nor make a row of zeros: no per-row shift
        e = np.exp(z)
    else:
        with np.errstate(under="ignore"):
            e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e, rowsum(e)


def sample_index(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """One index per row of ``probs`` [..., n] by inverse-CDF sampling (any leading shape).

    With ``u`` uniform in [0, 1) the index is the number of cumulative weights ``<= u * total``
    (capped at ``n - 1``, which only a row of zeros would exceed)."""
    cdf = np.add.accumulate(probs, axis=-1)  # the ufunc methods: no Python wrapper on tiny arrays
    u = rng.random(probs.shape[:-1])
    u *= cdf[..., -1]
    index: np.ndarray = np.add.reduce(cdf <= u[..., None], axis=-1, dtype=np.int64)
    np.minimum(index, probs.shape[-1] - 1, out=index)
    return index


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
    q = response_at(post, game.user.utility, game.user.model, game.prior)  # [N, H, X0, A]
    out: np.ndarray = np.einsum("nhyx,nhxa,kay->nk", joint, q, game.speaker_utilities, optimize=True)
    return out
