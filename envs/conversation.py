"""What a conversation's participants know: the factorised belief update and observations.

Parties are indexed ``j = 0..k``: party 0 is the user, whose round-``t`` message ``z_t`` is drawn
from her fixed channel ``C_t[x0, z]``; parties ``1..k`` are the speakers with committed schemes
``pi_i^t[x, m]``. Given the state ``y`` the parties' signals are independent and each message
depends on one signal, so the belief factorises (DESIGN.md section 1). For each party we keep

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

from dataclasses import dataclass

import numpy as np

from envs.game import Game


def heard_speakers(game: Game, i: int) -> tuple[int, ...]:
    """Indices (0-based, speakers only) of the speakers whose messages speaker ``i`` hears."""
    return tuple(range(game.n_speakers)) if game.visibility == "public" else (i,)


def signal_map(channels: np.ndarray) -> np.ndarray | None:
    """``f[..., y]``, the one signal each channel ``[..., Y, X]`` gives in state ``y``, when every
    channel is deterministic (each row puts probability 1 on one signal); None otherwise. Then
    ``sum_x O[y, x] p[x] = p[f(y)]`` exactly (the other terms are exact zeros)."""
    if not np.all((channels == 0.0) | (channels == 1.0)):
        return None
    return channels.argmax(axis=-1)


def sees_state(f: np.ndarray | None, n_signals: int) -> bool:
    """True when the signal map ``f`` (from :func:`signal_map`) is the identity on ``n_signals = |Y|``
    signals: the party sees the state, and ``p[f(y)]`` is ``p`` itself."""
    return f is not None and n_signals == f.shape[-1] and bool((f == np.arange(f.shape[-1])).all())


@dataclass(frozen=True)
class ObservationLayout:
    """Fixed-size encoding of what a speaker has heard, shared by every environment.

    ``[round one-hot (R+1) | belief over states (|Y|) | user's message one-hot per round
    (R x max Z_t) | heard speakers' message one-hot per round (R x n_heard x M)]``; slots of
    rounds not yet played are zero. The round index ``R`` marks the terminal observation. The
    speaker's own private signal is never part of it: its scheme is its commitment.
    """

    rounds: int
    n_states: int
    user_messages: int
    n_heard: int
    messages: int

    @classmethod
    def for_game(cls, game: Game) -> "ObservationLayout":
        return cls(
            rounds=game.rounds,
            n_states=game.n_states,
            user_messages=max(game.user_message_counts),
            n_heard=game.n_speakers if game.visibility == "public" else 1,
            messages=game.messages,
        )

    @property
    def belief_slice(self) -> slice:
        return slice(self.rounds + 1, self.rounds + 1 + self.n_states)

    @property
    def size(self) -> int:
        return (
            self.rounds + 1
            + self.n_states
            + self.rounds * self.user_messages
            + self.rounds * self.n_heard * self.messages
        )

    def encode(
        self,
        t: np.ndarray | int,
        belief: np.ndarray,
        user_msgs: np.ndarray,
        heard_msgs: np.ndarray,
    ) -> np.ndarray:
        """Encode a batch. ``t`` [B] round index; ``belief`` [B, Y]; ``user_msgs`` [B, R] and
        ``heard_msgs`` [B, R, n_heard] message indices, -1 where not yet said. Returns float32 [B, size]."""
        belief = np.asarray(belief, dtype=np.float64)
        b = belief.shape[0]
        t = np.broadcast_to(np.asarray(t), (b,))
        out = np.zeros((b, self.size), dtype=np.float32)
        out[np.arange(b), t] = 1.0
        out[:, self.belief_slice] = belief
        start = self.belief_slice.stop
        out[:, start : start + self.rounds * self.user_messages] = _one_hot(user_msgs, self.user_messages).reshape(b, -1)
        start += self.rounds * self.user_messages
        out[:, start:] = _one_hot(heard_msgs, self.messages).reshape(b, -1)
        return out


def _one_hot(idx: np.ndarray, n: int) -> np.ndarray:
    """One-hot along a new last axis; index -1 gives a zero row."""
    idx = np.asarray(idx)
    eye = np.vstack([np.eye(n, dtype=np.float32), np.zeros((1, n), dtype=np.float32)])
    return eye[np.where(idx < 0, n, idx)]


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
        self._sees_state = [sees_state(f, o.shape[1]) for o, f in zip(channels, self.signal_of_state)]
        # c_j(x | y) starts at the observation channel O_j[y, x] (a shared read-only view when constant).
        self.cond = [
            np.broadcast_to(o, (batch,) + o.shape) if f is not None else np.broadcast_to(o, (batch,) + o.shape).copy()
            for o, f in zip(channels, self.signal_of_state)
        ]
        self.lik = np.ones((game.n_speakers + 1, batch, y))  # party-major: each party's L_j is contiguous

    def update(self, j: int, scheme: np.ndarray, msg: np.ndarray) -> None:
        """Party ``j`` (0 = user) said ``msg`` [B] under ``scheme`` [B, X_j, M] (or [X_j, M])."""
        scheme = np.asarray(scheme, dtype=np.float64)
        if scheme.ndim == 2:
            col = scheme[:, msg].T  # [B, X_j]
        else:
            col = scheme[np.arange(self.batch), :, msg]  # [B, X_j]
        f = self.signal_of_state[j]
        if self._sees_state[j]:
            l = col  # [B, Y]: P(message | y) = pi[y, m]
        elif f is not None:
            l = np.take(col, f, axis=1)  # [B, Y]: P(message | y) = pi[f(y), m]
        else:
            joint = self.cond[j] * col[:, None, :]  # [B, Y, X_j]
            l = joint.sum(axis=-1)  # [B, Y]
            safe = np.where(l > 0, l, 1.0)
            # States ruled out (l = 0) keep their old conditional: it is never used again.
            self.cond[j] = np.where((l > 0)[..., None], joint / safe[..., None], self.cond[j])
        lik = self.lik[j] * l
        top = lik.max(axis=-1, keepdims=True)
        np.divide(lik, np.where(top > 0, top, 1.0), out=self.lik[j])

    def belief(self, parties: tuple[int, ...] | list[int]) -> np.ndarray:
        """``b(y) ∝ mu0(y) prod_{j in parties} L_j(y)`` for an observer who heard ``parties``."""
        w = self.game.prior[None, :] * np.prod(self.lik[list(parties)], axis=0)
        return w / w.sum(axis=-1, keepdims=True)

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
        return w / w.sum(axis=-1, keepdims=True)

    def joint_state_signal(self) -> np.ndarray:
        """P(y, x0 | every message) [B, Y, X0]: the state and the user's signal given the transcript."""
        w = self.public_belief()[:, :, None] * self.cond[0]
        return w / w.sum(axis=(1, 2), keepdims=True)


def sample_rows(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """One index per row of ``probs`` [B, n] (inverse-CDF sampling, vectorised)."""
    cdf = np.cumsum(probs, axis=-1)
    u = rng.random(probs.shape[0]) * cdf[:, -1]
    return np.minimum((cdf <= u[:, None]).sum(axis=-1), probs.shape[-1] - 1)
