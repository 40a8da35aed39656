"""What a speaker observes: the one observation encoding every environment and evaluator uses.

A speaker's observation is what it has heard, never its private signal (its scheme is its
commitment, so it must not depend on the signal; docs/science.md, "Observations"):

    [round one-hot (R+1) | belief over states (|Y|) | user's message one-hot per round (R x max Z_t)
     | heard speakers' message one-hot per round (R x n_heard x M)]

Slots of rounds not yet played are zero; round index ``R`` marks the terminal observation. With
public messages every speaker hears all ``k`` speakers (``n_heard = k``) and all speakers of an
episode see the same vector; in private threads each hears only itself (``n_heard = 1``) and
the user, who says the same to every thread.

Under a selection protocol (``best_ai``) every conversation is a solo *thread* of one speaker with
the user, and a speaker's committed rule maps its thread so far to a scheme: its observation is
the private-thread one (:meth:`ObservationLayout.for_thread`: ``n_heard = 1``, its own messages,
the user's messages, and the belief they imply), whatever the game's visibility.
:class:`ThreadTree` numbers the nodes of a solo thread (docs/science.md, "Protocols"), so that a rule
can be tabulated node by node. (:meth:`ObservationLayout.open_loop` is the observation of an
open-loop commitment: the round and the prior only.)

Everything is vectorised over a batch of ``B`` episodes (or conversation histories): the
PettingZoo environment, the batched environment, the exact evaluator (which calls a learned
policy at every history) and the learners all build observations through this module.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from persuaders.envs.game.spec import Game

__all__ = ["ObservationLayout", "ThreadTree"]


@dataclass(frozen=True)
class ObservationLayout:
    """Fixed-size encoding of what a speaker has heard (see the module docstring)."""

    rounds: int
    n_states: int
    user_messages: int
    n_heard: int
    messages: int
    n_speakers: int = 1
    public: bool = True

    @classmethod
    def for_game(cls, game: Game) -> ObservationLayout:
        public = game.visibility == "public"
        return cls(
            rounds=game.rounds,
            n_states=game.n_states,
            user_messages=max(game.user_message_counts),
            n_heard=game.n_speakers if public else 1,
            messages=game.messages,
            n_speakers=game.n_speakers,
            public=public,
        )

    @classmethod
    def for_thread(cls, game: Game) -> ObservationLayout:
        """The observation in a solo thread (selection protocols): what a speaker sees in a private
        thread, ``n_heard = 1`` (its own messages), whatever the game's visibility."""
        return dataclasses.replace(cls.for_game(game), n_heard=1, public=False)

    # ------------------------------------------------------------------ offsets
    @property
    def belief_slice(self) -> slice:
        return slice(self.rounds + 1, self.rounds + 1 + self.n_states)

    @property
    def user_offset(self) -> int:
        return self.rounds + 1 + self.n_states

    @property
    def heard_offset(self) -> int:
        return self.user_offset + self.rounds * self.user_messages

    @property
    def size(self) -> int:
        return self.heard_offset + self.rounds * self.n_heard * self.messages

    def heard(self, i: int) -> tuple[int, ...]:
        """Indices of the speakers whose messages speaker ``i`` hears."""
        return tuple(range(self.n_speakers)) if self.public else (i,)

    def round_of(self, obs: np.ndarray) -> np.ndarray:
        """The round index ``[B]`` of a batch of observations (capped at the last round)."""
        obs = np.asarray(obs)
        out: np.ndarray = np.minimum(obs[..., : self.rounds + 1].argmax(axis=-1), self.rounds - 1)
        return out

    # ------------------------------------------------------------------ encoding
    def encode(
        self, t: np.ndarray | int, belief: np.ndarray, user_msgs: np.ndarray, heard_msgs: np.ndarray
    ) -> np.ndarray:
        """Encode a batch. ``t`` [B] (or one int) round index; ``belief`` [B, Y]; ``user_msgs`` [B, R]
        and ``heard_msgs`` [B, R, n_heard] message indices, -1 where not yet said. float32 [B, size]."""
        b = len(belief)
        msgs = np.concatenate(
            (np.asarray(user_msgs).reshape(b, self.rounds), np.asarray(heard_msgs).reshape(b, -1)), axis=1
        )
        # One scatter for every message slot: a slot not yet said (-1) writes its 1 into the first
        # belief column instead, which the belief then overwrites.
        cols = msgs + self._message_columns
        cols[msgs < 0] = self.belief_slice.start
        out = np.zeros((b, self.size), dtype=np.float32)
        out[np.arange(b)[:, None], cols] = 1.0
        out[:, self.belief_slice] = belief
        if isinstance(t, (int, np.integer)):
            out[:, t] = 1.0
        else:
            out[np.arange(b), t] = 1.0
        return out

    @functools.cached_property
    def _message_columns(self) -> np.ndarray:
        return np.concatenate([self._user_columns, self._heard_columns])

    @functools.cached_property
    def _user_columns(self) -> np.ndarray:
        """The first column of each round's user-message one-hot."""
        return self.user_offset + np.arange(self.rounds) * self.user_messages

    @functools.cached_property
    def _heard_columns(self) -> np.ndarray:
        """The first column of each (round, heard speaker) message one-hot."""
        return self.heard_offset + np.arange(self.rounds * self.n_heard) * self.messages

    def views(self, t: int, beliefs: np.ndarray, user_msgs: np.ndarray, spk_msgs: np.ndarray) -> np.ndarray:
        """Every speaker's observation ``[B, k, size]`` at round ``t`` of ``B`` conversations.

        ``beliefs`` is ``[B, Y]`` with public messages (everyone holds the same belief) or
        ``[B, k, Y]`` (each speaker's own); ``user_msgs`` [B, R] and ``spk_msgs`` [B, R, k] are the
        messages so far (-1 where not yet said). With public messages the result is a read-only
        broadcast of one ``[B, size]`` block (stride 0 over speakers): O(B size) to build, not
        O(B k size); copy it before writing into it.
        """
        b, k = np.asarray(user_msgs).shape[0], self.n_speakers
        if self.public:
            block = self.encode(t, beliefs, user_msgs, spk_msgs)
            return block[:, None, :] if k == 1 else np.broadcast_to(block[:, None, :], (b, k, self.size))
        beliefs = np.asarray(beliefs).reshape(b * k, self.n_states)
        users = np.repeat(np.asarray(user_msgs), k, axis=0)
        own = np.asarray(spk_msgs).transpose(0, 2, 1).reshape(b * k, self.rounds, 1)
        return self.encode(t, beliefs, users, own).reshape(b, k, self.size)

    def open_loop(self, t: np.ndarray | int, prior: np.ndarray, batch: int) -> np.ndarray:
        """The observation of a committed (open-loop) rule: round ``t`` and the prior, nothing heard."""
        none_user = np.full((batch, self.rounds), -1, dtype=np.int64)
        none_heard = np.full((batch, self.rounds, self.n_heard), -1, dtype=np.int64)
        return self.encode(
            t, np.broadcast_to(np.asarray(prior, dtype=np.float64), (batch, self.n_states)), none_user, none_heard
        )


