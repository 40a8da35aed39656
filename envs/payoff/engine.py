"""The exact payoff engine: every conversation history, enumerated once, in numpy or in torch.

For the speakers ``talking`` (all of them in a joint conversation, one in a solo conversation),
a history ``h`` is the user's and the talking speakers' messages, round by round. Given the state
``y`` the parties' signals are independent and each message depends on one signal, so

    P(y, x0, h) = mu0(y) O_0[y, x0] prod_t C_t[x0, z_t]  *  prod_i sum_x O_i[y, x] prod_t pi_i^t[x, m_i^t(h)]

(docs/science.md, "Exact payoffs"). At each history the user's posterior is
``P(y | x0, h)``; she acts by her user model; the outcome distribution is

    P(a, y) = sum_{h, x0} P(y, x0, h) P(a | x0, h),

from which every party's expected utility follows: ``E[u] = sum_{a,y} P(a, y) u[a, y]``.

A speaker's round-``t`` scheme may depend on the history so far: a *prefix* is everything said
before the speakers' round-``t`` messages (earlier rounds and the user's round-``t`` message).
Schemes are therefore given per prefix, ``[B, P_t, X_i, M]`` with ``P_t`` the number of prefixes
(or 1 for a scheme that does not depend on it), for ``B`` profiles at once. A function of the
observation is called at every prefix with :mod:`persuaders.envs.game.observations` (exactly what an
environment would show the speaker): what it has heard in a joint conversation; in a solo
conversation of a selection protocol, its *thread* (``thread=True``: the private-thread
observation, the user's and its own messages and the belief they imply; docs/science.md, "Protocols");
or, for an open-loop commitment (``open_loop=True``), the round and the prior only. While a source
is called, :meth:`ExactEngine.thread_nodes` numbers the prefixes as the nodes of
:class:`~persuaders.envs.game.observations.ThreadTree` (so that a rule tabulated node by node can be
read at them).

The same algorithm runs on numpy arrays (:class:`ExactEngine` with ``backend="numpy"``) and on
torch tensors (``backend="torch"``), where it is differentiable in the schemes: the torch twin
used by gradient-based best responses and learners. Histories of probability zero (under every
profile of the batch) are dropped as they arise.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from persuaders.envs.game.observations import ObservationLayout, ThreadTree
from persuaders.envs.game.spec import Game
from persuaders.envs.game.users import UserModel

__all__ = ["MAX_ENUMERATION", "EnumerationTooLarge", "ExactEngine", "enumeration_size", "check_enumerable"]

#: Largest number of array entries (histories x states x signals) one profile may enumerate.
MAX_ENUMERATION = 4_000_000
#: Largest number of entries held at once when a batch of profiles is evaluated (memory bound).
CHUNK_ELEMENTS = 1 << 22

#: A scheme source: round ``t``, a function giving the observations at the ``P_t`` prefixes
#: (``[P_t, D]``), and ``P_t``; it returns schemes ``[B, P_t or 1, X_i, M]``.
SchemeSource = Callable[[int, Callable[[], np.ndarray], int], Any]


class EnumerationTooLarge(ValueError):
    """A game (or protocol) whose exact enumeration exceeds :data:`MAX_ENUMERATION` entries."""


def enumeration_size(game: Game, n_talking: int | None = None) -> tuple[int, int]:
    """(histories, array entries per profile) of a conversation with ``n_talking`` speakers (default all)."""
    n = game.n_speakers if n_talking is None else n_talking
    histories = 1
    for z in game.user_message_counts:
        histories *= z * game.messages**n
    signals = max([game.user.n_signals] + [s.n_signals for s in game.speakers])
    return histories, histories * game.n_states * signals


def check_enumerable(game: Game, joint: bool = True) -> None:
    """Raise :class:`EnumerationTooLarge` (size and limit) when the exact engine cannot evaluate ``game``.

    ``joint``: every speaker in one conversation (``simultaneous``); otherwise one speaker at a time
    (selection protocols such as ``best_ai``).
    """
    histories, size = enumeration_size(game, None if joint else 1)
    if size > MAX_ENUMERATION:
        who = "every speaker at once" if joint else "one speaker alone"
        raise EnumerationTooLarge(
            f"game '{game.name}' is too large to enumerate exactly: a conversation of {who} has "
            f"{histories:,} histories ({size:,} entries with states and signals; limit {MAX_ENUMERATION:,}); "
            "use fewer speakers, messages or rounds"
        )


class _Numpy:
    """The few array operations the engine needs, on numpy."""

    name = "numpy"

    @staticmethod
    def asarray(a: Any) -> np.ndarray:
        return np.asarray(a, dtype=np.float64)

    @staticmethod
    def index(a: np.ndarray) -> np.ndarray:
        return np.asarray(a)

    @staticmethod
    def expand(a: Any, shape: tuple[int, ...]) -> Any:
        return np.broadcast_to(a, shape)

    @staticmethod
    def to_numpy(a: Any) -> np.ndarray:
        return np.asarray(a)

    einsum = staticmethod(np.einsum)
    where = staticmethod(np.where)


class _Torch:
    """The same operations on torch tensors (float64), for gradients."""

    name = "torch"

    def __init__(self) -> None:
        import torch

        self.torch = torch

    def asarray(self, a: Any) -> Any:
        return self.torch.as_tensor(a, dtype=self.torch.float64)

    def index(self, a: np.ndarray) -> Any:
        return self.torch.as_tensor(np.asarray(a))

    def expand(self, a: Any, shape: tuple[int, ...]) -> Any:
        return a.expand(shape)

    @staticmethod
    def to_numpy(a: Any) -> np.ndarray:
        out: np.ndarray = a.detach().cpu().numpy()
        return out

    def einsum(self, spec: str, *ops: Any, **_: Any) -> Any:
        return self.torch.einsum(spec, *ops)

    def where(self, cond: Any, a: Any, b: Any) -> Any:
        return self.torch.where(cond, a, b)


class ExactEngine:
    """Exact ``P(y, x0, h)`` and ``P(a, y)`` of the conversation among the user and ``talking``.

    What a function scheme is called with (module docstring): by default (a joint conversation)
    what the speaker has heard; ``thread``: one speaker talks alone (a selection protocol) and sees
    its thread, :meth:`ObservationLayout.for_thread`; ``open_loop``: an open-loop commitment, the
    round and the prior (:meth:`ObservationLayout.open_loop`).
    ``backend``: ``"numpy"`` or ``"torch"`` (differentiable; schemes must be arrays or tensors).
    """

    def __init__(
        self,
        game: Game,
        talking: Sequence[int],
        *,
        open_loop: bool = False,
        thread: bool = False,
        backend: str = "numpy",
    ):
        if backend not in ("numpy", "torch"):
            raise ValueError(f"backend: expected numpy or torch, got {backend!r}")
        if open_loop and thread:
            raise ValueError("open_loop, thread: a rule observes either nothing (open_loop) or its thread, not both")
        if thread and len(list(talking)) != 1:
            raise ValueError(f"thread: a thread is one speaker alone with the user, got talking={list(talking)}")
        self.game = game
        self.talking = list(talking)
        self.open_loop = open_loop
        self.thread = thread
        self.xp: Any = _Numpy() if backend == "numpy" else _Torch()
        self.layout = ObservationLayout.for_thread(game) if thread else ObservationLayout.for_game(game)
        self.tree = ThreadTree.for_game(game)
        self._prefixes: tuple[int, np.ndarray, np.ndarray] | None = None
        histories, per_profile = enumeration_size(game, len(self.talking))
        self.histories, self.per_profile = histories, per_profile
        if per_profile > MAX_ENUMERATION:
            who = f"{len(self.talking)} speaker(s)"
            raise EnumerationTooLarge(
                f"game '{game.name}' is too large to enumerate exactly: a conversation of {who} has "
                f"{histories:,} histories ({per_profile:,} entries with states and signals; limit "
                f"{MAX_ENUMERATION:,}); use fewer speakers, messages or rounds"
            )
        xp = self.xp
        self._prior_user = xp.asarray(game.prior[:, None] * game.user.observation)  # [Y, X0]
        self._channels = {i: xp.asarray(game.speakers[i].observation) for i in self.talking}  # [Y, X_i]
        self._user_conv = [xp.asarray(c) for c in game.user.conversation]  # C_t [X0, Z_t]
        self._u = xp.asarray(game.user.utility)

    # ------------------------------------------------------------------ enumeration
    def joint(self, sources: Sequence[SchemeSource], batch: int = 1) -> Any:
        """``P(y, x0, h)`` ``[B, H, Y, X0]`` over the histories ``h`` that have positive probability.

        ``sources[n]`` gives the ``n``-th talking speaker's schemes (see :data:`SchemeSource`).
        """
        game, xp = self.game, self.xp
        n_y, x0_n, m = game.n_states, game.user.n_signals, game.messages
        k_t = len(self.talking)
        w0 = self._prior_user[None]  # [P, Y, X0]: prior, user's signal and messages (no batch axis)
        weights = {
            i: xp.expand(
                xp.asarray(np.ones((1, 1, game.speakers[i].n_signals))), (batch, 1, game.speakers[i].n_signals)
            )
            for i in self.talking
        }  # [B, P, X_i]: prod_t pi_i^t[x, m_i^t]
        user_msgs = np.full((1, game.rounds), -1, dtype=np.int64)
        spk_msgs = np.full((1, game.rounds, game.n_speakers), -1, dtype=np.int64)
        for t in range(game.rounds):
            # The user speaks first: z ~ C_t[x0]; every prefix splits into Z_t.
            conv = self._user_conv[t]
            n_z = game.user_message_counts[t]
            p = w0.shape[0]
            w0 = (w0[:, None, :, :] * conv.T[None, :, None, :]).reshape(p * n_z, n_y, x0_n)
            rep = np.repeat(np.arange(p), n_z)
            weights = {i: w[:, xp.index(rep)] for i, w in weights.items()}
            user_msgs = user_msgs[rep]
            user_msgs[:, t] = np.tile(np.arange(n_z), p)
            spk_msgs = spk_msgs[rep]
            # Every talking speaker commits its round-t scheme at every prefix (all before anyone speaks).
            p = w0.shape[0]
            obs_fn = self._observations_fn(t, w0, weights, user_msgs, spk_msgs)
            self._prefixes = (t, user_msgs, spk_msgs)  # for thread_nodes() during the calls
            schemes = []
            for n, i in enumerate(self.talking):
                s = xp.asarray(sources[n](t, functools.partial(obs_fn, i), p))  # [B or 1, P or 1, X_i, M]
                schemes.append(s)
            self._prefixes = None
            # Then they speak: every prefix splits into M^k_t message profiles (mixed radix, speaker order).
            new = {}
            for n, i in enumerate(self.talking):
                x_i = game.speakers[i].n_signals
                pi = schemes[n].swapaxes(-1, -2)
                # pi: [B', P', M, X]; place its message axis at digit n of the profile
                shape = [pi.shape[0], pi.shape[1]] + [1] * k_t + [x_i]
                shape[2 + n] = m
                factor = pi.reshape(shape)
                base = weights[i].reshape([weights[i].shape[0], p] + [1] * k_t + [x_i])
                full = (batch, p) + (m,) * k_t + (x_i,)
                new[i] = xp.expand(base * factor, full).reshape(batch, p * m**k_t, x_i)
            weights = new
            rep = np.repeat(np.arange(p), m**k_t)
            w0 = xp.expand(w0[:, None], (p, m**k_t, n_y, x0_n)).reshape(p * m**k_t, n_y, x0_n)
            user_msgs = user_msgs[rep]
            spk_msgs = spk_msgs[rep]
            digits = np.indices((m,) * k_t).reshape(k_t, -1).T if k_t else np.zeros((1, 0), dtype=np.int64)
            spk_msgs[:, t, self.talking] = np.tile(digits, (p, 1))
            # Histories of probability zero (for every profile) never happen: drop them.
            joint = self._joint(w0, weights)
            keep = xp.to_numpy(joint.sum(-1).sum(-1) > 0).any(axis=0)
            if not keep.all():
                idx = np.flatnonzero(keep)
                w0 = w0[xp.index(idx)]
                weights = {i: w[:, xp.index(idx)] for i, w in weights.items()}
                user_msgs, spk_msgs = user_msgs[idx], spk_msgs[idx]
        self.user_msgs, self.spk_msgs = user_msgs, spk_msgs
        return self._joint(w0, weights)

    def thread_nodes(self) -> np.ndarray:
        """The :class:`~persuaders.envs.game.observations.ThreadTree` node of every current prefix ``[P_t]``.

        Only while the engine calls a source (the prefixes of round ``t`` being enumerated), and
        only for a solo conversation (one talking speaker): its prefixes are thread nodes.
        """
        if self._prefixes is None or len(self.talking) != 1:
            raise RuntimeError("thread_nodes: only while a solo conversation's engine calls a scheme source")
        t, user_msgs, spk_msgs = self._prefixes
        return self.tree.nodes(t, user_msgs, spk_msgs[:, :, self.talking[0]])

    def _likelihood(self, i: int, w: Any) -> Any:
        """``L_i[b, h, y] = sum_x O_i[y, x] w[b, h, x]``."""
        return self.xp.einsum("yx,bhx->bhy", self._channels[i], w)

    def _joint(self, w0: Any, weights: dict[int, Any]) -> Any:
        lik = None
        for i, w in weights.items():
            li = self._likelihood(i, w)
            lik = li if lik is None else lik * li
        return w0[None] if lik is None else w0[None] * lik[..., None]

    def _observations_fn(
        self, t: int, w0: Any, weights: dict[int, Any], user_msgs: np.ndarray, spk_msgs: np.ndarray
    ) -> Callable[[int], np.ndarray]:
        """Speaker ``i``'s observation at every prefix of round ``t`` (numpy, first profile of the batch)."""
        game, layout = self.game, self.layout
        p = len(user_msgs)

        def observe(i: int) -> np.ndarray:
            if self.open_loop:
                return layout.open_loop(t, game.prior, p)
            xp = self.xp
            belief = xp.to_numpy(w0.sum(-1))  # [P, Y]: prior and what the user said
            heard = layout.heard(i)
            for j in heard:
                if j in weights:
                    belief = belief * xp.to_numpy(self._likelihood(j, weights[j][:1]))[0]
            total = belief.sum(axis=1, keepdims=True)
            if self.thread:  # a thread of probability zero (never reached) shows the prior
                belief = np.where(total > 0, belief / np.where(total > 0, total, 1.0), game.prior[None, :])
            else:
                belief = belief / total
            return layout.encode(np.full(p, t), belief, user_msgs, spk_msgs[:, :, list(heard)])

        return observe

    # ------------------------------------------------------------------ outcomes
    def outcome(
        self,
        sources: Sequence[SchemeSource],
        batch: int = 1,
        model: UserModel | None = None,
        sharpness: float | None = None,
    ) -> Any:
        """``P(a, y)`` ``[B, A, Y]``: the user acts at every history by ``model`` (default the game's).

        ``sharpness`` (torch only) asks a discontinuous model for its smooth surrogate.
        """
        joint = self.joint(sources, batch)
        return self.outcome_from_joint(joint, model, sharpness)

    def outcome_from_joint(self, joint: Any, model: UserModel | None = None, sharpness: float | None = None) -> Any:
        """``P(a, y)`` from ``P(y, x0, h)`` ``[B, H, Y, X0]`` (see :meth:`outcome`)."""
        xp = self.xp
        model = self.game.user.model if model is None else model
        mass = joint.sum(-2)[..., None, :]  # [B, H, 1, X0]: P(x0, h)
        positive = mass > 0
        post = xp.where(positive, joint / xp.where(positive, mass, 1.0), 1.0 / self.game.n_states)
        if not model.bayesian:  # she acts on her perceived belief (docs/science.md, "Non-Bayesian users")
            belief = post.swapaxes(-1, -2)  # [B, H, X0, Y]
            if xp.name == "numpy":
                belief = model.perceive(belief, self.game.prior)
            else:
                belief = model.perceive_torch(belief, self.game.prior)
            post = belief.swapaxes(-1, -2)
        eu = xp.einsum("bhyx,ay->bhxa", post, self._u)
        q = model.respond(eu) if xp.name == "numpy" else model.respond_torch(eu, sharpness=sharpness)
        return xp.einsum("bhyx,bhxa->bay", joint, q)


def fixed_source(schemes: Any) -> SchemeSource:
    """A source for per-round schemes ``[B or 1, R, X, M]`` (or ``[R, X, M]``) that ignore the history."""

    def source(t: int, obs: Callable[[], np.ndarray], p: int) -> Any:
        s = schemes[:, t] if schemes.ndim == 4 else schemes[t][None]
        return s[:, None]

    return source
