"""What a conversation's participants know: the factorised belief update.

Parties are indexed ``j = 0..k``: party 0 is the user, whose round-``t`` message ``z_t`` is drawn
from her fixed channel ``C_t[x0, z]``; parties ``1..k`` are the speakers with committed schemes
``pi_i^t[x, m]``. Given the state ``y`` the parties' signals are independent and each message
depends on one signal, so the belief factorises (docs/science.md, "The exact belief update"). For each party we keep

    c_j(x | y)  = P(party j's signal is x | y, party j's messages so far)
    L_j(y)      = P(party j's messages so far | y)        (rescaled to max 1: only ratios matter)

and on a message ``m`` from scheme ``pi``:

    l(y)       = sum_x c_j(x | y) pi[x, m]
    c_j(x | y) <- c_j(x | y) pi[x, m] / l(y),     L_j(y) <- L_j(y) l(y).

An observer who has heard the parties ``S`` holds the belief ``b(y) ∝ mu0(y) prod_{j in S} L_j(y)``:
with public messages every speaker hears everyone; in private threads speaker i hears the user
(who says the same to every thread) and itself. The user hears everyone and knows ``x0``, so her
final posterior is ``post(y) ∝ mu0(y) O_0[y, x0] prod_{i>=1} L_i(y)``.

All functions work on a batch of ``B`` episodes at once (the PettingZoo environment uses B = 1);
the cost per round is O(B k |Y| |X| |M|).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from persuaders.envs.game.spec import Game


def heard_speakers(game: Game, i: int) -> tuple[int, ...]:
    """Indices (0-based, speakers only) of the speakers whose messages speaker ``i`` hears."""
    return tuple(range(game.n_speakers)) if game.visibility == "public" else (i,)


def signal_map(channels: np.ndarray) -> np.ndarray | None:
    """``f[..., y]``, the one signal each channel ``[..., Y, X]`` gives in state ``y``, when every
    channel is deterministic (each row puts probability 1 on one signal); None otherwise. Then
    ``sum_x O[y, x] p[x] = p[f(y)]`` exactly (the other terms are exact zeros)."""
    if not np.all((channels == 0.0) | (channels == 1.0)):
        return None
    out: np.ndarray | None = channels.argmax(axis=-1)
    return out


def sees_state(f: np.ndarray | None, n_signals: int) -> bool:
    """True when the signal map ``f`` (from :func:`signal_map`) is the identity on ``n_signals = |Y|``
    signals: the party sees the state, and ``p[f(y)]`` is ``p`` itself."""
    return f is not None and n_signals == f.shape[-1] and bool((f == np.arange(f.shape[-1])).all())


class BeliefState:
    """The factorised belief of ``B`` parallel conversations of one game (see module docstring)."""

    def __init__(self, game: Game, batch: int):
        self.game = game
        self.batch = batch
        y = game.n_states
        channels = [game.user.observation] + [s.observation for s in game.speakers]
        # A deterministic channel (every state gives one signal, x = f(y)) never changes its
        # conditional: c_j(x | y) = 1{x = f(y)} and l(y) = pi[f(y), m], an O(|Y|) update.
        self.signal_of_state = [signal_map(o) for o in channels]
        # ... and when it is the identity (the party sees the state) l(y) = pi[y, m] needs no gather.
        self._sees_state = [sees_state(f, o.shape[1]) for o, f in zip(channels, self.signal_of_state, strict=True)]
        # c_j(x | y) starts at the observation channel O_j[y, x] (a shared read-only view when constant).
        self.cond = [
            np.broadcast_to(o, (batch, *o.shape)) if f is not None else np.broadcast_to(o, (batch, *o.shape)).copy()
            for o, f in zip(channels, self.signal_of_state, strict=True)
        ]
        self.lik = np.ones((game.n_speakers + 1, batch, y))  # party-major: each party's L_j is contiguous

    def update(self, j: int, scheme: np.ndarray, msg: np.ndarray) -> np.ndarray:
        """Party ``j`` (0 = user) said ``msg`` [B] under ``scheme`` [B, X_j, M] (or [X_j, M]).

        Returns ``l(y)`` [B, Y], the message's probability in each state given party ``j``'s
        earlier messages (before any rescaling): the product of these over a party's rounds is its
        likelihood ``L_j(y)`` exactly (docs/science.md, "The exact belief update")."""
        scheme = np.asarray(scheme, dtype=np.float64)
        col = scheme[:, msg].T if scheme.ndim == 2 else scheme[np.arange(self.batch), :, msg]  # [B, X_j]
        f = self.signal_of_state[j]
        if self._sees_state[j]:
            p_msg = col  # [B, Y]: P(message | y) = pi[y, m]
        elif f is not None:
            p_msg = np.take(col, f, axis=1)  # [B, Y]: P(message | y) = pi[f(y), m]
        else:
            joint = self.cond[j] * col[:, None, :]  # [B, Y, X_j]
            p_msg = joint.sum(axis=-1)  # [B, Y]
            safe = np.where(p_msg > 0, p_msg, 1.0)
            # States ruled out (P(message | y) = 0) keep their old conditional: it is never used again.
            self.cond[j] = np.where((p_msg > 0)[..., None], joint / safe[..., None], self.cond[j])
        lik = self.lik[j] * p_msg
        top = lik.max(axis=-1, keepdims=True)
        np.divide(lik, np.where(top > 0, top, 1.0), out=self.lik[j])
        out: np.ndarray = p_msg
        return out

    def belief(self, parties: Sequence[int]) -> np.ndarray:
        """``b(y) ∝ mu0(y) prod_{j in parties} L_j(y)`` for an observer who heard ``parties``."""
        w = self.game.prior[None, :] * np.prod(self.lik[list(parties)], axis=0)
        out: np.ndarray = w / w.sum(axis=-1, keepdims=True)
        return out

    def speaker_belief(self, i: int) -> np.ndarray:
        """What speaker ``i`` (0-based) believes: the user's messages and the threads it hears."""
        return self.belief([0] + [1 + h for h in heard_speakers(self.game, i)])

    def public_belief(self) -> np.ndarray:
        """The belief given every message, the user's included: what an outside observer holds."""
        return self.belief(range(self.game.n_speakers + 1))

    def user_posterior(self, x0: np.ndarray) -> np.ndarray:
        """The user's posterior given her signal ``x0`` [B] and every speaker's messages."""
        w = self.game.prior[None, :] * np.prod(self.lik[1:], axis=0)
        w = w * self.game.user.observation[:, x0].T
        out: np.ndarray = w / w.sum(axis=-1, keepdims=True)
        return out

    def joint_state_signal(self) -> np.ndarray:
        """P(y, x0 | every message) [B, Y, X0]: the state and the user's signal given the transcript."""
        w = self.public_belief()[:, :, None] * self.cond[0]
        out: np.ndarray = w / w.sum(axis=(1, 2), keepdims=True)
        return out


def sample_rows(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """One index per row of ``probs`` [B, n] (inverse-CDF sampling, vectorised)."""
    cdf = np.cumsum(probs, axis=-1)
    u = rng.random(probs.shape[0]) * cdf[:, -1]
    out: np.ndarray = np.minimum((cdf <= u[:, None]).sum(axis=-1), probs.shape[-1] - 1)
    return out