@dataclass(frozen=True)
class ThreadTree:
    """The nodes of a solo thread: where a speaker talking alone with the user is asked for a scheme.

    A node of round ``t`` (0-based) is the thread so far, ``h = (z_0, m_0, ..., z_{t-1}, m_{t-1}, z_t)``:
    the user's messages through round ``t`` and the speaker's own through round ``t - 1``. Round
    ``t`` has ``n_t = prod_{s <= t} Z_s * M^t`` nodes; they are numbered round by round (a parent
    before its children) and, within a round, in the mixed radix of ``(z_0, m_0, ..., z_t)``::

        index_t(h) = (...((z_0 M + m_0) Z_1 + z_1) M + ... + m_{t-1}) Z_t + z_t,   node = offset_t + index_t(h)

    with ``offset_t = sum_{s < t} n_s``; :attr:`size` ``= sum_t n_t`` nodes in all. This is the
    order in which the exact engine enumerates a solo conversation's prefixes (before it drops
    those of probability zero).
    """

    user_counts: tuple[int, ...]
    messages: int

    @classmethod
    def for_game(cls, game: Game) -> ThreadTree:
        return cls(tuple(int(z) for z in game.user_message_counts), int(game.messages))

    @property
    def rounds(self) -> int:
        return len(self.user_counts)

    @functools.cached_property
    def round_sizes(self) -> tuple[int, ...]:
        """``n_t = prod_{s <= t} Z_s * M^t``: the nodes of each round."""
        out, n = [], 1
        for t, z in enumerate(self.user_counts):
            n *= z * (self.messages if t > 0 else 1)
            out.append(n)
        return tuple(out)

    @functools.cached_property
    def offsets(self) -> np.ndarray:
        """``offset_t``: the number of the first node of each round ``[R + 1]`` (the last is :attr:`size`)."""
        return np.concatenate([[0], np.cumsum(self.round_sizes)]).astype(np.int64)

    @property
    def size(self) -> int:
        return int(self.offsets[-1])

    def child(self, t: int, index: np.ndarray, m: np.ndarray, z: np.ndarray | int) -> np.ndarray:
        """``index_{t+1}`` of the node reached from round-``t`` node ``index`` when the speaker says
        ``m`` and the user then says ``z`` (arrays of any common shape)."""
        out: np.ndarray = (np.asarray(index) * self.messages + m) * self.user_counts[t + 1] + z
        return out

    def nodes(self, t: int, user_msgs: np.ndarray, own_msgs: np.ndarray) -> np.ndarray:
        """The node numbers ``[B]`` of round-``t`` threads: ``user_msgs`` ``[B, >= t + 1]`` and the
        speaker's ``own_msgs`` ``[B, >= t]`` (message indices)."""
        user_msgs, own_msgs = np.asarray(user_msgs), np.asarray(own_msgs)
        index = user_msgs[:, 0].astype(np.int64)
        for s in range(t):
            index = self.child(s, index, own_msgs[:, s], user_msgs[:, s + 1])
        out: np.ndarray = self.offsets[t] + index
        return out

    @functools.cached_property
    def table(self) -> dict[str, np.ndarray]:
        """Every node's ``round`` ``[N]``, ``user`` messages and ``own`` messages ``[N, R]`` (-1 where
        not yet said), ``parent`` node and the own message ``said`` on the way from it (-1 in round 0)."""
        r, n = self.rounds, self.size
        blank = np.full((n, r), -1, np.int64)
        out = {
            "round": np.zeros(n, np.int64),
            "user": blank.copy(),
            "own": blank.copy(),
            "parent": np.full(n, -1, np.int64),
            "said": np.full(n, -1, np.int64),
        }
        for t in range(r):
            nodes = np.arange(self.offsets[t], self.offsets[t + 1])
            radix = [self.user_counts[0]] + [d for z in self.user_counts[1 : t + 1] for d in (self.messages, z)]
            digits = np.indices(radix)
            digits = digits.reshape(len(digits), -1)  # [(z_0, m_0, z_1, ..., z_t), n_t], mixed radix
            out["round"][nodes] = t
            out["user"][nodes, : t + 1] = digits[0::2].T
            out["own"][nodes, :t] = digits[1::2].T
            if t > 0:
                out["parent"][nodes] = self.nodes(t - 1, out["user"][nodes], out["own"][nodes])
                out["said"][nodes] = digits[-2]
        for a in out.values():
            a.flags.writeable = False
        return out
